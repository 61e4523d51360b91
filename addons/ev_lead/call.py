# This file is part of the EV operations suite.
import datetime

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

FAILED_OUTCOMES = {'no_answer', 'wrong_number'}


class SaleOpportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    calls = fields.One2Many('ev.lead.call', 'lead', "Calls")
    needs_follow_up = fields.Boolean(
        "Needs Follow-up", readonly=True,
        help="The customer could not be reached: Central Ops follows up.")

    @classmethod
    def copy(cls, leads, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('calls')
        default.setdefault('needs_follow_up')
        return super().copy(leads, default=default)

    @classmethod
    def calls_logged(cls, leads):
        "A reached customer is contacted; repeated failures need follow-up"
        pool = Pool()
        Configuration = pool.get('ev.lead.configuration')
        limit = Configuration(1).failed_call_limit
        to_contact, to_follow = [], []
        for lead in leads:
            calls = sorted(lead.calls, key=lambda c: (c.date, c.id))
            if calls and calls[-1].outcome == 'reached':
                if lead.state == 'lead':
                    to_contact.append(lead)
                continue
            failed = 0
            for call in reversed(calls):
                if call.outcome == 'reached':
                    break
                if call.failed:
                    failed += 1
            if failed >= limit and not lead.needs_follow_up:
                to_follow.append(lead)
        with without_check_access():
            if to_contact:
                cls.mark_contacted(to_contact)
            if to_follow:
                cls.write(to_follow, {'needs_follow_up': True})
                cls.notify_central_ops(
                    to_follow, 'ev_lead.msg_failed_calls')


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
