#!/usr/bin/env python3
"""Benchmark of the charger ingestion and health rules on PostgreSQL
(`./ev bench`).

The issue's targets, with 10,000 simulated chargers:
  - at least 5,000 messages per second stored by the ingestion service, and
    at least half the rate of a bare paho subscriber that only counts the
    same QoS 1 stream (the broker's ceiling here is about 10,000 msg/s),
  - one health evaluation over the 10,000 chargers in at most 1 s.

How: a Mosquitto of our own (no queue limit, no persistence) on a free port;
the stream is 200,000 QoS 1 messages (heartbeats, statuses and meter values
of 10,000 chargers, all different). Each round first queues the whole stream
in the consumer's persistent session while it is away, then starts the
consumer and times how fast it drains the queue: the bare subscriber from its
first to its last message, the ingestion service (a subprocess, as in
production) from the first to the last row it commits (polling the count).
The broker and the consumer share the machine's cores with nothing else.
Then, after a VACUUM ANALYZE (autovacuum's work between the bursts of a real
day; the benchmark updates every charger hundreds of times in minutes), the
health evaluation (the cron's method) runs over the 10,000 chargers, timed in
its transaction: `_all_change` when every charger changes bucket
(and 5,000 offline alerts open), `_steady` when none does.

It prints lines `bench: <name> <value> <unit>` (medians of the rounds) and
never fails on time: the exit code is non-zero only on a real error, or when
a round did not store every message exactly once.

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python tests/bench/bench_iot.py [--messages N]
        [--chargers N] [--rounds N] [--rebuild]
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The harness of the tests: tests/server.py and tests/broker.py
sys.path.insert(0, str(ROOT / 'tests'))
from broker import Broker  # noqa: E402
from server import (  # noqa: E402
    admin_all, create_database, database_exists, drop_database, init_pool,
    pg_connect, stop_process, trytond_admin, wait_for, write_conf)

DEFAULT_URI = 'postgresql://postgres@127.0.0.1:5432/'
DATABASE = 'ev_bench_iot'
TOPICS = ['heartbeat', 'status', 'meter']
TABLES = ['ev_charger_heartbeat', 'ev_charger_status', 'ev_charger_meter']


def out(name, value, unit):
    if isinstance(value, float):
        value = f'{value:.3f}' if abs(value) < 10 else f'{value:.0f}'
    print(f'bench: {name} {value} {unit}', flush=True)


def note(message):
    print(f'# {message}', file=sys.stderr, flush=True)


def write_config(uri, directory, mqtt_port, smtp_port):
    return write_conf(str(Path(directory) / 'trytond.conf'), {
            'database': {'uri': uri},
            'email': {'uri': f'smtp://127.0.0.1:{smtp_port}'},
            'ev_charger_iot': {
                'mqtt_host': '127.0.0.1',
                'mqtt_port': mqtt_port,
                'batch_size': 2000,
                'batch_delay_ms': 50,
                'receive_maximum': 6000,
                },
            })


def build_database(uri, config, chargers, rebuild):
    "ev_bench_iot with ev_charger_iot and `chargers` chargers"
    if rebuild:
        drop_database(uri, DATABASE)
    env = {k: v for k, v in os.environ.items() if not k.startswith('TRYTOND')}
    if not database_exists(uri, DATABASE):
        note(f"creating the database {DATABASE}")
        create_database(uri, DATABASE)
        admin_all(config, DATABASE, 'admin-bench', env=env)
    # Update the modules: the sources may have changed since
    trytond_admin(config, DATABASE, '-u', 'ev_charger_iot',
        '--activate-dependencies', env=env)
    with pg_connect(uri, DATABASE, autocommit=True) as conn:
        count, = conn.execute('SELECT COUNT(*) FROM ev_charger').fetchone()
        # Each run starts from the same state: no history, no alert
        conn.execute('TRUNCATE ev_charger_heartbeat, ev_charger_status, '
            'ev_charger_meter, ev_charger_boot, ev_charger_dead_letter, '
            'ev_charger_alert, res_notification')
        conn.execute("UPDATE ev_charger SET health = 'offline', "
            "last_heartbeat = NULL, rssi = NULL, rssi_at = NULL")
        # The timestamps of the latest values too: a later one of the last
        # run would keep this run's values out
        conn.execute('UPDATE ev_charger_connector SET status = NULL, '
            'status_at = NULL, fault_since = NULL, meter_at = NULL, '
            'energy_wh = NULL, energy_at = NULL, power_w = NULL, '
            'power_at = NULL')
    if count < chargers:
        note(f"creating {chargers - count} chargers")
        create_chargers(config, count, chargers)


def create_chargers(config, start, stop, database=DATABASE):
    """Chargers BENCH-<start> to BENCH-<stop - 1>, two connectors each:
    set-based, through the ORM's tables, with one station for them all"""
    from trytond import config as tryton_config
    tryton_config.update_etc(config)
    from trytond.transaction import Transaction
    pool = init_pool(database)
    with Transaction().start(database, 0) as transaction:
        cursor = transaction.connection.cursor()
        Party = pool.get('party.party')
        Station = pool.get('ev.station')
        Charger = pool.get('ev.charger')
        Connector = pool.get('ev.charger.connector')
        station, = Station.create([{
                    'customer': Party.create([{'name': "Bench"}])[0].id}])
        charger = Charger.__table__()
        connector = Connector.__table__()
        for first in range(start, stop, 1000):
            numbers = range(first, min(first + 1000, stop))
            cursor.execute(*charger.insert(
                    [charger.identity, charger.station, charger.power_class,
                        charger.current_type, charger.health,
                        charger.create_uid],
                    [[identity(i), station.id, 'l3' if i % 5 == 0 else 'l2',
                            'dc' if i % 5 == 0 else 'ac', 'offline', 0]
                        for i in numbers],
                    returning=[charger.id]))
            ids = [i for i, in cursor]
            cursor.execute(*connector.insert(
                    [connector.charger, connector.number,
                        connector.create_uid],
                    [[c, n, 0] for c in ids for n in (1, 2)]))
        transaction.commit()


def identity(i):
    return f'BENCH-{i:05d}'


def stream(count, chargers, base):
    """(topic, payload) of `count` different messages over the chargers:
    every charger gets one message per second of the stream's time"""
    messages = []
    for i in range(count):
        charger, second = i % chargers, i // chargers
        ts = (base + datetime.timedelta(seconds=second)).isoformat() + 'Z'
        kind = TOPICS[(second + charger) % 3]
        messages.append(telemetry(charger, kind, second, ts))
    return messages


def telemetry(charger, kind, n, ts):
    """(topic, payload) of the n-th message of the `charger`-th charger,
    a heartbeat, a status or a meter value (`kind`) of the time `ts`"""
    if kind == 'heartbeat':
        payload = {'ts': ts, 'rssi': -60 - charger % 30}
    elif kind == 'status':
        payload = {'connector': 1 + charger % 2, 'ts': ts,
            'status': ('Available', 'Charging')[n % 2],
            'error_code': 'NoError'}
    else:
        payload = {'connector': 1 + charger % 2, 'ts': ts,
            'energy_wh': 1000.0 * n, 'power_w': 7200.0}
    return (f'ev/{identity(charger)}/{kind}', json.dumps(payload).encode())


def mqtt_client(client_id):
    from paho.mqtt.client import CallbackAPIVersion, Client, MQTTv5
    return Client(callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id, protocol=MQTTv5)


def session_properties():
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    return properties


def clear_session(port, client_id):
    "End the persistent session of `client_id` (clean start, no expiry)"
    client = mqtt_client(client_id)
    client.connect('127.0.0.1', port, clean_start=True)
    client.loop_start()
    client.disconnect()
    client.loop_stop()


def publish_all(port, messages):
    "QoS 1, each acknowledged by the broker"
    client = mqtt_client('bench-chargers-' + uuid.uuid4().hex[:6])
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect('127.0.0.1', port)
    client.loop_start()
    # In windows: the packet ids of the messages in flight (65,535) must
    # not wrap around
    for start in range(0, len(messages), 20_000):
        infos = [client.publish(topic, payload, qos=1)
            for topic, payload in messages[start:start + 20_000]]
        for info in infos:
            info.wait_for_publish(timeout=300)
    client.disconnect()
    client.loop_stop()


class BareSubscriber:
    "Counts the QoS 1 stream (paho acknowledges each message itself)"

    def __init__(self, port):
        self.port = port
        self.client_id = 'bench-bare-' + uuid.uuid4().hex[:6]
        self.count = 0
        self.first = self.last = None
        self.expected = None
        self.done = threading.Event()

    def connect(self):
        subscribed = threading.Event()
        self.client = mqtt_client(self.client_id)

        def on_connect(client, userdata, flags, reason_code, properties):
            client.subscribe([(f'ev/+/{kind}', 1) for kind in
                    ['boot', 'heartbeat', 'status', 'meter', 'cmd/result']])

        def on_subscribe(client, userdata, mid, reason_codes, properties):
            subscribed.set()

        def on_message(client, userdata, message):
            now = time.perf_counter()
            if self.first is None:
                self.first = now
            self.count += 1
            self.last = now
            if self.expected and self.count >= self.expected:
                self.done.set()
        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect('127.0.0.1', self.port, clean_start=False,
            properties=session_properties())
        self.client.loop_start()
        subscribed.wait(20)

    def disconnect(self):
        self.client.disconnect()
        self.client.loop_stop()

    def drain(self, expected, timeout=600):
        self.count, self.first, self.last = 0, None, None
        self.expected = expected
        self.done.clear()
        self.connect()
        self.done.wait(timeout)
        self.disconnect()
        if self.count < expected:
            raise RuntimeError(f"bare subscriber got {self.count}/{expected}")
        return (self.count - 1) / (self.last - self.first)


class IngestProcess:
    def __init__(self, config, port):
        self.config = config
        self.client_id = 'bench-ingest-' + uuid.uuid4().hex[:6]
        self.env = {k: v for k, v in os.environ.items()
            if not k.startswith('TRYTOND')}
        self.log = Path(tempfile.mkdtemp(prefix='ev-bench-ingest-')) / 'log'
        self.seen = set()

    def start(self):
        with open(self.log, 'a') as log:
            self.process = subprocess.Popen([sys.executable, '-m',
                    'trytond.modules.ev_charger_iot.ingest', '-c',
                    self.config, '-d', DATABASE, '--client-id',
                    self.client_id], stdout=log, stderr=subprocess.STDOUT,
                env=self.env, cwd=ROOT)

        def connected():
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text()[-3000:])
            return 'connected to the broker' in self.log.read_text()
        wait_for(connected, timeout=120, interval=0.05,
            message="the ingestion service to connect")

    def stop(self):
        stop_process(self.process, 120)


def stored(conn):
    return sum(conn.execute(f'SELECT COUNT(*) FROM {t}').fetchone()[0]
        for t in TABLES)


def inserted(conn):
    """Rows inserted so far, from the id sequences: cheap to poll, unlike a
    COUNT(*) that would load the server while it is measured"""
    return sum(conn.execute('SELECT CASE WHEN is_called THEN last_value '
            f'ELSE last_value - 1 END FROM {t}_id_seq').fetchone()[0]
        for t in TABLES)


def ingest_round(uri, ingest, port, messages):
    with pg_connect(uri, DATABASE, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f'TRUNCATE {table}')
        publish_all(port, messages)  # queued in the service's session
        start = inserted(conn)
        ingest.start()
        first = first_count = None
        deadline = time.monotonic() + 900
        while True:
            count = inserted(conn) - start
            now = time.perf_counter()
            if count and first is None:
                first, first_count = now, count
            if count >= len(messages) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        ingest.stop()
        for line in ingest.log.read_text().splitlines():
            if ' stats ' in line and line not in ingest.seen:
                ingest.seen.add(line)
                note(line.split(' stats ', 1)[1])
        exact = stored(conn)
        rate = ((count - first_count) / (now - first)
            if now > first else float('nan'))
        return rate, exact


def vacuum(uri):
    """What autovacuum does between the bursts of a real day: the benchmark
    updates every charger hundreds of times in a few minutes"""
    with pg_connect(uri, DATABASE, autocommit=True) as conn:
        conn.execute('VACUUM ANALYZE ev_charger, ev_charger_connector, '
            'ev_charger_alert, res_notification')


def health_bench(config, rounds):
    "The cron's evaluation over every charger, in a rolled back transaction"
    from trytond import config as tryton_config
    tryton_config.update_etc(config)
    from trytond.transaction import Transaction
    pool = init_pool(DATABASE)
    Charger = pool.get('ev.charger')
    base = datetime.datetime(2026, 6, 1, 12, 0)
    all_change, steady = [], []
    for _ in range(rounds):
        with Transaction().start(DATABASE, 0) as transaction:
            cursor = transaction.connection.cursor()
            table = Charger.__table__()
            # Half the chargers heard of 10 s ago, half an hour ago
            cursor.execute(*table.update([table.last_heartbeat, table.health],
                    [base, 'available'], where=table.id % 2 == 0))
            cursor.execute(*table.update([table.last_heartbeat, table.health],
                    [base - datetime.timedelta(minutes=30), 'available'],
                    where=table.id % 2 == 1))
            count = Charger.search([], count=True)
            now = base + datetime.timedelta(seconds=10)
            start = time.perf_counter()
            Charger.evaluate_health(now=now)
            all_change.append(time.perf_counter() - start)
            start = time.perf_counter()
            Charger.evaluate_health(now=now)
            steady.append(time.perf_counter() - start)
            transaction.rollback()
    return count, all_change, steady


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--messages', type=int, default=200_000)
    parser.add_argument('--chargers', type=int, default=10_000)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--rebuild', action='store_true')
    parser.add_argument('--health-only', action='store_true',
        help="only the health evaluation")
    options = parser.parse_args()
    uri = os.environ.get('TRYTOND_DATABASE__URI') or DEFAULT_URI
    if not uri.startswith('postgresql'):
        sys.exit("bench_iot runs on PostgreSQL (TRYTOND_DATABASE__URI)")
    tmp = tempfile.mkdtemp(prefix='ev-bench-iot-')
    broker = Broker(persistence=False).start()
    # The alerts' emails go to a real SMTP server of ev_station's tests
    from trytond.modules.ev_station.tests.tools import SMTPServer
    mail = SMTPServer().start()
    try:
        config = write_config(uri, tmp, broker.port, mail.port)
        build_database(uri, config, options.chargers, options.rebuild)
        base = datetime.datetime.utcnow().replace(microsecond=0)
        note(f"{options.messages} messages of {options.chargers} chargers")
        bare_rates, ingest_rates, problems = [], [], []
        for round_ in range(0 if options.health_only else options.rounds):
            # New timestamps each round: nothing is a duplicate
            messages = stream(options.messages, options.chargers,
                base + datetime.timedelta(hours=round_))
            # Each consumer's session exists only during its own phase:
            # the stream is queued for it alone
            bare = BareSubscriber(broker.port)
            bare.connect()
            bare.disconnect()
            publish_all(broker.port, messages)
            bare_rates.append(bare.drain(len(messages)))
            clear_session(broker.port, bare.client_id)
            ingest = IngestProcess(config, broker.port)
            ingest.start()
            ingest.stop()
            rate, exact = ingest_round(uri, ingest, broker.port, messages)
            clear_session(broker.port, ingest.client_id)
            ingest_rates.append(rate)
            note(f"round {round_ + 1}: bare {bare_rates[-1]:.0f} msg/s, "
                f"stored {rate:.0f} msg/s ({exact}/{len(messages)} rows)")
            if exact != len(messages):
                problems.append(f"round {round_ + 1} stored {exact} of "
                    f"{len(messages)}")
        if not options.health_only:
            bare_rate = statistics.median(bare_rates)
            ingest_rate = statistics.median(ingest_rates)
            out('iot_messages', options.messages, 'messages')
            out('iot_chargers', options.chargers, 'chargers')
            out('iot_bare_subscriber_rate', bare_rate, 'msg/s')
            out('iot_ingest_stored_rate', ingest_rate, 'msg/s')
            out('iot_ingest_vs_bare_ratio', ingest_rate / bare_rate, 'ratio')
            out('iot_ingest_stored_rate_vs_target', 5000 / ingest_rate,
                'ratio(<1 ok)')
        vacuum(uri)
        count, all_change, steady = health_bench(config, options.rounds)
        out('iot_health_chargers', count, 'chargers')
        out('iot_health_eval_all_change', statistics.median(all_change)
            * 1000, 'ms')
        out('iot_health_eval_steady', statistics.median(steady) * 1000, 'ms')
        out('iot_health_eval_vs_target', statistics.median(all_change),
            'ratio(<1 ok)')
        out('machine_load_1min', os.getloadavg()[0], 'load')
        if problems:
            sys.exit('; '.join(problems))
    finally:
        broker.close()
        mail.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
