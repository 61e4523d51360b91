# This file is part of the EV operations suite.
"""Cost per installation: the figures of four installations of two teams
over two months computed by hand, their sums per team, OEM and month,
the context's filters, and the doors tried as a field team"""
import datetime as dt
from contextlib import contextmanager
from decimal import Decimal

from trytond.model.exceptions import AccessError
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, without_check_access

from .tools import PayoutWorld, payable_job, place_hold, set_schedule

D = dt.date
YEAR = dt.date.today().year - 1
# The columns compared, in this order
MONEY = ['materials', 'labour', 'logistics', 'service_visits',
    'service_parts', 'total_cost', 'revenue', 'margin']


@contextmanager
def cost_context(w, **values):
    context = {'company': w.company.id, 'from_date': D(YEAR, 1, 1),
        'to_date': D(YEAR, 12, 31)}
    context.update(values)
    with Transaction().set_context(**context):
        yield


def figures(row):
    return tuple(getattr(row, n) for n in MONEY)


def money(*values):
    return tuple(Decimal(v) for v in values)


class CostTestCase(PayoutWorld, ModuleDBTestCase):
    module = 'ev_payout'

    def lead(self, w, amount, oem=None, reference=None):
        Lead = Pool().get('sale.opportunity')
        lead = Lead(party=w.customer, address=w.lead.address,
            charger_quantity=1, charger_model="Wallbox 7kW",
            lead_source='oem' if oem else 'phone', oem=oem,
            oem_reference=reference, amount=Decimal(amount))
        lead.save()
        return lead

    def visit(self, w, lead, team, on, hour):
        "A service visit of `team` to the station of `lead`, reported `on`"
        pool = Pool()
        Job = pool.get('ev.field.job')
        Case = pool.get('ev.service.case')
        case = self.case(w, decision='on_site_visit')
        start = dt.datetime.combine(on, dt.time(hour))
        job = Job(kind='service', lead=lead, company=w.company, team=team,
            slot_start=start, slot_end=start + dt.timedelta(hours=1))
        job.save()
        with without_check_access():
            Job.write([job], {'state': 'done',
                    'reported_at': start + dt.timedelta(hours=1)})
            Case.write([case], {'visit_job': job.id})
        return case

    def world(self):
        """Four installations: Alpha's J1 (March, OEM Tata, its lead's
        station serviced twice, a part shipped), Beta's J2 (March, direct),
        Alpha's J3 (April, OEM Ather) and J4 (April, J1's lead again)"""
        pool = Pool()
        Party = pool.get('party.party')
        Station = pool.get('ev.station')
        Part = pool.get('ev.service.part')
        Run = pool.get('ev.payout.run')
        w = self.setup()
        with w.set_company(w.company):
            w.tata = Party(name="Tata Motors", ev_is_oem=True)
            w.ather = Party(name="Ather Energy", ev_is_oem=True)
            Party.save([w.tata, w.ather])
            w.lead_a = self.lead(w, 75000, w.tata, 'TM-1')
            w.lead_b = self.lead(w, 42000)
            w.lead_c = self.lead(w, 36000, w.ather, 'AE-1')
            with without_check_access():
                Station.write([w.station], {'lead': w.lead_a.id})
            w.alpha.visit_rate = Decimal(800)
            w.alpha.save()

            w.j1 = payable_job(w, w.alpha, D(YEAR, 3, 10),
                materials=Decimal('31250.50'), logistics=Decimal(800),
                extra=Decimal(500), extra_reason="Extra 20 m cable run",
                lead=w.lead_a)
            w.j2 = payable_job(w, w.beta, D(YEAR, 3, 20),
                materials=Decimal(28000), logistics=Decimal(800),
                lead=w.lead_b)
            # Agreed but not paid yet (no run for April): not in labour
            w.j3 = payable_job(w, w.alpha, D(YEAR, 4, 5),
                materials=Decimal('30000.25'), logistics=Decimal(800),
                extra=Decimal(300), extra_reason="Civil work",
                lead=w.lead_c)
            w.j4 = payable_job(w, w.alpha, D(YEAR, 4, 15),
                materials=Decimal(1000), lead=w.lead_a)

            # After the installation: a visit paid in March's run (800), a
            # visit in April at the rate then (900), a part shipped
            # (30000) and one not shipped, a hold (not a cost)
            self.visit(w, w.lead_a, w.alpha, D(YEAR, 3, 25), 15)
            case = self.visit(w, w.lead_a, w.alpha, D(YEAR, 4, 20), 15)
            shipped = self.part(w, case, None, label='RL-7')
            self.part(w, case, None, label='RL-8')
            with without_check_access():
                Part.write([shipped], {
                        'shipped_at': dt.datetime(YEAR, 4, 18, 10)})
            place_hold(w, self, 5000, D(YEAR, 3, 28))
            set_schedule(w.alpha, 'month', D(YEAR, 3, 1))
            Run.create_runs(today=D(YEAR, 4, 1))
            w.alpha.visit_rate = Decimal(900)
            w.alpha.save()
        return w

    @with_transaction()
    def test_cost_per_installation(self):
        "Each column of each installation, computed by hand"
        pool = Pool()
        Cost = pool.get('ev.payout.cost')
        Line = pool.get('ev.payout.line')
        w = self.world()
        with w.set_company(w.company):
            # March's run paid J1's labour and extra, the first visit and
            # deducted the hold
            self.assertEqual(sorted((line.kind, line.amount) for line in
                    Line.search([('team', '=', w.alpha.id)])),
                [('extra', Decimal(500)), ('hold', Decimal(-5000)),
                    ('labour', Decimal(2500)), ('visit', Decimal(800))])
            with cost_context(w):
                rows = {r.job: r for r in Cost.search([])}
            self.assertEqual(set(rows), {w.j1, w.j2, w.j3, w.j4})
            j1, j2, j3, j4 = (rows[j] for j in [w.j1, w.j2, w.j3, w.j4])
            # Materials + labour and extra + logistics + visits (800 paid,
            # 900 at the rate) + shipped part; the hold is not a cost
            self.assertEqual(figures(j1), money('31250.50', 3000, 800, 1700,
                    30000, '66750.50', 75000, '8249.50'))
            self.assertAlmostEqual(j1.margin_percent, 10.999333, places=5)
            self.assertEqual(figures(j2), money(28000, 2000, 800, 0, 0,
                    30800, 42000, 11200))
            self.assertAlmostEqual(j2.margin_percent, 26.666667, places=5)
            self.assertEqual(figures(j3), money('30000.25', 2500, 800, 0, 0,
                    '33300.25', 36000, '2699.75'))
            self.assertAlmostEqual(j3.margin_percent, 7.499306, places=5)
            # The lead's second installation: its own costs only
            self.assertEqual(figures(j4), money(1000, 2500, 0, 0, 0, 3500,
                    0, -3500))
            self.assertIsNone(j4.margin_percent)
            self.assertEqual(
                [(r.team, r.lead, r.oem, r.payable_date, r.month)
                    for r in [j1, j2, j3, j4]],
                [(w.alpha, w.lead_a, w.tata, D(YEAR, 3, 10), D(YEAR, 3, 1)),
                    (w.beta, w.lead_b, None, D(YEAR, 3, 20), D(YEAR, 3, 1)),
                    (w.alpha, w.lead_c, w.ather, D(YEAR, 4, 5),
                        D(YEAR, 4, 1)),
                    (w.alpha, w.lead_a, w.tata, D(YEAR, 4, 15),
                        D(YEAR, 4, 1))])
            # Searched and ordered like any model
            with cost_context(w):
                self.assertEqual([r.job for r in Cost.search(
                            [('margin', '<', 0)])], [w.j4])
                self.assertEqual([r.job for r in Cost.search(
                            [('oem', '=', w.tata.id)],
                            order=[('payable_date', 'ASC')])], [w.j1, w.j4])

    @with_transaction()
    def test_sums_per_team_oem_month(self):
        "The sums per team, per OEM (none for direct leads) and per month"
        pool = Pool()
        PerTeam = pool.get('ev.payout.cost.team')
        PerOEM = pool.get('ev.payout.cost.oem')
        PerMonth = pool.get('ev.payout.cost.month')
        w = self.world()
        with w.set_company(w.company), cost_context(w):
            teams = {r.team: r for r in PerTeam.search([])}
            self.assertEqual(set(teams), {w.alpha, w.beta})
            self.assertEqual(teams[w.alpha].jobs, 3)
            self.assertEqual(figures(teams[w.alpha]),
                money('62250.75', 8000, 1600, 1700, 30000, '103550.75',
                    111000, '7449.25'))
            self.assertAlmostEqual(teams[w.alpha].margin_percent, 6.711036,
                places=5)
            self.assertEqual((teams[w.beta].jobs, figures(teams[w.beta])),
                (1, money(28000, 2000, 800, 0, 0, 30800, 42000, 11200)))

            oems = {r.oem: r for r in PerOEM.search([])}
            self.assertEqual(set(oems), {w.tata, w.ather, None})
            self.assertEqual((oems[w.tata].jobs, figures(oems[w.tata])),
                (2, money('32250.50', 5500, 800, 1700, 30000, '70250.50',
                        75000, '4749.50')))
            self.assertEqual((oems[w.ather].jobs, figures(oems[w.ather])),
                (1, money('30000.25', 2500, 800, 0, 0, '33300.25', 36000,
                        '2699.75')))
            self.assertEqual((oems[None].jobs, figures(oems[None])),
                (1, money(28000, 2000, 800, 0, 0, 30800, 42000, 11200)))

            months = PerMonth.search([], order=[('month', 'ASC')])
            self.assertEqual(
                [(r.month, r.jobs, figures(r)) for r in months],
                [(D(YEAR, 3, 1), 2, money('59250.50', 5000, 1600, 1700,
                            30000, '97550.50', 117000, '19449.50')),
                    (D(YEAR, 4, 1), 2, money('31000.25', 5000, 800, 0, 0,
                            '36800.25', 36000, '-800.25'))])
            self.assertAlmostEqual(months[1].margin_percent, -2.222917,
                places=5)

    @with_transaction()
    def test_context_filters(self):
        "The dates, the team and the OEM of the context"
        pool = Pool()
        Cost = pool.get('ev.payout.cost')
        PerMonth = pool.get('ev.payout.cost.month')
        PerTeam = pool.get('ev.payout.cost.team')
        w = self.world()
        with w.set_company(w.company):
            with cost_context(w, from_date=D(YEAR, 3, 15),
                    to_date=D(YEAR, 4, 10)):
                self.assertEqual(sorted(r.job.id for r in Cost.search([])),
                    sorted([w.j2.id, w.j3.id]))
                self.assertEqual([(r.month, r.jobs, r.total_cost)
                        for r in PerMonth.search([],
                            order=[('month', 'ASC')])],
                    [(D(YEAR, 3, 1), 1, Decimal(30800)),
                        (D(YEAR, 4, 1), 1, Decimal('33300.25'))])
            # The last day is included; J1 out of the range keeps the
            # lead's revenue and service: J4 shows none
            with cost_context(w, from_date=D(YEAR, 4, 1),
                    to_date=D(YEAR, 4, 15)):
                rows = {r.job: r for r in Cost.search([])}
                self.assertEqual(set(rows), {w.j3, w.j4})
                self.assertEqual(figures(rows[w.j4]),
                    money(1000, 2500, 0, 0, 0, 3500, 0, -3500))
            with cost_context(w, to_date=D(YEAR, 3, 9)):
                self.assertEqual(Cost.search([]), [])
                self.assertEqual(PerTeam.search([]), [])
            with cost_context(w, team=w.beta.id):
                self.assertEqual([r.job for r in Cost.search([])], [w.j2])
                self.assertEqual([(r.team, r.jobs) for r in
                        PerTeam.search([])], [(w.beta, 1)])
            with cost_context(w, oem=w.tata.id):
                self.assertEqual(sorted(r.job.id for r in Cost.search([])),
                    sorted([w.j1.id, w.j4.id]))
                self.assertEqual([(r.month, r.revenue) for r in
                        PerMonth.search([], order=[('month', 'ASC')])],
                    [(D(YEAR, 3, 1), Decimal(75000)),
                        (D(YEAR, 4, 1), Decimal(0))])
            # Another company sees nothing of it
            with cost_context(w, company=w.company.id + 1000):
                self.assertEqual(Cost.search([]), [])

    @with_transaction()
    def test_field_team_cannot_read_costs(self):
        "A crew reads none of the costs; Finance and Central Ops read them"
        pool = Pool()
        w = self.world()
        names = ['ev.payout.cost', 'ev.payout.cost.team',
            'ev.payout.cost.oem', 'ev.payout.cost.month']
        with w.set_company(w.company):
            for name in names:
                Model = pool.get(name)
                for user in [w.alpha_user, w.beta_user]:
                    with cost_context(w), as_user(user), \
                            self.assertRaises(AccessError) as cm:
                        Model.search_read([], fields_names=['margin'])
                    self.assertEqual(cm.exception.message,
                        f'You are not allowed to access '
                        f'"{Model.__string__}".')
                for user in [w.finance, w.ops]:
                    with cost_context(w), as_user(user):
                        self.assertTrue(Model.search_read([],
                                fields_names=['margin', 'total_cost']))


del ModuleDBTestCase
