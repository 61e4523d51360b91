# This file is part of the EV operations suite.
from trytond.pool import PoolMeta

# Open to the OEMs' users, kept to their OEM by the record rules
# (report.xml): ev_lead closes every other model to them
OEM_MODELS = {'ev.oem.report.config', 'ev.oem.report'}


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('ev.oem.report|generate_due',
                    "Generate the OEM Reports Due"),
                ('ev.oem.report.email|deliver_due', "Send OEM Report Emails"),
                ])


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def ev_oem_open_models(cls):
        return super().ev_oem_open_models() | OEM_MODELS
