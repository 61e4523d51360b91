# This file is part of the EV operations suite.
"Status webhooks to the OEMs, with their delivery log"
import datetime
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
import uuid

import trytond.config as config
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.rpc import RPC
from trytond.transaction import without_check_access

logger = logging.getLogger(__name__)


def _setting(name, default):
    return config.getint('ev_lead', name, default=default)


def signature(secret, body):
    "The X-EV-Signature header of a body"
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f'sha256={digest}'


class Webhook(ModelSQL, ModelView):
    "A status change of a lead, to be delivered to its OEM"
    __name__ = 'ev.lead.webhook'
    __string__ = "OEM Webhook"

    event_id = fields.Char("Event ID", required=True, readonly=True)
    oem = fields.Many2One(
        'party.party', "OEM", required=True, readonly=True,
        ondelete='RESTRICT')
    lead = fields.Many2One(
        'sale.opportunity', "Lead", required=True, readonly=True,
        ondelete='RESTRICT')
    url = fields.Char("URL", required=True, readonly=True)
    body = fields.Text("Body", required=True, readonly=True)
    state = fields.Selection([
            ('pending', "Pending"),
            ('delivered', "Delivered"),
            ('failed', "Failed"),
            ], "State", required=True, readonly=True, sort=False)
    next_attempt_at = fields.Timestamp("Next Attempt At", readonly=True)
    delivered_at = fields.Timestamp("Delivered At", readonly=True)
    attempts = fields.One2Many(
        'ev.lead.webhook.attempt', 'webhook', "Attempts", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('event_id_unique', Unique(t, t.event_id),
                'ev_lead.msg_webhook_event_unique'),
            ]
        cls._sql_indexes.add(
            Index(t, (t.next_attempt_at, Index.Range()),
                where=t.state == 'pending'))
        cls._order = [('id', 'DESC')]
        cls.__rpc__.update({
                'send_due': RPC(readonly=False),
                })
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
    def enqueue(cls, leads):
        "One webhook per lead whose OEM has a URL, sent by the task queue"
        now = datetime.datetime.now()
        webhooks = []
        for lead in leads:
            oem = lead.oem
            if not oem or not oem.ev_webhook_url:
                continue
            event_id = str(uuid.uuid4())
            body = json.dumps({
                    'event_id': event_id,
                    'oem_reference': lead.oem_reference,
                    'status': lead.oem_status,
                    'occurred_at': now.replace(microsecond=0).isoformat()
                    + 'Z',
                    }, sort_keys=True)
            webhooks.append(cls(
                    event_id=event_id, oem=oem, lead=lead,
                    url=oem.ev_webhook_url, body=body, next_attempt_at=now))
        cls.save(webhooks)
        if webhooks:
            cls.__queue__.send(webhooks)
        return webhooks

    @classmethod
    @without_check_access
    def send(cls, webhooks):
        "Attempt the pending ones; keep every attempt in the log"
        pool = Pool()
        Attempt = pool.get('ev.lead.webhook.attempt')
        max_attempts = _setting('webhook_max_attempts', 10)
        delay = _setting('webhook_retry_delay', 30)
        timeout = _setting('webhook_timeout', 10)
        for webhook in cls.browse(webhooks):
            # Read again: another task may have delivered it meanwhile
            if webhook.state != 'pending':
                continue
            cls.write([webhook], {'next_attempt_at': None})  # claim the row
            body = webhook.body.encode()
            request = urllib.request.Request(
                webhook.url, data=body, method='POST', headers={
                    'Content-Type': 'application/json',
                    'X-EV-Signature': signature(
                        webhook.oem.ev_webhook_secret or '', body),
                    'X-EV-Event-ID': webhook.event_id,
                    })
            started = time.monotonic()
            status_code, error = None, None
            try:
                with urllib.request.urlopen(request, timeout=timeout) as r:
                    status_code = r.status
            except urllib.error.HTTPError as exception:
                status_code = exception.code
                error = f"HTTP {exception.code}"
            except Exception as exception:
                error = str(exception) or repr(exception)
            duration = int((time.monotonic() - started) * 1000)
            count = Attempt.search(
                [('webhook', '=', webhook.id)], count=True) + 1
            Attempt(webhook=webhook, status_code=status_code, error=error,
                duration_ms=duration).save()
            now = datetime.datetime.now()
            if status_code and 200 <= status_code < 300:
                cls.write([webhook], {'state': 'delivered',
                        'delivered_at': now})
            elif count >= max_attempts:
                cls.write([webhook], {'state': 'failed'})
            else:
                backoff = min(delay * 2 ** (count - 1), 3600)
                cls.write([webhook], {
                        'next_attempt_at': now + datetime.timedelta(
                            seconds=backoff)})
                logger.info("webhook %s to %s failed (%s), retry in %ss",
                    webhook.event_id, webhook.url, error, backoff)

    @classmethod
    @without_check_access
    def send_due(cls):
        "Cron: retry the pending webhooks whose next attempt is due"
        webhooks = cls.search([
                ('state', '=', 'pending'),
                ('next_attempt_at', '!=', None),
                ('next_attempt_at', '<=', datetime.datetime.now()),
                ], order=[('next_attempt_at', 'ASC')])
        cls.send(webhooks)
        return len(webhooks)

    @classmethod
    @ModelView.button
    def retry(cls, webhooks):
        cls.write([w for w in webhooks if w.state == 'failed'], {
                'state': 'pending',
                'next_attempt_at': datetime.datetime.now(),
                })

    @classmethod
    def check_modification(cls, mode, webhooks, values=None, external=False):
        super().check_modification(
            mode, webhooks, values=values, external=external)
        if mode == 'delete' or (mode == 'write' and external):
            raise AccessError(gettext('ev_lead.msg_webhook_readonly'))


class WebhookAttempt(ModelSQL, ModelView):
    "One attempt to deliver a webhook"
    __name__ = 'ev.lead.webhook.attempt'
    __string__ = "OEM Webhook Attempt"

    webhook = fields.Many2One(
        'ev.lead.webhook', "Webhook", required=True, ondelete='CASCADE',
        readonly=True)
    at = fields.Timestamp("At", readonly=True)
    status_code = fields.Integer("Status Code", readonly=True)
    error = fields.Text("Error", readonly=True)
    duration_ms = fields.Integer("Duration (ms)", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'ASC')]

    @classmethod
    def default_at(cls):
        return datetime.datetime.now()
