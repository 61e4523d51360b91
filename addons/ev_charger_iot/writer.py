# This file is part of the EV operations suite.
"""The storing side of the ingestion service: the Writer process takes the
batches of received messages, stores each in one transaction (the storing
rules are the models': `store_batch` of each telemetry model, see
telemetry.py) and answers when it is committed, for the receiving process
to acknowledge them (see ingest.py).

A database that refuses or drops the connections is noticed within
[ev_charger_iot] database_timeout seconds (the pool's wait and the
connection timeout), said in the log (`database unavailable: ...`, then
`database back`) and the batch is retried with a backoff until it is
stored."""
import datetime
import logging
import signal
import time

from . import contract, settings
from .bulk import invalidate_cache, tune_for_bulk

logger = logging.getLogger('ev_charger_iot.ingest')

# The model whose store_batch stores each kind of message
MODELS = {
    'boot': 'ev.charger.boot',
    'heartbeat': 'ev.charger.heartbeat',
    'status': 'ev.charger.status',
    'meter': 'ev.charger.meter',
    }


class Store:
    """Writes batches of received messages, in the transaction of the
    caller. Keeps an identity → charger id cache."""

    def __init__(self, pool):
        self.pool = pool
        self.charger_ids = {}
        # Chargers with new messages, for the next health evaluation
        self.touched = set()

    def forget(self):
        self.charger_ids.clear()

    def resolve(self, identities):
        from trytond.transaction import Transaction
        Charger = self.pool.get('ev.charger')
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
        """Store `messages`, a list of (topic, payload bytes, received_at)
        in order of arrival; returns (stored, dead letters) counts"""
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
        for kind, model in MODELS.items():
            if by_kind[kind]:
                self.pool.get(model).store_batch(
                    [(c, m.values, r) for c, m, _, _, r in by_kind[kind]],
                    now)
        dead.extend(self.store_results(by_kind['cmd/result'], now))
        self.pool.get('ev.charger.dead_letter').store_batch(dead)
        invalidate_cache('ev.charger', 'ev.charger.connector')
        self.touched.update(row[0] for rows in by_kind.values()
            for row in rows)
        return len(messages) - len(dead), len(dead)

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

    def evaluate_health(self):
        """The health rules over the chargers heard of since the last call
        (the cron evaluates every charger, once a minute). The one place
        where the writer reaches the alerts (Charger.evaluate_health opens
        and closes them, with their notifications)."""
        touched, self.touched = self.touched, set()
        if touched:
            try:
                Charger = self.pool.get('ev.charger')
                Charger.evaluate_health(chargers=sorted(touched))
            except Exception:
                self.touched |= touched
                raise


# -- the database connection -------------------------------------------------

def is_transient(exception):
    "Errors after which the same batch may succeed: connection, locks"
    from trytond import backend
    if isinstance(exception, (backend.DatabaseOperationalError,
                ConnectionError, TimeoutError)):
        return True
    # psycopg's connection errors and its pool's timeout
    name = type(exception).__name__
    return name in {'InterfaceError', 'PoolTimeout'}


def is_unavailable(exception):
    """Whether the database refused or dropped the connection (rather than
    a lock or serialization conflict, also transient)"""
    if not is_transient(exception):
        return False
    sqlstate = getattr(exception, 'sqlstate', None)
    # 08: connection exception; 57P: operator intervention (terminated,
    # shutting down, cannot connect now)
    return not sqlstate or sqlstate.startswith(('08', '57P'))


def prepare_database(name):
    """The trytond database `name` with short waits: a connection asked of
    the pool waits at most database_timeout seconds (psycopg's pool waits
    30 s by default) and so does each connection attempt"""
    from trytond import backend
    pool = getattr(backend.Database(name), '_connpool', None)
    if pool is not None:  # PostgreSQL
        timeout = settings.get('database_timeout')
        pool.timeout = timeout
        pool.kwargs['connect_timeout'] = max(int(timeout), 2)


def forget_connections(name):
    """Close the pool of `name` after the database went away: its own
    reconnection attempts back off for minutes, a new pool connects at
    once when the database is back"""
    from trytond import backend
    if backend.name == 'postgresql':
        try:
            backend.Database(name).close()
        except Exception:
            logger.debug("closing the connections of %s", name,
                exc_info=True)


def transaction(database, function):
    "`function()` in a committed transaction of the root user"
    from trytond.transaction import Transaction
    prepare_database(database)
    try:
        with Transaction().start(database, 0, context={
                    '_skip_warnings': True}) as transaction:
            result = function()
            transaction.commit()
    except Exception as exception:
        if is_unavailable(exception):
            forget_connections(database)
        raise
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
        self.unavailable_since = None

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
            except Exception as exception:
                if not is_transient(exception):
                    raise
                if self.stopping.is_set():
                    return None
                self.wait_database(exception, delay)
                delay = min(delay * 2, 5)
                continue
            if self.unavailable_since is not None:
                logger.warning("database back after %.1fs",
                    time.monotonic() - self.unavailable_since)
                self.unavailable_since = None
            return stored, dead, time.perf_counter() - started

    def wait_database(self, exception, delay):
        reason = str(exception).strip() or type(exception).__name__
        if is_unavailable(exception):
            if self.unavailable_since is None:
                self.unavailable_since = time.monotonic()
            logger.warning("database unavailable: %s; retry in %.1fs",
                reason, delay)
        else:
            logger.warning("database conflict: %s; retry in %.1fs",
                reason, delay)
        self.stopping.wait(delay)  # a stop cuts the wait short

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
        self.store.pool.get('ev.charger.dead_letter').store_batch(
            [(topic, payload, reason, received_at)])
        return 1

    def run_health(self):
        run_periodic(self.database, self.store.evaluate_health,
            "evaluating the health")
