# This file is part of the EV operations suite.
from decimal import Decimal

from sql import Table

from trytond.exceptions import UserError
from trytond.model.exceptions import (
    AccessError, RequiredValidationError, ValidationError)
from trytond.modules.ev_station.station import STAGES
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import (
    ModuleDBTestCase, as_user, create_customer, create_inr, create_station,
    create_user, walk_to)

LIFECYCLE = [
    'client_account_created', 'station_configuration_agreed',
    'station_created', 'prepayment_received', 'production_confirmed',
    'components_available', 'assembly_started', 'testing_started',
    'packaging_started', 'shipped', 'arrived_to_site',
    ]


class StationTestCase(ModuleDBTestCase):
    "Station Record: life cycle, event log and its immutability"

    def log_count(self):
        return Pool().get('ev.station.log').search([], count=True)

    @with_transaction()
    def test_number_from_sequence(self):
        "A new station gets its number from the sequence"
        first = create_station()
        second = create_station()
        self.assertRegex(first.number, r'^ST-\d{6}$')
        self.assertNotEqual(first.number, second.number)
        self.assertEqual(first.stage, 'offer')

    @with_transaction()
    def test_every_stage_has_a_required_event(self):
        "Each stage after the offer is reached by a required event type"
        EventType = Pool().get('ev.station.event_type')
        stages = {t.stage for t in EventType.search([]) if t.stage}
        self.assertEqual(stages, {code for code, _ in STAGES[1:]})

    @with_transaction()
    def test_events_move_the_stage_in_order(self):
        "Recording the events of section 6 walks the station through stages"
        station = create_station()
        for code in LIFECYCLE:
            entry = station.record_event(code, f"{code} happened")
            self.assertEqual(entry.stage, entry.event_type.stage)
            self.assertEqual(station.stage, entry.event_type.stage)
            self.assertFalse(entry.stage_override)
        self.assertEqual(station.stage, 'installation')
        self.assertEqual(station.sub_status, 'On site')

    @with_transaction()
    def test_skipping_a_stage_is_refused_and_writes_nothing(self):
        "Jumping over stages without an override is refused"
        station = create_station()
        before = self.log_count()
        with self.assertRaisesRegex(UserError, 'would skip the stages'):
            station.record_event('shipped', "Shipped already")
        self.assertEqual(self.log_count(), before)
        self.assertEqual(station.stage, 'offer')

    @with_transaction()
    def test_override_names_who_and_why(self):
        "An override entry with who and why may skip stages"
        User = Pool().get('res.user')
        admin, = User.search([('login', '=', 'admin')])
        station = create_station()
        with self.assertRaises(UserError):
            station.record_event(
                'production_confirmed', "Urgent order", override_by=admin)
        entry = station.record_event(
            'production_confirmed', "Urgent order for a hospital",
            override_by=admin,
            override_reason="Director approved production before payment")
        self.assertTrue(entry.stage_override)
        self.assertEqual(station.stage, 'production')
        Log = Pool().get('ev.station.log')
        self.assertEqual(
            Log.search([('stage_override', '=', True)]), [entry])

    @with_transaction()
    def test_used_event_type_keeps_what_entries_show(self):
        """Renaming, recoding or moving a used event type would change what
        past entries show: refused, in any language; an unused type and
        the email template of a used one may change"""
        pool = Pool()
        EventType = pool.get('ev.station.event_type')
        station = create_station()
        entry = station.record_event('note', "Called the customer")
        note = EventType.from_code('note')
        message = (f'The event type "{note.rec_name}" is used by entries of '
            'the log: its code, name and stage are what those entries show '
            'and cannot change. Create a new event type and deactivate this '
            'one instead.')
        for values, language in [({'name': "Renamed"}, None),
                ({'name': "Renommé"}, 'fr'), ({'code': 'renamed'}, None),
                ({'stage': 'commissioned'}, None)]:
            with self.subTest(values=values, language=language), \
                    Transaction().set_context(language=language):
                with self.assertRaises(UserError) as cm:
                    EventType.write([note], values)
                self.assertEqual(cm.exception.message, message)
        self.assertEqual(entry.event_type.rec_name, note.rec_name)
        EventType.write([note], {'email_subject': "Update on ${station.number}"})
        unused, = EventType.create([{'code': 'site_visit', 'name': "Visit",
                    'default_visibility': 'internal'}])
        EventType.write([unused], {'name': "Site visit", 'code': 'visit'})
        self.assertEqual(unused.rec_name, "Site visit")

    @with_transaction()
    def test_late_event_does_not_move_back(self):
        "A payment recorded after production leaves the stage where it is"
        station = create_station()
        walk_to(station, LIFECYCLE[:5])
        self.assertEqual(station.stage, 'production')
        entry = station.record_event(
            'partial_payment_received', "Second instalment")
        self.assertEqual(entry.stage, 'production')
        self.assertEqual(station.stage, 'production')

    @with_transaction()
    def test_stage_cannot_be_written_directly(self):
        "The stage moves only through the log, not by editing the station"
        pool = Pool()
        station = create_station()
        user = create_user('sales', 'group_sales')
        Station = pool.get('ev.station')
        with as_user(user):
            with self.assertRaises(AccessError):
                Station.write([Station(station.id)], {'stage': 'shipping'})
            Station.write([Station(station.id)], {'next_step': "Call back"})
        self.assertEqual(station.stage, 'offer')

    @with_transaction()
    def test_entry_has_author_and_timestamp(self):
        "Author and timestamp are set by the system, not by the input"
        pool = Pool()
        User = pool.get('res.user')
        Log = pool.get('ev.station.log')
        EventType = pool.get('ev.station.event_type')
        station = create_station()
        sales = create_user('sales', 'group_sales')
        admin, = User.search([('login', '=', 'admin')])
        with as_user(sales):
            entry, = Log.create([{
                        'station': station.id,
                        'event_type': EventType.from_code('note').id,
                        'text': "Customer prefers mornings",
                        'author': admin.id,
                        'stage': 'commissioned',
                        }])
        entry = Log(entry.id)
        self.assertEqual(entry.author, sales)
        self.assertIsNotNone(entry.timestamp)
        self.assertIsNone(entry.stage)  # a note does not move the station
        self.assertEqual(entry.visibility, 'internal')

    @with_transaction()
    def test_event_type_never_replaces_a_chosen_visibility(self):
        "The event type proposes a visibility until the user chooses one"
        pool = Pool()
        Log = pool.get('ev.station.log')
        EventType = pool.get('ev.station.event_type')
        note = EventType.from_code('note')
        client_types = EventType.search(
            [('default_visibility', '=', 'client')], limit=1)
        self.assertTrue(client_types, "an event type visible to the client")
        client_type, = client_types
        self.assertEqual(note.default_visibility, 'internal')

        entry = Log(**{n: v for n, v in Log.default_get(
                    ['visibility', 'visibility_proposed']).items()})
        entry.event_type = client_type
        entry.on_change_event_type()
        self.assertEqual(entry.visibility, 'client')
        entry.event_type = note
        entry.on_change_event_type()
        self.assertEqual(entry.visibility, 'internal')

        entry.visibility = 'client_email'  # the user's choice
        for event_type in [client_type, note]:
            entry.event_type = event_type
            entry.on_change_event_type()
            self.assertEqual(entry.visibility, 'client_email')

    @with_transaction()
    def test_entries_are_immutable_for_everyone(self):
        "No user, admin and root included, can edit or delete an entry"
        pool = Pool()
        User = pool.get('res.user')
        Log = pool.get('ev.station.log')
        station = create_station()
        entry = station.record_event('note', "Original text")
        admin, = User.search([('login', '=', 'admin')])
        sales = create_user('sales', 'group_sales')
        for user in [admin, sales]:
            with as_user(user):
                with self.assertRaises(AccessError):
                    Log.write([Log(entry.id)], {'text': "Rewritten"})
                with self.assertRaises(AccessError):
                    Log.delete([Log(entry.id)])
        # root, without access checks
        with self.assertRaises(AccessError):
            Log.write([entry], {'text': "Rewritten"})
        with self.assertRaises(AccessError):
            Log.delete([entry])
        self.assertEqual(Log(entry.id).text, "Original text")

    @with_transaction()
    def test_database_refuses_update_and_delete(self):
        "Even SQL around the ORM cannot rewrite the log"
        station = create_station()
        entry = station.record_event('note', "Original text")
        table = Table('ev_station_log')
        cursor = Transaction().connection.cursor()
        for query in [
                table.update([table.text], ["Rewritten"],
                    where=table.id == entry.id),
                table.delete(where=table.id == entry.id),
                ]:
            cursor.execute('SAVEPOINT ev_test')
            with self.assertRaises(Exception) as context:
                cursor.execute(*query)
            cursor.execute('ROLLBACK TO SAVEPOINT ev_test')
            self.assertIn('immutable', str(context.exception))
        cursor.execute(*table.select(
                table.text, where=table.id == entry.id))
        self.assertEqual(cursor.fetchone()[0], "Original text")

    @with_transaction()
    def test_correction_points_to_the_corrected_entry(self):
        "A correction is a new entry that names the entry it corrects"
        pool = Pool()
        Log = pool.get('ev.station.log')
        station = create_station()
        wrong = station.record_event('note', "Cable run is 8 m")
        with self.assertRaisesRegex(UserError, 'must name the entry'):
            station.record_event('correction', "Cable run is 18 m")
        correction = station.record_event(
            'correction', "Cable run is 18 m, not 8 m", corrects=wrong)
        wrong = Log(wrong.id)
        self.assertEqual(wrong.text, "Cable run is 8 m")
        self.assertTrue(wrong.corrected)
        self.assertEqual(wrong.corrections, (correction,))
        self.assertFalse(correction.corrected)

        other = create_station()
        with self.assertRaises(ValidationError):
            other.record_event('correction', "Wrong station", corrects=wrong)

    @with_transaction()
    def test_unknown_event_type(self):
        "An unknown event type gets a clear message and writes nothing"
        pool = Pool()
        Log = pool.get('ev.station.log')
        station = create_station()
        before = self.log_count()
        with self.assertRaisesRegex(UserError, 'no event type "teleported"'):
            station.record_event('teleported', "Beam me up")
        self.assertEqual(self.log_count(), before)
        # A raw id that does not exist is refused by the foreign key; the
        # request's transaction is rolled back (see tests/test_rpc.py).
        with self.assertRaises(UserError):
            Log.create([{
                        'station': station.id,
                        'event_type': 999999,
                        'text': "Unknown type id",
                        }])

    @with_transaction()
    def test_missing_required_fields(self):
        "An entry without text or event type is refused"
        pool = Pool()
        Log = pool.get('ev.station.log')
        EventType = pool.get('ev.station.event_type')
        station = create_station()
        with self.assertRaisesRegex(RequiredValidationError, '"Text"'):
            Log.create([{
                        'station': station.id,
                        'event_type': EventType.from_code('note').id,
                        }])

    @with_transaction()
    def test_missing_event_type(self):
        "An entry without event type is refused"
        Log = Pool().get('ev.station.log')
        station = create_station()
        with self.assertRaisesRegex(RequiredValidationError, '"Event Type"'):
            Log.create([{'station': station.id, 'text': "No type"}])

    @with_transaction()
    def test_client_email_needs_customer_email(self):
        "An entry cannot be emailed to a customer without an email address"
        customer = create_customer(email=None)
        station = create_station(customer=customer)
        with self.assertRaisesRegex(UserError, 'has no email address'):
            station.record_event(
                'customer_update', "Your slot is confirmed",
                visibility='client_email')

    @with_transaction()
    def test_commissioning_needs_main_photo(self):
        "Section 8: the main final-site photo exists before commissioning"
        pool = Pool()
        Photo = pool.get('ev.station.photo')
        User = pool.get('res.user')
        admin, = User.search([('login', '=', 'admin')])
        station = create_station()
        walk_to(station, LIFECYCLE)
        station.record_event('installation_completed', "Done")
        with self.assertRaisesRegex(UserError, 'main final-site photo'):
            station.record_event('commissioned', "Live")
        Photo(station=station, name='site.png', image=b'png', kind='main',
            taken_by=station.customer).save()
        station.record_event('commissioned', "Live")
        self.assertEqual(station.stage, 'commissioned')
        self.assertEqual(admin.login, 'admin')

    def _photo(self, station, name, kind='other', taker=None):
        Photo = Pool().get('ev.station.photo')
        photo = Photo(station=station, name=name, image=name.encode(),
            kind=kind, taken_by=taker or station.customer)
        photo.save()
        return photo

    @with_transaction()
    def test_photo_log_one_main(self):
        "Section 8: the final site photo stays the one main photo"
        station = create_station()
        self._photo(station, 'a.png', 'main')
        with self.assertRaisesRegex(ValidationError, 'only one main'):
            self._photo(station, 'b.png', 'main')

    @with_transaction()
    def test_photo_log_one_technical(self):
        "Section 8: one internal technical photo may be kept, not two"
        station = create_station()
        technical = self._photo(station, 't.png', 'technical')
        self.assertFalse(technical.client_visible)
        with self.assertRaisesRegex(ValidationError, 'only one internal'):
            self._photo(station, 't2.png', 'technical')

    @with_transaction()
    def test_photo_log_replace_main(self):
        "Replacing the main photo keeps the former one and logs who took it"
        pool = Pool()
        Photo = pool.get('ev.station.photo')
        Log = pool.get('ev.station.log')
        station = create_station()
        taker = create_customer("Ravi Installer", email=None)
        uploader = create_user('coordinator', 'group_installation')
        with as_user(uploader):
            first = self._photo(station, 'a.png', 'main', taker)
            second = self._photo(station, 'c.png', 'other', taker)
            Photo.set_main([Photo(second.id)])
        self.assertEqual(Photo(first.id).kind, 'other')
        self.assertEqual(Photo(second.id).kind, 'main')
        self.assertEqual(Photo(second.id).uploaded_by, uploader)
        entries = Log.search([
                ('station', '=', station.id),
                ('event_type.code', '=', 'photo_added'),
                ])
        self.assertEqual(len(entries), 3)
        self.assertTrue(all('Ravi Installer' in e.text for e in entries))

    @with_transaction()
    def test_payment_log(self):
        "A payment records its fact in the log and moves the stage"
        pool = Pool()
        Payment = pool.get('ev.station.payment')
        inr = create_inr()
        station = create_station()
        walk_to(station, LIFECYCLE[:3])
        with self.assertRaisesRegex(UserError, 'amount or a percentage'):
            Payment(station=station, type='prepayment').save()
        payment = Payment(
            station=station, type='prepayment', percentage=Decimal(30),
            amount=Decimal('30000'), currency=inr, reference='UTR123',
            notify_customer=True)
        payment.save()
        self.assertEqual(payment.entry.event_type.code, 'prepayment_received')
        self.assertEqual(payment.entry.visibility, 'client_email')
        self.assertIn('UTR123', payment.entry.text)
        self.assertIn('30%', payment.entry.text)
        self.assertEqual(station.stage, 'payment')
        self.assertEqual(station.sub_status, 'Prepaid')
        self.assertEqual(len(payment.entry.emails), 1)
        with self.assertRaises(AccessError):
            Payment.write([payment], {'reference': 'changed'})

    @with_transaction()
    def test_logistics_log(self):
        "Shipping and arrival are logged and visible to the customer"
        pool = Pool()
        Logistics = pool.get('ev.station.logistics')
        station = create_station()
        walk_to(station, LIFECYCLE[:9])
        shipment = Logistics(
            station=station, carrier="BlueDart", tracking_number='BD1')
        shipment.save()
        Logistics.ship([shipment])
        self.assertEqual(shipment.state, 'shipped')
        self.assertEqual(station.stage, 'shipping')
        Logistics.arrive([shipment])
        self.assertEqual(station.stage, 'installation')
        codes = [e.event_type.code for e in station.events]
        self.assertIn('shipped', codes)
        self.assertIn('arrived_to_site', codes)
        entry, = [e for e in station.events
            if e.event_type.code == 'shipped']
        self.assertEqual(entry.visibility, 'client')
        self.assertIn('BD1', entry.text)
        with self.assertRaises(AccessError):
            Logistics.delete([shipment])

