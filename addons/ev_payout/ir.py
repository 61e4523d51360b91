# This file is part of the EV operations suite.
from trytond.pool import PoolMeta


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('ev.payout.run|run_cycle', "Draft Payout Runs and Close "
                "Sign-offs"))
