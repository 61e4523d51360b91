# This file is part of the EV operations suite.
"""Warranty claims on a charger: the claimed fault checked against our own
telemetry (connector statuses, meter values, command log) and against the
warranty terms of the charger's model, routed by severity to the group that
approves it, and counted per error type to spot a fault that spreads."""
import datetime as dt
import zoneinfo

from dateutil.relativedelta import relativedelta
from sql.aggregate import Count, Max, Min

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.modules.ev_field.team import to_local
from trytond.modules.ev_station.notification import (
    group_users, notify, user_in_group)
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .claim_rule import SEVERITIES
from .exceptions import (
    ServiceAccessError, WarrantyClaimError, WarrantyClaimValidationError)

VERDICTS = [
    (None, ""),
    ('supported', "Supported"),
    ('contradicted', "Contradicted"),
    ('no_data', "No Data"),
    ]
STATES = [
    ('draft', "Draft"),
    ('submitted', "Submitted"),
    ('escalated', "Escalated"),
    ('approved', "Approved"),
    ('rejected', "Rejected"),
    ('closed', "Closed"),
    ]
# Connector statuses that show the charger could not serve
FAULT_STATUSES = ('Faulted', 'Unavailable')
FAILED_COMMANDS = ('rejected', 'failed')
TIME = '%H:%M'


class Claim(Workflow, ModelSQL, ModelView):
    __name__ = 'ev.service.claim'
    __string__ = "Warranty Claim"
    _history = True

    company = fields.Many2One('company.company', "Company", required=True,
        states={'readonly': Eval('state') != 'draft'})
    charger = fields.Many2One('ev.charger', "Charger", required=True,
        ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'draft'})
    connector = fields.Integer("Connector",
        states={'readonly': Eval('state') != 'draft'},
        help="The charging spot (OCPP connector id); empty for the whole "
        "charger.")
    station = fields.Function(fields.Many2One('ev.station', "Station"),
        'on_change_with_station')
    error_type = fields.Many2One('ev.service.claim.error_type',
        "Error Type", required=True, ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'draft'})
    severity = fields.Selection(SEVERITIES, "Severity", required=True,
        states={'readonly': Eval('state') != 'draft'})
    source = fields.Selection([
            ('operations', "Operations"),
            ('customer', "Customer"),
            ], "Source", required=True,
        states={'readonly': Eval('state') != 'draft'},
        help="A customer's claim shows its status in the client log.")
    affected_user = fields.Many2One('party.party', "Affected User",
        ondelete='RESTRICT', context={'company': Eval('company', -1)},
        states={
            'readonly': Eval('state') != 'draft',
            'required': Eval('source') == 'customer',
            })
    window_start = fields.DateTime("From", required=True,
        states={'readonly': Eval('state') != 'draft'})
    window_end = fields.DateTime("To", required=True,
        states={'readonly': Eval('state') != 'draft'})
    claimed_kwh = fields.Float("Claimed Energy (kWh)",
        states={'readonly': Eval('state') != 'draft'},
        help="The energy the claimant says the session delivered or was "
        "billed; compared with our meter values.")
    description = fields.Text("Description", required=True,
        states={'readonly': Eval('state') != 'draft'})
    warranty_until = fields.Date("Warranty Until", readonly=True)
    evidence = fields.One2Many('ev.service.claim.evidence', 'claim',
        "Evidence", readonly=True)
    verdict = fields.Selection(VERDICTS, "Verdict", readonly=True)
    override_reason = fields.Text("Override Reason",
        states={
            'invisible': ~Eval('verdict').in_(['contradicted', 'no_data']),
            'readonly': ~Eval('state').in_(['submitted', 'escalated']),
            },
        help="Why the reviewer decides although the telemetry does not "
        "support the claim.")
    approver_group = fields.Many2One('res.group', "Approver Group",
        readonly=True)
    submitted_at = fields.DateTime("Submitted At", readonly=True)
    decided_by = fields.Many2One('res.user', "Decided By", readonly=True)
    decided_at = fields.DateTime("Decided At", readonly=True)
    closed_at = fields.DateTime("Closed At", readonly=True)
    service_case = fields.Many2One('ev.service.case', "Service Case",
        readonly=True, ondelete='RESTRICT',
        help="The case that repairs what the approved claim found.")
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.charger, Index.Range()),
                    (t.window_start, Index.Range())),
                Index(t, (t.error_type, Index.Equality()),
                    (t.window_start, Index.Range())),
                Index(t, (t.state, Index.Equality(cardinality='low'))),
                # The claim KPIs (kpi_claim.py) by month of submission
                Index(t, (t.company, Index.Equality()),
                    (t.submitted_at, Index.Range())),
                })
        cls._order = [('window_start', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'submitted'),
            ('submitted', 'approved'),
            ('submitted', 'escalated'),
            ('submitted', 'rejected'),
            ('escalated', 'approved'),
            ('escalated', 'rejected'),
            ('approved', 'closed'),
            ('rejected', 'closed'),
            }
        reviewing = Eval('state').in_(['submitted', 'escalated'])
        cls._buttons.update({
                'submit': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'check_evidence': {
                    'invisible': ~reviewing,
                    'depends': ['state'],
                    },
                # Without evidence they say why (check_evidence_gate)
                'approve': {
                    'invisible': ~reviewing,
                    'depends': ['state'],
                    },
                'escalate': {
                    'invisible': Eval('state') != 'submitted',
                    'depends': ['state'],
                    },
                'reject': {
                    'invisible': ~reviewing,
                    'depends': ['state'],
                    },
                'close': {
                    'invisible': ~Eval('state').in_(['approved', 'rejected']),
                    'depends': ['state'],
                    },
                'open_case': {
                    'invisible': ((Eval('state') != 'approved')
                        | Eval('service_case')),
                    'depends': ['state', 'service_case'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_source(cls):
        return 'operations'

    @classmethod
    def default_severity(cls):
        return 'medium'

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @fields.depends('charger')
    def on_change_with_station(self, name=None):
        return self.charger.station if self.charger else None

    @fields.depends('error_type')
    def on_change_error_type(self):
        if self.error_type:
            self.severity = self.error_type.severity

    severity_string = severity.translated('severity')
    state_string = state.translated('state')
    verdict_string = verdict.translated('verdict')

    def get_rec_name(self, name):
        return gettext('ev_service.msg_claim_rec_name', id=self.id,
            charger=self.charger.rec_name,
            error_type=self.error_type.rec_name)

    @classmethod
    def validate_fields(cls, claims, field_names):
        super().validate_fields(claims, field_names)
        for claim in claims:
            if claim.window_end <= claim.window_start:
                raise WarrantyClaimValidationError(gettext(
                        'ev_service.msg_claim_window',
                        start=claim.window_start, end=claim.window_end))
            if claim.connector is not None and claim.connector < 0:
                raise WarrantyClaimValidationError(gettext(
                        'ev_service.msg_claim_connector',
                        connector=claim.connector))
            if claim.claimed_kwh is not None and claim.claimed_kwh < 0:
                raise WarrantyClaimValidationError(gettext(
                        'ev_service.msg_claim_energy',
                        energy=claim.claimed_kwh))

    @classmethod
    def check_modification(cls, mode, claims, values=None, external=False):
        super().check_modification(
            mode, claims, values=values, external=external)
        if mode == 'delete':
            for claim in claims:
                if claim.state != 'draft':
                    raise ServiceAccessError(gettext(
                            'ev_service.msg_claim_delete',
                            claim=claim.rec_name))

    # -- logging ----------------------------------------------------------

    def record(self, event_code, message, **values):
        """The step in the station's event log: in the client's log when
        the claim came from a customer"""
        text = gettext(message, claim=self.rec_name, **values)
        visibility = 'client' if self.source == 'customer' else 'internal'
        with without_check_access():
            return self.station.record_event(
                event_code, text, visibility=visibility)

    # -- eligibility ------------------------------------------------------

    def check_eligibility(self):
        "The warranty end date, or the reason the claim is refused"
        WarrantyTerm = Pool().get('ev.service.warranty_term')
        charger = self.charger
        if not charger.commissioning_date:
            raise WarrantyClaimError(gettext(
                    'ev_service.msg_claim_not_commissioned',
                    charger=charger.rec_name))
        with without_check_access():
            months = WarrantyTerm.months_of(charger.model)
        if months is None:
            raise WarrantyClaimError(gettext(
                    'ev_service.msg_claim_no_terms',
                    charger=charger.rec_name, model=charger.model or '-'))
        until = charger.commissioning_date + relativedelta(months=months)
        if self.window_start.date() > until:
            raise WarrantyClaimError(gettext(
                    'ev_service.msg_claim_out_of_warranty',
                    charger=charger.rec_name, model=charger.model,
                    months=months, commissioned=charger.commissioning_date,
                    until=until, claimed=self.window_start.date()))
        return until

    # -- evidence ---------------------------------------------------------

    def _statuses(self):
        """(connector, status, ts) of the charger from the status in force
        at the start of the window to the end of the window"""
        Status = Pool().get('ev.charger.status')
        s = Status.__table__()
        where = s.charger == self.charger.id
        if self.connector is not None:
            where &= s.connector == self.connector
        cursor = Transaction().connection.cursor()
        cursor.execute(*s.select(s.connector, s.status, s.ts,
                where=where & (s.ts < self.window_start),
                order_by=[s.ts.desc], limit=1))
        before = list(cursor)
        cursor.execute(*s.select(s.connector, s.status, s.ts,
                where=where & (s.ts >= self.window_start)
                & (s.ts <= self.window_end),
                order_by=[s.ts.asc, s.id.asc]))
        return before + list(cursor)

    def _fault_lines(self):
        "The periods a connector was faulted during the window"
        lines, open_faults = [], {}
        statuses = self._statuses()
        for connector, status, ts in statuses:
            started = open_faults.pop(connector, None)
            if started:
                lines.append((connector, *started, ts))
            if status in FAULT_STATUSES:
                open_faults[connector] = (status, max(ts, self.window_start))
        for connector, started in open_faults.items():
            lines.append((connector, *started, self.window_end))
        return bool(statuses), [('status', gettext(
                    'ev_service.msg_evidence_fault', connector=c, status=st,
                    start=self.clock(a), end=self.clock(b)))
            for c, st, a, b in lines]

    def _command_lines(self):
        "The commands to the charger that failed during the window"
        Command = Pool().get('ev.charger.command')
        with without_check_access():
            commands = Command.search([
                    ('charger', '=', self.charger.id),
                    ('requested_at', '>=', self.window_start),
                    ('requested_at', '<=', self.window_end),
                    ('state', 'in', FAILED_COMMANDS),
                    ], order=[('requested_at', 'ASC')])
        labels = Command.fields_get(['action', 'state'])
        actions = dict(labels['action']['selection'])
        states = dict(labels['state']['selection'])
        return [('command', gettext('ev_service.msg_evidence_command',
                    action=actions[c.action], state=states[c.state],
                    time=self.clock(c.requested_at)))
            for c in commands]

    def _meter_evidence(self):
        "(verdict, lines) from the meter values in the window"
        pool = Pool()
        Meter = pool.get('ev.charger.meter')
        Configuration = pool.get('ev.service.configuration')
        m = Meter.__table__()
        where = ((m.charger == self.charger.id)
            & (m.ts >= self.window_start) & (m.ts <= self.window_end))
        if self.connector is not None:
            where &= m.connector == self.connector
        cursor = Transaction().connection.cursor()
        cursor.execute(*m.select(Min(m.energy_wh), Max(m.energy_wh),
                Count(m.id), where=where))
        first, last, count = cursor.fetchone()
        if not count or first is None:
            return 'no_data', []
        metered = (last - first) / 1000
        claimed = self.claimed_kwh
        line = ('meter', gettext('ev_service.msg_evidence_meter',
                metered=f'{metered:.1f}', count=count,
                claimed=f'{claimed:.1f}' if claimed is not None else '-'))
        if claimed is None:
            return 'no_data', [line]
        tolerance = Configuration(1).claim_meter_tolerance or 0
        if abs(metered - claimed) > max(claimed, metered) * tolerance / 100:
            return 'contradicted', [line]
        return 'supported', [line]

    def clock(self, value):
        "A stored (UTC) time as the company's clocks show it"
        tz = dt.timezone.utc
        if self.company.timezone:
            tz = zoneinfo.ZoneInfo(self.company.timezone)
        return to_local(value, tz).strftime(TIME)

    def find_evidence(self):
        "(verdict, [(kind, text)]) of the claim from our telemetry"
        if self.error_type.evidence == 'meter':
            return self._meter_evidence()
        has_data, lines = self._fault_lines()
        lines += self._command_lines()
        if lines:
            return 'supported', lines
        if has_data:
            return 'contradicted', [('status', gettext(
                        'ev_service.msg_evidence_no_fault',
                        start=self.clock(self.window_start),
                        end=self.clock(self.window_end)))]
        return 'no_data', []

    @classmethod
    @ModelView.button
    def check_evidence(cls, claims):
        "Replace the evidence of the claims by what the telemetry says now"
        Evidence = Pool().get('ev.service.claim.evidence')
        for claim in claims:
            if claim.state not in {'submitted', 'escalated'}:
                raise WarrantyClaimError(gettext(
                        'ev_service.msg_claim_evidence_state',
                        claim=claim.rec_name, state=claim.state_string))
        lines = []
        for claim in claims:
            verdict, found = claim.find_evidence()
            if not found:
                found = [('none', gettext(
                            'ev_service.msg_evidence_none'))]
            lines.extend(Evidence(claim=claim, kind=kind, text=text)
                for kind, text in found)
            claim.verdict = verdict
        with without_check_access():
            # Earlier checks stay in the evidence history and the log
            Evidence.delete([e for c in claims for e in c.evidence])
            Evidence.save(lines)
        cls.save(claims)
        for claim in claims:
            claim.record('warranty_claim_evidence',
                'ev_service.msg_log_claim_evidence',
                verdict=claim.verdict_string,
                evidence='; '.join(
                    e.text for e in lines if e.claim == claim))

    # -- workflow ---------------------------------------------------------

    def check_evidence_gate(self):
        "Approval and escalation need telemetry that supports the claim"
        if not self.verdict:
            raise WarrantyClaimError(gettext(
                    'ev_service.msg_claim_evidence_missing',
                    claim=self.rec_name))
        if self.verdict != 'supported' and not self.override_reason:
            raise WarrantyClaimError(gettext(
                    'ev_service.msg_claim_evidence_not_supported',
                    claim=self.rec_name, verdict=self.verdict_string))

    def check_approver(self):
        if Transaction().user and not user_in_group(self.approver_group):
            raise ServiceAccessError(gettext(
                    'ev_service.msg_claim_not_approver',
                    claim=self.rec_name, group=self.approver_group.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('submitted')
    def submit(cls, claims):
        Route = Pool().get('ev.service.claim.route')
        for claim in claims:
            claim.warranty_until = claim.check_eligibility()
            with without_check_access():
                claim.approver_group = Route.route(claim).approver_group
            # Submitted before the alert counts the submitted claims
            claim.state = 'submitted'
            claim.submitted_at = dt.datetime.now()
        cls.save(claims)
        for claim in claims:
            claim.record('warranty_claim_submitted',
                'ev_service.msg_log_claim_submitted',
                error_type=claim.error_type.rec_name,
                description=claim.description)
        notify(group_users('ev_service.group_service_manager',
                'ev_service.group_service_l2'), claims,
            lambda c: gettext('ev_service.msg_notify_claim_submitted',
                claim=c.rec_name, station=c.station.rec_name))
        Pool().get('ev.service.claim.alert').raise_for(
            {c.error_type for c in claims})

    @classmethod
    @ModelView.button
    @Workflow.transition('approved')
    def approve(cls, claims):
        for claim in claims:
            claim.check_evidence_gate()
            claim.check_approver()
        cls.write(claims, {'decided_by': Transaction().user or None,
                'decided_at': dt.datetime.now()})
        cls.log_state(claims, 'approved')

    @classmethod
    @ModelView.button
    @Workflow.transition('escalated')
    def escalate(cls, claims):
        Route = Pool().get('ev.service.claim.route')
        for claim in claims:
            claim.check_evidence_gate()
            claim.check_approver()
            with without_check_access():
                claim.approver_group = Route.route(claim).escalation_group
        cls.save(claims)
        cls.log_state(claims, 'escalated')

    @classmethod
    @ModelView.button
    @Workflow.transition('rejected')
    def reject(cls, claims):
        for claim in claims:
            claim.check_approver()
        cls.write(claims, {'decided_by': Transaction().user or None,
                'decided_at': dt.datetime.now()})
        cls.log_state(claims, 'rejected')

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, claims):
        cls.write(claims, {'closed_at': dt.datetime.now()})
        cls.log_state(claims, 'closed')

    @classmethod
    @ModelView.button
    def open_case(cls, claims):
        "A service case of origin warranty for each approved claim"
        Case = Pool().get('ev.service.case')
        claims = [c for c in claims if not c.service_case]
        for claim in claims:
            if claim.state != 'approved':
                raise WarrantyClaimError(gettext(
                        'ev_service.msg_claim_case_not_approved',
                        claim=claim.rec_name, state=claim.state_string))
        cases = Case.create([{
                    'company': c.company.id,
                    'station': c.station.id,
                    'origin': 'warranty',
                    'description': gettext(
                        'ev_service.msg_claim_case_description',
                        claim=c.rec_name, description=c.description,
                        evidence='; '.join(e.text for e in c.evidence)),
                    } for c in claims])
        for claim, case in zip(claims, cases):
            claim.service_case = case
        cls.save(claims)

    @classmethod
    def log_state(cls, claims, state):
        "The claims enter `state` (Workflow writes it after the step)"
        label = dict(cls.fields_get(['state'])['state']['selection'])[state]
        for claim in claims:
            claim.record(f'warranty_claim_{state}',
                'ev_service.msg_log_claim_state', state=label,
                reason=claim.override_reason or '-')


class Evidence(ModelSQL, ModelView):
    __name__ = 'ev.service.claim.evidence'
    __string__ = "Claim Evidence"
    _history = True

    claim = fields.Many2One('ev.service.claim', "Claim", required=True,
        ondelete='CASCADE', readonly=True)
    kind = fields.Selection([
            ('status', "Connector Status"),
            ('meter', "Meter Values"),
            ('command', "Command"),
            ('none', "Nothing Found"),
            ], "Kind", required=True, readonly=True)
    text = fields.Char("Found", required=True, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('claim')

    @classmethod
    def check_modification(cls, mode, lines, values=None, external=False):
        "Only the evidence check writes what the telemetry says"
        super().check_modification(
            mode, lines, values=values, external=external)
        if external:
            raise ServiceAccessError(gettext(
                    'ev_service.msg_claim_evidence_readonly'))
