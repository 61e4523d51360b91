# This file is part of the EV operations suite.
"""The customer's answer to the short survey of the closure call: a rating
from 1 to 5 and a comment, on the lead and its installation job. Central Ops
enters it from the job ("Customer Feedback" on the job's form) once the
closure call is made; the Management dashboard averages the ratings per
month and zone (dashboard.Satisfaction)."""
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .dashboard_refresh import SATISFACTION, DashboardSource

RATINGS = range(1, 6)
# A zone: the first digits of the PIN code (milestone.zone_of)
ZONE_DIGITS = 3


def zone_code(postal_code):
    return (postal_code or '').strip()[:ZONE_DIGITS]


class ClosureFeedback(DashboardSource, ModelSQL, ModelView):
    "Customer Feedback after the Closure Call"
    __name__ = 'ev.oem.closure.feedback'
    __string__ = "Customer Feedback"
    _dashboards = (SATISFACTION,)
    _refresh_fields = frozenset(
        ['company', 'job', 'zone', 'date', 'rating'])

    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    job = fields.Many2One('ev.field.job', "Installation Job", required=True,
        ondelete='RESTRICT',
        domain=[
            ('kind', '=', 'installation'),
            ('company', '=', Eval('company', -1)),
            ])
    lead = fields.Many2One('sale.opportunity', "Lead", readonly=True,
        ondelete='RESTRICT')
    zone = fields.Char("Zone", readonly=True,
        help="The zone of the site when the feedback was given: the first "
        "three digits of its PIN code.")
    date = fields.Date("Date", required=True)
    rating = fields.Integer("Rating", required=True,
        help="From 1 (very unhappy) to 5 (very happy).")
    comment = fields.Text("Comment")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.company, Index.Equality()),
                (t.date, Index.Range())))
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_date(cls):
        return Pool().get('ir.date').today()

    @fields.depends('job')
    def on_change_job(self):
        self.lead = self.job.lead if self.job else None

    @classmethod
    def preprocess_values(cls, mode, values):
        """The lead is the job's, the zone its site's: kept on the feedback,
        the Management dashboard averages the ratings without a join"""
        values = super().preprocess_values(mode, values)
        if values.get('job'):
            Job = Pool().get('ev.field.job')
            lead = Job(values['job']).lead
            values['lead'] = lead.id
            values['zone'] = zone_code(
                lead.address.postal_code if lead.address else None)
        return values

    @classmethod
    def validate_fields(cls, feedbacks, field_names):
        super().validate_fields(feedbacks, field_names)
        for feedback in feedbacks:
            if ('rating' in field_names
                    and feedback.rating not in RATINGS):
                raise ValidationError(gettext(
                        'ev_oem_report.msg_feedback_rating',
                        rating=feedback.rating,
                        job=feedback.job.rec_name))
            if 'job' in field_names and not feedback.job.closure_call_at:
                raise ValidationError(gettext(
                        'ev_oem_report.msg_feedback_before_closure_call',
                        job=feedback.job.rec_name))
