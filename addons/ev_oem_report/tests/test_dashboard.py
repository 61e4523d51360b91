# This file is part of the EV operations suite.
"""The dashboards per role on a hand-built March: the figures of Central
Ops (now), of Management (the funnel, the zones, the satisfaction), the
feedback's checks, and who may read which dashboard."""
import datetime as dt

from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_report import create_user

D, T = dt.date, dt.datetime
MARCH = {'from_date': D(2026, 3, 1), 'to_date': D(2026, 3, 31)}
MANAGEMENT = ['ev.oem.dashboard.funnel', 'ev.oem.dashboard.zone',
    'ev.oem.dashboard.satisfaction']
DASHBOARDS = ['ev.oem.dashboard.ops'] + MANAGEMENT

# reference: (PIN code, received, contacted, lead state)
LEADS = {
    'L1': ('560001', T(2026, 3, 2, 10), T(2026, 3, 2, 12), 'won'),
    'L2': ('560034', T(2026, 3, 3, 10), T(2026, 3, 3, 14), 'won'),
    'L3': ('560100', T(2026, 3, 4, 10), None, 'lead'),
    'L4': ('110017', T(2026, 3, 5, 10), T(2026, 3, 5, 16), 'contacted'),
    'L5': (None, T(2026, 3, 6, 10), None, 'lead'),
    # before March
    'L6': ('110001', T(2026, 2, 20, 10), T(2026, 2, 20, 11), 'won'),
    'L7': ('110001', T(2026, 1, 5, 10), T(2026, 1, 5, 11), 'on_hold'),
    'L8': ('110020', T(2026, 2, 10, 10), T(2026, 2, 10, 11), 'won'),
    }
# (lead, kind, state, reported, closure call, slot: None, 'today' or a
# datetime)
JOBS = [
    ('L1', 'survey', 'closed', T(2026, 3, 4, 10), None, None),
    ('L1', 'installation', 'closed', T(2026, 3, 10, 10),
        T(2026, 3, 12, 10), None),
    ('L2', 'survey', 'done', T(2026, 3, 5, 10), None, None),
    ('L2', 'installation', 'cancelled', None, None, 'today'),
    ('L3', 'survey', 'scheduled', None, None, 'today'),
    ('L6', 'survey', 'done', T(2026, 2, 22, 10), None, None),
    ('L6', 'installation', 'scheduled', None, None, 'today'),
    ('L6', 'installation', 'emergency', None, None, T(2026, 2, 25, 10)),
    ('L8', 'installation', 'closed', T(2026, 2, 15, 10),
        T(2026, 2, 16, 10), None),
    ]


def setup_march():
    """A company with the leads and jobs above (written by SQL: their dates
    are the point, not the flow), and a second company with a lead of its
    own; the leads' stored figures computed from them"""
    pool = Pool()
    Lead = pool.get('sale.opportunity')
    Job = pool.get('ev.field.job')
    Party = pool.get('party.party')
    cursor = Transaction().connection.cursor()
    lead_table, job_table = Lead.__table__(), Job.__table__()
    company = create_company()
    other = create_company(name="Other Company")
    leads, jobs = {}, {}
    with set_company(other):
        Lead(company=other, lead_source='phone').save()
    with set_company(company):
        start, end = Job._today_range()
        for reference, (pin, received, contacted, state) in LEADS.items():
            customer = Party(name=f"Customer {reference}")
            customer.addresses = [{'postal_code': pin}] if pin else []
            customer.save()
            lead = Lead(company=company, lead_source='phone',
                party=customer, oem_reference=reference)
            lead.save()
            cursor.execute(*lead_table.update(
                    [lead_table.create_date, lead_table.contacted_at,
                        lead_table.state, lead_table.address],
                    [received, contacted, state,
                        customer.addresses[0].id if pin else None],
                    where=lead_table.id == lead.id))
            leads[reference] = lead
        for index, (reference, kind, state, reported, closure, slot) in \
                enumerate(JOBS):
            if slot == 'today':
                slot = start + dt.timedelta(hours=1)
            cursor.execute(*job_table.insert(
                    [job_table.number, job_table.kind, job_table.company,
                        job_table.lead, job_table.state,
                        job_table.reported_at, job_table.closure_call_at,
                        job_table.slot_start, job_table.slot_end,
                        job_table.create_uid, job_table.create_date],
                    [[f'J-{index}', kind, company.id,
                            leads[reference].id, state, reported, closure,
                            slot,
                            slot + dt.timedelta(hours=2) if slot else None,
                            0, dt.datetime.now()]]))
            jobs[index], = Job.search([('number', '=', f'J-{index}')])
    # The SQL writes bypass the events that keep the leads' dashboard
    # figures: computed as the migration does (milestone.py)
    Lead.update_dashboard_figures()
    # The records read before the SQL writes are stale
    for cache in Transaction().cache.values():
        cache.clear()
    return company, leads, jobs


def figures(model, *names, **context):
    "The rows of a dashboard as tuples of `names`, in the model's order"
    Model = Pool().get(model)
    with Transaction().set_context(**context):
        return [tuple(getattr(r, n) for n in names)
            for r in Model.browse(Model.search([]))]


def rounded(rows):
    return [tuple(round(v, 2) if isinstance(v, float) else v for v in row)
        for row in rows]


class DashboardTestCase(CompanyTestMixin, ModuleDBTestCase):
    "Dashboards per role: figures, feedback and access"
    module = 'ev_oem_report'

    @with_transaction()
    def test_ops_figures(self):
        "Central Ops: active leads, today's jobs, reviews and emergencies"
        company, _, _ = setup_march()
        with set_company(company):
            self.assertEqual(
                figures('ev.oem.dashboard.ops', 'figure', 'count'), [
                    ('active_leads', 3),          # L3, L4, L5 (not on hold)
                    ('surveys_today', 1),         # L3
                    ('installations_today', 1),   # L6 (L2's is cancelled)
                    ('pending_reviews', 2),       # L2, L6
                    ('emergencies', 1),           # L6
                    ])

    @with_transaction()
    def test_funnel_figures(self):
        "Management: the funnel of the leads received in March"
        company, _, _ = setup_march()
        with set_company(company):
            self.assertEqual(rounded(figures('ev.oem.dashboard.funnel',
                        'stage', 'leads', 'rate', **MARCH)), [
                    ('received', 5, 100.0),
                    ('contacted', 3, 60.0),
                    ('surveyed', 2, 40.0),
                    ('installed', 1, 20.0),
                    ])

    @with_transaction()
    def test_zone_figures(self):
        "Management: contact hours, survey and installation rates per zone"
        company, _, _ = setup_march()
        with set_company(company):
            self.assertEqual(rounded(figures('ev.oem.dashboard.zone',
                        'zone', 'leads', 'contacted', 'first_contact_hours',
                        'surveys', 'surveys_completed', 'survey_completion',
                        'installations', 'installed',
                        'installation_success', **MARCH)), [
                    ('', 1, 0, None, 0, 0, None, 0, 0, None),
                    ('110', 1, 1, 6.0, 0, 0, None, 0, 0, None),
                    ('560', 3, 2, 3.0, 3, 2, 66.67, 2, 1, 50.0),
                    ])

    @with_transaction()
    def test_satisfaction(self):
        "Management: the ratings after the closure call per month and zone"
        pool = Pool()
        Feedback = pool.get('ev.oem.closure.feedback')
        company, leads, jobs = setup_march()
        with set_company(company):
            Feedback.create([
                    {'job': jobs[1].id, 'rating': 4, 'date': D(2026, 3, 15),
                        'comment': "Neat work"},
                    {'job': jobs[1].id, 'rating': 5, 'date': D(2026, 3, 16)},
                    {'job': jobs[8].id, 'rating': 2, 'date': D(2026, 3, 20),
                        'comment': "Came late"},
                    {'job': jobs[1].id, 'rating': 5, 'date': D(2026, 4, 2)},
                    ])
            feedback, = Feedback.search([('comment', '=', "Came late")])
            self.assertEqual(feedback.lead, leads['L8'])
            self.assertEqual(feedback.zone, '110')
            self.assertEqual(rounded(figures('ev.oem.dashboard.satisfaction',
                        'month', 'zone', 'responses', 'rating',
                        from_date=D(2026, 3, 1), to_date=D(2026, 4, 30))), [
                    (D(2026, 4, 1), '560', 1, 5.0),
                    (D(2026, 3, 1), '110', 1, 2.0),
                    (D(2026, 3, 1), '560', 2, 4.5),
                    ])

    @with_transaction()
    def test_feedback_rating_out_of_range(self):
        "A rating outside 1 to 5 is refused with its reason"
        Feedback = Pool().get('ev.oem.closure.feedback')
        company, _, jobs = setup_march()
        with set_company(company):
            for rating in [0, 6]:
                with self.assertRaises(ValidationError) as cm:
                    Feedback.create([{'job': jobs[1].id, 'rating': rating}])
                self.assertEqual(cm.exception.message,
                    'The rating of the customer feedback on job "J-1" must '
                    'be a whole number from 1 (very unhappy) to 5 (very '
                    f'happy), not {rating}.')

    @with_transaction()
    def test_feedback_before_closure_call(self):
        "No feedback on a job before its closure call"
        Feedback = Pool().get('ev.oem.closure.feedback')
        company, _, jobs = setup_march()
        with set_company(company):
            with self.assertRaises(ValidationError) as cm:
                Feedback.create([{'job': jobs[3].id, 'rating': 3}])
            self.assertEqual(cm.exception.message,
                'Customer feedback on job "J-3" is entered after its '
                'closure call: make the call first.')

    @with_transaction()
    def test_access_field_team_and_oem(self):
        "A field team's or an OEM's user reads no dashboard nor feedback"
        pool = Pool()
        Party = pool.get('party.party')
        company, _, _ = setup_march()
        oem = Party(name="Tata Motors", ev_is_oem=True)
        oem.save()
        crew = create_user('crew', 'ev_field.group_field_team',
            company=company)
        oem_user = create_user('tata', 'ev_lead.group_oem', oem=oem,
            company=company)
        with set_company(company):
            for user in [crew, oem_user]:
                for model in DASHBOARDS + ['ev.oem.closure.feedback']:
                    Model = pool.get(model)
                    with self.subTest(user=user.login, model=model), \
                            as_user(user), self.assertRaises(AccessError):
                        Model.search([])

    @with_transaction()
    def test_access_roles(self):
        """Central Ops reads its own dashboard and enters feedback, not the
        Management figures; Management reads them all"""
        pool = Pool()
        Feedback = pool.get('ev.oem.closure.feedback')
        company, _, jobs = setup_march()
        ops = create_user('ops', 'ev_lead.group_central_ops',
            company=company)
        manager = create_user('boss', 'ev_oem_report.group_management',
            company=company)
        with set_company(company):
            with as_user(ops):
                self.assertEqual(
                    len(figures('ev.oem.dashboard.ops', 'count')), 5)
                Feedback.create([{'job': jobs[1].id, 'rating': 5}])
                for model in MANAGEMENT:
                    with self.subTest(model=model), \
                            self.assertRaises(AccessError):
                        pool.get(model).search([])
            with as_user(manager):
                for model in DASHBOARDS:
                    with self.subTest(model=model):
                        self.assertTrue(pool.get(model).search([]))
                with self.assertRaises(AccessError):
                    Feedback.create([{'job': jobs[1].id, 'rating': 5}])
