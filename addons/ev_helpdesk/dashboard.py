# This file is part of the EV operations suite.
"""The helpdesk's dashboard (seed 004): reporting models read like any
other, built in SQL with python-sql, with list and graph views and a
context for the company and the period, shown together on a board.

- the tickets open, in progress, waiting on the customer (now) and
  resolved (in the period), per department and priority;
- the calls per category and day in the company's time zone, with their
  trend (the 7-day moving average);
- the chargers per health (now, the whole network);
- per agent, the tickets opened in the period they handle: how many, how
  many resolved, the average and median hours to resolve and to the first
  response, and the notes they wrote in the period (managers only)."""
import datetime as dt

from sql import Cast, Literal, Null, Values, Window, With
from sql.aggregate import Avg, Count, Min, Sum
from sql.conditionals import Case, Coalesce
from sql.functions import Extract, RowNumber

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.ev_charger_iot.charger import HEALTH
from trytond.modules.ev_field.team import company_timezone, to_utc
from trytond.modules.ev_station.kpi import KpiContextMixin, in_period
from trytond.pool import Pool
from trytond.transaction import Transaction

from .category import PRIORITIES
from .exceptions import DashboardError
from .ticket import ACTIVE_STATES

# The calls' trend: the average calls per day over this many days
TREND_DAYS = 7
# The longest period of the calls per day, in days
CALL_DAYS_MAX = 366


class Context(KpiContextMixin, ModelView):
    "The company and the period, the last 30 days by default"
    __name__ = 'ev.helpdesk.dashboard.context'
    __string__ = "Helpdesk Dashboard Context"


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


class CallDay(ModelSQL, ModelView):
    "The calls per category and day, with their trend"
    __name__ = 'ev.helpdesk.dashboard.call_day'
    __string__ = "Helpdesk Calls per Day"

    company = fields.Many2One('company.company', "Company", readonly=True)
    day = fields.Date("Day", readonly=True,
        help="The day the calls started, in the company's time zone.")
    category = fields.Many2One('ev.helpdesk.category', "Category",
        readonly=True)
    calls = fields.Integer("Calls", readonly=True)
    trend = fields.Float("Trend", digits=(16, 2), readonly=True,
        help="The average calls of the category per day over the 7 days "
        "ending on this day.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('day', 'ASC'), ('category', 'ASC'), ('id', 'ASC')]

    @classmethod
    def _calendar(cls):
        """The days of the period and the 6 before it (the first days'
        trend counts them), each [index, day, start, end] with its bounds
        from midnight to midnight in the company's time zone, in UTC (as
        the calls are stored: a daylight saving switch is followed)"""
        context = Transaction().context
        tz = company_timezone()
        to_date = context.get('to_date') or dt.datetime.now(tz).date()
        from_date = (context.get('from_date')
            or to_date - dt.timedelta(days=29))
        if (to_date - from_date).days >= CALL_DAYS_MAX:
            lang = Pool().get('ir.lang').get()
            raise DashboardError(gettext(
                    'ev_helpdesk.msg_dashboard_call_days_too_many',
                    from_date=lang.strftime(from_date),
                    to_date=lang.strftime(to_date), days=CALL_DAYS_MAX))
        first = from_date - dt.timedelta(days=TREND_DAYS - 1)
        days = []
        for index in range(max((to_date - first).days + 1, 1)):
            day = first + dt.timedelta(days=index)
            start = dt.datetime.combine(day, dt.time())
            days.append([index, day, to_utc(start, tz),
                    to_utc(start + dt.timedelta(days=1), tz)])
        return from_date, days

    @classmethod
    def table_query(cls):
        Call = Pool().get('ev.helpdesk.call')
        call = Call.__table__()
        company = Transaction().context.get('company')
        from_date, days = cls._calendar()
        calendar = With('index', 'day', 'start', 'end', query=Values(days))
        # The calls of each category per day: a range of the index on
        # (company, started_at) per day
        counts = With('category', 'index', 'calls', query=call.join(
                calendar, condition=(call.started_at >= calendar.start)
                & (call.started_at < calendar.end)).select(
                call.category, calendar.index, Count(call.id),
                where=call.company == company,
                group_by=[call.category, calendar.index]))
        categories = counts.select(counts.category, distinct=True)
        # Every day of each category called about in these days, with or
        # without calls: the trend of a day without calls counts its zero
        grid = calendar.join(categories, type_='CROSS').join(counts,
            type_='LEFT', condition=(counts.category == categories.category)
            & (counts.index == calendar.index))
        calls = Coalesce(counts.calls, 0)
        week = Window([categories.category],
            order_by=[calendar.index.asc],
            frame='ROWS', start=-(TREND_DAYS - 1), end=0)
        rows = grid.select(
            (categories.category * len(days) + calendar.index + 1
                ).as_('id'),
            calendar.index.as_('index'),
            cls.day.sql_cast(calendar.day).as_('day'),
            categories.category.as_('category'),
            calls.as_('calls'),
            (Sum(calls, window=week) / float(TREND_DAYS)).as_('trend'),
            with_=[calendar, counts])
        return rows.select(
            rows.id.as_('id'),
            Cast(Literal(company), cls.company.sql_type().base
                ).as_('company'),
            rows.day.as_('day'),
            rows.category.as_('category'),
            rows.calls.as_('calls'),
            rows.trend.as_('trend'),
            where=rows.index >= (from_date - days[0][1]).days)


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
