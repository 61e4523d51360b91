# This file is part of the EV operations suite.
from trytond.pool import PoolMeta

# Open to the OEMs' users, kept to their own records by the record rules
# (report.xml, closure.xml): ev_lead closes every other model to them. Their
# disputes are the disputes of their packs (rule_group_dispute_oem).
OEM_MODELS = {
    'ev.oem.report.config', 'ev.oem.report',
    'ev.oem.closure.pack', 'ev.oem.closure.pack.item',
    'ev.oem.closure.pack.dispute.start', 'ev.dispute',
    # the SLA clocks of their leads (rule_group_sla_clock_oem) and their
    # escalations (rule_group_sla_lead_escalation_oem)
    'ev.sla.clock', 'ev.oem.sla.escalation',
    }


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
