# This file is part of the EV operations suite.
"""What WhatsApp asks of the Graph API after the webhook or the agent has
committed: sending an outbound message and fetching the media of an inbound
one. Both are items of ev_station's outbox (retries, attempts, exactly one
process at a time), so that the webhook answers Meta at once."""
import hashlib
import json
import urllib.error
import urllib.request

import trytond.config as config
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.model.exceptions import AccessError
from trytond.modules.ev_station.outbox import OutboxError, OutboxMixin
from trytond.pool import Pool, PoolMeta
from trytond.transaction import without_check_access

from .whatsapp import MEDIA_MIME_TYPES


def _timeout():
    return config.getint('ev_helpdesk', 'whatsapp_timeout', default=20)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    "The access token is never sent where a redirect points"

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def graph_error(exception):
    "The OutboxError of a Graph API's error answer, with its message"
    try:
        body = json.loads(exception.read().decode('utf-8', 'replace'))
        detail = body['error']['message']
    except Exception:
        detail = exception.reason
    return OutboxError(f"HTTP {exception.code}: {detail}",
        status_code=exception.code)


class Task(OutboxMixin, ModelSQL, ModelView):
    "A call of the Graph API for a WhatsApp message"
    __name__ = 'ev.helpdesk.whatsapp.task'
    __string__ = "WhatsApp Task"
    _outbox_max_attempts = ('ev_helpdesk', 'whatsapp_max_attempts', 5)
    _outbox_retry_delay = ('ev_helpdesk', 'whatsapp_retry_delay', 30)

    kind = fields.Selection([
            ('send', "Send"),
            ('media', "Fetch Media"),
            ], "Kind", required=True, readonly=True)
    message = fields.Many2One('ev.helpdesk.whatsapp.message', "Message",
        required=True, readonly=True, ondelete='RESTRICT')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'DESC')]

    @classmethod
    def check_modification(cls, mode, tasks, values=None, external=False):
        super().check_modification(
            mode, tasks, values=values, external=external)
        if mode == 'delete' or (mode == 'write' and external):
            raise AccessError(gettext(
                    'ev_helpdesk.msg_whatsapp_task_readonly'))

    @staticmethod
    def _config():
        return Pool().get('ev.helpdesk.configuration')(1)

    def _open(self, url, data=None, accept_json=True):
        config_ = self._config()
        headers = {'Authorization':
            f'Bearer {config_.whatsapp_access_token or ""}'}
        if data is not None:
            data = json.dumps(data).encode()
            headers['Content-Type'] = 'application/json'
        request = urllib.request.Request(url, data=data, headers=headers,
            method='POST' if data is not None else 'GET')
        try:
            return _opener.open(request, timeout=_timeout())
        except urllib.error.HTTPError as exception:
            raise graph_error(exception)
        except (urllib.error.URLError, OSError) as exception:
            raise OutboxError(str(getattr(exception, 'reason', exception)))

    def outbox_deliver(self):
        if self.kind == 'send':
            return self.deliver_message()
        return self.fetch_media()

    def deliver_message(self):
        "POST the message to /<phone-number-id>/messages"
        config_ = self._config()
        url = config_.whatsapp_url(
            config_.whatsapp_phone_number_id or '', 'messages')
        with self._open(url, self.message.graph_payload()) as answer:
            status = answer.status
            try:
                body = json.loads(answer.read())
                wamid = body['messages'][0]['id']
            except (ValueError, KeyError, IndexError, TypeError):
                raise OutboxError("the Graph API answered no message id",
                    status_code=status)
        return {'status_code': status, 'wamid': wamid}

    def fetch_media(self):
        """The media's URL from /<media-id>, then its bytes; refused (not
        retried) when too large or of a type WhatsApp does not send"""
        message = self.message
        config_ = self._config()
        limit = config_.whatsapp_media_max_bytes or 16 * 1024 * 1024
        with self._open(config_.whatsapp_url(message.media_id)) as answer:
            try:
                info = json.loads(answer.read())
                url = info['url']
            except (ValueError, KeyError, TypeError):
                raise OutboxError("the Graph API answered no media URL",
                    status_code=answer.status)
        mime_type = (info.get('mime_type') or message.mime_type or ''
            ).split(';')[0].strip().lower()
        refusal = self.media_refusal(mime_type, info.get('file_size'), limit)
        if refusal:
            return {'refused': refusal}
        with self._open(url) as answer:
            data = answer.read(limit + 1)
            status = answer.status
        if len(data) > limit:
            return {'refused': gettext(
                    'ev_helpdesk.msg_whatsapp_media_too_large',
                    size=f'> {limit}', limit=limit)}
        sha256 = info.get('sha256') or message.media_sha256
        if sha256 and hashlib.sha256(data).hexdigest() != sha256:
            raise OutboxError("the media's bytes do not match its SHA-256",
                status_code=status)
        return {'status_code': status, 'data': data,
            'mime_type': mime_type}

    def media_refusal(self, mime_type, size, limit):
        "Why the media is refused, or None"
        allowed = MEDIA_MIME_TYPES.get(self.message.type, set())
        if mime_type not in allowed:
            return gettext('ev_helpdesk.msg_whatsapp_media_mime',
                mime_type=mime_type or '?',
                type=self.message.type_string(),
                allowed=', '.join(sorted(allowed)))
        try:
            size = int(size) if size is not None else None
        except (TypeError, ValueError):
            size = None
        if size is not None and size > limit:
            return gettext('ev_helpdesk.msg_whatsapp_media_too_large',
                size=size, limit=limit)
        return None

    def outbox_sent(self, result):
        if self.kind == 'send':
            self.message_accepted(result['wamid'])
        elif result.get('refused'):
            Message = Pool().get('ev.helpdesk.whatsapp.message')
            Message.write([self.message], {
                    'media_state': 'refused',
                    'media_error': result['refused'],
                    })
        else:
            self.store_media(result['data'], result['mime_type'])

    def message_accepted(self, wamid):
        "The message has its id: the statuses that came first apply now"
        pool = Pool()
        Message = pool.get('ev.helpdesk.whatsapp.message')
        Status = pool.get('ev.helpdesk.whatsapp.status')
        Message.write([self.message], {'wamid': wamid, 'status': 'accepted'})
        Message.apply_statuses(Status.search([('wamid', '=', wamid)]))

    def store_media(self, data, mime_type):
        "The media as an attachment of the message and of its request"
        pool = Pool()
        Attachment = pool.get('ir.attachment')
        Message = pool.get('ev.helpdesk.whatsapp.message')
        message = self.message
        extension = mime_type.split('/')[-1].split('.')[-1][:10]
        name = message.filename or f'{message.media_id}.{extension}'
        resources = [message] + ([message.request] if message.request
            else [])
        Attachment.create([{
                    'resource': str(r),
                    'name': name,
                    'type': 'data',
                    'data': data,
                    } for r in resources])
        Message.write([message], {
                'media_state': 'stored',
                'mime_type': mime_type,
                'media_error': None,
                })

    @classmethod
    @without_check_access
    def _deliver_ids(cls, ids):
        sent = super()._deliver_ids(ids)
        Message = Pool().get('ev.helpdesk.whatsapp.message')
        # The tasks that gave up: their message failed
        failed = cls.search([
                ('id', 'in', list(ids)),
                ('state', '=', 'failed'),
                ])
        for task in failed:
            if task.kind == 'send' and task.message.status == 'pending':
                Message.write([task.message], {
                        'status': 'failed', 'error': task.last_error})
            elif task.kind == 'media' \
                    and task.message.media_state == 'pending':
                Message.write([task.message], {
                        'media_state': 'failed',
                        'media_error': task.last_error})
        return sent


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('ev.helpdesk.whatsapp.task|deliver_due',
                "Retry WhatsApp Tasks"))
        # The requests of the messages the webhook stored (whatsapp_inbound)
        cls.method.selection.append(
            ('ev.helpdesk.whatsapp.message|open_pending_requests',
                "Open WhatsApp Requests"))
