# This file is part of the EV operations suite.
"""The inbound half of the WhatsApp messages: what the webhook stores, and
the requests of the inbox they open.

The webhook answers Meta as soon as the messages are stored: one INSERT ...
ON CONFLICT (wamid) DO NOTHING per notification, so that concurrent
deliveries of one message store it once without aborting anyone's
transaction. The new messages wait with `request_state` pending; the
customer lookup, the classification and the routing run afterwards, in
batches, from Tryton's task queue (`open_pending`):

- with a queue worker (`[queue] worker = True`, production), one task opens
  every message pending when it runs; a webhook pushes a task only when none
  is scheduled far enough ahead to see its commit, so a burst of thousands
  of messages costs a few tasks (`whatsapp_batch_delay` seconds apart);
- without a worker, the task runs in the webhook's own request after its
  commit, as Tryton runs queued tasks;
- the cron `open_pending_requests` opens whatever was left (a worker that
  was down)."""
import datetime as dt

from sql import Conflict, Literal, Null
from sql.functions import CurrentTimestamp

import trytond.config as config
from trytond.model import Index, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from .whatsapp import REPLY_STATES, TYPES

REQUEST_STATES = [
    (None, ''),
    ('pending', "Pending"),
    ('opened', "Opened"),
    ]
QUEUE_NAME = 'ev_helpdesk_whatsapp'
# The messages one transaction of the task opens before the next one
BATCH = 200
# The columns of a message parsed from the webhook
_PARSED = ['wamid', 'wa_id', 'profile_name', 'type', 'text', 'caption',
    'media_id', 'mime_type', 'filename', 'media_sha256', 'timestamp']


class NoCompany(Exception):
    "No company to receive the WhatsApp messages in"


def _batch_delay():
    return dt.timedelta(seconds=config.getfloat(
            'ev_helpdesk', 'whatsapp_batch_delay', default=1))


class Message(metaclass=PoolMeta):
    __name__ = 'ev.helpdesk.whatsapp.message'

    request_state = fields.Selection(REQUEST_STATES, "Request State",
        readonly=True,
        help="Pending while the inbound message waits for its request of "
        "the inbox to be opened.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.id, Index.Range()),
                where=t.request_state == 'pending'))

    @classmethod
    def intake(cls, messages, statuses, company=None):
        """Store the messages and statuses parsed from a webhook
        (whatsapp_routes.parse_notification) that are not stored yet, in
        `company` (by default the configuration's); queue the opening of
        their requests and the fetch of their media. Returns the number of
        new messages and of new statuses."""
        Status = Pool().get('ev.helpdesk.whatsapp.status')
        created = cls._intake_messages(messages, company)
        new_statuses = Status.intake(statuses)
        return len(created), len(new_statuses)

    @classmethod
    def _intake_messages(cls, messages, company=None):
        "Insert the messages not stored yet; the ids of the new ones"
        pool = Pool()
        Configuration = pool.get('ev.helpdesk.configuration')
        Task = pool.get('ev.helpdesk.whatsapp.task')
        transaction = Transaction()
        database = transaction.database
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        unique = {}
        for values in messages:
            unique.setdefault(values['wamid'], values)
        if not unique:
            return []
        returning = database.has_returning()
        if not returning:
            cursor.execute(*table.select(table.wamid,
                    where=table.wamid.in_(list(unique))))
            for wamid, in cursor:
                del unique[wamid]
            if not unique:
                return []
        if company is None:
            company = Configuration(1).get_whatsapp_company()
        if not company:
            raise NoCompany()
        columns = [getattr(table, c) for c in _PARSED] + [
            table.company, table.direction, table.status, table.phone,
            table.media_state, table.request_state, table.create_uid,
            table.create_date]
        rows = []
        for values in unique.values():
            rows.append([values.get(c) for c in _PARSED] + [
                    int(company), 'in', 'received', '+' + values['wa_id'],
                    'pending' if values.get('media_id') else None,
                    'pending' if values['type'] != 'other' else None,
                    transaction.user, CurrentTimestamp()])
        # The unique constraint on wamid is the gate of concurrent
        # deliveries: the later insert waits for the first one's commit and
        # then inserts nothing
        insert = table.insert(columns, rows,
            on_conflict=Conflict(table, indexed_columns=[table.wamid]))
        if returning:
            insert.returning = [table.id, table.wamid]
            cursor.execute(*insert)
        else:
            cursor.execute(*insert)
            cursor.execute(*table.select(table.id, table.wamid,
                    where=table.wamid.in_(list(unique))))
        created = {wamid: id_ for id_, wamid in cursor}
        if not created:
            return []
        # What the webhook asks of the queue, from the values inserted:
        # reading the new records back costs more than the insert
        media = [i for w, i in created.items() if unique[w].get('media_id')]
        if media:
            Task.enqueue([Task(kind='media', message=i) for i in media])
        if any(unique[w]['type'] != 'other' for w in created):
            cls._queue_opening(list(created.values()))
        return list(created.values())

    @classmethod
    def _queue_opening(cls, message_ids):
        """Ask the task queue to open the pending requests, unless a task
        scheduled late enough to see this transaction's commit will"""
        pool = Pool()
        Queue = pool.get('ir.queue')
        transaction = Transaction()
        delay = _batch_delay()
        if config.getboolean('queue', 'worker', default=False):
            queue = Queue.__table__()
            cursor = transaction.connection.cursor()
            cursor.execute(*queue.select(Literal(1),
                    where=(queue.name == QUEUE_NAME)
                    & (queue.dequeued_at == Null)
                    & (queue.scheduled_at > dt.datetime.now() + delay / 2),
                    limit=1))
            if cursor.fetchone():
                return
        with transaction.set_context(
                queue_name=QUEUE_NAME, queue_scheduled_at=delay):
            cls.__queue__.open_pending(message_ids)

    @classmethod
    def open_pending(cls, messages=None):
        """Open the requests of the messages pending (the task of the
        queue: `messages` are those that pushed it; every pending one is
        opened)"""
        cls.open_pending_requests()

    @classmethod
    def open_pending_requests(cls):
        """Open the requests of every pending inbound message, in batches,
        skipping those another transaction holds (the cron behind the
        queue)"""
        transaction = Transaction()
        database = transaction.database
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        select_for = database.has_select_for()
        if not select_for:
            # SQLite: a write first takes the database's lock (BEGIN
            # IMMEDIATE), so that the pending rows read next are those no
            # other transaction is opening
            cursor.execute(*table.update([table.request_state], ['pending'],
                    where=table.request_state == 'pending'))
        while True:
            query = table.select(table.id,
                where=table.request_state == 'pending',
                order_by=[table.id.asc], limit=BATCH)
            if select_for:
                For = database.get_select_for_skip_locked()
                query.for_ = For('UPDATE')
            cursor.execute(*query)
            ids = [i for i, in cursor]
            if not ids:
                break
            cls._open_batch(cls.browse(ids))

    @classmethod
    def _open_batch(cls, messages):
        "Look the customers up and open the messages' requests"
        Party = Pool().get('party.party')
        parties = {}
        for message in messages:
            if message.wa_id not in parties:
                phone = (Party.normalize_phone('+' + message.wa_id)
                    or '+' + message.wa_id)
                parties[message.wa_id] = (
                    phone, Party.find_customer(phone=phone))
            message.phone, message.party = parties[message.wa_id]
            message.request_state = 'opened'
        cls.open_requests(messages)
        cls.save(messages)

    def replied_ticket(self):
        "The customer's latest ticket this message may answer, if any"
        Ticket = Pool().get('ev.helpdesk.ticket')
        who = [('phone', '=', self.phone)]
        if self.party:
            who = ['OR', ('party', '=', self.party.id)] + who
        tickets = Ticket.search([('state', 'in', REPLY_STATES), who],
            order=[('opened_at', 'DESC'), ('id', 'DESC')], limit=1)
        return tickets[0] if tickets else None

    def request_text(self):
        text = self.text or self.caption
        if not text:
            text = f"[{self.type_string()}]"
        return text

    def type_string(self):
        return dict(TYPES).get(self.type, self.type)

    @classmethod
    def open_requests(cls, messages):
        """A request of the inbox for each new inbound message (set on
        the messages, saved by the caller): on the ticket the customer
        answers when it waits or was resolved within the reopen hours,
        otherwise a new one for triage"""
        pool = Pool()
        Request = pool.get('ev.helpdesk.request')
        Ticket = pool.get('ev.helpdesk.ticket')
        messages = [m for m in messages
            if m.direction == 'in' and m.type != 'other']
        vlist = []
        tickets = []
        for message in messages:
            values = {
                'company': message.company.id,
                'channel': 'whatsapp',
                'received_at': message.timestamp,
                'sender': message.phone,
                'party': message.party.id if message.party else None,
                'text': message.request_text(),
                }
            ticket = message.replied_ticket()
            if ticket and not Ticket.customer_replied(
                    [ticket], at=message.timestamp):
                values.update({
                        'ticket': ticket.id,
                        'state': 'ticket',
                        'department': (ticket.department.id
                            if ticket.department else None),
                        'agent': ticket.agent.id if ticket.agent else None,
                        })
            else:
                ticket = None
            tickets.append(ticket)
            vlist.append(values)
        if not vlist:
            return []
        requests = Request.receive(vlist)
        for message, request, ticket in zip(messages, requests, tickets):
            message.request = request
            message.ticket = ticket
        return requests
