# This file is part of the EV operations suite.
from trytond.model import fields
from trytond.pool import PoolMeta


class SaleOpportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    field_jobs = fields.One2Many('ev.field.job', 'lead', "Field Jobs",
        readonly=True)

    def api_milestones(self):
        "The survey and installation milestones come from the field jobs"
        milestones = super().api_milestones()

        def iso(value):
            return value.isoformat() if value else None

        def first(kind, states, field):
            values = [getattr(j, field) for j in self.field_jobs
                if j.kind == kind and j.state in states
                and getattr(j, field)]
            return iso(min(values)) if values else None

        booked = {'scheduled', 'confirmed', 'done', 'commissioned', 'closed'}
        reported = {'done', 'commissioned', 'closed'}
        milestones.update({
                'survey_scheduled': first('survey', booked, 'slot_start'),
                'survey_done': first('survey', reported, 'reported_at'),
                'installation_scheduled': first(
                    'installation', booked, 'slot_start'),
                'installed': first('installation', reported, 'reported_at'),
                })
        return milestones
