# This file is part of the EV operations suite.
"Status webhooks to the OEMs, with their delivery log"
import datetime
import hashlib
import hmac
import ipaddress
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import trytond.config as config
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.modules.ev_station.outbox import OutboxError, OutboxMixin
from trytond.transaction import Transaction

def _setting(name, default):
    return config.getint('ev_lead', name, default=default)


def _allowed_hosts():
    "[ev_lead] webhook_allowed_hosts: hosts or networks allowed anyway"
    value = config.get('ev_lead', 'webhook_allowed_hosts', default='')
    return [v.strip() for v in value.replace(',', ' ').split() if v.strip()]


_OWN_ADDRESSES = (0, frozenset())
OWN_ADDRESSES_TTL = 300  # seconds: a host's addresses rarely change


def _own_addresses():
    """The addresses of this server (its name and its listening address),
    looked up again every OWN_ADDRESSES_TTL seconds, not at each delivery"""
    global _OWN_ADDRESSES
    expires, addresses = _OWN_ADDRESSES
    if time.monotonic() < expires:
        return addresses
    found = set()
    for host in {socket.gethostname(), socket.getfqdn()}:
        try:
            found.update(info[4][0] for info in socket.getaddrinfo(
                    host, None))
        except OSError:
            pass
    addresses = frozenset(
        ipaddress.ip_address(a.split('%')[0]) for a in found)
    _OWN_ADDRESSES = (time.monotonic() + OWN_ADDRESSES_TTL, addresses)
    return addresses


def destination_error(url, resolve=True):
    """Why the webhook URL is refused, as (message id of ev_lead, its
    values), or None.

    Only https (and http when [ev_lead] webhook_allow_http is set), with
    a host that resolves to public addresses only: loopback, private,
    link-local, reserved and the server's own addresses are refused unless
    the host or its network is in [ev_lead] webhook_allowed_hosts."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return 'msg_webhook_url_invalid', {}
    schemes = {'https'}
    if config.getboolean('ev_lead', 'webhook_allow_http', default=False):
        schemes.add('http')
    if parts.scheme not in schemes:
        return 'msg_webhook_url_scheme', {
            'schemes': " or ".join(sorted(schemes))}
    if not parts.hostname:
        return 'msg_webhook_url_invalid', {}
    if parts.username or parts.password:
        return 'msg_webhook_url_credentials', {}
    allowed = _allowed_hosts()
    if parts.hostname in allowed:
        return None
    if not resolve:
        return None
    try:
        infos = socket.getaddrinfo(
            parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except OSError:
        return 'msg_webhook_url_unresolved', {'host': parts.hostname}
    networks = []
    for value in allowed:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            pass
    own = _own_addresses()
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split('%')[0])
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        if any(address in network for network in networks):
            continue
        if (address.is_loopback or address.is_private
                or address.is_link_local or address.is_reserved
                or address.is_multicast or address.is_unspecified
                or address in own):
            return 'msg_webhook_url_not_public', {'address': str(address)}
    return None


def refusal(url, error):
    "The message of a refused webhook URL"
    message, values = error
    return gettext('ev_lead.msg_webhook_url_refused', url=url,
        reason=gettext(f'ev_lead.{message}', **values))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    "A redirect is an answer, never followed (it could point inside)"

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


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
        """POST the body, signed; any answer but 2xx is a failure, a
        redirect included. The destination is checked again at each
        attempt: the host may resolve elsewhere since it was set."""
        error = destination_error(self.url)
        if error:
            raise OutboxError(refusal(self.url, error))
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
            with _opener.open(request, timeout=timeout) as answer:
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
