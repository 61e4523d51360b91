# This file is part of the EV operations suite.
"""Tickets: a customer's problem from its report to its closing.

Open → In Progress → Resolved → Closed, with Waiting on Customer (the SLA
clock pauses) and a reopen when the customer replies within the configured
hours of the resolution. Every change is kept (_history) and the notes are
entries nobody edits. A ticket about a charger lands on its Station Record:
its opening and its resolution are entries of the station's event log (a
station set after the opening gets the opening entry then, once)."""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Workflow, fields)
from trytond.modules.ev_station.immutable import ImmutableMixin
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .category import PRIORITIES
from .exceptions import TicketError

STATES = [
    ('open', "Open"),
    ('in_progress', "In Progress"),
    ('waiting', "Waiting on Customer"),
    ('resolved', "Resolved"),
    ('closed', "Closed"),
    ]
ACTIVE_STATES = {'open', 'in_progress', 'waiting'}
# Fixed once the ticket is closed
_closed = Eval('state') == 'closed'


class Ticket(Workflow, ModelSQL, ModelView):
    __name__ = 'ev.helpdesk.ticket'
    __string__ = "Helpdesk Ticket"
    _rec_name = 'number'
    _history = True

    number = fields.Char("Number", readonly=True)
    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    subject = fields.Char("Subject", required=True,
        states={'readonly': _closed})
    description = fields.Text("Description", states={'readonly': _closed})
    category = fields.Many2One('ev.helpdesk.category', "Category",
        required=True, states={'readonly': _closed})
    department = fields.Many2One('ev.helpdesk.department', "Department",
        states={'readonly': _closed},
        help="The department that handles the ticket: its agents see it.")
    agent = fields.Many2One('res.user', "Agent",
        states={'readonly': _closed},
        help="The team member working on the ticket.")
    priority = fields.Selection(PRIORITIES, "Priority", required=True,
        sort=False, states={'readonly': _closed})
    priority_string = priority.translated('priority')
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)
    state_string = state.translated('state')
    party = fields.Many2One('party.party', "Customer",
        states={'readonly': _closed},
        context={'company': Eval('company', -1)}, depends={'company'})
    phone = fields.Char("Phone", states={'readonly': _closed})
    station = fields.Many2One('ev.station', "Station",
        states={'readonly': _closed})
    charger = fields.Many2One('ev.charger', "Charger",
        domain=[If(Eval('station'), ('station', '=', Eval('station', -1)),
                ())],
        states={'readonly': _closed})
    service_case = fields.Many2One('ev.service.case', "Service Case",
        domain=[If(Eval('station'), ('station', '=', Eval('station', -1)),
                ())],
        states={'readonly': _closed},
        help="The service case that repairs what the ticket reports.")
    origin = fields.Reference("Origin", selection='get_origins',
        readonly=True)
    opened_at = fields.DateTime("Opened At", readonly=True)
    first_response_at = fields.DateTime("First Response At", readonly=True)
    waiting_since = fields.DateTime("Waiting Since", readonly=True)
    resolved_at = fields.DateTime("Resolved At", readonly=True)
    closed_at = fields.DateTime("Closed At", readonly=True)
    resolution = fields.Text("Resolution",
        states={
            'readonly': _closed,
            'required': Eval('state').in_(['resolved', 'closed']),
            })
    notes = fields.One2Many('ev.helpdesk.ticket.note', 'ticket', "Notes")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.number, Index.Similarity())),
                Index(t, (t.agent, Index.Range()), (t.state, Index.Equality()),
                    where=t.state.in_(list(ACTIVE_STATES))),
                Index(t, (t.department, Index.Range()),
                    (t.state, Index.Equality()),
                    where=t.state.in_(list(ACTIVE_STATES))),
                Index(t, (t.station, Index.Range())),
                Index(t, (t.party, Index.Range())),
                })
        cls._order = [('opened_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('open', 'in_progress'),
            ('open', 'waiting'),
            ('in_progress', 'waiting'),
            ('waiting', 'in_progress'),
            ('open', 'resolved'),
            ('in_progress', 'resolved'),
            ('waiting', 'resolved'),
            ('resolved', 'closed'),
            ('resolved', 'in_progress'),
            ('closed', 'in_progress'),
            }
        cls._buttons.update({
                'start': {
                    'invisible': Eval('state') != 'open',
                    'depends': ['state'],
                    },
                'wait': {
                    'invisible': ~Eval('state').in_(['open', 'in_progress']),
                    'depends': ['state'],
                    },
                'resume': {
                    'invisible': Eval('state') != 'waiting',
                    'depends': ['state'],
                    },
                'resolve': {
                    'invisible': ~Eval('state').in_(list(ACTIVE_STATES)),
                    'depends': ['state'],
                    },
                'close': {
                    'invisible': Eval('state') != 'resolved',
                    'depends': ['state'],
                    },
                'reopen': {
                    'invisible': ~Eval('state').in_(['resolved', 'closed']),
                    'depends': ['state'],
                    },
                'open_service_case': {
                    'invisible': (~Eval('state').in_(list(ACTIVE_STATES))
                        | Eval('service_case')),
                    'readonly': ~Eval('station'),
                    'depends': ['state', 'service_case', 'station'],
                    },
                })

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_state(cls):
        return 'open'

    @classmethod
    def default_priority(cls):
        return 'medium'

    @classmethod
    def _get_origins(cls):
        "The models a ticket may come from"
        return ['ev.helpdesk.request', 'ev.charger.alert',
            'ev.helpdesk.call']

    @classmethod
    def get_origins(cls):
        get_name = Pool().get('ir.model').get_name
        return [(None, '')] + [(m, get_name(m)) for m in cls._get_origins()]

    @fields.depends('category', 'priority', 'department')
    def on_change_category(self):
        if self.category:
            self.priority = self.category.priority
            if self.category.department:
                self.department = self.category.department

    @fields.depends('station', 'party')
    def on_change_station(self):
        if self.station and self.station.customer and not self.party:
            self.party = self.station.customer

    @fields.depends('charger', 'station')
    def on_change_charger(self):
        if self.charger and self.charger.station:
            self.station = self.charger.station

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Category = pool.get('ev.helpdesk.category')
        Configuration = pool.get('ev.helpdesk.configuration')
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            if values.get('category') and (
                    not values.get('department')
                    or not values.get('priority')):
                category = Category(values['category'])
                if not values.get('department'):
                    values['department'] = (category.department
                        and category.department.id)
                values.setdefault('priority', category.priority)
            if not values.get('department'):
                department = Configuration(1).default_department
                values['department'] = department and department.id
            values.setdefault('opened_at', dt.datetime.now())
        return values

    @classmethod
    def create(cls, vlist):
        pool = Pool()
        Configuration = pool.get('ev.helpdesk.configuration')
        config = Configuration(1)
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if not values.get('number'):
                values['number'] = config.ticket_sequence.get()
        tickets = super().create(vlist)
        cls._record_opened([t for t in tickets if t.station])
        return tickets

    @classmethod
    def _record_opened(cls, tickets):
        "The opening entry on the log of each ticket's station"
        for ticket in tickets:
            ticket.record('helpdesk_ticket_opened', gettext(
                    'ev_helpdesk.msg_log_ticket_opened',
                    ticket=ticket.rec_name, subject=ticket.subject,
                    priority=ticket.priority_string))

    @classmethod
    def on_write(cls, tickets, values):
        callback = super().on_write(tickets, values)
        station = values.get('station')
        if not station:
            return callback
        # The tickets that were never on this station (their history holds
        # every station they had): its log learns of them now, once
        history = cls.__table_history__()
        cursor = Transaction().connection.cursor()
        known = set()
        for sub_ids in grouped_slice([t.id for t in tickets], 1000):
            cursor.execute(*history.select(history.id,
                    where=fields.SQL_OPERATORS['in'](history.id, sub_ids)
                    & (history.station == station),
                    group_by=[history.id]))
            known.update(i for i, in cursor)
        arrived = [t.id for t in tickets if t.id not in known]
        if arrived:
            callback.append(
                lambda: cls._record_opened(cls.browse(arrived)))
        return callback

    @classmethod
    def copy(cls, tickets, default=None):
        default = default.copy() if default else {}
        for name in ['number', 'origin', 'opened_at', 'first_response_at',
                'waiting_since', 'resolved_at', 'closed_at', 'resolution',
                'notes', 'service_case']:
            default.setdefault(name)
        return super().copy(tickets, default=default)

    @classmethod
    def check_modification(cls, mode, tickets, values=None, external=False):
        super().check_modification(
            mode, tickets, values=values, external=external)
        if mode == 'delete':
            # A ticket is evidence of what a customer asked: it is closed,
            # never deleted
            raise TicketError(gettext('ev_helpdesk.msg_ticket_delete'))

    def record(self, event_code, text):
        "An entry of the station's event log about this ticket"
        with without_check_access():
            return self.station.record_event(event_code, text)

    def get_rec_name(self, name):
        return self.number or str(self.id)

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause
        bool_op = 'AND' if operator.startswith('!') else 'OR'
        return [bool_op,
            ('number', operator, value),
            ('subject', operator, value),
            ]

    # -- workflow ---------------------------------------------------------

    @classmethod
    def _responded(cls, tickets):
        "The first response is the first move of an agent on the ticket"
        now = dt.datetime.now()
        for ticket in tickets:
            if not ticket.first_response_at:
                ticket.first_response_at = now
            if not ticket.agent and Transaction().user:
                ticket.agent = Transaction().user

    @classmethod
    @ModelView.button
    @Workflow.transition('in_progress')
    def start(cls, tickets):
        cls._responded(tickets)
        cls.save(tickets)

    @classmethod
    @ModelView.button
    @Workflow.transition('waiting')
    def wait(cls, tickets):
        cls._responded(tickets)
        for ticket in tickets:
            ticket.waiting_since = dt.datetime.now()
        cls.save(tickets)

    @classmethod
    @ModelView.button
    @Workflow.transition('in_progress')
    def resume(cls, tickets):
        for ticket in tickets:
            ticket.waiting_since = None
        cls.save(tickets)

    @classmethod
    @ModelView.button
    @Workflow.transition('resolved')
    def resolve(cls, tickets):
        for ticket in tickets:
            if not ticket.resolution:
                raise TicketError(gettext(
                        'ev_helpdesk.msg_ticket_resolution_required',
                        ticket=ticket.rec_name))
        cls._responded(tickets)
        now = dt.datetime.now()
        for ticket in tickets:
            ticket.resolved_at = now
            ticket.waiting_since = None
        cls.save(tickets)
        for ticket in tickets:
            if ticket.station:
                ticket.record('helpdesk_ticket_resolved', gettext(
                        'ev_helpdesk.msg_log_ticket_resolved',
                        ticket=ticket.rec_name,
                        resolution=ticket.resolution))

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, tickets):
        now = dt.datetime.now()
        for ticket in tickets:
            ticket.closed_at = now
        cls.save(tickets)

    @classmethod
    @ModelView.button
    @Workflow.transition('in_progress')
    def reopen(cls, tickets):
        for ticket in tickets:
            ticket.resolved_at = None
            ticket.closed_at = None
        cls.save(tickets)

    def may_reopen(self, at=None):
        """A customer's reply at `at` reopens the ticket: it is active, or
        was resolved less than the configured hours before"""
        Configuration = Pool().get('ev.helpdesk.configuration')
        if self.state in ACTIVE_STATES:
            return True
        at = at or dt.datetime.now()
        limit = dt.timedelta(hours=Configuration(1).reopen_hours)
        return bool(self.resolved_at and at - self.resolved_at <= limit)

    @classmethod
    def customer_replied(cls, tickets, at=None):
        """The customer answered: a waiting ticket resumes, a recently
        resolved one reopens; returns the tickets too old to reopen (the
        caller opens a new ticket for the reply)"""
        too_old = [t for t in tickets if not t.may_reopen(at)]
        waiting = [t for t in tickets if t.state == 'waiting']
        finished = [t for t in tickets
            if t.state in {'resolved', 'closed'} and t not in too_old]
        if waiting:
            cls.resume(waiting)
        if finished:
            cls.reopen(finished)
        return too_old

    @classmethod
    @ModelView.button
    def open_service_case(cls, tickets):
        "A service case on the ticket's station, linked to the ticket"
        pool = Pool()
        Case = pool.get('ev.service.case')
        for ticket in tickets:
            if not ticket.station:
                raise TicketError(gettext(
                        'ev_helpdesk.msg_ticket_case_station',
                        ticket=ticket.rec_name))
            if ticket.service_case:
                raise TicketError(gettext(
                        'ev_helpdesk.msg_ticket_case_exists',
                        ticket=ticket.rec_name,
                        case=ticket.service_case.rec_name))
        cases = Case.create([{
                    'company': t.company.id,
                    'station': t.station.id,
                    'origin': 'ticket',
                    'description': '\n\n'.join(filter(None, [
                                f'{t.rec_name}: {t.subject}',
                                t.description])),
                    'reported_at': t.opened_at or dt.datetime.now(),
                    } for t in tickets])
        for ticket, case in zip(tickets, cases):
            ticket.service_case = case
        cls._responded(tickets)
        cls.save(tickets)
        return cases


class Note(ImmutableMixin, ModelSQL, ModelView):
    "A note on a ticket: what was done or said; never edited"
    __name__ = 'ev.helpdesk.ticket.note'
    __string__ = "Ticket Note"

    ticket = fields.Many2One('ev.helpdesk.ticket', "Ticket", required=True,
        ondelete='RESTRICT')
    author = fields.Many2One('res.user', "Author", readonly=True)
    text = fields.Text("Text", required=True)
    visibility = fields.Selection([
            ('internal', "Internal"),
            ('customer', "Customer"),
            ], "Visibility", required=True,
        help="Customer: the note is an answer given to the customer and "
        "counts as the first response.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.ticket, Index.Range())))
        cls._order = [('create_date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_author(cls):
        return Transaction().user

    @classmethod
    def default_visibility(cls):
        return 'internal'

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            # The author is who writes it, whatever the client says
            values['author'] = Transaction().user
        return values

    @classmethod
    def create(cls, vlist):
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        notes = super().create(vlist)
        answered = {n.ticket for n in notes if n.visibility == 'customer'}
        answered = [t for t in answered if not t.first_response_at]
        if answered:
            Ticket._responded(answered)
            Ticket.save(answered)
        return notes
