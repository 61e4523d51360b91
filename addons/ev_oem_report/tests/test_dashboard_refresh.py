# This file is part of the EV operations suite.
"""What a transaction publishes for the live dashboards (dashboard_refresh):
one message at its commit naming the dashboards whose data it changed,
nothing when it changed nothing they read or rolled back, and never a
record's data. The delivery through PostgreSQL's NOTIFY and sao's reload
are tested with a real server (tests/test_browser_dashboard.py)."""
import datetime as dt
import json
from unittest.mock import patch

from trytond.modules.company.tests import create_company, set_company
from trytond.modules.ev_oem_report import dashboard_refresh
from trytond.modules.ev_oem_report.dashboard_refresh import (
    CHANNEL, SATISFACTION, ZONE, DashboardChanges)
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_dashboard import setup_march

LEADS_DASHBOARDS = ['ev.oem.dashboard.funnel', 'ev.oem.dashboard.ops',
    'ev.oem.dashboard.zone']


def pending():
    """The transaction's dashboard changes (Transaction.join hands back the
    one joined, or joins an empty one)"""
    return Transaction().join(DashboardChanges())


def bus_message(*models):
    "The (channel, message) of the dashboards `models`"
    return (CHANNEL, {'type': 'ev.dashboard', 'models': list(models)})


def published():
    """The messages the transaction's commit publishes on a backend with
    channels"""
    transaction = Transaction()
    with patch.object(dashboard_refresh.Bus, 'publish') as publish, \
            patch.object(type(transaction.database), 'has_channel',
                return_value=True):
        pending().commit(transaction)
    return [c.args for c in publish.call_args_list]


class DashboardRefreshTestCase(ModuleDBTestCase):
    "The dashboards' bus message: once per transaction, names only"
    module = 'ev_oem_report'

    @with_transaction()
    def test_one_message_per_transaction(self):
        "Leads and jobs created and moved on: one message at the commit"
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Job = pool.get('ev.field.job')
        company = create_company()
        with set_company(company):
            leads = Lead.create([{'company': company.id,
                        'lead_source': 'phone'} for _ in range(3)])
            Lead.write(leads[:1], {'state': 'contacted'})
            Job.create([{'lead': leads[0].id, 'kind': 'survey'}])
        self.assertEqual(published(), [bus_message(*LEADS_DASHBOARDS)])

    @with_transaction()
    def test_message_carries_names_only(self):
        """Anyone may listen to the channel: the message names dashboard
        models, nothing of the records (ids, names, amounts, companies)"""
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            customer = Party(name="Secret Customer")
            customer.save()
            lead, = Lead.create([{'company': company.id,
                        'lead_source': 'phone', 'party': customer.id}])
        (channel, message), = published()
        self.assertEqual(set(message), {'type', 'models'})
        self.assertTrue(all(m.startswith('ev.oem.dashboard.')
                for m in message['models']))
        payload = json.dumps(message)
        for secret in ["Secret Customer", str(lead.id), str(company.id)]:
            with self.subTest(secret=secret):
                self.assertNotIn(secret, payload.replace(
                        'ev.oem.dashboard', ''))

    @with_transaction()
    def test_write_of_other_fields_publishes_nothing(self):
        "A write no dashboard reads (a job's note) reloads nothing"
        Job = Pool().get('ev.field.job')
        company, _, jobs = setup_march()
        # setup_march's leads and jobs are the set-up's, not the test's
        pending().tpc_finish(Transaction())
        with set_company(company):
            Job.write([jobs[4]], {'day_call_note': "Customer asks for a call"})
        self.assertEqual(published(), [])
        with set_company(company):
            Job.write([jobs[4]], {'state': 'cancelled'})
        self.assertEqual(published(), [bus_message(*LEADS_DASHBOARDS)])

    @with_transaction()
    def test_feedback_and_address(self):
        """A feedback reloads the satisfaction, a PIN code changed the
        zones"""
        pool = Pool()
        Feedback = pool.get('ev.oem.closure.feedback')
        company, leads, jobs = setup_march()
        pending().tpc_finish(Transaction())
        with set_company(company):
            Feedback.create([{'job': jobs[1].id, 'rating': 4,
                        'date': dt.date(2026, 3, 15)}])
        self.assertEqual(published(), [bus_message(SATISFACTION)])
        pending().tpc_finish(Transaction())
        address = leads['L1'].address
        address.postal_code = '110002'
        address.save()
        self.assertEqual(published(), [bus_message(ZONE)])

    @with_transaction()
    def test_rollback_publishes_nothing(self):
        "A transaction rolled back publishes nothing at its next commit"
        Lead = Pool().get('sale.opportunity')
        company = create_company()
        with set_company(company):
            Lead.create([{'company': company.id, 'lead_source': 'phone'}])
        Transaction().rollback()
        self.assertEqual(published(), [])

    @with_transaction()
    def test_sqlite_publishes_nothing(self):
        "Without channels (SQLite) the commit publishes nothing"
        Lead = Pool().get('sale.opportunity')
        transaction = Transaction()
        company = create_company()
        with set_company(company):
            Lead.create([{'company': company.id, 'lead_source': 'phone'}])
        with patch.object(dashboard_refresh.Bus, 'publish') as publish, \
                patch.object(type(transaction.database), 'has_channel',
                    return_value=False):
            pending().commit(transaction)
        publish.assert_not_called()
