#!/usr/bin/env python3
"""Benchmark of the dashboards per role on PostgreSQL (`./ev bench`).

The issue's target: each dashboard query in at most 200 ms on 100,000
leads.

The script keeps a template database (ev_bench_dashboards): the leads and
jobs of bench_oem_report.py (100,000 leads received last month with their
survey and installation jobs; copied from its template
ev_bench_oem_report when that one exists with the size asked, else made
the same way), ev_oem_report updated on it, and by SQL: each lead's site
address in one of 100 zones (PIN codes), 1 % of the jobs booked today,
0.1 % of them with their team fallen away (emergency), and a customer
feedback after each closed installation. The data written by SQL bypasses
the events that keep the leads' stored zone, milestones and job counts
(ev_oem_report/milestone.py): they are then computed for all the leads by
the module's own migration code. A rerun reuses it (--rebuild forces a new
one).

Each dashboard is read as the client reads it, through the ORM in a
transaction of its own (search, then read of its list's fields), for the
company and last month, --repeat times; figures:
  dashboard_<name>         the median of search + read, in ms (the table
                           query runs twice, as when the client opens it)
  dashboard_<name>_query   the median of the table query alone, in ms
  dashboard_<name>_rows
  dashboard_max_ratio_to_target   the slowest median / 200 ms

It prints lines `bench: <name> <value> <unit>` and never fails on time.
The Finance dashboard needs ev_payout (not activated here): not measured.

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python tests/bench/bench_dashboards.py [--leads 100000]
        [--repeat 7] [--rebuild]
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_field import prepare_database  # noqa: E402
from bench_oem_report import (  # noqa: E402
    TEMPLATE as OEM_TEMPLATE, create_world, load_leads)
from bench_payout import close_database, last_month  # noqa: E402
from bench_station import (  # noqa: E402
    bench_environment, note, out, read_meta, server_uri, write_meta)
from server import (  # noqa: E402
    copy_database, database_exists, drop_database, init_pool)
from server import pg_connect as connect  # noqa: E402

LEADS = 100_000
TARGET_MS = 200.0
TEMPLATE = 'ev_bench_dashboards'
MODULES = ['ev_oem_report']
ZONES = 100
# model: the fields its list reads
DASHBOARDS = {
    'ops': ('ev.oem.dashboard.ops', ['figure', 'count']),
    'funnel': ('ev.oem.dashboard.funnel', ['stage', 'leads', 'rate']),
    'zone': ('ev.oem.dashboard.zone', ['zone', 'leads', 'contacted',
            'first_contact_hours', 'surveys', 'surveys_completed',
            'survey_completion', 'installations', 'installed',
            'installation_success']),
    'satisfaction': ('ev.oem.dashboard.satisfaction',
        ['month', 'zone', 'responses', 'rating']),
    }


def load_dashboard_data(uri, database, world):
    """The sites' zones, today's jobs, the emergencies and the feedback,
    set-based"""
    started = time.monotonic()
    with connect(uri, database) as conn:
        params = {'company': int(world['company']),
            'admin': int(world['admin']), 'zones': ZONES}
        (party,), = conn.execute(
            'INSERT INTO party_party (code, name, active, create_uid, '
            "create_date) VALUES ('BENCH-CUSTOMERS', 'Bench Customers', "
            "true, %(admin)s, now()) "
            'RETURNING id', params)
        params['party'] = party
        # One address per lead, its PIN code in one of the zones
        conn.execute(
            'INSERT INTO party_address (party, street_unstructured, '
            'postal_code, active, sequence, create_uid, create_date) '
            "SELECT %(party)s, 'lead ' || id, "
            "(100 + id %% %(zones)s)::text || '0' || lpad((id %% 97)::text, "
            "2, '0'), true, 10, %(admin)s, now() "
            'FROM sale_opportunity WHERE company = %(company)s', params)
        conn.execute(
            'UPDATE sale_opportunity o SET address = a.id '
            'FROM party_address a '
            "WHERE a.party = %(party)s "
            "AND a.street_unstructured = 'lead ' || o.id",
            params)
        # 1 % of the jobs booked today, 0.1 % of them in emergency
        conn.execute(
            "UPDATE ev_field_job SET slot_start = date_trunc('day', now()) "
            "+ interval '1 hour' * (8 + id %% 9), "
            "slot_end = date_trunc('day', now()) "
            "+ interval '1 hour' * (10 + id %% 9), "
            "state = CASE WHEN id %% 1000 = 0 THEN 'emergency' "
            "ELSE 'scheduled' END, reported_at = NULL "
            'WHERE company = %(company)s AND id %% 100 = 0', params)
        conn.execute(
            'INSERT INTO ev_oem_closure_feedback (company, job, lead, zone, '
            'date, rating, create_uid, create_date) '
            'SELECT j.company, j.id, j.lead, '
            "COALESCE(substring(trim(a.postal_code) FROM 1 FOR 3), ''), "
            'j.closure_call_at::date, 1 + j.id %% 5, %(admin)s, now() '
            'FROM ev_field_job j JOIN sale_opportunity o ON o.id = j.lead '
            'LEFT JOIN party_address a ON a.id = o.address '
            'WHERE j.company = %(company)s '
            'AND j.closure_call_at IS NOT NULL', params)
        write_meta(conn, dashboards=1)
        conn.commit()
    with connect(uri, database, autocommit=True) as conn:
        conn.execute('VACUUM (ANALYZE)')
    return time.monotonic() - started


def store_dashboard_figures(database):
    """The leads' stored zone, milestones and job counts computed from the
    data loaded by SQL, by the migration's code (all the leads at once)"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    init_pool(database)
    pool = Pool(database)
    started = time.monotonic()
    with Transaction().start(database, 0) as transaction:
        pool.get('sale.opportunity').update_dashboard_figures()
        cursor = transaction.connection.cursor()
        write_meta(cursor, figures=1)
        transaction.commit()
    seconds = time.monotonic() - started
    close_database(database)
    return seconds


def measure(database, meta, repeat):
    "The median milliseconds and the rows of each dashboard"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    init_pool(database)
    pool = Pool(database)
    month_start, month_end = last_month()
    context = {'company': int(meta['company']),
        'from_date': month_start, 'to_date': month_end}
    result = {}
    for name, (model, names) in DASHBOARDS.items():
        timings, queries = [], []
        for _ in range(repeat + 1):
            with Transaction().start(database, 0, readonly=True,
                    context=context) as transaction:
                Model = pool.get(model)
                started = time.monotonic()
                records = Model.search([])
                Model.read([r.id for r in records], names)
                timings.append((time.monotonic() - started) * 1000)
                # The table query alone, once
                cursor = transaction.connection.cursor()
                started = time.monotonic()
                cursor.execute(*Model.table_query())
                cursor.fetchall()
                queries.append((time.monotonic() - started) * 1000)
        # The first read fills the caches of the pool: left out
        result[name] = (statistics.median(timings[1:]),
            statistics.median(queries[1:]), len(records))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--leads', type=int, default=LEADS)
    parser.add_argument('--repeat', type=int, default=7)
    parser.add_argument('--rebuild', action='store_true',
        help="drop the template database and make it again")
    args = parser.parse_args()
    uri = server_uri()
    month_start, month_end = last_month()
    size = f'{args.leads}@{month_start.isoformat()}'
    with bench_environment(uri, prefix='ev-bench-dashboards-') as (_, config):
        if args.rebuild:
            drop_database(uri, TEMPLATE)
        if (not database_exists(uri, TEMPLATE)
                and database_exists(uri, OEM_TEMPLATE)
                and read_meta(uri, OEM_TEMPLATE).get('size') == size):
            note(f'copying the leads of {OEM_TEMPLATE}')
            copy_database(uri, TEMPLATE, OEM_TEMPLATE)
        meta = prepare_database(uri, config, TEMPLATE, None, False, size,
            modules=MODULES, table='ev_oem_report')
        if not meta.get('loaded'):
            note(f'making {args.leads} leads ({size})')
            init_pool(TEMPLATE)
            world = create_world(TEMPLATE, month_start)
            close_database(TEMPLATE)
            with connect(uri, TEMPLATE) as conn:
                write_meta(conn, **world)
                conn.commit()
            seconds = load_leads(uri, TEMPLATE, world, args.leads,
                month_start, month_end, size)
            note(f'  leads loaded in {seconds:.1f} s')
            meta = read_meta(uri, TEMPLATE)
        if not meta.get('dashboards'):
            seconds = load_dashboard_data(uri, TEMPLATE, meta)
            note(f'  zones, today\'s jobs and feedback in {seconds:.1f} s')
            meta = read_meta(uri, TEMPLATE)
        if not meta.get('figures'):
            seconds = store_dashboard_figures(TEMPLATE)
            note(f'  the leads\' dashboard figures stored in {seconds:.1f} s')
            with connect(uri, TEMPLATE, autocommit=True) as conn:
                conn.execute('VACUUM (ANALYZE) sale_opportunity')
            meta = read_meta(uri, TEMPLATE)
        result = measure(TEMPLATE, meta, args.repeat)

    for name, (ms, query_ms, rows) in result.items():
        out(f'dashboard_{name}', ms, 'ms')
        out(f'dashboard_{name}_query', query_ms, 'ms')
        out(f'dashboard_{name}_rows', rows, 'rows')
    out('dashboard_max_ratio_to_target',
        max(ms for ms, _, _ in result.values()) / TARGET_MS, 'ratio')
    out('machine_load_1min_end', os.getloadavg()[0], 'load')
    return 0


if __name__ == '__main__':
    sys.exit(main())
