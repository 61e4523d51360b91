# This file is part of the EV operations suite.
"A payout line is one of the records a dispute can be about"
from trytond.pool import PoolMeta


class Dispute(metaclass=PoolMeta):
    __name__ = 'ev.dispute'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['ev.payout.line']
