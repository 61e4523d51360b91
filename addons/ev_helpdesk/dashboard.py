# This file is part of the EV operations suite.
"""The helpdesk's dashboard (seed 004): reporting models read like any
other, built in SQL with python-sql, with list and graph views and a
context for the company and the period, shown together on a board.

- the tickets open, in progress, waiting on the customer (now) and
  resolved (in the period), per department and priority;
- the chargers per health (now, the whole network);
- per agent, the tickets opened in the period they handle: how many, how
  many resolved, the average and median hours to resolve and to the first
  response, and the notes they wrote in the period (managers only)."""
import datetime as dt

from sql import Literal, Null, Window
from sql.aggregate import Avg, Count, Min, Sum
from sql.conditionals import Case
from sql.functions import Extract, RowNumber

from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.ev_charger_iot.charger import HEALTH
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction

from .category import PRIORITIES
from .ticket import ACTIVE_STATES


class Context(ModelView):
    __name__ = 'ev.helpdesk.dashboard.context'
    __string__ = "Helpdesk Dashboard Context"

    company = fields.Many2One('company.company', "Company", required=True)
    from_date = fields.Date("From Date",
        domain=[If(Eval('to_date') & Eval('from_date'),
                ('from_date', '<=', Eval('to_date')), ())])
    to_date = fields.Date("To Date",
        domain=[If(Eval('from_date') & Eval('to_date'),
                ('to_date', '>=', Eval('from_date')), ())])

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_from_date(cls):
        # The last 30 days by default
        Date = Pool().get('ir.date')
        context = Transaction().context
        if 'from_date' in context:
            return context['from_date']
        return Date.today() - dt.timedelta(days=29)

    @classmethod
    def default_to_date(cls):
        Date = Pool().get('ir.date')
        return Transaction().context.get('to_date') or Date.today()


def in_period(column):
    "The condition of the context's dates on a timestamp column"
    context = Transaction().context
    where = Literal(True)
    if context.get('from_date'):
        where &= column >= dt.datetime.combine(
            context['from_date'], dt.time())
    if context.get('to_date'):
        where &= column < dt.datetime.combine(
            context['to_date'] + dt.timedelta(days=1), dt.time())
    return where


def hours(start, end):
    return (Extract('EPOCH', end) - Extract('EPOCH', start)) / 3600.0


def _count(condition):
    return Sum(Case((condition, 1), else_=0))


class TicketStatus(ModelSQL, ModelView):
    "The tickets per state, department and priority"
    __name__ = 'ev.helpdesk.dashboard.ticket'
    __string__ = "Helpdesk Tickets by State"

    company = fields.Many2One('company.company', "Company", readonly=True)
    department = fields.Many2One('ev.helpdesk.department', "Department",
        readonly=True)
    priority = fields.Selection(PRIORITIES, "Priority", readonly=True,
        sort=False)
    open = fields.Integer("Open", readonly=True)
    in_progress = fields.Integer("In Progress", readonly=True)
    waiting = fields.Integer("Waiting on Customer", readonly=True)
    resolved = fields.Integer("Resolved", readonly=True,
        help="Resolved in the period (closed since included).")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('department', 'ASC'), ('priority', 'ASC'),
            ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        Ticket = Pool().get('ev.helpdesk.ticket')
        ticket = Ticket.__table__()
        company = Transaction().context.get('company')
        resolved = (ticket.resolved_at != Null) & in_period(
            ticket.resolved_at)
        # The active tickets are few (indexed on their state); the resolved
        # ones are those of the period
        return ticket.select(
            Min(ticket.id).as_('id'),
            ticket.company.as_('company'),
            ticket.department.as_('department'),
            ticket.priority.as_('priority'),
            _count(ticket.state == 'open').as_('open'),
            _count(ticket.state == 'in_progress').as_('in_progress'),
            _count(ticket.state == 'waiting').as_('waiting'),
            _count(resolved).as_('resolved'),
            where=(ticket.company == company)
            & (ticket.state.in_(list(ACTIVE_STATES)) | resolved),
            group_by=[ticket.company, ticket.department, ticket.priority])


class ChargerHealth(ModelSQL, ModelView):
    "The chargers of the network per health"
    __name__ = 'ev.helpdesk.dashboard.health'
    __string__ = "Charger Health Summary"

    health = fields.Selection(HEALTH, "Health", readonly=True, sort=False)
    chargers = fields.Integer("Chargers", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('chargers', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        Charger = Pool().get('ev.charger')
        charger = Charger.__table__()
        return charger.select(
            Min(charger.id).as_('id'),
            charger.health.as_('health'),
            Count(charger.id).as_('chargers'),
            group_by=[charger.health])


class AgentActivity(ModelSQL, ModelView):
    "What each agent did with the tickets of the period"
    __name__ = 'ev.helpdesk.dashboard.agent'
    __string__ = "Helpdesk Agent Performance"

    company = fields.Many2One('company.company', "Company", readonly=True)
    agent = fields.Many2One('res.user', "Agent", readonly=True)
    tickets = fields.Integer("Tickets", readonly=True,
        help="The tickets opened in the period the agent handles.")
    resolved = fields.Integer("Resolved", readonly=True)
    # Not "active": Tryton would take it for the archive flag
    still_open = fields.Integer("Still Open", readonly=True)
    average_resolution_hours = fields.Float("Average to Resolve (Hours)",
        digits=(16, 1), readonly=True)
    median_resolution_hours = fields.Float("Median to Resolve (Hours)",
        digits=(16, 1), readonly=True)
    average_response_hours = fields.Float(
        "Average to First Response (Hours)", digits=(16, 1), readonly=True)
    median_response_hours = fields.Float(
        "Median to First Response (Hours)", digits=(16, 1), readonly=True)
    notes = fields.Integer("Notes Written", readonly=True,
        help="The notes the agent wrote in the period, on any ticket.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('tickets', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        Note = pool.get('ev.helpdesk.ticket.note')
        ticket = Ticket.__table__()
        note = Note.__table__()
        company = Transaction().context.get('company')

        base = ticket.select(
            ticket.id, ticket.company, ticket.agent, ticket.state,
            hours(ticket.opened_at, ticket.resolved_at).as_('resolution'),
            hours(ticket.opened_at, ticket.first_response_at
                ).as_('response'),
            where=(ticket.company == company) & (ticket.agent != Null)
            & in_period(ticket.opened_at))

        def ranked(column):
            "The rank of `column` in the agent's rows, its empty ones last"
            return RowNumber(window=Window([base.agent], order_by=[
                        Case((column == Null, 1), else_=0).asc,
                        column.asc, base.id.asc]))

        def total(column):
            return Count(column, window=Window([base.agent]))
        rows = base.select(
            base.id, base.company, base.agent, base.state,
            base.resolution, base.response,
            ranked(base.resolution).as_('resolution_rank'),
            total(base.resolution).as_('resolution_total'),
            ranked(base.response).as_('response_rank'),
            total(base.response).as_('response_total'))

        def median(column, rank, total):
            # The middle row, or the average of the two middle rows
            middle = ((column != Null) & (rank * 2 >= total)
                & (rank * 2 <= total + 2))
            return Avg(Case((middle, column)))

        notes = note.select(Count(note.id),
            where=(note.author == rows.agent) & in_period(note.create_date))
        return rows.select(
            Min(rows.id).as_('id'),
            rows.company.as_('company'),
            rows.agent.as_('agent'),
            Count(rows.id).as_('tickets'),
            Count(rows.resolution).as_('resolved'),
            _count(rows.state.in_(list(ACTIVE_STATES))).as_('still_open'),
            Avg(rows.resolution).as_('average_resolution_hours'),
            median(rows.resolution, rows.resolution_rank,
                rows.resolution_total).as_('median_resolution_hours'),
            Avg(rows.response).as_('average_response_hours'),
            median(rows.response, rows.response_rank,
                rows.response_total).as_('median_response_hours'),
            notes.as_('notes'),
            group_by=[rows.company, rows.agent])
