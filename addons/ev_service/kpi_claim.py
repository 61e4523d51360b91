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

from sql import Cast, Literal, Null
from sql.aggregate import Avg, Count, Min, Sum
from sql.conditionals import Case as SqlCase
from sql.conditionals import Coalesce
from sql.functions import DateTrunc, Extract, Upper

from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.ev_field.team import company_timezone
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access

from .case import OPEN_STATES
from .kpi import _date_range


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
    def table_query(cls):
        pool = Pool()
        Claim = pool.get('ev.service.claim')
        Configuration = pool.get('ev.service.configuration')
        claim = Claim.__table__()
        company = Transaction().context.get('company')
        with without_check_access():
            sla_hours = Configuration(1).claim_sla_hours
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
            & _date_range(claim.submitted_at))
        decided_count = Count(claims.decided_at)
        return claims.select(
            Min(claims.id).as_('id'),
            claims.company.as_('company'),
            claims.month.as_('month'),
            Count(Literal(1)).as_('submitted'),
            decided_count.as_('decided'),
            Avg(claims.hours).as_('average_hours'),
            (Sum(claims.in_sla) * 100.0
                / SqlCase((decided_count > 0, decided_count), else_=Null)
                ).as_('within_sla'),
            Sum(claims.undecided).as_('undecided'),
            group_by=[claims.company, claims.month])


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
        Claim = Pool().get('ev.service.claim')
        claim = Claim.__table__()
        company = Transaction().context.get('company')
        start = claim.window_start
        # Whole minutes of the UTC day, moved to the company's clock: the
        # integer arithmetic reads the same on SQLite and PostgreSQL
        minutes = (Cast(Extract('HOUR', start), 'INTEGER') * 60
            + Cast(Extract('MINUTE', start), 'INTEGER')
            + (cls._offset_minutes() + 24 * 60))
        hour = (minutes / 60) % 24
        claims = claim.select(claim.id, claim.company, hour.as_('hour'),
            where=(claim.company == company)
            & (claim.submitted_at != Null)
            & _date_range(claim.submitted_at))
        return claims.select(
            Min(claims.id).as_('id'),
            claims.company.as_('company'),
            claims.hour.as_('hour'),
            Count(Literal(1)).as_('claims'),
            group_by=[claims.company, claims.hour])


class ClaimZone(ModelSQL, ModelView):
    "The warranty claims by the team zone of the station"
    __name__ = 'ev.service.kpi.claim.zone'
    __string__ = "Warranty Claims by Zone"

    company = fields.Many2One('company.company', "Company", readonly=True)
    team = fields.Many2One('ev.field.team', "Team", readonly=True,
        help="The team whose zones cover the postal code of the station's "
        "customer (its first address); a code in the zones of two teams "
        "counts for both; empty: no zone covers it.")
    claims = fields.Integer("Claims", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('claims', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Claim = pool.get('ev.service.claim')
        Charger = pool.get('ev.charger')
        Station = pool.get('ev.station')
        Address = pool.get('party.address')
        Zone = pool.get('ev.field.team.zone')
        claim = Claim.__table__()
        charger = Charger.__table__()
        station = Station.__table__()
        address = Address.__table__()
        first = Address.__table__()
        zone = Zone.__table__()
        company = Transaction().context.get('company')
        first_address = first.select(Min(first.id),
            where=(first.party == station.customer) & first.active)
        # The zones keep their patterns as LIKE patterns (ev_field)
        query = (claim
            .join(charger, condition=claim.charger == charger.id)
            .join(station, condition=charger.station == station.id)
            .join(address, 'LEFT',
                condition=address.id == first_address)
            .join(zone, 'LEFT',
                condition=Upper(address.postal_code).like(
                    zone.like_pattern)))
        return query.select(
            # One row per team (company is fixed): the team's id
            (Coalesce(zone.team, 0) + 1).as_('id'),
            claim.company.as_('company'),
            zone.team.as_('team'),
            Count(claim.id, distinct=True).as_('claims'),
            where=(claim.company == company)
            & (claim.submitted_at != Null)
            & _date_range(claim.submitted_at),
            group_by=[claim.company, zone.team])


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
        company = Transaction().context.get('company')
        is_open = case.state.in_(OPEN_STATES)
        final = summary.select(summary.case,
            where=(summary.kind == 'final') & (summary.state == 'reviewed'))
        return case.join(category,
            condition=case.category == category.id
            ).select(
                Min(case.id).as_('id'),
                case.company.as_('company'),
                case.coordinator.as_('coordinator'),
                Sum(SqlCase((is_open, Literal(1)), else_=Literal(0))
                    ).as_('open_cases'),
                Sum(SqlCase((is_open, Literal(0)), else_=Literal(1))
                    ).as_('closed_cases'),
                Min(case.reported_at).as_('oldest_reported'),
                where=(case.company == company)
                & (category.complex == Literal(True))
                & ((is_open & _date_range(case.reported_at))
                    | ((case.state == 'closed')
                        & _date_range(case.closed_at)))
                & ~case.id.in_(final),
                group_by=[case.company, case.coordinator])
