# This file is part of the EV operations suite.
"""Emails to the support address through Tryton's inbound email: posted to
the Support inbox the way its HTTP route does (`Email.from_webhook`, the
inbox's `process`, save); the route itself is tried over HTTP by
tests/test_helpdesk_email.py"""
import datetime as dt
from email.message import EmailMessage
from email.utils import make_msgid

from trytond.modules.company.tests import set_company
from trytond.modules.ev_helpdesk.inbound import (
    InboundEmailError, html_text)
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from .tools import category, setup_helpdesk

PHOTO = b'\xff\xd8\xff\xe0' + bytes(range(256)) * 4


def support_email(text="My charger at home shows a red light.",
        subject="Charger not starting",
        sender="Asha Rao <Asha.Rao@Example.com>",
        html=None, photo=None, message_id=None, in_reply_to=None):
    "A customer's email to the support address, as bytes"
    message = EmailMessage()
    if sender:
        message['From'] = sender
    message['To'] = 'support@ev.example.com'
    if subject:
        message['Subject'] = subject
    message['Message-ID'] = message_id or make_msgid(domain='example.com')
    if in_reply_to:
        message['In-Reply-To'] = in_reply_to
    if text is not None:
        message.set_content(text)
        if html:
            message.add_alternative(html, subtype='html')
    elif html:
        message.set_content(html, subtype='html')
    if photo:
        message.add_attachment(photo, maintype='image', subtype='jpeg',
            filename='red-light.jpg')
    return message.as_bytes()


def inbox():
    Inbox = Pool().get('inbound.email.inbox')
    inbox, = Inbox.search([('name', '=', "Support")])
    return inbox


def post(raw):
    "What the inbound email route does with a raw email"
    Email = Pool().get('inbound.email')
    support = inbox()
    emails = Email.from_webhook(support, raw, 'raw')
    for email_ in emails:
        support.process(email_)
    Email.save(emails)
    email_, = emails
    return email_.result


def attachments(record):
    Attachment = Pool().get('ir.attachment')
    return [(a.name, bytes(a.data)) for a in Attachment.search(
            [('resource', '=', str(record))], order=[('id', 'ASC')])]


def requests():
    Request = Pool().get('ev.helpdesk.request')
    return Request.search([], order=[('id', 'ASC')])


def add_email(party, address):
    ContactMechanism = Pool().get('party.contact_mechanism')
    ContactMechanism.create([{'party': party.id, 'type': 'email',
                'value': address}])


class InboundEmailTestCase(ModuleDBTestCase):
    module = 'ev_helpdesk'

    @with_transaction()
    def test_email_becomes_a_request(self):
        "Sender, customer by email, subject, plain text, the attachment"
        w = setup_helpdesk()
        with set_company(w.company):
            add_email(w.customer, 'asha.rao@example.com')
        request = post(support_email(
                text="मेरा चार्जर शुरू नहीं हो रहा।\nThe light is red.",
                html="<p>ignored: the plain part wins</p>",
                photo=PHOTO, message_id='<m1@example.com>'))
        self.assertEqual(request.__name__, 'ev.helpdesk.request')
        self.assertEqual(
            (request.channel, request.sender, request.party,
                request.subject, request.text, request.state,
                request.company, request.email_message_id),
            ('email', 'Asha.Rao@Example.com', w.customer,
                "Charger not starting",
                "मेरा चार्जर शुरू नहीं हो रहा।\nThe light is red.", 'new',
                w.company, '<m1@example.com>'))
        # Classified and routed by the inbox's door like any channel's
        self.assertIsNotNone(request.category)
        self.assertEqual(request.department, request.category.department)
        self.assertEqual(attachments(request), [('red-light.jpg', PHOTO)])
        self.assertEqual(requests(), [request])

    @with_transaction()
    def test_html_only_email_is_read_as_text(self):
        "Without a plain part, the HTML's text: no tags, no style"
        setup_helpdesk()
        request = post(support_email(text=None, html=(
                    '<html><head><style>p {color: red}</style></head>'
                    '<body><p>Hello,</p><p>The charger at <b>Koramangala'
                    '</b> &amp; its app<br>both fail.</p>'
                    '<script>alert(1)</script></body></html>')))
        self.assertEqual(request.text,
            "Hello,\n\nThe charger at Koramangala & its app\nboth fail.")
        self.assertEqual(html_text('<div>a</div><div>b</div>'), 'a\n\nb')

    @with_transaction()
    def test_unknown_sender_still_lands(self):
        "An address no customer has: a request without a customer"
        setup_helpdesk()
        request = post(support_email(sender='stranger@example.org'))
        self.assertEqual((request.sender, request.party),
            ('stranger@example.org', None))
        self.assertEqual(requests(), [request])

    @with_transaction()
    def test_same_message_id_lands_once(self):
        "The provider posts the email again: the first request, no other"
        setup_helpdesk()
        raw = support_email(message_id='<twice@example.com>', photo=PHOTO)
        first = post(raw)
        second = post(raw)
        self.assertEqual(second, first)
        self.assertEqual(requests(), [first])
        self.assertEqual(len(attachments(first)), 1)

    @with_transaction()
    def test_reply_goes_to_the_ticket(self):
        "[TCK-…] in the subject: the waiting ticket resumes with the reply"
        pool = Pool()
        Request = pool.get('ev.helpdesk.request')
        Ticket = pool.get('ev.helpdesk.ticket')
        Note = pool.get('ev.helpdesk.ticket.note')
        w = setup_helpdesk()
        first = post(support_email(message_id='<q1@example.com>'))
        with set_company(w.company):
            Request.create_ticket([first])
            ticket = Request(first.id).ticket
            Ticket.wait([ticket])
        result = post(support_email(
                subject=f"Re: [{ticket.number}] Charger not starting",
                text="Here is the photo you asked for.", photo=PHOTO,
                message_id='<r1@example.com>'))
        self.assertEqual(result, ticket)
        self.assertEqual(Ticket(ticket.id).state, 'in_progress')
        note, = Note.search([('ticket', '=', ticket.id)])
        self.assertEqual(note.text,
            f"Email from Asha.Rao@Example.com: Re: [{ticket.number}] "
            "Charger not starting\n\nHere is the photo you asked for.")
        self.assertEqual(attachments(ticket), [('red-light.jpg', PHOTO)])
        self.assertEqual(requests(), [first])
        # The same reply again: nothing more
        self.assertEqual(post(support_email(
                    subject=f"Re: [{ticket.number}] Charger not starting",
                    message_id='<r1@example.com>')), ticket)
        self.assertEqual(Note.search([('ticket', '=', ticket.id)],
                count=True), 1)

    @with_transaction()
    def test_reply_reopens_or_opens_a_new_request(self):
        "In-Reply-To: reopens within the window, a new request after it"
        pool = Pool()
        Request = pool.get('ev.helpdesk.request')
        Ticket = pool.get('ev.helpdesk.ticket')
        w = setup_helpdesk()
        first = post(support_email(message_id='<q2@example.com>'))
        with set_company(w.company):
            Request.create_ticket([first])
            ticket = Request(first.id).ticket
            ticket.resolution = "Reset remotely"
            ticket.save()
            Ticket.resolve([ticket])
        result = post(support_email(subject="Re: Charger not starting",
                text="It stopped again.", in_reply_to='<q2@example.com>'))
        self.assertEqual(result, ticket)
        self.assertEqual(Ticket(ticket.id).state, 'in_progress')
        self.assertEqual(requests(), [first])

        # Resolved four days ago (the window is 72 hours): a new request
        with set_company(w.company):
            Ticket.resolve([ticket])
            Ticket.write([ticket], {'resolved_at':
                    dt.datetime.now() - dt.timedelta(days=4)})
        late = post(support_email(subject="Re: Charger not starting",
                text="Broken once more.", in_reply_to='<q2@example.com>'))
        self.assertEqual(late.__name__, 'ev.helpdesk.request')
        self.assertEqual((late.state, late.text), ('new', "Broken once more."))
        self.assertEqual(Ticket(ticket.id).state, 'resolved')
        self.assertEqual(requests(), [first, late])

    @with_transaction()
    def test_bad_emails_are_refused_clearly(self):
        "No sender, nothing to read: refused with the reason"
        setup_helpdesk()
        with self.assertRaises(InboundEmailError) as cm:
            post(b'')
        self.assertEqual(cm.exception.message,
            "The email has no sender address (From): it cannot become "
            "a request.")
        with self.assertRaises(InboundEmailError) as cm:
            post(support_email(sender=None))
        self.assertEqual(cm.exception.message,
            "The email has no sender address (From): it cannot become "
            "a request.")
        with self.assertRaises(InboundEmailError) as cm:
            post(support_email(subject=None, text=' \n'))
        self.assertEqual(cm.exception.message,
            'The email from "Asha.Rao@Example.com" has no subject, text or '
            'attachment: it cannot become a request.')
        self.assertEqual(requests(), [])
        self.assertIsNotNone(category('inquiry'))


del ModuleDBTestCase
