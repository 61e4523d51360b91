# This file is part of the EV operations suite.
"Survey and installation jobs, from scheduling to payable"
import datetime as dt
import random
from decimal import Decimal

from sql import Null
from sql.operators import Equal

from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    Check, Exclude, Index, ModelSQL, ModelView, Workflow, fields)
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.sql.functions import TSRange
from trytond.sql.operators import RangeOverlap
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from trytond.modules.ev_station.station import STAGE_ORDER

from .exceptions import FieldJobError
from .team import BOOKED_STATES, company_timezone, to_local

# Connectors of DC fast chargers (L3); the others are AC (L2)
DC_CONNECTOR_TYPES = {'ccs1', 'ccs2', 'chademo', 'gbt'}

KINDS = [
    ('survey', "Survey"),
    ('installation', "Installation"),
    ]
STATES = [
    ('draft', "To Schedule"),
    ('scheduled', "Scheduled"),
    ('confirmed', "Confirmed on the Day"),
    ('emergency', "Team Unavailable"),
    ('done', "Reported"),
    ('commissioned', "Commissioned"),
    ('closed', "Closed"),
    ('cancelled', "Cancelled"),
    ]
QA_STATES = [
    (None, ""),
    ('pending', "Pending"),
    ('passed', "Passed"),
    ('failed', "Failed"),
    ]
# The work a survey can find missing; each one keeps the site not ready
SITE_WORK = ['load_upgrade_needed', 'earthing_work_needed',
    'civil_work_needed']

_SURVEY = Eval('kind') == 'survey'
_INSTALLATION = Eval('kind') == 'installation'
_REPORTING = ~Eval('state').in_(['confirmed'])


class Job(Workflow, ModelSQL, ModelView):
    __name__ = 'ev.field.job'
    __string__ = "Field Job"
    _rec_name = 'number'

    number = fields.Char("Number", readonly=True,
        help="The ID the team and the customer quote.")
    kind = fields.Selection(KINDS, "Kind", required=True,
        states={'readonly': Eval('state') != 'draft'})
    company = fields.Many2One('company.company', "Company", required=True,
        states={'readonly': Eval('state') != 'draft'})
    lead = fields.Many2One('sale.opportunity', "Lead", required=True,
        ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'draft'})
    customer = fields.Function(
        fields.Many2One('party.party', "Customer",
            context={'company': Eval('company', -1)}, depends={'company'}),
        'get_lead_field')
    stations = fields.Function(
        fields.Many2Many('ev.station', None, None, "Stations"),
        'get_stations')
    postal_code = fields.Char("Postal Code",
        states={'readonly': ~Eval('state').in_(['draft'])},
        help="Where the job is: decides which teams cover it.")
    team = fields.Many2One('ev.field.team', "Team", ondelete='RESTRICT',
        domain=[If(_SURVEY, ('survey', '=', True),
                ('installation', '=', True))],
        states={
            'readonly': Eval('state') != 'draft',
            'required': Eval('state').in_(BOOKED_STATES),
            })
    slot_start = fields.DateTime("Starts",
        states={
            'readonly': Eval('state') != 'draft',
            'required': Eval('state').in_(BOOKED_STATES),
            })
    slot_end = fields.DateTime("Ends",
        domain=[If(Bool(Eval('slot_start')) & Bool(Eval('slot_end')),
                ('slot_end', '>', Eval('slot_start')), ())],
        states={
            'readonly': Eval('state') != 'draft',
            'required': Eval('state').in_(BOOKED_STATES),
            })
    customer_confirmed = fields.Boolean("Customer Confirmed",
        help="The customer confirmed the slot.")
    dispatcher = fields.Many2One('res.user', "Dispatcher",
        help="The Central Ops person who follows the job.")
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)
    priority = fields.Boolean("Priority", readonly=True,
        help="Rescheduled after an emergency: heads the next-available list.")
    priority_since = fields.Timestamp("Priority Since", readonly=True)

    # Day-of call and emergencies
    day_call_at = fields.Timestamp("Day Call At", readonly=True)
    day_call_note = fields.Text("Day Call Note",
        states={'readonly': ~Eval('state').in_(['scheduled'])})
    unavailable_reason = fields.Text("Unavailability Reason",
        states={'readonly': ~Eval('state').in_(['scheduled', 'confirmed'])})
    unavailable_team = fields.Many2One(
        'ev.field.team', "Unavailable Team", readonly=True)
    backup_teams = fields.Function(
        fields.Many2Many('ev.field.team', None, None, "Backup Teams",
            help="Teams with the capability, covering the zone and free "
            "in the slot, least loaded first."),
        'get_backup_teams')
    reassignments = fields.One2Many(
        'ev.field.job.reassignment', 'job', "Reassignments", readonly=True)

    # Survey report
    sanctioned_load_kw = fields.Numeric("Sanctioned Load (kW)",
        digits=(16, 2), domain=[If(Bool(Eval('sanctioned_load_kw')),
                ('sanctioned_load_kw', '>', 0), ())],
        states={'invisible': ~_SURVEY, 'readonly': _REPORTING})
    earthing = fields.Selection([
            (None, ""),
            ('ok', "Adequate"),
            ('missing', "Missing or inadequate"),
            ], "Earthing",
        states={'invisible': ~_SURVEY, 'readonly': _REPORTING})
    cable_run_m = fields.Numeric("Cable Run (m)", digits=(16, 1),
        domain=[If(Bool(Eval('cable_run_m')), ('cable_run_m', '>', 0), ())],
        states={'invisible': ~_SURVEY, 'readonly': _REPORTING})
    mounting = fields.Selection([
            (None, ""),
            ('wall', "Wall"),
            ('pole', "Pole"),
            ('pedestal', "Pedestal"),
            ], "Mounting",
        states={'invisible': ~_SURVEY, 'readonly': _REPORTING})
    load_upgrade_needed = fields.Boolean("Electrical Load Upgrade Needed",
        states={'invisible': ~_SURVEY, 'readonly': _REPORTING})
    earthing_work_needed = fields.Boolean("Earthing Work Needed",
        states={'invisible': ~_SURVEY, 'readonly': _REPORTING})
    civil_work_needed = fields.Boolean("Civil Work Needed",
        states={'invisible': ~_SURVEY, 'readonly': _REPORTING})
    report_note = fields.Text("Report Notes",
        states={'readonly': _REPORTING})
    reported_at = fields.Timestamp("Reported At", readonly=True)
    review = fields.Selection([
            (None, ""),
            ('ready', "Site Ready"),
            ('not_ready', "Site Not Ready"),
            ], "Review", readonly=True,
        states={'invisible': ~_SURVEY})
    survey = fields.Function(
        fields.Many2One('ev.field.job', "Survey"), 'get_survey')

    # Installation report
    charger_lot = fields.Many2One('stock.lot', "Charger Serial",
        ondelete='RESTRICT',
        states={'invisible': ~_INSTALLATION, 'readonly': _REPORTING},
        help="The serial of the installed charger, taken from the van.")
    cable_used_m = fields.Numeric("Cable Used (m)", digits=(16, 1),
        domain=[If(Bool(Eval('cable_used_m')), ('cable_used_m', '>', 0), ())],
        states={'invisible': ~_INSTALLATION, 'readonly': _REPORTING})
    tests_done = fields.Boolean("Tests Done",
        states={'invisible': ~_INSTALLATION, 'readonly': _REPORTING})
    demo_given = fields.Boolean("Demo Given",
        states={'invisible': ~_INSTALLATION, 'readonly': _REPORTING})
    customer_signature = fields.Binary("Customer Signature",
        states={'invisible': ~_INSTALLATION, 'readonly': _REPORTING})
    materials = fields.One2Many('ev.field.job.material', 'job', "Materials",
        states={
            'invisible': ~_INSTALLATION,
            'readonly': ~Eval('state').in_(['draft', 'scheduled']),
            })
    allocation = fields.Many2One('stock.shipment.internal', "Allocation",
        readonly=True, states={'invisible': ~_INSTALLATION})
    procurements = fields.One2Many(
        'ev.field.procurement', 'job', "Local Procurements",
        states={'invisible': ~_INSTALLATION})
    consumption_moves = fields.One2Many('stock.move', 'origin',
        "Consumed Materials", readonly=True,
        states={'invisible': ~_INSTALLATION})

    # Commissioning and closure
    charger_identity = fields.Char("Charger Identity",
        states={
            'invisible': ~_INSTALLATION,
            'readonly': Eval('state') != 'done',
            },
        help="The identity the charger is monitored under (OCPP id).")
    network_verified = fields.Boolean("Network Verified",
        states={'invisible': ~_INSTALLATION,
            'readonly': Eval('state') != 'done'})
    app_paired = fields.Boolean("Customer App Paired",
        states={'invisible': ~_INSTALLATION,
            'readonly': Eval('state') != 'done'})
    commissioned_at = fields.Timestamp("Commissioned At", readonly=True)
    closure_call_at = fields.Timestamp("Closure Call At", readonly=True)
    closure_call_note = fields.Text("Closure Call Note",
        states={'invisible': ~_INSTALLATION,
            'readonly': Eval('state') != 'commissioned'})
    qa_state = fields.Selection(QA_STATES, "QA Audit", readonly=True,
        states={'invisible': ~_INSTALLATION})
    qa_note = fields.Text("QA Note",
        states={'invisible': ~Bool(Eval('qa_state'))})
    qa_by = fields.Many2One('res.user', "Audited By", readonly=True)

    # Payable
    payable = fields.Boolean("Payable", readonly=True)
    payable_at = fields.Timestamp("Payable Since", readonly=True)
    cost_materials = fields.Numeric("Materials", digits=(16, 2),
        readonly=True)
    cost_labour = fields.Numeric("Labour", digits=(16, 2), readonly=True)
    cost_logistics = fields.Numeric("Logistics", digits=(16, 2),
        readonly=True)
    cost_total = fields.Function(
        fields.Numeric("Total Cost", digits=(16, 2)), 'get_cost_total')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('slot_order', Check(t, (t.slot_end == Null)
                    | (t.slot_start == Null) | (t.slot_end > t.slot_start)),
                'ev_field.msg_job_slot_order'),
            # A team is never in two places at once: PostgreSQL enforces it
            # with an exclusion constraint (btree_gist), SQLite through
            # Tryton's locked check of the same constraint.
            ('team_no_overlap', Exclude(t,
                    (t.team, Equal),
                    (TSRange(t.slot_start, t.slot_end, '[)'), RangeOverlap),
                    where=(t.team != Null)
                    & t.state.in_(BOOKED_STATES)),
                'ev_field.msg_job_team_double_booked'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.team, Index.Range()),
                    (t.slot_start, Index.Range())),
                Index(t, (t.state, Index.Equality(cardinality='low'))),
                Index(t, (t.lead, Index.Range())),
                # The day's load of every team (backup proposals)
                Index(t, (t.slot_start, Index.Range())),
                })
        cls._order = [('slot_start', 'ASC NULLS FIRST'), ('id', 'ASC')]
        cls._transitions |= {
            ('draft', 'scheduled'),
            ('scheduled', 'draft'),
            ('scheduled', 'confirmed'),
            ('scheduled', 'emergency'),
            ('confirmed', 'emergency'),
            ('emergency', 'scheduled'),
            ('emergency', 'draft'),
            ('confirmed', 'done'),
            ('done', 'commissioned'),
            ('done', 'closed'),
            ('commissioned', 'closed'),
            ('draft', 'cancelled'),
            ('scheduled', 'cancelled'),
            ('confirmed', 'cancelled'),
            ('emergency', 'cancelled'),
            }
        cls._buttons.update({
                'schedule': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'unschedule': {
                    'invisible': Eval('state') != 'scheduled',
                    'depends': ['state'],
                    },
                'confirm_day': {
                    'invisible': Eval('state') != 'scheduled',
                    'depends': ['state'],
                    },
                'mark_unavailable': {
                    'invisible': ~Eval('state').in_(
                        ['scheduled', 'confirmed']),
                    'depends': ['state'],
                    },
                'reassign_wizard': {
                    'invisible': Eval('state') != 'emergency',
                    'depends': ['state'],
                    },
                'priority_reschedule': {
                    'invisible': Eval('state') != 'emergency',
                    'depends': ['state'],
                    },
                'submit_report': {
                    'invisible': Eval('state') != 'confirmed',
                    'depends': ['state'],
                    },
                'review_ready': {
                    'invisible': (Eval('state') != 'done') | ~_SURVEY,
                    'depends': ['state', 'kind'],
                    },
                'review_not_ready': {
                    'invisible': (Eval('state') != 'done') | ~_SURVEY,
                    'depends': ['state', 'kind'],
                    },
                'plan_materials': {
                    'invisible': ~_INSTALLATION
                    | ~Eval('state').in_(['draft', 'scheduled'])
                    | Bool(Eval('allocation')),
                    'depends': ['state', 'kind', 'allocation'],
                    },
                'allocate_materials': {
                    'invisible': ~_INSTALLATION
                    | ~Eval('state').in_(['draft', 'scheduled', 'confirmed'])
                    | ~Eval('materials', []),
                    'depends': ['state', 'kind', 'materials'],
                    },
                'commission': {
                    'invisible': (Eval('state') != 'done') | ~_INSTALLATION,
                    'depends': ['state', 'kind'],
                    },
                'closure_call': {
                    'invisible': (Eval('state') != 'commissioned')
                    | Bool(Eval('closure_call_at')),
                    'depends': ['state', 'closure_call_at'],
                    },
                'qa_pass': {
                    'invisible': ~Eval('qa_state').in_(['pending', 'failed']),
                    'depends': ['qa_state'],
                    },
                'qa_fail': {
                    'invisible': Eval('qa_state') != 'pending',
                    'depends': ['qa_state'],
                    },
                'close': {
                    'invisible': (Eval('state') != 'commissioned'),
                    'depends': ['state'],
                    },
                'mark_payable': {
                    'invisible': (Eval('state') != 'closed') | ~_INSTALLATION
                    | Bool(Eval('payable')),
                    'depends': ['state', 'kind', 'payable'],
                    },
                'cancel': {
                    'invisible': ~Eval('state').in_(
                        ['draft', 'scheduled', 'confirmed', 'emergency']),
                    'depends': ['state'],
                    },
                })

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/form/notebook/page[@id="survey"]', 'states', {
                    'invisible': ~_SURVEY}),
            ('/form/notebook/page[@id="materials"]', 'states', {
                    'invisible': ~_INSTALLATION}),
            ('/form/notebook/page[@id="installation"]', 'states', {
                    'invisible': ~_INSTALLATION}),
            ('/form/notebook/page[@id="closure"]', 'states', {
                    'invisible': ~_INSTALLATION}),
            ]

    @classmethod
    def __register__(cls, module_name):
        transaction = Transaction()
        database = transaction.database
        if backend.name == 'postgresql':
            # The exclusion constraint compares the team with =, which GiST
            # indexes only with btree_gist (a trusted extension).
            cursor = transaction.connection.cursor()
            cursor.execute('CREATE EXTENSION IF NOT EXISTS btree_gist')
            # Tryton asks from another connection, which cannot see the
            # extension before this transaction commits: tell it directly
            database._extensions.setdefault(
                database.name, {})['btree_gist'] = True
        super().__register__(module_name)

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_kind(cls):
        return 'survey'

    @classmethod
    def default_dispatcher(cls):
        return Transaction().user

    @classmethod
    def default_customer_confirmed(cls):
        return False

    @fields.depends('lead', 'postal_code')
    def on_change_lead(self):
        if self.lead and self.lead.address and not self.postal_code:
            self.postal_code = self.lead.address.postal_code

    def get_lead_field(self, name):
        if self.lead and self.lead.party:
            return self.lead.party.id

    def get_stations(self, name):
        return [s.id for s in self.lead.stations] if self.lead else []

    def get_survey(self, name):
        if self.kind != 'installation' or not self.lead:
            return None
        surveys = self.search([
                ('lead', '=', self.lead.id),
                ('kind', '=', 'survey'),
                ('state', '=', 'closed'),
                ], order=[('id', 'DESC')], limit=1)
        return surveys[0].id if surveys else None

    def get_cost_total(self, name):
        if self.cost_materials is None:
            return None
        return sum((self.cost_materials or 0, self.cost_labour or 0,
                self.cost_logistics or 0), Decimal(0))

    @classmethod
    def get_backup_teams(cls, jobs, name):
        result = {}
        for job in jobs:
            result[job.id] = [t for t, _ in job.propose_backups()] \
                if job.state == 'emergency' else []
        return result

    def get_rec_name(self, name):
        return self.number or str(self.id)

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause[:3]
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('number', operator, value, *clause[3:]),
            ('lead.rec_name', operator, value, *clause[3:]),
            ]

    @classmethod
    def create(cls, vlist):
        pool = Pool()
        Configuration = pool.get('ev.field.configuration')
        Lead = pool.get('sale.opportunity')
        config = Configuration(1)
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if not values.get('number'):
                values['number'] = config.get_job_sequence(
                    values.get('kind') or 'survey').get()
            if not values.get('postal_code') and values.get('lead'):
                lead = Lead(values['lead'])
                if lead.address:
                    values['postal_code'] = lead.address.postal_code
        return super().create(vlist)

    @classmethod
    def copy(cls, jobs, default=None):
        default = default.copy() if default else {}
        for name in ['number', 'day_call_at', 'reported_at', 'unavailable_team',
                'reassignments', 'review', 'charger_lot', 'allocation',
                'procurements', 'consumption_moves', 'commissioned_at',
                'closure_call_at', 'qa_state', 'qa_by', 'payable',
                'payable_at', 'cost_materials', 'cost_labour',
                'cost_logistics', 'priority', 'priority_since']:
            default.setdefault(name)
        default.setdefault('state', 'draft')
        return super().copy(jobs, default=default)

    @classmethod
    def delete(cls, jobs):
        for job in jobs:
            if job.state not in {'draft', 'cancelled'}:
                raise AccessError(gettext(
                        'ev_field.msg_job_delete', job=job.rec_name))
        super().delete(jobs)

    # -- logging ----------------------------------------------------------

    def record(self, event_code, text, **values):
        """Write the step into the Station Records' logs of the lead.

        Every step of a job is evidence; the entry's visibility comes from
        the event type unless given."""
        pool = Pool()
        EventType = pool.get('ev.station.event_type')
        entries = []
        with without_check_access():
            type_ = EventType.from_code(event_code)
            for station in self.lead.stations:
                extra = dict(values)
                if ('visibility' not in extra
                        and type_.default_visibility == 'client_email'
                        and not station.customer.email):
                    # Customers without an email still see the entry
                    extra['visibility'] = 'client'
                entries.append(station.record_event(event_code, text, **extra))
        return entries

    def handover_values(self, action):
        "Values that hand the next step over to the dispatcher"
        pool = Pool()
        Date = pool.get('ir.date')
        if not self.dispatcher or self.dispatcher.id == Transaction().user:
            return {}
        return {
            'next_owner': self.dispatcher,
            'next_action': action,
            'follow_up_date': Date.today() + dt.timedelta(days=1),
            }

    def slot_text(self):
        tz = company_timezone()
        start, end = to_local(self.slot_start, tz), to_local(self.slot_end, tz)
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"

    # -- checks -----------------------------------------------------------

    @classmethod
    def validate(cls, jobs):
        super().validate(jobs)
        for job in jobs:
            if job.state in BOOKED_STATES and job.team:
                job.check_overlap()

    def check_overlap(self):
        "A clear message before the database constraint refuses the slot"
        others = self.search([
                ('id', '!=', self.id),
                ('team', '=', self.team.id),
                ('state', 'in', BOOKED_STATES),
                ('slot_start', '<', self.slot_end),
                ('slot_end', '>', self.slot_start),
                ], limit=1)
        if others:
            other, = others
            raise FieldJobError(gettext(
                    'ev_field.msg_job_team_overlap',
                    job=self.rec_name, team=self.team.rec_name,
                    other=other.rec_name, slot=other.slot_text()))

    def check_schedulable(self):
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        if not self.team or not self.slot_start or not self.slot_end:
            raise FieldJobError(gettext(
                    'ev_field.msg_job_schedule_missing', job=self.rec_name))
        if self.slot_end <= self.slot_start:
            raise FieldJobError(gettext(
                    'ev_field.msg_job_slot_order_detail', job=self.rec_name))
        if not self.team.can(self.kind):
            raise FieldJobError(gettext(
                    'ev_field.msg_team_capability', team=self.team.rec_name,
                    kind=self.kind_string))
        if not self.team.covers(self.postal_code):
            raise FieldJobError(gettext(
                    'ev_field.msg_team_zone', team=self.team.rec_name,
                    postal_code=self.postal_code or '-'))
        tz = company_timezone()
        start, end = to_local(self.slot_start, tz), to_local(self.slot_end, tz)
        if (start.date() != end.date() or not self.team.works_on(start.date())
                or start.time() < self.team.work_start
                or end.time() > self.team.work_end):
            raise FieldJobError(gettext(
                    'ev_field.msg_team_not_working', team=self.team.rec_name,
                    slot=self.slot_text()))
        if self.kind == 'survey':
            if self.lead.state not in {'ready_for_survey', 'won'}:
                raise FieldJobError(gettext(
                        'ev_field.msg_survey_lead_not_ready',
                        lead=self.lead.rec_name,
                        stage=self.lead.state_string))
        else:
            if (self.lead.state != 'won'
                    or not self.survey or self.survey.review != 'ready'):
                raise FieldJobError(gettext(
                        'ev_field.msg_installation_needs_survey',
                        lead=self.lead.rec_name))
        self.check_overlap()
        if not self.lead.stations:
            with without_check_access():
                Lead.create_stations([Lead(self.lead.id)])

    kind_string = kind.translated('kind')
    state_string = state.translated('state')

    # -- scheduling -------------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('scheduled')
    def schedule(cls, jobs):
        for job in jobs:
            job.check_schedulable()
        cls.write(jobs, {'priority': False, 'priority_since': None})
        for job in jobs:
            job.record(f'{job.kind}_scheduled', gettext(
                    f'ev_field.msg_log_{job.kind}_scheduled',
                    job=job.rec_name, team=job.team.rec_name,
                    slot=job.slot_text()))

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def unschedule(cls, jobs):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('confirmed')
    def confirm_day(cls, jobs):
        "The team called the customer on the day: the visit is on"
        pool = Pool()
        Date = pool.get('ir.date')
        now = dt.datetime.now()
        for job in jobs:
            if to_local(job.slot_start).date() != Date.today():
                raise FieldJobError(gettext(
                        'ev_field.msg_job_day_call_not_today',
                        job=job.rec_name, slot=job.slot_text()))
        cls.write(jobs, {'day_call_at': now, 'customer_confirmed': True})
        for job in jobs:
            job.record('field_day_call', gettext(
                    'ev_field.msg_log_day_call', job=job.rec_name,
                    team=job.team.rec_name,
                    note=job.day_call_note or '-'))

    @classmethod
    @ModelView.button
    @Workflow.transition('emergency')
    def mark_unavailable(cls, jobs):
        """The team cannot come: Central Ops hears at once, the customer is
        told of the delay, and backup teams are proposed. With no backup the
        job is rescheduled with priority."""
        for job in jobs:
            if not (job.unavailable_reason or '').strip():
                raise FieldJobError(gettext(
                        'ev_field.msg_job_unavailable_reason',
                        job=job.rec_name))
        for job in jobs:
            job.unavailable_team = job.team
            job.team = None
            job.state = 'emergency'
        cls.save(jobs)
        cls.notify_central_ops(jobs)
        no_backup = []
        for job in jobs:
            job.record('team_unavailable', gettext(
                    'ev_field.msg_log_team_unavailable', job=job.rec_name,
                    team=job.unavailable_team.rec_name,
                    reason=job.unavailable_reason),
                **job.handover_values(gettext(
                        'ev_field.msg_action_find_backup',
                        job=job.rec_name)))
            job.record('job_delayed', gettext(
                    'ev_field.msg_log_job_delayed', job=job.rec_name,
                    kind=job.kind_string))
            if not job.propose_backups():
                no_backup.append(job)
        if no_backup:
            cls.priority_reschedule(no_backup)

    @classmethod
    def notify_central_ops(cls, jobs):
        "A Tryton notification to every Central Ops user, at once"
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        Notification = pool.get('res.notification')
        group_id = ModelData.get_id('ev_lead', 'group_central_ops')
        with without_check_access():
            users = User.search([('groups', '=', group_id)])
            Notification.save([Notification(
                        user=user,
                        label=gettext('ev_field.msg_notify_unavailable',
                            job=job.rec_name,
                            team=job.unavailable_team.rec_name
                            if job.unavailable_team else '-'),
                        description=job.unavailable_reason,
                        model=cls.__name__,
                        records=f'[{job.id}]')
                    for job in jobs for user in users])

    def propose_backups(self, limit=10):
        "(team id, jobs that day) of the teams that can step in, best first"
        Team = Pool().get('ev.field.team')
        if not (self.slot_start and self.slot_end):
            return []
        with without_check_access():
            candidates = Team.propose_backups(
                self.kind, self.postal_code, self.slot_start, self.slot_end,
                exclude=[self.unavailable_team.id]
                if self.unavailable_team else None, limit=limit)
        return candidates

    @classmethod
    @ModelView.button_action('ev_field.wizard_reassign')
    def reassign_wizard(cls, jobs):
        pass

    @classmethod
    def reassign(cls, jobs, team):
        "Emergency reassignment to a backup team"
        pool = Pool()
        Reassignment = pool.get('ev.field.job.reassignment')
        for job in jobs:
            if job.state != 'emergency':
                raise FieldJobError(gettext(
                        'ev_field.msg_job_not_emergency', job=job.rec_name))
            if team.id not in [t for t, _ in job.propose_backups(limit=None)]:
                raise FieldJobError(gettext(
                        'ev_field.msg_job_backup_not_free', job=job.rec_name,
                        team=team.rec_name))
        Reassignment.save([Reassignment(
                    job=job, from_team=job.unavailable_team, to_team=team,
                    kind='emergency', reason=job.unavailable_reason)
                for job in jobs])
        cls.write(jobs, {'team': team.id})
        cls._emergency_scheduled(jobs)
        for job in jobs:
            job.record('emergency_reassigned', gettext(
                    'ev_field.msg_log_emergency_reassigned',
                    job=job.rec_name, team=team.rec_name,
                    slot=job.slot_text()))

    @classmethod
    @Workflow.transition('scheduled')
    def _emergency_scheduled(cls, jobs):
        for job in jobs:
            job.check_schedulable()

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def priority_reschedule(cls, jobs):
        "No backup: the job waits at the head of the next-available list"
        cls.write(jobs, {
                'priority': True,
                'priority_since': dt.datetime.now(),
                'customer_confirmed': False,
                })
        for job in jobs:
            job.record('priority_rescheduled', gettext(
                    'ev_field.msg_log_priority_rescheduled',
                    job=job.rec_name, kind=job.kind_string),
                **job.handover_values(gettext(
                        'ev_field.msg_action_reschedule', job=job.rec_name)))

    @classmethod
    def next_available(cls, kind=None):
        "Jobs to schedule, priority ones first (oldest emergency first)"
        domain = [('state', '=', 'draft')]
        if kind:
            domain.append(('kind', '=', kind))
        return cls.search(domain, order=[
                ('priority', 'DESC'), ('priority_since', 'ASC NULLS LAST'),
                ('id', 'ASC')])

    # -- reports ----------------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def submit_report(cls, jobs):
        for job in jobs:
            getattr(job, f'check_{job.kind}_report')()
        cls.write(jobs, {'reported_at': dt.datetime.now()})
        installations = [j for j in jobs if j.kind == 'installation']
        if installations:
            cls.consume_materials(installations)
            cls.sample_qa(installations)
        for job in jobs:
            if job.kind == 'survey':
                job.record('survey_reported', gettext(
                        'ev_field.msg_log_survey_reported',
                        job=job.rec_name, summary=job.survey_summary()),
                    **job.handover_values(gettext(
                            'ev_field.msg_action_review',
                            job=job.rec_name)))
            else:
                job.record_stage_event('installation_completed', gettext(
                        'ev_field.msg_log_installed', job=job.rec_name,
                        serial=job.charger_lot.number),
                    **job.handover_values(gettext(
                            'ev_field.msg_action_commission',
                            job=job.rec_name)))

    def record_stage_event(self, event_code, text, **values):
        """A life-cycle event of ev_station for the lead's stations.

        Stations of OEM leads skip the factory stages: the skip is recorded
        as an override by whoever reports the step."""
        pool = Pool()
        EventType = pool.get('ev.station.event_type')
        target = EventType.from_code(event_code).stage
        with without_check_access():
            for station in self.lead.stations:
                extra = dict(values)
                if STAGE_ORDER[target] - STAGE_ORDER[station.stage] > 1:
                    extra['override_by'] = Transaction().user
                    extra['override_reason'] = gettext(
                        'ev_field.msg_stage_override', job=self.rec_name)
                station.record_event(event_code, text, **extra)

    def check_survey_report(self):
        missing = [self.__class__._fields[n].string for n in [
                'sanctioned_load_kw', 'earthing', 'cable_run_m', 'mounting']
            if getattr(self, n) is None]
        if missing:
            raise FieldJobError(gettext(
                    'ev_field.msg_report_incomplete', job=self.rec_name,
                    fields=', '.join(missing)))

    def check_installation_report(self):
        missing = [self.__class__._fields[n].string for n in [
                'charger_lot', 'cable_used_m', 'customer_signature']
            if not getattr(self, n)]
        missing += [self.__class__._fields[n].string for n in [
                'tests_done', 'demo_given'] if not getattr(self, n)]
        if missing:
            raise FieldJobError(gettext(
                    'ev_field.msg_report_incomplete', job=self.rec_name,
                    fields=', '.join(missing)))
        self.check_serial_in_van()

    def check_serial_in_van(self):
        "The installed charger must be one the team carries"
        pool = Pool()
        Product = pool.get('product.product')
        Date = pool.get('ir.date')
        lot = self.charger_lot
        van = self.team.location if self.team else None
        quantity = 0
        if van:
            with Transaction().set_context(
                    stock_date_end=Date.today(), company=self.company.id):
                pbl = Product.products_by_location(
                    [van.id], with_childs=True,
                    grouping=('product', 'lot'),
                    grouping_filter=([lot.product.id], [lot.id]))
            quantity = pbl.get((van.id, lot.product.id, lot.id), 0)
        if quantity < 1:
            raise FieldJobError(gettext(
                    'ev_field.msg_serial_not_in_van', serial=lot.number,
                    team=self.team.rec_name if self.team else '-',
                    van=van.rec_name if van else '-'))

    def survey_summary(self):
        return gettext('ev_field.msg_survey_summary',
            load=self.sanctioned_load_kw,
            earthing=dict(self.__class__.earthing.selection)[self.earthing],
            cable=self.cable_run_m,
            mounting=dict(self.__class__.mounting.selection)[self.mounting],
            work=self.site_work_text() or '-')

    def site_work_text(self):
        return '\n'.join('- ' + self.__class__._fields[n].string
            for n in SITE_WORK if getattr(self, n))

    # -- post-survey review -----------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def review_ready(cls, jobs):
        "Site ready: the lead goes to installation"
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        for job in jobs:
            if job.kind != 'survey':
                raise FieldJobError(gettext(
                        'ev_field.msg_job_not_survey', job=job.rec_name))
            if job.site_work_text():
                raise FieldJobError(gettext(
                        'ev_field.msg_site_work_found', job=job.rec_name,
                        work=job.site_work_text()))
        cls.write(jobs, {'review': 'ready'})
        with without_check_access():
            leads = Lead.browse(list({j.lead.id for j in jobs}))
            open_ = [l for l in leads if l.readiness_wait_since]
            if open_:
                Lead.site_ready(open_)
            to_hand_over = [l for l in leads if l.state != 'won']
            if to_hand_over:
                Lead.hand_over(to_hand_over)
        for job in jobs:
            job.record('site_ready', gettext(
                    'ev_field.msg_log_site_ready', job=job.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def review_not_ready(cls, jobs):
        """Site not ready: the customer gets the list of work to do and the
        lead waits for readiness under ev_lead's timeout"""
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        for job in jobs:
            if not job.site_work_text():
                raise FieldJobError(gettext(
                        'ev_field.msg_site_work_none', job=job.rec_name))
        cls.write(jobs, {'review': 'not_ready'})
        with without_check_access():
            for job in jobs:
                lead = Lead(job.lead.id)
                lead.site_work_required = job.site_work_text()
                lead.save()
                if not lead.readiness_wait_since:
                    Lead.wait_for_site([lead])
        for job in jobs:
            job.record('site_not_ready', gettext(
                    'ev_field.msg_log_site_not_ready', job=job.rec_name,
                    work=job.site_work_text()))

    # -- materials --------------------------------------------------------

    @classmethod
    @ModelView.button
    def plan_materials(cls, jobs):
        "The bill of materials of the lead's charger model, for this site"
        pool = Pool()
        BOM = pool.get('ev.field.bom')
        Material = pool.get('ev.field.job.material')
        to_save, to_delete = [], []
        for job in jobs:
            if job.allocation:
                raise FieldJobError(gettext(
                        'ev_field.msg_materials_allocated', job=job.rec_name))
            bom = BOM.for_model(job.lead.charger_model)
            if not bom:
                raise FieldJobError(gettext(
                        'ev_field.msg_bom_missing', job=job.rec_name,
                        model=job.lead.charger_model or '-'))
            if not job.survey or not job.survey.cable_run_m:
                raise FieldJobError(gettext(
                        'ev_field.msg_bom_needs_survey', job=job.rec_name))
            to_delete.extend(job.materials)
            for product, quantity in bom.explode(
                    job.lead.charger_quantity, job.survey.cable_run_m):
                to_save.append(Material(job=job, product=product,
                        quantity=quantity, unit=product.default_uom,
                        state='planned'))
        Material.delete(to_delete)
        Material.save(to_save)

    @classmethod
    @ModelView.button
    def allocate_materials(cls, jobs):
        """Check availability in the warehouse: what is there is reserved
        and moved to the team's van; what is missing is requested"""
        for job in jobs:
            job._allocate_materials()

    def _allocate_materials(self):
        pool = Pool()
        Material = pool.get('ev.field.job.material')
        Shipment = pool.get('stock.shipment.internal')
        Request = pool.get('purchase.request')
        Date = pool.get('ir.date')
        Configuration = pool.get('ev.field.configuration')
        config = Configuration(1)
        if not self.team or not self.team.location:
            raise FieldJobError(gettext(
                    'ev_field.msg_team_no_van', job=self.rec_name,
                    team=self.team.rec_name if self.team else '-'))
        warehouse = config.get_warehouse(self.company)
        storage = warehouse.storage_location
        pending = [m for m in self.materials if m.state in {'planned', 'short'}]
        if not pending:
            return
        available = self.available_quantities(
            storage, [m.product for m in pending])
        short = [m for m in pending
            if available.get(m.product.id, 0) < m.quantity]
        if short:
            today = Date.today()
            requests = []
            for material in short:
                if material.request:
                    continue
                missing = material.quantity - max(
                    available.get(material.product.id, 0), 0)
                requests.append(Request(
                        product=material.product,
                        description=material.product.rec_name,
                        quantity=missing, unit=material.unit,
                        computed_quantity=missing,
                        computed_unit=material.unit,
                        warehouse=warehouse, company=self.company,
                        purchase_date=today, supply_date=today,
                        origin=self, state='draft'))
                material.request = requests[-1]
            Request.save(requests)
            for material in short:
                material.state = 'short'
            Material.save(short)
            self.record('materials_short', gettext(
                    'ev_field.msg_log_materials_short', job=self.rec_name,
                    materials=', '.join(
                        f'{m.product.rec_name} × {m.quantity}'
                        for m in short)),
                **self.handover_values(gettext(
                        'ev_field.msg_action_procure', job=self.rec_name)))
            return
        # Everything is there: one internal shipment to the van, reserved
        # then done; lot-tracked products travel with their serials.
        moves = []
        for material in pending:
            moves.extend(self._material_moves(material, storage))
        shipment = Shipment(company=self.company, from_location=storage,
            to_location=self.team.location, moves=moves,
            planned_date=Date.today(), planned_start_date=Date.today(),
            effective_date=Date.today())
        shipment.save()
        Shipment.wait([shipment])
        Shipment.assign_try([shipment])
        if Shipment(shipment.id).state != 'assigned':
            Shipment.cancel([shipment])
            raise FieldJobError(gettext(
                    'ev_field.msg_materials_reservation_failed',
                    job=self.rec_name))
        Shipment.do([shipment])
        self.allocation = shipment
        self.save()
        Material.write(pending, {'state': 'allocated'})
        self.record('materials_allocated', gettext(
                'ev_field.msg_log_materials_allocated', job=self.rec_name,
                shipment=shipment.rec_name, van=self.team.location.rec_name))

    def _material_moves(self, material, storage):
        pool = Pool()
        Move = pool.get('stock.move')
        Product = pool.get('product.product')
        Date = pool.get('ir.date')
        base = dict(product=material.product, unit=material.unit,
            from_location=storage, to_location=self.team.location,
            company=self.company, origin=material)
        if not material.product.lot_is_required(storage, self.team.location):
            return [Move(quantity=material.quantity, **base)]
        # Serialized: one move per lot available in the warehouse
        with Transaction().set_context(
                stock_date_end=Date.today(), company=self.company.id):
            pbl = Product.products_by_location([storage.id],
                with_childs=True, grouping=('product', 'lot'),
                grouping_filter=([material.product.id],))
        moves, needed = [], material.quantity
        for (_, _, lot), quantity in sorted(pbl.items(),
                key=lambda i: (i[0][2] is None, i[0][2] or 0)):
            if lot is None or quantity <= 0 or needed <= 0:
                continue
            take = min(quantity, needed)
            moves.append(Move(quantity=take, lot=lot, **base))
            needed -= take
        if needed > 0:
            raise FieldJobError(gettext(
                    'ev_field.msg_serials_missing',
                    product=material.product.rec_name, job=self.rec_name))
        return moves

    def available_quantities(self, location, products):
        pool = Pool()
        Product = pool.get('product.product')
        Date = pool.get('ir.date')
        with Transaction().set_context(
                stock_date_end=Date.today(), company=self.company.id):
            pbl = Product.products_by_location([location.id],
                with_childs=True,
                grouping_filter=([p.id for p in products],))
        return {product: quantity for (_, product), quantity in pbl.items()}

    @classmethod
    def consume_materials(cls, jobs):
        """Moves from the van to the customer: the installed serial, the
        cable used and the rest of the kit"""
        pool = Pool()
        Move = pool.get('stock.move')
        Location = pool.get('stock.location')
        ModelData = pool.get('ir.model.data')
        customer = Location(ModelData.get_id('stock', 'location_customer'))
        length = ModelData.get_id('product', 'uom_cat_length')
        moves = []
        for job in jobs:
            van = job.team.location
            charger = job.charger_lot.product
            for material in job.materials:
                if material.state != 'allocated':
                    continue
                product = material.product
                if product == charger:
                    quantity, lot = 1, job.charger_lot
                elif product.default_uom.category.id == length:
                    quantity, lot = float(job.cable_used_m), None
                else:
                    quantity, lot = material.quantity, None
                moves.append(Move(product=product, unit=material.unit,
                        quantity=quantity, lot=lot, from_location=van,
                        to_location=customer, company=job.company,
                        origin=job, unit_price=product.cost_price,
                        currency=job.company.currency))
        Move.save(moves)
        Move.do(moves)

    # -- commissioning and closure ----------------------------------------

    @classmethod
    def sample_qa(cls, jobs):
        "A random share of installations is audited before closure"
        Configuration = Pool().get('ev.field.configuration')
        share = float(Configuration(1).qa_share or 0)
        rng = random.SystemRandom()
        sampled = [j for j in jobs if rng.random() < share]
        if sampled:
            cls.write(sampled, {'qa_state': 'pending'})

    @classmethod
    @ModelView.button
    @Workflow.transition('commissioned')
    def commission(cls, jobs):
        for job in jobs:
            missing = []
            if not (job.charger_identity or '').strip():
                missing.append(cls.charger_identity.string)
            if not job.network_verified:
                missing.append(cls.network_verified.string)
            if not job.app_paired:
                missing.append(cls.app_paired.string)
            if missing:
                raise FieldJobError(gettext(
                        'ev_field.msg_commission_incomplete',
                        job=job.rec_name, fields=', '.join(missing)))
        cls.write(jobs, {'commissioned_at': dt.datetime.now()})
        cls.monitor_chargers(jobs)
        for job in jobs:
            job.record_stage_event('commissioned', gettext(
                    'ev_field.msg_log_commissioned', job=job.rec_name,
                    identity=job.charger_identity),
                **job.handover_values(gettext(
                        'ev_field.msg_action_closure_call',
                        job=job.rec_name)))

    @classmethod
    @without_check_access
    def monitor_chargers(cls, jobs):
        """With ev_charger_iot: the commissioned charger is monitored under
        its identity, on the job's first station without a charger, with the
        station's connectors (AC or DC by their type), the installed serial
        and the commissioning date. A charger registered beforehand under
        that identity is completed, if it is on one of the job's stations."""
        pool = Pool()
        try:
            Charger = pool.get('ev.charger')
        except KeyError:
            return  # ev_charger_iot is not activated
        Connector = pool.get('ev.charger.connector')
        today = dt.date.today()
        chargers = []
        for job in jobs:
            identity = job.charger_identity.strip()
            stations = list(job.lead.stations)
            charger = Charger.search([('identity', '=', identity)], limit=1)
            if charger:
                charger, = charger
                if charger.station not in stations:
                    raise FieldJobError(gettext(
                            'ev_field.msg_charger_identity_elsewhere',
                            job=job.rec_name, identity=identity,
                            station=charger.station.rec_name))
            else:
                monitored = {c.station for c in Charger.search([
                            ('station', 'in', [s.id for s in stations]),
                            ])}
                station = ([s for s in stations if s not in monitored]
                    or stations)[0]
                types = [c.type for c in station.connectors
                    for _ in range(c.count or 1)] or [None]
                dc = any(t in DC_CONNECTOR_TYPES for t in types)
                charger = Charger(identity=identity, station=station,
                    power_class='l3' if dc else 'l2',
                    current_type='dc' if dc else 'ac',
                    connectors=[Connector(number=n, connector_type=t)
                        for n, t in enumerate(types, 1)])
            charger.commissioning_date = today
            if job.charger_lot and not getattr(charger, 'serial', None):
                charger.serial = job.charger_lot.number
            chargers.append(charger)
        Charger.save(chargers)

    @classmethod
    @ModelView.button
    def closure_call(cls, jobs):
        "Central Ops called the customer after commissioning"
        for job in jobs:
            if job.state != 'commissioned':
                raise FieldJobError(gettext(
                        'ev_field.msg_job_not_commissioned',
                        job=job.rec_name))
        cls.write(jobs, {'closure_call_at': dt.datetime.now()})
        for job in jobs:
            job.record('closure_call', gettext(
                    'ev_field.msg_log_closure_call', job=job.rec_name,
                    note=job.closure_call_note or '-'))

    @classmethod
    @ModelView.button
    def qa_pass(cls, jobs):
        cls._qa(jobs, 'passed')

    @classmethod
    @ModelView.button
    def qa_fail(cls, jobs):
        for job in jobs:
            if not (job.qa_note or '').strip():
                raise FieldJobError(gettext(
                        'ev_field.msg_qa_note_required', job=job.rec_name))
        cls._qa(jobs, 'failed')

    @classmethod
    def _qa(cls, jobs, result):
        for job in jobs:
            if job.qa_state not in {'pending', 'failed'}:
                raise FieldJobError(gettext(
                        'ev_field.msg_qa_not_sampled', job=job.rec_name))
            if job.state not in {'done', 'commissioned'}:
                raise FieldJobError(gettext(
                        'ev_field.msg_qa_too_early', job=job.rec_name))
        cls.write(jobs, {'qa_state': result, 'qa_by': Transaction().user})
        for job in jobs:
            job.record('qa_audit', gettext(
                    f'ev_field.msg_log_qa_{result}', job=job.rec_name,
                    note=job.qa_note or '-'))

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, jobs):
        for job in jobs:
            if not job.closure_call_at:
                raise FieldJobError(gettext(
                        'ev_field.msg_close_needs_call', job=job.rec_name))
            if job.qa_state in {'pending', 'failed'}:
                raise FieldJobError(gettext(
                        'ev_field.msg_close_needs_qa', job=job.rec_name,
                        qa=job.qa_state))
        for job in jobs:
            job.record('job_closed', gettext(
                    'ev_field.msg_log_job_closed', job=job.rec_name))

    @classmethod
    @ModelView.button
    def mark_payable(cls, jobs):
        "The team can be paid: the job's cost summary is frozen"
        Configuration = Pool().get('ev.field.configuration')
        config = Configuration(1)
        for job in jobs:
            if job.state != 'closed' or job.kind != 'installation':
                raise FieldJobError(gettext(
                        'ev_field.msg_payable_not_closed', job=job.rec_name))
            if job.payable:
                raise FieldJobError(gettext(
                        'ev_field.msg_payable_already', job=job.rec_name))
        for job in jobs:
            materials = sum((Decimal(str(m.quantity))
                    * (m.unit_price or 0) for m in job.consumption_moves),
                Decimal(0))
            procured = sum((p.amount or 0 for p in job.procurements
                    if p.state in {'approved', 'purchased', 'paid'}),
                Decimal(0))
            job.cost_materials = (materials + procured).quantize(
                Decimal('0.01'))
            job.cost_labour = job.team.labour_rate or Decimal(0)
            job.cost_logistics = config.logistics_cost or Decimal(0)
            job.payable = True
            job.payable_at = dt.datetime.now()
        cls.save(jobs)
        for job in jobs:
            job.record('job_payable', gettext(
                    'ev_field.msg_log_job_payable', job=job.rec_name,
                    team=job.team.rec_name,
                    materials=job.cost_materials, labour=job.cost_labour,
                    logistics=job.cost_logistics, total=job.cost_total))

    # -- cancellation -----------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, jobs):
        "A cancelled job gives its materials back to the warehouse"
        for job in jobs:
            job.return_materials()
            job.record('job_cancelled', gettext(
                    'ev_field.msg_log_job_cancelled', job=job.rec_name,
                    kind=job.kind_string))

    def return_materials(self):
        pool = Pool()
        Shipment = pool.get('stock.shipment.internal')
        Move = pool.get('stock.move')
        Material = pool.get('ev.field.job.material')
        Request = pool.get('purchase.request')
        Date = pool.get('ir.date')
        allocated = [m for m in self.materials if m.state == 'allocated']
        shipment = self.allocation
        if shipment and shipment.state == 'done':
            back = Shipment(company=self.company,
                from_location=shipment.to_location,
                to_location=shipment.from_location,
                planned_date=Date.today(), planned_start_date=Date.today(),
                effective_date=Date.today(),
                moves=[Move(product=m.product, unit=m.unit,
                        quantity=m.quantity, lot=m.lot,
                        from_location=shipment.to_location,
                        to_location=shipment.from_location,
                        company=self.company, origin=m.origin)
                    for m in shipment.moves if m.state == 'done'])
            back.save()
            Shipment.wait([back])
            Shipment.assign_try([back])
            if Shipment(back.id).state != 'assigned':
                raise FieldJobError(gettext(
                        'ev_field.msg_materials_not_in_van',
                        job=self.rec_name))
            Shipment.do([back])
            returned = back.rec_name
        elif shipment and shipment.state not in {'done', 'cancelled'}:
            Shipment.cancel([shipment])
            returned = shipment.rec_name
        else:
            returned = None
        requests = [m.request for m in self.materials
            if m.request and m.request.state == 'draft']
        if requests:
            Request.delete(requests)
        if self.materials:
            Material.write(list(self.materials), {'state': 'returned'})
        if returned:
            self.record('materials_returned', gettext(
                    'ev_field.msg_log_materials_returned', job=self.rec_name,
                    shipment=returned,
                    materials=', '.join(f'{m.product.rec_name} × '
                        f'{m.quantity}' for m in allocated)))


class JobMaterial(ModelSQL, ModelView):
    __name__ = 'ev.field.job.material'
    __string__ = "Job Material"

    job = fields.Many2One('ev.field.job', "Job", required=True,
        ondelete='CASCADE')
    product = fields.Many2One('product.product', "Product", required=True,
        domain=[('type', '=', 'goods')])
    quantity = fields.Float("Quantity", required=True,
        digits='unit', domain=[('quantity', '>', 0)])
    unit = fields.Many2One('product.uom', "Unit", required=True)
    state = fields.Selection([
            ('planned', "Planned"),
            ('short', "Short: to procure"),
            ('allocated', "Allocated to the van"),
            ('returned', "Returned"),
            ], "State", readonly=True, required=True)
    request = fields.Many2One('purchase.request', "Purchase Request",
        readonly=True, ondelete='SET NULL')

    @classmethod
    def default_state(cls):
        return 'planned'


class Reassignment(ModelSQL, ModelView):
    __name__ = 'ev.field.job.reassignment'
    __string__ = "Job Reassignment"

    job = fields.Many2One('ev.field.job', "Job", required=True,
        ondelete='CASCADE', readonly=True)
    from_team = fields.Many2One('ev.field.team', "From Team", readonly=True)
    to_team = fields.Many2One('ev.field.team', "To Team", readonly=True)
    kind = fields.Selection([
            ('emergency', "Emergency"),
            ('planned', "Planned"),
            ], "Kind", readonly=True)
    reason = fields.Text("Reason", readonly=True)
    create_uid_name = fields.Function(
        fields.Char("By"), 'get_create_uid_name')

    def get_create_uid_name(self, name):
        return self.create_uid.rec_name if self.create_uid else None


class ReassignStart(ModelView):
    __name__ = 'ev.field.job.reassign.start'
    __string__ = "Emergency Reassignment"

    job = fields.Many2One('ev.field.job', "Job", readonly=True)
    candidates = fields.Many2Many('ev.field.team', None, None, "Candidates",
        readonly=True)
    team = fields.Many2One('ev.field.team', "Backup Team", required=True,
        domain=[('id', 'in', Eval('candidates', []))])


class Reassign(Wizard):
    __name__ = 'ev.field.job.reassign'
    start = StateView('ev.field.job.reassign.start',
        'ev_field.job_reassign_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Reassign", 'reassign', 'tryton-ok', default=True),
            ])
    reassign = StateTransition()

    def default_start(self, fields):
        candidates = [t for t, _ in self.record.propose_backups()]
        return {
            'job': self.record.id,
            'candidates': candidates,
            'team': candidates[0] if candidates else None,
            }

    def transition_reassign(self):
        self.model.reassign([self.record], self.start.team)
        return 'end'
