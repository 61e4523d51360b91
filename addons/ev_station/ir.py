# This file is part of the EV operations suite.
from trytond.pool import PoolMeta


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('ev.station.handover|notify_overdue',
                    "Notify Overdue Handovers"),
                ('ev.station.log.email|deliver_due',
                    "Send Pending Customer Emails"),
                ])
