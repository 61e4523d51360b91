# This file is part of the EV operations suite.
"""Hotline calls: the caller found by a phone written any way, what the
call shows of them, the escalation to a ticket, the bad input refused, and
the doors tried by the users who may not go through them"""
import datetime as dt

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from . import test_ticket
from .tools import category, setup_helpdesk

# The customer's number (+91 98450 12345) as callers and agents write it
PHONE_FORMS = [
    "+91 98450 12345",
    "098450 12345",
    "9845012345",
    "91-98450-12345",
    "(+91) 98450-12345",
    "+91-98450 12345",
    "+91.98450.12345",
    "0091 98450 12345",
    ]


def call(w, **values):
    Call = Pool().get('ev.helpdesk.call')
    values.setdefault('category', category('payment').id)
    values.setdefault('phone', '+919845012345')
    call, = Call.create([values])
    return call


def ids(records):
    return [r.id for r in records]


class CallTestCase(ModuleDBTestCase):
    module = 'ev_helpdesk'

    @with_transaction()
    def test_caller_lookup_by_any_phone_form(self):
        "Each common Indian form of the number finds the customer"
        pool = Pool()
        Call = pool.get('ev.helpdesk.call')
        Party = pool.get('party.party')
        w = setup_helpdesk()
        with set_company(w.company):
            other = Party(name="Ravi Kumar", contact_mechanisms=[
                    {'type': 'phone', 'value': '+918041234567'}])
            other.save()
            with as_user(w.agent):
                for phone in PHONE_FORMS:
                    # Created over RPC by a telephony integration
                    c = call(w, phone=phone)
                    self.assertEqual((c.phone, c.party),
                        ('+919845012345', w.customer), phone)
                    # Typed by the agent in the form
                    form = Call(phone=phone)
                    form.on_change_phone()
                    self.assertEqual((form.phone, form.party),
                        ('+919845012345', w.customer), phone)
                c = call(w, phone="080 4123 4567")
                self.assertEqual(c.party, other)
                # A valid number nobody has
                c = call(w, phone="+91 99000 11223")
                self.assertEqual((c.phone, c.party), ('+919900011223', None))
                form = Call(phone="99000 11223")
                form.on_change_phone()
                self.assertIsNone(form.party)
                # The call history is searched by the phone in any form
                for phone in ["098450-12345", "+91 98450 12345"]:
                    found = Call.search([('rec_name', 'ilike', phone)])
                    self.assertEqual(len(found), len(PHONE_FORMS), phone)
                self.assertEqual(
                    len(Call.search([('rec_name', 'ilike', '%Asha%')])),
                    len(PHONE_FORMS))

    @with_transaction()
    def test_lookup_of_a_phone_stored_before_e164(self):
        "A number stored unnormalised (before ev_lead) is found once migrated"
        pool = Pool()
        Party = pool.get('party.party')
        Mechanism = pool.get('party.contact_mechanism')
        Call = pool.get('ev.helpdesk.call')
        w = setup_helpdesk()
        with set_company(w.company):
            legacy = Party(name="Old Customer", contact_mechanisms=[
                    {'type': 'mobile', 'value': '+919845054321'}])
            legacy.save()
            table = Mechanism.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*table.update(
                    [table.value, table.value_compact],
                    ['098450 54321', '098450 54321'],
                    where=table.party == legacy.id))
            Mechanism.normalize_legacy_phones('IN')
            with as_user(w.agent):
                form = Call(phone="98450-54321")
                form.on_change_phone()
                self.assertEqual(form.party, legacy)

    @with_transaction()
    def test_call_shows_what_the_caller_has(self):
        """Stations, chargers with their health, open tickets and service
        cases, the last ten log entries"""
        pool = Pool()
        Call = pool.get('ev.helpdesk.call')
        Charger = pool.get('ev.charger')
        Station = pool.get('ev.station')
        Case = pool.get('ev.service.case')
        Log = pool.get('ev.station.log')
        Ticket = pool.get('ev.helpdesk.ticket')
        Party = pool.get('party.party')
        w = setup_helpdesk()
        with set_company(w.company):
            cursor = Transaction().connection.cursor()
            charger_table = Charger.__table__()
            cursor.execute(*charger_table.update(
                    [charger_table.health], ['faulted'],
                    where=charger_table.id == w.charger.id))
            second = Station(customer=w.customer)
            second.save()
            neighbour = Party(name="Neighbour")
            neighbour.save()
            elsewhere = Station(customer=neighbour)
            elsewhere.save()
            payment = test_ticket.ticket(w, subject="Charged twice",
                category=category('payment').id, party=w.customer.id)
            resolved = test_ticket.ticket(w, subject="Old question",
                category=category('inquiry').id, party=w.customer.id,
                resolution="Answered")
            Ticket.resolve([resolved])
            open_case, closed_case = Case.create([{
                        'company': w.company.id,
                        'station': w.station.id,
                        'origin': 'manual',
                        'description': description,
                        'reported_at': dt.datetime.now(),
                        } for description in ["No power", "Cable cut"]])
            case_table = Case.__table__()
            cursor.execute(*case_table.update([case_table.state], ['closed'],
                    where=case_table.id == closed_case.id))
            for i in range(12):
                (w.station if i % 2 else second).record_event(
                    'note', f"Entry {i}")
            elsewhere.record_event('note', "Not the customer's")
            last_ten = ids(Log.search([
                        ('station', 'in', [w.station.id, second.id])],
                    order=[('timestamp', 'DESC'), ('id', 'DESC')],
                    limit=10))
            c = call(w)
            c = Call(c.id)
            self.assertEqual(c.party, w.customer)
            self.assertEqual(set(ids(c.customer_stations)),
                {w.station.id, second.id})
            self.assertEqual([(ch.identity, ch.health)
                    for ch in c.customer_chargers], [('CP-HD-1', 'faulted')])
            self.assertEqual(ids(c.open_tickets), [payment.id])
            self.assertEqual(ids(c.open_cases), [open_case.id])
            self.assertEqual(ids(c.recent_log), last_ten)
            self.assertIn("Entry 11", c.recent_log[0].text)
            # A caller nobody knows shows nothing
            nobody = call(w, phone="+91 99000 11223")
            self.assertEqual(
                [getattr(nobody, n) for n in ['customer_stations',
                        'customer_chargers', 'open_tickets', 'open_cases',
                        'recent_log']],
                [()] * 5)

    @with_transaction()
    def test_lookup_shows_only_what_the_agent_may_see(self):
        "A technical ticket of the caller is not shown to a hotline agent"
        pool = Pool()
        Call = pool.get('ev.helpdesk.call')
        w = setup_helpdesk()
        with set_company(w.company):
            payment = test_ticket.ticket(w, subject="Charged twice",
                category=category('payment').id, party=w.customer.id)
            fault = test_ticket.ticket(w, category=category('fault').id,
                party=w.customer.id, station=w.station.id)
            with as_user(w.agent):
                c = call(w)
                self.assertEqual(ids(Call(c.id).open_tickets), [payment.id])
                self.assertEqual(
                    Call.read([c.id], ['open_tickets'])[0]['open_tickets'],
                    (payment.id,))
            with as_user(w.manager):
                self.assertEqual(set(ids(Call(c.id).open_tickets)),
                    {payment.id, fault.id})

    @with_transaction()
    def test_escalate_to_ticket(self):
        "One click makes a ticket carrying everything; a second is refused"
        pool = Pool()
        Call = pool.get('ev.helpdesk.call')
        Ticket = pool.get('ev.helpdesk.ticket')
        w = setup_helpdesk()
        with set_company(w.company):
            with as_user(w.agent):
                c = call(w, category=category('fault').id,
                    charger=w.charger.id, phone="098450 12345",
                    notes="Charger shows E42\nRestarted twice, no luck")
                self.assertEqual(
                    (c.department, c.agent, c.state),
                    (w.technical, w.agent, 'open'))
                Call.escalate([Call(c.id)])
                c = Call(c.id)
                t = c.ticket
                self.assertEqual((c.state, c.outcome),
                    ('escalated', 'escalated'))
                self.assertIsNotNone(c.ended_at)
                self.assertEqual(
                    (t.subject, t.description, t.category, t.department,
                        t.agent, t.party, t.phone, t.station, t.charger,
                        t.origin, t.opened_at, t.priority, t.state),
                    ("Charger shows E42",
                        "Charger shows E42\nRestarted twice, no luck",
                        c.category, w.technical, w.agent, w.customer,
                        '+919845012345', w.station, w.charger, c,
                        c.started_at, 'high', 'open'))
                with self.assertRaises(UserError) as cm:
                    Call.escalate([Call(c.id)])
                self.assertEqual(cm.exception.message,
                    f'Call "{c.rec_name}" is already escalated to ticket '
                    f'"{t.number}".')
            self.assertEqual(Ticket.search([('origin', '=', str(c))]), [t])
            # Without notes the subject says who called about what
            quiet = call(w, category=category('inquiry').id)
            Call.escalate([quiet])
            self.assertEqual(Call(quiet.id).ticket.subject,
                "General Inquiry: call from Asha Rao")

    @with_transaction()
    def test_done_needs_an_outcome(self):
        "A call is finished with its outcome"
        Call = Pool().get('ev.helpdesk.call')
        w = setup_helpdesk()
        with set_company(w.company):
            c = call(w)
            with self.assertRaises(UserError) as cm:
                Call.done([c])
            self.assertEqual(cm.exception.message,
                f'To finish call "{c.rec_name}", set its outcome.')
            c.outcome = 'resolved'
            c.resolution = "Refund of the double charge confirmed"
            c.save()
            Call.done([c])
            c = Call(c.id)
            self.assertEqual(c.state, 'done')
            self.assertEqual(c.duration, c.ended_at - c.started_at)
            self.assertEqual(Call.search([('today', '=', True)]), [c])
            with self.assertRaises(UserError) as cm:
                Call.delete([c])
            self.assertEqual(cm.exception.message,
                "A call cannot be deleted: it is part of the call history.")

    @with_transaction()
    def test_bad_input(self):
        "An unknown category, an invalid phone, an end before the start"
        Call = Pool().get('ev.helpdesk.call')
        w = setup_helpdesk()
        with set_company(w.company):
            with as_user(w.agent):
                with self.assertRaises(UserError) as cm:
                    Call.log_call({'category': 'billing',
                            'phone': '+91 98450 12345'})
                self.assertEqual(cm.exception.message,
                    'There is no call category "billing". The categories '
                    'are: payment, fault, inquiry, complaint.')
                with self.assertRaises(UserError) as cm:
                    Call.log_call({'category': 'payment', 'caller': 'x'})
                self.assertEqual(cm.exception.message,
                    "A call has no field caller.")
                with self.assertRaises(ValidationError) as cm:
                    Call.log_call({'category': 'payment', 'phone': '12345'})
                self.assertEqual(cm.exception.message,
                    '"12345" is not a valid phone number for a call.')
                started = dt.datetime(2026, 12, 4, 10, 0)
                call_id = Call.log_call({'category': 'complaint',
                        'phone': '9845012345', 'started_at': started,
                        'ended_at': started + dt.timedelta(minutes=4)})
                c = Call(call_id)
                self.assertEqual(
                    (c.category, c.department, c.party, c.agent,
                        c.duration),
                    (category('complaint'), w.hotline, w.customer, w.agent,
                        dt.timedelta(minutes=4)))
                with self.assertRaises(ValidationError) as cm:
                    Call.write([c], {
                            'ended_at': started - dt.timedelta(minutes=1)})
                self.assertEqual(cm.exception.message,
                    f'Call "{c.rec_name}" cannot end before it started.')
            # Nothing half-written: the refused calls are not there
            self.assertEqual(Call.search([]), [c])

    @with_transaction()
    def test_departments_keep_agents_to_their_calls(self):
        """An agent of another department can neither read, write nor
        escalate a call; installers and CPOs cannot log calls"""
        Call = Pool().get('ev.helpdesk.call')
        w = setup_helpdesk()
        with set_company(w.company):
            with as_user(w.agent):
                payment = call(w, notes="Charged twice")
            fault = call(w, category=category('fault').id)
            seen = {}
            for user in [w.manager, w.dispatcher, w.agent, w.technician]:
                with as_user(user):
                    seen[user.login] = set(ids(Call.search([])))
            self.assertEqual(seen, {
                    'hd-manager': {payment.id, fault.id},
                    'hd-dispatcher': {payment.id, fault.id},
                    'hd-agent': {payment.id},
                    'hd-tech': {fault.id},
                    })
            with as_user(w.technician):
                for operation in [
                        lambda: Call.read([payment.id], ['notes']),
                        lambda: Call.write([Call(payment.id)],
                            {'notes': "Nothing happened"}),
                        lambda: Call.escalate([Call(payment.id)]),
                        ]:
                    with self.assertRaises(AccessError):
                        operation()
            self.assertEqual(
                (Call(payment.id).notes, Call(payment.id).ticket),
                ("Charged twice", None))
            for user in [w.installer, w.cpo]:
                with as_user(user):
                    with self.assertRaises(AccessError):
                        call(w)
                    with self.assertRaises(AccessError):
                        Call.log_call({'category': 'payment',
                                'phone': '9845012345'})
                    with self.assertRaises(AccessError):
                        Call.search([])
            self.assertEqual(len(Call.search([])), 2)
