# This file is part of the EV operations suite.
"""The warranty claim KPIs and the cases without a final summary, as
reporting models beside those of kpi.py (same context, same access):

- per month of submission: claims submitted, decided, the average hours
  from submission to decision, the share decided within the SLA of the
  configuration, and those still undecided at the end of their month;
- the claims by hour of day of the claimed window's start, in the
  company's time zone;
- the claims by team zone: the postal code of the station's customer
  matched to the zones of the field teams;
- the cases of a complex category without a reviewed final summary, per
  coordinator."""
import datetime as dt

from sql import Cast, Literal, Null, Union
from sql.aggregate import Count, Max, Min, Sum
from sql.conditionals import Case as SqlCase
from sql.conditionals import Coalesce, NullIf
from sql.functions import CurrentTimestamp, DateTrunc, Extract
from sql.operators import Exists

from trytond import backend
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.modules.ev_field.team import company_timezone
from trytond.modules.ev_station.kpi import in_period
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access

from .case import OPEN_STATES
from .kpi import ID_BASE, _midnight, _next_month


def _hours(start, end):
    return (Extract('EPOCH', end) - Extract('EPOCH', start)) / 3600.0


class Claim(ModelSQL, ModelView):
    "The warranty claims per month of their submission"
    __name__ = 'ev.service.kpi.claim'
    __string__ = "Warranty Claims per Month"

    company = fields.Many2One('company.company', "Company", readonly=True)
    month = fields.Date("Month", readonly=True,
        help="The month the claims were submitted in.")
    submitted = fields.Integer("Submitted", readonly=True)
    decided = fields.Integer("Decided", readonly=True,
        help="The claims of the month approved or rejected so far.")
    average_hours = fields.Float("Average to Decision (Hours)",
        digits=(16, 1), readonly=True,
        help="From submission to approval or rejection, over the decided "
        "claims.")
    within_sla = fields.Float("Decided within SLA (%)", digits=(16, 1),
        readonly=True,
        help="The share of the decided claims decided within the claim SLA "
        "of the service configuration.")
    # Not named active: ModelSQL would filter on it as on an archive flag
    undecided = fields.Integer("Undecided at Month End", readonly=True,
        help="The claims of the month neither approved nor rejected by the "
        "end of the month they were submitted in.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('month', 'DESC'), ('id', 'ASC')]

    @classmethod
    def _monthly(cls, company, sla_hours, where):
        """The figures of the claims of `company` submitted where `where`
        (a condition on the submission time), per month of submission: the
        sums the rollup stores, from which the KPI's rows are computed"""
        Claim = Pool().get('ev.service.claim')
        claim = Claim.__table__()
        month = DateTrunc('month', claim.submitted_at)
        decided = claim.decided_at != Null
        hours = _hours(claim.submitted_at, claim.decided_at)
        in_sla = SqlCase((decided & (hours <= sla_hours), Literal(1)),
            else_=Literal(0))
        undecided_at_end = SqlCase(
            (~decided | (DateTrunc('month', claim.decided_at) != month),
                Literal(1)),
            else_=Literal(0))
        # Grouped outside: PostgreSQL does not match the parameters of an
        # expression in the grouping to those of the selected one
        claims = claim.select(claim.id, claim.company,
            cls.month.sql_cast(month).as_('month'),
            claim.decided_at, hours.as_('hours'), in_sla.as_('in_sla'),
            undecided_at_end.as_('undecided'),
            where=(claim.company == company)
            & (claim.submitted_at != Null)
            & where(claim.submitted_at))
        return claims.select(
            Min(claims.id).as_('id'),
            claims.company.as_('company'),
            claims.month.as_('month'),
            Count(Literal(1)).as_('submitted'),
            Count(claims.decided_at).as_('decided'),
            Sum(claims.hours).as_('hours'),
            Sum(claims.in_sla).as_('in_sla'),
            Sum(claims.undecided).as_('undecided'),
            group_by=[claims.company, claims.month])

    @classmethod
    def table_query(cls):
        """The complete months rolled up by the daily cron with the SLA of
        the configuration, and the others (the current month, those not
        rolled up yet or forgotten since, those the dates cut) computed
        live (see ClaimMonth)"""
        pool = Pool()
        Configuration = pool.get('ev.service.configuration')
        ClaimMonth = pool.get('ev.service.kpi.claim.month')
        context = Transaction().context
        company = context.get('company')
        from_date, to_date = context.get('from_date'), context.get('to_date')
        with without_check_access():
            sla_hours = Configuration(1).claim_sla_hours
        months = ClaimMonth.stored_months(
            company, sla_hours, from_date, to_date)
        stored = ClaimMonth.__table__()
        computed = cls._monthly(company, sla_hours,
            lambda column: _outside_months(
                column, from_date, to_date, months))
        columns = ['company', 'month', 'submitted', 'decided', 'hours',
            'in_sla', 'undecided']
        # Even ids for the stored rows, odd for the live ones
        rows = Union(
            stored.select((stored.id * 2 + ID_BASE).as_('id'),
                *(getattr(stored, c) for c in columns),
                where=(stored.company == company)
                & (stored.sla_hours == sla_hours)
                & (stored.month.in_(months) if months else Literal(False))),
            computed.select((computed.id * 2 + 1 + ID_BASE).as_('id'),
                *(getattr(computed, c) for c in columns)),
            all_=True)
        decided = NullIf(rows.decided, 0)
        return rows.select(rows.id, rows.company, rows.month,
            rows.submitted, rows.decided,
            (rows.hours / decided).as_('average_hours'),
            (rows.in_sla * 100.0 / decided).as_('within_sla'),
            rows.undecided)


def _outside_months(column, from_date, to_date, months):
    """The condition on the timestamp `column` to be within the dates and
    outside the `months` (sorted), as ranges an index answers"""
    ranges, start = [], _midnight(from_date) if from_date else None
    for month in months:
        ranges.append((start, _midnight(month)))
        start = _midnight(_next_month(month))
    ranges.append(
        (start, _midnight(to_date + dt.timedelta(days=1)) if to_date
            else None))
    where = Literal(False)
    for start, end in ranges:
        if start and end and start >= end:
            continue
        condition = Literal(True)
        if start:
            condition &= column >= start
        if end:
            condition &= column < end
        where |= condition
    return where


class ClaimMonth(ModelSQL):
    """The warranty claim figures of a complete month rolled up by the
    daily cron with the SLA then configured; the claim KPI reads them
    instead of computing every claim of the range on each request. A
    claim of the month submitted or decided later makes it forget the
    month (claim_kpi.py): the KPI computes it live until the next run, so
    "decided so far" stays exact"""
    __name__ = 'ev.service.kpi.claim.month'
    __string__ = "Warranty Claims of a Month"

    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    month = fields.Date("Month", required=True, readonly=True)
    sla_hours = fields.Integer("SLA (Hours)", required=True, readonly=True)
    submitted = fields.Integer("Submitted", readonly=True)
    decided = fields.Integer("Decided", readonly=True)
    hours = fields.Float("Hours to Decision", readonly=True,
        help="The sum over the decided claims.")
    in_sla = fields.Integer("Decided within SLA", readonly=True)
    undecided = fields.Integer("Undecided at Month End", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t,
                (t.company, Index.Equality()),
                (t.month, Index.Range())))
        cls._order = [('month', 'DESC'), ('id', 'DESC')]

    @classmethod
    def stored_months(cls, company, sla_hours, from_date, to_date):
        """The months rolled up with `sla_hours` wholly within the dates,
        sorted"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        where = (table.company == company) & (table.sla_hours == sla_hours)
        if from_date:
            where &= table.month >= (from_date if from_date.day == 1
                else _next_month(from_date))
        if to_date:
            where &= table.month < (
                to_date + dt.timedelta(days=1)).replace(day=1)
        cursor.execute(*table.select(table.month, where=where,
                order_by=[table.month.asc]))
        return [dt.date.fromisoformat(m[:10]) if isinstance(m, str) else m
            for m, in cursor]

    @classmethod
    def forget(cls, company_months):
        "Drop the rollups of the (company, month) pairs"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        quarter = Pool().get('ev.service.kpi.claim.quarter').__table__()
        for company, month in company_months:
            for t in [table, quarter]:
                cursor.execute(*t.delete(
                        where=(t.company == company) & (t.month == month)))

    @classmethod
    def roll_up(cls, date=None):
        """Roll up the complete months before `date` not rolled up with
        the SLA of the configuration, and again those with a claim written
        since the last run (a day's margin for the transactions running
        then: a claim decided while the month was rolled up)"""
        pool = Pool()
        Company = pool.get('company.company')
        Configuration = pool.get('ev.service.configuration')
        Date = pool.get('ir.date')
        if date is None:
            date = Date.today()
        current = date.replace(day=1)
        sla_hours = Configuration(1).claim_sla_hours
        for company in Company.search([]):
            months = cls._months_to_roll_up(company.id, current, sla_hours)
            if months:
                cls._roll_up_months(company.id, sorted(months), sla_hours)

    @classmethod
    def _months_to_roll_up(cls, company, current, sla_hours):
        Claim = Pool().get('ev.service.claim')
        cursor = Transaction().connection.cursor()
        claim = Claim.__table__()
        table = cls.__table__()
        month = cls.month.sql_cast(DateTrunc('month', claim.submitted_at))
        cursor.execute(*table.select(Max(table.create_date),
                where=table.company == company))
        last_run, = cursor.fetchone()
        written = None
        if last_run:
            if isinstance(last_run, str):  # SQLite
                last_run = dt.datetime.fromisoformat(last_run)
            since = last_run - dt.timedelta(days=1)
            written = ((claim.write_date >= since)
                | (claim.create_date >= since))
        complete = ((claim.company == company)
            & (claim.submitted_at != Null)
            & (claim.submitted_at < _midnight(current)))

        def months_where(where):
            cursor.execute(*claim.select(month, where=where, distinct=True))
            return {dt.date.fromisoformat(v[:10]) if isinstance(v, str)
                else v for v, in cursor}
        stored = set(cls.stored_months(company, sla_hours, None, None))
        months = months_where(complete) - stored
        if last_run:
            months |= months_where(complete & written)
        return months

    @classmethod
    def _roll_up_months(cls, company, months, sla_hours):
        pool = Pool()
        Claim = pool.get('ev.service.kpi.claim')
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        cls.forget([(company, m) for m in months])

        def in_months(column):
            where = Literal(False)
            for month in months:
                where |= ((column >= _midnight(month))
                    & (column < _midnight(_next_month(month))))
            return where
        rows = Claim._monthly(company, sla_hours, in_months)
        cursor.execute(*table.insert(
                [table.company, table.month, table.sla_hours,
                    table.submitted, table.decided, table.hours,
                    table.in_sla, table.undecided, table.create_uid,
                    table.create_date],
                rows.select(rows.company, rows.month, Literal(sla_hours),
                    rows.submitted, rows.decided, rows.hours, rows.in_sla,
                    rows.undecided, Literal(transaction.user),
                    CurrentTimestamp())))
        pool.get('ev.service.kpi.claim.quarter').roll_up_months(
            company, in_months)


def _quarter_of_day(column):
    "The quarter of an hour of the UTC day of a timestamp column (0-95)"
    return (Cast(Extract('HOUR', column), 'INTEGER') * 60
        + Cast(Extract('MINUTE', column), 'INTEGER')) / 15


class ClaimQuarter(ModelSQL):
    """The warranty claims of a complete month per quarter of an hour of
    the UTC day their window starts, rolled up with the month (ClaimMonth):
    the hours of day of any company's clock add them up (every time zone's
    offset is whole quarters)"""
    __name__ = 'ev.service.kpi.claim.quarter'
    __string__ = "Warranty Claims of a Month per Quarter of Hour"

    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    month = fields.Date("Month", required=True, readonly=True)
    quarter = fields.Integer("Quarter of Hour", required=True, readonly=True)
    claims = fields.Integer("Claims", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t,
                (t.company, Index.Equality()),
                (t.month, Index.Range()),
                include=[t.quarter, t.claims]))

    @classmethod
    def __register__(cls, module):
        pool = Pool()
        ClaimMonth = pool.get('ev.service.kpi.claim.month')
        backend_table = backend.TableHandler
        created = not backend_table.table_exist(cls._table)
        super().__register__(module)
        # Migration: the months rolled up before the quarters were are
        # forgotten; the KPIs compute them live until the next rollup
        if created:
            month = ClaimMonth.__table__()
            Transaction().connection.cursor().execute(*month.delete())

    @classmethod
    def roll_up_months(cls, company, in_months):
        "Store the quarters of the months `in_months` selects"
        Claim = Pool().get('ev.service.claim')
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        claim = Claim.__table__()
        # Grouped on the columns of a subquery: PostgreSQL does not match
        # expressions with parameters in GROUP BY
        claims = claim.select(
            cls.month.sql_cast(DateTrunc('month', claim.submitted_at)
                ).as_('month'),
            _quarter_of_day(claim.window_start).as_('quarter'),
            where=(claim.company == company)
            & (claim.submitted_at != Null)
            & in_months(claim.submitted_at))
        cursor.execute(*table.insert(
                [table.company, table.month, table.quarter, table.claims,
                    table.create_uid, table.create_date],
                claims.select(Literal(company), claims.month,
                    claims.quarter, Count(Literal(1)),
                    Literal(transaction.user), CurrentTimestamp(),
                    group_by=[claims.month, claims.quarter])))


class ClaimHour(ModelSQL, ModelView):
    "The warranty claims by hour of day of the fault"
    __name__ = 'ev.service.kpi.claim.hour'
    __string__ = "Warranty Claims by Hour of Day"

    company = fields.Many2One('company.company', "Company", readonly=True)
    hour = fields.Integer("Hour", readonly=True,
        help="The hour of day the claimed window starts, on the company's "
        "clock (its time zone's offset of today: a daylight saving switch "
        "is not followed).")
    claims = fields.Integer("Claims", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('hour', 'ASC'), ('id', 'ASC')]

    @classmethod
    def _offset_minutes(cls):
        "The offset from UTC of the context company's clock now, in minutes"
        offset = dt.datetime.now(company_timezone()).utcoffset()
        return int(offset.total_seconds() // 60)

    @classmethod
    def table_query(cls):
        """The quarters of the months rolled up (ClaimQuarter) and those of
        the other dates counted live, added up per hour of the company's
        clock"""
        pool = Pool()
        Claim = pool.get('ev.service.claim')
        ClaimMonth = pool.get('ev.service.kpi.claim.month')
        ClaimQuarter = pool.get('ev.service.kpi.claim.quarter')
        Configuration = pool.get('ev.service.configuration')
        claim = Claim.__table__()
        stored = ClaimQuarter.__table__()
        context = Transaction().context
        company = context.get('company')
        from_date, to_date = context.get('from_date'), context.get('to_date')
        with without_check_access():
            sla_hours = Configuration(1).claim_sla_hours
        months = ClaimMonth.stored_months(
            company, sla_hours, from_date, to_date)
        live = claim.select(
            _quarter_of_day(claim.window_start).as_('quarter'),
            where=(claim.company == company)
            & (claim.submitted_at != Null)
            & _outside_months(claim.submitted_at, from_date, to_date,
                months))
        quarters = Union(
            stored.select(stored.quarter, stored.claims,
                where=(stored.company == company)
                & (stored.month.in_(months) if months else Literal(False))),
            live.select(live.quarter, Count(Literal(1)).as_('claims'),
                group_by=[live.quarter]),
            all_=True)
        # Whole minutes of the UTC day moved to the company's clock: the
        # integer arithmetic reads the same on SQLite and PostgreSQL
        hour = ((quarters.quarter * 15
                + (cls._offset_minutes() + 24 * 60)) / 60) % 24
        hours = quarters.select(hour.as_('hour'), quarters.claims)
        return hours.select(
            (hours.hour + 1).as_('id'),
            Literal(company).as_('company'),
            hours.hour,
            # PostgreSQL sums the counts (bigint) as numeric
            Cast(Sum(hours.claims), cls.claims.sql_type().base
                ).as_('claims'),
            group_by=[hours.hour])


class ClaimZone(ModelSQL, ModelView):
    "The warranty claims by the team zone of the station"
    __name__ = 'ev.service.kpi.claim.zone'
    __string__ = "Warranty Claims by Zone"

    company = fields.Many2One('company.company', "Company", readonly=True)
    team = fields.Many2One('ev.field.team', "Team", readonly=True,
        help="The team whose zones covered the postal code of the "
        "station's customer (its first address) when the claim was "
        "submitted; a code in the zones of two teams counts for both; "
        "empty: no zone covered it.")
    claims = fields.Integer("Claims", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('claims', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        ClaimTeam = Pool().get('ev.service.claim.zone_team')
        claim_team = ClaimTeam.__table__()
        company = Transaction().context.get('company')
        # The zone teams stored at the submission (claim_kpi.py): one row
        # per team, or one without, for each submitted claim
        return claim_team.select(
            # One row per team (company is fixed): the team's id
            (Coalesce(claim_team.team, 0) + 1).as_('id'),
            claim_team.company.as_('company'),
            claim_team.team.as_('team'),
            Count(Literal(1)).as_('claims'),
            where=(claim_team.company == company)
            & in_period(claim_team.submitted_at),
            group_by=[claim_team.company, claim_team.team])


class NoSummary(ModelSQL, ModelView):
    """The cases of a complex category without a reviewed final summary,
    per coordinator"""
    __name__ = 'ev.service.kpi.no_summary'
    __string__ = "Service Cases Without Final Summary"

    company = fields.Many2One('company.company', "Company", readonly=True)
    coordinator = fields.Many2One('res.user', "Coordinator", readonly=True)
    open_cases = fields.Integer("Open", readonly=True,
        help="Open cases reported in the dates.")
    closed_cases = fields.Integer("Closed", readonly=True,
        help="Cases closed in the dates (closed before their category "
        "asked for summaries).")
    oldest_reported = fields.DateTime("Oldest Reported", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('open_cases', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Case = pool.get('ev.service.case')
        Category = pool.get('ev.service.case.category')
        Summary = pool.get('ev.service.case.summary')
        case = Case.__table__()
        category = Category.__table__()
        summary = Summary.__table__()
        closed_case = Case.__table__()
        company = Transaction().context.get('company')
        columns = [case.id, case.coordinator, case.category,
            case.reported_at]
        # The open cases reported in the dates and those closed in the
        # dates, each from its partial index (case.py)
        cases = Union(
            case.select(*columns, Literal(1).as_('open'),
                where=(case.company == company)
                & case.state.in_(OPEN_STATES)
                & in_period(case.reported_at)),
            closed_case.select(
                *(getattr(closed_case, c.name) for c in columns),
                Literal(0).as_('open'),
                where=(closed_case.company == company)
                & (closed_case.state == 'closed')
                & in_period(closed_case.closed_at)),
            all_=True)
        # An anti-join: the cases with no reviewed final summary
        final = summary.select(Literal(1),
            where=(summary.case == cases.id) & (summary.kind == 'final')
            & (summary.state == 'reviewed'))
        return cases.join(category,
            condition=cases.category == category.id
            ).select(
                Min(cases.id).as_('id'),
                Literal(company).as_('company'),
                cases.coordinator.as_('coordinator'),
                Sum(cases.open).as_('open_cases'),
                Sum(Literal(1) - cases.open).as_('closed_cases'),
                Min(cases.reported_at).as_('oldest_reported'),
                where=(category.complex == Literal(True)) & ~Exists(final),
                group_by=[cases.coordinator])
