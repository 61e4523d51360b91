# This file is part of the EV operations suite.
"""Financial holds: a part kept without approval holds back its cost from
the responsible contractor until it is returned or approved as a spare.

A hold is never deleted and its amount never changes once placed; its
history is kept (_history) for the payouts that deduct it."""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import without_check_access

from .case import format_amount
from .exceptions import HoldError

# Fixed once the hold is placed
PLACED_FIELDS = {'part', 'party', 'amount', 'currency', 'company'}


class Hold(Workflow, ModelSQL, ModelView):
    __name__ = 'ev.service.hold'
    __string__ = "Service Financial Hold"
    _history = True

    part = fields.Many2One('ev.service.part', "Part", required=True,
        ondelete='RESTRICT', readonly=True)
    case = fields.Function(fields.Many2One('ev.service.case', "Case"),
        'get_case', searcher='search_case')
    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    party = fields.Many2One('party.party', "Contractor", required=True,
        ondelete='RESTRICT', readonly=True,
        context={'company': Eval('company', -1)}, depends={'company'},
        help="Who answers for the part: its payout is held back.")
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        readonly=True, domain=[('amount', '>=', 0)])
    currency = fields.Many2One('currency.currency', "Currency",
        required=True, readonly=True)
    state = fields.Selection([
            ('active', "Active"),
            ('released', "Released"),
            ], "State", readonly=True, required=True, sort=False)
    placed_at = fields.DateTime("Placed At", readonly=True)
    released_at = fields.DateTime("Released At", readonly=True)
    reason = fields.Char("Reason", readonly=True)
    release_reason = fields.Char("Release Reason", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.part, Index.Equality())),
                Index(t, (t.party, Index.Equality()),
                    where=t.state == 'active'),
                })
        cls._order = [('placed_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {('active', 'released')}

    @classmethod
    def default_state(cls):
        return 'active'

    @classmethod
    def default_placed_at(cls):
        return dt.datetime.now()

    def get_case(self, name):
        return self.part.case.id

    @classmethod
    def search_case(cls, name, clause):
        return [('part.' + clause[0], *clause[1:])]

    def get_rec_name(self, name):
        return f'{self.part.rec_name} ({self.party.rec_name})'

    @classmethod
    def preprocess_values(cls, mode, values):
        """A hold is in the company's currency: refused before anything is
        written"""
        Company = Pool().get('company.company')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and values.get('company') and values.get(
                'currency'):
            company = Company(values['company'])
            if company.currency.id != values['currency']:
                Currency = Pool().get('currency.currency')
                raise HoldError(gettext('ev_service.msg_hold_currency',
                        currency=Currency(values['currency']).code,
                        company_currency=company.currency.code))
        return values

    @classmethod
    def check_modification(cls, mode, holds, values=None, external=False):
        super().check_modification(
            mode, holds, values=values, external=external)
        if mode == 'delete':
            raise AccessError(gettext('ev_service.msg_hold_delete'))
        if mode == 'write' and PLACED_FIELDS & set(values):
            raise AccessError(gettext('ev_service.msg_hold_amount_fixed',
                    fields=', '.join(sorted(PLACED_FIELDS & set(values)))))

    @classmethod
    def place(cls, parts, reason):
        """One active hold per part, equal to its cost, on the contractor
        who answers for it; parts already held are skipped"""
        held = {h.part.id for h in cls.search([
                    ('part', 'in', [p.id for p in parts]),
                    ('state', '=', 'active'),
                    ])}
        vlist = []
        for part in parts:
            if part.id in held:
                continue
            vlist.append({
                    'part': part.id,
                    'company': part.company.id,
                    'party': part.responsible_party().id,
                    'amount': part.cost or 0,
                    'currency': part.company.currency.id,
                    'reason': reason,
                    })
        with without_check_access():
            holds = cls.create(vlist)
        for hold in holds:
            hold.part.case.record('service_hold_placed', gettext(
                    'ev_service.msg_log_hold_placed', part=hold.part.rec_name,
                    amount=format_amount(hold.amount, hold.currency),
                    party=hold.party.rec_name, reason=reason))
        return holds

    @classmethod
    def release_for(cls, parts, reason):
        "Release the active holds of the parts"
        with without_check_access():
            holds = cls.search([
                    ('part', 'in', [p.id for p in parts]),
                    ('state', '=', 'active'),
                    ])
            if holds:
                cls.release(holds, reason)
        return holds

    @classmethod
    @Workflow.transition('released')
    def release(cls, holds, reason):
        cls.write(holds, {
                'released_at': dt.datetime.now(),
                'release_reason': reason,
                })
        for hold in holds:
            hold.part.case.record('service_hold_released', gettext(
                    'ev_service.msg_log_hold_released',
                    part=hold.part.rec_name,
                    amount=format_amount(hold.amount, hold.currency),
                    reason=reason))
