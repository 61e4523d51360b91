# This file is part of the EV operations suite.
"""Emails to the support address, through Tryton's inbound email.

Tryton's `inbound_email` receives the raw emails over HTTP
(`/<database>/inbound_email/inbox/<identifier>`) and runs the action of the
first rule of the inbox that matches. Ours makes a request of the inbox
(`Request.receive`, the door of every channel): the sender's address, the
customer found by their email contact mechanism, the subject, the text (the
plain part, or the HTML part stripped of its tags) and the attachments.
An email lands once per Message-ID. A reply in a ticket's thread (its
number in brackets in the subject, or an In-Reply-To of an email we have)
goes to the ticket — `Ticket.customer_replied` — when the ticket takes it
back; a reply too late for that is a new request."""
import datetime as dt
import email
import re
from email.policy import default as email_policy
from email.utils import getaddresses
from html.parser import HTMLParser

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import Index, Unique, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction

ACTION = 'ev.helpdesk.request|receive_email'
# A ticket's number in the subject of a reply: "Re: [TCK-000123] ..."
TICKET_NUMBER = re.compile(r'\[([^\[\]\s]{1,40})\]')
MESSAGE_ID = re.compile(r'<[^<>\s]+>')
# The text of an HTML part starts a new line at these elements
BLOCKS = {'p', 'div', 'br', 'tr', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
    'table', 'ul', 'ol', 'blockquote', 'pre', 'hr'}


class InboundEmailError(UserError):
    """An email the helpdesk cannot take: Tryton's route answers its
    poster 400 with the message, and stores nothing"""


class _TextOfHTML(HTMLParser):
    "The text a reader sees of an HTML body: no tags, scripts or styles"

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in {'script', 'style', 'head', 'title'}:
            self.hidden += 1
        elif tag in BLOCKS:
            self.parts.append('\n')

    def handle_endtag(self, tag):
        if tag in {'script', 'style', 'head', 'title'}:
            self.hidden = max(self.hidden - 1, 0)
        elif tag in BLOCKS:
            self.parts.append('\n')

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def html_text(html):
    "The text of `html`, one line per paragraph"
    parser = _TextOfHTML()
    parser.feed(html)
    parser.close()
    lines = (' '.join(line.split()) for line in ''.join(
            parser.parts).splitlines())
    return re.sub(r'\n{3,}', '\n\n', '\n'.join(lines)).strip()


def _content(part):
    "The decoded text of a MIME part, even with a wrong charset"
    try:
        return part.get_content()
    except (LookupError, UnicodeError, KeyError):
        payload = part.get_payload(decode=True) or b''
        return payload.decode('utf-8', errors='replace')


def read_raw(data):
    """What a request needs of the raw email `data` (bytes): the sender,
    subject, text, attachments, Message-ID and the ids it replies to"""
    message = email.message_from_bytes(data or b'', policy=email_policy)
    sender = None
    if message.get('From'):
        sender = getaddresses([str(message['From'])])[0][1] or None
    text = None
    body = message.get_body(preferencelist=('plain',))
    if body is not None:
        text = _content(body)
    else:
        body = message.get_body(preferencelist=('html',))
        if body is not None:
            text = html_text(_content(body))
    attachments = []
    for part in message.iter_attachments():
        if part.get_content_maintype() == 'multipart':
            continue
        attachments.append({
                'filename': part.get_filename(),
                'data': part.get_payload(decode=True) or b'',
                })
    return {
        'sender': sender,
        'subject': str(message['Subject'] or '').strip() or None,
        'text': text,
        'attachments': attachments,
        'message_id': str(message['Message-ID'] or '').strip() or None,
        'replies_to': MESSAGE_ID.findall(' '.join([
                    str(message['In-Reply-To'] or ''),
                    str(message['References'] or '')])),
        }


def read_provider(values):
    """The same from Tryton's reading of a provider's payload
    (`inbound.email.as_dict`: Mailchimp, MailPace, Postmark, SendGrid)"""
    headers = {k.lower(): v for k, v in values.get('headers', {}).items()}
    text = values.get('text')
    if not text and values.get('html'):
        text = html_text(values['html'])
    return {
        'sender': values.get('from') or None,
        'subject': (values.get('subject') or '').strip() or None,
        'text': text,
        'attachments': [{'filename': a.get('filename'), 'data': a['data']}
            for a in values.get('attachments', [])],
        'message_id': (headers.get('message-id') or '').strip() or None,
        'replies_to': MESSAGE_ID.findall(' '.join([
                    headers.get('in-reply-to') or '',
                    headers.get('references') or ''])),
        }


class Rule(metaclass=PoolMeta):
    __name__ = 'inbound.email.rule'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.action.selection.append((ACTION, "Helpdesk Request"))


class Request(metaclass=PoolMeta):
    __name__ = 'ev.helpdesk.request'

    email_message_id = fields.Char("Email Message-ID", readonly=True,
        states={'invisible': Eval('channel') != 'email'},
        help="The Message-ID of the email: an email lands once.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('email_message_id_unique', Unique(t, t.email_message_id),
                'ev_helpdesk.msg_request_email_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.email_message_id, Index.Equality())))

    @classmethod
    def copy(cls, requests, default=None):
        default = default.copy() if default else {}
        default.setdefault('email_message_id')
        return super().copy(requests, default=default)

    @classmethod
    def receive_email(cls, inbound_email, rule):
        """The action of the inbox's rule: the request of the email, or the
        ticket it replies to; an email already received gives what it gave
        the first time"""
        if inbound_email.data_type == 'raw':
            mail = read_raw(inbound_email.data)
        else:
            mail = read_provider(inbound_email.as_dict())
        if not mail['sender']:
            raise InboundEmailError(gettext('ev_helpdesk.msg_email_no_sender'))
        if not (mail['subject'] or (mail['text'] or '').strip()
                or mail['attachments']):
            raise InboundEmailError(gettext('ev_helpdesk.msg_email_empty',
                    sender=mail['sender']))
        known = cls.email_received(mail['message_id'])
        if known:
            return known
        ticket = cls.email_ticket(mail)
        if ticket and cls.email_to_ticket(ticket, mail):
            return ticket
        request, = cls.receive([cls.email_request_values(mail)])
        attach(request, mail['attachments'])
        return request

    @classmethod
    def email_received(cls, message_id):
        "The request or the ticket an email of `message_id` went to"
        Note = Pool().get('ev.helpdesk.ticket.note')
        if not message_id:
            return None
        requests = cls.search([('email_message_id', '=', message_id)])
        if requests:
            return requests[0]
        notes = Note.search([('email_message_id', '=', message_id)])
        if notes:
            return notes[0].ticket
        return None

    @classmethod
    def email_ticket(cls, mail):
        """The ticket whose thread `mail` replies to: its number in brackets
        in the subject, or the email it answers"""
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        Note = pool.get('ev.helpdesk.ticket.note')
        numbers = TICKET_NUMBER.findall(mail['subject'] or '')
        if numbers:
            tickets = Ticket.search([('number', 'in', numbers)],
                order=[('id', 'DESC')], limit=1)
            if tickets:
                return tickets[0]
        if mail['replies_to']:
            requests = cls.search([
                    ('email_message_id', 'in', mail['replies_to']),
                    ('ticket', '!=', None),
                    ], order=[('id', 'DESC')], limit=1)
            if requests:
                return requests[0].ticket
            notes = Note.search([
                    ('email_message_id', 'in', mail['replies_to']),
                    ], order=[('id', 'DESC')], limit=1)
            if notes:
                return notes[0].ticket
        return None

    @classmethod
    def email_to_ticket(cls, ticket, mail):
        """Give the reply to `ticket` when it takes it back (it is active
        or resolved within the reopen window): a note with the text, the
        attachments on the ticket; False when it is too late"""
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        Note = pool.get('ev.helpdesk.ticket.note')
        if Ticket.customer_replied([ticket], at=dt.datetime.now()):
            return False
        Note.create([{
                    'ticket': ticket.id,
                    'visibility': 'internal',
                    'email_message_id': mail['message_id'],
                    'text': gettext('ev_helpdesk.msg_email_reply_note',
                        sender=mail['sender'],
                        subject=mail['subject'] or '',
                        text=(mail['text'] or '').strip()),
                    }])
        attach(ticket, mail['attachments'])
        return True

    @classmethod
    def email_request_values(cls, mail):
        "The values of the request of `mail`"
        return {
            'company': _company(),
            'channel': 'email',
            'received_at': dt.datetime.now(),
            'sender': mail['sender'],
            'party': _party_of_email(mail['sender']),
            'subject': (mail['subject'] or '')[:250] or None,
            'text': (mail['text'] or '').strip(),
            'email_message_id': mail['message_id'],
            }


class Note(metaclass=PoolMeta):
    __name__ = 'ev.helpdesk.ticket.note'

    email_message_id = fields.Char("Email Message-ID", readonly=True,
        help="The Message-ID of the customer's email the note holds.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('email_message_id_unique', Unique(t, t.email_message_id),
                'ev_helpdesk.msg_request_email_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.email_message_id, Index.Equality())))


def _company():
    "The company of the emails: the context's, or the first (the suite's)"
    Company = Pool().get('company.company')
    company = Transaction().context.get('company')
    if not company:
        companies = Company.search([], order=[('id', 'ASC')], limit=1)
        company = companies[0].id if companies else None
    return company


def _party_of_email(address):
    "The one party with `address` as email contact mechanism, or None"
    ContactMechanism = Pool().get('party.contact_mechanism')
    value = address.replace('\\', '\\\\').replace('%', '\\%').replace(
        '_', '\\_')
    parties = {m.party for m in ContactMechanism.search([
                ('type', '=', 'email'),
                ('value', 'ilike', value),
                ])}
    return parties.pop().id if len(parties) == 1 else None


def attach(record, attachments):
    "The email's attachments on `record`"
    Attachment = Pool().get('ir.attachment')
    Attachment.create([{
                'resource': str(record),
                'name': a['filename'] or f'attachment-{i}',
                'type': 'data',
                'data': a['data'],
                } for i, a in enumerate(attachments, 1)])
