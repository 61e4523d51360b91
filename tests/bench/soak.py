#!/usr/bin/env python3
"""Soak test of the production shape on PostgreSQL (`./ev soak`).

What it starts, on this machine, on a fresh PostgreSQL database with
ev_station, ev_lead and ev_charger_iot (tests/server.py builds it, with the
OEM integration users of the API tests and a back-office user):
  - gunicorn serving trytond.application:app with `--servers` worker
    processes (gthread, 4 threads each; --preload: the pool is loaded once
    in the master, a replaced worker is forked ready),
  - one trytond-cron and one trytond-worker ([queue] worker = True),
  - two ev-ingest processes sharing the stream (shared_group, MQTT 5 shared
    subscription), each with its own client id, and the OCPP gateway,
  - a Mosquitto of its own configured like production
    (max_inflight_messages 0, no queue limit; tests/broker.py),
  - a mail catcher for the emails of the worker and the cron.

Then, for `--duration` seconds:
  - `--clients` API clients (threads, one HTTP/1.1 connection each), each
    turning over four requests: an OEM intake (POST /<db>/ev/api/v1/leads,
    a new customer and a unique OEM reference), a status read of an
    accepted lead (GET /<db>/ev/api/v1/leads/<reference>), and two
    back-office reads over JSON-RPC as a sales user with a session
    (model.ev.station.search_read, model.sale.opportunity.search_read);
  - `--chargers` simulated chargers publishing telemetry (heartbeats,
    statuses, meter values in turn, each charger one message every
    `--interval` seconds, spread evenly), QoS 1 over one MQTT connection.

At `--kill-at` of the duration it kills one gunicorn worker and one
ingestion process with SIGKILL. The gunicorn master forks a new worker; the
ingestion process is started again after `--restart-delay` seconds (a
supervisor's restart) with the same client id, and the broker delivers
what it kept in its session. An intake whose connection broke is sent
again with the same reference: the intake answers 200 with the lead when
the first copy was committed, 201 when it was not.

It prints `bench: soak_<phase>_<figure> <value> <unit>` for three phases:
`before` (after a warm-up, up to the kill), `kill` (the `--window` seconds
after it) and `after` (the rest): per endpoint the answered requests per
second, their p95 and the failed attempts; the telemetry published and
stored per second and the p95 of the delay from a message's timestamp to
its storing. Then the recovery times and the exactly-once check: every
lead answered 201 or 200 exists once (by its reference), no reference
twice; every message the broker acknowledged is stored once (by charger,
kind and timestamp). A timeline every few seconds goes to stderr. The
exit code is non-zero when something was lost or duplicated or an answer
was unexpected; never on time. Everything started is stopped and the
database dropped at the end, also on Ctrl-C.

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python tests/bench/soak.py [--duration S] [--chargers N]
        [--clients N] [--servers N] [--quick]
"""
import argparse
import contextlib
import datetime
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]
from bench_iot import create_chargers, note, out  # noqa: E402
from bench_station import percentile  # noqa: E402
from broker import Broker  # noqa: E402
from iot_tools import Gateway, Ingest, IotServer, Service  # noqa: E402
from server import pg_connect, wait_for  # noqa: E402
from soak_load import (  # noqa: E402
    ENDPOINTS, APIClient, Chargers, create_ops_user)

STORED = {
    'heartbeat': 'ev_charger_heartbeat',
    'status': 'ev_charger_status',
    'meter': 'ev_charger_meter',
    }


def report(name, value, unit):
    out(f'soak_{name}', value, unit)


class SoakServer(IotServer):
    """The back office behind gunicorn: `workers` processes of
    trytond.application:app"""

    modules = ('ev_station', 'ev_lead', 'ev_charger_iot')

    def __init__(self, workers, threads=4, **kwargs):
        super().__init__(prefix='ev_soak', **kwargs)
        self.workers, self.threads = workers, threads

    def command(self):
        return [os.path.join(os.path.dirname(sys.executable), 'gunicorn'),
            '--workers', str(self.workers), '--worker-class', 'gthread',
            '--threads', str(self.threads), '--preload',
            '--bind', f'127.0.0.1:{self.port}', '--graceful-timeout', '10',
            'trytond.application:app']

    def server_env(self):
        # The pool loaded before serving (what `trytond -d` does)
        return self.env(TRYTOND_DATABASE_NAMES=self.database)

    def worker_pids(self):
        "The gunicorn master's worker processes"
        pid = self.process.pid
        with open(f'/proc/{pid}/task/{pid}/children') as fp:
            return [int(p) for p in fp.read().split()]


class TrytonDaemon(Service):
    """trytond-cron or trytond-worker: one process with its pool of
    processes, all stopped together (a process group of its own)"""

    def __init__(self, server, script, broker_port):
        self.module = self.script = script
        super().__init__(server, broker_port=broker_port, args=['-n', '1'])

    def start(self):
        log = open(self.log_path, 'a')
        self.process = subprocess.Popen(self.command(),
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            env=self.env, start_new_session=True)
        log.close()
        return self

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


class Soak:
    "The run: its processes, its load, what it saw and what it checks"

    def __init__(self, options, uri):
        self.options = options
        self.uri = uri
        self.run_id = uuid.uuid4().hex[:6]
        self.numbers = itertools.count(1)
        self.requests = []  # (endpoint, ended, ms or None, outcome)
        self.sent_references = set()
        self.accepted = []
        self.created = Counter()  # reference: 201 answers
        self.intake_retries = Counter()  # 'created' / 'found'
        self.problems = []
        self.events = {}
        self.aborted = threading.Event()

    # -- what the clients saw ---------------------------------------------

    def record(self, endpoint, ended, ms, outcome):
        self.requests.append((endpoint, ended, ms, outcome))

    def expect(self, endpoint, status, expected, payload):
        if status != expected:
            self.problems.append(
                f'{endpoint}: {status} {payload[:300]!r}')

    def answered(self, reference, status, attempt, payload):
        if status == 201:
            self.created[reference] += 1
        elif status != 200:
            self.problems.append(f'oem_intake: {status} {payload[:300]!r}')
            return
        if attempt:
            # The first copy's answer was lost: 200 says it was committed
            self.intake_retries['found' if status == 200 else 'created'] += 1
        self.accepted.append(reference)

    # -- the processes ----------------------------------------------------

    def start(self, stack):
        options = self.options
        from trytond.modules.ev_station.tests.tools import SMTPServer
        mail = stack.enter_context(SMTPServer())
        self.broker = stack.enter_context(Broker(persistence=False))
        note(f"building the database (modules, data, {options.chargers} "
            "chargers)")
        self.server = SoakServer(options.servers, uri=self.uri,
            email_uri=mail.uri, settings={
                'queue': {'worker': True},
                # The production values, not the tests' quick ones
                'ev_charger_iot': {'mqtt_port': self.broker.port,
                    'shared_group': 'soak', 'batch_delay_ms': 100,
                    'command_poll_ms': 500, 'command_timeout': 120},
                })
        self.server.write_conf()
        stack.callback(self.server.close)
        self.server.create_database()
        self.server.setup_database()
        create_chargers(self.server.conf, 0, options.chargers,
            database=self.server.database)
        create_ops_user(self.server.database)
        self.server.start()
        note(f"gunicorn with {options.servers} workers on "
            f"{self.server.url}")
        port = self.broker.port
        self.services = [TrytonDaemon(self.server, 'trytond-cron', port),
            TrytonDaemon(self.server, 'trytond-worker', port)]
        self.ingests = [Ingest(self.server, client_id=f'soak-ingest-{n}',
                broker_port=port) for n in (1, 2)]
        self.services += self.ingests
        self.services.append(Gateway(self.server, broker_port=port))
        for service in self.services:
            stack.callback(service.stop)
            service.start()
        note("cron, worker, two ingestion processes and the gateway "
            "started")

    def check_running(self):
        for service in self.services:
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.module} stopped "
                    f"({service.process.returncode}):\n"
                    + service.log()[-3000:])

    def logs(self):
        """What the processes logged, to stderr: errors per process (the
        killed worker's is expected) and the ingestion's last counters"""
        for name, text in [('gunicorn', self.server.log_tail(10 ** 7))] + [
                (f'{s.module} {getattr(s, "client_id", "")}'.strip(),
                    s.log()) for s in self.services]:
            errors = [line for line in text.splitlines()
                if ' ERROR ' in line or '[ERROR]' in line]
            note(f"log of {name}: {len(errors)} errors"
                + (f", last: {errors[-1][:200]}" if errors else ""))
            for line in [line for line in text.splitlines()
                    if ' stats ' in line][-2:]:
                note(f"  {line.split(' stats ', 1)[1]}")

    # -- the run ----------------------------------------------------------

    def load(self):
        options = self.options
        stop = threading.Event()
        self.chargers = Chargers(self.broker.port, options.chargers,
            options.interval)
        threads = [threading.Thread(target=self.chargers.run, args=(stop,),
                daemon=True)]
        threads += [threading.Thread(target=APIClient(self, n).run,
                args=(stop,), daemon=True) for n in range(options.clients)]
        self.t0 = time.monotonic()
        self.wall0 = datetime.datetime.utcnow()
        self.give_up = self.t0 + options.duration + 60
        for thread in threads:
            thread.start()
        try:
            self.sleep_until(options.duration * options.kill_at)
            self.kill()
            self.sleep_until(options.duration)
        except BaseException:
            # Ctrl-C or an error: no intake is sent again, nothing awaited
            self.aborted.set()
            raise
        finally:
            stop.set()
            self.t_end = time.monotonic()
            for thread in threads:
                thread.join(timeout=5 if self.aborted.is_set() else 120)
        self.check_running()

    def sleep_until(self, offset):
        while time.monotonic() < self.t0 + offset:
            self.check_running()
            time.sleep(min(1, max(0, self.t0 + offset - time.monotonic())))

    def kill(self):
        """SIGKILL one gunicorn worker and one ingestion process; the
        master forks a new worker, we start the ingestion again"""
        workers = self.server.worker_pids()
        victim = workers[0]
        ingest = self.ingests[0]
        self.t_kill = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        ingest.kill()
        note(f"killed gunicorn worker {victim} and {ingest.client_id} "
            f"(SIGKILL) at {self.t_kill - self.t0:.0f} s")

        def replaced():
            pids = self.server.worker_pids()
            return len(pids) == len(workers) and victim not in pids
        wait_for(replaced, timeout=60, interval=0.05,
            message="gunicorn to replace its worker")
        self.events['server_worker_replaced_after'] = (
            time.monotonic() - self.t_kill)
        time.sleep(max(0, self.t_kill + self.options.restart_delay
                - time.monotonic()))
        self.events['ingest_started_again_after'] = (
            time.monotonic() - self.t_kill)
        ingest.start()  # returns once it is connected to the broker
        self.t_restarted = time.monotonic()
        self.events['ingest_connected_again_after'] = (
            self.t_restarted - self.t_kill)
        note(f"{ingest.client_id} started again after "
            f"{self.events['ingest_started_again_after']:.1f} s, connected "
            f"after {self.events['ingest_connected_again_after']:.1f} s")

    # -- the figures ------------------------------------------------------

    def phases(self):
        "(name, start, end) in seconds from the start of the load"
        kill = self.t_kill - self.t0
        end = self.t_end - self.t0
        return [('before', min(self.options.warmup, kill), kill),
            ('kill', kill, min(end, kill + self.options.window)),
            ('after', min(end, kill + self.options.window), end)]

    def wall(self, offset):
        return self.wall0 + datetime.timedelta(seconds=offset)

    def stored_messages(self):
        """(identity, kind, ts, received_at) of every stored message, in
        UTC (the services note the reception in local time)"""
        local = datetime.timedelta(minutes=round((datetime.datetime.now()
                    - datetime.datetime.utcnow()).total_seconds() / 60))
        with pg_connect(self.uri, self.server.database) as conn:
            return [(i, k, ts, received - local)
                for kind, table in STORED.items()
                for i, k, ts, received in conn.execute(
                    f"SELECT c.identity, %s, t.ts, t.received_at "
                    f"FROM {table} t JOIN ev_charger c ON c.id = t.charger "
                    "WHERE c.identity LIKE 'BENCH-%%'", (kind,))]

    def drain(self, published, timeout=120):
        "Wait until the ingestion has stored what was published"
        def count():
            with pg_connect(self.uri, self.server.database) as conn:
                return sum(conn.execute(
                        f'SELECT COUNT(*) FROM {t}').fetchone()[0]
                    for t in STORED.values())
        deadline = time.monotonic() + timeout
        while count() < published and time.monotonic() < deadline:
            self.check_running()
            time.sleep(1)

    def report_api(self):
        """Per phase and endpoint (and `api`, all of them): answered
        requests per second, their p95, the failed attempts"""
        for name, start, end in self.phases():
            in_phase = [(e, ms) for e, t, ms, _ in self.requests
                if start <= t - self.t0 < end]
            for endpoint in ENDPOINTS + ['api']:
                mine = [ms for e, ms in in_phase
                    if endpoint in {e, 'api'}]
                answered = [ms for ms in mine if ms is not None]
                report(f'{name}_{endpoint}_rps',
                    len(answered) / max(end - start, 1e-9), 'req/s')
                report(f'{name}_{endpoint}_p95',
                    percentile(answered, 0.95) if answered
                    else float('nan'), 'ms')
                report(f'{name}_{endpoint}_failed',
                    len(mine) - len(answered), 'count')

    def report_messages(self, stored):
        phases = self.phases()
        for name, start, end in phases:
            low, high = self.wall(start), self.wall(end)
            seconds = max(end - start, 1e-9)
            published = sum(1 for _, _, ts, _ in self.chargers.sent
                if low <= ts < high)
            # The last phase's storing goes on after the load, until the
            # backlog is through
            until = max([high] + [r for *_, r in stored]) \
                if name == 'after' else high
            stored_in = sum(1 for *_, received in stored
                if low <= received <= until)
            delays = [(received - ts).total_seconds() * 1000
                for _, _, ts, received in stored if low <= ts < high]
            report(f'{name}_messages_published_rate', published / seconds,
                'msg/s')
            report(f'{name}_messages_stored_rate', stored_in / max(
                    (until - low).total_seconds(), 1e-9), 'msg/s')
            report(f'{name}_message_delay_p95', percentile(delays, 0.95)
                if delays else float('nan'), 'ms')
        # The last message published before the ingestion came back,
        # stored: its backlog is through
        restarted = self.wall(self.t_restarted - self.t0)
        kill = self.wall(self.t_kill - self.t0)
        backlog = [received for _, _, ts, received in stored
            if kill <= ts < restarted]
        if backlog:
            self.events['ingest_backlog_stored_after'] = (
                max(backlog) - kill).total_seconds()

    def timeline(self, stored, step):
        "Every `step` seconds: answered, failed requests; stored messages"
        buckets = defaultdict(lambda: [0, 0, 0])
        for _, t, ms, _ in self.requests:
            buckets[int((t - self.t0) // step)][0 if ms is not None else 1] \
                += 1
        for *_, received in stored:
            buckets[int((received - self.wall0).total_seconds() // step)][
                2] += 1
        kill = (self.t_kill - self.t0) // step
        note(f"timeline ({step:.0f} s steps): API answered/s, failed, "
            "messages stored/s")
        for n in sorted(b for b in buckets if b >= 0):
            answered, failed, messages = buckets[n]
            note(f"  {n * step:5.0f} s  {answered / step:7.1f} "
                f"{failed:4d}  {messages / step:8.0f}"
                + ("   <- SIGKILL" if n == kill else ""))

    def check_leads(self):
        "Every accepted lead stored once, nothing else stored"
        with pg_connect(self.uri, self.server.database) as conn:
            stored = [r for r, in conn.execute(
                    'SELECT oem_reference FROM sale_opportunity '
                    'WHERE oem_reference LIKE %s',
                    (f'BENCH-{self.run_id}-%',))]
        lost, duplicated, unexpected = exactly_once(
            set(self.accepted), stored)
        # The API said "created" twice for one reference
        duplicated += [r for r, n in self.created.items() if n > 1]
        report('leads_sent', len(self.sent_references), 'count')
        report('leads_accepted', len(set(self.accepted)), 'count')
        report('leads_stored', len(stored), 'count')
        report('leads_lost', len(lost), 'count')
        report('leads_duplicated', len(duplicated), 'count')
        report('leads_stored_unanswered', len(unexpected), 'count')
        report('intake_retries_created', self.intake_retries['created'],
            'count')
        report('intake_retries_found_existing',
            self.intake_retries['found'], 'count')
        if unexpected:
            self.problems.append(f"leads stored but never accepted: "
                f"{unexpected[:3]}")
        return lost, duplicated

    def check_messages(self, published, stored):
        "Every acknowledged message stored once, nothing else stored"
        lost, duplicated, unexpected = exactly_once(published,
            [(i, k, ts) for i, k, ts, _ in stored])
        report('messages_sent', len(self.chargers.sent), 'count')
        report('messages_published', len(published), 'count')
        report('messages_stored', len(stored), 'count')
        report('messages_lost', len(lost), 'count')
        report('messages_duplicated', len(duplicated), 'count')
        # Stored though the broker's acknowledgement never came: not lost,
        # not duplicated, but not expected either
        report('messages_stored_unacknowledged', len(unexpected), 'count')
        with pg_connect(self.uri, self.server.database) as conn:
            dead, = conn.execute(
                'SELECT COUNT(*) FROM ev_charger_dead_letter').fetchone()
        report('dead_letters', dead, 'count')
        if dead:
            self.problems.append(f"{dead} dead letters")
        return lost, duplicated


def exactly_once(expected, stored):
    """(lost, duplicated, unexpected): the keys of the set `expected` not
    in the list `stored`, those stored more than once, those stored and
    not expected"""
    counts = Counter(stored)
    return (sorted(expected - counts.keys()),
        sorted(key for key, n in counts.items() if n > 1),
        sorted(counts.keys() - expected))


OPTIONS = [
    ('--duration', float, 180, "seconds of load"),
    ('--chargers', int, 10_000, "simulated chargers"),
    ('--interval', float, 10, "seconds between two messages of a charger"),
    ('--clients', int, 8, "concurrent API clients"),
    ('--servers', int, 2, "gunicorn worker processes"),
    ('--kill-at', float, 0.4, "when to kill, a fraction of the duration"),
    ('--window', float, 20, "seconds after the kill counted as its phase"),
    ('--restart-delay', float, 5,
        "seconds before the killed ingestion process starts again"),
    ('--warmup', float, 20, "first seconds left out of the figures"),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    for name, kind, default, text in OPTIONS:
        parser.add_argument(name, type=kind, default=default,
            help=f"{text} (default {default:,})")
    parser.add_argument('--quick', action='store_true',
        help="a smoke run: 40 s, 500 chargers, 2 s interval")
    options = parser.parse_args()
    if options.quick:
        options.duration, options.chargers, options.interval = 40, 500, 2
        options.window, options.warmup = 10, 8
    if (options.duration <= 0 or options.chargers < 1 or options.clients < 1
            or options.servers < 1 or options.interval <= 0
            or not 0 < options.kill_at < 1):
        parser.error("positive values, and 0 < --kill-at < 1")
    uri = os.environ.get('TRYTOND_DATABASE__URI', '')
    if not uri.startswith('postgresql'):
        sys.exit("soak runs on PostgreSQL (TRYTOND_DATABASE__URI)")

    def interrupted(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)
    # Also when started in the background (where a shell ignores SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    soak = Soak(options, uri)
    with contextlib.ExitStack() as stack:
        soak.start(stack)
        note(f"load: {options.clients} API clients, {options.chargers} "
            f"chargers ({options.chargers / options.interval:.0f} msg/s) "
            f"for {options.duration:.0f} s")
        soak.load()
        published = soak.chargers.published()
        soak.drain(len(published))
        stored = soak.stored_messages()
        soak.timeline(stored, max(1, round(options.duration / 36)))
        report('duration', options.duration, 's')
        report('chargers', options.chargers, 'chargers')
        report('clients', options.clients, 'clients')
        report('server_processes', options.servers, 'processes')
        soak.report_api()
        soak.report_messages(stored)
        for name, seconds in soak.events.items():
            report(name, seconds, 's')
        leads = soak.check_leads()
        messages = soak.check_messages(published, stored)
        report('machine_load_1min_end', os.getloadavg()[0], 'load')
        soak.logs()
    failures = [f"{what} {kind}: {len(items)}, e.g. {sorted(items)[:3]}"
        for what, (lost, duplicated) in [('leads', leads),
            ('messages', messages)]
        for kind, items in [('lost', lost), ('duplicated', duplicated)]
        if items]
    if failures or soak.problems:
        sys.exit('soak: ' + '; '.join(failures + soak.problems[:5]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
