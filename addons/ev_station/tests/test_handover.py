# This file is part of the EV operations suite.

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from .tools import (
    ModuleDBTestCase, as_user, create_station, create_user, days, today)


class HandoverTestCase(ModuleDBTestCase):
    "Chain of control: accepted, completed, forwarded, and overdue"

    def setup_chain(self):
        self.sales = create_user('sales', 'group_sales')
        self.warehouse = create_user('warehouse', 'group_warehouse')
        self.logistics = create_user('logistics', 'group_logistics')
        self.station = create_station()
        with as_user(self.sales):
            entry = self.station.record_event(
                'note', "Please check the components",
                next_owner=self.warehouse,
                next_action="Confirm component availability",
                follow_up_date=today() + days(2))
        handover, = entry.handovers
        return handover

    def handover_of(self, user, domain):
        Handover = Pool().get('ev.station.handover')
        with as_user(user):
            return Handover.search(domain)

    @with_transaction()
    def test_forwarding_creates_a_pending_handover(self):
        "The forwarder stays responsible until the receiver confirms"
        handover = self.setup_chain()
        self.assertEqual(handover.state, 'pending')
        self.assertEqual(handover.forwarder, self.sales)
        self.assertEqual(handover.receiver, self.warehouse)
        self.assertEqual(handover.responsible, self.sales)
        self.assertEqual(
            self.handover_of(self.sales, [('my_open', '=', True)]),
            [handover])
        self.assertEqual(
            self.handover_of(self.warehouse, [('my_open', '=', True)]), [])
        self.assertEqual(
            self.handover_of(self.warehouse, [('my_task', '=', True)]),
            [handover])
        self.assertEqual(self.station.next_step,
            "Confirm component availability")
        Station = Pool().get('ev.station')
        with as_user(self.warehouse):
            self.assertEqual(
                Station.search([('is_mine', '=', True)]), [self.station])

    @with_transaction()
    def test_accept_then_complete(self):
        "Accepting releases the forwarder; completing closes the task"
        Handover = Pool().get('ev.station.handover')
        handover = self.setup_chain()
        with as_user(self.warehouse):
            Handover.accept([Handover(handover.id)])
        handover = Handover(handover.id)
        self.assertEqual(handover.state, 'accepted')
        self.assertIsNotNone(handover.accepted_at)
        self.assertEqual(handover.responsible, self.warehouse)
        self.assertEqual(
            self.handover_of(self.sales, [('my_open', '=', True)]), [])
        with as_user(self.warehouse):
            Handover.complete([Handover(handover.id)])
        handover = Handover(handover.id)
        self.assertEqual(handover.state, 'completed')
        codes = [e.event_type.code for e in self.station.events]
        self.assertIn('handover_accepted', codes)
        self.assertIn('handover_completed', codes)
        self.assertEqual(
            self.handover_of(self.warehouse, [('my_task', '=', True)]), [])

    @with_transaction()
    def test_complete_directly(self):
        "A receiver may complete a task without accepting it first"
        Handover = Pool().get('ev.station.handover')
        handover = self.setup_chain()
        with as_user(self.warehouse):
            Handover.complete([Handover(handover.id)])
        self.assertEqual(Handover(handover.id).state, 'completed')

    @with_transaction()
    def test_forward_on(self):
        "Forwarding on closes this handover and opens the next one"
        Handover = Pool().get('ev.station.handover')
        handover = self.setup_chain()
        with as_user(self.warehouse):
            new, = Handover.forward_to(
                [Handover(handover.id)], self.logistics,
                today() + days(3), next_action="Book a carrier")
        handover = Handover(handover.id)
        new = Handover(new.id)
        self.assertEqual(handover.state, 'forwarded')
        self.assertEqual(new.parent, handover)
        self.assertEqual(new.forwarder, self.warehouse)
        self.assertEqual(new.receiver, self.logistics)
        self.assertEqual(new.state, 'pending')
        self.assertEqual(
            self.handover_of(self.warehouse, [('my_open', '=', True)]),
            [new])
        with as_user(self.warehouse):
            with self.assertRaisesRegex(UserError, 'closed'):
                Handover.forward_to(
                    [Handover(handover.id)], self.logistics, today())

    @with_transaction()
    def test_only_receiver_confirms(self):
        "Someone else cannot accept a handover in the receiver's place"
        Handover = Pool().get('ev.station.handover')
        handover = self.setup_chain()
        with as_user(self.logistics):
            with self.assertRaisesRegex(AccessError, 'Only "Warehouse"'):
                Handover.accept([Handover(handover.id)])
        with as_user(self.sales):
            with self.assertRaises(AccessError):
                Handover.complete([Handover(handover.id)])
        self.assertEqual(Handover(handover.id).state, 'pending')

    @with_transaction()
    def test_escalation_point_may_confirm(self):
        "The single point of access can act on any handover"
        pool = Pool()
        Handover = pool.get('ev.station.handover')
        Configuration = pool.get('ev.station.configuration')
        handover = self.setup_chain()
        support = create_user('support', 'group_support')
        configuration = Configuration(1)
        configuration.escalation_user = support
        configuration.save()
        with as_user(support):
            Handover.accept([Handover(handover.id)])
        self.assertEqual(Handover(handover.id).state, 'accepted')

    @with_transaction()
    def test_handover_cannot_be_edited_or_deleted(self):
        "A handover changes only through its buttons"
        Handover = Pool().get('ev.station.handover')
        handover = self.setup_chain()
        for user in [self.sales, self.warehouse]:
            with as_user(user):
                with self.assertRaises(AccessError):
                    Handover.write([Handover(handover.id)],
                        {'receiver': self.logistics.id})
                with self.assertRaises(AccessError):
                    Handover.delete([Handover(handover.id)])

    @with_transaction()
    def test_handover_to_nobody(self):
        "A handover needs a receiver and a follow-up date"
        Handover = Pool().get('ev.station.handover')
        handover = self.setup_chain()
        with as_user(self.warehouse):
            with self.assertRaisesRegex(UserError, 'needs a receiver'):
                Handover.forward_to(
                    [Handover(handover.id)], None, today() + days(1))
        self.assertEqual(Handover(handover.id).state, 'pending')

    @with_transaction()
    def test_forward_entry_without_receiver(self):
        "A 'Task forwarded' entry names the person it is forwarded to"
        station = create_station()
        with self.assertRaisesRegex(ValidationError, 'forwarded to'):
            station.record_event(
                'handover_forwarded', "Passing this on",
                follow_up_date=today())

    @with_transaction()
    def test_forward_without_follow_up(self):
        "Section 9: passing a task on without a follow-up is incomplete"
        station = create_station()
        warehouse = create_user('warehouse', 'group_warehouse')
        with self.assertRaisesRegex(ValidationError, 'Follow-up Date'):
            station.record_event(
                'note', "Check stock", next_owner=warehouse)

    @with_transaction()
    def test_handover_to_self(self):
        "Nobody hands a task over to themselves"
        sales = create_user('sales', 'group_sales')
        station = create_station()
        with as_user(sales):
            with self.assertRaisesRegex(UserError, 'themselves'):
                station.record_event(
                    'note', "Me again", next_owner=sales,
                    follow_up_date=today())

    @with_transaction()
    def test_overdue_notifies_forwarder_and_escalation_point(self):
        "Past the follow-up date the forwarder and the escalation point hear"
        pool = Pool()
        Handover = pool.get('ev.station.handover')
        Notification = pool.get('res.notification')
        Configuration = pool.get('ev.station.configuration')
        Group = pool.get('res.group')
        sales = create_user('sales', 'group_sales')
        warehouse = create_user('warehouse', 'group_warehouse')
        support = create_user('support', 'group_support')
        lead = create_user('lead', 'group_ev_admin')
        escalation = Group(name="Escalation desk", users=[lead])
        escalation.save()
        configuration = Configuration(1)
        configuration.escalation_user = support
        configuration.escalation_group = escalation
        configuration.save()
        station = create_station()
        with as_user(sales):
            late = station.record_event(
                'note', "Reserve the components", next_owner=warehouse,
                follow_up_date=today() - days(1)).handovers[0]
            station.record_event(
                'note', "Not due yet", next_owner=warehouse,
                follow_up_date=today() + days(1))
        self.assertTrue(late.overdue)
        self.assertEqual(Handover.search([('overdue', '=', True)]), [late])

        notified = Handover.notify_overdue()
        self.assertEqual(notified, [late])
        users = {n.user for n in Notification.search([
                    ('model', '=', 'ev.station.handover'),
                    ])}
        self.assertEqual(users, {sales, support, lead})
        self.assertNotIn(warehouse, users)
        self.assertIsNotNone(Handover(late.id).escalated_at)
        self.assertIn('follow_up_overdue',
            [e.event_type.code for e in station.events])

        # Once notified, the next run stays quiet
        self.assertEqual(Handover.notify_overdue(), [])

    @with_transaction()
    def test_accepted_handover_is_no_longer_forwarders(self):
        "Overdue after acceptance also reminds the receiver"
        pool = Pool()
        Handover = pool.get('ev.station.handover')
        Notification = pool.get('res.notification')
        sales = create_user('sales', 'group_sales')
        warehouse = create_user('warehouse', 'group_warehouse')
        station = create_station()
        with as_user(sales):
            handover = station.record_event(
                'note', "Reserve", next_owner=warehouse,
                follow_up_date=today() - days(2)).handovers[0]
        with as_user(warehouse):
            Handover.accept([Handover(handover.id)])
        Handover.notify_overdue()
        users = {n.user for n in Notification.search([])}
        self.assertEqual(users, {sales, warehouse})
