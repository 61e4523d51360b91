# This file is part of the EV operations suite.
from trytond.pool import PoolMeta


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('ev.service.part|mark_overdue', "Mark Overdue Part Returns"))
        cls.method.selection.append(
            ('ev.service.case|open_from_alerts',
                "Open Service Cases from Charger Alerts"))
        cls.method.selection.append(
            ('ev.service.kpi.step.month|roll_up',
                "Roll Up the Service Step Times"))
        cls.method.selection.append(
            ('ev.service.kpi.claim.month|roll_up',
                "Roll Up the Warranty Claim Figures"))
