# This file is part of the EV operations suite.
"""Tickets: their lifecycle, the reopen window, the service case they open,
and their doors tried by the users who may not go through them"""
import datetime as dt

from sql import Column

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import category, setup_helpdesk


def ticket(w, **values):
    Ticket = Pool().get('ev.helpdesk.ticket')
    values.setdefault('subject', "Charger does not start")
    values.setdefault('category', category('fault').id)
    values.setdefault('company', w.company.id)
    ticket, = Ticket.create([values])
    return ticket


def log_texts(station):
    Log = Pool().get('ev.station.log')
    return [(e.event_type.code, e.text) for e in Log.search(
            [('station', '=', station.id)], order=[('id', 'ASC')])]


class TicketTestCase(ModuleDBTestCase):
    module = 'ev_helpdesk'

    @with_transaction()
    def test_lifecycle(self):
        "Open → In Progress → Waiting → In Progress → Resolved → Closed"
        Ticket = Pool().get('ev.helpdesk.ticket')
        w = setup_helpdesk()
        with set_company(w.company):
            t = ticket(w, station=w.station.id, charger=w.charger.id)
            self.assertTrue(t.number.startswith('TCK-'))
            # The category's department and priority
            self.assertEqual((t.department, t.priority),
                (w.technical, 'high'))
            self.assertEqual(t.state, 'open')
            self.assertIsNone(t.first_response_at)
            with as_user(w.technician):
                Ticket.start([Ticket(t.id)])
            t = Ticket(t.id)
            self.assertEqual((t.state, t.agent), ('in_progress', w.technician))
            self.assertIsNotNone(t.first_response_at)
            Ticket.wait([t])
            self.assertIsNotNone(Ticket(t.id).waiting_since)
            Ticket.resume([t])
            self.assertIsNone(Ticket(t.id).waiting_since)
            with self.assertRaises(UserError) as cm:
                Ticket.resolve([t])
            self.assertEqual(cm.exception.message,
                f'To resolve ticket "{t.number}", say how it was resolved.')
            t.resolution = "Reset remotely; the charger starts again"
            t.save()
            Ticket.resolve([t])
            Ticket.close([t])
            t = Ticket(t.id)
            self.assertEqual(t.state, 'closed')
            self.assertIsNotNone(t.closed_at)
            # On the Station Record
            self.assertEqual(log_texts(w.station), [
                    ('helpdesk_ticket_opened', f"Helpdesk ticket {t.number} "
                        "opened (High): Charger does not start"),
                    ('helpdesk_ticket_resolved', f"Helpdesk ticket "
                        f"{t.number} resolved: Reset remotely; the charger "
                        "starts again"),
                    ])
            # Every change is kept
            history = Ticket.__table_history__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*history.select(history.state,
                    where=history.id == t.id,
                    order_by=[Column(history, '__id').asc]))
            states = [s for s, in cursor]
            self.assertEqual([s for i, s in enumerate(states)
                    if not i or states[i - 1] != s],
                ['open', 'in_progress', 'waiting', 'in_progress', 'resolved',
                    'closed'])

    @with_transaction()
    def test_station_set_later_gets_the_opening(self):
        """A station set after the opening gets the opening entry then,
        once; a station moved to another gets its own; none is edited"""
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        Station = pool.get('ev.station')
        Log = pool.get('ev.station.log')
        w = setup_helpdesk()
        with set_company(w.company):
            t = ticket(w)
            self.assertEqual(log_texts(w.station), [])
            with as_user(w.technician):
                Ticket.write([Ticket(t.id)], {'station': w.station.id})
            opened = ('helpdesk_ticket_opened', f"Helpdesk ticket "
                f"{t.number} opened (High): Charger does not start")
            self.assertEqual(log_texts(w.station), [opened])
            entry, = Log.search([('station', '=', w.station.id)])
            # Written again, with the same station or without it: no entry
            Ticket.write([t], {'station': w.station.id, 'charger':
                    w.charger.id})
            Ticket.write([t], {'subject': "Charger does not start at all"})
            self.assertEqual(log_texts(w.station), [opened])

            # Moved to another station (saved as the client does): the new
            # station's log learns of it; the first keeps its entry as is
            other = Station(customer=w.customer)
            other.save()
            t = Ticket(t.id)
            t.station = other
            t.charger = None
            t.save()
            self.assertEqual(log_texts(other), [('helpdesk_ticket_opened',
                        f"Helpdesk ticket {t.number} opened (High): Charger "
                        "does not start at all")])
            self.assertEqual(log_texts(w.station), [opened])
            self.assertEqual(
                (Log(entry.id).text, Log(entry.id).write_date),
                (entry.text, entry.write_date))
            # Back on a station it was on: that log knows of it already
            Ticket.write([t], {'station': w.station.id})
            Ticket.write([t], {'station': None})
            Ticket.write([t], {'station': other.id})
            self.assertEqual(len(log_texts(w.station)), 1)
            self.assertEqual(len(log_texts(other)), 1)

            # Opened on a station, written with it again: one entry
            on_station = ticket(w, station=other.id)
            Ticket.write([on_station], {'station': other.id})
            self.assertEqual([text for _, text in log_texts(other)], [
                    f"Helpdesk ticket {t.number} opened (High): Charger "
                    "does not start at all",
                    f"Helpdesk ticket {on_station.number} opened (High): "
                    "Charger does not start",
                    ])

    @with_transaction()
    def test_customer_reply_reopens_within_the_window(self):
        "A reply within the reopen hours reopens; a later one does not"
        Ticket = Pool().get('ev.helpdesk.ticket')
        w = setup_helpdesk()
        with set_company(w.company):
            recent, old, waiting = [ticket(w, resolution="Done")
                for _ in range(3)]
            Ticket.resolve([recent, old])
            now = dt.datetime.now()
            Ticket.write([old], {'resolved_at': now - dt.timedelta(hours=73)})
            Ticket.wait([waiting])
            too_old = Ticket.customer_replied(
                Ticket.browse([recent, old, waiting]), at=now)
            self.assertEqual(too_old, [Ticket(old.id)])
            self.assertEqual(
                [Ticket(t.id).state for t in [recent, old, waiting]],
                ['in_progress', 'resolved', 'in_progress'])
            self.assertIsNone(Ticket(recent.id).resolved_at)

    @with_transaction()
    def test_open_service_case(self):
        "A ticket on a station opens one service case, linked both ways"
        Ticket = Pool().get('ev.helpdesk.ticket')
        w = setup_helpdesk()
        with set_company(w.company):
            lonely = ticket(w)
            with self.assertRaises(UserError) as cm:
                Ticket.open_service_case([lonely])
            self.assertEqual(cm.exception.message,
                f'To open a service case from ticket "{lonely.number}", '
                'set its station.')
            t = ticket(w, station=w.station.id, description="Error E42")
            case, = Ticket.open_service_case([t])
            self.assertEqual((case.station, case.origin),
                (w.station, 'ticket'))
            self.assertEqual(case.description,
                f"{t.number}: Charger does not start\n\nError E42")
            self.assertEqual(case.tickets, (Ticket(t.id),))
            with self.assertRaises(UserError) as cm:
                Ticket.open_service_case([Ticket(t.id)])
            self.assertEqual(cm.exception.message,
                f'Ticket "{t.number}" already has service case '
                f'"{case.rec_name}".')

    @with_transaction()
    def test_no_delete_and_notes_are_evidence(self):
        "Tickets are not deleted; notes are never edited nor deleted"
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        Note = pool.get('ev.helpdesk.ticket.note')
        w = setup_helpdesk()
        with set_company(w.company):
            t = ticket(w)
            with self.assertRaises(UserError) as cm:
                Ticket.delete([t])
            self.assertEqual(cm.exception.message,
                "A ticket cannot be deleted: resolve or close it instead.")
            with as_user(w.technician):
                # The author is who writes, whatever the client sends
                note, = Note.create([{'ticket': t.id, 'text': "Called back",
                            'visibility': 'customer',
                            'author': w.manager.id}])
            self.assertEqual(note.author, w.technician)
            # An answer to the customer is the first response
            self.assertIsNotNone(Ticket(t.id).first_response_at)
            for operation in [
                    lambda: Note.write([note], {'text': "Never called"}),
                    lambda: Note.delete([note])]:
                with self.assertRaises(AccessError) as cm:
                    operation()
                self.assertEqual(cm.exception.message,
                    'Records of "Ticket Note" are evidence: they cannot be '
                    'edited or deleted. Record a correcting entry instead.')

    @with_transaction()
    def test_departments_keep_agents_to_their_tickets(self):
        """An agent sees their departments' tickets and those assigned to
        them, an installer only theirs, a CPO those about chargers; each
        fails at the others'"""
        Ticket = Pool().get('ev.helpdesk.ticket')
        w = setup_helpdesk()
        with set_company(w.company):
            fault = ticket(w, station=w.station.id, charger=w.charger.id)
            payment = ticket(w, subject="Charged twice",
                category=category('payment').id)
            assigned = ticket(w, subject="Site visit needed",
                category=category('complaint').id, agent=w.installer.id)
            seen = {}
            for user in [w.manager, w.dispatcher, w.agent, w.technician,
                    w.installer, w.cpo]:
                with as_user(user):
                    seen[user.login] = {t.id for t in Ticket.search([])}
            everything = {fault.id, payment.id, assigned.id}
            self.assertEqual(seen, {
                    'hd-manager': everything,
                    'hd-dispatcher': everything,
                    # hotline handles payments and complaints
                    'hd-agent': {payment.id, assigned.id},
                    'hd-tech': {fault.id},
                    'hd-installer': {assigned.id},
                    'hd-cpo': {fault.id},
                    })
            # Reading or writing another department's ticket by id fails
            with as_user(w.technician):
                with self.assertRaises(AccessError):
                    Ticket.read([payment.id], ['subject'])
                with self.assertRaises(AccessError):
                    Ticket.write([Ticket(payment.id)], {'subject': "Mine"})
            with as_user(w.cpo):
                with self.assertRaises(AccessError):
                    Ticket.write([Ticket(fault.id)], {'subject': "CPO"})
            with as_user(w.installer):
                with self.assertRaises(AccessError):
                    Ticket.create([{'subject': "Installer's own",
                                'category': category('fault').id,
                                'company': w.company.id}])
            self.assertEqual(Ticket(payment.id).subject, "Charged twice")
