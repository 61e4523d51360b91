# This file is part of the EV operations suite.
"""The outbox: deliver something later, retry with backoff, give up after N
attempts, keep every attempt, let an operator retry — exactly once even when
several cron and worker processes run.

A model that sends something outside (a customer email, an OEM webhook, an
alert email...) inherits `OutboxMixin` and implements `outbox_deliver`:

    class Webhook(OutboxMixin, ModelSQL, ModelView):
        _outbox_max_attempts = ('ev_lead', 'webhook_max_attempts', 10)
        _outbox_retry_delay = ('ev_lead', 'webhook_retry_delay', 30)

        def outbox_deliver(self):
            ...  # raise on failure (OutboxError carries an HTTP status)

`Model.enqueue(items)` saves them and asks Tryton's task queue to deliver
them after the commit; the cron `deliver_due` picks up what is due (retries,
and what a lost task left). Both go through `_deliver_ids`, which first
claims the items in the database: on PostgreSQL with `SELECT ... FOR UPDATE
SKIP LOCKED` (a concurrent process skips what another one is delivering), on
SQLite by taking the database's write lock before reading their state.
The claim, the delivery and its result are one transaction: an item is never
delivered by two processes, and a crash before the commit only means a new
attempt later (receivers get an idempotency key: Message-ID, event id).
"""
import datetime
import logging
import time

import trytond.config as config
from trytond import backend
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .immutable import ImmutableMixin
from .timestamp import Timestamp

logger = logging.getLogger(__name__)

OUTBOX_STATES = [
    ('pending', "Pending"),
    ('sent', "Sent"),
    ('failed', "Failed"),
    ]


class OutboxError(Exception):
    "A failed delivery; `status_code` is the answer's HTTP status, if any"

    def __init__(self, message, status_code=None):
        super().__init__(message)
        self.status_code = status_code


class OutboxMixin:
    __slots__ = ()
    # (section, option, default) of the configuration
    _outbox_max_attempts = ('ev_station', 'outbox_max_attempts', 5)
    _outbox_retry_delay = ('ev_station', 'outbox_retry_delay', 60)
    _outbox_max_delay = 3600
    # How many items one cron run delivers at most
    _outbox_batch = 100

    state = fields.Selection(
        OUTBOX_STATES, "State", required=True, readonly=True, sort=False)
    attempt_count = fields.Integer("Attempts", readonly=True)
    attempts = fields.One2Many(
        'ev.outbox.attempt', 'item', "Attempts", readonly=True)
    last_attempt_at = Timestamp("Last Attempt At", readonly=True)
    last_error = fields.Text("Last Error", readonly=True)
    next_attempt_at = Timestamp("Next Attempt At", readonly=True)
    sent_at = Timestamp("Sent At", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.next_attempt_at, Index.Range()),
                where=t.state == 'pending'))
        cls._buttons.update({
                'retry': {
                    'invisible': Eval('state') != 'failed',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'pending'

    @classmethod
    def default_attempt_count(cls):
        return 0

    @classmethod
    def default_next_attempt_at(cls):
        return datetime.datetime.now()

    @classmethod
    def _outbox_setting(cls, setting):
        section, option, default = setting
        return config.getint(section, option, default=default)

    def outbox_deliver(self):
        """Deliver the item; raise to fail. May return a dictionary: its keys
        that are fields are stored on the item, and all of it is given to
        outbox_sent."""
        raise NotImplementedError

    def outbox_sent(self, result):
        "Called in the delivering transaction once the item is sent"

    @classmethod
    def enqueue(cls, items):
        "Save the items and deliver them through the task queue"
        cls.save(items)
        if items:
            cls.__queue__.deliver(items)
        return items

    @classmethod
    def deliver(cls, items):
        "Deliver the items that are pending and due (a task of the queue)"
        cls._deliver_ids([i.id for i in items])

    @classmethod
    def deliver_due(cls):
        "Cron: deliver the pending items whose next attempt is due"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id,
                where=cls._outbox_due(table),
                order_by=[table.next_attempt_at.asc, table.id.asc],
                limit=cls._outbox_batch))
        return cls._deliver_ids([i for i, in cursor])

    @classmethod
    def _outbox_due(cls, table):
        return ((table.state == 'pending')
            & (table.next_attempt_at <= datetime.datetime.now()))

    @classmethod
    def _outbox_claim(cls, ids):
        """Lock the pending, due items among ids for this transaction and
        return their ids; the ones another process holds are skipped"""
        transaction = Transaction()
        database = transaction.database
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        claimed = []
        for sub_ids in grouped_slice(sorted(set(ids)), count=1000):
            where = (fields.SQL_OPERATORS['in'](table.id, sub_ids)
                & cls._outbox_due(table))
            if backend.name == 'sqlite':
                # A write takes SQLite's database lock: no other process can
                # deliver (nor commit) until this transaction ends, and what
                # it reads next is the last committed state.
                cursor.execute(*table.update(
                        [table.state], [table.state], where=where))
            query = table.select(table.id, where=where,
                order_by=[table.id.asc])
            if database.has_select_for():
                For = database.get_select_for_skip_locked()
                query.for_ = For('UPDATE')
            cursor.execute(*query)
            claimed.extend(i for i, in cursor)
        return claimed

    @classmethod
    @without_check_access
    def _deliver_ids(cls, ids):
        pool = Pool()
        Attempt = pool.get('ev.outbox.attempt')
        claimed = cls._outbox_claim(ids)
        if not claimed:
            return []
        max_attempts = cls._outbox_setting(cls._outbox_max_attempts)
        delay = cls._outbox_setting(cls._outbox_retry_delay)
        sent = []
        for item in cls.browse(claimed):
            number = (item.attempt_count or 0) + 1
            started = time.monotonic()
            at = datetime.datetime.now()
            try:
                values = item.outbox_deliver() or {}
            except Exception as exception:
                error = str(exception) or repr(exception)
                status_code = getattr(exception, 'status_code', None)
                values = None
            else:
                error, status_code = None, values.get('status_code')
            duration = int((time.monotonic() - started) * 1000)
            Attempt.create([{
                        'item': str(item),
                        'at': at,
                        'success': error is None,
                        'status_code': status_code,
                        'error': error,
                        'duration_ms': duration,
                        }])
            now = datetime.datetime.now()
            result = {
                'attempt_count': number,
                'last_attempt_at': at,
                'last_error': error,
                }
            if error is None:
                result.update(
                    {k: v for k, v in values.items()
                        if k in cls._fields and k != 'status_code'},
                    state='sent', sent_at=now, next_attempt_at=None)
            elif number >= max_attempts:
                result.update(state='failed', next_attempt_at=None)
                logger.warning("%s %s gave up after %s attempts: %s",
                    cls.__name__, item.id, number, error)
            else:
                backoff = min(delay * 2 ** (number - 1), cls._outbox_max_delay)
                result['next_attempt_at'] = now + datetime.timedelta(
                    seconds=backoff)
                logger.info("%s %s failed (attempt %s), retry in %ss: %s",
                    cls.__name__, item.id, number, backoff, error)
            cls.write([item], result)
            if error is None:
                item.outbox_sent(values)
                sent.append(item)
        return sent

    @classmethod
    @ModelView.button
    def retry(cls, items):
        "Give the failed items a new series of attempts"
        failed = [i for i in items if i.state == 'failed']
        with without_check_access():
            cls.write(failed, {
                    'state': 'pending',
                    'attempt_count': 0,
                    'next_attempt_at': datetime.datetime.now(),
                    })
        if failed:
            cls.__queue__.deliver(failed)


class Attempt(ImmutableMixin, ModelSQL, ModelView):
    "One attempt to deliver an item of an outbox"
    __name__ = 'ev.outbox.attempt'
    __string__ = "Delivery Attempt"

    item = fields.Reference(
        "Item", selection='get_models', required=True, readonly=True)
    at = Timestamp("At", readonly=True)
    success = fields.Boolean("Success", readonly=True)
    status_code = fields.Integer("Status Code", readonly=True)
    error = fields.Text("Error", readonly=True)
    duration_ms = fields.Integer("Duration (ms)", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.item, Index.Equality())))
        cls._order = [('at', 'DESC'), ('id', 'DESC')]

    @classmethod
    def get_models(cls):
        Model = Pool().get('ir.model')
        return Model.get_name_items(OutboxMixin)
