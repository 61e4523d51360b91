# This file is part of the EV operations suite.
"""WhatsApp in the database: the parser of the Cloud API's notifications,
the 24-hour window, a reply onto the customer's ticket, the alerts of the
support teams, and the messages kept to their departments' agents (the HTTP
side, with a fake Graph API, is tests/test_whatsapp_webhook.py)"""
import datetime as dt
import json
import time
import unittest
from contextlib import contextmanager

import trytond.config as config
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_field.tests.tools import create_user
from trytond.modules.ev_helpdesk.whatsapp_inbound import NoCompany
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from ..whatsapp_inbound import QUEUE_NAME
from ..whatsapp_routes import InvalidNotification, parse_notification
from .fake_graph import media_message, notification, status, text_message
from .tools import category, setup_helpdesk

CUSTOMER = '919845012345'


class ParseTestCase(unittest.TestCase):
    "The notification parser, without a database"

    def test_messages_statuses_and_names(self):
        at = int(time.time())
        messages, statuses = parse_notification(notification([
                    text_message('wamid.1', CUSTOMER, "Hi", at),
                    media_message('wamid.2', CUSTOMER, 'audio', 'm-1',
                        'audio/ogg; codecs=opus', at, voice=True),
                    {'from': CUSTOMER, 'id': 'wamid.3', 'type': 'reaction',
                        'timestamp': str(at), 'reaction': {}},
                    ], [status('wamid.9', 'read', CUSTOMER, at)]))
        when = dt.datetime.fromtimestamp(at, dt.timezone.utc).replace(
            tzinfo=None)
        self.assertEqual(messages, [
                {'wamid': 'wamid.1', 'wa_id': CUSTOMER, 'timestamp': when,
                    'profile_name': "Asha Rao", 'type': 'text',
                    'text': "Hi"},
                {'wamid': 'wamid.2', 'wa_id': CUSTOMER, 'timestamp': when,
                    'profile_name': "Asha Rao", 'type': 'voice',
                    'media_id': 'm-1',
                    'mime_type': 'audio/ogg; codecs=opus', 'caption': None,
                    'filename': None, 'media_sha256': None},
                {'wamid': 'wamid.3', 'wa_id': CUSTOMER, 'timestamp': when,
                    'profile_name': "Asha Rao", 'type': 'other',
                    'text': "[reaction]"},
                ])
        self.assertEqual(statuses, [{'wamid': 'wamid.9', 'status': 'read',
                    'at': when, 'recipient': CUSTOMER, 'error': None}])

    def test_errors_name_the_path(self):
        body = notification([{'from': CUSTOMER, 'id': 'wamid.1',
                        'timestamp': 'yesterday', 'type': 'text',
                        'text': {'body': "Hi"}}],
            [{'id': 'wamid.2', 'status': 'opened', 'timestamp': '1'}])
        with self.assertRaises(InvalidNotification) as cm:
            parse_notification(body)
        path = 'entry[0].changes[0].value'
        self.assertEqual(cm.exception.errors, {
                f'{path}.messages[0].timestamp': "must be a Unix timestamp",
                f'{path}.statuses[0].status':
                "must be one of delivered, failed, read, sent",
                })
        for body, errors in [
                ([], {'object': "must be whatsapp_business_account"}),
                ({'object': 'whatsapp_business_account'},
                    {'entry': "must be a list"}),
                ]:
            with self.assertRaises(InvalidNotification) as cm:
                parse_notification(body)
            self.assertEqual(cm.exception.errors, errors)


def receive(*messages):
    """Store the messages as the webhook does, and open their requests as
    the task it queues does after the commit"""
    Message = Pool().get('ev.helpdesk.whatsapp.message')
    parsed, statuses = parse_notification(notification(messages))
    result = Message.intake(parsed, statuses)
    Message.open_pending_requests()
    return result


@contextmanager
def patch_config(section, option, value):
    old = config.get(section, option)
    if not config._config.has_section(section):
        config._config.add_section(section)
    config.set(section, option, value)
    try:
        yield
    finally:
        if old is None:
            config._config.remove_option(section, option)
            config._cache_clear()
        else:
            config.set(section, option, old)


def message(wamid):
    Message = Pool().get('ev.helpdesk.whatsapp.message')
    message, = Message.search([('wamid', '=', wamid)])
    return message


def configure(**values):
    Configuration = Pool().get('ev.helpdesk.configuration')
    values.setdefault('whatsapp_phone_number_id', '106540352242922')
    values.setdefault('whatsapp_template', 'follow_up')
    Configuration.write([Configuration(1)], values)


class WhatsAppTestCase(ModuleDBTestCase):
    module = 'ev_helpdesk'

    @with_transaction()
    def test_message_opens_a_request_of_the_customer(self):
        w = setup_helpdesk()
        with set_company(w.company):
            self.assertEqual(receive(text_message('wamid.A', CUSTOMER,
                            "Charger shows red light")), (1, 0))
            self.assertEqual(receive(text_message('wamid.A', CUSTOMER,
                            "Charger shows red light")), (0, 0))
            m = message('wamid.A')
            self.assertEqual((m.party, m.phone, m.direction, m.status),
                (w.customer, '+919845012345', 'in', 'received'))
            # Classified as a charger fault: the Technical department's
            self.assertEqual((m.request.channel, m.request.party,
                    m.request.sender, m.request.text,
                    m.request.category.code, m.request.department),
                ('whatsapp', w.customer, '+919845012345',
                    "Charger shows red light", 'fault', w.technical))
            with self.assertRaises(UserError) as cm:
                Pool().get('ev.helpdesk.whatsapp.message').delete([m])
            self.assertEqual(cm.exception.message, "A WhatsApp message "
                "cannot be deleted: it is part of the conversation with the "
                "customer.")

    @with_transaction()
    def test_no_company_stores_nothing(self):
        "Before a company exists the webhook refuses (503): Meta retries"
        Message = Pool().get('ev.helpdesk.whatsapp.message')
        parsed, _ = parse_notification(notification([text_message(
                        'wamid.NC', CUSTOMER, "Hello")]))
        with self.assertRaises(NoCompany):
            Message.intake(parsed, [])
        self.assertEqual(Message.search([]), [])

    @with_transaction()
    def test_webhook_stores_and_the_queue_opens(self):
        """The webhook only stores the message and queues a task; the task
        opens every pending request; with a worker, a burst of webhooks
        queues one task"""
        pool = Pool()
        Message = pool.get('ev.helpdesk.whatsapp.message')
        Queue = pool.get('ir.queue')
        w = setup_helpdesk()
        tasks = [('name', '=', QUEUE_NAME)]
        # The tasks scheduled a minute ahead: however slow the machine, the
        # later webhooks find the first one still ahead
        with set_company(w.company), \
                patch_config('ev_helpdesk', 'whatsapp_batch_delay', '60'):
            parsed, _ = parse_notification(notification([text_message(
                            'wamid.Q1', CUSTOMER, "Payment failed")]))
            self.assertEqual(Message.intake(parsed, []), (1, 0))
            m = message('wamid.Q1')
            self.assertEqual((m.request_state, m.request, m.party),
                ('pending', None, None))
            task, = Queue.search(tasks)
            self.assertEqual((task.data['model'], task.data['method'],
                    list(task.data['instances'])),
                ('ev.helpdesk.whatsapp.message', 'open_pending', [m.id]))
            self.assertGreater(task.scheduled_at, dt.datetime.now())

            with patch_config('queue', 'worker', 'True'):
                for wamid in ['wamid.Q2', 'wamid.Q3']:
                    parsed, _ = parse_notification(notification([
                                text_message(wamid, CUSTOMER, "Hello")]))
                    Message.intake(parsed, [])
            # The first task, scheduled ahead, sees both
            self.assertEqual(Queue.search_count(tasks), 1)

            Message.open_pending(Message.browse([m.id]))
            m2, m3 = message('wamid.Q2'), message('wamid.Q3')
            for m in [message('wamid.Q1'), m2, m3]:
                self.assertEqual((m.request_state, m.party),
                    ('opened', w.customer))
                self.assertEqual(m.request.sender, '+919845012345')
            self.assertEqual(Message.search_count(
                    [('request_state', '=', 'pending')]), 0)

    @with_transaction()
    def test_reply_resumes_the_waiting_ticket(self):
        "A reply goes onto the customer's waiting ticket, which resumes"
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        w = setup_helpdesk()
        with set_company(w.company):
            ticket, = Ticket.create([{'subject': "No charge",
                        'category': category('fault').id,
                        'company': w.company.id, 'party': w.customer.id}])
            Ticket.wait([ticket])
            receive(text_message('wamid.R', CUSTOMER, "Photo sent"))
            m = message('wamid.R')
            self.assertEqual((m.ticket, m.request.ticket, m.request.state),
                (ticket, ticket, 'ticket'))
            self.assertEqual(Ticket(ticket.id).state, 'in_progress')

    @with_transaction()
    def test_window_decides_text_or_template(self):
        Message = Pool().get('ev.helpdesk.whatsapp.message')
        w = setup_helpdesk()
        with set_company(w.company):
            configure()
            with self.assertRaises(UserError) as cm:
                Message.send_text('+919845012345', "Hello")
            self.assertEqual(cm.exception.message, "The customer "
                "+919845012345 has not written in the last 24 hours: free "
                "text cannot be sent outside the customer-service window. "
                "Send a template instead.")
            receive(text_message('wamid.W', CUSTOMER, "Hi",
                    time.time() - 25 * 3600))
            self.assertEqual(Message.reply('98450 12345', "Hello").type,
                'template')
            receive(text_message('wamid.W2', CUSTOMER, "Hi again"))
            reply = Message.reply('98450 12345', "Hello")
            self.assertEqual((reply.type, reply.text, reply.wa_id,
                    reply.status), ('text', "Hello", CUSTOMER, 'pending'))
            self.assertEqual(reply.graph_payload(), {
                    'messaging_product': 'whatsapp',
                    'recipient_type': 'individual', 'to': CUSTOMER,
                    'type': 'text',
                    'text': {'preview_url': False, 'body': "Hello"}})

    @with_transaction()
    def test_critical_and_fault_tickets_alert_the_team(self):
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        Message = pool.get('ev.helpdesk.whatsapp.message')
        w = setup_helpdesk()
        with set_company(w.company):
            configure(whatsapp_alert_template='ticket_alert',
                whatsapp_alert_numbers='+919900000001')
            w.technical.whatsapp_alert_numbers = (
                '+919900000002, +91 99000 00003')
            w.technical.save()
            fault, payment, critical = Ticket.create([
                    {'subject': "Charger down",
                        'category': category('fault').id},
                    {'subject': "Refund", 'category': category('payment').id},
                    {'subject': "Overcharged everyone",
                        'category': category('payment').id,
                        'priority': 'critical'},
                    ])
            alerts = Message.search([('type', '=', 'template')],
                order=[('id', 'ASC')])
            self.assertEqual([(a.ticket, a.phone, a.template,
                        json.loads(a.template_parameters), a.party)
                    for a in alerts], [
                    (fault, '+919900000002', 'ticket_alert',
                        [fault.number, "High", "Charger down"], None),
                    (fault, '+919900000003', 'ticket_alert',
                        [fault.number, "High", "Charger down"], None),
                    (critical, '+919900000001', 'ticket_alert',
                        [critical.number, "Critical",
                            "Overcharged everyone"], None),
                    ])

    @with_transaction()
    def test_ticket_raised_to_critical_alerts_the_team_once(self):
        """A ticket raised to critical later alerts its team once: not on
        the next writes, not lowered and raised again, not when it was
        critical from its opening"""
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        Message = pool.get('ev.helpdesk.whatsapp.message')
        Task = pool.get('ev.helpdesk.whatsapp.task')
        w = setup_helpdesk()

        def alerts():
            return [(a.ticket, a.phone, a.template,
                    json.loads(a.template_parameters))
                for a in Message.search([('type', '=', 'template')],
                    order=[('id', 'ASC')])]
        with set_company(w.company):
            configure(whatsapp_alert_template='ticket_alert',
                whatsapp_alert_numbers='+919900000001')
            w.technical.whatsapp_alert_numbers = '+919900000002'
            w.technical.save()
            refund, fault, critical = Ticket.create([
                    {'subject': "Refund", 'category': category('payment').id},
                    {'subject': "Charger down",
                        'category': category('fault').id},
                    {'subject': "Overcharged everyone",
                        'category': category('payment').id,
                        'priority': 'critical'},
                    ])
            opening = [
                (fault, '+919900000002', 'ticket_alert',
                    [fault.number, "High", "Charger down"]),
                (critical, '+919900000001', 'ticket_alert',
                    [critical.number, "Critical", "Overcharged everyone"]),
                ]
            self.assertEqual(alerts(), opening)
            self.assertIsNone(refund.became_critical_at)
            self.assertIsNotNone(critical.became_critical_at)

            # Raised by an agent of its department
            with as_user(w.agent):
                Ticket.write([Ticket(refund.id)], {'priority': 'critical'})
            raised = [(refund, '+919900000001', 'ticket_alert',
                    [refund.number, "Critical", "Refund"])]
            self.assertEqual(alerts(), opening + raised)
            self.assertIsNotNone(Ticket(refund.id).became_critical_at)
            # Written again, lowered, raised again: the team knows already
            Ticket.write([refund], {'priority': 'critical',
                    'subject': "Refund twice"})
            Ticket.write([refund], {'priority': 'high'})
            Ticket.write([refund], {'priority': 'critical'})
            Ticket.write([critical], {'priority': 'critical'})
            self.assertEqual(alerts(), opening + raised)

            # The fault ticket the team heard of as high, raised through
            # the form: the team hears it is critical now
            fault = Ticket(fault.id)
            fault.priority = 'critical'
            fault.save()
            raised.append((fault, '+919900000002', 'ticket_alert',
                    [fault.number, "Critical", "Charger down"]))
            self.assertEqual(alerts(), opening + raised)
            # Each goes out through the outbox
            messages = Message.search([('type', '=', 'template')])
            self.assertEqual(sorted(
                    (t.kind, t.message.id) for t in Task.search(
                        [('message', 'in', [m.id for m in messages])])),
                sorted(('send', m.id) for m in messages))

    @with_transaction()
    def test_agents_see_their_departments_messages(self):
        "An agent of another department cannot read the message"
        Message = Pool().get('ev.helpdesk.whatsapp.message')
        w = setup_helpdesk()
        with set_company(w.company):
            receive(text_message('wamid.D', CUSTOMER, "Refund please"))
            m = message('wamid.D')
            self.assertEqual(m.request.department, w.hotline)
            with as_user(w.agent):
                self.assertEqual(Message.search([]), [m])
                self.assertEqual(Message.read([m.id], ['text'])[0]['text'],
                    "Refund please")
            with as_user(w.technician):
                self.assertEqual(Message.search([]), [])
                with self.assertRaises(AccessError):
                    Message.read([m.id], ['text'])
            with as_user(w.installer):
                with self.assertRaises(AccessError):
                    Message.search([])
            with as_user(w.manager):
                self.assertEqual(Message.search([]), [m])

    @with_transaction()
    def test_secrets_are_for_administrators(self):
        "A helpdesk manager cannot read nor write the WhatsApp secrets"
        pool = Pool()
        Configuration = pool.get('ev.helpdesk.configuration')
        w = setup_helpdesk()
        configure(whatsapp_app_secret='s3cret')
        admin = create_user('hd-admin', 'ev_station.group_ev_admin')
        with set_company(w.company):
            for name in ['whatsapp_app_secret', 'whatsapp_access_token',
                    'whatsapp_verify_token']:
                with as_user(w.manager):
                    with self.assertRaises(AccessError):
                        Configuration.read([1], [name])
                    with self.assertRaises(AccessError):
                        Configuration.write([Configuration(1)],
                            {name: 'mine'})
            with as_user(w.manager):
                self.assertEqual(Configuration.read([1], [
                            'whatsapp_window_hours'])[0][
                        'whatsapp_window_hours'], 24)
            with as_user(admin):
                self.assertEqual(Configuration.read([1], [
                            'whatsapp_app_secret'])[0][
                        'whatsapp_app_secret'], 's3cret')
