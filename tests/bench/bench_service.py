#!/usr/bin/env python3
"""Benchmark of the service reporting on PostgreSQL (`./ev bench`).

The issue's target, on 100,000 service cases, 300,000 parts and 5,000,000
connector status rows of the chargers: the overdue-returns list and each
KPI query answer in at most 100 ms server-side (median of 20).

The script keeps a dedicated database (ev_bench_service at the full size,
ev_bench_service_<cases>_<parts>_<statuses> otherwise) with ev_service and
ev_charger_iot (the status rows are its telemetry) activated, created with
trytond-admin. The company, the product, the teams and the coordinators are
created through the ORM; the stations, chargers, cases, parts, handovers and
statuses with set-based INSERT ... SELECT over generate_series. A rerun
reuses the data when it has the size asked (--rebuild forces a new load) and
updates the modules when their sources changed since.

The data: cases reported over the last two years, most walked to the end,
a quarter stopped at a step; three parts per case, those of the cases
stopped between the shipment and the returns verified not returned (about
a tenth of all parts, marked overdue once past due, each with a handover to
the coordinator, three in four still pending); statuses spread over the
chargers of the stations; postal codes for the customers and zones for the
teams (claims by zone), a fifth of the cases in a complex category with
their call summaries (cases without a final summary).

Figures (each request in a transaction of its own, as the admin user with
access checks on, timed from its start to its end):
  service_overdue_returns_*   the Overdue tab of the parts: search of the
                              first page (80) with its domain, the read of
                              the list view's fields, the tab's counter
  service_kpi_<model>_*       search_read of a KPI model with the fields of
                              its list view, in the context the KPI form
                              opens with (the company, the last 12 months)
  service_kpi_<model>_all_*   the same over all the data (no dates)
  service_kpi_step_team_page_*, _all_page_*  the teams' step times as sao
                              opens the list: search of the first 1,000
                              ids, the count, the read of the first 100
  *_vs_target                 median / 100 ms: below 1 is within the target
  service_kpi_rollup_time     the daily cron rolling up the step times'
                              complete months (all of them after a load)
  service_kpi_claim_rollup_time  the same for the claims' months
  service_claim_zone_teams_time  the zone teams of the claims loaded in
                              SQL stored as their submission does
  service_frequency_alert_claims_*  the claims' frequency alert as a
                              submission evaluates it, over 100,000 claims
                              (loaded on the first run that finds none;
                              target 1 s)

It prints lines `bench: <name> <value> <unit>` and never fails on time: the
exit code is non-zero only on a real error.

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python tests/bench/bench_service.py [--cases N]
        [--parts M] [--statuses S] [--rebuild]
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

FULL_CASES = 100_000
FULL_PARTS = 300_000
FULL_STATUSES = 5_000_000
TARGET_MS = 100.0
ALERT_TARGET_MS = 1000.0
MODULES = ['ev_service', 'ev_charger_iot']
TEAMS = 40
COORDINATORS = 10
# One station (and its charger) per this many cases
CASES_PER_STATION = 5
PAGE = 80  # the first page of a list, as bench_station reads it
SAO_LIMIT = 1000  # Sao.config.limit: the ids a list view searches at once

# What sao reads beside the list view's fields
_SAO_EXTRA = ['rec_name', '_timestamp', '_write', '_delete']
PART_LIST = ['case', 'case.rec_name', 'product', 'product.rec_name', 'lot',
    'lot.rec_name', 'destination', 'return_box', 'return_box.rec_name',
    'return_label', 'shipped_at', 'return_due', 'overdue', 'cost',
    'currency', 'return_state'] + _SAO_EXTRA
KPI_LISTS = {
    'ev.service.kpi.step': ['month', 'step', 'cases', 'average_hours',
        'median_hours', 'max_hours'],
    'ev.service.kpi.step.team': ['month', 'step', 'team', 'team.rec_name',
        'cases', 'average_hours', 'median_hours', 'max_hours'],
    'ev.service.kpi.overdue': ['team', 'team.rec_name', 'parts',
        'oldest_due'],
    'ev.service.kpi.unaccepted': ['coordinator', 'coordinator.rec_name',
        'cases', 'oldest_follow_up'],
    'ev.service.kpi.claim': ['month', 'submitted', 'decided',
        'average_hours', 'within_sla', 'undecided'],
    'ev.service.kpi.claim.hour': ['hour', 'claims'],
    'ev.service.kpi.claim.zone': ['team', 'team.rec_name', 'claims'],
    'ev.service.kpi.no_summary': ['coordinator', 'coordinator.rec_name',
        'open_cases', 'closed_cases', 'oldest_reported'],
    }
FULL_CLAIMS = 100_000


def claim_alert(pool):
    """The claims' frequency alert as a submission evaluates it: the
    distinct spots per error type in the window, for every error type
    (rolled back by timed: the alerts it raises are not kept)"""
    ErrorType = pool.get('ev.service.claim.error_type')
    Alert = pool.get('ev.service.claim.alert')
    return len(Alert.raise_for(ErrorType.search([])))


# The frequency alerts: a name and a request of the pool, measured in a
# writable transaction that is rolled back
FREQUENCY_ALERTS = {'claims': claim_alert}


# --------------------------------------------------------------------------
# Data

def orm_setup(database):
    """The company, a product, the service teams and the coordinators
    through the ORM; returns the ids the bulk load needs"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    with Transaction().start(database, 0) as transaction:
        User = pool.get('res.user')
        Team = pool.get('ev.field.team')
        Template = pool.get('product.template')
        Uom = pool.get('product.uom')
        Group = pool.get('res.group')
        ModelData = pool.get('ir.model.data')
        admin, company = bench_company(pool, "EV Bench Service")
        manager = Group(ModelData.get_id(
                'ev_service', 'group_service_manager'))
        coordinators = User.create([{
                    'login': f'bench-coordinator-{i}',
                    'name': f"Bench Coordinator {i}",
                    'groups': [('add', [manager.id])],
                    } for i in range(1, COORDINATORS + 1)])
        with transaction.set_context(company=company.id):
            unit, = Uom.search([('symbol', '=', 'u')])
            template, = Template.create([{
                        'name': "Bench Charger 7 kW", 'type': 'goods',
                        'default_uom': unit.id,
                        'products': [('create', [{}])],
                        }])
            teams = Team.create([{
                        'name': f"Bench Service Team {i:02d}",
                        'code': f'BS{i:03d}', 'company': company.id,
                        'service': True, 'survey': False,
                        'installation': False,
                        } for i in range(1, TEAMS + 1)])
        transaction.commit()
        return {
            'admin': admin.id, 'company': company.id,
            'product': template.products[0].id,
            'teams': [t.id for t in teams],
            'coordinators': [u.id for u in coordinators],
            }


def bulk_load(uri, database, n_cases, n_parts, n_statuses, ids):
    "Stations, chargers, cases, parts, handovers and statuses in SQL"
    started = time.monotonic()
    with connect(uri, database) as conn:
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
        # The data is made consistent; skip the per-row foreign key checks
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute('SELECT setseed(0.2026)')
        tables = ['party_party', 'ev_station', 'ev_charger',
            'ev_service_case', 'ev_service_part', 'ev_station_handover',
            'ev_charger_status']
        for table in tables[1:]:
            if conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]:
                raise RuntimeError(f'{table} is not empty: use --rebuild')
        indexes = drop_plain_indexes(conn, tables)

        def base(table):
            return conn.execute(
                f'SELECT COALESCE(max(id), 0) FROM "{table}"').fetchone()[0]
        n_stations = max(1, n_cases // CASES_PER_STATION)
        now = dt.datetime.now().replace(microsecond=0)
        common = dict(ids, n=n_cases, s=n_stations, p=n_parts,
            m=n_statuses, now=now, today=now.date(),
            pbase=base('party_party'), sbase=base('ev_station'))

        def step(label, query, params=common):
            t0 = time.monotonic()
            conn.execute(query, params)
            note(f'  {label} in {time.monotonic() - t0:.1f} s')
            return time.monotonic() - t0

        step('parties',
            'INSERT INTO party_party (id, active, code, code_alnum, '
            'code_digit, name, create_date, create_uid) '
            "SELECT %(pbase)s + g, true, 'BSVC' || g, 'BSVC' || g, g, "
            "'Bench Service Customer ' || g, now(), %(admin)s "
            'FROM generate_series(1, %(s)s) g')
        step('stations',
            'INSERT INTO ev_station (id, number, customer, stage, '
            'create_date, create_uid) '
            "SELECT %(sbase)s + g, 'BSV' || lpad(g::text, 7, '0'), "
            "%(pbase)s + g, 'commissioned', now(), %(admin)s "
            'FROM generate_series(1, %(s)s) g')
        step('chargers',
            'INSERT INTO ev_charger (id, identity, station, current_type, '
            'power_class, health, create_date, create_uid) '
            "SELECT g, 'CP-BSV-' || g, %(sbase)s + g, 'ac', 'l2', "
            "'available', now(), %(admin)s FROM generate_series(1, %(s)s) g")

        # The cases: reported over two years; `progress` is the last step
        # reached (1 reported ... 7 returns verified, 8 closed), most at the
        # end; a third chargeable (a client approval), 70 % with parts.
        step('cases',
            'INSERT INTO ev_service_case (id, number, company, station, '
            'origin, description, reported_at, reported_by, coordinator, '
            'team, same_team_returns, state, decision, decided_by, '
            'decided_at, chargeable, quoted_amount, client_approved, '
            'client_approved_at, shipped_at, visited_at, replaced_at, '
            'return_received_at, closed_at, create_date, create_uid) '
            'SELECT g, '
            "'SVC-B' || lpad(g::text, 7, '0'), %(company)s, "
            '%(sbase)s + 1 + g %% %(s)s, '
            "'manual', 'Bench fault ' || g, reported, %(admin)s, "
            '(%(coordinators)s::int[])'
            '[1 + g %% cardinality(%(coordinators)s::int[])], '
            '(%(teams)s::int[])[1 + g %% cardinality(%(teams)s::int[])], '
            'false, '
            "CASE progress WHEN 1 THEN 'diagnosis' WHEN 2 THEN 'decided' "
            "WHEN 3 THEN 'client_approval' WHEN 4 THEN 'parts_shipped' "
            "WHEN 5 THEN 'visit' WHEN 6 THEN 'replaced' "
            "WHEN 7 THEN 'return_received' ELSE 'closed' END, "
            "CASE WHEN progress >= 2 THEN 'part_replacement' END, "
            'CASE WHEN progress >= 2 THEN %(admin)s END, '
            'CASE WHEN progress >= 2 THEN decided END, '
            'chargeable, CASE WHEN chargeable THEN 4500 END, '
            'chargeable AND progress >= 3, '
            'CASE WHEN chargeable AND progress >= 3 THEN approved END, '
            'CASE WHEN progress >= 4 THEN shipped END, '
            'CASE WHEN progress >= 5 THEN visited END, '
            'CASE WHEN progress >= 6 THEN replaced END, '
            'CASE WHEN progress >= 7 THEN received END, '
            'CASE WHEN progress >= 8 THEN received END, '
            'reported, %(admin)s '
            'FROM (SELECT g, chargeable, progress, reported, decided, '
            '  approved, shipped, visited, replaced, '
            "  replaced + interval '1 hour' * (24 + r5 * 400) AS received "
            ' FROM (SELECT g, chargeable, progress, r5, reported, decided, '
            '   approved, shipped, visited, '
            "   visited + interval '1 hour' * (1 + r4 * 3) AS replaced "
            '  FROM (SELECT g, chargeable, progress, r4, r5, reported, '
            '    decided, approved, shipped, '
            "    shipped + interval '1 hour' * (4 + r3 * 120) AS visited "
            '   FROM (SELECT g, chargeable, progress, r3, r4, r5, reported, '
            '     decided, approved, COALESCE(approved, decided) '
            "     + interval '1 hour' * (1 + r2 * 48) AS shipped "
            '    FROM (SELECT g, chargeable, progress, r2, r3, r4, r5, '
            '      reported, decided, CASE WHEN chargeable THEN decided '
            "      + interval '1 hour' * (2 + r1 * 96) END AS approved "
            '     FROM (SELECT g, chargeable, progress, r1, r2, r3, r4, r5, '
            '       reported, reported '
            "       + interval '1 hour' * (0.5 + r0 * 72) AS decided "
            '      FROM (SELECT g, random() < 0.33 AS chargeable, '
            '        CASE WHEN rp < 0.75 THEN 8 '
            '          ELSE 1 + floor((rp - 0.75) / 0.25 * 7)::int END '
            '          AS progress, '
            '        %(now)s::timestamp '
            "          - interval '1 day' * (730 * g::float / %(n)s) "
            "          - interval '1 day' * 30 AS reported, "
            '        random() AS r0, random() AS r1, random() AS r2, '
            '        random() AS r3, random() AS r4, random() AS r5 '
            '       FROM (SELECT g, random() AS rp '
            '        FROM generate_series(1, %(n)s) g) g) a) b) c) d) e) f) h')

        # Parts: spread evenly over the cases (three each at the full
        # size); returned complete once the returns are verified, otherwise
        # pending (a tenth missing) since the shipment, and marked overdue
        # when past due (as the daily control does)
        step('parts',
            'INSERT INTO ev_service_part (id, "case", company, product, '
            'quantity, cost, destination, return_label, shipped_at, '
            'return_due, return_state, overdue_since, overdue_team, '
            'received_at, create_date, create_uid) '
            'SELECT i, c.id, %(company)s, %(product)s, 1, 30000, '
            "'van', 'RL-' || i, c.shipped_at, "
            "(c.shipped_at + interval '14 days')::date, "
            "CASE WHEN c.shipped_at IS NULL THEN 'to_ship' "
            "WHEN c.return_received_at IS NOT NULL THEN 'complete' "
            "WHEN r < 0.1 THEN 'missing' ELSE 'pending' END, "
            'CASE WHEN c.shipped_at IS NOT NULL '
            '  AND c.return_received_at IS NULL '
            "  AND c.shipped_at + interval '15 days' < %(now)s "
            "  THEN c.shipped_at + interval '15 days' END, "
            'CASE WHEN c.shipped_at IS NOT NULL '
            '  AND c.return_received_at IS NULL '
            "  AND c.shipped_at + interval '15 days' < %(now)s "
            '  THEN c.team END, '
            'c.return_received_at, c.reported_at, %(admin)s '
            'FROM (SELECT i, 1 + (i - 1) %% %(n)s AS case_id, random() AS r '
            '  FROM generate_series(1, %(p)s) i) x '
            'JOIN ev_service_case c ON c.id = x.case_id')
        # The overdue control's handovers: one per overdue part to the
        # coordinator, a quarter of them accepted already
        step('handovers',
            'INSERT INTO ev_station_handover (id, station, forwarder, '
            'receiver, next_action, work, follow_up_date, state, '
            'accepted_at, service_case, create_date, create_uid) '
            'SELECT row_number() OVER (ORDER BY p.id), c.station, '
            "%(admin)s, c.coordinator, 'Get the part back', "
            "'ev.service.part,' || p.id || ':return', "
            "(p.overdue_since + interval '1 day')::date, "
            "CASE WHEN p.id %% 4 = 0 THEN 'accepted' ELSE 'pending' END, "
            'CASE WHEN p.id %% 4 = 0 THEN p.overdue_since END, '
            'c.id, p.overdue_since, %(admin)s '
            'FROM ev_service_part p JOIN ev_service_case c '
            '  ON c.id = p."case" '
            'WHERE p.overdue_since IS NOT NULL')
        # Connector statuses, newest last, a few seconds apart per charger
        step('statuses',
            'INSERT INTO ev_charger_status (id, charger, connector, ts, '
            'received_at, status, error_code, create_date, create_uid) '
            'SELECT g, 1 + g %% %(s)s, 1, ts, ts, '
            "(ARRAY['Available', 'Charging', 'Preparing', 'Finishing', "
            "  'Available', 'Faulted'])[1 + (g / %(s)s) %% 6], "
            "CASE WHEN (g / %(s)s) %% 6 = 5 THEN 'GroundFailure' END, "
            'ts, %(admin)s '
            'FROM (SELECT g, %(now)s::timestamp '
            "  - interval '1 second' * (%(m)s - g) AS ts "
            '  FROM generate_series(1, %(m)s) g) s')
        for table in ['ev_station', 'ev_charger', 'ev_service_case',
                'ev_service_part', 'ev_station_handover',
                'ev_charger_status']:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f'(SELECT max(id) FROM "{table}"))')
        t0 = time.monotonic()
        for _, definition in indexes:
            conn.execute(definition)
        note(f'  indexes in {time.monotonic() - t0:.1f} s')
        write_meta(conn, loaded=1, size=f'{n_cases}x{n_parts}x{n_statuses}',
            company=ids['company'])
        conn.commit()
    return time.monotonic() - started


def load_claims(uri, database, n_claims):
    """Warranty claims over the chargers, reported over the last two years
    (about 140 a day at the full size), most of them decided; loaded once
    into a database loaded before the claims existed"""
    started = time.monotonic()
    with connect(uri, database) as conn:
        if conn.execute('SELECT count(*) FROM ev_service_claim').fetchone()[0]:
            return None
        company = read_meta(uri, database)['company']
        conn.execute('SELECT setseed(0.2027)')
        conn.execute(
            'INSERT INTO ev_service_claim (id, company, charger, connector, '
            'error_type, severity, source, description, window_start, '
            'window_end, state, create_date, create_uid) '
            'SELECT g, %(company)s, 1 + (random() * (n - 1))::int, 1, '
            '  (SELECT min(id) FROM ev_service_claim_error_type) '
            '  + g %% (SELECT count(*) FROM ev_service_claim_error_type), '
            "  'medium', 'operator', 'Bench claim ' || g, ws, "
            "  ws + interval '1 hour', "
            "  (ARRAY['submitted', 'approved', 'rejected', 'closed', "
            "    'closed', 'draft'])[1 + g %% 6], ws, 0 "
            'FROM (SELECT g, n, now()::timestamp '
            "  - interval '1 day' * (730 * g::float / %(claims)s) AS ws "
            '  FROM generate_series(1, %(claims)s) g, '
            '  (SELECT count(*) AS n FROM ev_charger) c) x',
            {'company': int(company), 'claims': n_claims})
        conn.execute("SELECT setval(pg_get_serial_sequence("
            "'ev_service_claim', 'id'), (SELECT max(id) FROM "
            'ev_service_claim))')
        conn.commit()
    return time.monotonic() - started


def stamp_claims(uri, database):
    """The submission, decision and closing times of the claims (the claim
    KPIs read them): submitted 10 minutes after the window, decided 1 to 96
    hours later; idempotent, for claims loaded before the times existed"""
    with connect(uri, database) as conn:
        conn.execute('SELECT setseed(0.2028)')
        conn.execute(
            'UPDATE ev_service_claim SET '
            "submitted_at = window_start + interval '10 minutes', "
            'decided_at = CASE WHEN state IN '
            "('approved', 'rejected', 'closed') THEN window_start "
            "+ interval '10 minutes' + interval '1 hour' "
            '* (1 + (random() * 95)::int) END '
            "WHERE state != 'draft' AND submitted_at IS NULL")
        conn.execute(
            'UPDATE ev_service_claim SET '
            "closed_at = decided_at + interval '1 hour' "
            "WHERE state = 'closed' AND closed_at IS NULL")
        conn.commit()


def zone_data(uri, database):
    """Postal codes for the stations' customers and postal-code zones for
    the teams, as ev_field keeps them (a pattern and its LIKE form); some
    codes typed with a space, one prefix in the zones of two teams, a
    tenth in no zone. Idempotent: returns True when it added any"""
    with connect(uri, database) as conn:
        teams = [t for t, in conn.execute(
                "SELECT id FROM ev_field_team WHERE code LIKE 'BS%' "
                'ORDER BY id')]
        added = False
        if teams and not conn.execute(
                'SELECT count(*) FROM ev_field_team_zone '
                'WHERE team = ANY(%s)', (teams,)).fetchone()[0]:
            zones = [(team, f'56{i:02d}*') for i, team in enumerate(teams)]
            # The first team covers its neighbour's prefix too
            zones.append((teams[0], '5601*'))
            with conn.cursor() as cursor:
                cursor.executemany(
                    'INSERT INTO ev_field_team_zone (team, pattern, '
                    'like_pattern, create_date, create_uid) '
                    "VALUES (%s, %s, replace(%s, '*', '%%'), now(), 0)",
                    [(t, p, p) for t, p in zones])
            added = True
        # Prefixes 00 to 43 over 40 teams' zones: 40 to 43 in none
        if conn.execute(
                'INSERT INTO party_address (party, active, postal_code, '
                'create_date, create_uid) '
                "SELECT p.id, true, '56' || lpad((p.id % 44)::text, 2, '0') "
                "|| CASE WHEN p.id % 7 = 0 THEN ' ' ELSE '' END "
                "|| lpad((p.id % 97)::text, 2, '0'), now(), 0 "
                "FROM party_party p WHERE p.code LIKE 'BSVC%' "
                'AND NOT EXISTS (SELECT 1 FROM party_address a '
                '  WHERE a.party = p.id)').rowcount:
            added = True
        conn.commit()
    return added


def assign_zone_teams(database, again):
    """The claims' zone teams as the submission stores them: those of the
    claims loaded in SQL, or of all of them again after the zones or the
    codes changed"""
    from sql import Null

    from trytond.pool import Pool
    from trytond.transaction import Transaction
    started = time.monotonic()
    with Transaction().start(database, 0) as transaction:
        pool = Pool(database)
        ClaimTeam = pool.get('ev.service.claim.zone_team')
        if again:
            Claim = pool.get('ev.service.claim')
            claim = Claim.__table__()
            cursor = transaction.connection.cursor()
            cursor.execute(*claim.select(claim.id,
                    where=claim.submitted_at != Null))
            ids = [i for i, in cursor]
        else:
            ids = ClaimTeam._unassigned()
        ClaimTeam.assign(ids)
        transaction.commit()
    return len(ids), time.monotonic() - started


def categorise_cases(uri, database):
    """Case categories, a fifth of the cases in a complex one, and the
    call summaries the policy asks of them: the closed ones reviewed
    (nine in ten: the others closed before their category asked), a
    third of the open ones with a final summary still in draft.
    Idempotent: the cases keep their category once given"""
    with connect(uri, database) as conn:
        if conn.execute('SELECT count(*) FROM ev_service_case_category '
                "WHERE name LIKE 'Bench %'").fetchone()[0]:
            return
        simple, = conn.execute(
            'INSERT INTO ev_service_case_category (name, complex, active, '
            "create_date, create_uid) VALUES ('Bench Charger Fault', "
            'false, true, now(), 0) RETURNING id').fetchone()
        complex_, = conn.execute(
            'INSERT INTO ev_service_case_category (name, complex, active, '
            "create_date, create_uid) VALUES ('Bench Site Rework', "
            'true, true, now(), 0) RETURNING id').fetchone()
        conn.execute('UPDATE ev_service_case SET category = CASE '
            'WHEN id %% 5 = 0 THEN %s ELSE %s END WHERE category IS NULL',
            (complex_, simple))
        summary = ('INSERT INTO ev_service_case_summary ("case", kind, '
            'held_at, participants, decisions, next_steps, '
            'drafted_by_tool, state, reviewed_by, reviewed_at, '
            'create_date, create_uid) '
            "SELECT c.id, %s, c.reported_at + interval '2 hours', "
            "'Client, L2', 'Replace the unit', 'Ship the part', false, "
            '%s, CASE WHEN %s = \'reviewed\' THEN 0 END, '
            "CASE WHEN %s = 'reviewed' THEN c.reported_at "
            "+ interval '3 hours' END, c.reported_at, 0 "
            'FROM ev_service_case c WHERE c.category = %s AND ')
        for kind, state, where in [
                ('pre_service_call', 'reviewed',
                    "c.state = 'closed' AND c.id %% 50 != 0"),
                ('final', 'reviewed',
                    "c.state = 'closed' AND c.id %% 50 != 0"),
                ('final', 'draft',
                    "c.state NOT IN ('closed', 'cancelled') "
                    'AND c.id %% 3 = 0')]:
            conn.execute(summary + where,
                (kind, state, state, state, complex_))
        conn.commit()


def create_data(uri, database, n_cases, n_parts, n_statuses):
    started = time.monotonic()
    ids = orm_setup(database)
    note(f'  company, teams and users in {time.monotonic() - started:.1f} s')
    bulk_load(uri, database, n_cases, n_parts, n_statuses, ids)
    return time.monotonic() - started


def roll_up(database, name='ev.service.kpi.step.month'):
    """The daily cron's rollup of the complete months (of the step times,
    of the claims), as it stands after the load (all months at once) or on
    a rerun (none new)"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    started = time.monotonic()
    with Transaction().start(database, 0) as transaction:
        Pool(database).get(name).roll_up()
        transaction.commit()
    return time.monotonic() - started


# --------------------------------------------------------------------------
# Measures

def timed(database, company_id, request, context=None, readonly=True):
    """Milliseconds of one request in a transaction of its own, as admin
    (a writable one is rolled back)"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    with Transaction().start(database, 0, readonly=True):
        User = pool.get('res.user')
        admin, = User.search([('login', '=', 'admin')])
        admin_id = admin.id
    context = dict(context or {}, company=company_id,
        companies=[company_id], _check_access=True)
    with Transaction().start(database, admin_id, readonly=readonly,
            context=context) as transaction:
        started = time.perf_counter()
        result = request(pool)
        ms = (time.perf_counter() - started) * 1000
        if not readonly:
            transaction.rollback()
        return ms, result


def overdue_returns(pool):
    "The Overdue tab of the parts, as sao opens it"
    Part = pool.get('ev.service.part')
    domain = [('overdue', '=', True)]
    ids = [p.id for p in Part.search(domain, limit=PAGE)]
    rows = Part.read(ids, PART_LIST)
    return len(rows), Part.search_count(domain)


def kpi_request(name):
    def request(pool):
        Model = pool.get(name)
        return len(Model.search_read([], fields_names=KPI_LISTS[name])), None
    return request


def kpi_page_request(name):
    """A KPI's list as sao opens it: the search of its first page
    (Sao.config.limit), the count when the page is full, the read of the
    first rows it displays (a batch of Sao.config.limit / the number of
    fields read, at most 10)"""
    def request(pool):
        Model = pool.get(name)
        ids = [r.id for r in Model.search([], limit=SAO_LIMIT)]
        count = len(ids)
        if count == SAO_LIMIT:
            count = Model.search_count([])
        fields_names = KPI_LISTS[name] + _SAO_EXTRA
        batch = SAO_LIMIT // min(len(fields_names), 10)
        return len(Model.read(ids[:batch], fields_names)), count
    return request


def report(name, timings, target=TARGET_MS):
    median = statistics.median(timings)
    out(f'{name}_median', median, 'ms')
    out(f'{name}_p95', percentile(timings, 0.95), 'ms')
    out(f'{name}_vs_target', median / target, 'ratio')
    return median


def measure(database, company_id, repeat):
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    with Transaction().start(database, 0, readonly=True):
        Context = pool.get('ev.service.kpi.context')
        last_year = {'from_date': Context.default_from_date(),
            'to_date': Context.default_to_date()}

    def series(name, request, context=None, readonly=True,
            target=TARGET_MS):
        for _ in range(3):  # warm the caches of the pool and the server
            timed(database, company_id, request, context, readonly)
        timings, result = [], None
        for _ in range(repeat):
            ms, result = timed(database, company_id, request, context,
                readonly)
            timings.append(ms)
        report(name, timings, target)
        return result

    rows, count = series('service_overdue_returns', overdue_returns)
    out('service_overdue_returns_rows_read', rows, 'rows')
    out('service_overdue_returns_count', count, 'parts')
    for name in KPI_LISTS:
        short = name.replace('ev.service.kpi.', '').replace('.', '_')
        rows, _ = series(f'service_kpi_{short}', kpi_request(name),
            last_year)
        out(f'service_kpi_{short}_rows', rows, 'rows')
        series(f'service_kpi_{short}_all', kpi_request(name),
            {'from_date': None, 'to_date': None})
        if name == 'ev.service.kpi.step.team':
            # The thousands of rows per team: what the client reads
            for suffix, context in [('page', last_year),
                    ('all_page', {'from_date': None, 'to_date': None})]:
                rows, count = series(f'service_kpi_{short}_{suffix}',
                    kpi_page_request(name), context)
                out(f'service_kpi_{short}_{suffix}_rows_read', rows, 'rows')
                out(f'service_kpi_{short}_{suffix}_count', count, 'rows')
    for name, request in FREQUENCY_ALERTS.items():
        alerts = series(f'service_frequency_alert_{name}', request,
            readonly=False, target=ALERT_TARGET_MS)
        out(f'service_frequency_alert_{name}_raised', alerts, 'alerts')
    out('machine_load_1min_end', os.getloadavg()[0], 'load')


# --------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cases', type=int, default=FULL_CASES)
    parser.add_argument('--parts', type=int, default=FULL_PARTS)
    parser.add_argument('--statuses', type=int, default=FULL_STATUSES)
    parser.add_argument('--claims', type=int, default=FULL_CLAIMS)
    parser.add_argument('--database', help="default: ev_bench_service at "
        "the full size, ev_bench_service_<cases>_<parts>_<statuses> "
        "otherwise")
    parser.add_argument('--rebuild', action='store_true',
        help="drop the database and load it again")
    parser.add_argument('--repeat', type=int, default=20)
    args = parser.parse_args()
    if min(args.cases, args.parts, args.statuses, args.repeat) < 1:
        parser.error('--cases, --parts, --statuses and --repeat must be '
            'positive')
    sizes = (args.cases, args.parts, args.statuses)
    full = sizes == (FULL_CASES, FULL_PARTS, FULL_STATUSES)
    database = args.database or ('ev_bench_service' if full
        else 'ev_bench_service_' + '_'.join(map(str, sizes)))
    uri = server_uri()
    size = 'x'.join(map(str, sizes))

    with bench_environment(uri, prefix='ev-bench-service-') as (_, config):
        meta = prepare_database(uri, config, database, None, args.rebuild,
            size, modules=MODULES, table='ev_service_case')
        init_pool(database)
        load_seconds = None
        if not meta.get('loaded'):
            note(f'loading {args.cases} cases, {args.parts} parts and '
                f'{args.statuses} statuses')
            load_seconds = create_data(uri, database, *sizes)
            meta = read_meta(uri, database)
        else:
            note(f'reusing {database} (--rebuild to load it again)')
        claims_seconds = load_claims(uri, database, args.claims)
        if claims_seconds is not None:
            out('service_claims_load_time', claims_seconds, 's')
        stamp_claims(uri, database)
        again = zone_data(uri, database)
        assigned, seconds = assign_zone_teams(database, again)
        if assigned:
            out('service_claim_zone_teams_time', seconds, 's')
        categorise_cases(uri, database)
        out('service_kpi_rollup_time', roll_up(database), 's')
        out('service_kpi_claim_rollup_time',
            roll_up(database, 'ev.service.kpi.claim.month'), 's')
        # As autovacuum would after a bulk load: the statistics, and the
        # visibility map the index-only scans need
        with connect(uri, database, autocommit=True) as conn:
            conn.execute('VACUUM (ANALYZE)')

        with connect(uri, database) as conn:
            for table, label in [('ev_service_case', 'cases'),
                    ('ev_service_part', 'parts'),
                    ('ev_charger_status', 'statuses'),
                    ('ev_service_claim', 'claims'),
                    ('ev_station_handover', 'handovers')]:
                count, = conn.execute(
                    f'SELECT count(*) FROM "{table}"').fetchone()
                out(f'service_{label}', count, 'rows')
        if load_seconds is not None:
            out('service_load_time', load_seconds, 's')
        measure(database, int(meta['company']), args.repeat)
    return 0


if __name__ == '__main__':
    sys.exit(main())
