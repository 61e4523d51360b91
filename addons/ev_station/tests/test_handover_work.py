# This file is part of the EV operations suite.
"Stale follow-ups close themselves: the step that does the work completes "
"the handover that asked for it"
from trytond.i18n import gettext
from trytond.model.exceptions import AccessError
from trytond.modules.ev_station.exceptions import LogValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import without_check_access

from .tools import (
    ModuleDBTestCase, as_user, create_station, create_user, days, today)


def fresh(station):
    "The station as stored now"
    return Pool().get('ev.station')(station.id)


class HandoverWorkTestCase(ModuleDBTestCase):
    "The log's `work` and `completes` keys"

    def ask(self, work, action, receiver=None, follow_up=2):
        "Sales hands `action` over to the warehouse, keyed by `work`"
        with as_user(self.sales):
            entry = self.station.record_event(
                'note', f"Please: {action}",
                next_owner=receiver or self.warehouse,
                next_action=action,
                follow_up_date=today() + days(follow_up),
                work=work)
        handover, = entry.handovers
        return handover

    def setup_users(self):
        self.sales = create_user('sales', 'group_sales')
        self.warehouse = create_user('warehouse', 'group_warehouse')
        self.logistics = create_user('logistics', 'group_logistics')
        self.station = create_station()

    def step(self, user, text, **values):
        "A module's step: it acts for its user without access checks"
        with as_user(user), without_check_access():
            return self.station.record_event('note', text, **values)

    @with_transaction()
    def test_step_completes_the_handover_it_answers(self):
        "The receiver need not act: the step completes it for its user"
        Handover = Pool().get('ev.station.handover')
        self.setup_users()
        handover = self.ask('job,1:review', "Review the survey of SRV-1")
        self.assertEqual(fresh(self.station).next_step, "Review the survey of SRV-1")

        entry = self.step(self.logistics, "Site ready after SRV-1",
            completes='job,1:review')

        handover = Handover(handover.id)
        self.assertEqual(handover.state, 'completed')
        self.assertEqual(handover.completed_by, self.logistics)
        self.assertEqual(handover.completed_entry, entry)
        self.assertIsNotNone(handover.closed_at)
        self.assertEqual(entry.completed_handovers, (handover,))
        self.assertEqual(entry.completes, 'job,1:review')
        # The log says whose step completed the task, in its own entry
        last = fresh(self.station).events[0]
        self.assertEqual(last.event_type.code, 'handover_completed')
        self.assertEqual(last.text, gettext(
                'ev_station.msg_text_completed_by_step',
                forwarder=self.sales.rec_name,
                receiver=self.warehouse.rec_name,
                action="Review the survey of SRV-1",
                step=entry.rec_name))
        # Nothing is left to do on the station
        self.assertIsNone(fresh(self.station).next_step)
        self.assertIsNone(fresh(self.station).follow_up_date)
        with as_user(self.warehouse):
            self.assertEqual(Handover.search([('my_task', '=', True)]), [])

    @with_transaction()
    def test_handover_for_other_work_stays_open(self):
        "Only the work named is done; the next step is the one still open"
        Handover = Pool().get('ev.station.handover')
        self.setup_users()
        other = self.ask('job,1:commission', "Commission INS-1", follow_up=5)
        review = self.ask('job,1:review', "Review the survey of SRV-1")
        other_station = create_station()
        with as_user(self.sales):
            elsewhere, = other_station.record_event('note', "Same key",
                next_owner=self.warehouse, next_action="Review elsewhere",
                follow_up_date=today() + days(1),
                work='job,1:review').handovers

        self.step(self.logistics, "Site ready", completes='job,1:review')

        self.assertEqual(Handover(review.id).state, 'completed')
        self.assertEqual(Handover(other.id).state, 'pending')
        self.assertEqual(Handover(elsewhere.id).state, 'pending')
        self.assertEqual(fresh(self.station).next_step, "Commission INS-1")
        self.assertEqual(fresh(self.station).follow_up_date, today() + days(5))
        self.assertEqual(fresh(other_station).next_step, "Review elsewhere")

    @with_transaction()
    def test_step_with_its_own_next_step(self):
        "A step that hands the next work over keeps its own next step"
        Handover = Pool().get('ev.station.handover')
        self.setup_users()
        commission = self.ask('job,2:commission', "Commission INS-2")
        with as_user(self.warehouse), without_check_access():
            entry = self.station.record_event('note', "Commissioned",
                next_owner=self.sales, next_action="Call the customer",
                follow_up_date=today() + days(1), work='job,2:closure_call',
                completes='job,2:commission')
        call, = entry.handovers
        self.assertEqual(Handover(commission.id).state, 'completed')
        self.assertEqual(call.state, 'pending')
        self.assertEqual(call.work, 'job,2:closure_call')
        self.assertEqual(fresh(self.station).next_step, "Call the customer")
        self.assertEqual(fresh(self.station).follow_up_date, today() + days(1))

    @with_transaction()
    def test_a_later_next_step_is_kept(self):
        "Completing does not clear a next step another entry set since"
        self.setup_users()
        self.ask('job,3:review', "Review SRV-3")
        with as_user(self.sales):
            self.station.record_event('note', "Customer asked for a quote",
                next_action="Send the quote")
        self.step(self.logistics, "Site ready", completes='job,3:review')
        self.assertEqual(fresh(self.station).next_step, "Send the quote")

    @with_transaction()
    def test_forwarded_task_keeps_its_work(self):
        "The one the task was forwarded to has it completed by the step"
        Handover = Pool().get('ev.station.handover')
        self.setup_users()
        handover = self.ask('job,4:review', "Review SRV-4")
        with as_user(self.warehouse):
            child, = Handover.forward_to([Handover(handover.id)],
                self.logistics, today() + days(3), next_action="Review SRV-4")
        self.assertEqual(child.work, 'job,4:review')
        self.step(self.sales, "Site ready", completes='job,4:review')
        self.assertEqual(Handover(handover.id).state, 'forwarded')
        self.assertEqual(Handover(child.id).state, 'completed')
        self.assertEqual(Handover(child.id).completed_by, self.sales)

    @with_transaction()
    def test_outsider_cannot_complete_through_the_log(self):
        "Writing `completes` in the log is no back door to others' tasks"
        pool = Pool()
        Handover = pool.get('ev.station.handover')
        Station = pool.get('ev.station')
        Log = pool.get('ev.station.log')
        self.setup_users()
        handover = self.ask('job,5:review', "Review SRV-5")
        before = Log.search([], count=True)
        with as_user(self.logistics):
            with self.assertRaises(AccessError) as cm:
                Station.record_events([self.station], 'note', "Done, trust me",
                    {'completes': 'job,5:review'})
        self.assertEqual(cm.exception.message, gettext(
                'ev_station.msg_handover_not_receiver',
                handover=handover.rec_name,
                receiver=self.warehouse.rec_name))
        self.assertEqual(Handover(handover.id).state, 'pending')
        self.assertEqual(Log.search([], count=True), before)

    @with_transaction()
    def test_receiver_completes_through_the_log(self):
        "The receiver's own entry may say it did the work"
        pool = Pool()
        Handover = pool.get('ev.station.handover')
        Station = pool.get('ev.station')
        self.setup_users()
        handover = self.ask('job,6:review', "Review SRV-6")
        with as_user(self.warehouse):
            ids = Station.record_events([self.station], 'note', "Reviewed",
                {'completes': 'job,6:review'})
        handover = Handover(handover.id)
        self.assertEqual(handover.state, 'completed')
        self.assertEqual(handover.completed_by, self.warehouse)
        self.assertEqual(handover.completed_entry.id, ids[0])

    @with_transaction()
    def test_work_without_receiver_refused(self):
        "A work key asks someone for it: without a next owner it is refused"
        self.setup_users()
        with as_user(self.sales):
            with self.assertRaises(LogValidationError) as cm:
                self.station.record_event('note', "Somebody review this",
                    work='job,7:review')
        self.assertEqual(cm.exception.message, gettext(
                'ev_station.msg_log_work_without_handover',
                entry="Note: Somebody review this"))

    @with_transaction()
    def test_manual_complete_releases_the_next_step(self):
        "Completing by hand also moves the station to its next open step"
        Handover = Pool().get('ev.station.handover')
        self.setup_users()
        first = self.ask(None, "Confirm components", follow_up=4)
        second = self.ask(None, "Book the carrier",
            receiver=self.logistics, follow_up=1)
        self.assertEqual(fresh(self.station).next_step, "Book the carrier")
        with as_user(self.logistics):
            Handover.complete([Handover(second.id)])
        self.assertEqual(Handover(second.id).completed_by, self.logistics)
        self.assertIsNone(Handover(second.id).completed_entry)
        self.assertEqual(fresh(self.station).next_step, "Confirm components")
        self.assertEqual(fresh(self.station).follow_up_date, today() + days(4))
        with as_user(self.warehouse):
            Handover.complete([Handover(first.id)])
        self.assertIsNone(fresh(self.station).next_step)
