# This file is part of the EV operations suite.
"""Tickets from charger alerts: the alerts are raised the way
ev_charger_iot raises them (health evaluation with a controlled clock)"""
from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_charger_iot.tests.test_health import (
    NOW, connector_status, create_charger, evaluate, heartbeat, minutes,
    seconds)
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import category, setup_helpdesk


def configure(**values):
    Configuration = Pool().get('ev.helpdesk.configuration')
    config = Configuration(1)
    for name, value in values.items():
        setattr(config, name, value)
    config.save()


def alert_tickets():
    Ticket = Pool().get('ev.helpdesk.ticket')
    return Ticket.search([('alert', '!=', None)], order=[('id', 'ASC')])


def notes(ticket):
    Note = Pool().get('ev.helpdesk.ticket.note')
    return [n.text for n in Note.search(
            [('ticket', '=', ticket.id)], order=[('id', 'ASC')])]


def fault(charger, at):
    "Connector 1 of `charger` faults at `at`, its alert raised"
    heartbeat(charger, at)
    connector_status(charger, 1, 'Faulted', at, fault_since=at)
    evaluate(at + seconds(120))


def add_connector(charger):
    Connector = Pool().get('ev.charger.connector')
    Connector.create([{'charger': charger.id, 'number': 1}])


class AlertTicketTestCase(ModuleDBTestCase):
    module = 'ev_helpdesk'

    @with_transaction()
    def test_fault_opens_one_ticket_per_episode(self):
        "One ticket per fault episode, the cron run twice; recovery noted"
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        Alert = pool.get('ev.charger.alert')
        w = setup_helpdesk()
        with set_company(w.company):
            configure(alert_fault_opens_ticket=True,
                alert_fault_priority='critical')
            add_connector(w.charger)
            fault(w.charger, NOW)
            alert, = Alert.search([('charger', '=', w.charger.id)])

            ticket, = Ticket.follow_alerts(now=NOW + seconds(130))
            self.assertEqual(
                (ticket.alert, ticket.origin, ticket.category,
                    ticket.priority, ticket.station, ticket.charger,
                    ticket.party, ticket.company, ticket.state,
                    ticket.department),
                (alert, alert, category('fault'), 'critical', w.station,
                    w.charger, w.customer, w.company, 'open', w.technical))
            self.assertEqual(ticket.subject,
                'Charger alert CP-HD-1 #1: Connector Fault')
            self.assertEqual(ticket.description,
                'Charger alert CP-HD-1 #1: Connector Fault since '
                '2026-03-02 10:00:00 (error code: -).')

            # The cron again, the same episode evaluated again: no new one
            self.assertEqual(Ticket.follow_alerts(now=NOW + seconds(140)),
                [])
            evaluate(NOW + minutes(10))
            self.assertEqual(Ticket.follow_alerts(now=NOW + minutes(10)),
                [])
            self.assertEqual(alert_tickets(), [ticket])
            self.assertEqual(notes(ticket), [])

            # The recovery closes the alert: noted on the ticket, once
            connector_status(w.charger, 1, 'Available', NOW + minutes(11))
            evaluate(NOW + minutes(11))
            self.assertEqual(Alert(alert.id).state, 'closed')
            self.assertEqual(Ticket.follow_alerts(now=NOW + minutes(11)),
                [])
            self.assertEqual(notes(ticket), [
                    'Charger CP-HD-1 recovered at 2026-03-02 10:11:00 UTC.'])
            ticket = Ticket(ticket.id)
            self.assertEqual(ticket.alert_recovered_at, NOW + minutes(11))
            self.assertEqual(ticket.state, 'open')
            Ticket.follow_alerts(now=NOW + minutes(12))
            self.assertEqual(len(notes(ticket)), 1)

            # Faulted again: a new episode, a new ticket
            fault(w.charger, NOW + minutes(20))
            second, = Ticket.follow_alerts(now=NOW + minutes(23))
            self.assertNotEqual(second.alert, alert)
            self.assertEqual(alert_tickets(), [ticket, second])

    @with_transaction()
    def test_offline_opens_a_ticket_after_the_configured_minutes(self):
        "Offline alert at 8 min; the ticket only once offline for 60 min"
        Ticket = Pool().get('ev.helpdesk.ticket')
        w = setup_helpdesk()
        with set_company(w.company):
            configure(alert_offline_minutes=60,
                alert_offline_priority='medium')
            heartbeat(w.charger, NOW)
            evaluate(NOW + minutes(8))
            self.assertEqual(Ticket.follow_alerts(now=NOW + minutes(8)), [])
            evaluate(NOW + minutes(59))
            self.assertEqual(Ticket.follow_alerts(now=NOW + minutes(59)), [])
            ticket, = Ticket.follow_alerts(now=NOW + minutes(60))
            self.assertEqual(
                (ticket.alert.kind, ticket.alert.since, ticket.priority),
                ('offline', NOW, 'medium'))
            self.assertEqual(Ticket.follow_alerts(now=NOW + minutes(90)), [])
            # Heard of again: recovered
            heartbeat(w.charger, NOW + minutes(95))
            evaluate(NOW + minutes(95))
            Ticket.follow_alerts(now=NOW + minutes(95))
            self.assertEqual(notes(ticket), [
                    'Charger CP-HD-1 recovered at 2026-03-02 11:35:00 UTC.'])

    @with_transaction()
    def test_configuration_off_opens_nothing(self):
        "By default no alert opens a ticket; without a company, the first's"
        Ticket = Pool().get('ev.helpdesk.ticket')
        w = setup_helpdesk()
        with set_company(w.company):
            add_connector(w.charger)
            fault(w.charger, NOW)
            evaluate(NOW + minutes(600))
            self.assertEqual(
                Ticket.follow_alerts(now=NOW + minutes(600)), [])
            self.assertEqual(alert_tickets(), [])
            configure(alert_fault_opens_ticket=True, alert_offline_minutes=0)
        # A cron that lists no company: the first company's tickets
        with Transaction().set_context(company=None):
            tickets = Ticket.follow_alerts(now=NOW + minutes(600))
        # CP-HD-1 is also silent since NOW: offline too
        self.assertEqual(
            sorted((t.alert.kind, t.company) for t in tickets),
            [('fault', w.company), ('offline', w.company)])

    @with_transaction()
    def test_a_client_cannot_claim_an_alert(self):
        "Linking a ticket to an alert over RPC is refused, nothing written"
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        Alert = pool.get('ev.charger.alert')
        w = setup_helpdesk()
        with set_company(w.company):
            add_connector(w.charger)
            fault(w.charger, NOW)
            alert, = Alert.search([])
            ticket, = Ticket.create([{'subject': "By hand",
                        'category': category('fault').id}])
            with as_user(w.manager):
                with self.assertRaises(AccessError) as cm:
                    Ticket.write([Ticket(ticket.id)], {'alert': alert.id})
                self.assertEqual(cm.exception.message,
                    'Only the alert control links a ticket to a '
                    'charger alert.')
            self.assertIsNone(Ticket(ticket.id).alert)
            # The alert still opens its ticket
            configure(alert_fault_opens_ticket=True)
            opened, = Ticket.follow_alerts(now=NOW + seconds(130))
            self.assertEqual(opened.alert, alert)
            # Nor can a client create a ticket on an alert (refused once
            # created: the RPC call's transaction is rolled back)
            other = create_charger('CP-HD-2', station=w.station)
            fault(other, NOW)
            other_alert, = Alert.search([('charger', '=', other.id)])
            with as_user(w.manager):
                with self.assertRaises(AccessError) as cm:
                    Ticket.create([{'subject': "Claim",
                                'category': category('fault').id,
                                'alert': other_alert.id}])
                self.assertEqual(cm.exception.message,
                    'Only the alert control links a ticket to a '
                    'charger alert.')


del ModuleDBTestCase
