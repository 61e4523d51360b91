# This file is part of the EV operations suite.
from trytond.pool import PoolMeta


class Move(metaclass=PoolMeta):
    __name__ = 'stock.move'

    @classmethod
    def _get_origin(cls):
        "A service part's moves point back to it"
        return super()._get_origin() + ['ev.service.part']
