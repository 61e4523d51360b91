# This file is part of the EV operations suite.
"""The payout cycle run twice at once, and Post clicked twice at once,
create one run and one payment (issue 15).

Two real transactions in two threads on PostgreSQL: Tryton 8 takes a
record lock by starting the transaction again with the lock (as the cron,
the worker and the RPC dispatcher do), so the second waits for the first
to commit and then finds the work done. PostgreSQL only: SQLite has one
writer at a time. The database is DB_NAME + '_payconc', dropped at the
end."""
import datetime as dt
import os
import threading
from decimal import Decimal

import pytest

from test_field_concurrency import activate

URI = os.environ.get('TRYTOND_DATABASE__URI', '')
pytestmark = pytest.mark.skipif(
    not URI.startswith('postgresql'),
    reason="concurrent payout cycles need PostgreSQL's row locks; "
    "TRYTOND_DATABASE__URI is not postgresql://")

USER = 1  # admin
YEAR = dt.date.today().year - 1
TIMEOUT = 60


COMPANY = {}


def in_transaction(database, function, barrier=None):
    """function() in a committed transaction of admin, started again with
    the locks it asks for (as trytond-cron does)"""
    from trytond.transaction import Transaction, TransactionError
    extras = {}
    while True:
        try:
            with Transaction().start(database, USER, **extras) as t:
                if barrier is not None:
                    barrier.wait()
                    barrier = None
                with t.set_context(company=COMPANY[database]):
                    result = function()
                t.commit()
            return result
        except TransactionError as error:
            error.fix(extras)


def build_in_transaction(database, function):
    "function() committed, with the locks it asks for (no company yet)"
    from trytond.transaction import Transaction, TransactionError
    extras = {}
    while True:
        try:
            with Transaction().start(database, USER, **extras) as t:
                function()
                t.commit()
            return
        except TransactionError as error:
            error.fix(extras)


def in_threads(database, function):
    "function() in two transactions at once; the results or exceptions"
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    outcomes = [None, None]

    def target(i):
        try:
            outcomes[i] = in_transaction(database, function, barrier)
        except Exception as error:
            outcomes[i] = error
    threads = [threading.Thread(target=target, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    return outcomes


@pytest.fixture(scope='module')
def database():
    "ev_payout with a company, its accounting and a monthly team"
    from trytond.modules.account.tests.test_module import (
        create_chart, get_fiscalyear)
    from trytond.modules.account_invoice.tests.test_module import (
        set_invoice_sequences)
    from trytond.modules.company.tests import create_company
    from trytond.modules.ev_payout.tests.tools import payable_job
    from trytond.pool import Pool
    from trytond.tests.test_tryton import db_exist, drop_db
    from trytond.transaction import Transaction
    import types

    name = (os.environ.get('DB_NAME') or f'test_{os.getpid()}') + '_payconc'
    if db_exist(name):
        drop_db(name)
    activate(name, 'ev_payout')

    def build():
        transaction = Transaction()
        pool = Pool()
        User = pool.get('res.user')
        Party = pool.get('party.party')
        Lead = pool.get('sale.opportunity')
        Team = pool.get('ev.field.team')
        Account = pool.get('account.account')
        Journal = pool.get('account.journal')
        PaymentJournal = pool.get('account.payment.journal')
        Configuration = pool.get('ev.payout.configuration')
        FiscalYear = pool.get('account.fiscalyear')
        Schedule = pool.get('ev.payout.schedule')
        company = create_company()
        COMPANY[name] = company.id
        User.write([User(USER)], {
                'companies': [('add', [company.id])],
                'company': company.id,
                })
        with transaction.set_context(company=company.id):
            create_chart(company)
            fiscalyear = set_invoice_sequences(get_fiscalyear(company))
            fiscalyear.save()
            FiscalYear.create_period([fiscalyear])
            expense, = Account.search([('type.expense', '=', True),
                    ('closed', '!=', True)], limit=1)
            payable, = Account.search([('type.payable', '=', True),
                    ('closed', '!=', True)], limit=1)
            clearing = Account(name="Bank Clearing", type=payable.type,
                reconcile=True, deferral=True, parent=payable.parent,
                company=company)
            clearing.save()
            journal, = Journal.search([('code', '=', 'EXP')])
            payment_journal = PaymentJournal(name="Bank transfers",
                process_method='manual', currency=company.currency,
                company=company, clearing_journal=journal,
                clearing_account=clearing)
            payment_journal.save()
            config = Configuration(1)
            config.expense_account = expense
            config.hold_account = expense
            config.payment_journal = payment_journal
            config.save()
            contractor = Party(name="North Electricals",
                addresses=[{'street': "4 Industrial Area"}])
            contractor.save()
            team = Team(name="North", code='NORTH', company=company,
                installation=True, labour_rate=Decimal(2500),
                contractor=contractor, payout_vpa='north@okaxis')
            team.save()
            Schedule(team=team, frequency='month',
                valid_from=dt.date(YEAR, 7, 1)).save()
            customer = Party(name="Meera Iyer")
            customer.save()
            lead = Lead(party=customer)
            lead.save()
            w = types.SimpleNamespace(lead=lead, company=company)
            for day in (3, 10, 17):
                payable_job(w, team, dt.date(YEAR, 7, day))

    try:
        build_in_transaction(name, build)
        yield name
    finally:
        drop_db(name)


def test_concurrent_cycles_draft_one_run(database):
    from trytond.pool import Pool

    def cycle():
        return [r.id for r in Pool().get('ev.payout.run').create_runs(
                today=dt.date(YEAR, 8, 2))]
    outcomes = in_threads(database, cycle)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sorted(len(o) for o in outcomes) == [0, 1], outcomes

    def runs():
        Run = Pool().get('ev.payout.run')
        return [(r.period_start, r.period_end, len(r.lines), r.net)
            for r in Run.search([])]
    assert in_transaction(database, runs) == [
        (dt.date(YEAR, 7, 1), dt.date(YEAR, 7, 31), 3, Decimal('7500.00'))]
    # And once more, later: nothing new
    assert in_transaction(database, cycle) == []


def test_concurrent_posts_make_one_payment(database):
    from trytond.pool import Pool

    def sign_off():
        Run = Pool().get('ev.payout.run')
        run, = Run.search([])
        Run.send([run])
        Run.close_signoff(now=dt.datetime.now() + dt.timedelta(days=4))
    in_transaction(database, sign_off)

    def post():
        Run = Pool().get('ev.payout.run')
        Run.post(Run.search([('state', '=', 'signed')]))
    outcomes = in_threads(database, post)
    # The second click waits for the lock (Tryton retries a few times) and
    # either finds the run posted or gives up: never a second payment
    from trytond.backend import DatabaseOperationalError
    assert None in outcomes, outcomes
    assert all(o is None or isinstance(o, DatabaseOperationalError)
        for o in outcomes), outcomes

    def money():
        pool = Pool()
        Run = pool.get('ev.payout.run')
        Invoice = pool.get('account.invoice')
        Payment = pool.get('account.payment')
        run, = Run.search([])
        return (run.state, [i.total_amount for i in Invoice.search([])],
            [p.amount for p in Payment.search([])])
    assert in_transaction(database, money) == (
        'posted', [Decimal('7500.00')], [Decimal('7500.00')])
