#!/usr/bin/env python3
"""Benchmark of the WhatsApp webhook intake on PostgreSQL.

The issue's target: WhatsApp webhook intake of at least 200 messages/s with
exactly-once storage.

How: the harness of the tests (tests/server.py) builds a fresh PostgreSQL
database with ev_helpdesk and serves it as in production, with gunicorn
(`--workers` processes of `--threads` threads, trytond.application:app);
the WhatsApp app secret is configured over XML-RPC. N text messages from
500 customers (a tenth of them known parties) are each POSTed twice (a
share of them with --redelivered, as when Meta redelivers the late), signed
with X-Hub-Signature-256 as Meta does, by `--concurrency` clients each
keeping one HTTP/1.1 connection, in an order where the two deliveries of a
message are often in flight at the same time (Meta's redelivery). Every
answer must be 200. The rate is the stored messages per second of the
whole run (N / wall time).

As in production, the queue has a worker (`[queue] worker = True` and one
trytond-worker process beside gunicorn): the webhook stores the messages
and queues the opening of their requests (customer lookup, classification,
routing), which the worker does in batches meanwhile. Then the time until
every request is open: `whatsapp_requests_opened` is N / (time from the
first webhook to the last request opened), `whatsapp_requests_lag` the wait
after the last webhook's answer, `whatsapp_queue_tasks` the tasks the burst
queued. Then the exactly-once check: the stored messages and their requests
are counted, N each. It prints `bench: <name> <value> <unit>` lines and never
fails on time; the exit code is non-zero only on a wrong answer or a wrong
count. The database and the server are removed at the end.

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python tests/bench/bench_whatsapp.py [--messages N]
        [--concurrency C] [--workers W] [--threads T]
"""
import argparse
import hashlib
import hmac
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lead import Client  # noqa: E402
from bench_station import note, out, percentile, server_uri  # noqa: E402
from server import (  # noqa: E402
    ADMIN_PASSWORD, TrytonServer, file_tail, stop_process)

TARGET = 200.0  # messages per second
APP_SECRET = 'bench-app-secret'
CUSTOMERS = 500


class GunicornServer(TrytonServer):
    "The production shape of README's deployment: gunicorn, gthread"
    setup_timeout = 1800

    def __init__(self, workers, threads, **kwargs):
        super().__init__(**kwargs)
        self.workers, self.threads = workers, threads

    def command(self):
        return [os.path.join(os.path.dirname(sys.executable), 'gunicorn'),
            '--workers', str(self.workers), '--worker-class', 'gthread',
            '--threads', str(self.threads), '--preload',
            '--bind', f'127.0.0.1:{self.port}', '--graceful-timeout', '10',
            'trytond.application:app']

    def server_env(self):
        return self.env(TRYTOND_DATABASE_NAMES=self.database)

    def conf_sections(self):
        "Production's queue: the webhook queues, a worker opens requests"
        sections = super().conf_sections()
        sections['queue']['worker'] = True
        return sections

    def start(self, timeout=60):
        super().start(timeout=timeout)
        self._worker_log = open(self.log_path + '.worker', 'w')
        self.worker = subprocess.Popen([
                os.path.join(os.path.dirname(sys.executable),
                    'trytond-worker'),
                '-c', self.conf, '-d', self.database, '-n', '1'],
            stdout=self._worker_log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=self.server_env(),
            # Its own process group: its pool's processes go with it
            start_new_session=True)

    def stop(self):
        worker = getattr(self, 'worker', None)
        if worker:
            stop_process(worker)
            try:
                os.killpg(worker.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.worker = None
            self._worker_log.close()
        super().stop()

    def worker_log_tail(self):
        return file_tail(self.log_path + '.worker')


def wa_id(n):
    return f'9198450{n % CUSTOMERS:05d}'


def payload(run, n):
    return {'object': 'whatsapp_business_account', 'entry': [{
                'id': '102290129340398', 'changes': [{'field': 'messages',
                        'value': {
                            'messaging_product': 'whatsapp',
                            'metadata': {
                                'display_phone_number': '918000000000',
                                'phone_number_id': '106540352242922'},
                            'contacts': [{'profile': {
                                        'name': f"Customer {n}"},
                                    'wa_id': wa_id(n)}],
                            'messages': [{'from': wa_id(n),
                                    'id': f'wamid.BENCH-{run}-{n:06d}',
                                    'timestamp': str(int(time.time())),
                                    'type': 'text',
                                    'text': {'body':
                                        f"Charger {n} does not start"}}],
                            }}]}]}


def signature(body):
    return 'sha256=' + hmac.new(
        APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--messages', type=int, default=2000)
    parser.add_argument('--concurrency', type=int, default=8)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--threads', type=int, default=4)
    parser.add_argument('--warmup', type=int, default=40)
    parser.add_argument('--redelivered', type=float, default=1.0,
        help="the share of the messages delivered twice (Meta redelivers "
        "when an answer is late); 1 (the default) delivers every one twice")
    args = parser.parse_args()
    if args.messages < 1 or args.concurrency < 1:
        parser.error('--messages and --concurrency must be positive')
    uri = server_uri()
    run = uuid.uuid4().hex[:6]
    note('building the database and starting gunicorn')
    with GunicornServer(args.workers, args.threads, uri=uri,
            modules=('ev_helpdesk',), prefix='ev_bench_wa') as server:
        note(', '.join(f'{step} {seconds:.0f} s'
                for step, seconds in server.timings.items()))
        admin = server.rpc_session('admin', ADMIN_PASSWORD)
        admin('model.ev.helpdesk.configuration.write', [1], {
                'whatsapp_app_secret': APP_SECRET}, {})
        admin('model.party.party.create', [{
                    'name': f"Known customer {n}",
                    'contact_mechanisms': [['create', [{
                                    'type': 'mobile',
                                    'value': '+' + wa_id(n)}]]],
                    } for n in range(0, CUSTOMERS, 10)], {})
        client = Client(server.port)
        path = f'/{server.database}/ev/whatsapp/webhook'

        def post(body):
            data = json.dumps(body).encode()
            return client.request('POST', path, body,
                {'X-Hub-Signature-256': signature(data)})

        # Warm-up: the workers' caches, not counted
        warm = [payload(f'warm{run}', n) for n in range(args.warmup)]
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            list(pool.map(post, warm))

        bodies = [payload(run, n) for n in range(args.messages)]
        # Each message (or the share --redelivered) twice; the second
        # delivery a few places after the first, so that both are often in
        # flight together
        random.seed(run)
        order = []
        for n in range(args.messages):
            order.append(n)
            if random.random() < args.redelivered:
                order.insert(max(0, len(order) - random.randint(1,
                            2 * args.concurrency)), n)
        deliveries = [bodies[n] for n in order]
        note(f'{len(deliveries)} webhooks of {args.messages} messages '
            f'({args.redelivered:.0%} delivered twice), '
            f'concurrency {args.concurrency}, gunicorn {args.workers} '
            f'workers x {args.threads} threads')
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            results = list(pool.map(post, deliveries))
        elapsed = time.perf_counter() - started
        latencies = [ms for _, _, ms in results]
        unexpected = [(status, payload_[:300])
            for status, payload_, _ in results if status != 200]
        answers = [json.loads(p) for s, p, _ in results if s == 200]
        stored = server.count('ev_helpdesk_whatsapp_message',
            'WHERE wamid LIKE %s', (f'wamid.BENCH-{run}-%',))

        # The worker opens the requests of the stored messages in batches:
        # the time it needs after the last webhook's answer
        def pending():
            return server.count('ev_helpdesk_whatsapp_message',
                "WHERE wamid LIKE %s AND request_state = 'pending'",
                (f'wamid.BENCH-{run}-%',))
        deadline = time.perf_counter() + 600
        while pending() and time.perf_counter() < deadline:
            time.sleep(0.1)
        drained = time.perf_counter() - started
        tasks = server.count('ir_queue', 'WHERE name = %s',
            ('ev_helpdesk_whatsapp',))
        requests = server.sql(
            'SELECT COUNT(*) FROM ev_helpdesk_request r JOIN '
            'ev_helpdesk_whatsapp_message m ON m.request = r.id '
            'WHERE m.wamid LIKE %s', (f'wamid.BENCH-{run}-%',))[0][0]
        rate = args.messages / elapsed
        out('whatsapp_webhook_intake', rate, 'msg/s')
        out('whatsapp_webhook_intake_vs_target', rate / TARGET, 'ratio')
        out('whatsapp_webhook_posts', len(deliveries) / elapsed, 'req/s')
        out('whatsapp_requests_opened', args.messages / drained, 'msg/s')
        out('whatsapp_requests_lag', drained - elapsed, 's')
        out('whatsapp_queue_tasks', tasks, 'tasks')
        out('whatsapp_webhook_p50', statistics.median(latencies), 'ms')
        out('whatsapp_webhook_p95', percentile(latencies, 0.95), 'ms')
        out('whatsapp_webhook_new', sum(a['messages'] for a in answers),
            'messages')
        out('whatsapp_webhook_duplicates',
            sum(a['duplicates'] for a in answers), 'messages')
        out('whatsapp_stored', stored, 'messages')
        out('whatsapp_requests', requests, 'requests')
        exactly_once = stored == args.messages == requests
        out('whatsapp_exactly_once', int(exactly_once), 'bool')
        if unexpected:
            note(f'{len(unexpected)} unexpected answers, e.g. '
                f'{unexpected[:3]}')
        if unexpected or not exactly_once:
            note(server.log_tail())
            note(server.worker_log_tail())
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
