# This file is part of the EV operations suite.
"""The ingestion service: the MQTT contract (see contract.py) into the
database, at least once and idempotently.

    ev-ingest -c tryton.conf -d <db>
    (or python -m trytond.modules.ev_charger_iot.ingest -c ... -d ...)

One MQTT 5 client with a persistent session (clean_start=False and a
session expiry) and manual acknowledgements: the messages are stored in
batches, one transaction each, and a message is acknowledged only after its
batch is committed. The service forks a writer process at its start: this
one receives and acknowledges, the writer stores (see writer.py; the
storing rules of each topic are the models', telemetry.py). A crash loses
nothing: the broker delivers the unacknowledged messages again and the unique keys of the tables make the
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

from . import contract, mqtt, settings
from .writer import Writer, run_periodic

logger = logging.getLogger('ev_charger_iot.ingest')


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
        client = mqtt.make_client(self.client_id, manual_ack=True)
        client.on_connect = self.on_connect
        client.on_disconnect = self.on_disconnect
        client.on_message = self.on_message
        return client

    def topics(self):
        return mqtt.ingested_topics(self.shared_group)

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

    def wait_writer(self):
        "Wait for the writer to have loaded its pool"
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
        # Both processes load their pool at once: a restart is back sooner
        self.pool = settings.open_pool(self.database)
        self.wait_writer()
        reader = threading.Thread(target=self.read_results,
            name='ev-ingest-results', daemon=True)
        reader.start()
        self.client = self.make_client()
        mqtt.connect(self.client, session=True)
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
