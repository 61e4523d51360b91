# This file is part of the EV operations suite.
"""The ingestion service: the MQTT contract (see contract.py) into the
database, at least once and idempotently.

    python -m trytond.modules.ev_charger_iot.ingest -c tryton.conf -d <db>

One MQTT 5 client with a persistent session (clean_start=False and a
session expiry) and manual acknowledgements: the messages are stored in
batches, one transaction each, and a message is acknowledged only after its
batch is committed. The service forks a writer process at its start: this
one receives and acknowledges, the writer stores (see IngestService). A
crash loses nothing: the broker delivers the
unacknowledged messages again and the unique keys of the tables make the
second copy a no-op. Malformed messages and unknown chargers become dead
letters. The service also publishes the pending remote commands on
ev/<id>/cmd (an outbox) and fails those without result after the timeout.

Several processes share the stream with [ev_charger_iot] shared_group (MQTT 5
shared subscriptions, $share/<group>/ev/+/...); each needs its own client
id (--client-id)."""
import datetime
import itertools
import json
import logging
import signal
import sys
import threading
import time
from collections import deque

from sql import Cast, Column, Conflict, Literal, Null, Select, Table, Values
from sql.conditionals import Case, Coalesce
from sql.functions import CurrentTimestamp, Function

from . import contract, settings

logger = logging.getLogger('ev_charger_iot.ingest')

# Rows per INSERT statement (PostgreSQL takes at most 65535 parameters)
INSERT_CHUNK = 500


class _Excluded(Table):
    """The row proposed to ON CONFLICT DO UPDATE, named in lower case:
    python-sql quotes "EXCLUDED", which PostgreSQL does not recognise"""

    def __init__(self):
        super().__init__('excluded')

    @property
    def alias(self):
        return 'excluded'

    @property
    def has_alias(self):
        return False


Excluded = _Excluded()


class Stats:
    "Counters of the service, logged every `period` seconds"

    def __init__(self, period=10):
        self.period = period
        self.stored = self.dead = 0
        self.window = [0, 0, 0.0, 0.0]  # messages, batches, store, ack
        self.since = time.monotonic()

    def add(self, size, stored, dead, store_time, ack_time):
        self.stored += stored
        self.dead += dead
        window = self.window
        window[0] += size
        window[1] += 1
        window[2] += store_time
        window[3] += ack_time
        elapsed = time.monotonic() - self.since
        if elapsed >= self.period:
            messages, batches, store_time, ack_time = window
            logger.info("stats rate=%.0f/s batches=%s mean_batch=%.0f "
                "store_ms=%.1f ack_ms=%.1f busy=%.0f%% stored=%s "
                "dead_letters=%s", messages / elapsed, batches,
                messages / batches, store_time / batches * 1000,
                ack_time / batches * 1000,
                (store_time + ack_time) / elapsed * 100,
                self.stored, self.dead)
            self.window = [0, 0, 0.0, 0.0]
            self.since = time.monotonic()


def invalidate_cache(*names):
    from .charger import invalidate_cache
    invalidate_cache(*names)


class Unnest(Function):
    __slots__ = ()
    _function = 'UNNEST'


def _on_postgresql():
    from trytond import backend
    return backend.name == 'postgresql'


def row_source(rows, types):
    """A table of `rows` for INSERT ... SELECT and UPDATE ... FROM, and its
    columns. On PostgreSQL one array parameter per column, unnested: a
    statement of a few parameters whatever the number of rows (psycopg and
    the server parse thousands of placeholders slowly). On SQLite a VALUES
    list (its CAST to TIMESTAMP would make a number of a date)."""
    if _on_postgresql():
        arrays = list(zip(*rows)) if rows else [()] * len(types)
        table = Select([Unnest(Cast(Literal(array_literal(a)), f'{t}[]'))
                .as_(f'column{i + 1}')
                for i, (a, t) in enumerate(zip(arrays, types))])
    else:
        table = Values([list(r) for r in rows])
    return table, [Column(table, f'column{i + 1}') for i in range(len(types))]


def _array_element(value):
    if value is None:
        return 'NULL'
    if isinstance(value, str):
        return '"%s"' % value.replace('\\', '\\\\').replace('"', '\\"')
    if isinstance(value, datetime.datetime):
        return '"%s"' % value.isoformat(' ')
    return repr(value)  # int, float


def array_literal(values):
    """The text of a PostgreSQL array of `values`: building it here costs a
    tenth of what psycopg's per-element array dumper costs"""
    return '{%s}' % ','.join(map(_array_element, values))


def insert_rows(cursor, table, columns, types, rows, on_conflict=None):
    "INSERT of `rows` in `columns` of the table, with create_date and _uid"
    columns = columns + [table.create_date, table.create_uid]
    if _on_postgresql():
        source, values = row_source(rows, types)
        cursor.execute(*table.insert(columns,
                source.select(*values, CurrentTimestamp(), Literal(0)),
                on_conflict=on_conflict))
        return
    for i in range(0, len(rows), INSERT_CHUNK):
        cursor.execute(*table.insert(columns,
                [list(r) + [CurrentTimestamp(), 0]
                    for r in rows[i:i + INSERT_CHUNK]],
                on_conflict=on_conflict))


class Store:
    """Writes batches of received messages, set-based, in the transaction
    of the caller. Keeps an identity → charger id cache."""

    def __init__(self, pool):
        self.pool = pool
        self.charger_ids = {}
        # Chargers with new messages, for the next health evaluation
        self.touched = set()

    def forget(self):
        self.charger_ids.clear()

    def resolve(self, identities):
        Charger = self.pool.get('ev.charger')
        from trytond.transaction import Transaction
        missing = [i for i in identities if i not in self.charger_ids]
        if missing:
            table = Charger.__table__()
            cursor = Transaction().connection.cursor()
            for i in range(0, len(missing), 1000):
                cursor.execute(*table.select(table.id, table.identity,
                        where=table.identity.in_(missing[i:i + 1000])))
                self.charger_ids.update((i_, c) for c, i_ in cursor)
        return self.charger_ids

    def store(self, messages, now=None):
        """Store `messages`, a list of (topic, payload bytes, received_at);
        returns (stored, dead letters) counts"""
        from trytond.transaction import Transaction

        from .charger import tune_for_bulk
        now = now or datetime.datetime.now()
        tune_for_bulk()
        parsed, dead = [], []
        for topic, payload, received_at in messages:
            try:
                message = contract.parse(topic, payload)
            except contract.BadMessage as exception:
                dead.append((topic, payload, str(exception), received_at))
                continue
            parsed.append((message, topic, payload, received_at))
        ids = self.resolve(sorted({m.identity for m, *_ in parsed}))
        by_kind = {k: [] for k in contract.INGESTED}
        for message, topic, payload, received_at in parsed:
            charger_id = ids.get(message.identity)
            if charger_id is None:
                dead.append((topic, payload,
                        f"unknown charger {message.identity!r}",
                        received_at))
                continue
            by_kind[message.kind].append(
                (charger_id, message, topic, payload, received_at))
        cursor = Transaction().connection.cursor()
        self.store_boots(cursor, by_kind['boot'], now)
        self.store_heartbeats(cursor, by_kind['heartbeat'], now)
        self.store_statuses(cursor, by_kind['status'], now)
        self.store_meters(cursor, by_kind['meter'], now)
        dead.extend(self.store_results(by_kind['cmd/result'], now))
        self.store_dead_letters(cursor, dead)
        invalidate_cache('ev.charger', 'ev.charger.connector')
        self.touched.update(row[0] for rows in by_kind.values()
            for row in rows)
        return len(messages) - len(dead), len(dead)

    def evaluate_health(self):
        """The health rules over the chargers heard of since the last call
        (the cron evaluates every charger, once a minute)"""
        touched, self.touched = self.touched, set()
        if touched:
            try:
                Charger = self.pool.get('ev.charger')
                Charger.evaluate_health(chargers=sorted(touched))
            except Exception:
                self.touched |= touched
                raise

    # -- history -----------------------------------------------------------

    def insert_history(self, cursor, model, columns, types, rows):
        "Multi-row INSERT ... ON CONFLICT DO NOTHING on the unique key"
        Model = self.pool.get(model)
        table = Model.__table__()
        key = Model.unique_columns(table)
        positions = [columns.index(c.name) for c in key]
        seen, unique_rows = set(), []
        for row in rows:
            # A batch may hold a message and its redelivery
            k = tuple(row[i] for i in positions)
            if k not in seen:
                seen.add(k)
                unique_rows.append(row)
        insert_rows(cursor, table, [Column(table, c) for c in columns],
            types, unique_rows,
            on_conflict=Conflict(table, indexed_columns=key))

    def store_boots(self, cursor, rows, now):
        if not rows:
            return
        self.insert_history(cursor, 'ev.charger.boot',
            ['charger', 'ts', 'received_at', 'vendor', 'model', 'serial',
                'firmware'],
            ['INTEGER', 'TIMESTAMP', 'TIMESTAMP', 'VARCHAR', 'VARCHAR',
                'VARCHAR', 'VARCHAR'],
            [(c, m.values['ts'], r, m.values['vendor'], m.values['model'],
                    m.values['serial'], m.values['firmware'])
                for c, m, _, _, r in rows])
        latest = {}
        for c, m, *_ in rows:
            if c not in latest or latest[c]['ts'] < m.values['ts']:
                latest[c] = m.values
        Charger = self.pool.get('ev.charger')
        charger = Charger.__table__()
        values, (id_, ts, vendor, model, serial, firmware) = row_source(
            [[c, v['ts'], v['vendor'], v['model'], v['serial'],
                    v['firmware']] for c, v in sorted(latest.items())],
            ['INTEGER', 'TIMESTAMP', 'VARCHAR', 'VARCHAR', 'VARCHAR',
                'VARCHAR'])
        cursor.execute(*charger.update(
                [charger.last_boot, charger.vendor, charger.model,
                    charger.serial, charger.firmware],
                [ts, Coalesce(vendor, charger.vendor),
                    Coalesce(model, charger.model),
                    Coalesce(serial, charger.serial),
                    Coalesce(firmware, charger.firmware)],
                from_=[values],
                where=(charger.id == id_)
                & ((charger.last_boot == Null) | (charger.last_boot < ts))))
        # A boot is a sign of life like a heartbeat
        self.update_last_heartbeat(cursor,
            [(c, min(v['ts'], now), None) for c, v in latest.items()])

    def store_heartbeats(self, cursor, rows, now):
        if not rows:
            return
        self.insert_history(cursor, 'ev.charger.heartbeat',
            ['charger', 'ts', 'received_at', 'rssi'],
            ['INTEGER', 'TIMESTAMP', 'TIMESTAMP', 'INTEGER'],
            [(c, m.values['ts'], r, m.values['rssi'])
                for c, m, _, _, r in rows])
        latest = {}
        for c, m, *_ in rows:
            if c not in latest or latest[c]['ts'] < m.values['ts']:
                latest[c] = m.values
        # A charger's clock ahead of ours must not keep it online
        self.update_last_heartbeat(cursor,
            [(c, min(v['ts'], now), v['rssi']) for c, v in latest.items()])

    def update_last_heartbeat(self, cursor, rows):
        Charger = self.pool.get('ev.charger')
        charger = Charger.__table__()
        values, (id_, ts, rssi) = row_source(
            [list(r) for r in sorted(rows)],
            ['INTEGER', 'TIMESTAMP', 'INTEGER'])
        cursor.execute(*charger.update(
                [charger.last_heartbeat, charger.rssi],
                [ts, Coalesce(rssi, charger.rssi)],
                from_=[values],
                where=(charger.id == id_)
                & ((charger.last_heartbeat == Null)
                    | (charger.last_heartbeat < ts))))

    def store_statuses(self, cursor, rows, now):
        if not rows:
            return
        self.insert_history(cursor, 'ev.charger.status',
            ['charger', 'connector', 'ts', 'status', 'error_code',
                'received_at'],
            ['INTEGER', 'INTEGER', 'TIMESTAMP', 'VARCHAR', 'VARCHAR',
                'TIMESTAMP'],
            [(c, m.values['connector'], m.values['ts'], m.values['status'],
                    m.values['error_code'], r)
                for c, m, _, _, r in rows])
        # The latest status per connector; for a fault, when it started:
        # the first Faulted of the trailing run of Faulted in the batch, or
        # the stored start when the whole batch is Faulted (continuing)
        per_connector = {}
        for c, m, *_ in rows:
            per_connector.setdefault((c, m.values['connector']), []).append(
                m.values)
        fresh, continuing = [], []
        for (c, n), values in sorted(per_connector.items()):
            values.sort(key=lambda v: v['ts'])
            last = values[-1]
            fault_since = None
            for v in reversed(values):
                if v['status'] != 'Faulted':
                    break
                fault_since = v['ts']
            row = [c, n, last['status'], last['error_code'], last['ts'],
                fault_since]
            if all(v['status'] == 'Faulted' for v in values):
                continuing.append(row)
            else:
                fresh.append(row)
        Connector = self.pool.get('ev.charger.connector')
        connector = Connector.__table__()
        for rows_, keep_fault_start in ((fresh, False), (continuing, True)):
            if not rows_:
                continue
            if keep_fault_start:
                fault_since = Case(
                    ((connector.status == 'Faulted')
                        & (connector.fault_since != Null),
                        connector.fault_since),
                    else_=Excluded.fault_since)
            else:
                fault_since = Excluded.fault_since
            insert_rows(cursor, connector,
                [connector.charger, connector.number, connector.status,
                    connector.error_code, connector.status_at,
                    connector.fault_since],
                ['INTEGER', 'INTEGER', 'VARCHAR', 'VARCHAR', 'TIMESTAMP',
                    'TIMESTAMP'],
                rows_,
                on_conflict=Conflict(connector,
                    indexed_columns=[connector.charger, connector.number],
                    columns=[connector.status, connector.error_code,
                        connector.status_at, connector.fault_since,
                        connector.write_date],
                    values=[Excluded.status, Excluded.error_code,
                        Excluded.status_at, fault_since, CurrentTimestamp()],
                    where=(connector.status_at == Null)
                    | (connector.status_at <= Excluded.status_at)))

    def store_meters(self, cursor, rows, now):
        if not rows:
            return
        self.insert_history(cursor, 'ev.charger.meter',
            ['charger', 'connector', 'ts', 'energy_wh', 'power_w',
                'received_at'],
            ['INTEGER', 'INTEGER', 'TIMESTAMP', 'FLOAT', 'FLOAT',
                'TIMESTAMP'],
            [(c, m.values['connector'], m.values['ts'],
                    m.values['energy_wh'], m.values['power_w'], r)
                for c, m, _, _, r in rows])
        latest = {}
        for c, m, *_ in rows:
            key = (c, m.values['connector'])
            if key not in latest or latest[key]['ts'] < m.values['ts']:
                latest[key] = m.values
        Connector = self.pool.get('ev.charger.connector')
        connector = Connector.__table__()
        insert_rows(cursor, connector,
            [connector.charger, connector.number, connector.energy_wh,
                connector.power_w, connector.meter_at],
            ['INTEGER', 'INTEGER', 'FLOAT', 'FLOAT', 'TIMESTAMP'],
            [[c, n, v['energy_wh'], v['power_w'], v['ts']]
                for (c, n), v in sorted(latest.items())],
            on_conflict=Conflict(connector,
                indexed_columns=[connector.charger, connector.number],
                columns=[connector.energy_wh, connector.power_w,
                    connector.meter_at, connector.write_date],
                values=[
                    Coalesce(Excluded.energy_wh, connector.energy_wh),
                    Coalesce(Excluded.power_w, connector.power_w),
                    Excluded.meter_at, CurrentTimestamp()],
                where=(connector.meter_at == Null)
                | (connector.meter_at <= Excluded.meter_at)))

    def store_results(self, rows, now):
        "The dead letters of results matching no command of the charger"
        if not rows:
            return []
        Command = self.pool.get('ev.charger.command')
        rejected = Command.apply_results([
                (m.identity, m.values['id'], m.values['status'],
                    m.values['detail']) for c, m, *_ in rows], now=now)
        return [(rows[i][2], rows[i][3], reason, rows[i][4])
            for i, reason in rejected]

    def store_dead_letters(self, cursor, dead):
        if not dead:
            return
        DeadLetter = self.pool.get('ev.charger.dead_letter')
        table = DeadLetter.__table__()
        rows = []
        for topic, payload, reason, received_at in dead:
            if isinstance(payload, bytes):
                payload = payload.decode('utf-8', 'replace')
            identity = topic.split('/')[1] if topic.count('/') >= 2 else None
            # NUL cannot be stored in a PostgreSQL text
            rows.append([topic[:512], payload.replace('\x00', '\ufffd'),
                    reason.replace('\x00', '\ufffd'), received_at,
                    identity and identity[:128]])
        insert_rows(cursor, table,
            [table.topic, table.payload, table.reason, table.received_at,
                table.identity],
            ['VARCHAR', 'TEXT', 'TEXT', 'TIMESTAMP', 'VARCHAR'], rows)


def is_transient(exception):
    "Errors after which the same batch may succeed: connection, locks"
    from trytond import backend
    if isinstance(exception, (backend.DatabaseOperationalError,
                ConnectionError, TimeoutError)):
        return True
    # psycopg's connection errors and its pool's timeout
    name = type(exception).__name__
    return name in {'InterfaceError', 'PoolTimeout'}


class Writer:
    """The storing side of the service, in a process of its own: it takes
    the batches from the `batches` pipe, stores each in one transaction and
    answers on `results` with ('stored', number, stored, dead, seconds). It
    also evaluates the health of the chargers it has heard of, every
    command_poll. It ends at a ('stop',) or when the receiving process is
    gone (end of the pipe); a signal does not stop it halfway: the
    receiving process decides."""

    def __init__(self, database, batches, results, stopping):
        self.database = database
        self.batches = batches
        self.results = results
        self.stopping = stopping  # set by the receiving process
        self.store = None

    def run(self):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.store = Store(settings.open_pool(self.database))
        self.results.send(('ready',))
        period = settings.get('command_poll_ms') / 1000
        next_health = time.monotonic() + period
        while True:
            if self.batches.poll(max(next_health - time.monotonic(), 0)):
                try:
                    message = self.batches.recv()
                except EOFError:
                    break  # the receiving process is gone
                if message[0] == 'stop':
                    break
                _, number, received_at, items = message
                result = self.process(items, received_at)
                if result is None:  # stopping while the database is away
                    break
                self.results.send(('stored', number) + result)
            if time.monotonic() >= next_health:
                self.run_health()
                next_health = time.monotonic() + period
        self.run_health()

    def process(self, items, received_at):
        """Store a batch (retrying while the database is away); (stored,
        dead letters, seconds), or None when stopped before it could"""
        started = time.perf_counter()
        rows = [(topic, payload, received_at) for topic, payload in items]
        delay = 0.2
        while True:
            try:
                stored, dead = self.store_split(rows)
                return stored, dead, time.perf_counter() - started
            except Exception as exception:
                if not is_transient(exception):
                    raise
                if self.stopping.is_set():
                    return None
                logger.warning("database unavailable (%s); retry in %.1fs",
                    exception, delay)
                self.stopping.wait(delay)  # a stop cuts the wait short
                delay = min(delay * 2, 10)

    def store_split(self, rows):
        """Store rows in one transaction; when a non-transient error comes,
        store the halves apart so that one bad message becomes a dead
        letter and the others are kept"""
        try:
            return transaction(self.database,
                lambda: self.store.store(rows))
        except Exception as exception:
            if is_transient(exception):
                raise
            self.store.forget()
            if len(rows) == 1:
                (topic, payload, received_at), = rows
                logger.exception("message refused by the database: %s",
                    topic)
                reason = f"refused by the database: {exception}"
                return transaction(self.database, lambda: (
                        0, self.dead_letter(topic, payload, reason,
                            received_at)))
            middle = len(rows) // 2
            first = self.store_split(rows[:middle])
            second = self.store_split(rows[middle:])
            return first[0] + second[0], first[1] + second[1]

    def dead_letter(self, topic, payload, reason, received_at):
        from trytond.transaction import Transaction
        self.store.store_dead_letters(Transaction().connection.cursor(),
            [(topic, payload, reason, received_at)])
        return 1

    def run_health(self):
        run_periodic(self.database, self.store.evaluate_health,
            "evaluating the health")


def transaction(database, function):
    "`function()` in a committed transaction of the root user"
    from trytond.transaction import Transaction
    with Transaction().start(database, 0, context={
                '_skip_warnings': True}) as transaction:
        result = function()
        transaction.commit()
    return result


def run_periodic(database, function, what):
    "Run `function` in a transaction; a failure waits for the next time"
    try:
        transaction(database, function)
    except Exception as exception:
        if not is_transient(exception):
            logger.exception("%s failed", what)
        else:
            logger.warning("%s failed: %s", what, exception)


class IngestService:
    """The MQTT client, its batching loop and the command outbox.

    Receiving (paho's network thread) and storing are two processes: in
    one, paho's parsing of every packet and the storing of the batches
    would take turns on the one interpreter lock, and each wait for the
    database would give it back to paho for a switch interval. This process
    receives, hands the batches to the Writer process (at most
    `IN_FLIGHT` at a time) and acknowledges each batch's messages when the
    writer answers that it is committed; it publishes the commands."""

    # Batches handed to the writer and not yet committed: one being stored,
    # one waiting; receive_maximum should cover one more being received
    IN_FLIGHT = 2

    def __init__(self, database, client_id=None, shared_group=None):
        self.database = database
        self.client_id = client_id or settings.get('ingest_client_id')
        self.shared_group = (shared_group if shared_group is not None
            else settings.get('shared_group'))
        self.batch_size = settings.get('batch_size')
        self.batch_delay = settings.get('batch_delay_ms') / 1000
        self.command_poll = settings.get('command_poll_ms') / 1000
        # Filled by paho's thread, emptied by the loop (deque is
        # thread-safe): no lock per message
        self.inbox = deque()
        self.batch_ready = threading.Event()
        self.connected = threading.Event()
        self.stopping = threading.Event()
        self.stats = Stats()
        self.client = None
        self.pool = None
        self.writer = None
        # number → the (mid, qos) of a batch handed to the writer
        self.in_flight = {}
        self.slots = threading.Semaphore(self.IN_FLIGHT)
        self.numbers = itertools.count(1)
        self.failed = False

    # -- MQTT --------------------------------------------------------------

    def make_client(self):
        from paho.mqtt.client import CallbackAPIVersion, Client, MQTTv5
        client = Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id, protocol=MQTTv5)
        configure_client(client)
        client.manual_ack_set(True)
        client.on_connect = self.on_connect
        client.on_disconnect = self.on_disconnect
        client.on_message = self.on_message
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        return client

    def topics(self):
        prefix = f'$share/{self.shared_group}/' if self.shared_group else ''
        return [f'{prefix}{contract.TOPIC_PREFIX}/+/{kind}'
            for kind in contract.INGESTED]

    def on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            logger.warning("broker refused the connection: %s", reason_code)
            return
        from paho.mqtt.subscribeoptions import SubscribeOptions
        # Messages of the former connection not yet stored come again
        self.inbox.clear()
        client.subscribe([(t, SubscribeOptions(qos=1))
                for t in self.topics()])
        self.connected.set()
        logger.info("connected to the broker session_present=%s topics=%s",
            flags.session_present, self.topics())

    def on_disconnect(self, client, userdata, flags, reason_code,
            properties):
        self.connected.clear()
        if not self.stopping.is_set():
            logger.warning("disconnected from the broker: %s; reconnecting",
                reason_code)

    def on_message(self, client, userdata, message):
        self.inbox.append((message.mid, message.qos, message.topic,
                message.payload))
        if len(self.inbox) >= self.batch_size:
            self.batch_ready.set()

    # -- writer ------------------------------------------------------------

    def start_writer(self):
        """Fork the writer before any thread or database connection
        exists here (a fork copies neither threads nor locks safely)"""
        import multiprocessing
        context = multiprocessing.get_context('fork')
        batches_in, self.batches = context.Pipe(duplex=False)
        self.results, results_out = context.Pipe(duplex=False)
        self.writer_stopping = context.Event()
        writer = Writer(self.database, batches_in, results_out,
            self.writer_stopping)
        self.writer = context.Process(target=self._writer_main,
            args=(writer,), name='ev-ingest-writer', daemon=True)
        self.writer.start()
        # Only the writer holds its ends: when it dies, the pipe ends
        batches_in.close()
        results_out.close()
        if not self.results.poll(300):
            raise RuntimeError("the writer process did not start")
        try:
            ready = self.results.recv()
        except EOFError:
            raise RuntimeError("the writer process failed to start")
        assert ready == ('ready',), ready
        logger.info("writer process started pid=%s", self.writer.pid)

    def _writer_main(self, writer):
        # The fork's copies of this process's ends: once closed, the
        # writer sees the end of the pipe when this process dies
        self.batches.close()
        self.results.close()
        writer.run()

    def submit(self, batch):
        "Hand `batch` to the writer once a slot is free"
        while not self.slots.acquire(timeout=self.command_poll):
            if self.stopping.is_set():
                return  # not acknowledged: delivered again next time
        number = next(self.numbers)
        self.in_flight[number] = [(mid, qos) for mid, qos, _, _ in batch]
        try:
            self.batches.send(('store', number, datetime.datetime.now(),
                    [(topic, payload) for _, _, topic, payload in batch]))
        except (BrokenPipeError, OSError):
            self.in_flight.pop(number, None)
            self.slots.release()
            self.writer_gone()

    def read_results(self):
        "The writer's answers (a thread): acknowledge the committed batches"
        while True:
            try:
                message = self.results.recv()
            except (EOFError, OSError):
                if not self.stopping.is_set() or self.in_flight:
                    self.writer_gone()
                return
            _, number, stored, dead, store_time = message
            started = time.perf_counter()
            for mid, qos in self.in_flight.pop(number, ()):
                # After a reconnection the broker sends the unacknowledged
                # messages again with their packet ids (MQTT 5 session
                # resumption): acknowledging a former one acknowledges its
                # copy
                if qos:
                    self.client.ack(mid, qos)
            self.slots.release()
            self.stats.add(stored + dead, stored, dead, store_time,
                time.perf_counter() - started)

    def writer_gone(self):
        if not self.stopping.is_set():
            logger.error("the writer process ended (exit code %s); "
                "stopping", self.writer.exitcode if self.writer else None)
            self.failed = True
            self.stop()

    # -- loop --------------------------------------------------------------

    def run(self):
        self.start_writer()
        self.pool = settings.open_pool(self.database)
        reader = threading.Thread(target=self.read_results,
            name='ev-ingest-results', daemon=True)
        reader.start()
        self.client = self.make_client()
        self.client.connect_async(
            settings.get('mqtt_host'), settings.get('mqtt_port'),
            keepalive=settings.get('mqtt_keepalive'), clean_start=False,
            properties=connect_properties())
        self.client.loop_start()
        logger.info("ingestion started database=%s client_id=%s",
            self.database, self.client_id)
        next_commands = 0
        try:
            while not self.stopping.is_set():
                batch = self.next_batch()
                if batch:
                    self.submit(batch)
                if time.monotonic() >= next_commands:
                    self.run_commands()
                    next_commands = time.monotonic() + self.command_poll
        finally:
            self.finish(reader)
        return not self.failed

    def finish(self, reader):
        """Let the writer commit what it has (unless the database is away),
        acknowledge it, then leave the broker"""
        self.writer_stopping.set()
        try:
            self.batches.send(('stop',))
        except (BrokenPipeError, OSError):
            pass
        self.writer.join(timeout=60)
        if self.writer.is_alive():
            self.writer.kill()
        reader.join(timeout=10)
        # Let paho's thread send the last acknowledgements first: the
        # broker would deliver those messages again at the next start
        deadline = time.monotonic() + 5
        while self.client.want_write() and time.monotonic() < deadline:
            time.sleep(0.01)
        self.client.disconnect()
        self.client.loop_stop()
        logger.info("ingestion stopped stored=%s dead_letters=%s",
            self.stats.stored, self.stats.dead)

    def stop(self, *args):
        self.stopping.set()
        self.batch_ready.set()

    def next_batch(self):
        "Up to batch_size messages, waiting at most batch_delay"
        deadline = time.monotonic() + self.batch_delay
        while (len(self.inbox) < self.batch_size
                and not self.stopping.is_set()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.batch_ready.wait(min(remaining, self.command_poll))
            self.batch_ready.clear()
        batch = []
        while self.inbox and len(batch) < self.batch_size:
            batch.append(self.inbox.popleft())
        return batch

    def run_commands(self):
        "Publish the pending commands (an outbox) and time out the old ones"
        if self.connected.is_set():
            run_periodic(self.database, self.publish_pending,
                "publishing the commands")

    def publish_pending(self):
        Command = self.pool.get('ev.charger.command')
        Command.time_out()
        commands = Command.claim_pending(100)
        infos = []
        for command in commands:
            infos.append(self.client.publish(
                    contract.topic(command.charger.identity, 'cmd'),
                    json.dumps(command.payload()), qos=1))
        for info in infos:
            info.wait_for_publish(timeout=5)
            if not info.is_published():
                # The transaction rolls back: they stay pending
                raise ConnectionError("command not acknowledged by broker")
        if commands:
            logger.info("published %s commands", len(commands))


def configure_client(client):
    "TLS and credentials of [ev_charger_iot], shared with the gateway"
    if settings.get('mqtt_username'):
        client.username_pw_set(
            settings.get('mqtt_username'),
            settings.get('mqtt_password') or None)
    if settings.get('mqtt_tls'):
        client.tls_set(
            ca_certs=settings.get('mqtt_ca_certs') or None,
            certfile=settings.get('mqtt_certfile') or None,
            keyfile=settings.get('mqtt_keyfile') or None)


def connect_properties():
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    properties = Properties(PacketTypes.CONNECT)
    # The broker keeps the subscriptions and the unacknowledged messages
    # while the service is away (restart, crash) for this long
    properties.SessionExpiryInterval = settings.get('session_expiry')
    # How many unacknowledged messages the broker may send: a batch is
    # acknowledged after its commit, so this bounds the batch size
    properties.ReceiveMaximum = settings.get('receive_maximum')
    return properties


def main(argv=None):
    def add_arguments(parser):
        parser.add_argument('--client-id', help="MQTT client id "
            "(default [ev_charger_iot] ingest_client_id)")
        parser.add_argument('--shared-group', help="share the stream with "
            "the other processes of this group (MQTT 5 shared "
            "subscription)")
    options = settings.service_options('ingest', __doc__, argv,
        add_arguments)
    service = IngestService(options.database, client_id=options.client_id,
        shared_group=options.shared_group)
    signal.signal(signal.SIGTERM, service.stop)
    signal.signal(signal.SIGINT, service.stop)
    if not service.run():
        sys.exit(1)


if __name__ == '__main__':
    main()
