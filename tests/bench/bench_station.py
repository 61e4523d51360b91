#!/usr/bin/env python3
"""Benchmark of the station log and follow-ups on PostgreSQL (`./ev bench`).

The issue's targets, on 100,000 stations and 2,000,000 log entries:
  - opening one station's latest 50 log entries: at most 150 ms server-side
    (median of 20),
  - listing the overdue follow-ups: at most 150 ms server-side (median of 20),
  - appending log entries through the ORM: at least 300 per second.

The script keeps a dedicated database (ev_bench at the full size,
ev_bench_<stations>_<entries> otherwise), created with trytond-admin and
filled with set-based SQL; a rerun reuses it when it already has the data of
the size asked (--rebuild forces a new one) and updates the modules when
their sources changed since. Every figure is measured through the Tryton ORM
in transactions opened like an RPC request opens them, as the admin user with
access checks on.

Figures (each request timed on its own, from the transaction's start to its
end, as the dispatcher runs it):
  station_latest_50_log_*  search of a busy station's latest 50 entries plus
                           the read of the log list view's fields (what sao
                           asks for); `_any_station` the same on any station
  overdue_follow_ups_*     search of the first page (80) of the overdue
                           follow-ups, the read of the station list view's
                           fields, and the search_count of the tab counter
  log_append_rate          plain entries, one per request (its own committed
                           transaction), median of the rounds; `_forward_`
                           entries that forward the task (a handover); `_batch_`
                           300 entries in one create; `_parallel_` several
                           processes appending at once, as server workers do
  *_vs_target              measured / 150 ms, or 300 entries/s / measured:
                           below 1 is within the issue's target
  machine_load_1min        the figures are only as good as the machine is idle

It prints lines `bench: <name> <value> <unit>` and never fails on time: the
exit code is non-zero only on a real error.

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python tests/bench/bench_station.py [--stations N]
        [--entries M] [--rebuild]
"""
import argparse
import contextlib
import datetime
import hashlib
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The harness of the tests: tests/server.py
sys.path.insert(0, str(ROOT / 'tests'))
from server import (  # noqa: E402
    admin_all, create_database, database_exists, drop_database, init_pool,
    trytond_admin, write_conf)
from server import pg_connect as connect  # noqa: E402

DEFAULT_URI = 'postgresql://postgres@127.0.0.1:5432/'
FULL_STATIONS = 100_000
FULL_ENTRIES = 2_000_000
ADMIN_PASSWORD = 'admin-bench'
BENCH_USERS = 10
# Every BUSY_STRIDE-th station is a busy one: it gets a tenth of all entries,
# about 200 each at the full size, so that its log has more than one page.
BUSY_STRIDE = 100
BUSY_SHARE = 10  # 1 entry in BUSY_SHARE goes to a busy station

TARGET_MS = 150.0
TARGET_RATE = 300.0

# What sao reads for a page of a list view (Sao.Group.load): every field of
# the view (log_list.xml, station_list.xml), the rec_name of each Many2One,
# the record's rec_name and its _timestamp, _write and _delete.
_SAO_EXTRA = ['rec_name', '_timestamp', '_write', '_delete']
LOG_LIST_FIELDS = [
    'timestamp', 'station', 'station.rec_name', 'event_type',
    'event_type.rec_name', 'text', 'author', 'author.rec_name', 'visibility',
    'next_owner', 'next_owner.rec_name', 'next_action', 'follow_up_date',
    'email_state', 'corrects', 'corrects.rec_name', 'corrected', 'stage',
    ] + _SAO_EXTRA
STATION_LIST_FIELDS = [
    'number', 'customer', 'customer.rec_name', 'stage', 'sub_status', 'owner',
    'owner.rec_name', 'next_step', 'eta', 'follow_up_date', 'country',
    'country.rec_name', 'power_kw',
    ] + _SAO_EXTRA
OVERDUE_DOMAIN = [('follow_up_overdue', '=', True)]
SAO_PAGE = 80


def out(name, value, unit):
    if isinstance(value, float):
        value = f'{value:.1f}' if unit != 'ratio' else f'{value:.3f}'
    print(f'bench: {name} {value} {unit}', flush=True)


def note(message):
    print(f'[bench] {message}', file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Configuration and database

def server_uri():
    uri = os.environ.get('TRYTOND_DATABASE__URI') or DEFAULT_URI
    if not uri.startswith('postgresql'):
        sys.exit(f'bench_station: PostgreSQL is needed, not {uri!r} '
            '(set TRYTOND_DATABASE__URI=postgresql://...)')
    return uri


@contextlib.contextmanager
def bench_environment(uri, prefix='ev-bench-'):
    """A temporary directory with the benchmark's trytond configuration,
    made this process's (TRYTOND_CONFIG): yields (directory, config path)"""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        config = write_conf(Path(tmp) / 'bench.conf', {
                'database': {'uri': uri},
                'queue': {'worker': False},
                'email': {'uri': 'smtp://127.0.0.1:1',
                    'from': 'EV Bench <bench@ev.localhost>'},
                })
        os.environ['TRYTOND_CONFIG'] = str(config)
        os.environ.pop('TRYTOND_DATABASE__PATH', None)
        yield tmp, config


def ev_modules():
    return sorted(p.parent.name for p in ROOT.glob('addons/ev_*/tryton.cfg'))


def module_stamp():
    "Hash of the module sources, as ./ev computes it for its database"
    digest = hashlib.sha256()
    for path in sorted((ROOT / 'addons').rglob('*')):
        if (path.is_file() and path.suffix in {'.py', '.xml', '.cfg', '.po'}
                and 'tests' not in path.relative_to(ROOT).parts):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def initialise_database(uri, config, database, tmp):
    note(f'creating the database {database} (trytond-admin --all)')
    create_database(uri, database)
    admin_all(config, database, ADMIN_PASSWORD)
    activate_modules(config, database)


def activate_modules(config, database):
    modules = ev_modules()
    note(f'activating or updating the modules {", ".join(modules)}')
    trytond_admin(config, database, '-u', *modules, '--activate-dependencies')


META_TABLE = 'ev_bench_meta'


def read_meta(uri, database):
    with connect(uri, database) as conn:
        exists = conn.execute(
            'SELECT to_regclass(%s) IS NOT NULL', (META_TABLE,)).fetchone()[0]
        if not exists:
            return {}
        return dict(conn.execute(f'SELECT key, value FROM {META_TABLE}'))


def write_meta(conn, **values):
    conn.execute(f'CREATE TABLE IF NOT EXISTS {META_TABLE} '
        '(key VARCHAR PRIMARY KEY, value VARCHAR)')
    for key, value in values.items():
        conn.execute(f'INSERT INTO {META_TABLE} (key, value) VALUES (%s, %s) '
            'ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
            (key, str(value)))


def table_counts(uri, database):
    "Rows of the station tables, None when the module is not there"
    with connect(uri, database) as conn:
        if not conn.execute("SELECT to_regclass('ev_station_log') IS NOT NULL"
                ).fetchone()[0]:
            return None
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            for t in ['ev_station', 'ev_station_log']}


# --------------------------------------------------------------------------
# ORM set-up: the users the data refer to

def orm_setup(database):
    "Create the bench users; return (admin id, bench user ids)"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    with Transaction().start(database, 0) as transaction:
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        Group = pool.get('res.group')
        admin, = User.search([('login', '=', 'admin')])
        group = Group(ModelData.get_id('ev_station', 'group_ev'))
        logins = [f'bench{i}' for i in range(1, BENCH_USERS + 1)]
        existing = {u.login: u for u in User.search(
                [('login', 'in', logins)])}
        new = [User(login=login, name=f'Bench User {login[5:]}',
                groups=[group]) for login in logins if login not in existing]
        if new:
            User.save(new)
        users = User.search([('login', 'in', logins)], order=[('id', 'ASC')])
        transaction.commit()
        return admin.id, [u.id for u in users]


# --------------------------------------------------------------------------
# Bulk load, set-based

def drop_plain_indexes(conn, tables):
    """Drop the plain indexes of `tables` (not those of constraints) and
    return their (name, definition): a bulk load builds them again after
    the rows are in, as sorted builds are much faster than row by row
    maintenance. Same names and definitions, in the caller's transaction."""
    indexes = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "WHERE i.schemaname = 'public' AND i.tablename = ANY(%s) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conname = i.indexname)", (tables,)).fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    return indexes


def bulk_load(uri, database, n_stations, n_entries, admin_id, user_ids, stamp):
    note(f'loading {n_stations} stations and {n_entries} log entries')
    started = time.monotonic()
    with connect(uri, database) as conn:
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
        # The data is made consistent; skip the per-row foreign key checks
        # (the immutability triggers are on UPDATE and DELETE only).
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute('SELECT setseed(0.2026)')
        for table in ['ev_station', 'ev_station_log']:
            if conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]:
                raise RuntimeError(f'{table} is not empty: use --rebuild')
        tables = ['party_party', 'ev_station', 'ev_station_log',
            'ev_station_log_email']
        indexes = drop_plain_indexes(conn, tables)

        def base(table):
            return conn.execute(
                f'SELECT COALESCE(max(id), 0) FROM "{table}"').fetchone()[0]
        party_base = base('party_party')
        station_base = base('ev_station')
        log_base = base('ev_station_log')
        event_types = conn.execute(
            'SELECT id, code, stage FROM ev_station_event_type '
            'ORDER BY sequence, id').fetchall()
        type_ids = [t[0] for t in event_types]
        from trytond.modules.ev_station.station import STAGES
        stage_codes = [code for code, _ in STAGES]
        users = [admin_id] + list(user_ids)
        today = datetime.date.today()
        common = {
            'n': n_stations, 'm': n_entries, 'admin': admin_id,
            'users': users, 'pbase': party_base, 'sbase': station_base,
            'lbase': log_base, 'today': today,
            }

        t0 = time.monotonic()
        conn.execute(
            'INSERT INTO party_party (id, active, code, code_alnum, '
            'code_digit, name, create_date, create_uid) '
            "SELECT %(pbase)s + g, true, 'BENCH' || g, 'BENCH' || g, g, "
            "'Bench Customer ' || g, now(), %(admin)s "
            'FROM generate_series(1, %(n)s) g', common)
        note(f'  parties in {time.monotonic() - t0:.1f} s')

        # Stages: a third commissioned, the others spread over the life
        # cycle. Follow-up dates: ~5 % of all stations overdue (open and past
        # due), most open ones due in the next weeks, commissioned ones long
        # past (the partial index must leave them out).
        t0 = time.monotonic()
        conn.execute(
            'INSERT INTO ev_station (id, number, customer, owner, stage, '
            'sub_status, next_step, follow_up_date, eta, power_kw, phases, '
            'dlm, customer_account, create_date, create_uid) '
            'SELECT %(sbase)s + g, '
            "'BS' || lpad(g::text, 7, '0'), %(pbase)s + g, "
            '(%(users)s::int[])[1 + g %% cardinality(%(users)s::int[])], '
            'stage, '
            "CASE WHEN r2 < 0.3 THEN 'waiting for customer' END, "
            "'Call customer about step ' || (g %% 17), "
            'CASE '
            "WHEN stage = 'commissioned' "
            '  THEN %(today)s::date - (30 + floor(r1 * 1000))::int '
            'WHEN r1 < 0.077 THEN %(today)s::date - (1 + floor(r2 * 90))::int '
            'WHEN r1 < 0.85 THEN %(today)s::date + floor(r2 * 60)::int '
            'END, '
            'CASE WHEN r2 < 0.5 THEN %(today)s::date + floor(r1 * 90)::int '
            'END, '
            "22.0, '3', r2 < 0.4, 'ACC-' || g, "
            "now() - interval '3 years' * (1 - g::float / %(n)s), "
            '%(admin)s '
            'FROM (SELECT g, r1, r2, CASE WHEN r3 < 0.35 '
            "  THEN 'commissioned' "
            '  ELSE (%(stages)s::varchar[])'
            '    [LEAST(12, 1 + floor((r3 - 0.35) / 0.65 * 12)::int)]'
            '  END AS stage '
            '  FROM (SELECT g, random() AS r1, random() AS r2, '
            '    random() AS r3 FROM generate_series(1, %(n)s) g) s) s',
            dict(common, stages=stage_codes[:-1]))
        note(f'  stations in {time.monotonic() - t0:.1f} s')

        # Log entries, in the order they were appended: the timestamps grow
        # with the ids over the last three years. 1 in BUSY_SHARE goes to a
        # busy station, the others anywhere.
        n_busy = max(1, n_stations // BUSY_STRIDE)
        busy_stride = n_stations // n_busy
        visibilities = ['internal'] * 16 + ['client'] * 3 + ['client_email']
        t0 = time.monotonic()
        conn.execute(
            'INSERT INTO ev_station_log (id, station, event_type, '
            '"timestamp", author, text, visibility, next_owner, next_action, '
            'follow_up_date, stage, stage_override, create_date, create_uid) '
            'SELECT %(lbase)s + i, station, event_type, ts, %(admin)s, '
            "'Bench entry ' || i || ': ' || (%(phrases)s::text[])"
            '[1 + i %% cardinality(%(phrases)s::text[])] || '
            "' (ref ' || md5(i::text) || ')', "
            'visibility, '
            'CASE WHEN fw THEN (%(bench_users)s::int[])'
            '[1 + i %% cardinality(%(bench_users)s::int[])] END, '
            "CASE WHEN fw THEN 'Check the next step' END, "
            'CASE WHEN fw THEN ts::date + 7 END, '
            'NULL, false, ts, %(admin)s '
            'FROM (SELECT i, '
            'CASE WHEN i %% %(busy_share)s = 0 '
            '  THEN %(sbase)s + %(busy_stride)s '
            '    * (1 + floor(random() * %(n_busy)s)::int) '
            '  ELSE %(sbase)s + 1 + floor(random() * %(n)s)::int END '
            '  AS station, '
            '(%(types)s::int[])[1 + floor(random() * '
            '  cardinality(%(types)s::int[]))::int] AS event_type, '
            "now() - interval '3 years' * ((%(m)s - i)::float / %(m)s) "
            "  - interval '1 minute' AS ts, "
            '(%(visibilities)s::varchar[])[1 + floor(random() * '
            '  cardinality(%(visibilities)s::varchar[]))::int] AS visibility, '
            'random() < 0.05 AS fw '
            'FROM generate_series(1, %(m)s) i) l',
            dict(common, busy_share=BUSY_SHARE, busy_stride=busy_stride,
                n_busy=n_busy, types=type_ids, bench_users=list(user_ids),
                visibilities=visibilities, phrases=[
                    'Customer called about the delivery date.',
                    'Site survey done, cable route agreed with the owner.',
                    'Waiting for the prepayment to be confirmed by the bank.',
                    'Components ordered from the supplier.',
                    'Installer booked for next week.',
                    'Customer asked for an update by email.',
                    'Station tested, all checks passed.',
                    'Carrier quote received and forwarded.',
                    ]))
        note(f'  log entries in {time.monotonic() - t0:.1f} s')

        # The customer emails of the Client visible + Email entries
        t0 = time.monotonic()
        conn.execute(
            'INSERT INTO ev_station_log_email (entry, recipient, subject, '
            'body, state, attempt_count, last_attempt_at, sent_at, message_id, '
            'create_date, create_uid) '
            "SELECT l.id, 'Bench Customer <customer' || l.station "
            "|| '@example.com>', 'Your charging station: update', l.text, "
            "'sent', 1, l.timestamp, l.timestamp, "
            "'<bench-' || l.id || '@ev.localhost>', l.timestamp, %(admin)s "
            'FROM ev_station_log l '
            "WHERE l.id > %(lbase)s AND l.visibility = 'client_email'",
            common)
        note(f'  customer emails in {time.monotonic() - t0:.1f} s')

        t0 = time.monotonic()
        for _, definition in indexes:
            conn.execute(definition)
        note(f'  {len(indexes)} indexes rebuilt in {time.monotonic() - t0:.1f} s')
        for table in tables:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f'(SELECT max(id) FROM "{table}"))')
        write_meta(conn, stations=n_stations, entries=n_entries,
            loaded=datetime.datetime.now().isoformat(), stamp=stamp)
        conn.commit()
    t0 = time.monotonic()
    with connect(uri, database, autocommit=True) as conn:
        for table in tables + ['ev_station_handover']:
            conn.execute(f'VACUUM (ANALYZE) "{table}"')
    note(f'  vacuum analyze in {time.monotonic() - t0:.1f} s')
    duration = time.monotonic() - started
    note(f'loaded in {duration:.1f} s')
    return duration


# --------------------------------------------------------------------------
# Measures

class count_queries:
    """Count the SQL statements the ORM issues inside the block (through
    trytond's debug log of its cursor; for figures, never while timing)"""
    LOGGER = 'trytond.backend.postgresql.database'

    def __enter__(self):
        import logging

        class Counter(logging.Handler):
            count = 0

            def emit(self, record):
                Counter.count += 1
        self.logger = logging.getLogger(self.LOGGER)
        self.handler = Counter()
        self.saved = self.logger.level, self.logger.propagate
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.saved[0])
        self.logger.propagate = self.saved[1]

    @property
    def count(self):
        return self.handler.count


def percentile(values, fraction):
    "Nearest-rank percentile"
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class Bench:

    def __init__(self, database, admin_id, user_ids):
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        self.database = database
        self.pool = Pool(database)
        self.Transaction = Transaction
        self.admin_id = admin_id
        self.user_ids = user_ids
        with Transaction().start(database, admin_id, readonly=True):
            User = self.pool.get('res.user')
            # The context the client holds after login
            self.context = User.get_preferences(context_only=True)

    def request(self, func, readonly=True):
        """Run func in a transaction as the dispatcher runs an RPC call;
        return (result, elapsed ms)"""
        context = dict(self.context, _check_access=True)
        started = time.perf_counter()
        with self.Transaction().start(self.database, self.admin_id,
                readonly=readonly, context=context) as transaction:
            result = func(self.pool)
            if not readonly:
                transaction.commit()
        return result, (time.perf_counter() - started) * 1000

    def station_ids(self, busy):
        def query(pool):
            cursor = self.Transaction().connection.cursor()
            if busy:
                cursor.execute('SELECT station FROM ev_station_log '
                    'GROUP BY station HAVING count(*) >= 50')
            else:
                cursor.execute('SELECT id FROM ev_station')
            return [r[0] for r in cursor]
        return self.request(query)[0]

    def latest_log(self, station_id):
        "The station's log tab: search the first page, then read it"
        def search(pool):
            Log = pool.get('ev.station.log')
            return [r.id for r in Log.search([('station', '=', station_id)],
                    order=[('timestamp', 'DESC'), ('id', 'DESC')], limit=50)]

        def read(pool):
            return pool.get('ev.station.log').read(ids, LOG_LIST_FIELDS)
        ids, t_search = self.request(search)
        rows, t_read = self.request(read)
        if len(rows) != len(ids):
            raise RuntimeError('the log read missed entries')
        return len(ids), t_search, t_read

    def overdue(self):
        "The Overdue follow-ups tab: first page, its read and the counter"
        def search(pool):
            Station = pool.get('ev.station')
            return [r.id for r in Station.search(OVERDUE_DOMAIN,
                    limit=SAO_PAGE)]

        def read(pool):
            return pool.get('ev.station').read(ids, STATION_LIST_FIELDS)

        def count(pool):
            return pool.get('ev.station').search_count(OVERDUE_DOMAIN)
        ids, t_search = self.request(search)
        rows, t_read = self.request(read)
        total, t_count = self.request(count)
        if len(rows) != len(ids):
            raise RuntimeError('the station read missed stations')
        return len(ids), total, t_search, t_read, t_count

    def event_type_ids(self):
        def query(pool):
            EventType = pool.get('ev.station.event_type')
            return {code: EventType.from_code(code).id
                for code in ['note', 'call_summary', 'handover_forwarded']}
        if not hasattr(self, '_event_types'):
            self._event_types = self.request(query)[0]
        return self._event_types

    def entry_values(self, station_id, i, forward=False):
        """The values the client sends for a new entry (the event type and
        its visibility chosen, as on_change_event_type fills it)"""
        types = self.event_type_ids()
        values = {
            'station': station_id,
            'text': f'Bench append {i} at {datetime.datetime.now()}',
            'visibility': 'internal',
            }
        if forward:
            # Forwarding the task: a handover, and the station's next step
            # and follow-up date are updated
            values.update({
                    'event_type': types['handover_forwarded'],
                    'next_owner': self.user_ids[i % len(self.user_ids)],
                    'next_action': 'Call the customer back',
                    'follow_up_date': (datetime.date.today()
                        + datetime.timedelta(days=7)),
                    })
        else:
            values['event_type'] = types['note' if i % 2 else 'call_summary']
        return values

    def append(self, vlist):
        "One create call (one request, one transaction); return its ms"
        def create(pool):
            return [e.id for e in pool.get('ev.station.log').create(vlist)]
        return self.request(create, readonly=False)[1]


def append_worker(database, admin_id, user_ids, count, seed):
    """A process of its own (a server worker) appending `count` entries, one
    per request, each time it reads 'go'; prints its start and end times"""
    import json
    bench = Bench(database, admin_id, user_ids)
    rng = random.Random(seed)
    stations = bench.station_ids(busy=False)
    for i in range(3):
        bench.append([bench.entry_values(rng.choice(stations), i)])
    print('ready', flush=True)
    for line in sys.stdin:
        if line.strip() != 'go':
            break
        started = time.time()
        for i in range(count):
            bench.append([bench.entry_values(rng.choice(stations), i)])
        print(json.dumps({'start': started, 'end': time.time(),
                    'count': count}), flush=True)


def parallel_append(database, admin_id, user_ids, workers, count, rounds,
        seed):
    """Aggregate entries/s of `workers` processes appending at once, one
    figure per round"""
    import json
    procs = []
    for w in range(workers):
        procs.append(subprocess.Popen([sys.executable, __file__,
                    '--worker', json.dumps({
                            'database': database, 'admin_id': admin_id,
                            'user_ids': user_ids, 'count': count,
                            'seed': (seed or 0) * 100 + w})],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    rates = []
    try:
        for proc in procs:
            line = proc.stdout.readline()
            if line.strip() != 'ready':
                raise RuntimeError(f'append worker failed: {line!r}')
        for _ in range(rounds):
            for proc in procs:
                proc.stdin.write('go\n')
                proc.stdin.flush()
            results = []
            for proc in procs:
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError('append worker failed')
                results.append(json.loads(line))
            elapsed = (max(r['end'] for r in results)
                - min(r['start'] for r in results))
            rates.append(sum(r['count'] for r in results) / elapsed)
        for proc in procs:
            proc.stdin.close()
        for proc in procs:
            if proc.wait(timeout=60):
                raise RuntimeError('append worker failed')
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return rates


def measure(bench, repeat, append_count, rounds, seed, workers):
    rng = random.Random(seed)

    busy = bench.station_ids(busy=True)
    everyone = bench.station_ids(busy=False)
    if not busy:
        note('no station has 50 entries or more; using random stations')
        busy = everyone

    # The machine is shared: its load tells how far the figures can be
    # trusted (2 cores here; a load above 1 means something else runs)
    out('machine_load_1min', os.getloadavg()[0], 'load')

    # 1. One station's latest 50 log entries, a different station each time
    for warm in rng.sample(busy, min(2, len(busy))):
        bench.latest_log(warm)
    with count_queries() as counter:
        bench.latest_log(rng.choice(busy))
    out('station_latest_50_log_queries', counter.count, 'statements')
    stations = rng.sample(busy, min(repeat, len(busy)))
    totals, searches, reads, rows = [], [], [], []
    for station_id in stations:
        n, t_search, t_read = bench.latest_log(station_id)
        totals.append(t_search + t_read)
        searches.append(t_search)
        reads.append(t_read)
        rows.append(n)
    out('station_latest_50_log_median', statistics.median(totals), 'ms')
    out('station_latest_50_log_p90', percentile(totals, 0.9), 'ms')
    out('station_latest_50_log_search_median', statistics.median(searches),
        'ms')
    out('station_latest_50_log_read_median', statistics.median(reads), 'ms')
    out('station_latest_50_log_rows', statistics.mean(rows), 'rows')
    out('station_latest_50_log_vs_target',
        statistics.median(totals) / TARGET_MS, 'ratio')

    # The same on any station (about 20 entries each)
    stations = rng.sample(everyone, min(repeat, len(everyone)))
    totals = [sum(bench.latest_log(s)[1:]) for s in stations]
    out('station_log_any_station_median', statistics.median(totals), 'ms')

    # 2. Overdue follow-ups: first page, its read and the tab counter
    bench.overdue()
    with count_queries() as counter:
        bench.overdue()
    out('overdue_follow_ups_queries', counter.count, 'statements')
    totals, searches, reads, counts = [], [], [], []
    for _ in range(repeat):
        n, total, t_search, t_read, t_count = bench.overdue()
        totals.append(t_search + t_read + t_count)
        searches.append(t_search)
        reads.append(t_read)
        counts.append(t_count)
    out('overdue_follow_ups_median', statistics.median(totals), 'ms')
    out('overdue_follow_ups_p90', percentile(totals, 0.9), 'ms')
    out('overdue_follow_ups_search_median', statistics.median(searches), 'ms')
    out('overdue_follow_ups_read_median', statistics.median(reads), 'ms')
    out('overdue_follow_ups_count_median', statistics.median(counts), 'ms')
    out('overdue_follow_ups_count', total, 'rows')
    out('overdue_follow_ups_vs_target',
        statistics.median(totals) / TARGET_MS, 'ratio')

    # 3. Appending: one plain entry (a note, a call summary) per request,
    # each its own committed transaction, as the client creates them
    for w in range(3):
        bench.append([bench.entry_values(rng.choice(everyone), w)])
    with count_queries() as counter:
        bench.append([bench.entry_values(rng.choice(everyone), 1)])
    out('log_append_queries', counter.count, 'statements')
    rates, latencies = [], []
    for r in range(rounds):
        started = time.perf_counter()
        for i in range(append_count):
            latencies.append(bench.append(
                    [bench.entry_values(rng.choice(everyone), i)]))
        rates.append(append_count / (time.perf_counter() - started))
    rate = statistics.median(rates)
    out('log_append_rate', rate, 'entries/s')
    out('log_append_latency_median', statistics.median(latencies), 'ms')
    out('log_append_latency_p90', percentile(latencies, 0.9), 'ms')
    out('log_append_rate_vs_target', TARGET_RATE / rate, 'ratio')

    # Entries that forward the task (a handover, the station updated)
    latencies = [bench.append([bench.entry_values(
                    rng.choice(everyone), i, forward=True)])
        for i in range(max(1, append_count // 6))]
    out('log_append_forward_latency_median', statistics.median(latencies),
        'ms')
    out('log_append_forward_rate', 1000 / statistics.mean(latencies),
        'entries/s')

    # Many entries in one create call (an import, a batch job)
    rates = []
    for r in range(rounds):
        ms = bench.append([bench.entry_values(rng.choice(everyone), i)
                for i in range(append_count)])
        rates.append(append_count / ms * 1000)
    out('log_append_batch_rate', statistics.median(rates), 'entries/s')

    # Several server processes appending at once, one entry per request
    if workers > 1:
        rate = statistics.median(parallel_append(bench.database,
                bench.admin_id, bench.user_ids, workers, append_count,
                rounds, seed))
        out('log_append_parallel_workers', workers, 'processes')
        out('log_append_parallel_rate', rate, 'entries/s')
        out('log_append_parallel_rate_vs_target', TARGET_RATE / rate, 'ratio')
    out('machine_load_1min_end', os.getloadavg()[0], 'load')



# --------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--stations', type=int, default=FULL_STATIONS)
    parser.add_argument('--entries', type=int, default=FULL_ENTRIES)
    parser.add_argument('--database', help="default: ev_bench at the full "
        "size, ev_bench_<stations>_<entries> otherwise")
    parser.add_argument('--rebuild', action='store_true',
        help="drop the database and load it again")
    parser.add_argument('--repeat', type=int, default=20)
    parser.add_argument('--append', type=int, default=300,
        help="entries appended per round")
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--seed', type=int, default=None)
    parser.add_argument('--workers', type=int, default=2,
        help="processes of the parallel append (1: none)")
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        import json
        worker = json.loads(args.worker)
        init_pool(worker['database'])
        append_worker(**worker)
        return 0
    if args.stations < 1 or args.entries < 1:
        parser.error('--stations and --entries must be positive')

    full = (args.stations, args.entries) == (FULL_STATIONS, FULL_ENTRIES)
    database = args.database or (
        'ev_bench' if full else f'ev_bench_{args.stations}_{args.entries}')
    uri = server_uri()

    with bench_environment(uri) as (tmp, config):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            sys.exit('bench_station: trytond 8.0 needs psycopg 3 for '
                'PostgreSQL: pip install "psycopg[binary,pool]"')

        stamp = module_stamp()
        load_seconds = None
        if args.rebuild:
            note(f'dropping {database}')
            drop_database(uri, database)
        meta = {}
        if database_exists(uri, database):
            meta = read_meta(uri, database)
            size = (str(args.stations), str(args.entries))
            counts = table_counts(uri, database)
            if counts is None:
                note(f'{database} has no station module: creating it again')
                drop_database(uri, database)
            elif ((meta.get('stations'), meta.get('entries')) != size
                    and any(counts.values())):
                # Another size (a load that did not finish left the tables
                # empty: it is one transaction, and is simply done again)
                note(f'{database} has other data than asked: rebuilding')
                drop_database(uri, database)
                meta = {}
        if not database_exists(uri, database):
            initialise_database(uri, config, database, tmp)
        elif meta.get('stamp') != stamp:
            activate_modules(config, database)
            if meta.get('loaded'):
                with connect(uri, database) as conn:
                    write_meta(conn, stamp=stamp)
                    conn.commit()
                with connect(uri, database, autocommit=True) as conn:
                    conn.execute('ANALYZE')

        init_pool(database)
        admin_id, user_ids = orm_setup(database)
        if not read_meta(uri, database).get('loaded'):
            load_seconds = bulk_load(uri, database, args.stations,
                args.entries, admin_id, user_ids, stamp)
        else:
            note(f'reusing {database} (--rebuild to load it again)')

        with connect(uri, database) as conn:
            stations, = conn.execute(
                'SELECT count(*) FROM ev_station').fetchone()
            entries, = conn.execute(
                'SELECT count(*) FROM ev_station_log').fetchone()
        out('stations', stations, 'rows')
        out('log_entries', entries, 'rows')
        if load_seconds is not None:
            out('load_time', load_seconds, 's')

        bench = Bench(database, admin_id, user_ids)
        measure(bench, args.repeat, args.append, args.rounds, args.seed,
            args.workers)
    return 0


if __name__ == '__main__':
    sys.exit(main())
