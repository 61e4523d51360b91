# This file is part of the EV operations suite.
import datetime

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

FAILED_OUTCOMES = {'no_answer', 'wrong_number'}


class Call(ModelSQL, ModelView):
    "Introductory call to the customer of a lead"
    __name__ = 'ev.lead.call'
    __string__ = "Lead Call"

    lead = fields.Many2One(
        'sale.opportunity', "Lead", required=True, ondelete='CASCADE')
    date = fields.DateTime("Date", required=True)
    outcome = fields.Selection([
            ('reached', "Reached"),
            ('no_answer', "No answer"),
            ('wrong_number', "Wrong number"),
            ('call_back', "Call back at"),
            ], "Outcome", required=True, sort=False)
    call_back_at = fields.DateTime(
        "Call Back At",
        states={
            'required': Eval('outcome') == 'call_back',
            'invisible': Eval('outcome') != 'call_back',
            })
    note = fields.Text("Note")
    caller = fields.Many2One('res.user', "Caller", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.lead, Index.Equality())))
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_date(cls):
        return datetime.datetime.now()

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            values['caller'] = Transaction().user or None
        return values

    @property
    def failed(self):
        return self.outcome in FAILED_OUTCOMES

    @classmethod
    def create(cls, vlist):
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        calls = super().create(vlist)
        leads = Lead.browse({c.lead.id for c in calls})
        Lead.calls_logged(leads)
        return calls

    def get_rec_name(self, name):
        return gettext('ev_lead.msg_call_rec_name',
            outcome=self.outcome_string, date=self.date)

    outcome_string = outcome.translated('outcome')
