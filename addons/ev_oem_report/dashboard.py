# This file is part of the EV operations suite.
"""The dashboards per role (seed 001, questions 7 and 22): reporting models
built in SQL with python-sql, read like any other model, with list and
graph views on a board per role (dashboard.xml).

- Central Ops (now): the active leads, today's surveys and installations
  (in the company's time zone), the surveys waiting for their review and the
  jobs whose team fell away (emergencies);
- Management (the leads received in the context's period): the conversion
  funnel received → contacted → surveyed → installed, and per zone the hours
  to the first contact, the survey completion and installation success
  rates; the customers' satisfaction per month and zone (dashboard_feedback);
- Finance: dashboard_finance.py (with ev_payout).

A zone is the first three digits of the site's PIN code (the sorting
district: seed 001, question 19, "start with pin code-based zones").
Milestones are those of the OEM reports: surveyed and installed are the
first report (reported_at) of the lead's survey and installation jobs.

Speed (issue 16: each dashboard in at most 200 ms on 100,000 leads): the
funnel and the zones read one scan of the period's leads, no join. The
lead keeps its zone, its milestones and the count of its jobs per outcome
(milestone.py: recomputed at each event that changes them, filled by the
migration), and a covering index on (company, received date) serves both.
Joining the leads with their addresses and grouping all their jobs at each
read took 445 ms (funnel) and 701 ms (zones) on 100,000 leads; see
tests/bench/bench_dashboards.py and the README for the figures now.

Refreshing: the figures are computed at each read (no stored snapshot), so
a reload shows the database as it is, and the boards reload on their own.
Tryton 8 has no self-refreshing view (ir.action.act_window has no
auto_refresh field, and sao 8's bus dispatches only its client:, chat: and
notification:<user> channels), so:

- the server publishes on the bus channel `ev.dashboard`, once per
  committed transaction that changed their data, the names of the
  dashboard models concerned (dashboard_refresh.py: the sources and the
  fields they read);
- sao/custom.js listens to it while a dashboard is open and reloads the
  tabs showing these models (at most once per 5 s, only the tab shown, not
  while the user types in it); without a bus it reloads the dashboard
  shown every minute.

The bus needs PostgreSQL (LISTEN/NOTIFY; on SQLite nothing is published)
and `[bus] allow_subscribe = True`, which `./ev run` sets on PostgreSQL
(tryton.conf)."""
from sql import Cast, Literal, Select, Union, With
from sql.aggregate import Avg, Count, Min, Sum
from sql.conditionals import Coalesce, NullIf
from sql.functions import DateTrunc, Extract

from trytond import backend
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.modules.ev_lead.opportunity import OPEN_STATES
from trytond.modules.ev_station.kpi import KpiContextMixin, in_period
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

OPS_FIGURES = [
    ('active_leads', "Active Leads"),
    ('surveys_today', "Today's Surveys"),
    ('installations_today', "Today's Installations"),
    ('pending_reviews', "Surveys Waiting for Review"),
    ('emergencies', "Emergencies (Team Unavailable)"),
    ]
FUNNEL_STAGES = [
    ('received', "Received"),
    ('contacted', "Contacted"),
    ('surveyed', "Surveyed"),
    ('installed', "Installed"),
    ]
# Jobs booked for a day (today's surveys and installations)
BOOKED_STATES = ['scheduled', 'confirmed', 'emergency', 'done',
    'commissioned', 'closed']


def company_literal(model):
    "The context's company as a column of `model`'s table query"
    return Cast(Literal(Transaction().context.get('company')),
        model.company.sql_type().base).as_('company')


def duration(start, end):
    """end - start of each row, for average_hours: an interval on
    PostgreSQL, hours elsewhere"""
    if backend.name == 'postgresql':
        return end - start
    return (Extract('EPOCH', end) - Extract('EPOCH', start)) / 3600.0


def average_hours(duration):
    """The average hours of a duration column, empty without one. On
    PostgreSQL the intervals are summed and their epoch taken once per
    group: EXTRACT per row computes in numeric, the slowest part of the
    zone dashboard (about half of its time on 100,000 leads)"""
    if backend.name == 'postgresql':
        return (Extract('EPOCH', Sum(duration)) / 3600.0
            / NullIf(Count(duration), 0))
    return Avg(duration)


def percent(part, whole):
    "part of whole in percent, empty without a whole"
    return part * 100.0 / NullIf(whole, 0)


class Context(KpiContextMixin, ModelView):
    __name__ = 'ev.oem.dashboard.context'
    __string__ = "Dashboard Context"


class Job(metaclass=PoolMeta):
    __name__ = 'ev.field.job'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # The waiting reviews and the emergencies are few among the jobs
        cls._sql_indexes.add(
            Index(t, (t.kind, Index.Equality(cardinality='low')),
                (t.state, Index.Equality(cardinality='low')),
                where=t.state.in_(['done', 'emergency'])))


class OpsFigure(ModelSQL, ModelView):
    "What Central Ops follows, now"
    __name__ = 'ev.oem.dashboard.ops'
    __string__ = "Central Ops Dashboard"

    company = fields.Many2One('company.company', "Company", readonly=True)
    figure = fields.Selection(OPS_FIGURES, "Figure", readonly=True,
        sort=False)
    count = fields.Integer("Count", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Job = pool.get('ev.field.job')
        lead, job = Lead.__table__(), Job.__table__()
        company = Transaction().context.get('company')
        start, end = Job._today_range()
        today = ((job.company == company)
            & (job.slot_start >= start) & (job.slot_start < end)
            & job.state.in_(BOOKED_STATES))
        queries = {
            'active_leads': lead.select(Count(lead.id),
                where=(lead.company == company)
                & lead.state.in_(OPEN_STATES)),
            'surveys_today': job.select(Count(job.id),
                where=today & (job.kind == 'survey')),
            'installations_today': job.select(Count(job.id),
                where=today & (job.kind == 'installation')),
            # A reported survey waits for its review (ready or not ready)
            'pending_reviews': job.select(Count(job.id),
                where=(job.company == company) & (job.kind == 'survey')
                & (job.state == 'done')),
            'emergencies': job.select(Count(job.id),
                where=(job.company == company) & (job.state == 'emergency')),
            }
        # One row per figure, each a count of its own: a SELECT without FROM
        rows = [Select([
                    cls.id.sql_cast(Literal(index)).as_('id'),
                    company_literal(cls),
                    cls.figure.sql_cast(Literal(name)).as_('figure'),
                    queries[name].as_('count'),
                    ])
            for index, (name, _) in enumerate(OPS_FIGURES, 1)]
        return Union(*rows, all_=True)


class FunnelStage(ModelSQL, ModelView):
    "The leads of the period that reached each stage"
    __name__ = 'ev.oem.dashboard.funnel'
    __string__ = "Conversion Funnel"

    company = fields.Many2One('company.company', "Company", readonly=True)
    stage = fields.Selection(FUNNEL_STAGES, "Stage", readonly=True,
        sort=False)
    leads = fields.Integer("Leads", readonly=True)
    rate = fields.Float("Of Received (%)", digits=(16, 1), readonly=True,
        help="The share of the leads received in the period.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'ASC')]

    @classmethod
    def table_query(cls):
        Lead = Pool().get('sale.opportunity')
        lead = Lead.__table__()
        company = Transaction().context.get('company')
        # The milestones stored on the lead (milestone.py): one scan of the
        # period's leads
        totals = With('received', 'contacted', 'surveyed', 'installed',
            query=lead.select(
                Count(lead.id),
                Count(lead.contacted_at),
                Count(lead.surveyed_at),
                Count(lead.installed_at),
                where=(lead.company == company)
                & in_period(lead.create_date)))
        rows = [totals.select(
                cls.id.sql_cast(Literal(index)).as_('id'),
                company_literal(cls),
                cls.stage.sql_cast(Literal(name)).as_('stage'),
                getattr(totals, name).as_('leads'),
                percent(getattr(totals, name), totals.received).as_('rate'))
            for index, (name, _) in enumerate(FUNNEL_STAGES, 1)]
        union = Union(*rows, all_=True)
        union.with_ = [totals]
        return union


class ZonePerformance(ModelSQL, ModelView):
    "The leads of the period per zone, and how the work went"
    __name__ = 'ev.oem.dashboard.zone'
    __string__ = "Regional Performance"

    company = fields.Many2One('company.company', "Company", readonly=True)
    zone = fields.Char("Zone", readonly=True,
        help="The first three digits of the site's PIN code.")
    leads = fields.Integer("Leads", readonly=True)
    contacted = fields.Integer("Contacted", readonly=True)
    first_contact_hours = fields.Float("Average to First Contact (Hours)",
        digits=(16, 1), readonly=True)
    surveys = fields.Integer("Surveys", readonly=True,
        help="The survey jobs of the leads, cancelled ones included.")
    surveys_completed = fields.Integer("Surveys Completed", readonly=True)
    survey_completion = fields.Float("Survey Completion (%)",
        digits=(16, 1), readonly=True)
    installations = fields.Integer("Installations Ended", readonly=True,
        help="The installation jobs reported or cancelled.")
    installed = fields.Integer("Installed", readonly=True)
    installation_success = fields.Float("Installation Success (%)",
        digits=(16, 1), readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('zone', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        Lead = Pool().get('sale.opportunity')
        lead = Lead.__table__()
        company = Transaction().context.get('company')
        # The zone and the jobs' counts stored on the lead (milestone.py):
        # one scan of the period's leads
        per_lead = lead.select(
            lead.id.as_('lead'),
            Coalesce(lead.zone, '').as_('zone'),
            duration(lead.create_date, lead.contacted_at).as_('contact'),
            lead.survey_jobs.as_('surveys'),
            lead.surveys_reported.as_('surveys_completed'),
            lead.installations_ended.as_('installations'),
            lead.installations_reported.as_('installed'),
            where=(lead.company == company) & in_period(lead.create_date))
        surveys = Coalesce(Sum(per_lead.surveys), 0)
        completed = Coalesce(Sum(per_lead.surveys_completed), 0)
        installations = Coalesce(Sum(per_lead.installations), 0)
        installed = Coalesce(Sum(per_lead.installed), 0)
        return per_lead.select(
            Min(per_lead.lead).as_('id'),
            company_literal(cls),
            per_lead.zone.as_('zone'),
            Count(per_lead.lead).as_('leads'),
            Count(per_lead.contact).as_('contacted'),
            average_hours(per_lead.contact).as_('first_contact_hours'),
            surveys.as_('surveys'),
            completed.as_('surveys_completed'),
            percent(completed, surveys).as_('survey_completion'),
            installations.as_('installations'),
            installed.as_('installed'),
            percent(installed, installations).as_('installation_success'),
            group_by=[per_lead.zone])


class Satisfaction(ModelSQL, ModelView):
    "The customers' ratings after the closure call, per month and zone"
    __name__ = 'ev.oem.dashboard.satisfaction'
    __string__ = "Customer Satisfaction"

    company = fields.Many2One('company.company', "Company", readonly=True)
    month = fields.Date("Month", readonly=True)
    zone = fields.Char("Zone", readonly=True,
        help="The first three digits of the site's PIN code.")
    responses = fields.Integer("Responses", readonly=True)
    rating = fields.Float("Average Rating", digits=(16, 2), readonly=True,
        help="From 1 (very unhappy) to 5 (very happy).")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('month', 'DESC'), ('zone', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Feedback = pool.get('ev.oem.closure.feedback')
        feedback = Feedback.__table__()
        context = Transaction().context
        where = feedback.company == context.get('company')
        if context.get('from_date'):
            where &= feedback.date >= context['from_date']
        if context.get('to_date'):
            where &= feedback.date <= context['to_date']
        # The zone is the feedback's own (the site's when it was given)
        rows = feedback.select(
            feedback.id.as_('feedback'),
            feedback.rating.as_('rating'),
            cls.month.sql_cast(DateTrunc('month', feedback.date)
                ).as_('month'),
            Coalesce(feedback.zone, '').as_('zone'),
            where=where)
        return rows.select(
            Min(rows.feedback).as_('id'),
            company_literal(cls),
            rows.month.as_('month'),
            rows.zone.as_('zone'),
            Count(rows.feedback).as_('responses'),
            Avg(rows.rating * 1.0).as_('rating'),
            group_by=[rows.month, rows.zone])
