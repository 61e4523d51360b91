# This file is part of the EV operations suite.
"""WhatsApp Business (Cloud API): the conversation with the customers.

Every message, in or out, is one `ev.helpdesk.whatsapp.message`, stored once
by its WhatsApp id (wamid): the webhook (whatsapp_routes.py) may deliver a
message several times, even at once, and the unique constraint lets one
insert win. A new inbound message becomes a request of the inbox
(`Request.receive`) or, when the customer answers a ticket that is waiting or
recently resolved, goes onto that ticket, in batches after the webhook's
commit (whatsapp_inbound.py). Media are fetched from the Graph
API after the webhook's commit, outbound messages are sent through the outbox
(whatsapp_outbox.py), and the 24-hour customer-service window decides between
free text and a template. Delivery statuses are immutable records; the
message keeps the furthest one reached."""
import datetime as dt
import hashlib
import hmac
import json

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.modules.ev_station.immutable import ImmutableMixin
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .exceptions import WhatsAppError

DIRECTIONS = [('in', "Inbound"), ('out', "Outbound")]
TYPES = [
    ('text', "Text"),
    ('image', "Image"),
    ('document', "Document"),
    ('audio', "Audio"),
    ('voice', "Voice"),
    ('video', "Video"),
    ('template', "Template"),
    ('other', "Other"),
    ]
MEDIA_TYPES = {'image', 'document', 'audio', 'voice', 'video'}
# The mime types accepted per type of media (WhatsApp's supported media)
MEDIA_MIME_TYPES = {
    'image': {'image/jpeg', 'image/png', 'image/webp'},
    'document': {'application/pdf', 'text/plain', 'application/msword',
        'application/vnd.openxmlformats-officedocument.'
        'wordprocessingml.document',
        'application/vnd.ms-excel',
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'},
    'audio': {'audio/aac', 'audio/amr', 'audio/mpeg', 'audio/mp4',
        'audio/ogg'},
    'video': {'video/mp4', 'video/3gpp'},
    }
MEDIA_MIME_TYPES['voice'] = MEDIA_MIME_TYPES['audio']
MEDIA_STATES = [
    (None, ''),
    ('pending', "Pending"),
    ('stored', "Stored"),
    ('refused', "Refused"),
    ('failed', "Failed"),
    ]
STATUSES = [
    ('received', "Received"),
    ('pending', "Pending"),
    ('accepted', "Accepted"),
    ('sent', "Sent"),
    ('delivered', "Delivered"),
    ('read', "Read"),
    ('failed', "Failed"),
    ]
# How far an outbound message went: a status never goes back
STATUS_RANK = {'pending': 0, 'accepted': 1, 'sent': 2, 'delivered': 3,
    'read': 4}
# The states of the tickets a customer's message may answer
REPLY_STATES = ['open', 'in_progress', 'waiting', 'resolved', 'closed']


def valid_signature(secret, body, header):
    """Whether `header` (X-Hub-Signature-256) is the HMAC-SHA256 of the raw
    `body` with the app `secret`, compared in constant time"""
    if not secret or not header or not header.startswith('sha256='):
        return False
    expected = 'sha256=' + hmac.new(
        secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode())


def from_timestamp(value):
    "The UTC datetime of a Unix timestamp (seconds, as a string)"
    return dt.datetime.fromtimestamp(int(value), dt.timezone.utc).replace(
        tzinfo=None)


_MODULE = __name__


class Configuration(metaclass=PoolMeta):
    __name__ = 'ev.helpdesk.configuration'

    whatsapp_graph_url = fields.Char("Graph API URL",
        help="The base URL of Meta's Graph API.")
    whatsapp_api_version = fields.Char("Graph API Version")
    whatsapp_phone_number_id = fields.Char("Phone Number ID",
        help="The id of the business phone number that sends the messages.")
    whatsapp_access_token = fields.Char("Access Token")
    whatsapp_app_secret = fields.Char("App Secret",
        help="Signs the webhooks Meta sends (X-Hub-Signature-256).")
    whatsapp_verify_token = fields.Char("Verify Token",
        help="The token Meta sends when subscribing the webhook.")
    whatsapp_window_hours = fields.Integer("Customer Service Window (Hours)",
        domain=[('whatsapp_window_hours', '>', 0)],
        help="Free text is sent only this many hours after the customer's "
        "last message; later a template.")
    whatsapp_template = fields.Char("Template",
        help="The approved template sent outside the window.")
    whatsapp_template_language = fields.Char("Template Language")
    whatsapp_media_max_bytes = fields.Integer("Media Max Size (Bytes)",
        domain=[('whatsapp_media_max_bytes', '>', 0)])
    whatsapp_alert_template = fields.Char("Alert Template",
        help="The template of the alerts to the support teams: its body "
        "takes the ticket's number, priority and subject.")
    whatsapp_alert_numbers = fields.Char("Alert Numbers",
        help="Numbers (E.164, separated by commas) alerted when a critical "
        "or charger-fault ticket opens in a department without numbers "
        "of its own.")

    @classmethod
    def default_whatsapp_graph_url(cls):
        return 'https://graph.facebook.com'

    @classmethod
    def default_whatsapp_api_version(cls):
        return 'v21.0'

    @classmethod
    def default_whatsapp_window_hours(cls):
        return 24

    @classmethod
    def default_whatsapp_template_language(cls):
        return 'en'

    @classmethod
    def default_whatsapp_media_max_bytes(cls):
        return 16 * 1024 * 1024

    # Named after this file's module: the tests import it twice
    _webhook_cache = Cache(_MODULE + '.webhook', context=False)

    @classmethod
    def webhook_settings(cls):
        """(app secret, company id) of the webhook: read once per process
        until the configuration changes (every POST needs them)"""
        settings = cls._webhook_cache.get('settings')
        if settings is None:
            config = cls(1)
            company = config.get_whatsapp_company()
            settings = (config.whatsapp_app_secret,
                company.id if company else None)
            # Without a company, read again until there is one
            if company:
                cls._webhook_cache.set('settings', settings)
        return settings

    @classmethod
    def create(cls, vlist):
        cls._webhook_cache.clear()
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        cls._webhook_cache.clear()
        super().write(*args)

    def get_whatsapp_company(self):
        "The company of the requests WhatsApp opens: the first one"
        Company = Pool().get('company.company')
        company_id = Transaction().context.get('company')
        if company_id:
            return Company(company_id)
        companies = Company.search([], order=[('id', 'ASC')], limit=1)
        return companies[0] if companies else None

    def whatsapp_url(self, *path):
        "The Graph API URL of `path` under the configured version"
        base = (self.whatsapp_graph_url
            or self.default_whatsapp_graph_url()).rstrip('/')
        version = (self.whatsapp_api_version
            or self.default_whatsapp_api_version())
        return '/'.join([base, version, *path])


class Department(metaclass=PoolMeta):
    __name__ = 'ev.helpdesk.department'

    whatsapp_alert_numbers = fields.Char("WhatsApp Alert Numbers",
        help="Numbers (E.164, separated by commas) of the team alerted on "
        "WhatsApp when a critical or charger-fault ticket opens.")


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    whatsapp_messages = fields.One2Many('ev.helpdesk.whatsapp.message',
        'party', "WhatsApp Messages", readonly=True,
        order=[('timestamp', 'ASC'), ('id', 'ASC')])


def split_numbers(value):
    return [n.strip() for n in (value or '').replace(';', ',').split(',')
        if n.strip()]


class Message(ModelSQL, ModelView):
    "A WhatsApp message, received or sent"
    __name__ = 'ev.helpdesk.whatsapp.message'
    __string__ = "WhatsApp Message"
    _rec_name = 'wamid'

    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    direction = fields.Selection(DIRECTIONS, "Direction", required=True,
        readonly=True)
    wamid = fields.Char("WhatsApp ID", readonly=True,
        help="The id WhatsApp gives the message; empty until an outbound "
        "message is accepted.")
    wa_id = fields.Char("WhatsApp Number", required=True, readonly=True,
        help="The customer's WhatsApp id: their number without '+'.")
    phone = fields.Char("Phone", readonly=True)
    profile_name = fields.Char("Profile Name", readonly=True)
    party = fields.Many2One('party.party', "Customer", readonly=True,
        context={'company': Eval('company', -1)}, depends={'company'})
    type = fields.Selection(TYPES, "Type", required=True, readonly=True)
    text = fields.Text("Text", readonly=True)
    caption = fields.Text("Caption", readonly=True)
    media_id = fields.Char("Media ID", readonly=True)
    mime_type = fields.Char("MIME Type", readonly=True)
    filename = fields.Char("File Name", readonly=True)
    media_sha256 = fields.Char("Media SHA-256", readonly=True)
    media_state = fields.Selection(MEDIA_STATES, "Media", readonly=True)
    media_error = fields.Text("Media Error", readonly=True)
    template = fields.Char("Template", readonly=True)
    template_language = fields.Char("Template Language", readonly=True)
    template_parameters = fields.Text("Template Parameters", readonly=True,
        help="The values of the template's body, a JSON list.")
    timestamp = fields.DateTime("Timestamp", required=True, readonly=True)
    status = fields.Selection(STATUSES, "Status", required=True,
        readonly=True)
    error = fields.Text("Error", readonly=True)
    request = fields.Many2One('ev.helpdesk.request', "Request",
        readonly=True, ondelete='RESTRICT')
    ticket = fields.Many2One('ev.helpdesk.ticket', "Ticket", readonly=True,
        ondelete='RESTRICT')
    statuses = fields.Function(fields.Many2Many(
            'ev.helpdesk.whatsapp.status', None, None, "Statuses"),
        'get_statuses')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('wamid_unique', Unique(t, t.wamid),
                'ev_helpdesk.msg_whatsapp_message_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.wa_id, Index.Equality()),
                    (t.direction, Index.Equality()),
                    (t.timestamp, Index.Range())),
                Index(t, (t.party, Index.Range())),
                Index(t, (t.request, Index.Range())),
                Index(t, (t.ticket, Index.Range())),
                })
        cls._order = [('timestamp', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_timestamp(cls):
        return dt.datetime.now()

    @classmethod
    def default_direction(cls):
        return 'out'

    @classmethod
    def default_status(cls):
        return 'pending'

    def get_statuses(self, name):
        Status = Pool().get('ev.helpdesk.whatsapp.status')
        if not self.wamid or self.direction != 'out':
            return []
        return [s.id for s in Status.search([('wamid', '=', self.wamid)],
                order=[('at', 'ASC'), ('id', 'ASC')])]

    @classmethod
    def check_modification(cls, mode, messages, values=None,
            external=False):
        super().check_modification(
            mode, messages, values=values, external=external)
        if mode == 'delete':
            raise WhatsAppError(gettext(
                    'ev_helpdesk.msg_whatsapp_message_delete'))

    # -- outbound ---------------------------------------------------------

    @classmethod
    def last_inbound(cls, wa_id):
        "The time of the customer's last message, or None"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.timestamp,
                where=(table.wa_id == wa_id) & (table.direction == 'in'),
                order_by=[table.timestamp.desc], limit=1))
        row = cursor.fetchone()
        return row[0] if row else None

    @classmethod
    def window_open(cls, wa_id, at=None):
        """Whether the customer wrote within the configured window hours:
        only then may free text be sent to them"""
        Configuration = Pool().get('ev.helpdesk.configuration')
        hours = Configuration(1).whatsapp_window_hours or 24
        last = cls.last_inbound(wa_id)
        at = at or dt.datetime.now()
        return bool(last and at - last <= dt.timedelta(hours=hours))

    @classmethod
    def wa_id_of(cls, phone):
        "The WhatsApp id (digits of the E.164 number) of `phone`"
        Party = Pool().get('party.party')
        e164 = Party.normalize_phone(phone or '')
        if not e164:
            raise WhatsAppError(gettext(
                    'ev_helpdesk.msg_whatsapp_phone_invalid', phone=phone))
        return e164, e164.lstrip('+')

    @classmethod
    def _outbound(cls, phone, party=None, request=None, ticket=None,
            **values):
        Configuration = Pool().get('ev.helpdesk.configuration')
        e164, wa_id = cls.wa_id_of(phone)
        company = (ticket.company if ticket else request.company if request
            else Configuration(1).get_whatsapp_company())
        if party is None:
            party = (ticket and ticket.party) or (request and request.party)
        return cls(company=company, direction='out', status='pending',
            wa_id=wa_id, phone=e164, party=party, request=request,
            ticket=ticket, timestamp=dt.datetime.now(), **values)

    @classmethod
    def send_text(cls, phone, text, **links):
        """Queue free text to `phone`; refused outside the customer-service
        window (a template must be sent instead)"""
        message = cls._outbound(phone, type='text', text=text, **links)
        if not cls.window_open(message.wa_id):
            Configuration = Pool().get('ev.helpdesk.configuration')
            raise WhatsAppError(gettext(
                    'ev_helpdesk.msg_whatsapp_window_closed',
                    phone=message.phone,
                    hours=Configuration(1).whatsapp_window_hours or 24))
        return cls.send([message])[0]

    @classmethod
    def send_template(cls, phone, template=None, language=None,
            parameters=None, **links):
        """Queue a template to `phone` (the configured one when none is
        given), allowed at any time"""
        Configuration = Pool().get('ev.helpdesk.configuration')
        config = Configuration(1)
        template = template or config.whatsapp_template
        if not template:
            raise WhatsAppError(gettext(
                    'ev_helpdesk.msg_whatsapp_template_missing'))
        message = cls._outbound(phone, type='template', template=template,
            template_language=(language or config.whatsapp_template_language
                or 'en'),
            template_parameters=cls.parameters_json(parameters),
            **links)
        return cls.send([message])[0]

    @staticmethod
    def parameters_json(parameters):
        return json.dumps([str(p) for p in parameters]) if parameters \
            else None

    @classmethod
    def reply(cls, phone, text, **links):
        """Free text within the window, the configured template outside
        it: what an agent's answer becomes"""
        e164, wa_id = cls.wa_id_of(phone)
        if cls.window_open(wa_id):
            return cls.send_text(phone, text, **links)
        return cls.send_template(phone, **links)

    @classmethod
    def send(cls, messages):
        "Save the outbound messages and deliver them through the outbox"
        Task = Pool().get('ev.helpdesk.whatsapp.task')
        cls.save(messages)
        with without_check_access():
            Task.enqueue([Task(kind='send', message=m) for m in messages])
        return messages

    def graph_payload(self):
        "The JSON body of the Graph API's /messages for this message"
        payload = {
            'messaging_product': 'whatsapp',
            'recipient_type': 'individual',
            'to': self.wa_id,
            'type': self.type,
            }
        if self.type == 'text':
            payload['text'] = {'preview_url': False, 'body': self.text}
        elif self.type == 'template':
            template = {
                'name': self.template,
                'language': {'code': self.template_language},
                }
            if self.template_parameters:
                template['components'] = [{
                        'type': 'body',
                        'parameters': [{'type': 'text', 'text': str(p)}
                            for p in json.loads(self.template_parameters)],
                        }]
            payload['template'] = template
        return payload

    @classmethod
    def apply_statuses(cls, statuses):
        """Move the outbound messages to their furthest status: a status
        never goes back, and failed only before delivery"""
        by_wamid = {}
        for status in statuses:
            by_wamid.setdefault(status.wamid, []).append(status)
        if not by_wamid:
            return
        messages = cls.search([
                ('wamid', 'in', list(by_wamid)),
                ('direction', '=', 'out'),
                ])
        to_save = []
        for message in messages:
            changed = False
            for status in sorted(by_wamid[message.wamid],
                    key=lambda s: (s.at, s.id)):
                current = STATUS_RANK.get(message.status, -1)
                if status.status == 'failed':
                    if message.status != 'failed' \
                            and current < STATUS_RANK['delivered']:
                        message.status = 'failed'
                        message.error = status.error
                        changed = True
                elif (message.status != 'failed'
                        and STATUS_RANK[status.status] > current):
                    message.status = status.status
                    changed = True
            if changed:
                to_save.append(message)
        cls.save(to_save)


class Status(ImmutableMixin, ModelSQL, ModelView):
    "A delivery status WhatsApp reported for an outbound message; evidence"
    __name__ = 'ev.helpdesk.whatsapp.status'
    __string__ = "WhatsApp Message Status"

    wamid = fields.Char("WhatsApp ID", required=True, readonly=True)
    status = fields.Selection([
            ('sent', "Sent"),
            ('delivered', "Delivered"),
            ('read', "Read"),
            ('failed', "Failed"),
            ], "Status", required=True, readonly=True)
    at = fields.DateTime("At", required=True, readonly=True)
    recipient = fields.Char("Recipient", readonly=True)
    error = fields.Text("Error", readonly=True)
    message = fields.Function(fields.Many2One(
            'ev.helpdesk.whatsapp.message', "Message"), 'get_message')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('wamid_status_unique', Unique(t, t.wamid, t.status),
                'ev_helpdesk.msg_whatsapp_status_unique'),
            ]
        cls._order = [('at', 'DESC'), ('id', 'DESC')]

    def get_message(self, name):
        Message = Pool().get('ev.helpdesk.whatsapp.message')
        messages = Message.search([('wamid', '=', self.wamid)], limit=1)
        return messages[0].id if messages else None

    @classmethod
    def intake(cls, statuses):
        "Store the statuses not yet stored and apply them to their messages"
        Message = Pool().get('ev.helpdesk.whatsapp.message')
        unique = {}
        for values in statuses:
            unique.setdefault((values['wamid'], values['status']), values)
        if not unique:
            return []
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.wamid, table.status,
                where=table.wamid.in_(list({w for w, _ in unique}))))
        for key in cursor:
            unique.pop(tuple(key), None)
        created = cls.create(list(unique.values()))
        Message.apply_statuses(created)
        return created
