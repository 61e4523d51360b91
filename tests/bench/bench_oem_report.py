#!/usr/bin/env python3
"""Benchmark of an OEM's monthly report on PostgreSQL (`./ev bench`).

The issue's target: the monthly XLSX report of an OEM with 100,000 leads in
the month in at most 10 s, with a peak memory under 200 MB.

The script keeps a template database (ev_bench_oem_report) with
ev_oem_report activated, a company, the OEM "Bench Motors" and its monthly
XLSX configuration (every metric, the default columns) made through the
ORM, and the leads bulk-inserted by SQL: received at random over last
month, 80 % contacted, 60 % surveyed, 40 % installed, 30 % closed (with
their field jobs), 10 % cancelled with one of five reasons, and their SLA
clocks (a clock per transition begun, stopped at the next milestone, one
lead in seven breached). A rerun reuses it when it has the leads asked
(--rebuild forces a new one).

The generation runs in a child process (this script with --child), on a
copy of the template dropped afterwards: the pool loaded, then its peak
resident memory reset (/proc/self/clear_refs) and the report of last month
created and generated in one transaction, as the cron does; --runs times
(3), each on a fresh copy. Figures, the medians of the runs:
  oem_report_<k>k_xlsx_seconds    the generation (query, file, filestore)
  oem_report_<k>k_peak_rss_mb     the child's peak resident memory during
                                  the generation (the loaded pool included)
  oem_report_<k>k_rss_growth_mb   that peak less the resident memory before
                                  the generation: what the report added
  oem_report_<k>k_pool_rss_mb     the resident memory of the loaded pool
  oem_report_<k>k_rows            rows of the data sheet (= the leads)
  oem_report_<k>k_file_mb         size of the XLSX
  oem_report_seconds_ratio_to_target  seconds / 10 (below 1: within target)
  oem_report_memory_ratio_to_target   peak RSS / 200 MB

It prints lines `bench: <name> <value> <unit>` and never fails on time: the
exit code is non-zero only on a real error, or when the report does not
have a row per lead.

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python tests/bench/bench_oem_report.py [--leads 100000]
        [--rebuild] [--profile]
"""
import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_field import bench_company, prepare_database  # noqa: E402
from bench_payout import close_database, last_month  # noqa: E402
from bench_station import (  # noqa: E402
    bench_environment, note, out, read_meta, server_uri, write_meta)
from server import copy_database, drop_database, init_pool  # noqa: E402
from server import pg_connect as connect  # noqa: E402

LEADS = 100_000
TARGET_S = 10.0
TARGET_MB = 200.0
TEMPLATE = 'ev_bench_oem_report'
COPY = 'ev_bench_oem_report_run'
MODULES = ['ev_oem_report']


def create_world(database, month_start):
    "Company, OEM and its monthly configuration through the ORM"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    with Transaction().start(database, 0) as transaction:
        Party = pool.get('party.party')
        Config = pool.get('ev.oem.report.config')
        admin, company = bench_company(pool, "EV Bench OEM Reports")
        with transaction.set_context(company=company.id):
            oem, = Party.create([{'name': "Bench Motors", 'ev_is_oem': True}])
            config, = Config.create([{
                        'name': "Bench Motors monthly",
                        'company': company.id,
                        'oem': oem.id,
                        'frequency': 'monthly',
                        'file_format': 'xlsx',
                        'next_period_start': month_start,
                        }])
        transaction.commit()
    return {'admin': admin.id, 'company': company.id, 'oem': oem.id,
        'config': config.id}


def load_leads(uri, database, world, n_leads, month_start, month_end,
        size):
    """n_leads leads of the OEM received over the month and their field
    jobs, set-based"""
    seconds = ((month_end - month_start).days + 1) * 86400 - 1
    started = time.monotonic()
    with connect(uri, database) as conn:
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute('SELECT setseed(0.2026)')
        (currency,), = conn.execute(
            'SELECT currency FROM company_company WHERE id = %s',
            (int(world['company']),))
        params = {'company': world['company'], 'oem': world['oem'],
            'currency': currency,
            'admin': world['admin'], 'month': month_start, 'n': n_leads,
            'seconds': seconds}
        # g % 10: 0 cancelled; 1 new; 2..9 contacted; 4..9 surveyed;
        # 6..9 installed; 7..9 closed
        conn.execute(
            'INSERT INTO sale_opportunity (number, company, lead_source, '
            'oem, oem_reference, state, charger_model, charger_quantity, '
            'site_type, currency, contacted_at, closed_at, '
            'cancellation_reason, '
            'conversion_probability, start_date, create_uid, create_date) '
            "SELECT 'BOR' || lpad(g::text, 7, '0'), %(company)s, 'oem', "
            "%(oem)s, 'BM-' || g, "
            "CASE WHEN g %% 10 = 0 THEN 'cancelled' WHEN g %% 10 = 1 "
            "THEN 'lead' WHEN g %% 10 < 4 THEN 'contacted' ELSE 'won' END, "
            "'7.4 kW AC', 1, 'home', %(currency)s, "
            "CASE WHEN g %% 10 <> 1 THEN received + interval '1 hour' "
            '* (1 + g %% 40) END, '
            "CASE WHEN g %% 10 = 0 THEN received + interval '2 days' END, "
            "CASE WHEN g %% 10 = 0 THEN (ARRAY['Customer moved house', "
            "'Price too high', 'Site not ready', 'Bought elsewhere', "
            "'No response'])[1 + (g / 10) %% 5] END, "
            '0, received::date, %(admin)s, received '
            "FROM (SELECT g, %(month)s::timestamp + interval '1 second' "
            '* floor(random() * %(seconds)s) AS received '
            '  FROM generate_series(1, %(n)s) g) l', params)
        conn.execute(
            'INSERT INTO ev_field_job (number, kind, state, company, lead, '
            'reported_at, closure_call_at, create_uid, create_date) '
            "SELECT 'BOJ' || o.id || j.kind, j.kind, "
            "CASE WHEN j.kind = 'installation' AND n %% 10 >= 7 "
            "THEN 'closed' ELSE 'done' END, o.company, o.id, "
            "o.contacted_at + CASE WHEN j.kind = 'survey' "
            "THEN interval '3 hours' * (n %% 37) "
            "ELSE interval '5 hours' * (n %% 53) + interval '4 days' END, "
            "CASE WHEN j.kind = 'installation' AND n %% 10 >= 7 "
            "THEN o.contacted_at + interval '9 days' END, "
            '%(admin)s, o.create_date '
            'FROM (SELECT id, company, contacted_at, create_date, '
            "  substring(number from 4)::int AS n FROM sale_opportunity "
            '  WHERE oem = %(oem)s) o '
            "JOIN (VALUES ('survey', 4), ('installation', 6)) "
            'AS j(kind, from_) ON o.n %% 10 >= j.from_', params)
        # The leads' SLA clocks, as sla_lead.py leaves them: each
        # transition started at its first milestone, stopped at the next;
        # one in seven breached
        (calendar,), = conn.execute(
            'SELECT db_id FROM ir_model_data WHERE module = %s '
            'AND fs_id = %s', ('ev_station', 'business_calendar_default'))
        params['calendar'] = calendar
        conn.execute(
            'INSERT INTO ev_sla_clock (record_model, record_id, metric, '
            'calendar, state, started_at, target_seconds, warning_percent, '
            'scheduled_at, paused, paused_seconds, warned, breached_at, '
            'stopped_at, elapsed_seconds, create_uid, create_date) '
            "SELECT 'sale.opportunity', o.id, m.metric, %(calendar)s, "
            "CASE WHEN o.id %% 7 = 0 THEN 'breached' "
            "WHEN m.stop IS NULL THEN 'running' ELSE 'met' END, "
            'm.start, m.target, 80, m.start, false, 0, o.id %% 7 = 0, '
            "CASE WHEN o.id %% 7 = 0 THEN m.start + interval '1 hour' END, "
            'm.stop, CASE WHEN m.stop IS NOT NULL '
            'THEN (extract(epoch FROM m.stop - m.start) / 3)::int END, '
            '%(admin)s, now() '
            'FROM sale_opportunity o LEFT JOIN ('
            "  SELECT lead, min(reported_at) FILTER (WHERE kind = 'survey') "
            '    AS surveyed, '
            "  min(reported_at) FILTER (WHERE kind = 'installation') "
            '    AS installed, min(closure_call_at) AS closed '
            '  FROM ev_field_job GROUP BY lead) j ON j.lead = o.id '
            'CROSS JOIN LATERAL (VALUES '
            "  ('lead_first_contact', o.create_date, o.contacted_at, 14400), "
            "  ('lead_survey_scheduled', o.contacted_at, j.surveyed, "
            '    172800), '
            "  ('lead_installation', j.surveyed, j.installed, 432000), "
            "  ('lead_closure', j.installed, j.closed, 172800), "
            "  ('lead_end_to_end', o.create_date, j.closed, 972000)"
            ') AS m(metric, start, stop, target) '
            'WHERE o.oem = %(oem)s AND m.start IS NOT NULL', params)
        write_meta(conn, loaded=1, size=size, month=month_start.isoformat())
        conn.commit()
    with connect(uri, database, autocommit=True) as conn:
        conn.execute('VACUUM (ANALYZE)')
    return time.monotonic() - started


def rss_mb(field):
    "VmRSS or VmHWM (the peak) of this process, in MB"
    with open('/proc/self/status') as fp:
        for line in fp:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(database, meta, profile=False):
    """In the child process: the report of the month generated once;
    prints its figures as JSON on stdout"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    init_pool(database)
    pool = Pool(database)
    month_start = dt.date.fromisoformat(meta['month'])
    _, month_end = last_month(month_start + dt.timedelta(days=40))
    with Transaction().start(database, 0,
            context={'company': int(meta['company'])}) as transaction:
        Report = pool.get('ev.oem.report')
        # Warm the caches the first ORM calls fill, outside the measure
        Report.search([], limit=1)
        pool_rss = rss_mb('VmRSS')
        try:
            # Reset the peak resident memory (VmHWM) to the current one
            with open('/proc/self/clear_refs', 'w') as fp:
                fp.write('5')
        except OSError:
            pass
        profiler = cProfile.Profile() if profile else None
        if profiler:
            profiler.enable()
        started = time.monotonic()
        report, = Report.create([{
                    'config': int(meta['config']),
                    'period_start': month_start,
                    'period_end': month_end,
                    }])
        Report.generate([report])
        transaction.commit()
        seconds = time.monotonic() - started
        peak = rss_mb('VmHWM')
        if profiler:
            profiler.disable()
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).sort_stats(
                'cumulative').print_stats(40)
            note(stream.getvalue())
        report = Report(report.id)
        result = {'seconds': seconds, 'peak_rss_mb': peak,
            'pool_rss_mb': pool_rss, 'rows': report.lead_count,
            'file_mb': report.file_size / 1024 / 1024,
            'received': report.summary['received']}
    print(json.dumps(result), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--leads', type=int, default=LEADS)
    parser.add_argument('--rebuild', action='store_true',
        help="drop the template database and make it again")
    parser.add_argument('--profile', action='store_true',
        help="profile the generation (cProfile, on stderr); slower")
    parser.add_argument('--runs', type=int, default=3,
        help="generations, each on a fresh copy (medians are printed)")
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    uri = server_uri()
    if args.child:
        with bench_environment(uri, prefix='ev-bench-oem-child-'):
            child(args.child, read_meta(uri, args.child), args.profile)
        return 0
    month_start, month_end = last_month()
    # '+sla': the leads come with their SLA clocks
    size = f'{args.leads}@{month_start.isoformat()}+sla'
    with bench_environment(uri, prefix='ev-bench-oem-report-') as (_, config):
        # A template of another size or month is made again
        meta = prepare_database(uri, config, TEMPLATE, None, args.rebuild,
            size, modules=MODULES, table='ev_oem_report')
        if not meta.get('loaded'):
            note(f'making the OEM and {args.leads} leads ({size})')
            if meta.get('config'):
                # made by a run stopped before the leads were loaded
                world = {k: int(meta[k])
                    for k in ['admin', 'company', 'oem', 'config']}
            else:
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
        else:
            note(f'reusing {TEMPLATE} (--rebuild to make it again)')

        runs = []
        for _ in range(1 if args.profile else args.runs):
            drop_database(uri, COPY)
            copy_database(uri, COPY, TEMPLATE)
            try:
                process = subprocess.run(
                    [sys.executable, __file__, '--child', COPY]
                    + (['--profile'] if args.profile else []),
                    stdout=subprocess.PIPE, text=True, env=os.environ,
                    check=True)
            finally:
                drop_database(uri, COPY)
            runs.append(json.loads(process.stdout.strip().splitlines()[-1]))
            note(f"  run {len(runs)}: {runs[-1]['seconds']:.2f} s, "
                f"{runs[-1]['peak_rss_mb']:.1f} MB")
        # The medians of the runs; rows and size are the same in each
        result = dict(runs[0], **{name: statistics.median(
                    r[name] for r in runs)
                for name in ['seconds', 'peak_rss_mb', 'pool_rss_mb']})

    k = args.leads // 1000
    label = f'oem_report_{k}k' if args.leads % 1000 == 0 \
        else f'oem_report_{args.leads}'
    out(f'{label}_xlsx_seconds', result['seconds'], 's')
    out(f'{label}_peak_rss_mb', result['peak_rss_mb'], 'MB')
    out(f'{label}_rss_growth_mb',
        result['peak_rss_mb'] - result['pool_rss_mb'], 'MB')
    out(f'{label}_pool_rss_mb', result['pool_rss_mb'], 'MB')
    out(f'{label}_rows', result['rows'], 'rows')
    out(f'{label}_file_mb', result['file_mb'], 'MB')
    out('oem_report_seconds_ratio_to_target', result['seconds'] / TARGET_S,
        'ratio')
    out('oem_report_memory_ratio_to_target',
        result['peak_rss_mb'] / TARGET_MB, 'ratio')
    out('machine_load_1min_end', os.getloadavg()[0], 'load')
    if result['rows'] != args.leads or result['received'] != args.leads:
        note(f'the report does not have a row per lead: {result}')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
