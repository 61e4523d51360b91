# This file is part of the EV operations suite.
"""Hotline calls: who called, about what, and what came of it.

An agent logs each call (or the telephony integration does, through
`log_call`): its direction, its category (which names the department),
the caller's phone in E.164 and the outcome. The caller is looked up by
their phone, written in any common form: the call shows the customer,
their stations, their chargers with their live health, their open tickets
and service cases and the last entries of their stations' event log — as
far as the agent's own access rights let them see. A call that needs
follow-up is escalated to a ticket in one click."""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.ev_field.team import company_timezone, to_utc
from trytond.modules.ev_service.case import OPEN_STATES as CASE_OPEN_STATES
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.rpc import RPC
from trytond.transaction import Transaction, check_access

from .exceptions import CallError
from .ticket import ACTIVE_STATES as TICKET_ACTIVE_STATES

DIRECTIONS = [
    ('inbound', "Inbound"),
    ('outbound', "Outbound"),
    ]
OUTCOMES = [
    (None, ""),
    ('resolved', "Resolved on Call"),
    ('escalated', "Escalated to Ticket"),
    ('callback', "Callback Needed"),
    ('no_answer', "No Answer"),
    ('wrong_number', "Wrong Number"),
    ]
STATES = [
    ('open', "Open"),
    ('done', "Done"),
    ('escalated', "Escalated"),
    ]
# The fields a telephony integration may send to log_call
LOG_CALL_FIELDS = {'direction', 'category', 'phone', 'started_at',
    'ended_at', 'agent', 'notes', 'outcome', 'resolution', 'station',
    'charger', 'party', 'company'}
# The recent log entries a call shows
RECENT_LOG_ENTRIES = 10
_escalated = Eval('state') == 'escalated'


class Call(Workflow, ModelSQL, ModelView):
    __name__ = 'ev.helpdesk.call'
    __string__ = "Helpdesk Call"

    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    direction = fields.Selection(DIRECTIONS, "Direction", required=True,
        states={'readonly': _escalated})
    category = fields.Many2One('ev.helpdesk.category', "Category",
        required=True, states={'readonly': _escalated})
    department = fields.Many2One('ev.helpdesk.department', "Department",
        states={'readonly': _escalated},
        help="The department that handles the call: its agents see it.")
    agent = fields.Many2One('res.user', "Agent",
        states={'readonly': _escalated},
        help="The team member who took or made the call.")
    phone = fields.Char("Phone", states={'readonly': _escalated},
        help="The caller's number, in any form: it is kept in E.164 and "
        "the customer is looked up by it.")
    party = fields.Many2One('party.party', "Customer",
        states={'readonly': _escalated},
        context={'company': Eval('company', -1)}, depends={'company'})
    station = fields.Many2One('ev.station', "Station",
        domain=[If(Eval('party'), ('customer', '=', Eval('party', -1)),
                ())],
        states={'readonly': _escalated},
        help="The station the call is about, if any.")
    charger = fields.Many2One('ev.charger', "Charger",
        domain=[If(Eval('station'), ('station', '=', Eval('station', -1)),
                ())],
        states={'readonly': _escalated},
        help="The charger the call is about, if any.")
    started_at = fields.DateTime("Started At", required=True,
        states={'readonly': _escalated})
    ended_at = fields.DateTime("Ended At", states={'readonly': _escalated})
    duration = fields.Function(fields.TimeDelta("Duration"), 'get_duration')
    outcome = fields.Selection(OUTCOMES, "Outcome", sort=False,
        states={
            'readonly': _escalated,
            'required': Eval('state') == 'done',
            })
    outcome_string = outcome.translated('outcome')
    resolution = fields.Text("Resolution", states={'readonly': _escalated},
        help="What was done or agreed on the call.")
    notes = fields.Text("Notes", states={'readonly': _escalated},
        help="What the caller said: an escalated call's ticket starts "
        "from them.")
    ticket = fields.Many2One('ev.helpdesk.ticket', "Ticket", readonly=True)
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)

    # The caller lookup: what the agent may see of the customer (read-only
    # lists: Many2Many without relation, as Tryton's own lookups)
    customer_stations = fields.Function(fields.Many2Many(
            'ev.station', None, None, "Customer's Stations"), 'get_lookup')
    customer_chargers = fields.Function(fields.Many2Many(
            'ev.charger', None, None, "Chargers",
            help="The customer's chargers with their live health."),
        'get_lookup')
    open_tickets = fields.Function(fields.Many2Many(
            'ev.helpdesk.ticket', None, None, "Open Tickets"), 'get_lookup')
    open_cases = fields.Function(fields.Many2Many(
            'ev.service.case', None, None, "Open Service Cases"), 'get_lookup')
    recent_log = fields.Function(fields.Many2Many(
            'ev.station.log', None, None, "Recent Log Entries",
            help="The last entries of the event log of the customer's "
            "stations."),
        'get_lookup')
    today = fields.Function(fields.Boolean("Today",
            help="The call started today, in the company's time zone."),
        'get_today', searcher='search_today')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.phone, Index.Equality())),
                Index(t, (t.party, Index.Range())),
                Index(t, (t.started_at, Index.Range())),
                # The dashboard's calls per category and day
                Index(t, (t.company, Index.Equality()),
                    (t.started_at, Index.Range()), include=[t.category]),
                Index(t, (t.agent, Index.Range()),
                    (t.started_at, Index.Range())),
                Index(t, (t.department, Index.Range()),
                    (t.started_at, Index.Range())),
                })
        cls._order = [('started_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('open', 'done'),
            ('open', 'escalated'),
            ('done', 'escalated'),
            ('done', 'open'),
            }
        cls._buttons.update({
                'done': {
                    'invisible': Eval('state') != 'open',
                    'depends': ['state'],
                    },
                'reopen': {
                    'invisible': Eval('state') != 'done',
                    'depends': ['state'],
                    },
                # The view hides it once escalated; a second press (a stale
                # form, a double click, an integration) gets escalate's own
                # message rather than a generic refusal
                'escalate': {
                    'depends': ['state', 'ticket'],
                    },
                })
        cls.__rpc__.update({
                'log_call': RPC(readonly=False),
                })

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_direction(cls):
        return 'inbound'

    @classmethod
    def default_state(cls):
        return 'open'

    @classmethod
    def default_started_at(cls):
        return dt.datetime.now()

    @classmethod
    def default_agent(cls):
        return Transaction().user or None

    def get_rec_name(self, name):
        caller = (self.party.rec_name if self.party
            else self.phone or '?')
        return f'{self.category.rec_name if self.category else ""}: ' \
            f'{caller} #{self.id}'

    @classmethod
    def search_rec_name(cls, name, clause):
        "By the caller's phone in any form, or the customer's name"
        _, operator, value = clause
        negative = operator.startswith('!') or operator.startswith('not ')
        domain = ['AND' if negative else 'OR',
            ('party.rec_name', operator, value)]
        phone = cls.normalize_phone(
            value.strip('%') if isinstance(value, str) else None)
        if phone and operator in {'=', '!=', 'ilike', 'not ilike', 'like',
                'not like'}:
            domain.append(('phone', '!=' if negative else '=', phone))
        else:
            domain.append(('phone', operator, value))
        return domain

    @staticmethod
    def normalize_phone(value):
        "E.164, the way ev_lead keeps the customers' numbers"
        Party = Pool().get('party.party')
        return Party.normalize_phone(value) if value else None

    @classmethod
    def find_caller(cls, phone):
        "The customer whose phone `phone` (E.164) is, as the user sees them"
        Party = Pool().get('party.party')
        return Party.find_customer(phone=phone) if phone else None

    @fields.depends('phone', 'party', 'station', 'charger',
        methods=['on_change_party'])
    def on_change_phone(self):
        phone = self.normalize_phone(self.phone)
        if phone:
            self.phone = phone
            party = self.find_caller(phone)
            if party != self.party:
                self.party = party
                self.on_change_party()

    @fields.depends('party', 'station', 'charger')
    def on_change_party(self):
        if self.station and self.station.customer != self.party:
            self.station = None
            self.charger = None

    @fields.depends('category', 'department')
    def on_change_category(self):
        if self.category and self.category.department:
            self.department = self.category.department

    @fields.depends('station', 'party')
    def on_change_station(self):
        if self.station and self.station.customer and not self.party:
            self.party = self.station.customer

    @fields.depends('charger', 'station', methods=['on_change_station'])
    def on_change_charger(self):
        if self.charger and self.charger.station:
            self.station = self.charger.station
            self.on_change_station()

    def get_duration(self, name):
        if self.started_at and self.ended_at:
            return self.ended_at - self.started_at

    @classmethod
    def _today_range(cls):
        "Today from midnight to midnight in the company's time zone, in UTC"
        tz = company_timezone()
        start = dt.datetime.combine(dt.datetime.now(tz).date(), dt.time())
        return to_utc(start, tz), to_utc(start + dt.timedelta(days=1), tz)

    @classmethod
    def get_today(cls, calls, name):
        start, end = cls._today_range()
        return {c.id: start <= c.started_at < end for c in calls}

    @classmethod
    def search_today(cls, name, clause):
        _, operator, value = clause[:3]
        start, end = cls._today_range()
        if (operator == '=') == bool(value):
            return [('started_at', '>=', start), ('started_at', '<', end)]
        return ['OR', ('started_at', '<', start), ('started_at', '>=', end)]

    @classmethod
    def get_lookup(cls, calls, names):
        """What the agent may see of each caller: searched as the user, so
        the record rules of each model decide (a hotline agent does not see
        a technical department's ticket of the same customer)"""
        pool = Pool()
        ModelAccess = pool.get('ir.model.access')
        Station = pool.get('ev.station')
        Charger = pool.get('ev.charger')
        Ticket = pool.get('ev.helpdesk.ticket')
        Case = pool.get('ev.service.case')
        Log = pool.get('ev.station.log')

        def readable(model):
            return ModelAccess.check(model, 'read', raise_exception=False)

        result = {n: {c.id: [] for c in calls} for n in names}
        # Function getters run without access checks: put them back
        with check_access():
            for call in calls:
                stations = []
                if call.party and readable('ev.station'):
                    stations = Station.search(
                        [('customer', '=', call.party.id)])
                station_ids = [s.id for s in stations]
                found = {'customer_stations': station_ids}
                if 'customer_chargers' in names and readable('ev.charger'):
                    found['customer_chargers'] = [c.id for c in
                        Charger.search([('station', 'in', station_ids)])]
                if ('open_tickets' in names and call.party
                        and readable('ev.helpdesk.ticket')):
                    found['open_tickets'] = [t.id for t in Ticket.search([
                                ('state', 'in', list(TICKET_ACTIVE_STATES)),
                                ['OR',
                                    ('party', '=', call.party.id),
                                    ('station', 'in', station_ids),
                                    ],
                                ])]
                if 'open_cases' in names and readable('ev.service.case'):
                    found['open_cases'] = [c.id for c in Case.search([
                                ('station', 'in', station_ids),
                                ('state', 'in', CASE_OPEN_STATES),
                                ])]
                if 'recent_log' in names and readable('ev.station.log'):
                    found['recent_log'] = [e.id for e in Log.search(
                            [('station', 'in', station_ids)],
                            order=[('timestamp', 'DESC'), ('id', 'DESC')],
                            limit=RECENT_LOG_ENTRIES)]
                for name in names:
                    result[name][call.id] = found.get(name, [])
        return result

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Category = pool.get('ev.helpdesk.category')
        Configuration = pool.get('ev.helpdesk.configuration')
        values = super().preprocess_values(mode, values)
        if values.get('phone'):
            phone = cls.normalize_phone(values['phone'])
            if not phone:
                # Refused before anything is written
                raise ValidationError(gettext(
                        'ev_helpdesk.msg_call_phone_invalid',
                        phone=values['phone']))
            values['phone'] = phone
            if 'party' not in values:
                party = cls.find_caller(phone)
                values['party'] = party.id if party else None
        if mode == 'create':
            if values.get('category') and not values.get('department'):
                department = Category(values['category']).department
                values['department'] = department and department.id
            if not values.get('department'):
                department = Configuration(1).default_department
                values['department'] = department and department.id
        return values

    @classmethod
    def validate_fields(cls, calls, field_names):
        super().validate_fields(calls, field_names)
        cls.check_dates(calls, field_names)

    @classmethod
    def check_dates(cls, calls, field_names=None):
        if field_names and not ({'started_at', 'ended_at'} & field_names):
            return
        for call in calls:
            if call.ended_at and call.ended_at < call.started_at:
                raise ValidationError(gettext(
                        'ev_helpdesk.msg_call_ended_before_started',
                        call=call.rec_name))

    @classmethod
    def check_modification(cls, mode, calls, values=None, external=False):
        super().check_modification(
            mode, calls, values=values, external=external)
        if mode == 'delete':
            # The call history is what the hotline was told
            raise CallError(gettext('ev_helpdesk.msg_call_delete'))

    @classmethod
    def copy(cls, calls, default=None):
        default = default.copy() if default else {}
        for name in ['ticket', 'ended_at', 'outcome', 'resolution']:
            default.setdefault(name)
        default.setdefault('state', 'open')
        default.setdefault('started_at', dt.datetime.now())
        return super().copy(calls, default=default)

    @classmethod
    def log_call(cls, values):
        """Log a call from a telephony integration or a script: the category
        is given by its code (see ev.helpdesk.category); returns the id"""
        Category = Pool().get('ev.helpdesk.category')
        values = dict(values)
        unknown = set(values) - LOG_CALL_FIELDS
        if unknown:
            raise CallError(gettext('ev_helpdesk.msg_call_field_unknown',
                    fields=', '.join(sorted(unknown))))
        code = values.get('category')
        category = Category.from_code(code) if code else None
        if not category:
            codes = ', '.join(c.code for c in Category.search([]))
            raise CallError(gettext('ev_helpdesk.msg_call_category_unknown',
                    category=code or '', codes=codes))
        values['category'] = category.id
        call, = cls.create([values])
        return call.id

    # -- workflow ---------------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def done(cls, calls):
        for call in calls:
            if not call.outcome:
                raise CallError(gettext('ev_helpdesk.msg_call_outcome',
                        call=call.rec_name))
            if not call.ended_at:
                call.ended_at = max(dt.datetime.now(), call.started_at)
        cls.save(calls)

    @classmethod
    @ModelView.button
    @Workflow.transition('open')
    def reopen(cls, calls):
        pass

    def ticket_values(self):
        "The values of the ticket the call becomes"
        notes = (self.notes or '').strip()
        station = self.station or (self.charger and self.charger.station)
        subject = notes.split('\n')[0][:80] or gettext(
            'ev_helpdesk.msg_call_ticket_subject',
            category=self.category.rec_name,
            caller=self.party.rec_name if self.party else self.phone or '')
        description = '\n\n'.join(filter(None, [
                    notes,
                    (self.resolution or '').strip()]))
        return {
            'company': self.company.id,
            'subject': subject,
            'description': description,
            'category': self.category.id,
            'department': self.department and self.department.id,
            'agent': self.agent and self.agent.id,
            'party': self.party and self.party.id,
            'phone': self.phone,
            'station': station and station.id,
            'charger': self.charger and self.charger.id,
            'origin': str(self),
            'opened_at': self.started_at,
            }

    @classmethod
    @ModelView.button
    def escalate(cls, calls):
        "Make a ticket of each call, carrying everything over"
        for call in calls:
            if call.ticket:
                raise CallError(gettext('ev_helpdesk.msg_call_escalated',
                        call=call.rec_name, ticket=call.ticket.rec_name))
        cls._escalate(calls)

    @classmethod
    @Workflow.transition('escalated')
    def _escalate(cls, calls):
        Ticket = Pool().get('ev.helpdesk.ticket')
        tickets = Ticket.create([c.ticket_values() for c in calls])
        for call, ticket in zip(calls, tickets):
            call.ticket = ticket
            call.outcome = 'escalated'
            if not call.ended_at:
                call.ended_at = max(dt.datetime.now(), call.started_at)
        cls.save(calls)
