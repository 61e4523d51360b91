# This file is part of the EV operations suite.
"""The dashboard's figures against tickets, notes and chargers made here,
and its per-agent figures closed to all but the managers"""
import datetime as dt

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.ev_field.tests.tools import create_user
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import category, setup_helpdesk

NOW = dt.datetime.now().replace(microsecond=0)


def ticket(w, code='fault', **values):
    Ticket = Pool().get('ev.helpdesk.ticket')
    values.setdefault('subject', "Charger does not start")
    values.setdefault('category', category(code).id)
    values.setdefault('company', w.company.id)
    ticket, = Ticket.create([values])
    return ticket


def period(w):
    "The context of the dashboard: the last 30 days"
    today = NOW.date()
    return Transaction().set_context(company=w.company.id,
        from_date=today - dt.timedelta(days=29), to_date=today)


def hours(n):
    return dt.timedelta(hours=n)


def calls(company, code, *started_at):
    "Calls of the category `code`, started at the UTC times given"
    Call = Pool().get('ev.helpdesk.call')
    return Call.create([{'company': company.id, 'category': category(code).id,
                'started_at': at} for at in started_at])


def days(from_date, to_date, company):
    return Transaction().set_context(company=company.id,
        from_date=from_date, to_date=to_date)


def utc(*args):
    return dt.datetime(*args)


class DashboardTestCase(ModuleDBTestCase):
    module = 'ev_helpdesk'

    @with_transaction()
    def test_tickets_by_state(self):
        "Open, in progress, waiting now; resolved in the period"
        Status = Pool().get('ev.helpdesk.dashboard.ticket')
        w = setup_helpdesk()
        with set_company(w.company):
            for state in ['open', 'open', 'in_progress', 'waiting']:
                ticket(w, state=state)
            ticket(w, state='resolved', resolved_at=NOW - hours(2),
                resolution="Reset")
            ticket(w, state='closed', resolved_at=NOW - hours(30),
                resolution="Reset")
            # Resolved before the period: not counted
            ticket(w, state='closed',
                resolved_at=NOW - dt.timedelta(days=45), resolution="Old")
            ticket(w, 'payment', priority='critical')
            ticket(w, 'payment', state='waiting')
            ticket(w, 'inquiry', state='resolved', resolved_at=NOW,
                resolution="Answered")
            with period(w):
                rows = Status.search([])
                figures = sorted(
                    (r.department.code, r.priority, r.open, r.in_progress,
                        r.waiting, r.resolved) for r in rows)
        self.assertEqual(figures, [
                ('hotline', 'critical', 1, 0, 0, 0),
                ('hotline', 'high', 0, 0, 1, 0),
                ('hotline', 'low', 0, 0, 0, 1),
                ('technical', 'high', 2, 1, 1, 2),
                ])

    @with_transaction()
    def test_charger_health(self):
        "The chargers of the network per health bucket"
        pool = Pool()
        Charger = pool.get('ev.charger')
        Health = pool.get('ev.helpdesk.dashboard.health')
        w = setup_helpdesk()
        with set_company(w.company):
            buckets = ['available', 'available', 'charging', 'faulted',
                'weak_signal', 'offline', 'offline']
            chargers = Charger.create([{'station': w.station.id,
                        'identity': f'CP-DASH-{i}'}
                    for i in range(len(buckets))])
            table = Charger.__table__()
            cursor = Transaction().connection.cursor()
            for charger, bucket in zip(chargers, buckets):
                cursor.execute(*table.update([table.health], [bucket],
                        where=table.id == charger.id))
            cursor.execute(*table.update([table.health], ['offline'],
                    where=table.id == w.charger.id))
            figures = sorted((r.health, r.chargers)
                for r in Health.search([]))
        self.assertEqual(figures, [('available', 2), ('charging', 1),
                ('faulted', 1), ('offline', 3), ('weak_signal', 1)])

    @with_transaction()
    def test_agents(self):
        "Tickets handled, resolved, average and median hours, notes"
        pool = Pool()
        Note = pool.get('ev.helpdesk.ticket.note')
        Agent = pool.get('ev.helpdesk.dashboard.agent')
        w = setup_helpdesk()
        start = NOW - dt.timedelta(days=3)
        with set_company(w.company):
            # The technician: resolved in 4 h and 10 h, one still open;
            # first responses after 1, 3 and 2 hours
            first = ticket(w, agent=w.technician.id, opened_at=start,
                first_response_at=start + hours(1),
                resolved_at=start + hours(4), state='resolved',
                resolution="Reset")
            ticket(w, agent=w.technician.id, opened_at=start,
                first_response_at=start + hours(3),
                resolved_at=start + hours(10), state='closed',
                resolution="Part replaced")
            ticket(w, agent=w.technician.id, opened_at=start,
                first_response_at=start + hours(2), state='in_progress')
            # Opened before the period: not counted
            ticket(w, agent=w.technician.id,
                opened_at=NOW - dt.timedelta(days=40),
                first_response_at=NOW - dt.timedelta(days=40),
                state='in_progress')
            # The hotline agent: one answered in half an hour, resolved in 1
            ticket(w, 'payment', agent=w.agent.id, opened_at=start,
                first_response_at=start + hours(0.5),
                resolved_at=start + hours(1), state='resolved',
                resolution="Refunded")
            # Nobody's yet
            ticket(w)
            with Transaction().set_user(w.technician.id):
                Note.create([{'ticket': first.id, 'text': "Called"},
                        {'ticket': first.id, 'text': "Reset remotely"}])
            with period(w):
                figures = sorted(
                    (r.agent.login, r.tickets, r.resolved, r.still_open,
                        r.average_resolution_hours,
                        r.median_resolution_hours,
                        r.average_response_hours, r.median_response_hours,
                        r.notes) for r in Agent.search([]))
        self.assertEqual(figures, [
                ('hd-agent', 1, 1, 0, 1.0, 1.0, 0.5, 0.5, 0),
                ('hd-tech', 3, 2, 1, 7.0, 7.0, 2.0, 2.0, 2),
                ])

    @with_transaction()
    def test_agent_figures_are_the_managers(self):
        "Agents, CPOs and dispatchers cannot read the per-agent figures"
        pool = Pool()
        Agent = pool.get('ev.helpdesk.dashboard.agent')
        Status = pool.get('ev.helpdesk.dashboard.ticket')
        w = setup_helpdesk()
        with set_company(w.company):
            ticket(w, agent=w.technician.id)
            for user in [w.agent, w.technician, w.cpo, w.dispatcher,
                    w.installer]:
                with as_user(user), period(w):
                    with self.assertRaises(AccessError) as cm:
                        Agent.read([r.id for r in Agent.search([])],
                            ['tickets'])
                    self.assertEqual(cm.exception.message,
                        'You are not allowed to access '
                        '"Helpdesk Agent Performance".')
            with as_user(w.manager), period(w):
                row, = Agent.search([])
                self.assertEqual((row.agent, row.tickets), (w.technician, 1))
            # The tickets by state: the office, not the agents
            with as_user(w.dispatcher), period(w):
                row, = Status.search([])
                self.assertEqual(row.open, 1)
            with as_user(w.agent), period(w):
                with self.assertRaises(AccessError):
                    Status.search([])

    @with_transaction()
    def test_calls_per_day(self):
        """The calls per category and day of the company's time zone, the
        days without calls included, with their 7-day average"""
        CallDay = Pool().get('ev.helpdesk.dashboard.call_day')
        w = setup_helpdesk()
        other = create_company(name="Other Charging Co")
        w.company.timezone = 'Asia/Kolkata'  # UTC+05:30
        w.company.save()
        with set_company(w.company):
            # Before the period: in the trend of its first days
            calls(w.company, 'fault', utc(2026, 3, 1, 4, 30))
            # 00:10 on 5 March in Kolkata is still the 4th in UTC
            calls(w.company, 'fault', utc(2026, 3, 4, 18, 40),
                utc(2026, 3, 5, 9, 0))
            # 23:50 on the 7th in Kolkata
            calls(w.company, 'fault', utc(2026, 3, 7, 18, 20))
            # 05:10 on the 9th in Kolkata: after the period
            calls(w.company, 'fault', utc(2026, 3, 8, 23, 40))
            calls(w.company, 'payment', utc(2026, 3, 6, 5, 0),
                utc(2026, 3, 6, 6, 0), utc(2026, 3, 6, 12, 0))
            # Long before: no row of General Inquiry
            calls(w.company, 'inquiry', utc(2026, 2, 20, 10, 0))
        with set_company(other):
            calls(other, 'payment', utc(2026, 3, 5, 10, 0))
            calls(other, 'complaint', utc(2026, 3, 6, 10, 0))
        with set_company(w.company):
            with days(dt.date(2026, 3, 5), dt.date(2026, 3, 8), w.company):
                figures = [(r.day, r.category.code, r.calls, r.trend)
                    for r in CallDay.search([])]
            march = [dt.date(2026, 3, d) for d in range(5, 9)]
            # By day, then by category name
            self.assertEqual(figures, [
                    (march[0], 'fault', 2, 3 / 7),
                    (march[0], 'payment', 0, 0.0),
                    (march[1], 'fault', 0, 3 / 7),
                    (march[1], 'payment', 3, 3 / 7),
                    (march[2], 'fault', 1, 4 / 7),
                    (march[2], 'payment', 0, 3 / 7),
                    (march[3], 'fault', 0, 3 / 7),
                    (march[3], 'payment', 0, 3 / 7),
                    ])
            # One day: its trend still counts the six before
            with days(march[2], march[2], w.company):
                figures = [(r.day, r.category.code, r.calls, r.trend)
                    for r in CallDay.search([])]
            self.assertEqual(figures, [
                    (march[2], 'fault', 1, 4 / 7),
                    (march[2], 'payment', 0, 3 / 7),
                    ])
            # The rows read again by their ids, and searched by category
            with days(march[0], march[3], w.company):
                rows = CallDay.search([('category.code', '=', 'fault'),
                        ('calls', '>', 0)])
                self.assertEqual([(r.day, r.calls)
                        for r in CallDay.browse([r.id for r in rows])],
                    [(march[0], 2), (march[2], 1)])
            # Before any call
            with days(dt.date(2026, 1, 1), dt.date(2026, 1, 31), w.company):
                self.assertEqual(CallDay.search([]), [])
            with days(dt.date(2025, 3, 1), dt.date(2026, 3, 8), w.company):
                with self.assertRaises(UserError) as cm:
                    CallDay.search([])
            self.assertEqual(cm.exception.message, "The calls per day cover "
                "at most 366 days: choose a shorter period than from "
                "03/01/2025 to 03/08/2026.")

    @with_transaction()
    def test_calls_per_day_are_the_offices(self):
        """Agents cannot read the calls per day; a dispatcher of another
        company asking for this company's sees nothing of them"""
        CallDay = Pool().get('ev.helpdesk.dashboard.call_day')
        w = setup_helpdesk()
        other = create_company(name="Other Charging Co")
        # The company keeps UTC: the day of the calls an hour ago
        day = (NOW - hours(1)).date()
        with set_company(w.company):
            calls(w.company, 'payment', NOW - hours(1))
        with set_company(other):
            calls(other, 'fault', NOW - hours(1))
            outsider = create_user('other-dispatcher',
                'ev_helpdesk.group_helpdesk_dispatcher')
            outsider.companies = [other]
            outsider.company = other
            outsider.save()
        with set_company(w.company):
            for user in [w.agent, w.technician, w.cpo, w.installer]:
                with as_user(user), period(w):
                    with self.assertRaises(AccessError) as cm:
                        CallDay.search([])
                    self.assertEqual(cm.exception.message,
                        'You are not allowed to access '
                        '"Helpdesk Calls per Day".')
            for user in [w.manager, w.dispatcher]:
                with as_user(user), period(w):
                    self.assertEqual([(r.day, r.category.code, r.calls)
                            for r in CallDay.search([('day', '=', day)])],
                        [(day, 'payment', 1)])
            with as_user(outsider), period(w):
                self.assertEqual(CallDay.search([]), [])
        with set_company(other):
            with as_user(outsider), days(day, day, other):
                self.assertEqual([(r.category.code, r.calls)
                        for r in CallDay.search([('day', '=', day)])],
                    [('fault', 1)])


del ModuleDBTestCase
