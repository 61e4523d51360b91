# This file is part of the EV operations suite.
"""The SLA of tickets on ev_station's engine: clocks started with the
targets of the priority, paused while waiting on the customer, retargeted
on a priority change, stopped by the response and the resolution; the
supervisor told of a warning, the supervisor and the agent of a breach,
which the Station Record keeps. (The business-time arithmetic and its
exact due times are ev_station's tests: tests/test_sla.py there.)"""
import datetime as dt
import json

from trytond.modules.company.tests import set_company
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from .tools import category, setup_helpdesk

H = 3600


def ist(*args):
    return dt.datetime(*args) - dt.timedelta(hours=5, minutes=30)


def ticket(w, **values):
    Ticket = Pool().get('ev.helpdesk.ticket')
    values.setdefault('subject', "Charger does not start")
    values.setdefault('category', category('fault').id)  # High
    values.setdefault('company', w.company.id)
    ticket, = Ticket.create([values])
    return ticket


def clocks(ticket):
    Clock = Pool().get('ev.sla.clock')
    return {m: Clock.get_clocks([ticket], m)[0]
        for m in ['first_response', 'resolution']}


def notifications(user):
    Notification = Pool().get('res.notification')
    return [n.label for n in Notification.search(
            [('user', '=', user.id)], order=[('id', 'ASC')])]


class TicketSLATestCase(ModuleDBTestCase):
    module = 'ev_helpdesk'

    @with_transaction()
    def test_clocks_follow_the_ticket(self):
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        Event = pool.get('ev.sla.event')
        w = setup_helpdesk()
        with set_company(w.company):
            t = ticket(w)
            opened = t.opened_at.replace(microsecond=0)
            response, resolution = clocks(t).values()
            hours = resolution.calendar.business_hours()
            # High: a response within 1 h, a resolution within 8 h
            self.assertEqual(
                (response.target_seconds, resolution.target_seconds),
                (1 * H, 8 * H))
            self.assertEqual((response.started_at, resolution.due_at),
                (opened, hours.add_business_seconds(opened, 8 * H)))
            self.assertEqual(t.sla_clocks, (response, resolution))
            # The agent of the department sees them on the ticket
            with as_user(w.technician):
                self.assertEqual(
                    [c.due_at for c in Ticket(t.id).sla_clocks],
                    [response.due_at, resolution.due_at])

            # Waiting on Customer: the first response is given, the
            # resolution pauses
            Ticket.wait([t])
            response, resolution = clocks(t).values()
            self.assertEqual((response.state, resolution.state),
                ('met', 'paused'))
            # Raised to Critical while waiting: 4 h
            Ticket.write([t], {'priority': 'critical'})
            response, resolution = clocks(t).values()
            self.assertEqual((response.target_seconds,
                    resolution.target_seconds, resolution.state),
                (1 * H, 4 * H, 'paused'))
            Ticket.resume([t])
            self.assertEqual(clocks(t)['resolution'].state, 'running')
            t.resolution = "Reset remotely"
            t.save()
            Ticket.resolve([t])
            resolution = clocks(t)['resolution']
            self.assertEqual(resolution.state, 'met')
            self.assertEqual(
                [e.kind for e in Event.search(
                        [('clock', '=', resolution.id)],
                        order=[('id', 'ASC')])],
                ['started', 'paused', 'retargeted', 'resumed', 'met'])

    @with_transaction()
    def test_warning_and_breach(self):
        """Opened Fri 14 Aug 2026 17:00 IST, the eve of Independence Day,
        at High: the response is due Fri 18:00 (1 h), warned at 17:48
        (80 %); the resolution is due Mon 17 Aug 16:00 (1 h Friday, 7 h
        Monday)"""
        pool = Pool()
        Clock = pool.get('ev.sla.clock')
        Log = pool.get('ev.station.log')
        w = setup_helpdesk()
        w.company.timezone = 'Asia/Kolkata'
        w.company.save()
        with set_company(w.company):
            t = ticket(w, station=w.station.id, agent=w.agent.id,
                opened_at=ist(2026, 8, 14, 17))
        response, resolution = clocks(t).values()
        self.assertEqual((response.due_at, resolution.due_at),
            (ist(2026, 8, 14, 18), ist(2026, 8, 17, 16)))
        # The cron, as trytond-cron runs it (no company in the context)
        self.assertEqual(Clock.check_due(now=ist(2026, 8, 14, 17, 50)),
            [response])
        self.assertEqual(Clock.check_due(now=ist(2026, 8, 14, 17, 55)), [])
        self.assertEqual(notifications(w.manager), [
                f"Ticket {t.number} nears its First Response target: "
                "due 2026-08-14 18:00."])
        self.assertEqual(notifications(w.agent), [])
        self.assertEqual(sorted(c.id for c in Clock.check_due(
                        now=ist(2026, 8, 17, 16))),
            sorted([response.id, resolution.id]))
        self.assertEqual(Clock.check_due(now=ist(2026, 8, 17, 16, 5)), [])
        breaches = [
            f"Ticket {t.number} (High) breached its First Response target, "
            "due 2026-08-14 18:00.",
            f"Ticket {t.number} (High) breached its Resolution target, "
            "due 2026-08-17 16:00.",
            ]
        self.assertEqual(notifications(w.manager)[1:], breaches)
        self.assertEqual(notifications(w.agent), breaches)
        self.assertEqual([e.text for e in Log.search([
                        ('station', '=', w.station.id),
                        ('event_type.code', '=', 'helpdesk_sla_breached'),
                        ], order=[('id', 'ASC')])], breaches)

    @with_transaction()
    def test_breach_found_by_the_agent(self):
        """The agent answers a ticket already past its response target: the
        breach is settled in the agent's own transaction, with the agent's
        rights (the engine and the hooks write what the agent may not)"""
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        Log = pool.get('ev.station.log')
        w = setup_helpdesk()
        with set_company(w.company):
            t = ticket(w, station=w.station.id, priority='critical',
                opened_at=ist(2026, 8, 14, 17))
            # Critical: a response within 30 min, due Fri 17:30
            self.assertEqual(clocks(t)['first_response'].due_at,
                ist(2026, 8, 14, 17, 30))
            with as_user(w.technician):
                Ticket.start([Ticket(t.id)])
        response = clocks(t)['first_response']
        self.assertEqual(
            (response.state, response.breached_at, response.stopped_at),
            ('breached', ist(2026, 8, 14, 17, 30),
                Ticket(t.id).first_response_at.replace(microsecond=0)))
        self.assertEqual([e.text for e in Log.search([
                        ('station', '=', w.station.id),
                        ('event_type.code', '=', 'helpdesk_sla_breached'),
                        ])], [
                f"Ticket {t.number} (Critical) breached its First Response "
                "target, due 2026-08-14 12:00."])
        self.assertEqual(len(notifications(w.manager)), 1)

    @with_transaction()
    def test_near_breach_and_breached_lists(self):
        """The Near Breach tab lists the active tickets whose clock runs past
        its warning, the Breached tab those with a breached clock; an agent
        sees only their department's in them"""
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        Clock = pool.get('ev.sla.clock')
        w = setup_helpdesk()
        with set_company(w.company):
            near, breached, fine, other = [ticket(w) for _ in range(4)]
            Ticket.write([other], {'category': category('payment').id,
                    'department': w.hotline.id})
            now = dt.datetime.utcnow().replace(microsecond=0)
            Clock.write(Clock.get_clocks([near, other], 'resolution'), {
                    'warn_at': now - dt.timedelta(minutes=5),
                    'due_at': now + dt.timedelta(hours=1)})
            Clock.write(Clock.get_clocks([fine], 'resolution'), {
                    'warn_at': now + dt.timedelta(hours=1),
                    'due_at': now + dt.timedelta(hours=2)})
            Clock.write(Clock.get_clocks([breached], 'resolution'), {
                    'state': 'breached', 'breached_at': now})
            for t in [near, fine, other]:
                Clock.write(Clock.get_clocks([t], 'first_response'), {
                        'warn_at': now + dt.timedelta(hours=1),
                        'due_at': now + dt.timedelta(hours=2)})
            active = ('state', 'in', ['open', 'in_progress', 'waiting'])
            self.assertEqual(
                Ticket.search([active, ('sla_status', '=', 'near_breach')],
                    order=[('id', 'ASC')]), [near, other])
            self.assertEqual(
                Ticket.search([active, ('sla_status', '=', 'breached')]),
                [breached])
            self.assertEqual(
                [Ticket(t.id).sla_status for t in [near, breached, fine]],
                ['near_breach', 'breached', 'on_track'])
            self.assertEqual(Ticket(near.id).sla_due_at,
                now + dt.timedelta(hours=1))
            with as_user(w.technician):
                self.assertEqual(Ticket.search(
                        [('sla_status', '=', 'near_breach')]), [near])
            # An unknown status finds nothing rather than failing
            self.assertEqual(
                Ticket.search([('sla_status', '=', 'on_track')]), [])

    @with_transaction()
    def test_reopen_runs_the_resolution_clock_again(self):
        """A customer's reply within the reopen window runs the resolution
        clock again: the time it stood resolved does not count"""
        pool = Pool()
        Ticket = pool.get('ev.helpdesk.ticket')
        Event = pool.get('ev.sla.event')
        w = setup_helpdesk()
        with set_company(w.company):
            t = ticket(w, resolution="Reset remotely")
            Ticket.resolve([t])
            resolution = clocks(t)['resolution']
            self.assertEqual(resolution.state, 'met')
            Ticket.customer_replied([Ticket(t.id)])
            resolution = clocks(t)['resolution']
            self.assertEqual((Ticket(t.id).state, resolution.state,
                    resolution.stopped_at),
                ('in_progress', 'running', None))
            self.assertEqual(
                [e.kind for e in Event.search(
                        [('clock', '=', resolution.id)],
                        order=[('id', 'ASC')])],
                ['started', 'met', 'resumed'])

    @with_transaction()
    def test_many_breaches_at_once_make_one_notification(self):
        """Six tickets of one agent breach in one cron run (after a pause of
        the cron): the agent and the supervisor get one notification that
        opens the six, not six"""
        pool = Pool()
        Clock = pool.get('ev.sla.clock')
        Notification = pool.get('res.notification')
        w = setup_helpdesk()
        with set_company(w.company):
            tickets = [ticket(w, agent=w.agent.id,
                    opened_at=ist(2026, 8, 14, 17)) for _ in range(6)]
        Clock.check_due(now=ist(2026, 8, 18, 12))
        for user in [w.agent, w.manager]:
            breached = [n for n in Notification.search(
                    [('user', '=', user.id)], order=[('id', 'ASC')])
                if 'breached' in n.label]
            self.assertEqual(
                [(n.label, sorted(json.loads(n.records))) for n in breached], [
                    ("6 tickets breached their First Response target.",
                        sorted(t.id for t in tickets)),
                    ("6 tickets breached their Resolution target.",
                        sorted(t.id for t in tickets)),
                    ])
