#!/usr/bin/env python3
"""Benchmark of the payout cycle on PostgreSQL (`./ev bench`).

The issue's target (issue 15), with 1,000 teams and 50,000 payable jobs:
one full payout cycle (the runs, their supplier invoices and their
payments) in at most 60 s, its time growing linearly with the jobs (the
figures at 10,000, 25,000 and 50,000 jobs).

The script keeps a template database (ev_bench_payout at the full size,
ev_bench_payout_<teams> otherwise) with ev_payout
activated (trytond-admin) and the world of the cycle made through the ORM:
a company in INR with a chart of accounts, the fiscal years of last month
and of today with their invoice sequences, the payout configuration (expense
and hold accounts, a manual payment journal with its clearing account),
one customer's lead, and the teams, each with a contractor party (an
invoice address), a UPI ID and a monthly schedule from the first day of last
month. A rerun reuses it when it has the teams asked and the same month
(--rebuild forces a new one) and updates the modules when their sources
changed since.

For each size, a copy of the template (ev_bench_payout_cycle, dropped
afterwards) gets the jobs in one set-based INSERT: closed installation jobs
spread over the teams, payable at random times over last month, one in
twenty with an agreed extra. Then one cycle is timed, each stage in
transactions of its own as the cron and the users run it (user root, the
company in the context):
  draft     Run.create_runs(today=the 1st of this month): one run per team
            (the cron)
  send      Central Ops sends every draft run for sign-off, in one call
  signoff   Run.close_signoff(now=past the window): silence confirms (the
            cron)
  post      Finance posts the signed runs, 100 runs a transaction: the
            supplier invoices posted and their payments submitted
  approve   the payments approved, 100 a transaction
  process   the payments processed, one payment group per 100
  succeed   the payments succeeded (the clearing moves; the runs paid),
            100 a transaction

Figures (s unless named):
  payout_<k>k_<stage>          each stage at <k> thousand jobs
  payout_<k>k_own              draft + send + signoff: the suite's own
                               set-based SQL, where the jobs' lines are
  payout_<k>k_accounting       post + approve + process + succeed: Tryton's
                               supplier invoices, payments and clearing
                               moves, one each per team (not per job)
  payout_<k>k_cycle            the whole cycle
  payout_<k>k_per_1000_jobs    the cycle's time per thousand jobs
  payout_cycle_50k             the cycle at 50,000 jobs (the largest size
                               when 50,000 is not among them)
  payout_cycle_ratio_to_target that cycle / 60 s: below 1 is within target
  payout_marginal_per_1000_jobs  (cycle at the largest size - at the
                               smallest) per thousand jobs more
  payout_own_marginal_per_1000_jobs  the same for the suite's own stages
  payout_linearity_per_job_ratio  time per job at the largest size / at the
                               smallest: about 1 when the cycle grows
                               linearly (below 1: a fixed cost per run that
                               the jobs share out)

Then, unless --no-floor, Tryton's accounting alone (TrytonFloor) on a copy
of the template without jobs: per team one supplier invoice of one line,
posted 100 a transaction with the same locks taken up front, its payment
submitted, approved, processed and succeeded as in the cycle; no payout
run or line. It is the floor of any cycle that books an invoice and a
payment per team through Tryton's accounting (account_invoice,
account_payment, account_payment_clearing):
  payout_tryton_floor_<stage>  post, approve, process, succeed
  payout_tryton_floor          their sum
  payout_tryton_floor_ratio_to_target  the floor / 60 s
  payout_cycle_ratio_to_tryton_floor   the cycle at the largest size / the
                               floor
  payout_accounting_ratio_to_tryton_floor  the cycle's accounting stages /
                               the floor: about 1 when the suite adds
                               nothing to Tryton's accounting

Python's assertions: trytond's ModelStorage.__init__ asserts that every id
of the list a record was browsed with is an int, so an ORM call carrying N
records costs O(N^2) unless Python runs with -O (PYTHONOPTIMIZE): browsing
20,000 payout lines took 27 s, 0.4 s with -O. Since the cycle's own stages
are set-based SQL (the lines of all the runs gathered in one statement per
kind, silence confirmed in one UPDATE, totals read by SQL), no stage carries
the lines through the ORM any more; the accounting stages carry a run, an
invoice and a payment per team, in chunks of 100.

It prints lines `bench: <name> <value> <unit>` and never fails on time: the
exit code is non-zero only on a real error, or when the cycle did not pay
every run.

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python tests/bench/bench_payout.py [--teams N]
        [--jobs 10000,25000,50000] [--rebuild] [--no-floor] [--profile]
"""
import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_field import bench_company, prepare_database  # noqa: E402
from bench_station import (  # noqa: E402
    bench_environment, note, out, read_meta, server_uri, write_meta)
from server import copy_database, drop_database, init_pool  # noqa: E402
from server import pg_connect as connect  # noqa: E402

FULL_TEAMS = 1_000
SIZES = [10_000, 25_000, 50_000]
TARGET_S = 60.0
TARGET_JOBS = 50_000
TEMPLATE = 'ev_bench_payout'
COPY = 'ev_bench_payout_cycle'
MODULES = ['ev_payout']
# Runs (or payments) per transaction when Finance posts and pays
CHUNK = 100
STAGES = ['draft', 'send', 'signoff', 'post', 'approve', 'process',
    'succeed']
# The suite's own set-based stages; the others are Tryton's invoices and
# payments (account_invoice, account_payment, account_payment_clearing)
OWN_STAGES = ['draft', 'send', 'signoff']
ACCOUNTING_STAGES = ['post', 'approve', 'process', 'succeed']


def in_transaction(database, function, context=None):
    """function(pool) in a committed transaction of root, started again
    with the locks it asked for (as the dispatcher and the cron do);
    returns (result, restarts)"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError
    extras, restarts = {}, 0
    while True:
        with Transaction().start(database, 0, context=context or {},
                **extras) as transaction:
            try:
                result = function(Pool(database))
            except TransactionError as error:
                transaction.rollback()
                error.fix(extras)
                restarts += 1
                if os.environ.get('EV_BENCH_DEBUG'):
                    note(f'  restarted: {type(error).__name__} '
                        f'{vars(error)}')
                continue
            transaction.commit()
        return result, restarts


def last_month(today=None):
    "(first day, last day) of the month before today's"
    today = today or dt.date.today()
    end = today.replace(day=1) - dt.timedelta(days=1)
    return end.replace(day=1), end


# --------------------------------------------------------------------------
# The template: the world of the cycle, without jobs

def create_chart(pool, company):
    "The minimal chart of Tryton's account module, as its tests make it"
    Template = pool.get('account.account.template')
    ModelData = pool.get('ir.model.data')
    Account = pool.get('account.account')
    CreateChart = pool.get('account.create_chart', type='wizard')
    session_id, _, _ = CreateChart.create()
    wizard = CreateChart(session_id)
    wizard.account.account_template = Template(ModelData.get_id(
            'account', 'account_template_root_en'))
    wizard.account.company = company
    wizard.transition_create_account()
    properties = wizard.properties
    for name, value in wizard.states['properties'].get_defaults(
            wizard, 'properties', list(properties._fields)).items():
        if name in properties._fields:
            setattr(properties, name, value)
    for name, kind in [('account_receivable', 'receivable'),
            ('account_payable', 'payable')]:
        if not getattr(properties, name):
            account, = Account.search([
                    (f'type.{kind}', '=', True),
                    ('party_required', '=', True),
                    ('company', '=', company.id),
                    ], limit=1)
            setattr(properties, name, account)
    wizard.transition_create_properties()


def create_fiscalyear(pool, company, year):
    "The fiscal year with its move and invoice sequences and its periods"
    Sequence = pool.get('ir.sequence.strict')
    SequenceType = pool.get('ir.sequence.type')
    FiscalYear = pool.get('account.fiscalyear')
    InvoiceSequence = pool.get('account.fiscalyear.invoice_sequence')
    move_type, = SequenceType.search([('name', '=', "Account Move")])
    invoice_type, = SequenceType.search([('name', '=', "Invoice")])
    move_sequence, invoice_sequence = Sequence.create([{
                'name': f'Moves {year}', 'sequence_type': move_type.id,
                'company': company.id,
                }, {
                'name': f'Invoices {year}', 'sequence_type': invoice_type.id,
                'company': company.id,
                }])
    fiscalyear = FiscalYear(name=str(year), company=company,
        start_date=dt.date(year, 1, 1), end_date=dt.date(year, 12, 31),
        move_sequence=move_sequence)
    fiscalyear.invoice_sequences = [InvoiceSequence(
            in_invoice_sequence=invoice_sequence,
            in_credit_note_sequence=invoice_sequence,
            out_invoice_sequence=invoice_sequence,
            out_credit_note_sequence=invoice_sequence)]
    fiscalyear.save()
    FiscalYear.create_period([fiscalyear])


def create_world(database, n_teams, month_start, size):
    """Company, accounting, configuration, lead, contractors and teams
    through the ORM, in one transaction; returns the meta data"""
    started = time.monotonic()

    def create(pool):
        from trytond.transaction import Transaction
        transaction = Transaction()
        Account = pool.get('account.account')
        Journal = pool.get('account.journal')
        PaymentJournal = pool.get('account.payment.journal')
        Configuration = pool.get('ev.payout.configuration')
        Party = pool.get('party.party')
        Lead = pool.get('sale.opportunity')
        Team = pool.get('ev.field.team')
        Schedule = pool.get('ev.payout.schedule')
        admin, company = bench_company(pool, "EV Bench Payout")
        with transaction.set_context(company=company.id,
                companies=[company.id]):
            create_chart(pool, company)
            for year in sorted({month_start.year, dt.date.today().year}):
                create_fiscalyear(pool, company, year)

            def account(kind):
                found, = Account.search([(f'type.{kind}', '=', True),
                        ('closed', '!=', True)], limit=1)
                return found
            payable = account('payable')
            clearing = Account(name="Bank Clearing", code='BCLR',
                type=payable.type, reconcile=True, deferral=True,
                parent=payable.parent, company=company)
            clearing.save()
            expense_journal, = Journal.search([('code', '=', 'EXP')])
            journal = PaymentJournal(name="Bank transfers",
                process_method='manual', currency=company.currency,
                company=company, clearing_journal=expense_journal,
                clearing_account=clearing)
            journal.save()
            config = Configuration(1)
            config.expense_account = account('expense')
            config.hold_account = account('expense')
            config.payment_journal = journal
            config.save()

            customer, = Party.create([{'name': "Bench Payout Customer"}])
            lead, = Lead.create([{'party': customer.id}])
            contractors = Party.create([{
                        'name': f"Bench Contractor {i:04d}",
                        'addresses': [('create', [{
                                        'street': f"{i} Industrial Area",
                                        'city': "Bengaluru",
                                        'postal_code': f'560{i % 100:03d}',
                                        }])],
                        } for i in range(1, n_teams + 1)])
            teams = Team.create([{
                        'name': f"Bench Payout Team {i:04d}",
                        'code': f'BP{i:04d}',
                        'company': company.id,
                        'survey': False, 'installation': True,
                        'service': False,
                        'contractor': contractor.id,
                        'payout_vpa': f'bench.team{i}@okaxis',
                        } for i, contractor in enumerate(contractors, 1)])
            Schedule.create([{
                        'team': team.id, 'frequency': 'month',
                        'valid_from': month_start,
                        'reason': "Bench contract",
                        } for team in teams])
        meta = {'company': company.id, 'lead': lead.id, 'admin': admin.id,
            'month': month_start.isoformat()}
        write_meta(transaction.connection, loaded=1, size=size, **meta)
    in_transaction(database, create)
    note(f'  company, accounting and {n_teams} teams in '
        f'{time.monotonic() - started:.1f} s')


def close_database(database):
    "Close this process's connections to `database` (to copy or drop it)"
    from trytond import backend
    backend.Database(database).close()


# --------------------------------------------------------------------------
# The copy of a size: the jobs in bulk

def load_jobs(uri, database, n_jobs, meta):
    """n_jobs closed installation jobs spread over the teams, payable over
    the month (set-based); each team's jobs in slots apart"""
    month_start = dt.date.fromisoformat(meta['month'])
    _, month_end = last_month(month_start + dt.timedelta(days=40))
    started = time.monotonic()
    with connect(uri, database) as conn:
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute('SELECT setseed(0.2015)')
        teams = [t for t, in conn.execute(
                "SELECT id FROM ev_field_team WHERE code LIKE 'BP%' "
                'ORDER BY id')]
        conn.execute(
            'INSERT INTO ev_field_job (number, kind, state, company, lead, '
            'team, slot_start, slot_end, payable, payable_at, cost_labour, '
            'cost_materials, cost_logistics, payout_extra, '
            'payout_extra_reason, create_uid, create_date) '
            "SELECT 'BPJ' || lpad(g::text, 7, '0'), 'installation', "
            "'closed', %(company)s, %(lead)s, "
            '(%(teams)s::int[])[1 + g %% cardinality(%(teams)s::int[])], '
            'start, start + interval \'30 minutes\', true, '
            "%(month)s::timestamp + interval '1 second' "
            '* floor(random() * %(seconds)s), '
            '1500 + 250 * (g %% 5), 0, 0, '
            'CASE WHEN g %% 20 = 0 THEN 400 END, '
            "CASE WHEN g %% 20 = 0 THEN 'Extra cable run' END, "
            '%(admin)s, now() '
            'FROM (SELECT g, %(month)s::timestamp + interval \'1 hour\' '
            '  * (g / cardinality(%(teams)s::int[])) AS start '
            '  FROM generate_series(1, %(n)s) g) j',
            {'company': int(meta['company']), 'lead': int(meta['lead']),
                'admin': int(meta['admin']), 'teams': teams,
                'month': month_start, 'n': n_jobs,
                'seconds': ((month_end - month_start).days + 1) * 86400 - 1})
        conn.commit()
    with connect(uri, database, autocommit=True) as conn:
        conn.execute('VACUUM (ANALYZE)')
    return time.monotonic() - started


# --------------------------------------------------------------------------
# The cycle

class Cycle:
    "One payout cycle on `database`, each stage timed (and profiled)"

    def __init__(self, database, meta, profile=False):
        self.database = database
        self.company = int(meta['company'])
        self.month_start = dt.date.fromisoformat(meta['month'])
        self.profile = profile
        self.timings = {}
        self.profiles = {}
        self.restarts = 0
        self.stage_restarts = {}

    def transaction(self, function):
        """function(pool) in a committed transaction of root with the
        company in the context, as the cron runs a task"""
        result, restarts = in_transaction(self.database, function, {
                'company': self.company, 'companies': [self.company]})
        self.restarts += restarts
        return result

    def stage(self, name, function):
        profiler = cProfile.Profile() if self.profile else None
        restarts = self.restarts
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        try:
            result = function()
        finally:
            if profiler:
                profiler.disable()
        self.timings[name] = time.perf_counter() - started
        self.stage_restarts[name] = self.restarts - restarts
        if profiler:
            self.profiles[name] = profiler
        return result

    def chunks(self, function, ids):
        "function(pool, ids) per CHUNK ids, a transaction each"
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i:i + CHUNK]
            self.transaction(lambda pool: function(pool, chunk))

    def ids(self, model, domain):
        return self.transaction(lambda pool: [r.id
                for r in pool.get(model).search(domain,
                    order=[('id', 'ASC')])])

    def run(self):
        today = last_month(self.month_start + dt.timedelta(days=40))[1] \
            + dt.timedelta(days=1)

        def draft(pool):
            return len(pool.get('ev.payout.run').create_runs(today=today))
        runs = self.stage('draft', lambda: self.transaction(draft))

        def send(pool):
            Run = pool.get('ev.payout.run')
            Run.send(Run.search([('state', '=', 'draft')]))
        self.stage('send', lambda: self.transaction(send))

        def close_signoff(pool):
            Configuration = pool.get('ev.payout.configuration')
            hours = Configuration(1).signoff_hours
            now = dt.datetime.now() + dt.timedelta(hours=hours + 1)
            return len(pool.get('ev.payout.run').close_signoff(now=now))
        signed = self.stage('signoff', lambda: self.transaction(close_signoff))

        def post(pool, ids):
            Run = pool.get('ev.payout.run')
            Run.post(Run.browse(ids))
        signed_ids = self.ids('ev.payout.run', [('state', '=', 'signed')])
        self.stage('post', lambda: self.chunks(post, signed_ids))

        payment_ids = self.ids('account.payment', [
                ('state', '=', 'submitted')])
        self.accounting_stages(payment_ids)
        return runs, signed

    def accounting_stages(self, payment_ids):
        "approve, process and succeed the payments, 100 a transaction"
        def approve(pool, ids):
            Payment = pool.get('account.payment')
            Payment.approve(Payment.browse(ids))
        self.stage('approve', lambda: self.chunks(approve, payment_ids))

        def process(pool, ids):
            Payment = pool.get('account.payment')
            Group = pool.get('account.payment.group')
            payments = Payment.browse(ids)
            first = payments[0]

            def group():
                group = Group(company=first.company, journal=first.journal,
                    kind=first.kind)
                group.save()
                return group
            Payment.process(payments, group)
        self.stage('process', lambda: self.chunks(process, payment_ids))

        def succeed(pool, ids):
            Payment = pool.get('account.payment')
            Payment.succeed(Payment.browse(ids))
        self.stage('succeed', lambda: self.chunks(succeed, payment_ids))

    def check(self):
        """(runs paid, lines paid, labour lines paid, runs not paid,
        payments succeeded)"""
        def counts(pool):
            Run = pool.get('ev.payout.run')
            Line = pool.get('ev.payout.line')
            Payment = pool.get('account.payment')
            return (Run.search_count([('state', '=', 'paid')]),
                Line.search_count([('run.state', '=', 'paid')]),
                Line.search_count([('run.state', '=', 'paid'),
                        ('kind', '=', 'labour')]),
                Run.search_count([('state', '!=', 'paid')]),
                Payment.search_count([('state', '=', 'succeeded')]))
        return self.transaction(counts)

    def print_profiles(self, top=25):
        for name, profiler in self.profiles.items():
            stream = io.StringIO()
            stats = pstats.Stats(profiler, stream=stream)
            stats.sort_stats('cumulative').print_stats(top)
            note(f'profile of {name}:\n{stream.getvalue()}')


class TrytonFloor(Cycle):
    """The same accounting as the cycle's, with Tryton's API alone: per team
    one supplier invoice of one line (its contractor, the expense account),
    posted 100 a transaction, its payment submitted, approved, processed
    and succeeded as in the cycle. No payout run, no payout line: what
    Tryton's accounting costs by itself, the floor of any cycle that posts
    an invoice and a payment per team."""

    def run(self):
        from trytond.modules.ev_station.bulk import lock_together
        today = last_month(self.month_start + dt.timedelta(days=40))[1] \
            + dt.timedelta(days=1)

        def teams(pool):
            Team = pool.get('ev.field.team')
            return [t.contractor.id for t in Team.search(
                    [('code', 'like', 'BP%')], order=[('id', 'ASC')])]
        parties = self.transaction(teams)

        def post(pool, party_ids):
            Invoice = pool.get('account.invoice')
            Line = pool.get('account.invoice.line')
            Payment = pool.get('account.payment')
            Configuration = pool.get('ev.payout.configuration')
            company = pool.get('company.company')(self.company)
            config = Configuration(1)
            invoices = []
            for party_id in party_ids:
                invoice = Invoice(type='in', company=company,
                    currency=company.currency, party=party_id,
                    invoice_date=today, reference='FLOOR')
                invoice.on_change_type()
                invoice.on_change_party()
                invoice.lines = [Line(type='line', company=company,
                        currency=company.currency,
                        account=config.expense_account, quantity=1,
                        unit_price=Decimal('2500.00'),
                        description="Installation work")]
                invoices.append(invoice)
            # The locks the posting needs, taken up front as Run.post
            # takes them: a lock met later restarts the transaction after
            # all the work
            Run = pool.get('ev.payout.run')
            lock_together(*Run._numbering_locks({(company, today)}))
            Run._open_journal_periods(invoices)
            Invoice.save(invoices)
            Invoice.post(invoices)
            payments = []
            for invoice in invoices:
                line, = invoice.lines_to_pay
                payments.append(Payment(company=company,
                        journal=config.payment_journal,
                        kind='payable', party=invoice.party, line=line,
                        amount=invoice.total_amount,
                        date=invoice.invoice_date, reference='FLOOR'))
            Payment.save(payments)
            Payment.submit(payments)
        self.stage('post', lambda: self.chunks(post, parties))
        payment_ids = self.ids('account.payment', [
                ('state', '=', 'submitted')])
        self.accounting_stages(payment_ids)
        return len(parties), len(payment_ids)


def run_size(uri, template, meta, n_jobs, profile):
    "Copy the template, load the jobs, time one cycle; drop the copy"
    drop_database(uri, COPY)
    copy_database(uri, COPY, template)
    try:
        seconds = load_jobs(uri, COPY, n_jobs, meta)
        note(f'  {n_jobs} jobs loaded in {seconds:.1f} s')
        init_pool(COPY)
        cycle = Cycle(COPY, meta, profile=profile)
        runs, signed = cycle.run()
        paid, lines, labour, unpaid, succeeded = cycle.check()
        if profile:
            cycle.print_profiles()
        close_database(COPY)
    finally:
        drop_database(uri, COPY)
    return cycle.timings, cycle.stage_restarts, {
        'runs': runs, 'signed': signed, 'paid': paid, 'lines': lines,
        'labour': labour, 'unpaid': unpaid, 'succeeded': succeeded}


def run_floor(uri, template, meta):
    "Tryton's accounting alone (TrytonFloor) on a copy of the template"
    drop_database(uri, COPY)
    copy_database(uri, COPY, template)
    try:
        init_pool(COPY)
        floor = TrytonFloor(COPY, meta)
        invoices, payments = floor.run()
        close_database(COPY)
    finally:
        drop_database(uri, COPY)
    if invoices != payments:
        raise RuntimeError(f'the floor posted {invoices} invoices but '
            f'submitted {payments} payments')
    return floor.timings, floor.stage_restarts


# --------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--teams', type=int, default=FULL_TEAMS)
    parser.add_argument('--jobs', default=','.join(map(str, SIZES)),
        help="the sizes, comma separated (default: %(default)s)")
    parser.add_argument('--database', help="the template database; "
        f"default: {TEMPLATE} at the full size, {TEMPLATE}_<teams> otherwise")
    parser.add_argument('--rebuild', action='store_true',
        help="drop the template database and make it again")
    parser.add_argument('--no-floor', action='store_true',
        help="do not measure Tryton's accounting alone (TrytonFloor)")
    parser.add_argument('--profile', action='store_true',
        help="profile each stage (cProfile, on stderr); slower")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.jobs.split(','))
    if args.teams < 1 or min(sizes) < 1:
        parser.error('--teams and --jobs must be positive')
    uri = server_uri()
    month_start, _ = last_month()
    size = f'{args.teams}t@{month_start.isoformat()}'
    template = args.database or (TEMPLATE if args.teams == FULL_TEAMS
        else f'{TEMPLATE}_{args.teams}')

    with bench_environment(uri, prefix='ev-bench-payout-') as (_, config):
        meta = prepare_database(uri, config, template, None, args.rebuild,
            size, modules=MODULES, table='ev_payout_run')
        if not meta.get('loaded'):
            note(f'making the world of {args.teams} teams')
            init_pool(template)
            create_world(template, args.teams, month_start, size)
            close_database(template)
            with connect(uri, template, autocommit=True) as conn:
                conn.execute('VACUUM (ANALYZE)')
            meta = read_meta(uri, template)
        else:
            note(f'reusing {template} (--rebuild to make it again)')

        totals, owns, accountings, failed = {}, {}, {}, False
        for n_jobs in sizes:
            note(f'cycle of {args.teams} teams and {n_jobs} jobs')
            timings, restarts, counts = run_size(uri, template, meta, n_jobs,
                args.profile)
            label = f'payout_{n_jobs // 1000}k' if n_jobs % 1000 == 0 \
                else f'payout_{n_jobs}'
            for stage in STAGES:
                out(f'{label}_{stage}', timings[stage], 's')
            for stage in STAGES:
                if restarts[stage]:
                    # A transaction started again with the locks it asked
                    out(f'{label}_{stage}_restarts', restarts[stage],
                        'transactions')
            total = sum(timings.values())
            totals[n_jobs] = total
            own = sum(timings[s] for s in OWN_STAGES)
            owns[n_jobs] = own
            accountings[n_jobs] = total - own
            out(f'{label}_own', own, 's')
            out(f'{label}_accounting', total - own, 's')
            out(f'{label}_cycle', total, 's')
            out(f'{label}_per_1000_jobs', total / n_jobs * 1000, 's')
            out(f'{label}_runs_paid', counts['paid'], 'runs')
            out(f'{label}_lines_paid', counts['lines'], 'lines')
            out(f'{label}_payments_succeeded', counts['succeeded'],
                'payments')
            if counts['unpaid'] or counts['labour'] != n_jobs \
                    or counts['paid'] != counts['runs']:
                note(f'the cycle at {n_jobs} jobs did not pay everything: '
                    f'{counts}')
                failed = True
        largest = TARGET_JOBS if TARGET_JOBS in totals else sizes[-1]
        name = 'payout_cycle_50k' if largest == TARGET_JOBS \
            else f'payout_cycle_{largest}'
        out(name, totals[largest], 's')
        out('payout_cycle_ratio_to_target', totals[largest] / TARGET_S,
            'ratio')
        if len(sizes) > 1:
            first, last = sizes[0], sizes[-1]
            out('payout_marginal_per_1000_jobs',
                (totals[last] - totals[first]) / (last - first) * 1000, 's')
            out('payout_own_marginal_per_1000_jobs',
                (owns[last] - owns[first]) / (last - first) * 1000, 's')
            out('payout_linearity_per_job_ratio',
                (totals[sizes[-1]] / sizes[-1])
                / (totals[sizes[0]] / sizes[0]), 'ratio')
        if not args.no_floor:
            note('Tryton\'s accounting alone: an invoice and a payment '
                f'per team, {args.teams} teams')
            floor, floor_restarts = run_floor(uri, template, meta)
            for stage in ACCOUNTING_STAGES:
                out(f'payout_tryton_floor_{stage}', floor[stage], 's')
            for stage in ACCOUNTING_STAGES:
                if floor_restarts[stage]:
                    out(f'payout_tryton_floor_{stage}_restarts',
                        floor_restarts[stage], 'transactions')
            floor_total = sum(floor.values())
            out('payout_tryton_floor', floor_total, 's')
            out('payout_tryton_floor_ratio_to_target',
                floor_total / TARGET_S, 'ratio')
            out('payout_cycle_ratio_to_tryton_floor',
                totals[largest] / floor_total, 'ratio')
            out('payout_accounting_ratio_to_tryton_floor',
                accountings[largest] / floor_total, 'ratio')
        out('python_optimize', sys.flags.optimize, 'level')
        out('machine_load_1min_end', os.getloadavg()[0], 'load')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
