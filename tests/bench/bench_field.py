#!/usr/bin/env python3
"""Benchmark of the backup-team proposal on PostgreSQL (`./ev bench`).

The target: with 500 field teams and 50,000 booked jobs,
`Team.propose_backups` (the teams with the capability, covering the postal
code, working and free in the slot, least loaded first: one query) answers in
at most 200 ms server-side, median of 20 calls on varied slots and postal
codes.

The script keeps a dedicated database (ev_bench_field at the full size,
ev_bench_field_<teams>_<jobs> otherwise) with only ev_field and what it
depends on activated, created with trytond-admin. The company, the leads and
the teams (zones, working days, days off) are created through the ORM; the
jobs with set-based INSERTs of many rows each (the ORM would take minutes),
every team's jobs apart from each other so that the exclusion constraint
team_no_overlap holds. A rerun reuses the data when it has the size asked
(--rebuild forces a new load) and updates the modules when their sources
changed since.

Figures:
  field_backup_proposal_median/_p95  one call of propose_backups, timed on
                                     its own in a transaction of its own
  field_backup_proposal_candidates_* teams proposed per call (limit 10)
  field_backup_proposal_uses_team_slot_index
                                     1 when the plan of the query probes the
                                     index (team, slot_start) of the jobs
  field_backup_proposal_vs_target    median / 200 ms: below 1 is within target

It prints lines `bench: <name> <value> <unit>` and never fails on time: the
exit code is non-zero only on a real error.

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python tests/bench/bench_field.py [--teams N] [--jobs M]
        [--rebuild] [--explain]
"""
import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
import zoneinfo
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_station import (  # noqa: E402
    bench_environment, module_stamp, note, out, percentile, read_meta,
    server_uri, write_meta)
from server import (  # noqa: E402
    admin_all, create_database, database_exists, drop_database, init_pool,
    trytond_admin)
from server import pg_connect as connect  # noqa: E402

FULL_TEAMS = 500
FULL_JOBS = 50_000
DAYS = 30
TARGET_MS = 200.0
ADMIN_PASSWORD = 'admin-bench'
TIMEZONE = 'Asia/Kolkata'
ROWS_PER_INSERT = 2_000
WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday',
    'saturday', 'sunday']
# Working weeks of the teams: most Monday to Saturday
WEEKS = [WEEKDAYS[:6]] * 6 + [WEEKDAYS[:5]] * 3 + [WEEKDAYS[1:]]
# Working hours (local): start, end
HOURS = [(9, 18)] * 5 + [(8, 17)] * 2 + [(10, 19)] * 2 + [(7, 15)]
# Job lengths in hours: surveys and small installations are short
LENGTHS = [1, 1, 1, 2, 2, 3]


def window_start():
    "First day of the jobs: the data is the same on every day it is loaded"
    return dt.date(2026, 3, 2)


def postal_code(rng, prefix='560'):
    return prefix + ''.join(rng.choice('0123456789')
        for _ in range(6 - len(prefix)))


# --------------------------------------------------------------------------
# Database

def prepare_database(uri, config, database, tmp, rebuild, size,
        modules=('ev_field',), table='ev_field_job'):
    """Create, rebuild or update the database with `modules` activated
    (`table` shows they are); return its meta data"""
    if rebuild:
        note(f'dropping {database}')
        drop_database(uri, database)
    meta = {}
    if database_exists(uri, database):
        meta = read_meta(uri, database)
        with connect(uri, database) as conn:
            activated = conn.execute(
                'SELECT to_regclass(%s) IS NOT NULL', (table,)).fetchone()[0]
        if not activated:
            note(f'{database} has no {table}: creating it again')
            drop_database(uri, database)
            meta = {}
        elif meta.get('loaded') and meta.get('size') != size:
            note(f'{database} has other data than asked: rebuilding')
            drop_database(uri, database)
            meta = {}
    stamp = module_stamp()
    if not database_exists(uri, database):
        note(f'creating the database {database} (trytond-admin --all)')
        create_database(uri, database)
        admin_all(config, database, ADMIN_PASSWORD)
        meta = {}
    if meta.get('stamp') != stamp:
        note(f'activating or updating {", ".join(modules)}')
        trytond_admin(config, database, '-u', *modules,
            '--activate-dependencies')
        with connect(uri, database) as conn:
            write_meta(conn, stamp=stamp)
            conn.commit()
    return read_meta(uri, database)


# --------------------------------------------------------------------------
# Data

def team_values(i, rng, company_id):
    "Values of the i-th team (0-based): varied capabilities, zones and days"
    installation = i % 4 != 1
    week = rng.choice(WEEKS)
    start, end = rng.choice(HOURS)
    if i % 20 == 0:
        # A few teams cover the whole city
        patterns = ['56*']
    else:
        patterns = [f'560{rng.randrange(10)}*']
        extra = rng.random()
        if extra < 0.3:
            patterns.append(postal_code(rng, '560')[:5] + '?')
        elif extra < 0.5:
            patterns.append(postal_code(rng, '560'))
    values = {
        'name': f'Bench Team {i + 1:03d}',
        'code': f'BT{i + 1:04d}',
        'company': company_id,
        'survey': i % 3 != 0 or not installation,
        'installation': installation,
        'service': i % 5 == 0,
        'work_start': dt.time(start),
        'work_end': dt.time(end),
        'zones': [('create', [{'pattern': p} for p in sorted(set(patterns))])],
        'days_off': [('create', [{'date': d, 'reason': "Leave"}
                    for d in sorted({window_start() + dt.timedelta(
                                days=rng.randrange(DAYS))
                            for _ in range(2)})])],
        }
    values.update({day: day in week for day in WEEKDAYS})
    return values


def team_slots(team, n_jobs, rng, tz):
    """n_jobs (start, end) naive UTC of the team, on its working days and
    hours, none overlapping another"""
    days = [window_start() + dt.timedelta(days=d) for d in range(DAYS)]
    days_off = {d.date for d in team.days_off}
    days = [d for d in days if team.works_on(d) and d not in days_off]
    hours = list(range(team.work_start.hour, team.work_end.hour))
    free = {(d, h) for d in days for h in hours}
    if len(free) < n_jobs:
        raise RuntimeError(f'{team.code} has {len(free)} hours for '
            f'{n_jobs} jobs: fewer jobs, please')
    slots = []
    while len(slots) < n_jobs:
        day, hour = rng.choice(sorted(free))
        length = rng.choice(LENGTHS)
        taken = [(day, h) for h in range(hour, hour + length)]
        if any(t not in free for t in taken):
            length, taken = 1, [(day, hour)]
        free.difference_update(taken)
        start = dt.datetime.combine(day, dt.time(hour), tzinfo=tz)
        end = start + dt.timedelta(hours=length)
        slots.append(tuple(v.astimezone(dt.timezone.utc).replace(tzinfo=None)
                for v in (start, end)))
    return slots


def bench_company(pool, name, timezone=TIMEZONE):
    """A company in rupees made the admin's, in the current transaction:
    returns (admin, company)"""
    User = pool.get('res.user')
    Party = pool.get('party.party')
    Currency = pool.get('currency.currency')
    Company = pool.get('company.company')
    admin, = User.search([('login', '=', 'admin')])
    inr, = Currency.create([{
                'name': "Indian Rupee", 'code': 'INR', 'symbol': '₹'}])
    party, = Party.create([{'name': name}])
    company, = Company.create([{
                'party': party.id, 'currency': inr.id, 'timezone': timezone}])
    User.write([admin], {
            'companies': [('add', [company.id])],
            'company': company.id})
    return admin, company


def create_data(database, n_teams, n_jobs, seed):
    "Company, leads and teams through the ORM, the jobs in bulk; one commit"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    rng = random.Random(seed)
    tz = zoneinfo.ZoneInfo(TIMEZONE)
    started = time.monotonic()
    with Transaction().start(database, 0) as transaction:
        Party = pool.get('party.party')
        Lead = pool.get('sale.opportunity')
        Team = pool.get('ev.field.team')
        Job = pool.get('ev.field.job')
        admin, company = bench_company(pool, "EV Bench Field Operations")
        with transaction.set_context(company=company.id):
            customers = Party.create([{'name': f'Bench Customer {i}'}
                    for i in range(1, 11)])
            leads = Lead.create([{'party': c.id} for c in customers])
            teams = Team.create([team_values(i, rng, company.id)
                    for i in range(n_teams)])
        note(f'  company, leads and {len(teams)} teams in '
            f'{time.monotonic() - started:.1f} s')

        t0 = time.monotonic()
        per_team = [n_jobs // n_teams + (i < n_jobs % n_teams)
            for i in range(n_teams)]
        job = Job.__table__()
        columns = [job.number, job.kind, job.state, job.company, job.lead,
            job.team, job.slot_start, job.slot_end, job.postal_code,
            job.customer_confirmed, job.dispatcher, job.create_uid,
            job.create_date]
        now = dt.datetime.now()
        rows, number = [], 0
        cursor = transaction.connection.cursor()

        def flush():
            if rows:
                cursor.execute(*job.insert(columns, rows))
                rows.clear()
        for team, count in zip(teams, per_team):
            kinds = [k for k in ['survey', 'installation'] if team.can(k)]
            code = team.zones[0].pattern.replace('*', '').replace('?', '')
            for start, end in team_slots(team, count, rng, tz):
                number += 1
                rows.append([f'BF{number:06d}', rng.choice(kinds),
                        'scheduled', company.id, rng.choice(leads).id,
                        team.id, start, end, postal_code(rng, code),
                        rng.random() < 0.5, admin.id, admin.id, now])
                if len(rows) >= ROWS_PER_INSERT:
                    flush()
        flush()
        note(f'  {number} jobs in {time.monotonic() - t0:.1f} s')
        write_meta(transaction.connection, loaded=1,
            size=f'{n_teams}x{n_jobs}', company=company.id, seed=seed)
        transaction.commit()
    return time.monotonic() - started


# --------------------------------------------------------------------------
# Measures

class Recording:
    "The transaction's connection, keeping what its cursors execute"

    def __init__(self, connection):
        self._connection = connection
        self.queries = []

    def __getattr__(self, name):
        return getattr(self._connection, name)

    def cursor(self, *args, **kwargs):
        cursor = self._connection.cursor(*args, **kwargs)
        execute = cursor.execute

        def recorded(query, params=None, *a, **kw):
            self.queries.append((query, params))
            return execute(query, params, *a, **kw)
        cursor.execute = recorded
        return cursor


def requests(rng, n):
    "n (postal code, start, end) of installation slots, naive UTC"
    tz = zoneinfo.ZoneInfo(TIMEZONE)
    result = []
    for _ in range(n):
        day = window_start() + dt.timedelta(days=rng.randrange(DAYS))
        hour = rng.randrange(9, 16)
        start = dt.datetime.combine(day, dt.time(hour), tzinfo=tz)
        end = start + dt.timedelta(hours=rng.choice([1, 2]))
        result.append((postal_code(rng),) + tuple(
                v.astimezone(dt.timezone.utc).replace(tzinfo=None)
                for v in (start, end)))
    return result


def team_slot_index(uri, database):
    "Names of the indexes of ev_field_job that lead with (team, slot_start)"
    with connect(uri, database) as conn:
        return [name for name, definition in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename = 'ev_field_job'")
            if '(team, slot_start)' in definition.replace('"', '')]


def explain(database, company_id, request):
    "The plan (EXPLAIN ANALYZE) of the query of one call"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Team = Pool(database).get('ev.field.team')
    with Transaction().start(database, 0, readonly=True,
            context={'company': company_id}) as transaction:
        connection = transaction.connection
        transaction.connection = recording = Recording(connection)
        try:
            Team.propose_backups('installation', *request)
        finally:
            transaction.connection = connection
        # The last one: the company's time zone is read before
        query, params = recording.queries[-1]
        cursor = connection.cursor()
        cursor.execute('EXPLAIN (ANALYZE, BUFFERS) ' + query, params)
        return '\n'.join(line for line, in cursor)


def measure(uri, database, company_id, repeat, seed, show_plan):
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Team = Pool(database).get('ev.field.team')
    rng = random.Random(seed)
    calls = requests(rng, repeat)

    def call(request):
        with Transaction().start(database, 0, readonly=True,
                context={'company': company_id}):
            started = time.perf_counter()
            result = Team.propose_backups('installation', *request)
            return (time.perf_counter() - started) * 1000, result

    for request in calls[:3]:  # warm the caches of the pool and the server
        call(request)
    timings, candidates = [], []
    for request in calls:
        ms, result = call(request)
        timings.append(ms)
        candidates.append(len(result))
    median = statistics.median(timings)
    out('field_backup_proposal_median', median, 'ms')
    out('field_backup_proposal_p95', percentile(timings, 0.95), 'ms')
    out('field_backup_proposal_max', max(timings), 'ms')
    out('field_backup_proposal_candidates_median',
        float(statistics.median(candidates)), 'teams')
    out('field_backup_proposal_candidates_total', sum(candidates), 'teams')
    out('field_backup_proposal_calls_without_candidate',
        sum(1 for c in candidates if not c), 'calls')

    indexes = team_slot_index(uri, database)
    plan = explain(database, company_id, calls[0])
    uses = any(name in plan for name in indexes)
    if show_plan or not uses or median > TARGET_MS:
        note('plan of the first call:\n' + plan)
    if not indexes:
        note('no index of ev_field_job leads with (team, slot_start)')
    out('field_backup_proposal_uses_team_slot_index', int(uses), 'bool')
    out('field_backup_proposal_vs_target', median / TARGET_MS, 'ratio')
    out('machine_load_1min_end', os.getloadavg()[0], 'load')


# --------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--teams', type=int, default=FULL_TEAMS)
    parser.add_argument('--jobs', type=int, default=FULL_JOBS)
    parser.add_argument('--database', help="default: ev_bench_field at the "
        "full size, ev_bench_field_<teams>_<jobs> otherwise")
    parser.add_argument('--rebuild', action='store_true',
        help="drop the database and load it again")
    parser.add_argument('--repeat', type=int, default=20)
    parser.add_argument('--seed', type=int, default=2026)
    parser.add_argument('--explain', action='store_true',
        help="print the plan of the query (on stderr)")
    args = parser.parse_args()
    if args.teams < 1 or args.jobs < 1 or args.repeat < 1:
        parser.error('--teams, --jobs and --repeat must be positive')
    full = (args.teams, args.jobs) == (FULL_TEAMS, FULL_JOBS)
    database = args.database or ('ev_bench_field' if full
        else f'ev_bench_field_{args.teams}_{args.jobs}')
    uri = server_uri()
    size = f'{args.teams}x{args.jobs}'

    with bench_environment(uri, prefix='ev-bench-field-') as (tmp, config):
        meta = prepare_database(uri, config, database, tmp, args.rebuild,
            size)
        init_pool(database)
        load_seconds = None
        if not meta.get('loaded'):
            note(f'loading {args.teams} teams and {args.jobs} jobs')
            load_seconds = create_data(database, args.teams, args.jobs,
                args.seed)
            meta = read_meta(uri, database)
        else:
            note(f'reusing {database} (--rebuild to load it again)')
        with connect(uri, database, autocommit=True) as conn:
            conn.execute('ANALYZE')

        with connect(uri, database) as conn:
            teams, = conn.execute(
                'SELECT count(*) FROM ev_field_team').fetchone()
            jobs, = conn.execute(
                'SELECT count(*) FROM ev_field_job').fetchone()
        out('field_teams', teams, 'rows')
        out('field_jobs', jobs, 'rows')
        if load_seconds is not None:
            out('field_load_time', load_seconds, 's')
        measure(uri, database, int(meta['company']), args.repeat, args.seed,
            args.explain)
    return 0


if __name__ == '__main__':
    sys.exit(main())
