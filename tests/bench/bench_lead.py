#!/usr/bin/env python3
"""Benchmark of the OEM lead intake on PostgreSQL (`./ev bench`).

The issue's target: 2,000 intake requests (POST /<db>/ev/api/v1/leads, an
OEM integration user's key) at concurrency 8 reach at least half the
throughput of Tryton's built-in REST create of `party.party`
(POST /<db>/rest/model/party.party, a user application key of application
"rest") measured in the same run on the same server, with a p95 latency
under 100 ms.

How: the harness of the tests (tests/server.py) builds a fresh PostgreSQL
database with ev_station and ev_lead and the OEM integration users, and
serves it with `trytond` (werkzeug, threaded) on a free port; the client is
8 threads each keeping one HTTP/1.1 connection. Every request carries a new
customer (its own phone, email and address): the intake validates the body,
matches or creates the customer and creates the lead; the baseline creates
a party with the same mobile, email and address. The intake is measured
first, then the baseline, each after a short warm-up that is not counted.
Latency is from sending the request to reading the whole answer. Then
200 requests of each kind one at a time (`_sequential` lines): the time of
one request when none waits for another. Per
request, PostgreSQL's table counters (pg_stat_user_tables) also give the
sequential and index scans and the rows written, the busiest tables on
stderr: where the intake's time goes, whatever the machine's load.

It prints `bench: <name> <value> <unit>` lines and never fails on time: the
exit code is non-zero only on a real error (an answer other than 201/200,
or rows missing). The database and the server are removed at the end.

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python tests/bench/bench_lead.py [--requests N]
        [--concurrency C]
"""
import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_station import note, out, percentile, server_uri  # noqa: E402
from server import ADMIN_PASSWORD, OEMS, TrytonServer  # noqa: E402

OEM_KEY = OEMS[0][2]
REST_KEY = 'bench-rest-' + 'c3' * 30
TARGET_RATIO = 0.5
TARGET_P95_MS = 100.0
ADDRESS = {"street": "7 Marine Drive", "city": "Kochi",
    "postal_code": "682031", "state": "Kerala", "country": "IN"}


def phone(n):
    "A valid Indian mobile number of its own for the n-th customer"
    return f'98470 {n:05d}'


def intake_body(run, n):
    return {
        "oem_reference": f'BENCH-{run}-{n:05d}',
        "customer": {
            "name": f"Bench Customer {n}",
            "phone": phone(n),
            "email": f'bench.customer.{n}@example.com',
            "address": ADDRESS,
            },
        "vehicle": {"model": "Nexon EV", "vin": None},
        "charger": {"model": "7.4 kW AC", "quantity": 1},
        "site_type": "home",
        "notes": None,
        }


def party_body(n, country_id):
    "The same customer as a party of Tryton's REST API"
    return {
        "name": f"Bench Customer {n}",
        "contact_mechanisms": [["create", [
                    {"type": "mobile", "value": '+9198470' + f'{n:05d}'},
                    {"type": "email",
                        "value": f'bench.customer.{n}@example.com'},
                    ]]],
        "addresses": [["create", [{
                        "street": ADDRESS['street'], "city": ADDRESS['city'],
                        "postal_code": ADDRESS['postal_code'],
                        "country": country_id}]]],
        }


class Client:
    "One HTTP/1.1 connection per thread, opened again when the server closes"

    def __init__(self, port):
        self.port = port
        self.local = threading.local()

    def connection(self):
        if getattr(self.local, 'connection', None) is None:
            self.local.connection = http.client.HTTPConnection(
                '127.0.0.1', self.port, timeout=60)
        return self.local.connection

    def post(self, path, body, key):
        return self.request('POST', path, body,
            {'Authorization': f'Bearer {key}'})

    def request(self, method, path, body=None, headers=None, retry=True):
        """(status, payload, milliseconds) of one request; a connection
        error is raised, or with `retry` the request sent once more on a
        new connection (the server closed a kept-alive connection)"""
        data = json.dumps(body).encode() if body is not None else None
        headers = {'Content-Type': 'application/json', **(headers or {})}
        for attempt in range(2 if retry else 1):
            connection = self.connection()
            started = time.perf_counter()
            try:
                connection.request(method, path, data, headers)
                response = connection.getresponse()
                payload = response.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                self.local.connection = None
                if attempt or not retry:
                    raise
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if response.getheader('Connection', '').lower() == 'close':
                connection.close()
                self.local.connection = None
            return response.status, payload, elapsed


def run_phase(client, path, bodies, key, concurrency, expected):
    """Send the bodies at `concurrency`; returns (requests/s, latencies
    in ms, unexpected answers)"""
    def send(body):
        return client.post(path, body, key)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(send, bodies))
    elapsed = time.perf_counter() - started
    latencies = [ms for _, _, ms in results]
    unexpected = [(status, payload[:300]) for status, payload, _ in results
        if status != expected]
    return len(bodies) / elapsed, latencies, unexpected


def table_activity(server):
    "PostgreSQL's counters per table: sequential scans, index scans, writes"
    return {table: values for table, *values in server.sql(
            'SELECT relname, seq_scan, COALESCE(idx_scan, 0), '
            'n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables')}


def explain_activity(name, before, after, requests):
    """What one request did to the tables, from the server's counters:
    rows written and scans per request, the heaviest tables on stderr
    (a sequential scan on a table that grows with the data is a cost that
    grows with it)"""
    per_table = {table: [(a - b) / requests for a, b in zip(
                    after[table], before.get(table, (0, 0, 0)))]
        for table in after}
    totals = [sum(values[i] for values in per_table.values())
        for i in range(3)]
    out(f'{name}_seq_scans_per_request', totals[0], 'scans')
    out(f'{name}_index_scans_per_request', totals[1], 'scans')
    out(f'{name}_rows_written_per_request', totals[2], 'rows')
    busiest = sorted(per_table.items(), key=lambda item: -sum(item[1]))
    note(f'{name}, per request: seq scans, index scans, rows written\n'
        + '\n'.join(f'  {seq:5.1f} {idx:6.1f} {written:5.1f}  {table}'
            for table, (seq, idx, written) in busiest[:15]
            if seq or idx or written))


def report(name, rate, latencies):
    out(f'{name}_rps', rate, 'req/s')
    out(f'{name}_p50', statistics.median(latencies), 'ms')
    out(f'{name}_p95', percentile(latencies, 0.95), 'ms')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=2000)
    parser.add_argument('--concurrency', type=int, default=8)
    parser.add_argument('--sequential', type=int, default=200,
        help="requests of each kind sent one at a time, after the others")
    parser.add_argument('--warmup', type=int, default=40,
        help="requests of each kind before measuring")
    args = parser.parse_args()
    if (args.requests < 1 or args.concurrency < 1 or args.warmup < 0
            or args.sequential < 1):
        parser.error('--requests and --concurrency must be positive')
    uri = server_uri()
    run = uuid.uuid4().hex[:6]

    note('building the database and starting trytond')
    with TrytonServer(uri=uri, prefix='ev_bench_lead') as server:
        note(', '.join(f'{step} {seconds:.0f} s'
                for step, seconds in server.timings.items()))
        admin = server.rpc_session('admin', ADMIN_PASSWORD)
        admin('model.res.user.application.create', [{
                    'user': admin.user_id, 'key': REST_KEY,
                    'application': 'rest', 'state': 'validated'}], {})
        (country_id,), = server.sql(
            "SELECT id FROM country_country WHERE code = 'IN'")
        client = Client(server.port)
        intake_path = f'/{server.database}/ev/api/v1/leads'
        rest_path = f'/{server.database}/rest/model/party.party'
        numbers = iter(range(1, 10 * (args.requests + args.warmup) + 1))

        def intake_bodies(count):
            return [intake_body(run, next(numbers)) for _ in range(count)]

        def party_bodies(count):
            return [party_body(next(numbers), country_id)
                for _ in range(count)]

        problems, measured, activities = [], {}, {}
        for name, path, bodies, key, status, table in [
                ('oem_intake', intake_path, intake_bodies, OEM_KEY, 201,
                    'sale_opportunity'),
                ('oem_intake_baseline_rest_party', rest_path, party_bodies,
                    REST_KEY, 200, 'party_party')]:
            # The first requests load the server's caches: not counted
            problems += run_phase(client, path, bodies(args.warmup), key,
                args.concurrency, status)[2]
            note(f'{name}: {args.requests} requests at concurrency '
                f'{args.concurrency}')
            before = server.count(table)
            activity = table_activity(server)
            rate, latencies, unexpected = run_phase(client, path,
                bodies(args.requests), key, args.concurrency, status)
            # The statistics reach the counters within a second
            time.sleep(1.5)
            activities[name] = activity, table_activity(server)
            problems += unexpected
            created = server.count(table) - before
            if created < args.requests:
                problems.append(f'{name}: {created} rows of {table} '
                    f'created for {args.requests} requests')
            measured[name] = rate, latencies
        # Unqueued: one client, the time a single request takes. At
        # concurrency 8 on a server of one process (this machine has two
        # cores) each request also waits for the others.
        for name, path, bodies, key, status in [
                ('oem_intake_sequential', intake_path, intake_bodies,
                    OEM_KEY, 201),
                ('oem_intake_baseline_rest_party_sequential', rest_path,
                    party_bodies, REST_KEY, 200)]:
            rate, latencies, unexpected = run_phase(client, path,
                bodies(args.sequential), key, 1, status)
            problems += unexpected
            report(name, rate, latencies)
        intake_rate, intake_ms = measured['oem_intake']
        rest_rate, _ = measured['oem_intake_baseline_rest_party']

        out('oem_intake_requests', args.requests, 'requests')
        out('oem_intake_concurrency', args.concurrency, 'clients')
        for name, (rate, latencies) in measured.items():
            report(name, rate, latencies)
            explain_activity(name, *activities[name], args.requests)
        ratio = intake_rate / rest_rate
        out('oem_intake_ratio', f'{ratio:.2f}', 'x')
        out('oem_intake_ratio_vs_target', ratio / TARGET_RATIO,
            'ratio(>=1 ok)')
        out('oem_intake_p95_vs_target',
            percentile(intake_ms, 0.95) / TARGET_P95_MS, 'ratio(<1 ok)')
        out('machine_load_1min_end', os.getloadavg()[0], 'load')
    if problems:
        sys.exit(f'bench_lead: {len(problems)} problems, first: '
            f'{problems[0]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
