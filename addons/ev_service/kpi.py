# This file is part of the EV operations suite.
"""The service KPIs of the policy (section 9) as reporting models: SQL
views built with python-sql and read like any other model, with graph and
list views and a context for the company and the date range.

- the hours each step took (reported → L2 decision → client approval →
  shipment → visit; replacement → returns verified), average and median per
  month of the step's end, for the company and per team;
- the parts not returned past their return date (the Overdue tab of the
  parts), per team;
- the open cases with a handover nobody accepted yet, per coordinator.
The cases without a final summary after the call wait for the case
summaries (not in this module yet)."""
import datetime as dt

from sql import Literal, Null, Union, Window
from sql.aggregate import Avg, Count, Max, Min
from sql.conditionals import Case as SqlCase
from sql.conditionals import Coalesce
from sql.functions import (
    CurrentTimestamp, DateTrunc, Extract, RowNumber)

from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.modelstorage import local_cache
from trytond.modules.ev_station.kpi import KpiYearContextMixin, in_period
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from .case import OPEN_STATES
from .part import EXPECTED_STATES

# The step intervals of the policy: start and end timestamps of the case
STEPS = [
    ('decision', "Reported → L2 Decision", 'reported_at', 'decided_at'),
    ('approval', "L2 Decision → Client Approval",
        'decided_at', 'client_approved_at'),
    # Without a quote to approve, the work may go ahead from the decision
    ('shipment', "Approval → Shipment",
        ('client_approved_at', 'decided_at'), 'shipped_at'),
    ('visit', "Shipment → Service Visit", 'shipped_at', 'visited_at'),
    ('return', "Replacement → Return Received",
        'replaced_at', 'return_received_at'),
    ]

# The ids of the KPI rows that are not ids of a table start past the
# smallint range: psycopg binds a list of ids that all fit a smallint as a
# smallint[], and PostgreSQL does not hash an integer = ANY(smallint[]), so
# the read of thousands of rows by id would compare each row with each id
ID_BASE = 2 ** 16


class Case(metaclass=PoolMeta):
    __name__ = 'ev.service.case'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # The KPIs select the cases whose step ended in a date range
        cls._sql_indexes.update({
                Index(t, (t.company, Index.Equality()), (ts, Index.Range()))
                for ts in [t.decided_at, t.client_approved_at, t.shipped_at,
                    t.visited_at, t.return_received_at]})
        # The KPIs of the open cases reported in a range and of the cases
        # closed in a range (without accepted handover, without final
        # summary), read from the index alone
        cls._sql_indexes.update({
                Index(t, (t.company, Index.Equality()),
                    (t.reported_at, Index.Range()),
                    include=[t.id, t.station, t.coordinator, t.category],
                    where=t.state.in_(OPEN_STATES)),
                Index(t, (t.company, Index.Equality()),
                    (t.closed_at, Index.Range()),
                    include=[t.id, t.coordinator, t.category,
                        t.reported_at],
                    where=t.state == 'closed'),
                })
        # The step time rollups find the cases written since their last run
        cls._sql_indexes.update({
                Index(t, (t.company, Index.Equality()), (ts, Index.Range()))
                for ts in [t.write_date, t.create_date]})


class Context(KpiYearContextMixin, ModelView):
    "The company and the date range, the last twelve months by default"
    __name__ = 'ev.service.kpi.context'
    __string__ = "Service KPI Context"


class StepMixin:
    "Hours per step interval of the cases, grouped by month and more"
    __slots__ = ()

    # Lazy: a search selects the ids only, not every column of thousands
    # of rows that it throws away (ModelSQL.search keeps none of them in
    # the cache); read selects the columns asked for
    company = fields.Many2One('company.company', "Company", readonly=True,
        loading='lazy')
    month = fields.Date("Month", readonly=True, loading='lazy')
    step = fields.Selection([(s, n) for s, n, _, _ in STEPS], "Step",
        readonly=True, sort=False, loading='lazy')
    cases = fields.Integer("Cases", readonly=True, loading='lazy')
    average_hours = fields.Float("Average (Hours)", digits=(16, 1),
        readonly=True, loading='lazy')
    median_hours = fields.Float("Median (Hours)", digits=(16, 1),
        readonly=True, loading='lazy')
    max_hours = fields.Float("Longest (Hours)", digits=(16, 1),
        readonly=True, loading='lazy')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('month', 'DESC'), ('step', 'ASC'), ('id', 'ASC')]

    # The columns that split the rows beyond company, month and step
    _group_names = []

    @classmethod
    def browse(cls, ids):
        """The records of `ids`, sharing the list for their reads as
        ModelStorage.browse does, without its check of the whole list by
        each record (an assert, quadratic: about 1 s for the 5,000 rows of
        the teams' months over two years)"""
        transaction = Transaction()
        ids = list(map(int, ids))
        _local_cache = local_cache(cls, transaction)
        transaction_cache = transaction.get_cache()
        records = [cls(x, _local_cache=_local_cache,
                _transaction_cache=transaction_cache,
                _transaction=transaction) for x in ids]
        for record in records:
            record._ids = ids
        return records

    @classmethod
    def _intervals(cls, company, in_range):
        """One row per case and step whose end `in_range` (a function of
        the end column giving the condition)"""
        Case = Pool().get('ev.service.case')
        queries = []
        for index, (step, _, start, end) in enumerate(STEPS):
            case = Case.__table__()
            if isinstance(start, tuple):
                started = Coalesce(*(getattr(case, s) for s in start))
            else:
                started = getattr(case, start)
            ended = getattr(case, end)
            hours = (Extract('EPOCH', ended) - Extract('EPOCH', started)
                ) / 3600.0
            queries.append(case.select(
                    (case.id * len(STEPS) + index).as_('id'),
                    case.company.as_('company'),
                    *(getattr(case, n).as_(n) for n in cls._group_names),
                    Literal(step).as_('step'),
                    cls.month.sql_cast(
                        DateTrunc('month', ended)).as_('month'),
                    hours.as_('hours'),
                    where=(case.company == company)
                    & (ended != Null) & (started != Null)
                    & in_range(ended)))
        return Union(*queries, all_=True)

    @classmethod
    def _aggregate(cls, intervals):
        "The rows of the KPI from the intervals: one per month, step, ..."
        groups = ['company', 'month', 'step', *cls._group_names]
        window = Window([getattr(intervals, g) for g in groups],
            order_by=[intervals.hours.asc, intervals.id.asc])
        ranked = intervals.select(
            intervals.id, *(getattr(intervals, g) for g in groups),
            intervals.hours,
            RowNumber(window=window).as_('rank'),
            Count(Literal(1), window=Window(
                    [getattr(intervals, g) for g in groups])).as_('total'))
        # The median: the middle row, or the average of the two middle rows
        middle = ((ranked.rank * 2 >= ranked.total)
            & (ranked.rank * 2 <= ranked.total + 2))
        return ranked.select(
            Min(ranked.id).as_('id'),
            *(getattr(ranked, g).as_(g) for g in groups),
            Count(Literal(1)).as_('cases'),
            Avg(ranked.hours).as_('average_hours'),
            Avg(SqlCase((middle, ranked.hours))).as_('median_hours'),
            Max(ranked.hours).as_('max_hours'),
            group_by=[getattr(ranked, g) for g in groups])

    @classmethod
    def table_query(cls):
        """The complete months rolled up by the daily cron, and the others
        (the current month, those not rolled up yet and those the context's
        dates cut) computed live: a step's hours never change once it ended,
        so a month's figures are read instead of sorting every interval of
        the range again (see StepMonth)"""
        StepMonth = Pool().get('ev.service.kpi.step.month')
        context = Transaction().context
        company = context.get('company')
        from_date, to_date = context.get('from_date'), context.get('to_date')
        first, end = StepMonth.stored_months(company, from_date, to_date)
        stored = StepMonth.__table__()
        in_store = Literal(False)
        if end:
            in_store = (stored.month < end)
            if first:
                in_store &= (stored.month >= first)

        def live(ended):
            if not end:
                return in_period(ended)
            # The dates outside the stored months, as ranges of the ends'
            # indexes: after the last one, and before the first one when
            # the range starts within a month
            where = ended >= _midnight(end)
            if to_date:
                where &= ended < _midnight(to_date + dt.timedelta(days=1))
            if first and from_date < first:
                where |= ((ended >= _midnight(from_date))
                    & (ended < _midnight(first)))
            return where
        computed = cls._aggregate(cls._intervals(company, live))
        per_team = bool(cls._group_names)
        # Even ids for the stored rows, odd for the live ones
        return Union(
            stored.select((stored.id * 2 + ID_BASE).as_('id'),
                stored.company, stored.month, stored.step,
                *(getattr(stored, g) for g in cls._group_names),
                stored.cases, stored.average_hours, stored.median_hours,
                stored.max_hours,
                where=(stored.company == company)
                & (stored.per_team == per_team) & in_store),
            computed.select((computed.id * 2 + 1 + ID_BASE).as_('id'),
                computed.company, computed.month, computed.step,
                *(getattr(computed, g) for g in cls._group_names),
                computed.cases, computed.average_hours,
                computed.median_hours, computed.max_hours),
            all_=True)


class Step(StepMixin, ModelSQL, ModelView):
    __name__ = 'ev.service.kpi.step'
    __string__ = "Service Step Times"


class StepTeam(StepMixin, ModelSQL, ModelView):
    __name__ = 'ev.service.kpi.step.team'
    __string__ = "Service Step Times per Team"

    team = fields.Many2One('ev.field.team', "Team", readonly=True,
        loading='lazy')
    _group_names = ['team']


def _next_month(date):
    return (date.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _midnight(date):
    return dt.datetime.combine(date, dt.time())


class StepMonth(ModelSQL):
    """The step times of a complete month, company-wide and per team,
    rolled up by the daily cron: a step's start and end are stamped at the
    case's transitions and never change after, so a month once over keeps
    its figures; the step time KPIs read them instead of sorting the hours
    of every step of the range again on each search"""
    __name__ = 'ev.service.kpi.step.month'
    __string__ = "Service Step Times of a Month"

    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    month = fields.Date("Month", required=True, readonly=True)
    step = fields.Selection([(s, n) for s, n, _, _ in STEPS], "Step",
        required=True, readonly=True)
    per_team = fields.Boolean("Per Team", readonly=True)
    team = fields.Many2One('ev.field.team', "Team", readonly=True)
    cases = fields.Integer("Cases", readonly=True)
    average_hours = fields.Float("Average (Hours)", readonly=True)
    median_hours = fields.Float("Median (Hours)", readonly=True)
    max_hours = fields.Float("Longest (Hours)", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t,
                (t.company, Index.Equality()),
                (t.per_team, Index.Equality(cardinality='low')),
                (t.month, Index.Range())))
        cls._order = [('month', 'DESC'), ('id', 'DESC')]

    @classmethod
    def stored_months(cls, company, from_date, to_date):
        """The first month and the end (exclusive) of the months the KPIs
        read from the rollups: the rolled-up months wholly in the dates"""
        # The KPIs' readers see the rollups through the KPIs only: one
        # indexed look-up, not a search reading every column of the row
        # (twice per request: the KPI's search and its read)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(Max(table.month),
                where=(table.company == company)
                & (table.per_team == Literal(False))))
        last, = cursor.fetchone()
        if not last:
            return None, None
        if isinstance(last, str):  # SQLite
            last = dt.date.fromisoformat(last[:10])
        first = None
        if from_date:
            first = (from_date if from_date.day == 1
                else _next_month(from_date))
        end = _next_month(last)
        if to_date:
            end = min(end, (to_date + dt.timedelta(days=1)).replace(day=1))
        if first and first >= end:
            return None, None
        return first, end

    @classmethod
    def roll_up(cls, date=None):
        """Roll up the complete months before `date` not rolled up yet, and
        again those with a step of a case written since the last run (a step
        recorded late, or corrected)"""
        pool = Pool()
        Company = pool.get('company.company')
        Date = pool.get('ir.date')
        if date is None:
            date = Date.today()
        current = date.replace(day=1)
        for company in Company.search([]):
            for month in sorted(cls._months_to_roll_up(company.id, current)):
                cls._roll_up_month(company.id, month)

    @classmethod
    def _months_to_roll_up(cls, company, current):
        Case = Pool().get('ev.service.case')
        cursor = Transaction().connection.cursor()
        last = cls.search([('company', '=', company)],
            order=[('month', 'DESC')], limit=1)
        last_run = cls.search([('company', '=', company)],
            order=[('create_date', 'DESC')], limit=1)
        months = set()
        for _, _, _, end in STEPS:
            case = Case.__table__()
            ended = getattr(case, end)
            where = Literal(True)
            if last:
                where = ended >= _midnight(_next_month(last[0].month))
            if last_run:
                # A day's margin for the transactions still running then
                since = last_run[0].create_date - dt.timedelta(days=1)
                where |= ((case.write_date >= since)
                    | (case.create_date >= since))
            month = cls.month.sql_cast(DateTrunc('month', ended))
            cursor.execute(*case.select(month,
                    where=(case.company == company) & (ended != Null)
                    & (ended < _midnight(current)) & where,
                    distinct=True))
            for value, in cursor:
                if isinstance(value, str):  # SQLite
                    value = dt.date.fromisoformat(value[:10])
                months.add(value)
        return months

    @classmethod
    def _roll_up_month(cls, company, month):
        pool = Pool()
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        cursor.execute(*table.delete(
                where=(table.company == company) & (table.month == month)))
        start, end = _midnight(month), _midnight(_next_month(month))

        def in_month(ended):
            return (ended >= start) & (ended < end)
        for name in ['ev.service.kpi.step', 'ev.service.kpi.step.team']:
            Model = pool.get(name)
            rows = Model._aggregate(Model._intervals(company, in_month))
            per_team = bool(Model._group_names)
            cursor.execute(*table.insert(
                    [table.company, table.month, table.step, table.per_team,
                        *(getattr(table, g) for g in Model._group_names),
                        table.cases, table.average_hours, table.median_hours,
                        table.max_hours, table.create_uid, table.create_date],
                    rows.select(rows.company, rows.month, rows.step,
                        Literal(per_team),
                        *(getattr(rows, g) for g in Model._group_names),
                        rows.cases, rows.average_hours, rows.median_hours,
                        rows.max_hours, Literal(transaction.user),
                        CurrentTimestamp())))


class Overdue(ModelSQL, ModelView):
    "The parts not returned past their return date, per team"
    __name__ = 'ev.service.kpi.overdue'
    __string__ = "Service Non-Returns"

    company = fields.Many2One('company.company', "Company", readonly=True)
    team = fields.Many2One('ev.field.team', "Team", readonly=True)
    parts = fields.Integer("Parts", readonly=True)
    oldest_due = fields.Date("Oldest Return Due", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('parts', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Part = pool.get('ev.service.part')
        part = Part.__table__()
        company = Transaction().context.get('company')
        # The Overdue tab of the parts: marked by the daily control and not
        # back; shipped in the context's range
        where = ((part.company == company)
            & (part.overdue_since != Null)
            & part.return_state.in_(
                [s for s in EXPECTED_STATES if s != 'incomplete'])
            & in_period(part.shipped_at))
        # The team is the one stored when the part became overdue (an
        # index-only scan of the parts, no case read per part)
        return part.select(
            Min(part.id).as_('id'),
            part.company.as_('company'),
            part.overdue_team.as_('team'),
            Count(part.id).as_('parts'),
            Min(part.return_due).as_('oldest_due'),
            where=where,
            group_by=[part.company, part.overdue_team])


class Unaccepted(ModelSQL, ModelView):
    "The open cases with a handover nobody accepted, per coordinator"
    __name__ = 'ev.service.kpi.unaccepted'
    __string__ = "Service Cases Without Accepted Handover"

    company = fields.Many2One('company.company', "Company", readonly=True)
    coordinator = fields.Many2One('res.user', "Coordinator", readonly=True)
    cases = fields.Integer("Cases", readonly=True)
    oldest_follow_up = fields.Date("Oldest Follow-up", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('cases', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Case = pool.get('ev.service.case')
        Handover = pool.get('ev.station.handover')
        case = Case.__table__()
        handover = Handover.__table__()
        company = Transaction().context.get('company')
        # The pending handovers of a case (the work of the case or of its
        # parts) name it in service_case, stored at their creation (see
        # handover.py) and indexed while pending
        unaccepted = case.join(handover,
            condition=(handover.service_case == case.id)
            & (handover.station == case.station)
            ).select(
                case.id, case.company, case.coordinator,
                Min(handover.follow_up_date).as_('follow_up'),
                where=(handover.state == 'pending')
                & (case.company == company)
                & case.state.in_(OPEN_STATES)
                & in_period(case.reported_at),
                group_by=[case.id, case.company, case.coordinator])
        return unaccepted.select(
            Min(unaccepted.id).as_('id'),
            unaccepted.company.as_('company'),
            unaccepted.coordinator.as_('coordinator'),
            Count(unaccepted.id).as_('cases'),
            Min(unaccepted.follow_up).as_('oldest_follow_up'),
            group_by=[unaccepted.company, unaccepted.coordinator])
