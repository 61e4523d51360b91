# This file is part of the EV operations suite.
"""Disputes: a party contests a record of the suite; an owner resolves it.

The model does not know its users: the contested record is the `origin`,
whose models are listed by `_get_origin()` (empty here). A module that lets
its records be disputed extends it:

    class Dispute(metaclass=PoolMeta):
        __name__ = 'ev.dispute'

        @classmethod
        def _get_origin(cls):
            return super()._get_origin() + ['ev.payout.line']

and may define on the origin's model the hooks, called in the transaction of
the dispute, without access checks (the dispute's create access or the
button's groups are the authorisation):

    def dispute_opened(self, dispute): ...    # after the dispute is created
    def dispute_resolved(self, dispute): ...  # after accept or reject
"""
import datetime

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction, check_access

from .exceptions import DisputeError, DisputeValidationError
from .timestamp import Timestamp

RESOLVED_STATES = ['accepted', 'rejected']
# What the disputing side said: fixed once the dispute is opened
OPENING_FIELDS = {
    'company', 'origin', 'party', 'reason', 'claimed_amount', 'currency',
    'number', 'opened_by', 'opened_at'}


class Dispute(Workflow, ModelSQL, ModelView):
    """Dispute: a party contests a record, its owner accepts or rejects it

    Never deleted; read-only once resolved; its history is kept."""
    __name__ = 'ev.dispute'
    __string__ = "Dispute"
    _history = True
    _rec_name = 'number'

    _opening = {'readonly': Eval('id', -1) >= 0}
    _open = {'readonly': Eval('state') != 'open'}

    number = fields.Char("Number", readonly=True,
        help="Given by the dispute sequence on creation.")
    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='RESTRICT',
        states=_opening)
    origin = fields.Reference(
        "Origin", selection='get_origin', required=True, states=_opening,
        help="The disputed record.")
    party = fields.Many2One(
        'party.party', "Party", ondelete='RESTRICT', states=_opening,
        context={'company': Eval('company', -1)}, depends={'company'},
        help="Who disputes: the team's contractor, the OEM... "
        "(empty when the disputing side has no party of its own).")
    opened_by = fields.Many2One(
        'res.user', "Opened By", readonly=True, ondelete='RESTRICT')
    opened_at = Timestamp("Opened At", readonly=True)
    owner = fields.Many2One(
        'res.user', "Owner", ondelete='RESTRICT',
        states={
            'readonly': _open['readonly'],
            'required': Eval('state').in_(RESOLVED_STATES),
            },
        help="Who must resolve the dispute.")
    reason = fields.Text("Reason", required=True, states=_opening)
    currency = fields.Many2One(
        'currency.currency', "Currency", required=True, ondelete='RESTRICT',
        states=_opening)
    claimed_amount = fields.Numeric(
        "Claimed Amount", digits=(16, 2), states=_opening,
        domain=[If(Eval('claimed_amount', None) != None,  # noqa: E711
                ('claimed_amount', '>=', 0), ())])
    agreed_amount = fields.Numeric(
        "Agreed Amount", digits=(16, 2),
        domain=[If(Eval('agreed_amount', None) != None,  # noqa: E711
                ('agreed_amount', '>=', 0), ())],
        states={
            'readonly': _open['readonly'],
            'required': Eval('state') == 'accepted',
            })
    state = fields.Selection([
            ('open', "Open"),
            ('accepted', "Accepted"),
            ('rejected', "Rejected"),
            ], "State", readonly=True, required=True, sort=False)
    resolution = fields.Text(
        "Resolution",
        states={
            'readonly': _open['readonly'],
            'required': Eval('state') == 'rejected',
            })
    resolved_by = fields.Many2One(
        'res.user', "Resolved By", readonly=True, ondelete='RESTRICT')
    resolved_at = Timestamp("Resolved At", readonly=True)

    del _opening, _open

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.origin, Index.Equality())),
                Index(t, (t.owner, Index.Equality()),
                    where=t.state == 'open'),
                })
        cls._order = [('opened_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('open', 'accepted'),
            ('open', 'rejected'),
            }
        cls._buttons.update({
                'accept': {
                    'invisible': Eval('state') != 'open',
                    'depends': ['state'],
                    },
                'reject': {
                    'invisible': Eval('state') != 'open',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def _get_origin(cls):
        "Return the names of the models whose records may be disputed"
        return []

    @classmethod
    def get_origin(cls):
        IrModel = Pool().get('ir.model')
        get_name = IrModel.get_name
        return [(None, '')] + [(m, get_name(m)) for m in cls._get_origin()]

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @classmethod
    def default_currency(cls, **pattern):
        Company = Pool().get('company.company')
        company = pattern.get('company') or cls.default_company()
        if company is not None and company >= 0:
            return Company(company).currency.id

    @fields.depends('company', 'currency')
    def on_change_company(self):
        if self.company and not self.currency:
            self.currency = self.company.currency

    @classmethod
    def default_opened_by(cls):
        return Transaction().user or None

    @classmethod
    def default_state(cls):
        return 'open'

    def get_rec_name(self, name):
        return self.number or str(self.id)

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Configuration = pool.get('ev.station.configuration')
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            # Who opened it, when and its state are the system's to say
            values['number'] = (
                Configuration(1).get_dispute_sequence().get())
            if Transaction().user or not values.get('opened_by'):
                values['opened_by'] = Transaction().user or None
            values['opened_at'] = datetime.datetime.now()
            values['state'] = 'open'
            values['resolved_by'] = values['resolved_at'] = None
        return values

    @classmethod
    def validate_fields(cls, disputes, field_names):
        super().validate_fields(disputes, field_names)
        if field_names is None or 'reason' in field_names:
            for dispute in disputes:
                if not (dispute.reason or '').strip():
                    raise DisputeValidationError(gettext(
                            'ev_station.msg_dispute_reason_blank'))

    @classmethod
    def check_modification(cls, mode, disputes, values=None, external=False):
        super().check_modification(
            mode, disputes, values=values, external=external)
        if mode == 'delete':
            raise AccessError(gettext('ev_station.msg_dispute_delete'))
        if mode == 'write':
            for dispute in disputes:
                if dispute.state in RESOLVED_STATES:
                    raise AccessError(gettext(
                            'ev_station.msg_dispute_resolved_readonly',
                            dispute=dispute.rec_name))
            if fixed := values.keys() & OPENING_FIELDS:
                raise AccessError(gettext(
                        'ev_station.msg_dispute_opening_readonly',
                        field=', '.join(
                            cls._fields[f].string for f in sorted(fixed))))
        if mode == 'create' and external:
            # Opening a dispute on a record says it exists: the caller must
            # see it (its model access and record rules)
            with check_access():
                for dispute in disputes:
                    Origin = dispute.origin.__class__
                    if not Origin.search(
                            [('id', '=', dispute.origin.id)], count=True):
                        raise AccessError(gettext(
                                'ev_station.msg_dispute_origin_access'))

    @classmethod
    def on_modification(cls, mode, disputes, field_names=None):
        super().on_modification(mode, disputes, field_names=field_names)
        if mode == 'create':
            cls._call_origin(disputes, 'dispute_opened')

    @classmethod
    def _call_origin(cls, disputes, hook):
        "Tell each origin that defines `hook` about its dispute"
        for dispute in disputes:
            method = getattr(dispute.origin, hook, None)
            if callable(method):
                method(dispute)

    @classmethod
    def copy(cls, disputes, default=None):
        default = default.copy() if default is not None else {}
        for name in ['agreed_amount', 'resolution', 'owner']:
            default.setdefault(name)
        return super().copy(disputes, default=default)

    @classmethod
    def _resolve(cls, disputes, state):
        cls.write(disputes, {
                'state': state,
                'resolved_by': Transaction().user or None,
                'resolved_at': datetime.datetime.now(),
                })
        # Fresh records: the origin reads the dispute as resolved
        cls._call_origin(
            cls.browse([d.id for d in disputes]), 'dispute_resolved')

    @classmethod
    @ModelView.button
    @Workflow.transition('accepted')
    def accept(cls, disputes):
        for dispute in disputes:
            dispute.check_owner()
            if dispute.agreed_amount is None:
                raise DisputeError(gettext(
                        'ev_station.msg_dispute_accept_amount',
                        dispute=dispute.rec_name))
            if dispute.agreed_amount < 0:
                raise DisputeError(gettext(
                        'ev_station.msg_dispute_accept_amount_negative',
                        dispute=dispute.rec_name))
        cls._resolve(disputes, 'accepted')

    @classmethod
    @ModelView.button
    @Workflow.transition('rejected')
    def reject(cls, disputes):
        for dispute in disputes:
            dispute.check_owner()
            if not (dispute.resolution or '').strip():
                raise DisputeError(gettext(
                        'ev_station.msg_dispute_reject_resolution',
                        dispute=dispute.rec_name))
        cls._resolve(disputes, 'rejected')

    def check_owner(self):
        if not self.owner:
            raise DisputeError(gettext(
                    'ev_station.msg_dispute_owner_required',
                    dispute=self.rec_name))
