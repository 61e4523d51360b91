"""The helpdesk of the demo (ev_helpdesk): the hotline's day.

Calls of each category (one escalated to a ticket), a WhatsApp
conversation in the inbox, and tickets in every state a Helpdesk Manager
meets — a critical charger fault
just opened, a payment problem in progress, a customer we wait on, one
resolved and one closed — on the demo's stations and customers, and an
inbox with requests from each channel. Every step is a button pressed by
the user who would press it: `hotline` (an Ops Agent of the Hotline),
`tech` (an agent of the Technical department), `dispatcher` and `helpdesk`
(the manager). Loaded once: a database with tickets is left alone."""
import datetime as dt
import logging

from demo.__main__ import PASSWORD, in_transaction

logger = logging.getLogger(__name__)

# login, name, group xml id of ev_helpdesk, department codes
HELPDESK_USERS = [
    ('helpdesk', "Harini Helpdesk", 'group_helpdesk_manager', []),
    ('dispatcher', "Dev Dispatcher", 'group_helpdesk_dispatcher', []),
    ('hotline', "Hema Hotline", 'group_helpdesk_agent', ['hotline']),
    ('tech', "Tarun Technical", 'group_helpdesk_agent',
        ['technical', 'maintenance']),
    ]


def load_helpdesk(database):
    def step(pool):
        if 'ev.helpdesk.ticket' not in dict(pool.iterobject()):
            return False
        Ticket = pool.get('ev.helpdesk.ticket')
        User = pool.get('res.user')
        coordinator = User.search([('login', '=', 'coordinator')])
        if (Ticket.search([], limit=1) or not coordinator
                or not coordinator[0].company):
            return False
        create_helpdesk(pool, coordinator[0].company)
        return True
    return in_transaction(database, step)


def create_helpdesk(pool, company):
    from trytond.transaction import Transaction

    with Transaction().set_context(company=company.id):
        users = create_users(pool, company)
        Desk(pool, company, users).create()


def create_users(pool, company):
    User = pool.get('res.user')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    Department = pool.get('ev.helpdesk.department')
    users = {}
    departments = {d.code: d for d in Department.search([])}
    for login, name, group, codes in HELPDESK_USERS:
        users[login] = User(login=login, name=name, password=PASSWORD,
            email=f'{login}@ev.localhost',
            groups=[Group(ModelData.get_id('ev_helpdesk', group))],
            companies=[company], company=company)
        users[login].save()
        for code in codes:
            Department.write([departments[code]], {
                    'members': [('add', [users[login].id])]})
    Department.write(list(departments.values()), {
            'supervisor': users['helpdesk'].id})
    return users


class Desk:
    "The demo's tickets and requests, each moved by its users' buttons"

    def __init__(self, pool, company, users):
        Station = pool.get('ev.station')
        self.pool, self.company, self.users = pool, company, users
        self.Ticket = pool.get('ev.helpdesk.ticket')
        self.Request = pool.get('ev.helpdesk.request')
        self.Category = pool.get('ev.helpdesk.category')
        self.stations = [s for s in Station.search([],
                order=[('id', 'ASC')]) if s.customer]

    def as_user(self, login):
        from trytond.transaction import Transaction
        return Transaction().set_user(self.users[login].id)

    def open(self, login, category, subject, station=None, hours_ago=1,
            **values):
        now = dt.datetime.now()
        charger = None
        if station and getattr(station, 'chargers', None):
            charger = station.chargers[0]
        with self.as_user(login):
            ticket, = self.Ticket.create([{
                        'company': self.company.id,
                        'category': self.Category.from_code(category).id,
                        'subject': subject,
                        'station': station and station.id,
                        'charger': charger and charger.id,
                        'party': (station.customer.id
                            if station and station.customer else None),
                        'opened_at': now - dt.timedelta(hours=hours_ago),
                        **values,
                        }])
        return ticket

    def near_breach_hours(self, priority, metric):
        """How many hours ago a ticket of `priority` opens for its `metric`
        clock to run between its warning and its target now: the business
        hours of the target's calendar, counted back"""
        from trytond.modules.ev_helpdesk.sla import KIND
        Target = self.pool.get('ev.sla.target')
        Calendar = self.pool.get('ev.business.calendar')
        target = Target.find(KIND, priority, metric)
        calendar = target.calendar or Calendar.get_default()
        hours = calendar.business_hours()
        # Halfway between the warning and the target
        wanted = target.seconds * (100 + target.warning_percent) / 200
        now = dt.datetime.now()
        start = now
        while hours.business_seconds(start, now) < wanted:
            start -= dt.timedelta(minutes=1)
        return (now - start).total_seconds() / 3600

    def create(self):
        stations = iter(self.stations * 2)
        # A critical fault just reported: nobody has picked it up yet
        self.open('dispatcher', 'fault', "Charger shows Faulted, burning "
            "smell at the socket", station=next(stations), hours_ago=0.5,
            priority='critical',
            description="Customer called: the socket is hot and smells "
            "of burning. Asked them not to use it.")
        # A payment problem the hotline works on
        ticket = self.open('hotline', 'payment', "UPI debited twice for "
            "one session", station=next(stations), hours_ago=5,
            description="₹ 486 debited twice on 3 Dec, session of 22 kWh.")
        with self.as_user('hotline'):
            self.Ticket.start([ticket])
        # Waiting on the customer's screenshot
        ticket = self.open('hotline', 'payment', "Wallet top-up not "
            "credited", station=next(stations), hours_ago=26)
        with self.as_user('hotline'):
            self.Ticket.wait([ticket])
        # A fault the technical agent resolved remotely
        ticket = self.open('tech', 'fault', "Charger offline since the "
            "morning", station=next(stations), hours_ago=30)
        with self.as_user('tech'):
            self.Ticket.start([ticket])
            ticket.resolution = ("Modem power-cycled remotely; the charger "
                "is back online and sent its heartbeat.")
            ticket.save()
            self.Ticket.resolve([ticket])
        # A closed inquiry
        ticket = self.open('hotline', 'inquiry', "Tariff for night "
            "charging", hours_ago=72, priority='low')
        with self.as_user('hotline'):
            ticket.resolution = "Explained the time-of-day tariff."
            ticket.save()
            self.Ticket.resolve([ticket])
        with self.as_user('helpdesk'):
            self.Ticket.close([ticket])
        # A complaint in progress that needs a service visit
        ticket = self.open('hotline', 'complaint', "Technician did not "
            "turn up for the appointment", station=next(stations),
            hours_ago=8)
        with self.as_user('hotline'):
            self.Ticket.start([ticket])
        self.calls()
        self.whatsapp()
        # A charger fault nobody answered yet, past its first response
        # warning whatever the hour the demo is loaded
        self.open('dispatcher', 'fault', "Display blank, charger does not "
            "respond to RFID", station=next(stations),
            hours_ago=self.near_breach_hours('high', 'first_response'),
            priority='high')
        # The inbox: a request typed in by the hotline
        with self.as_user('hotline'):
            self.Request.receive([{
                        'company': self.company.id,
                        'channel': 'manual',
                        'text': "Do you install home chargers in "
                        "Whitefield? I want a 7 kW wallbox for my Nexon EV.",
                        }])

    def customers(self):
        "The demo's customers with a mobile phone, and their station"
        return [(s.customer, s) for s in self.stations
            if any(m.type == 'mobile' for m in s.customer.contact_mechanisms)]

    def calls(self):
        "A call of each category; the payment one escalated to a ticket"
        Call = self.pool.get('ev.helpdesk.call')
        now = dt.datetime.now().replace(microsecond=0)
        customers = self.customers()
        calls = []
        for i, (category, notes, outcome) in enumerate([
                ('payment', "Session stopped at 12 kWh but billed for 20",
                    None),
                ('fault', "Connector 2 locked, cable cannot be removed",
                    'resolved'),
                ('inquiry', "Asks the night tariff and RFID card price",
                    'resolved'),
                ('complaint', "Site was dirty and the parking blocked",
                    'callback')]):
            customer, station = customers[i % len(customers)]
            phone = next(m.value for m in customer.contact_mechanisms
                if m.type == 'mobile')
            started = now - dt.timedelta(hours=3 - i * 0.5)
            with self.as_user('hotline'):
                call, = Call.create([{
                            'company': self.company.id,
                            'direction': 'inbound',
                            'category': self.Category.from_code(category).id,
                            # As the caller says it: the lookup normalises
                            'phone': '0' + phone[3:8] + ' ' + phone[8:],
                            'station': station.id,
                            'started_at': started,
                            'ended_at': started + dt.timedelta(minutes=4),
                            'notes': notes,
                            'outcome': outcome,
                            'resolution': ("Explained and closed on the call"
                                if outcome == 'resolved' else None),
                            }])
            calls.append(call)
        with self.as_user('hotline'):
            Call.escalate(calls[:1])
            Call.done([c for c in calls[1:] if c.outcome])

    def whatsapp(self):
        "A customer writes on WhatsApp: the inbox classifies each message"
        from trytond.modules.ev_helpdesk.whatsapp_routes import (
            parse_notification)
        Message = self.pool.get('ev.helpdesk.whatsapp.message')
        customer, _ = self.customers()[-1]
        phone = next(m.value for m in customer.contact_mechanisms
            if m.type == 'mobile')
        now = int(dt.datetime.now().timestamp())
        texts = [
            "Hi, my payment of 450 rupees got deducted but charging did "
            "not start",
            "Paisa kat gaya lekin charging start nahi hui, refund kab "
            "milega?",
            ]
        body = {'object': 'whatsapp_business_account', 'entry': [{
                    'id': 'DEMO', 'changes': [{'field': 'messages',
                            'value': {
                                'messaging_product': 'whatsapp',
                                'contacts': [{'wa_id': phone[1:],
                                        'profile': {'name': customer.name}}],
                                'messages': [{
                                        'id': f'wamid.DEMO{i}',
                                        'from': phone[1:],
                                        'timestamp': str(now - 600 + i * 60),
                                        'type': 'text',
                                        'text': {'body': text},
                                        } for i, text in enumerate(texts)],
                                }}]}]}
        messages, statuses = parse_notification(body)
        Message.intake(messages, statuses)
        # What the queue's task does after the webhook's commit
        Message.open_pending_requests()
