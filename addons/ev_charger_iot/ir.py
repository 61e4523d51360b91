# This file is part of the EV operations suite.
from trytond.pool import PoolMeta


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('ev.charger|evaluate_health',
                    "Evaluate the Health of the Chargers"),
                ('ev.charger.command|time_out',
                    "Fail the Charger Commands without Result"),
                ('ev.charger.alert.notice|deliver_due',
                    "Tell the IoT Operators about New Alerts"),
                ])
