# This file is part of the EV operations suite.
"""The Finance dashboard (with ev_payout): its figures on a hand-built set
of runs, lines and holds; it shows money, so Finance and Management read it
and Central Ops does not; nor do the field teams. A hold placed publishes
the dashboard on the bus (dashboard_refresh)."""
import datetime as dt
from decimal import Decimal

from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.ev_oem_report.dashboard_refresh import FINANCE
from trytond.modules.ev_service.tests.test_service import ServiceWorld
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, without_check_access

from .test_dashboard_refresh import bus_message, pending, published
from .test_report import create_user

D = dt.date
# The payout runs: (reference, company, state, [(line amount, line state)])
RUNS = [
    ('R1', 'ours', 'draft', [(2500, 'proposed'), (500, 'confirmed'),
            (1000, 'disputed')]),             # net 3000: the dispute left
    ('R2', 'ours', 'draft', [(2000, 'confirmed'), (-700, 'confirmed')]),
    ('R3', 'ours', 'sign_off', [(1800, 'proposed')]),
    ('R4', 'ours', 'signed', []),             # nothing to pay: 0
    ('R5', 'ours', 'posted', [(4200, 'confirmed')]),
    ('R6', 'ours', 'paid', [(999, 'confirmed')]),
    ('R7', 'ours', 'cancelled', [(888, 'proposed')]),
    ('R8', 'other', 'draft', [(5000, 'proposed')]),
    ]
# The lines waiting for a run: (company, kind, amount, state)
PENDING_LINES = [
    ('ours', 'adjustment', 150, 'proposed'),
    ('ours', 'settlement', 250, 'confirmed'),
    ('ours', 'adjustment', 400, 'disputed'),
    ('other', 'adjustment', 77, 'proposed'),
    ]
# The holds: (company, amount, state)
HOLDS = [
    ('ours', 1200, 'active'),
    ('ours', 700, 'active'),
    ('ours', 500, 'released'),
    ('other', 900, 'active'),
    ]


class FinanceWorld(ServiceWorld):
    "The service world's company, team Alpha and a part to hold for"

    def setup_finance(self):
        """RUNS, PENDING_LINES and HOLDS written by SQL (their states are
        the point, not the flows that reach them)"""
        pool = Pool()
        Run = pool.get('ev.payout.run')
        Line = pool.get('ev.payout.line')
        Hold = pool.get('ev.service.hold')
        w = self.setup()
        other = create_company(name="Other Company", currency=w.inr)
        companies = {'ours': w.company.id, 'other': other.id}
        with set_company(w.company):
            part = self.part(w, self.case(w), None, label=None)
        run, line, hold = Run.__table__(), Line.__table__(), Hold.__table__()
        cursor = Transaction().connection.cursor()
        now = dt.datetime.now()

        def insert_line(company, run_id, kind, amount, state):
            cursor.execute(*line.insert([line.company, line.team,
                        line.currency, line.run, line.kind, line.date,
                        line.description, line.amount, line.state,
                        line.create_uid, line.create_date],
                    [[companies[company], w.alpha.id, w.inr.id, run_id,
                            kind, D(2026, 3, 2), f"{kind} {amount}",
                            Decimal(amount), state, 0, now]]))
        for reference, company, state, lines in RUNS:
            cursor.execute(*run.insert([run.number, run.company, run.team,
                        run.frequency, run.period_start, run.period_end,
                        run.currency, run.state, run.create_uid,
                        run.create_date],
                    [[reference, companies[company], w.alpha.id,
                            'fortnight', D(2026, 3, 1), D(2026, 3, 15),
                            w.inr.id, state, 0, now]]))
            run_id, = Run.search([('number', '=', reference)])
            for amount, line_state in lines:
                insert_line(company, run_id.id, 'labour', amount, line_state)
        for company, kind, amount, state in PENDING_LINES:
            insert_line(company, None, kind, amount, state)
        for company, amount, state in HOLDS:
            cursor.execute(*hold.insert([hold.part, hold.company,
                        hold.party, hold.amount, hold.currency, hold.state,
                        hold.create_uid, hold.create_date],
                    [[part.id, companies[company], w.contractor.id,
                            Decimal(amount), w.inr.id, state, 0, now]]))
        return w


class FinanceDashboardTestCase(FinanceWorld, ModuleDBTestCase):
    "The Finance dashboard: its figures, its readers, its refresh"
    # CompanyTestMixin's checks run in test_dashboard.py (they take one
    # module, not the two activated here)
    module = ['ev_oem_report', 'ev_payout']

    @with_transaction()
    def test_finance_readers(self):
        "Finance reads every figure (none due yet); Central Ops cannot"
        pool = Pool()
        Finance = pool.get('ev.oem.dashboard.finance')
        company = create_company()
        finance = create_user('finance', 'ev_station.group_finance',
            company=company)
        ops = create_user('ops', 'ev_lead.group_central_ops',
            company=company)
        crew = create_user('crew', 'ev_field.group_field_team',
            company=company)
        with set_company(company):
            with as_user(finance):
                rows = Finance.read([r.id for r in Finance.search([])],
                    ['figure', 'count', 'amount'])
                self.assertEqual(
                    [(r['figure'], r['count'], float(r['amount']))
                        for r in rows], [
                        ('runs_draft', 0, 0.0),
                        ('runs_sign_off', 0, 0.0),
                        ('runs_signed', 0, 0.0),
                        ('runs_posted', 0, 0.0),
                        ('lines_pending', 0, 0.0),
                        ('holds_active', 0, 0.0),
                        ])
            for user in [ops, crew]:
                with self.subTest(user=user.login), as_user(user), \
                        self.assertRaises(AccessError):
                    Finance.search([])

    @with_transaction()
    def test_finance_figures(self):
        """The runs before paid per state with their net (the counted
        lines), the lines waiting for a run, the active holds: of the
        company only"""
        Finance = Pool().get('ev.oem.dashboard.finance')
        w = self.setup_finance()
        finance = create_user('finance', 'ev_station.group_finance',
            company=w.company)
        with set_company(w.company), as_user(finance):
            rows = Finance.read([r.id for r in Finance.search([])],
                ['figure', 'count', 'amount'])
        self.assertEqual(
            [(r['figure'], r['count'], r['amount']) for r in rows], [
                ('runs_draft', 2, Decimal('4300.00')),     # R1, R2
                ('runs_sign_off', 1, Decimal('1800.00')),  # R3
                ('runs_signed', 1, Decimal('0.00')),       # R4
                ('runs_posted', 1, Decimal('4200.00')),    # R5
                ('lines_pending', 2, Decimal('400.00')),
                ('holds_active', 2, Decimal('1900.00')),
                ])

    @with_transaction()
    def test_hold_publishes_finance(self):
        "A hold placed and released reloads the Finance dashboard"
        Hold = Pool().get('ev.service.hold')
        w = self.setup()
        with set_company(w.company):
            part = self.part(w, self.case(w), None, label=None)
            pending().tpc_finish(Transaction())
            with without_check_access():
                hold, = Hold.create([{'part': part.id,
                            'company': w.company.id,
                            'party': w.contractor.id,
                            'amount': Decimal(700), 'currency': w.inr.id}])
            self.assertEqual(published(), [bus_message(FINANCE)])
            pending().tpc_finish(Transaction())
            Hold.release([hold], "Old charger returned")
            self.assertEqual(published(), [bus_message(FINANCE)])
