# This file is part of the EV operations suite.
import datetime
import email
import email.policy

from trytond import config
from trytond.model.exceptions import ValidationError
from trytond.modules.ev_station.exceptions import LogImmutableError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import (
    ModuleDBTestCase, SMTPServer, as_user, create_customer, create_station)


class CustomerEmailTestCase(ModuleDBTestCase):
    "Client visible + Email entries reach the customer through real SMTP"

    def setUp(self):
        self.smtp = SMTPServer()
        self._uri = config.get('email', 'uri')
        config.set('email', 'uri', self.smtp.uri)
        config.set('email', 'from', 'EV Operations <ops@ev.test>')
        config.set('email', 'retry', '0')
        if not config.has_section('ev_station'):
            config.add_section('ev_station')
        config.set('ev_station', 'email_max_attempts', '3')
        config.set('ev_station', 'email_retry_delay', '60')

    def tearDown(self):
        self.smtp.stop()
        config.set('email', 'uri', self._uri)

    def received(self):
        return [email.message_from_bytes(m.content, policy=email.policy.default)
            for m in self.smtp.messages]

    @with_transaction()
    def test_client_email_entry_is_sent(self):
        "The customer receives the event type's template, and it is archived"
        pool = Pool()
        LogEmail = pool.get('ev.station.log.email')
        Email = pool.get('ir.email')
        self.smtp.start()
        station = create_station(create_customer(
                "Meera Iyer", email='meera@example.com'))
        entry = station.record_event(
            'client_account_created', "Your account ACC-1001 is ready.",
            next_action="Agree the configuration with sales",
            eta=datetime.date(2026, 12, 1))
        self.assertEqual(entry.visibility, 'client_email')
        delivery, = entry.emails
        self.assertEqual(delivery.state, 'pending')
        self.assertEqual(entry.email_state, 'pending')

        LogEmail.deliver([delivery])

        message, = self.received()
        self.assertEqual(self.smtp.messages[0].rcpt_tos, ['meera@example.com'])
        self.assertEqual(message['Subject'],
            f"Your charging station {station.number}: "
            "customer account created")
        # Read as the customer reads it: no template markup left
        self.assertEqual(message.get_content().replace('\r\n', '\n'), (
                "Dear Meera Iyer,\n"
                "\n"
                "Your customer account has been created.\n"
                "\n"
                "Your account ACC-1001 is ready.\n"
                "\n"
                "Next step: Agree the configuration with sales\n"
                "Expected by: 12/01/2026\n"
                "\n"
                f"Station: {station.number}\n"
                "\n"
                "Kind regards,\n"
                "EV Operations\n"))
        delivery = LogEmail(delivery.id)
        self.assertEqual(delivery.state, 'sent')
        self.assertEqual(delivery.attempt_count, 1)
        self.assertEqual(entry.__class__(entry.id).email_state, 'sent')
        archived, = Email.search([('resource', '=', str(station))])
        self.assertEqual(archived.subject, message['Subject'])

    @with_transaction()
    def test_event_type_without_template(self):
        """An event type without template still greets the customer and
        gives the next step"""
        pool = Pool()
        LogEmail = pool.get('ev.station.log.email')
        EventType = pool.get('ev.station.event_type')
        self.assertFalse(EventType.from_code('note').email_body)
        self.smtp.start()
        station = create_station(create_customer(
                "Meera Iyer", email='meera@example.com'))
        entry = station.record_event('note', "The electrician comes Monday.",
            visibility='client_email', next_action="Keep the meter room open",
            eta=datetime.date(2026, 12, 7))
        LogEmail.deliver(list(entry.emails))

        message, = self.received()
        self.assertEqual(message['Subject'], f"{station.number}: Note")
        self.assertEqual(message.get_content().replace('\r\n', '\n'), (
                "Dear Meera Iyer,\n"
                "\n"
                "The electrician comes Monday.\n"
                "\n"
                "Next step: Keep the meter room open\n"
                "Expected by: 12/07/2026\n"
                "\n"
                f"Station: {station.number}\n"
                "\n"
                "Kind regards,\n"
                "EV Operations\n"))

    @with_transaction()
    def test_sent_email_is_immutable(self):
        """What the customer was sent cannot change: not by the admin over
        RPC, not by server code once it is sent"""
        pool = Pool()
        LogEmail = pool.get('ev.station.log.email')
        User = pool.get('res.user')
        self.smtp.start()
        station = create_station(create_customer(
                "Meera Iyer", email='meera@example.com'))
        entry = station.record_event(
            'client_account_created', "Your account ACC-1002 is ready.")
        delivery, = entry.emails
        admin, = User.search([('login', '=', 'admin')])
        message = ('Records of "Customer Email" are evidence: they cannot be '
            'edited or deleted. Record a correcting entry instead.')
        # Pending: the outbox's own columns only, and not from outside
        with as_user(admin), self.assertRaises(LogImmutableError) as cm:
            LogEmail.write([delivery], {'body': "Another text"})
        self.assertEqual(cm.exception.message, message)
        LogEmail.deliver([delivery])
        delivery = LogEmail(delivery.id)
        self.assertEqual(delivery.state, 'sent')
        for values in [{'subject': "Rewritten"}, {'body': "Rewritten"},
                {'recipient': 'someone@example.com'}]:
            with self.subTest(values=values):
                with self.assertRaises(LogImmutableError) as cm:
                    LogEmail.write([delivery], values)
                self.assertEqual(cm.exception.message, message)
        sent, = self.received()
        self.assertEqual(LogEmail(delivery.id).subject, sent['Subject'])

    @with_transaction()
    def test_internal_and_client_entries_send_nothing(self):
        "Only 'Client visible + Email' entries produce an email"
        station = create_station()
        internal = station.record_event('note', "Internal remark")
        client = station.record_event(
            'note', "Visible in the portal", visibility='client')
        self.assertEqual(internal.emails, ())
        self.assertEqual(client.emails, ())

    @with_transaction()
    def test_failed_send_is_retried(self):
        "A failed send stays visible on the entry and is retried later"
        pool = Pool()
        LogEmail = pool.get('ev.station.log.email')
        station = create_station()
        entry = station.record_event(
            'customer_update', "Your installer arrives at 10:00")
        delivery, = entry.emails

        # The SMTP server is down: the attempt fails and is kept
        LogEmail.deliver([delivery])
        delivery = LogEmail(delivery.id)
        self.assertEqual(delivery.state, 'pending')
        self.assertEqual(delivery.attempt_count, 1)
        self.assertTrue(delivery.last_error)
        self.assertGreater(delivery.next_attempt_at, datetime.datetime.now())

        # Not due yet: the cron leaves it alone
        LogEmail.deliver_due()
        self.assertEqual(LogEmail(delivery.id).attempt_count, 1)

        # The server is back and the retry is due
        self.smtp.start()
        with Transaction().set_context(_check_access=False):
            LogEmail.write([delivery], {
                    'next_attempt_at': datetime.datetime.now()
                    - datetime.timedelta(seconds=1)})
        LogEmail.deliver_due()
        delivery = LogEmail(delivery.id)
        self.assertEqual(delivery.state, 'sent')
        self.assertEqual(delivery.attempt_count, 2)
        message, = self.received()
        self.assertIn("Your installer arrives at 10:00", message.get_content())

    @with_transaction()
    def test_gives_up_after_max_attempts_and_can_be_retried(self):
        "After the last attempt it is marked failed; Retry starts again"
        pool = Pool()
        LogEmail = pool.get('ev.station.log.email')
        station = create_station()
        entry = station.record_event('customer_update', "Update")
        delivery, = entry.emails
        for _ in range(3):
            # Each retry is due (the backoff is not what this test is about)
            with Transaction().set_context(_check_access=False):
                LogEmail.write([delivery], {
                        'next_attempt_at': datetime.datetime.now()
                        - datetime.timedelta(seconds=1)})
            LogEmail.deliver([LogEmail(delivery.id)])
        delivery = LogEmail(delivery.id)
        self.assertEqual(delivery.state, 'failed')
        self.assertEqual(delivery.attempt_count, 3)
        self.assertEqual(entry.__class__(entry.id).email_state, 'failed')

        LogEmail.retry([delivery])
        self.smtp.start()
        LogEmail.deliver_due()
        self.assertEqual(LogEmail(delivery.id).state, 'sent')
        self.assertEqual(len(self.received()), 1)

    @with_transaction()
    def test_template_in_the_station_language(self):
        "The email uses the event type's template in the station's language"
        pool = Pool()
        Lang = pool.get('ir.lang')
        EventType = pool.get('ev.station.event_type')
        LogEmail = pool.get('ev.station.log.email')
        french, = Lang.search([('code', '=', 'fr')])
        french.translatable = True
        french.save()
        event_type = EventType.from_code('shipped')
        with Transaction().set_context(language='fr'):
            EventType.write([EventType(event_type.id)], {
                    'email_subject': "Votre borne ${station.number} "
                    "est en route",
                    'email_body': "Bonjour ${station.customer.name},\n"
                    "${entry.text}\n",
                    })
        self.smtp.start()
        station = create_station(
            create_customer("Camille Martin", email='camille@example.fr',
                lang=french), language=french)
        english = create_station(language=Lang.search(
                [('code', '=', 'en')])[0])
        entries = []
        for target in [station, english]:
            entries.append(Pool().get('ev.station.log')(
                    station=target, event_type=event_type,
                    text="BlueDart BD1", visibility='client_email',
                    override_by=1, override_reason="test of the template"))
        Pool().get('ev.station.log').save(entries)
        LogEmail.deliver([e for entry in entries for e in entry.emails])
        subjects = sorted(m['Subject'] for m in self.received())
        self.assertEqual(subjects, sorted([
                    f"Votre borne {station.number} est en route",
                    f"Your charging station {english.number}: shipped"]))
        french_message, = [m for m in self.received()
            if m['Subject'].startswith('Votre')]
        self.assertIn("Bonjour Camille Martin", french_message.get_content())
        self.assertEqual(french_message['Content-Language'], 'fr')

    @with_transaction()
    def test_every_shipped_template_renders(self):
        """Every event type's template, in every language the database
        translates, renders to text without template syntax, with and
        without the optional values"""
        pool = Pool()
        Lang = pool.get('ir.lang')
        EventType = pool.get('ev.station.event_type')
        Log = pool.get('ev.station.log')
        types = EventType.search([('email_body', '!=', None)])
        self.assertGreaterEqual(len(types), 10)
        languages = Lang.search([('translatable', '=', True)])
        self.assertTrue(languages)
        for lang in languages:
            station = create_station(
                create_customer("Meera Iyer", lang=lang), language=lang)
            for type_ in types:
                for values in [
                        {'next_action': None, 'eta': None},
                        {'next_action': "Call the electrician",
                            'eta': datetime.date(2026, 12, 1)}]:
                    entry = Log(station=station, event_type=type_,
                        text="What happened", follow_up_date=None,
                        timestamp=None, **values)
                    with self.subTest(lang=lang.code, type=type_.code,
                            values=values):
                        subject, body = type_.render_email(station, entry)
                        for text in [subject, body]:
                            for markup in ['{%', '%}', '${', '$', '#if',
                                    '#end']:
                                self.assertNotIn(markup, text)
                        self.assertIn(station.number, subject)
                        self.assertTrue(body.startswith("Dear Meera Iyer,"))
                        self.assertIn("What happened", body)
                        self.assertEqual("Next step: Call the electrician"
                            in body, bool(values['next_action']))

    @with_transaction()
    def test_template_sees_plain_values_only(self):
        "A template cannot reach objects: names with __ are refused"
        pool = Pool()
        EventType = pool.get('ev.station.event_type')
        event_type = EventType.from_code('customer_update')
        with self.assertRaises(ValidationError) as cm:
            EventType.write([event_type], {'email_body':
                    "${station.customer.__class__.__mro__}"})
        self.assertEqual(cm.exception.message,
            'The email template of "Customer update" cannot use names with '
            '"__": templates see plain values only.')
