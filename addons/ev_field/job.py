# This file is part of the EV operations suite.
"""Survey and installation jobs: the job, its workflow and its log.

Each concern of a job extends `ev.field.job` in a file of its own, in the
order of tryton.cfg: dispatch.py (scheduling, the day call, emergencies),
report.py (the survey and installation reports, the post-survey review),
material.py (materials on Tryton stock), closure.py (commissioning, the
closure call, the QA audit, payable) and charger.py (the bridge to
ev_charger_iot)."""
import datetime as dt

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

from .team import BOOKED_STATES, company_timezone, to_local, to_utc

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

# The contact mechanisms a crew can call
PHONE_TYPES = {'mobile', 'phone'}
IS_SURVEY = Eval('kind') == 'survey'
IS_INSTALLATION = Eval('kind') == 'installation'
# The reports are filled on the day, once the customer confirmed the visit
REPORT_READONLY = ~Eval('state').in_(['confirmed'])


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
    site_address = fields.Function(
        fields.Text("Site Address", help="Where the crew goes: the lead's "
            "address."),
        'get_site_address')
    customer_phone = fields.Function(
        fields.Char("Customer Phone", help="Tap to call the customer."),
        'get_customer_phone')
    postal_code = fields.Char("Postal Code",
        states={'readonly': ~Eval('state').in_(['draft'])},
        help="Where the job is: decides which teams cover it.")
    team = fields.Many2One('ev.field.team', "Team", ondelete='RESTRICT',
        domain=[If(IS_SURVEY, ('survey', '=', True),
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
    today = fields.Function(fields.Boolean("Today",
            help="The slot starts today, in the company's time zone."),
        'get_today', searcher='search_today')

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
                    'invisible': ~IS_SURVEY}),
            ('/form/notebook/page[@id="materials"]', 'states', {
                    'invisible': ~IS_INSTALLATION}),
            ('/form/notebook/page[@id="installation"]', 'states', {
                    'invisible': ~IS_INSTALLATION}),
            ('/form/notebook/page[@id="closure"]', 'states', {
                    'invisible': ~IS_INSTALLATION}),
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

    @classmethod
    def _today_range(cls):
        "Today from midnight to midnight in the company's time zone, in UTC"
        tz = company_timezone()
        start = dt.datetime.combine(
            dt.datetime.now(tz).date(), dt.time())
        return to_utc(start, tz), to_utc(start + dt.timedelta(days=1), tz)

    @classmethod
    def get_today(cls, jobs, name):
        start, end = cls._today_range()
        return {j.id: bool(j.slot_start and start <= j.slot_start < end)
            for j in jobs}

    @classmethod
    def search_today(cls, name, clause):
        _, operator, value = clause[:3]
        start, end = cls._today_range()
        today = [('slot_start', '>=', start), ('slot_start', '<', end)]
        if (operator == '=') == bool(value):
            return today
        return ['OR', ('slot_start', '=', None),
            ('slot_start', '<', start), ('slot_start', '>=', end)]

    @fields.depends('lead', 'postal_code')
    def on_change_lead(self):
        if self.lead and self.lead.address and not self.postal_code:
            self.postal_code = self.lead.address.postal_code

    def get_lead_field(self, name):
        if self.lead and self.lead.party:
            return self.lead.party.id

    def get_stations(self, name):
        return [s.id for s in self.lead.stations] if self.lead else []

    def get_site_address(self, name):
        if self.lead and self.lead.address:
            return self.lead.address.full_address

    def get_customer_phone(self, name):
        """A tel: link to the lead's contact if a phone, else to the
        customer's mobile or phone (read as the user: a crew reads its own
        jobs' customers only)"""
        if not self.lead:
            return
        mechanism = self.lead.contact
        if not mechanism or mechanism.type not in PHONE_TYPES:
            mechanism = self.lead.party.contact_mechanism_get(
                PHONE_TYPES) if self.lead.party else None
        if mechanism:
            return mechanism.url

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

    kind_string = kind.translated('kind')
    state_string = state.translated('state')

    @classmethod
    def preprocess_values(cls, mode, values):
        "The number from the company's sequence of the kind; the lead's code"
        pool = Pool()
        Configuration = pool.get('ev.field.configuration')
        Lead = pool.get('sale.opportunity')
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            if not values.get('number'):
                values['number'] = Configuration(1).get_job_sequence(
                    values.get('kind') or cls.default_kind(),
                    company=values.get('company')).get()
            if not values.get('postal_code') and values.get('lead'):
                lead = Lead(values['lead'])
                if lead.address:
                    values['postal_code'] = lead.address.postal_code
        return values

    @classmethod
    def check_modification(cls, mode, jobs, values=None, external=False):
        super().check_modification(
            mode, jobs, values=values, external=external)
        if mode == 'delete':
            for job in jobs:
                if job.state not in {'draft', 'cancelled'}:
                    raise AccessError(gettext(
                            'ev_field.msg_job_delete', job=job.rec_name))
        if mode == 'write' and external and 'kind' in values:
            # The kind is read-only once the job left draft (its numbers,
            # team and reports follow it); a client must not change it
            for job in jobs:
                if job.state != 'draft' and job.kind != values['kind']:
                    raise AccessError(gettext(
                            'ev_field.msg_job_kind_readonly',
                            job=job.rec_name, kind=job.kind_string,
                            state=job.state_string))

    @classmethod
    def copy(cls, jobs, default=None):
        default = default.copy() if default else {}
        default.setdefault('number')
        default.setdefault('state', 'draft')
        return super().copy(jobs, default=default)

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

    # The declared rules of ev_station that let field events skip the
    # factory stages (stage_rule.xml)
    _stage_rules = {
        'installation_completed': 'ev_field.stage_rule_field_installation',
        'commissioned': 'ev_field.stage_rule_field_commissioning',
        }

    def record_stage_event(self, event_code, text, **values):
        """A life-cycle event of ev_station for the lead's stations; the
        factory stages are skipped by a declared stage rule"""
        with without_check_access():
            for station in self.lead.stations:
                station.record_event(event_code, text,
                    stage_rule=self._stage_rules.get(event_code), **values)

    def handover_values(self, action, work):
        """Values that hand the next step over to the dispatcher; `work` is
        the step that will do it (see work_key)"""
        pool = Pool()
        Date = pool.get('ir.date')
        if not self.dispatcher or self.dispatcher.id == Transaction().user:
            return {}
        return {
            'next_owner': self.dispatcher,
            'next_action': action,
            'follow_up_date': Date.today() + dt.timedelta(days=1),
            'work': self.work_key(work),
            }

    def work_key(self, work):
        """The key of a piece of work on this job: the handover that asks
        for it and the step that does it (record(..., completes=...)) name
        the same key, and the step completes the handover"""
        return f'{self}:{work}'

    def slot_text(self):
        tz = company_timezone()
        start, end = to_local(self.slot_start, tz), to_local(self.slot_end, tz)
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"

    # -- cancellation -----------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, jobs):
        for job in jobs:
            job.record('job_cancelled', gettext(
                    'ev_field.msg_log_job_cancelled', job=job.rec_name,
                    kind=job.kind_string))
