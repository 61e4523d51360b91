# This file is part of the EV operations suite.
"""Cost per installation (issue 15): what a payable installation cost
and what it brought, per job and per team, OEM and month of payable_at.

Reporting models built with python-sql, set-based, read like any other
model with a context for the company, the dates, a team and an OEM.

The figures of a job:

- materials, logistics: frozen on the job when it became payable (ev_field's
  mark_payable: consumed stock moves + approved local procurements, and
  the configured logistics cost);
- labour: the labour frozen on the job (the team's rate) plus the agreed
  extra paid with it (the payout line of kind 'extra' of the job);
- after-installation service, on the stations of the job's lead, over the
  whole life of the stations (not cut by the dates): the service visits
  (the visit's payout line, else the visit rate of the team that went, for
  the visits done) and the cost of the parts shipped on its service cases;
- revenue: the lead's expected amount (sale.opportunity.amount): the OEM's
  fee for an OEM lead, the customer's price for a direct lead, in the
  company's currency.

The lead's figures (service and revenue) go to the first payable
installation of the lead (the lowest id), so that a lead installed in two
jobs is not counted twice; its other jobs show their own costs only."""
from sql import Literal, Null
from sql.aggregate import Count, Min, Sum
from sql.conditionals import Case as SqlCase
from sql.conditionals import Coalesce, NullIf
from sql.functions import DateTrunc

from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.ev_station.kpi import KpiYearContextMixin, in_period
from trytond.modules.ev_service.visit import VISIT_DONE_STATES
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .line import _reference

# The money columns of a row, summed by the aggregates
COMPONENTS = ['materials', 'labour', 'logistics', 'service_visits',
    'service_parts', 'revenue']


class Context(KpiYearContextMixin, ModelView):
    "The company, the dates, a team and an OEM of the costs"
    __name__ = 'ev.payout.cost.context'
    __string__ = "Cost per Installation Context"

    team = fields.Many2One('ev.field.team', "Team",
        help="Only the installations of this team.")
    oem = fields.Many2One('party.party', "OEM",
        domain=[('ev_is_oem', '=', True)],
        context={'company': Eval('company', -1)}, depends={'company'},
        help="Only the installations of the leads of this OEM.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.from_date.help = (
            "The first day the installations became payable.")


class CostMixin:
    "The cost components, the revenue and the margin of a row"
    __slots__ = ()

    company = fields.Many2One('company.company', "Company", readonly=True)
    materials = fields.Numeric("Materials", digits=(16, 2), readonly=True,
        help="Consumed stock and local procurements, frozen when payable.")
    labour = fields.Numeric("Labour", digits=(16, 2), readonly=True,
        help="The team's labour rate and the agreed extras paid.")
    logistics = fields.Numeric("Logistics", digits=(16, 2), readonly=True)
    service_visits = fields.Numeric("Service Visits", digits=(16, 2),
        readonly=True,
        help="The service visits to the stations of the lead since.")
    service_parts = fields.Numeric("Service Parts", digits=(16, 2),
        readonly=True,
        help="The parts shipped on the service cases of the stations of "
        "the lead.")
    total_cost = fields.Numeric("Total Cost", digits=(16, 2), readonly=True)
    revenue = fields.Numeric("Revenue", digits=(16, 2), readonly=True,
        help="The lead's amount: the OEM's fee for an OEM lead, the "
        "customer's price for a direct lead.")
    margin = fields.Numeric("Margin", digits=(16, 2), readonly=True)
    margin_percent = fields.Float("Margin (%)", digits=(16, 1),
        readonly=True,
        help="The margin over the revenue; empty without revenue.")

    @classmethod
    def _with_margin(cls, rows, *columns):
        """Select `columns` of the subquery `rows` with its components, the
        total cost, the margin and the margin %, each cast to the type of
        its field (PostgreSQL sums as numeric, SQLite as float)"""
        total = sum((getattr(rows, c) for c in COMPONENTS
                if c != 'revenue'), Literal(0))
        margin = rows.revenue - total
        return rows.select(*columns,
            *(cls._cast(c, getattr(rows, c)).as_(c) for c in COMPONENTS),
            cls._cast('total_cost', total).as_('total_cost'),
            cls._cast('margin', margin).as_('margin'),
            cls._cast('margin_percent',
                margin * 100.0 / NullIf(rows.revenue, 0)
                ).as_('margin_percent'))

    @classmethod
    def _cast(cls, name, expression):
        return getattr(cls, name).sql_cast(expression)


class Cost(CostMixin, ModelSQL, ModelView):
    "The cost, revenue and margin of each payable installation"
    __name__ = 'ev.payout.cost'
    __string__ = "Cost per Installation"

    job = fields.Many2One('ev.field.job', "Job", readonly=True)
    team = fields.Many2One('ev.field.team', "Team", readonly=True)
    lead = fields.Many2One('sale.opportunity', "Lead", readonly=True)
    oem = fields.Many2One('party.party', "OEM", readonly=True,
        context={'company': Eval('company', -1)}, depends={'company'})
    payable_date = fields.Date("Payable On", readonly=True)
    month = fields.Date("Month", readonly=True,
        help="The month the installation became payable.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('payable_date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def table_query(cls):
        rows = cls.job_rows()
        return cls._with_margin(rows, rows.id, rows.company, rows.job,
            rows.team, rows.lead, rows.oem, rows.payable_date, rows.month)

    @classmethod
    def job_rows(cls):
        """One row per payable installation of the context's company, dates,
        team and OEM, with its components uncast (see _with_margin)"""
        pool = Pool()
        Job = pool.get('ev.field.job')
        Lead = pool.get('sale.opportunity')
        Line = pool.get('ev.payout.line')
        context = Transaction().context
        company = context.get('company')
        job = Job.__table__()
        lead = Lead.__table__()
        extra = Line.__table__()
        installed = Job.__table__()

        # The first payable installation of each lead takes the lead's
        # figures (all of the company's: not cut by the dates)
        firsts = installed.select(
            Min(installed.id).as_('job'),
            where=(installed.company == company)
            & (installed.kind == 'installation')
            & (installed.payable == Literal(True)),
            group_by=[installed.lead])
        visits = cls._service_visits(company)
        parts = cls._service_parts(company)

        where = ((job.company == company) & (job.kind == 'installation')
            & (job.payable == Literal(True)) & in_period(job.payable_at))
        if context.get('team'):
            where &= job.team == context['team']
        if context.get('oem'):
            where &= lead.oem == context['oem']
        is_first = firsts.job != Null
        query = (job
            .join(lead, condition=job.lead == lead.id)
            .join(firsts, 'LEFT', condition=firsts.job == job.id)
            .join(visits, 'LEFT',
                condition=is_first & (visits.lead == job.lead))
            .join(parts, 'LEFT',
                condition=is_first & (parts.lead == job.lead))
            # At most one extra line per job: (kind, origin) is unique
            .join(extra, 'LEFT',
                condition=(extra.kind == 'extra')
                & (extra.origin == _reference('ev.field.job', job.id))))

        def amount(column):
            # Cast: SQLite stores the decimals as text
            return Coalesce(cls.materials.sql_cast(column), Literal(0))
        return query.select(
            job.id.as_('id'),
            job.company.as_('company'),
            job.id.as_('job'),
            job.team.as_('team'),
            job.lead.as_('lead'),
            lead.oem.as_('oem'),
            cls.payable_date.sql_cast(job.payable_at).as_('payable_date'),
            cls.month.sql_cast(
                DateTrunc('month', job.payable_at)).as_('month'),
            amount(job.cost_materials).as_('materials'),
            (amount(job.cost_labour) + amount(extra.amount)).as_('labour'),
            amount(job.cost_logistics).as_('logistics'),
            amount(visits.amount).as_('service_visits'),
            amount(parts.amount).as_('service_parts'),
            SqlCase((is_first, amount(lead.amount)),
                else_=Literal(0)).as_('revenue'),
            where=where)

    @classmethod
    def _service_visits(cls, company):
        """The service visits per lead of the stations: the visit's payout
        line, else the visit rate of the team for a visit done"""
        pool = Pool()
        Case = pool.get('ev.service.case')
        Station = pool.get('ev.station')
        Job = pool.get('ev.field.job')
        Team = pool.get('ev.field.team')
        Line = pool.get('ev.payout.line')
        case = Case.__table__()
        station = Station.__table__()
        visit = Job.__table__()
        team = Team.__table__()
        line = Line.__table__()
        cost = Coalesce(cls.materials.sql_cast(line.amount),
            cls.materials.sql_cast(team.visit_rate), Literal(0))
        return (case
            .join(station, condition=case.station == station.id)
            .join(visit, condition=case.visit_job == visit.id)
            .join(team, 'LEFT', condition=visit.team == team.id)
            .join(line, 'LEFT', condition=(line.kind == 'visit')
                & (line.origin == _reference('ev.field.job', visit.id)))
            .select(
                station.lead.as_('lead'),
                Sum(cost).as_('amount'),
                where=(case.company == company) & (station.lead != Null)
                & ((line.id != Null)
                    | visit.state.in_(list(VISIT_DONE_STATES))),
                group_by=[station.lead]))

    @classmethod
    def _service_parts(cls, company):
        "The cost of the parts shipped per lead of the stations"
        pool = Pool()
        Case = pool.get('ev.service.case')
        Station = pool.get('ev.station')
        Part = pool.get('ev.service.part')
        case = Case.__table__()
        station = Station.__table__()
        part = Part.__table__()
        return (part
            .join(case, condition=part.case == case.id)
            .join(station, condition=case.station == station.id)
            .select(
                station.lead.as_('lead'),
                Sum(Coalesce(cls.materials.sql_cast(part.cost), Literal(0))
                    ).as_('amount'),
                where=(part.company == company) & (part.shipped_at != Null)
                & (station.lead != Null),
                group_by=[station.lead]))


class CostSumMixin(CostMixin):
    "The installations' figures summed per group"
    __slots__ = ()

    jobs = fields.Integer("Installations", readonly=True)

    # The columns of the per-job rows the sums are grouped by
    _group_names = []

    @classmethod
    def table_query(cls):
        Cost = Pool().get('ev.payout.cost')
        rows = Cost.job_rows()
        groups = [rows.company, *(getattr(rows, g) for g in cls._group_names)]
        # Grouped on the subquery's columns: PostgreSQL does not match the
        # parameters of a grouped expression to those of the selected one
        sums = rows.select(
            Min(rows.id).as_('id'),
            *(g.as_(g.name) for g in groups),
            Count(Literal(1)).as_('jobs'),
            *(Sum(getattr(rows, c)).as_(c) for c in COMPONENTS),
            group_by=groups)
        return cls._with_margin(sums, sums.id, sums.company,
            *(getattr(sums, g) for g in cls._group_names),
            cls.jobs.sql_cast(sums.jobs).as_('jobs'))


class CostTeam(CostSumMixin, ModelSQL, ModelView):
    __name__ = 'ev.payout.cost.team'
    __string__ = "Cost per Installation per Team"

    team = fields.Many2One('ev.field.team', "Team", readonly=True)
    _group_names = ['team']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('total_cost', 'DESC'), ('id', 'ASC')]


class CostOEM(CostSumMixin, ModelSQL, ModelView):
    __name__ = 'ev.payout.cost.oem'
    __string__ = "Cost per Installation per OEM"

    oem = fields.Many2One('party.party', "OEM", readonly=True,
        context={'company': Eval('company', -1)}, depends={'company'},
        help="Empty for the direct leads.")
    _group_names = ['oem']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('revenue', 'DESC'), ('id', 'ASC')]


class CostMonth(CostSumMixin, ModelSQL, ModelView):
    __name__ = 'ev.payout.cost.month'
    __string__ = "Cost per Installation per Month"

    month = fields.Date("Month", readonly=True,
        help="The month the installations became payable.")
    _group_names = ['month']

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('month', 'DESC'), ('id', 'ASC')]
