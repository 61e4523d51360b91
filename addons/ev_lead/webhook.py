# This file is part of the EV operations suite.
"Status webhooks to the OEMs, with their delivery log"
import datetime
import hashlib
import hmac
import json
import urllib.error
import urllib.request
import uuid

import trytond.config as config
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.modules.ev_station.outbox import OutboxError, OutboxMixin
from trytond.rpc import RPC
from trytond.transaction import Transaction

def _setting(name, default):
    return config.getint('ev_lead', name, default=default)


def signature(secret, body):
    "The X-EV-Signature header of a body"
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f'sha256={digest}'


class Webhook(OutboxMixin, ModelSQL, ModelView):
    "A status change of a lead, to be delivered to its OEM"
    __name__ = 'ev.lead.webhook'
    __string__ = "OEM Webhook"
    _outbox_max_attempts = ('ev_lead', 'webhook_max_attempts', 10)
    _outbox_retry_delay = ('ev_lead', 'webhook_retry_delay', 30)

    event_id = fields.Char("Event ID", required=True, readonly=True)
    oem = fields.Many2One(
        'party.party', "OEM", required=True, readonly=True,
        ondelete='RESTRICT')
    lead = fields.Many2One(
        'sale.opportunity', "Lead", required=True, readonly=True,
        ondelete='RESTRICT')
    url = fields.Char("URL", required=True, readonly=True)
    body = fields.Text("Body", required=True, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('event_id_unique', Unique(t, t.event_id),
                'ev_lead.msg_webhook_event_unique'),
            ]
        cls._order = [('id', 'DESC')]
        # Central Ops can push the due retries now, without the cron
        cls.__rpc__.update({
                'deliver_due': RPC(readonly=False, result=len),
                })

    @classmethod
    def __register__(cls, module):
        table_h = cls.__table_handler__(module)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        migrate = table_h.column_exist('delivered_at')
        super().__register__(module)
        # Migration: "delivered" became the outbox's "sent"
        if migrate:
            cursor.execute(*table.update(
                    [table.state, table.sent_at],
                    ['sent', table.delivered_at],
                    where=table.state == 'delivered'))
            table_h.drop_column('delivered_at')

    @classmethod
    def enqueue_for(cls, leads):
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
                    url=oem.ev_webhook_url, body=body))
        return cls.enqueue(webhooks)

    def outbox_deliver(self):
        "POST the body, signed; any answer but 2xx is a failure"
        body = self.body.encode()
        request = urllib.request.Request(
            self.url, data=body, method='POST', headers={
                'Content-Type': 'application/json',
                'X-EV-Signature': signature(
                    self.oem.ev_webhook_secret or '', body),
                'X-EV-Event-ID': self.event_id,
                })
        timeout = _setting('webhook_timeout', 10)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return {'status_code': answer.status}
        except urllib.error.HTTPError as exception:
            raise OutboxError(
                f"HTTP {exception.code}", status_code=exception.code)

    @classmethod
    def check_modification(cls, mode, webhooks, values=None, external=False):
        super().check_modification(
            mode, webhooks, values=values, external=external)
        if mode == 'delete' or (mode == 'write' and external):
            raise AccessError(gettext('ev_lead.msg_webhook_readonly'))
