# This file is part of the EV operations suite.
from trytond.pool import PoolMeta


class Move(metaclass=PoolMeta):
    __name__ = 'stock.move'

    @classmethod
    def _get_origin(cls):
        # Van allocations come from a job's materials; consumption and
        # returns from the job
        return super()._get_origin() + ['ev.field.job',
            'ev.field.job.material']
