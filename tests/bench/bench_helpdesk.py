#!/usr/bin/env python3
"""Benchmark of the helpdesk on PostgreSQL (`./ev bench`).

The issue's targets, on 200,000 tickets: an agent's inbox and the
near-breach list answer in at most 100 ms (median of 20), and the SLA cron
over all open tickets takes at most 2 s.

The script keeps a database (ev_bench_helpdesk at the full size,
ev_bench_helpdesk_<tickets> otherwise) with ev_helpdesk activated. The
company, the agents (ten per department, each a member of one) and the
manager are created through the ORM; the tickets and their two SLA clocks
each (first response, resolution) with set-based INSERT ... SELECT. A rerun
reuses the data (--rebuild loads it again).

The data: tickets opened over the last year; a fifth are still active
(open, in progress or waiting on the customer), the rest resolved or
closed with their clocks met. The active tickets' resolution clocks run
(paused when waiting) with due times spread from two hours ago to four days
ahead, so that some are past their warning and some past their target —
and none settled yet, as after a pause of the cron: its first run has all
of them to warn or breach, the worst case.

Figures (each request in a transaction of its own, with access checks on):
  helpdesk_agent_inbox_*     an agent's Tickets list as sao opens it (the
                             active tickets of their department or assigned
                             to them, under the record rules): search of the
                             first page (80), the count, the read of the
                             list view's fields
  helpdesk_near_breach_*     the manager's Near Breach tab, the same way
  helpdesk_sla_cron_*        ev.sla.clock|check_due over all the clocks, as
                             root, rolled back after each run; *_settled is
                             how many clocks each run warned or breached
  *_vs_target                median / target: below 1 is within it

It prints lines `bench: <name> <value> <unit>` and never fails on time.

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python tests/bench/bench_helpdesk.py [--tickets N]
        [--rebuild] [--repeat R]
"""
import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_field import bench_company, prepare_database  # noqa: E402
from bench_station import (  # noqa: E402
    bench_environment, drop_plain_indexes, note, out, percentile, read_meta,
    server_uri, write_meta)
from server import init_pool  # noqa: E402
from server import pg_connect as connect  # noqa: E402

FULL_TICKETS = 200_000
LIST_TARGET_MS = 100.0
CRON_TARGET_MS = 2000.0
AGENTS_PER_DEPARTMENT = 10
PAGE = 80
ACTIVE = ['open', 'in_progress', 'waiting']
_SAO_EXTRA = ['rec_name', '_timestamp', '_write', '_delete']
TICKET_LIST = ['number', 'subject', 'priority', 'category',
    'category.rec_name', 'party', 'party.rec_name', 'station',
    'station.rec_name', 'department', 'department.rec_name', 'agent',
    'agent.rec_name', 'opened_at', 'sla_status', 'sla_due_at',
    'state'] + _SAO_EXTRA


def orm_setup(database):
    """The company, the agents of each department and a manager through the
    ORM; returns the ids the bulk load needs"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    with Transaction().start(database, 0) as transaction:
        User = pool.get('res.user')
        Group = pool.get('res.group')
        ModelData = pool.get('ir.model.data')
        Department = pool.get('ev.helpdesk.department')
        Category = pool.get('ev.helpdesk.category')
        admin, company = bench_company(pool, "EV Bench Helpdesk")
        agent_group = Group(ModelData.get_id(
                'ev_helpdesk', 'group_helpdesk_agent'))
        manager_group = Group(ModelData.get_id(
                'ev_helpdesk', 'group_helpdesk_manager'))
        departments = Department.search([], order=[('id', 'ASC')])
        agents = {}
        for department in departments:
            users = User.create([{
                        'login': f'bench-{department.code}-{i}',
                        'name': f"Bench {department.name} Agent {i}",
                        'groups': [('add', [agent_group.id])],
                        'companies': [('add', [company.id])],
                        'company': company.id,
                        } for i in range(1, AGENTS_PER_DEPARTMENT + 1)])
            Department.write([department], {
                    'members': [('add', [u.id for u in users])]})
            agents[department.id] = [u.id for u in users]
        manager, = User.create([{
                    'login': 'bench-helpdesk-manager',
                    'name': "Bench Helpdesk Manager",
                    'groups': [('add', [manager_group.id])],
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    }])
        Department.write(departments, {'supervisor': manager.id})
        categories = [c.id for c in Category.search([])]
        calendar = pool.get('ev.sla.target').search([
                ('kind', '=', 'ev_helpdesk.ticket')], limit=1)[0].calendar
        transaction.commit()
        return {
            'admin': admin.id, 'company': company.id,
            'manager': manager.id,
            'departments': [d.id for d in departments],
            # agents[k][j]: the j-th agent of the k-th department
            'agents': [agents[d.id] for d in departments],
            'categories': categories,
            'calendar': calendar.id,
            }


def bulk_load(uri, database, n_tickets, ids, size):
    "The tickets and their clocks in SQL"
    with connect(uri, database) as conn:
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute('SELECT setseed(0.2026)')
        tables = ['ev_helpdesk_ticket', 'ev_sla_clock']
        for table in tables:
            if conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]:
                raise RuntimeError(f'{table} is not empty: use --rebuild')
        indexes = drop_plain_indexes(conn, tables)
        now = dt.datetime.utcnow().replace(microsecond=0)
        params = dict(n=n_tickets, now=now, admin=ids['admin'],
            company=ids['company'], departments=ids['departments'],
            agents=ids['agents'], categories=ids['categories'],
            calendar=ids['calendar'])

        def step(label, query):
            t0 = time.monotonic()
            conn.execute(query, params)
            note(f'  {label} in {time.monotonic() - t0:.1f} s')

        # A fifth active: the newest; agents assigned once picked up
        step('tickets',
            'INSERT INTO ev_helpdesk_ticket (id, number, company, subject, '
            'category, department, agent, priority, state, opened_at, '
            'first_response_at, waiting_since, resolved_at, closed_at, '
            'resolution, create_date, create_uid) '
            "SELECT g, 'TCK-B' || lpad(g::text, 7, '0'), %(company)s, "
            "'Bench ticket ' || g, "
            '(%(categories)s::int[])[1 + g %% cardinality('
            '  %(categories)s::int[])], '
            '(%(departments)s::int[])[1 + dep], '
            "CASE WHEN state = 'open' THEN NULL "
            '  ELSE (%(agents)s::int[])[1 + dep][1 + g %% 10] END, '
            "(ARRAY['critical', 'high', 'medium', 'low'])[1 + g %% 4], "
            'state, opened, '
            "CASE WHEN state <> 'open' THEN opened + interval '20 minutes' "
            'END, '
            "CASE WHEN state = 'waiting' THEN opened + interval '1 hour' "
            'END, '
            "CASE WHEN state IN ('resolved', 'closed') "
            "  THEN opened + interval '6 hours' END, "
            "CASE WHEN state = 'closed' THEN opened + interval '2 days' "
            'END, '
            "CASE WHEN state IN ('resolved', 'closed') THEN 'Done' END, "
            'opened, %(admin)s '
            'FROM (SELECT g, g %% cardinality(%(departments)s::int[]) '
            '  AS dep, '
            "  %(now)s::timestamp - interval '1 day' * "
            '    (365 * (%(n)s - g)::float / %(n)s) AS opened, '
            '  CASE WHEN g > %(n)s * 0.8 '
            "    THEN (ARRAY['open', 'in_progress', 'in_progress', "
            "      'waiting'])[1 + g %% 4] "
            "    WHEN g %% 5 = 0 THEN 'resolved' ELSE 'closed' END AS state "
            '  FROM generate_series(1, %(n)s) g) t')
        # First response: met unless still open; resolution: met when
        # resolved, paused when waiting, running otherwise (due from two
        # hours ago to four days ahead, warned at 80 %%, none settled)
        step('clocks',
            'INSERT INTO ev_sla_clock (id, record_model, record_id, metric, '
            'calendar, state, started_at, target_seconds, warning_percent, '
            'scheduled_at, paused, paused_since, paused_seconds, warn_at, '
            'due_at, warned, stopped_at, create_date, create_uid) '
            'SELECT row_number() OVER (ORDER BY t.id, m.metric), '
            "'ev.helpdesk.ticket', t.id, m.metric, %(calendar)s, "
            'CASE WHEN running THEN '
            "  CASE WHEN paused THEN 'paused' ELSE 'running' END "
            "  ELSE 'met' END, "
            't.opened_at, 28800, 80, t.opened_at, paused, '
            'CASE WHEN paused THEN t.waiting_since END, 0, '
            "CASE WHEN running AND NOT paused THEN due - interval "
            "  '96 minutes' END, "
            'CASE WHEN running AND NOT paused THEN due END, false, '
            'CASE WHEN NOT running THEN COALESCE(t.resolved_at, '
            '  t.first_response_at) END, t.opened_at, %(admin)s '
            'FROM ev_helpdesk_ticket t '
            "CROSS JOIN (VALUES ('first_response'), ('resolution')) "
            '  AS m(metric) '
            'CROSS JOIN LATERAL (SELECT '
            "  (m.metric = 'first_response' AND t.state = 'open') "
            "  OR (m.metric = 'resolution' "
            "    AND t.state IN ('open', 'in_progress', 'waiting')) "
            '    AS running, '
            "  m.metric = 'resolution' AND t.state = 'waiting' AS paused, "
            "  %(now)s::timestamp + interval '1 minute' * "
            '    (-120 + (t.id * 7919 %% 5880)) AS due) c')
        for name, definition in indexes:
            conn.execute(definition)
        for table in tables:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f'(SELECT max(id) FROM "{table}"))')
        write_meta(conn, loaded=True, size=size, company=ids['company'],
            manager=ids['manager'], agent=ids['agents'][0][0])
        conn.commit()


# --------------------------------------------------------------------------
# Measures

def timed(database, user_id, company_id, request, readonly=True):
    """Milliseconds of one request as `user_id` in a transaction of its
    own, access checks on (a writable one is rolled back)"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    context = {'company': company_id, 'companies': [company_id],
        '_check_access': bool(user_id)}
    with Transaction().start(database, user_id, readonly=readonly,
            context=context) as transaction:
        started = time.perf_counter()
        result = request(pool)
        ms = (time.perf_counter() - started) * 1000
        if not readonly:
            transaction.rollback()
        return ms, result


def list_request(domain):
    "A tab as sao opens it: the first page, the count, the list's fields"
    def request(pool):
        Ticket = pool.get('ev.helpdesk.ticket')
        tickets = Ticket.search(domain, limit=PAGE)
        count = Ticket.search_count(domain)
        rows = Ticket.read([t.id for t in tickets], TICKET_LIST)
        return len(rows), count
    return request


def sla_cron(pool):
    Clock = pool.get('ev.sla.clock')
    return len(Clock.check_due())


def report(name, timings, target):
    median = statistics.median(timings)
    out(f'{name}_median', median, 'ms')
    out(f'{name}_p95', percentile(timings, 0.95), 'ms')
    out(f'{name}_vs_target', median / target, 'ratio')


def measure(database, meta, repeat):
    company = int(meta['company'])

    def series(name, user_id, request, target, readonly=True, warm=3):
        for _ in range(warm):
            timed(database, user_id, company, request, readonly)
        timings, result = [], None
        for _ in range(repeat):
            ms, result = timed(database, user_id, company, request,
                readonly)
            timings.append(ms)
        report(name, timings, target)
        return result

    active = ('state', 'in', ACTIVE)
    rows, count = series('helpdesk_agent_inbox', int(meta['agent']),
        list_request([active]), LIST_TARGET_MS)
    out('helpdesk_agent_inbox_rows_read', rows, 'rows')
    out('helpdesk_agent_inbox_count', count, 'tickets')
    rows, count = series('helpdesk_near_breach', int(meta['manager']),
        list_request([active, ('sla_status', '=', 'near_breach')]),
        LIST_TARGET_MS)
    out('helpdesk_near_breach_rows_read', rows, 'rows')
    out('helpdesk_near_breach_count', count, 'tickets')
    settled = series('helpdesk_sla_cron', 0, sla_cron, CRON_TARGET_MS,
        readonly=False, warm=1)
    out('helpdesk_sla_cron_settled', settled, 'clocks')
    out('machine_load_1min_end', os.getloadavg()[0], 'load')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tickets', type=int, default=FULL_TICKETS)
    parser.add_argument('--database')
    parser.add_argument('--rebuild', action='store_true')
    parser.add_argument('--repeat', type=int, default=20)
    args = parser.parse_args()
    if min(args.tickets, args.repeat) < 1:
        parser.error('--tickets and --repeat must be positive')
    database = args.database or ('ev_bench_helpdesk'
        if args.tickets == FULL_TICKETS
        else f'ev_bench_helpdesk_{args.tickets}')
    uri = server_uri()
    with bench_environment(uri, prefix='ev-bench-helpdesk-') as (_, config):
        meta = prepare_database(uri, config, database, None, args.rebuild,
            str(args.tickets), modules=('ev_helpdesk',),
            table='ev_helpdesk_ticket')
        init_pool(database)
        if not meta.get('loaded'):
            note(f'loading {args.tickets} tickets')
            started = time.monotonic()
            ids = orm_setup(database)
            bulk_load(uri, database, args.tickets, ids, str(args.tickets))
            out('helpdesk_load_time', time.monotonic() - started, 's')
            meta = read_meta(uri, database)
        else:
            note(f'reusing {database} (--rebuild to load it again)')
        with connect(uri, database, autocommit=True) as conn:
            conn.execute('ANALYZE')
        with connect(uri, database) as conn:
            for table, label in [('ev_helpdesk_ticket', 'tickets'),
                    ('ev_sla_clock', 'clocks')]:
                count, = conn.execute(
                    f'SELECT count(*) FROM "{table}"').fetchone()
                out(f'helpdesk_{label}', count, 'rows')
            open_count, = conn.execute(
                'SELECT count(*) FROM ev_helpdesk_ticket '
                "WHERE state IN ('open', 'in_progress', 'waiting')"
                ).fetchone()
            out('helpdesk_open_tickets', open_count, 'rows')
        measure(database, meta, args.repeat)
    return 0


if __name__ == '__main__':
    sys.exit(main())
