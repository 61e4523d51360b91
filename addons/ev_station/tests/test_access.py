# This file is part of the EV operations suite.
from decimal import Decimal

from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from .tools import (
    ModuleDBTestCase, as_user, create_customer, create_inr, create_station,
    create_user, walk_to)

ROLES = [
    'group_sales', 'group_packer', 'group_finance', 'group_production',
    'group_warehouse', 'group_assembly', 'group_testing', 'group_logistics',
    'group_installation', 'group_support',
    ]
STATION_CREATORS = {'group_sales', 'group_packer'}
STATION_EDITORS = STATION_CREATORS | {'group_installation', 'group_support'}
PAYMENT_RECORDERS = {'group_finance'}
SHIPPERS = {'group_logistics', 'group_warehouse'}


class AccessTestCase(ModuleDBTestCase):
    "Access rights of the roles of section 4 of the lifecycle policy"

    def users(self):
        return {g: create_user(g.replace('group_', ''), g) for g in ROLES}

    @with_transaction()
    def test_station_create_and_write(self):
        "Sales and packer create stations; coordinators and support edit"
        Station = Pool().get('ev.station')
        customer = create_customer()
        station = create_station(customer=customer)
        for group, user in self.users().items():
            with self.subTest(group=group), as_user(user):
                self.assertIn(station, Station.search([]))
                if group in STATION_CREATORS:
                    Station.create([{'customer': customer.id}])
                else:
                    with self.assertRaises(AccessError):
                        Station.create([{'customer': customer.id}])
                if group in STATION_EDITORS:
                    Station.write([Station(station.id)],
                        {'next_step': group})
                else:
                    with self.assertRaises(AccessError):
                        Station.write([Station(station.id)],
                            {'next_step': group})
                with self.assertRaises(AccessError):
                    Station.delete([Station(station.id)])

    @with_transaction()
    def test_every_role_records_events(self):
        "Any action is incomplete until recorded: every role may log"
        Station = Pool().get('ev.station')
        station = create_station()
        for group, user in self.users().items():
            with self.subTest(group=group), as_user(user):
                entry = Station(station.id).record_event(
                    'note', f"{group} was here")
                self.assertEqual(entry.author, user)

    @with_transaction()
    def test_payments_by_finance_only(self):
        "Only finance records the fact of a payment"
        pool = Pool()
        Payment = pool.get('ev.station.payment')
        inr = create_inr()
        station = create_station()
        walk_to(station, ['client_account_created',
                'station_configuration_agreed', 'station_created'])
        for group, user in self.users().items():
            with self.subTest(group=group), as_user(user):
                values = {
                    'station': station.id, 'type': 'partial',
                    'amount': Decimal(1000), 'currency': inr.id,
                    }
                if group in PAYMENT_RECORDERS:
                    Payment.create([values])
                else:
                    with self.assertRaises(AccessError):
                        Payment.create([values])
        self.assertEqual(Payment.search([], count=True), 1)

    @with_transaction()
    def test_logistics_by_logistics_and_warehouse(self):
        "Logistics and warehouse manage shipments; others only read"
        Logistics = Pool().get('ev.station.logistics')
        station = create_station()
        for group, user in self.users().items():
            with self.subTest(group=group), as_user(user):
                values = {'station': station.id, 'carrier': group}
                if group in SHIPPERS:
                    Logistics.create([values])
                else:
                    with self.assertRaises(AccessError):
                        Logistics.create([values])

    @with_transaction()
    def test_outsiders_see_nothing(self):
        "A user in no EV group cannot read stations nor their log"
        pool = Pool()
        Station = pool.get('ev.station')
        Log = pool.get('ev.station.log')
        User = pool.get('res.user')
        station = create_station()
        station.record_event('note', "Internal detail")
        outsider = User(login='outsider', name="Outsider")
        outsider.save()
        with as_user(outsider):
            for Model in [Station, Log]:
                with self.assertRaises(AccessError):
                    Model.search([])
                with self.assertRaises(AccessError):
                    Model.read([station.id], ['id'])

    @with_transaction()
    def test_configuration_by_admin_only(self):
        "Event types and the escalation point are set by the EV admin"
        pool = Pool()
        EventType = pool.get('ev.station.event_type')
        Configuration = pool.get('ev.station.configuration')
        admin = create_user('evadmin', 'group_ev_admin')
        support = create_user('support', 'group_support')
        note = EventType.from_code('note')
        with as_user(support):
            with self.assertRaises(AccessError):
                EventType.write([EventType(note.id)], {'name': "Memo"})
            with self.assertRaises(AccessError):
                Configuration.write(
                    [Configuration(1)], {'escalation_user': support.id})
        with as_user(admin):
            EventType.write([EventType(note.id)], {'name': "Memo"})
            Configuration.write(
                [Configuration(1)], {'escalation_user': support.id})
        self.assertEqual(Configuration(1).escalation_user, support)
