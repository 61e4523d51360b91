# This file is part of the EV operations suite.
"""Service cases of a Station Record: from the reported fault through the
L2 decision, the client's approval, the parts out, the visit and the
replacement to the returns received and the close.

Every step is an entry in the station's event log (ev_station's
record_event); L2 decides, the Service Manager coordinates the rest."""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.modules.ev_station.notification import user_in_group
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, Id, If
from trytond.transaction import Transaction, without_check_access

from .exceptions import ServiceAccessError, ServiceCaseError

STATES = [
    ('reported', "Reported"),
    ('diagnosis', "L2 Diagnosis"),
    ('decided', "L2 Decided"),
    ('client_approval', "Client Approval"),
    ('parts_shipped', "Parts Shipped"),
    ('visit', "Service Visit"),
    ('replaced', "Replacement Completed"),
    ('return_received', "Return Received"),
    ('closed', "Closed"),
    ('cancelled', "Cancelled"),
    ]
ORIGINS = [
    ('manual', "Manual"),
    ('alert', "Charger Alert"),
    ('warranty', "Warranty Claim"),
    ('rework', "Installation Rework"),
    ]
DECISIONS = [
    (None, ""),
    ('remote_fix', "Remote Fix"),
    ('on_site_visit', "On-site Visit"),
    ('part_replacement', "Part Replacement"),
    ('station_replacement', "Station Replacement"),
    ('no_fault', "No Fault Found"),
    ]
# Decisions that send parts out (and expect the old ones back)
PARTS_DECISIONS = ['part_replacement', 'station_replacement']
# Decisions that need nobody on site
REMOTE_DECISIONS = ['remote_fix', 'no_fault']
OPEN_STATES = [s for s, _ in STATES if s not in {'closed', 'cancelled'}]

L2_GROUP = 'ev_service.group_service_l2'


def format_amount(amount, currency):
    "An amount in the user's language with the currency's symbol"
    Lang = Pool().get('ir.lang')
    return Lang.get().currency(amount, currency)


class Case(Workflow, ModelSQL, ModelView):
    __name__ = 'ev.service.case'
    __string__ = "Service Case"
    _rec_name = 'number'

    number = fields.Char("Number", readonly=True,
        help="The service case number the customer and the teams quote.")
    company = fields.Many2One('company.company', "Company", required=True,
        states={'readonly': Eval('state') != 'reported'})
    station = fields.Many2One('ev.station', "Station", required=True,
        ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'reported'})
    origin = fields.Selection(ORIGINS, "Origin", required=True,
        states={'readonly': Eval('state') != 'reported'})
    rework_job = fields.Many2One('ev.field.job', "Original Installation",
        ondelete='RESTRICT',
        domain=[('kind', '=', 'installation')],
        states={
            'invisible': Eval('origin') != 'rework',
            'required': Eval('origin') == 'rework',
            'readonly': Eval('state') != 'reported',
            })
    same_team_returns = fields.Boolean("Same Team Returns",
        states={
            'invisible': Eval('origin') != 'rework',
            'readonly': Eval('state') != 'reported',
            },
        help="The team of the installation comes back to fix its work; "
        "otherwise a service team goes.")
    description = fields.Text("Issue", required=True,
        states={'readonly': Eval('state') != 'reported'})
    reported_by = fields.Many2One('res.user', "Reported By", readonly=True)
    reported_at = fields.DateTime("Reported At", required=True,
        states={'readonly': Eval('state') != 'reported'})
    l2_engineer = fields.Many2One('res.user', "L2 Engineer",
        domain=[('groups', '=', Id('ev_service', 'group_service_l2'))],
        states={'readonly': ~Eval('state').in_(['reported', 'diagnosis'])},
        help="Who diagnoses and decides: the case is handed over to them.")
    coordinator = fields.Many2One('res.user', "Service Coordinator",
        states={'readonly': Eval('state').in_(['closed', 'cancelled'])},
        help="Who follows the case after the L2 decision.")
    team = fields.Many2One('ev.field.team', "Service Team",
        ondelete='RESTRICT',
        # A team that does service, or the installation team sent back
        domain=[If(Eval('same_team_returns', False),
                (), ('service', '=', True))],
        states={'readonly': ~Eval('state').in_(
                ['reported', 'diagnosis', 'decided', 'client_approval'])},
        help="The team that goes on site and carries the parts in its van.")

    decision = fields.Selection(DECISIONS, "L2 Decision",
        states={
            'readonly': Eval('state') != 'diagnosis',
            'required': ~Eval('state').in_(
                ['reported', 'diagnosis', 'cancelled']),
            })
    decision_note = fields.Text("Decision Note",
        states={'readonly': Eval('state') != 'diagnosis'},
        help="L2's summary: the scope of the work and the tests.")
    decided_by = fields.Many2One('res.user', "Decided By", readonly=True)
    decided_at = fields.DateTime("Decided At", readonly=True)

    chargeable = fields.Boolean("Chargeable",
        states={'readonly': ~Eval('state').in_(['diagnosis', 'decided'])},
        help="The client pays: the work waits for the client's approval.")
    quoted_amount = fields.Numeric("Quoted Amount", digits=(16, 2),
        domain=[If(Bool(Eval('quoted_amount')),
                ('quoted_amount', '>=', 0), ())],
        states={
            'invisible': ~Eval('chargeable'),
            'required': Bool(Eval('chargeable')) & Eval('state').in_(
                ['client_approval']),
            'readonly': ~Eval('state').in_(['diagnosis', 'decided']),
            })
    currency = fields.Function(fields.Many2One(
            'currency.currency', "Currency"), 'on_change_with_currency')
    client_approved = fields.Boolean("Client Approved", readonly=True)
    client_approved_at = fields.DateTime("Client Approved At", readonly=True)

    visit_date = fields.Date("Visit Date",
        states={'readonly': ~Eval('state').in_(
                ['decided', 'client_approval', 'parts_shipped', 'visit'])})
    visit_note = fields.Text("Visit Report",
        states={'readonly': ~Eval('state').in_(['visit'])})
    parts = fields.One2Many('ev.service.part', 'case', "Parts",
        states={'readonly': Eval('state').in_(['closed', 'cancelled'])})
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)
    # The steps' timestamps, for the KPIs of the service policy (kpi.py)
    shipped_at = fields.DateTime("Parts Shipped At", readonly=True)
    visited_at = fields.DateTime("Visit Started At", readonly=True)
    replaced_at = fields.DateTime("Replacement Completed At", readonly=True)
    return_received_at = fields.DateTime("Returns Verified At",
        readonly=True)
    closed_at = fields.DateTime("Closed At", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.station, Index.Equality())),
                Index(t, (t.state, Index.Equality(cardinality='low'))),
                })
        # The KPIs' indexes: kpi.py
        cls._order = [('reported_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('reported', 'diagnosis'),
            ('diagnosis', 'decided'),
            ('decided', 'client_approval'),
            ('decided', 'parts_shipped'),
            ('client_approval', 'parts_shipped'),
            ('decided', 'visit'),
            ('client_approval', 'visit'),
            ('parts_shipped', 'visit'),
            ('visit', 'replaced'),
            ('replaced', 'return_received'),
            ('decided', 'closed'),
            ('visit', 'closed'),
            ('return_received', 'closed'),
            }
        cls._transitions |= {
            (s, 'cancelled') for s in OPEN_STATES if s != 'replaced'}
        needs_parts = Eval('decision').in_(PARTS_DECISIONS)
        approved = ~Eval('chargeable') | Eval('client_approved')
        cls._buttons.update({
                'diagnose': {
                    'invisible': Eval('state') != 'reported',
                    'depends': ['state'],
                    },
                'decide': {
                    'invisible': Eval('state') != 'diagnosis',
                    'readonly': ~Eval('decision'),
                    'depends': ['state', 'decision'],
                    },
                'request_approval': {
                    'invisible': (Eval('state') != 'decided')
                    | ~Eval('chargeable'),
                    'depends': ['state', 'chargeable'],
                    },
                'approve': {
                    'invisible': (Eval('state') != 'client_approval')
                    | Eval('client_approved', False),
                    'depends': ['state', 'client_approved'],
                    },
                'ship_parts': {
                    'invisible': ~Eval('state').in_(
                        ['decided', 'client_approval']) | ~needs_parts,
                    'readonly': ~approved,
                    'depends': ['state', 'decision', 'chargeable',
                        'client_approved'],
                    },
                'start_visit': {
                    'invisible': ~(
                        (Eval('state').in_(['decided', 'client_approval'])
                            & (Eval('decision') == 'on_site_visit'))
                        | (Eval('state') == 'parts_shipped')),
                    'readonly': ~approved,
                    'depends': ['state', 'decision', 'chargeable',
                        'client_approved'],
                    },
                'complete_replacement': {
                    'invisible': (Eval('state') != 'visit') | ~needs_parts,
                    'depends': ['state', 'decision'],
                    },
                'confirm_returns': {
                    'invisible': Eval('state') != 'replaced',
                    'depends': ['state'],
                    },
                'close': {
                    'invisible': ~(
                        ((Eval('state') == 'decided')
                            & Eval('decision').in_(REMOTE_DECISIONS))
                        | ((Eval('state') == 'visit')
                            & (Eval('decision') == 'on_site_visit'))
                        | (Eval('state') == 'return_received')),
                    'depends': ['state', 'decision'],
                    },
                'cancel': {
                    'invisible': ~Eval('state').in_(
                        [s for s in OPEN_STATES if s != 'replaced']),
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'reported'

    @classmethod
    def default_origin(cls):
        return 'manual'

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_reported_at(cls):
        return dt.datetime.now()

    @classmethod
    def default_reported_by(cls):
        return Transaction().user or None

    @classmethod
    def default_coordinator(cls):
        return Transaction().user or None

    @classmethod
    def default_same_team_returns(cls):
        return False

    @classmethod
    def default_chargeable(cls):
        return False

    @classmethod
    def default_client_approved(cls):
        return False

    @fields.depends('company')
    def on_change_with_currency(self, name=None):
        return self.company.currency if self.company else None

    @fields.depends('rework_job', 'same_team_returns', 'team')
    def on_change_rework_job(self):
        if self.rework_job and self.same_team_returns:
            self.team = self.rework_job.team

    @fields.depends(methods=['on_change_rework_job'])
    def on_change_same_team_returns(self):
        self.on_change_rework_job()

    state_string = state.translated('state')
    decision_string = decision.translated('decision')
    origin_string = origin.translated('origin')

    def get_rec_name(self, name):
        return self.number or str(self.id)

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause[:3]
        bool_op = 'AND' if (operator.startswith('!')
            or operator.startswith('not ')) else 'OR'
        return [bool_op,
            ('number', operator, value, *clause[3:]),
            ('station.rec_name', operator, value, *clause[3:]),
            ]

    @classmethod
    def preprocess_values(cls, mode, values):
        "The number from the service sequence; the rework team if it returns"
        pool = Pool()
        Configuration = pool.get('ev.service.configuration')
        Job = pool.get('ev.field.job')
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            if not values.get('number'):
                with without_check_access():
                    values['number'] = (
                        Configuration(1).case_sequence.get())
            if (values.get('same_team_returns') and values.get('rework_job')
                    and not values.get('team')):
                job = Job(values['rework_job'])
                values['team'] = job.team.id if job.team else None
        return values

    @classmethod
    def copy(cls, cases, default=None):
        default = default.copy() if default else {}
        for name in ['number', 'decision', 'decided_by', 'decided_at',
                'client_approved', 'client_approved_at', 'parts',
                'reported_by', 'shipped_at', 'visited_at', 'replaced_at',
                'return_received_at', 'closed_at']:
            default.setdefault(name)
        default.setdefault('state', 'reported')
        return super().copy(cases, default=default)

    @classmethod
    def check_modification(cls, mode, cases, values=None, external=False):
        super().check_modification(
            mode, cases, values=values, external=external)
        if mode == 'delete':
            Handover = Pool().get('ev.station.handover')
            for case in cases:
                if case.state != 'cancelled':
                    raise ServiceAccessError(gettext(
                            'ev_service.msg_case_delete', case=case.rec_name))
            with without_check_access():
                handed = Handover.search(
                    [('service_case', 'in', [c.id for c in cases])], limit=1)
            if handed:
                raise ServiceAccessError(gettext(
                        'ev_service.msg_case_delete_handed_over',
                        case=handed[0].service_case.rec_name))

    @classmethod
    def on_modification(cls, mode, cases, field_names=None):
        super().on_modification(mode, cases, field_names=field_names)
        if mode == 'create':
            for case in cases:
                case.record('service_case_opened', gettext(
                        'ev_service.msg_log_case_opened',
                        case=case.rec_name, origin=case.origin_string,
                        description=case.description),
                    **case.step_values('ev_service.msg_action_case_decide',
                        owner=case.l2_engineer))

    # -- logging ----------------------------------------------------------

    def record(self, event_code, text, **values):
        "The step as an entry of the station's event log"
        with without_check_access():
            return self.station.record_event(event_code, text, **values)

    def work_key(self, work):
        "The key that ties a handover to the step that completes it"
        return f'{self}:{work}'

    def step_values(self, action=None, owner=None):
        """The log values of a step in the chain of control: the step
        completes the case's open step, and hands the next one (`action`, an
        ir.message id) over to its owner, the coordinator unless told; the
        forwarder (the user of the step) stays responsible until the owner
        accepts"""
        Date = Pool().get('ir.date')
        values = {'completes': self.work_key('step')}
        owner = owner or self.coordinator
        if action and owner and owner.id != Transaction().user:
            values.update({
                    'next_owner': owner,
                    'next_action': gettext(action, case=self.rec_name),
                    'follow_up_date': Date.today() + dt.timedelta(days=1),
                    'work': self.work_key('step'),
                    })
        return values

    def next_work_action(self, state):
        "The message of the work that follows `state` in this case"
        if state in {'decided', 'client_approval'} and (
                self.chargeable and not self.client_approved):
            return 'ev_service.msg_action_case_approval'
        if state in {'decided', 'client_approval'} and (
                self.decision in PARTS_DECISIONS):
            return 'ev_service.msg_action_case_ship'
        if state in {'decided', 'client_approval', 'parts_shipped'} and (
                self.decision not in REMOTE_DECISIONS):
            return 'ev_service.msg_action_case_visit'
        if state == 'visit' and self.decision in PARTS_DECISIONS:
            return 'ev_service.msg_action_case_replacement'
        if state == 'replaced':
            return 'ev_service.msg_action_case_returns'
        return 'ev_service.msg_action_case_close'

    # -- workflow ---------------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('diagnosis')
    def diagnose(cls, cases):
        for case in cases:
            case.record('service_diagnosis', gettext(
                    'ev_service.msg_log_diagnosis', case=case.rec_name))

    @classmethod
    def check_l2(cls):
        "Only L2 makes the technical decision (the button's groups say so too)"
        user = Transaction().user
        if user and not user_in_group(L2_GROUP):
            raise ServiceAccessError(gettext('ev_service.msg_decide_l2_only'))

    @classmethod
    @ModelView.button
    @Workflow.transition('decided')
    def decide(cls, cases):
        cls.check_l2()
        for case in cases:
            if not case.decision:
                raise ServiceCaseError(gettext(
                        'ev_service.msg_decision_missing',
                        case=case.rec_name))
        cls.write(cases, {
                'decided_by': Transaction().user or None,
                'decided_at': dt.datetime.now(),
                })
        for case in cases:
            case.record('service_decision', gettext(
                    'ev_service.msg_log_decision', case=case.rec_name,
                    decision=case.decision_string,
                    note=case.decision_note or '-'),
                **case.step_values(case.next_work_action('decided')))

    @classmethod
    @ModelView.button
    @Workflow.transition('client_approval')
    def request_approval(cls, cases):
        for case in cases:
            if not case.chargeable or case.quoted_amount is None:
                raise ServiceCaseError(gettext(
                        'ev_service.msg_quote_missing', case=case.rec_name))
            case.record('service_approval_requested', gettext(
                    'ev_service.msg_log_approval_requested',
                    case=case.rec_name,
                    amount=format_amount(case.quoted_amount, case.currency)),
                **case.step_values(
                    case.next_work_action('client_approval')))

    @classmethod
    @ModelView.button
    def approve(cls, cases):
        "The client approved the quote: the work may go ahead"
        cases = [c for c in cases
            if c.state == 'client_approval' and not c.client_approved]
        cls.write(cases, {
                'client_approved': True,
                'client_approved_at': dt.datetime.now(),
                })
        for case in cases:
            case.record('service_client_approved', gettext(
                    'ev_service.msg_log_client_approved',
                    case=case.rec_name),
                **case.step_values(
                    case.next_work_action('client_approval')))

    def check_approved(self):
        if self.chargeable and not self.client_approved:
            raise ServiceCaseError(gettext(
                    'ev_service.msg_client_approval_missing',
                    case=self.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('parts_shipped')
    def ship_parts(cls, cases):
        "The replacement parts leave the warehouse, each with its return box"
        Part = Pool().get('ev.service.part')
        to_ship = []
        for case in cases:
            case.check_approved()
            if case.decision not in PARTS_DECISIONS:
                raise ServiceCaseError(gettext(
                        'ev_service.msg_case_no_parts_decision',
                        case=case.rec_name, decision=case.decision_string))
            parts = [p for p in case.parts if p.return_state == 'to_ship']
            if not parts:
                raise ServiceCaseError(gettext(
                        'ev_service.msg_case_no_parts', case=case.rec_name))
            to_ship.extend(parts)
        Part.ship(to_ship)
        cls.write(cases, {'shipped_at': dt.datetime.now()})

    @classmethod
    @ModelView.button
    @Workflow.transition('visit')
    def start_visit(cls, cases):
        for case in cases:
            case.check_approved()
            if not case.team:
                raise ServiceCaseError(gettext(
                        'ev_service.msg_case_team_missing',
                        case=case.rec_name))
            case.record('service_visit', gettext(
                    'ev_service.msg_log_visit', case=case.rec_name,
                    team=case.team.rec_name,
                    date=case.visit_date or '-'),
                **case.step_values(case.next_work_action('visit')))
        cls.write(cases, {'visited_at': dt.datetime.now()})

    @classmethod
    @ModelView.button
    @Workflow.transition('replaced')
    def complete_replacement(cls, cases):
        "The new parts are in the station: they leave the van for good"
        Part = Pool().get('ev.service.part')
        Part.install([p for c in cases for p in c.parts
                if p.return_state != 'to_ship'])
        for case in cases:
            case.record('service_replaced', gettext(
                    'ev_service.msg_log_replaced', case=case.rec_name,
                    note=case.visit_note or '-'),
                **case.step_values(case.next_work_action('replaced')))
        cls.write(cases, {'replaced_at': dt.datetime.now()})

    @classmethod
    @ModelView.button
    @Workflow.transition('return_received')
    def confirm_returns(cls, cases):
        for case in cases:
            waiting = [p for p in case.parts
                if p.return_state in {'to_ship', 'pending'}]
            if waiting:
                raise ServiceCaseError(gettext(
                        'ev_service.msg_case_returns_open',
                        case=case.rec_name,
                        parts=', '.join(p.rec_name for p in waiting)))
            case.record('service_returns_verified', gettext(
                    'ev_service.msg_log_returns_verified',
                    case=case.rec_name),
                **case.step_values(case.next_work_action('return_received')))
        cls.write(cases, {'return_received_at': dt.datetime.now()})

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, cases):
        for case in cases:
            if case.state == 'decided' and (
                    case.decision not in REMOTE_DECISIONS):
                raise ServiceCaseError(gettext(
                        'ev_service.msg_case_close_too_early',
                        case=case.rec_name, decision=case.decision_string))
            if case.state == 'visit' and case.decision != 'on_site_visit':
                raise ServiceCaseError(gettext(
                        'ev_service.msg_case_close_too_early',
                        case=case.rec_name, decision=case.decision_string))
            case.record('service_case_closed', gettext(
                    'ev_service.msg_log_case_closed', case=case.rec_name,
                    decision=case.decision_string),
                **case.step_values())
        cls.write(cases, {'closed_at': dt.datetime.now()})

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, cases):
        for case in cases:
            case.record('service_case_cancelled', gettext(
                    'ev_service.msg_log_case_cancelled', case=case.rec_name),
                **case.step_values())
