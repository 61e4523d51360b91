# This file is part of the EV operations suite.
"""The Finance dashboard (with ev_payout): it shows money, so Finance and
Management read it and Central Ops does not; nor do the field teams."""
from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from .test_report import create_user


class FinanceDashboardTestCase(ModuleDBTestCase):
    "The Finance dashboard: its figures without money due, and its readers"
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
