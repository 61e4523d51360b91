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
from sql.functions import DateTrunc, Extract, RowNumber
from sql.operators import Concat, Exists

from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval, If
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


class Context(ModelView):
    __name__ = 'ev.service.kpi.context'
    __string__ = "Service KPI Context"

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
        # The last twelve months by default
        Date = Pool().get('ir.date')
        context = Transaction().context
        if 'from_date' in context:
            return context['from_date']
        today = Date.today()
        return today.replace(day=1, year=today.year - 1)

    @classmethod
    def default_to_date(cls):
        Date = Pool().get('ir.date')
        return Transaction().context.get('to_date') or Date.today()


def _date_range(column):
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


class StepMixin:
    "Hours per step interval of the cases, grouped by month and more"
    __slots__ = ()

    company = fields.Many2One('company.company', "Company", readonly=True)
    month = fields.Date("Month", readonly=True)
    step = fields.Selection([(s, n) for s, n, _, _ in STEPS], "Step",
        readonly=True, sort=False)
    cases = fields.Integer("Cases", readonly=True)
    average_hours = fields.Float("Average (Hours)", digits=(16, 1),
        readonly=True)
    median_hours = fields.Float("Median (Hours)", digits=(16, 1),
        readonly=True)
    max_hours = fields.Float("Longest (Hours)", digits=(16, 1),
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('month', 'DESC'), ('step', 'ASC'), ('id', 'ASC')]

    # The columns that split the rows beyond company, month and step
    _group_names = []

    @classmethod
    def _intervals(cls):
        "One row per case and step that ended in the context's range"
        Case = Pool().get('ev.service.case')
        company = Transaction().context.get('company')
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
                    & _date_range(ended)))
        return Union(*queries, all_=True)

    @classmethod
    def table_query(cls):
        intervals = cls._intervals()
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


class Step(StepMixin, ModelSQL, ModelView):
    __name__ = 'ev.service.kpi.step'
    __string__ = "Service Step Times"


class StepTeam(StepMixin, ModelSQL, ModelView):
    __name__ = 'ev.service.kpi.step.team'
    __string__ = "Service Step Times per Team"

    team = fields.Many2One('ev.field.team', "Team", readonly=True)
    _group_names = ['team']


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
        Case = pool.get('ev.service.case')
        part = Part.__table__()
        case = Case.__table__()
        company = Transaction().context.get('company')
        # The Overdue tab of the parts: marked by the daily control and not
        # back; shipped in the context's range
        where = ((part.company == company)
            & (part.overdue_since != Null)
            & part.return_state.in_(
                [s for s in EXPECTED_STATES if s != 'incomplete'])
            & _date_range(part.shipped_at))
        return part.join(case, condition=part.case == case.id).select(
            Min(part.id).as_('id'),
            part.company.as_('company'),
            case.team.as_('team'),
            Count(part.id).as_('parts'),
            Min(part.return_due).as_('oldest_due'),
            where=where,
            group_by=[part.company, case.team])


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
        Part = pool.get('ev.service.part')
        Handover = pool.get('ev.station.handover')
        case = Case.__table__()
        part = Part.__table__()
        handover = Handover.__table__()
        company = Transaction().context.get('company')
        # A case's handovers name its work (case.py and part.py work_key):
        # "ev.service.case,<id>:<work>" or "ev.service.part,<id>:<work>"
        of_case = handover.work.like(
            Concat(Concat(Case.__name__ + ',', case.id), ':%'))
        of_part = Exists(part.select(part.id,
                where=(part.case == case.id)
                & handover.work.like(
                    Concat(Concat(Part.__name__ + ',', part.id), ':%'))))
        unaccepted = case.join(handover,
            condition=(handover.station == case.station)
            & (handover.state == 'pending') & (of_case | of_part)
            ).select(
                case.id, case.company, case.coordinator,
                Min(handover.follow_up_date).as_('follow_up'),
                where=(case.company == company)
                & case.state.in_(OPEN_STATES)
                & _date_range(case.reported_at),
                group_by=[case.id, case.company, case.coordinator])
        return unaccepted.select(
            Min(unaccepted.id).as_('id'),
            unaccepted.company.as_('company'),
            unaccepted.coordinator.as_('coordinator'),
            Count(unaccepted.id).as_('cases'),
            Min(unaccepted.follow_up).as_('oldest_follow_up'),
            group_by=[unaccepted.company, unaccepted.coordinator])
