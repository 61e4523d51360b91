"""The field operations of the demo (ev_field), in Bengaluru.

A warehouse with chargers (serials) and installation material, three field
teams with their zones, vans and crews (each crew member logs in), a bill of
materials per charger model, and jobs today and this week in every state
Central Ops meets: a survey to call, one on site, one reported and to
review, an emergency with a backup team proposed, an installation with its
materials in the van, one reported (QA sampled), one commissioned, one
payable, a survey nobody is assigned yet, and a local procurement above the
threshold waiting for Finance.

Everything goes through the module's own buttons, pressed by the user who
would press them (the dispatcher, the crew, ...): the Station Records' logs,
the handovers, the notifications and the stock moves are the ones the
back office makes. Loaded once: a database that has field teams is left
alone."""
import datetime as dt
import logging
from decimal import Decimal

from demo.__main__ import (
    PASSWORD, TIMEZONE, complete_documents, in_transaction, png)

logger = logging.getLogger(__name__)

# code, name, zones (postal-code patterns), crew (login, name, mobile)
TEAMS = [
    ('BLR-N', "North Bengaluru", ['560024', '560032', '560064', '56009?'], [
            ('manjunath', "Manjunath Gowda", '+91 98450 21001'),
            ('irfan', "Irfan Pasha", '+91 98450 21002'),
            ]),
    ('BLR-S', "South Bengaluru", ['56001?', '560034', '560041', '56007?'], [
            ('lakshmi', "Lakshmi Rao", '+91 98450 22001'),
            ('venkatesh', "Venkatesh Murthy", '+91 98450 22002'),
            ]),
    # East also covers Koramangala: the backup when South drops out there
    ('BLR-E', "East Bengaluru",
        ['560008', '560034', '560037', '560038', '560048', '560066'], [
            ('joseph', "Joseph D'Souza", '+91 98450 23001'),
            ('naveen', "Naveen Kumar", '+91 98450 23002'),
            ]),
    ]

# name, unit, cost, serial prefix (chargers) or None, warehouse stock
PRODUCTS = {
    'ac7': ("EVB Wallbox 7.4 kW AC (Type 2)", 'u', 32000, 'EVB7-', 8),
    'ac22': ("EVB Wallbox 22 kW AC (Type 2)", 'u', 58000, 'EVB22-', 4),
    'dc30': ("EVB DC Fast 30 kW (CCS2)", 'u', 395000, 'EVBDC-', 1),
    'cable6': ("Armoured cable 3C × 6 mm²", 'm', 210, None, 300),
    'cable10': ("Armoured cable 5C × 10 mm²", 'm', 480, None, 200),
    'cable25': ("Armoured cable 5C × 25 mm²", 'm', 1250, None, 60),
    'mcb40': ("MCB 40 A 2P + RCCB Type A", 'u', 2400, None, 10),
    'mcb32': ("MCB 32 A 4P + RCCB Type A", 'u', 5200, None, 6),
    # None in the warehouse: the DC installation procures it locally
    'mccb63': ("MCCB 63 A 4P + RCCB Type B", 'u', 9800, None, 0),
    'spd': ("Surge protection device Type 2", 'u', 4200, None, 8),
    'wallkit': ("Wall mounting kit", 'u', 650, None, 12),
    'pedestal': ("Pedestal with base plate", 'u', 7500, None, 2),
    }

# charger model (as on the leads), charger, lines: (product, per metre of
# cable run, quantity or extra metres)
BOMS = [
    ("7.4 kW AC wallbox", 'ac7', [
            ('cable6', True, 2), ('mcb40', False, 1), ('wallkit', False, 1)]),
    ("22 kW AC wallbox", 'ac22', [
            ('cable10', True, 2), ('mcb32', False, 1), ('spd', False, 1),
            ('wallkit', False, 1)]),
    ("30 kW DC charger", 'dc30', [
            ('cable25', True, 3), ('mccb63', False, 1), ('spd', False, 1),
            ('pedestal', False, 1)]),
    ]

# What each van carries besides its jobs' materials
VAN_SPARES = [('ac7', 1), ('cable6', 30), ('mcb40', 2), ('wallkit', 2)]

# key, customer, mobile, street, area, postal code, charger model
LEADS = [
    ('payable', "Harish Gowda", '98860 31001', "14, 3rd Cross, Sector 4",
        "Yelahanka New Town", '560064', "7.4 kW AC wallbox"),
    ('allocated', "Shwetha Reddy", '98860 31002', "Flat 1203, Tower B",
        "Hebbal", '560024', "22 kW AC wallbox"),
    ('to_call', "Mohammed Rafiq", '98860 31003', "22, 5th Main",
        "RT Nagar", '560032', "7.4 kW AC wallbox"),
    ('commissioned', "Ananya Krishnan", '98860 31004', "41, 9th Block",
        "Jayanagar", '560011', "7.4 kW AC wallbox"),
    ('on_site', "Suresh Hegde", '98860 31005', "7, 24th Main, 6th Phase",
        "JP Nagar", '560078', "22 kW AC wallbox"),
    ('emergency', "Neha Kapoor", '98860 31006', "88, 5th Block",
        "Koramangala", '560034', "7.4 kW AC wallbox"),
    ('reported', "Thomas Varghese", '98860 31007', "12, 12th Main, HAL 2nd "
        "Stage", "Indiranagar", '560038', "7.4 kW AC wallbox"),
    ('to_review', "Pooja Agarwal", '98860 31008', "305, Brigade Lakefront",
        "Marathahalli", '560037', "22 kW AC wallbox"),
    ('procurement', "Zippy Fleet Services", '98860 31009', "Plot 19, EPIP "
        "Zone", "Whitefield", '560066', "30 kW DC charger"),
    ('unassigned', "Karthik Subramanian", '98860 31010', "63, 2nd Stage",
        "Banashankari", '560070', "7.4 kW AC wallbox"),
    ]

# The leads an OEM sent (its user follows their milestones in OEM Leads):
# key → OEM, its reference, the vehicle sold
OEM_LEADS = {
    'payable': ("Tata Motors", 'TM-24-0311', "Nexon EV"),
    'commissioned': ("Tata Motors", 'TM-24-0318', "Punch EV"),
    'to_call': ("Tata Motors", 'TM-24-0325', "Tiago EV"),
    'allocated': ("MG Motor", 'MG-24-1042', "ZS EV"),
    }

SURVEY_REPORT = {
    'sanctioned_load_kw': Decimal('10'), 'earthing': 'ok',
    'cable_run_m': Decimal('14'), 'mounting': 'wall',
    }


def load_field(database):
    def step(pool):
        if 'ev.field.job' not in dict(pool.iterobject()):
            return False
        User = pool.get('res.user')
        Team = pool.get('ev.field.team')
        coordinator = User.search([('login', '=', 'coordinator')])
        if Team.search([], limit=1) or not coordinator or not (
                coordinator[0].company):
            return False
        create_field_operations(pool, coordinator[0].company)
        return True
    return in_transaction(database, step)


def create_field_operations(pool, company):
    from trytond.transaction import Transaction

    User = pool.get('res.user')
    Configuration = pool.get('ev.field.configuration')
    if not company.timezone:
        # A database loaded before the demo had its time zone
        company.timezone = TIMEZONE
        company.save()
    users = {u.login: u for u in User.search([
                ('login', 'in', ['admin', 'coordinator', 'support',
                        'finance'])])}
    with Transaction().set_context(company=company.id):
        configuration = Configuration(1)
        qa_share = configuration.qa_share
        # Every installation of the demo is sampled: the QA queue has work
        configuration.qa_share = Decimal(1)
        configuration.save()
        world = Stock(pool, company)
        teams = create_teams(pool, company, world, users)
        create_jobs(pool, company, world, teams, users)
        configuration = Configuration(1)
        configuration.qa_share = qa_share
        configuration.save()


class Stock:
    "The warehouse of the demo: products, serials and the first deliveries"

    def __init__(self, pool, company):
        from trytond.transaction import Transaction

        Uom = pool.get('product.uom')
        Template = pool.get('product.template')
        Lot = pool.get('stock.lot')
        Move = pool.get('stock.move')
        Location = pool.get('stock.location')
        BOM = pool.get('ev.field.bom')
        Configuration = pool.get('ev.field.configuration')
        self.pool, self.company = pool, company
        units = {u.symbol: u for u in Uom.search([('symbol', 'in', ['u', 'm'])])}
        self.products, self.lots = {}, {}
        for key, (name, unit, cost, serial, _) in PRODUCTS.items():
            template = Template(name=name, type='goods',
                default_uom=units[unit], purchasable=True,
                purchase_uom=units[unit], list_price=Decimal(cost),
                cost_price_method='fixed',
                lot_required=['storage', 'customer', 'supplier']
                if serial else [],
                products=[{'cost_price': Decimal(cost)}])
            template.save()
            self.products[key], = template.products
        for model, charger, lines in BOMS:
            BOM(charger_model=model, charger=self.products[charger], lines=[{
                        'product': self.products[p].id, 'per_metre': per_metre,
                        'quantity': quantity}
                    for p, per_metre, quantity in lines]).save()

        warehouse = Configuration(1).get_warehouse(company)
        self.storage = warehouse.storage_location
        supplier, = Location.search([('type', '=', 'supplier')], limit=1)
        moves = []
        for key, (_, _, cost, serial, stock) in PRODUCTS.items():
            product = self.products[key]
            if serial:
                lots = [Lot(number=f'{serial}{24100 + n}', product=product)
                    for n in range(1, stock + 1)]
                Lot.save(lots)
                self.lots[key] = lots
                quantities = [(lot, 1) for lot in lots]
            else:
                quantities = [(None, stock)] if stock else []
            moves += [Move(product=product, lot=lot, quantity=quantity,
                    unit=product.default_uom, from_location=supplier,
                    to_location=self.storage, company=company,
                    unit_price=Decimal(cost), currency=company.currency)
                for lot, quantity in quantities]
        Move.save(moves)
        with Transaction().set_context(_skip_warnings=True):
            Move.do(moves)

    def restock_van(self, van):
        "The van leaves the warehouse with its spares (an internal shipment)"
        pool = self.pool
        Shipment = pool.get('stock.shipment.internal')
        Move = pool.get('stock.move')
        Date = pool.get('ir.date')
        today = Date.today()
        moves = []
        for key, quantity in VAN_SPARES:
            product = self.products[key]
            lot = self.lots[key].pop() if key in self.lots else None
            moves.append(Move(product=product, lot=lot, quantity=quantity,
                    unit=product.default_uom, from_location=self.storage,
                    to_location=van, company=self.company))
        shipment = Shipment(company=self.company, from_location=self.storage,
            to_location=van, moves=moves, planned_date=today,
            planned_start_date=today, effective_date=today)
        shipment.save()
        Shipment.wait([shipment])
        Shipment.assign_try([shipment])
        Shipment.do([shipment])


def create_teams(pool, company, world, users):
    User = pool.get('res.user')
    Party = pool.get('party.party')
    Employee = pool.get('company.employee')
    Team = pool.get('ev.field.team')
    Location = pool.get('stock.location')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    crew_group = Group(ModelData.get_id('ev_field', 'group_field_team'))
    teams = {}
    for code, name, zones, crew in TEAMS:
        van = Location(name=f"Van {code}", code=f'VAN-{code}', type='storage')
        van.save()
        members = []
        for login, person, mobile in crew:
            party = Party(name=person, addresses=[{'city': "Bengaluru"}],
                contact_mechanisms=[{'type': 'mobile', 'value': mobile}])
            party.save()
            employee = Employee(party=party, company=company)
            employee.save()
            User(login=login, name=person, password=PASSWORD,
                email=f'{login}@ev.localhost', groups=[crew_group],
                companies=[company], company=company,
                employees=[employee], employee=employee).save()
            members.append(employee)
        # The crews work every day, so that `./ev run` on a Sunday has jobs
        team = Team(name=name, code=code, company=company, survey=True,
            installation=True, members=members, location=van,
            zones=[{'pattern': z} for z in zones], labour_rate=Decimal(2500),
            manager=users['coordinator'], saturday=True, sunday=True)
        team.save()
        world.restock_van(van)
        teams[code] = team
    return teams


def create_jobs(pool, company, world, teams, users):
    "The day of the three teams, and what follows this week"
    from trytond.transaction import Transaction
    from trytond.modules.ev_field.team import to_utc

    Job = pool.get('ev.field.job')
    User = pool.get('res.user')
    Date = pool.get('ir.date')
    today = Date.today()
    crew = {code: User.search([('login', '=', members[0][0])])[0]
        for code, _, _, members in TEAMS}
    leads = create_leads(pool, users['support'])

    def slot(start, hours, day=0):
        "A slot in the company's time zone, stored in UTC"
        start = dt.datetime.combine(
            today + dt.timedelta(days=day), dt.time(*start))
        return (to_utc(start),
            to_utc(start + dt.timedelta(minutes=int(hours * 60))))

    def as_user(user):
        return Transaction().set_user(user.id)

    def book(key, kind, team, when, dispatcher='coordinator'):
        "The dispatcher creates and schedules the job"
        with as_user(users[dispatcher]):
            start, end = when
            job = Job(kind=kind, lead=leads[key], company=company,
                team=teams[team], slot_start=start, slot_end=end)
            job.save()
            Job.schedule([job])
        return job

    def day_call(job, team, note):
        with as_user(crew[team]):
            job.day_call_note = note
            job.save()
            Job.confirm_day([job])

    def survey(key, team, when, review=True, dispatcher='coordinator',
            **report):
        "Booked, called, reported by the crew; reviewed as site ready"
        job = book(key, 'survey', team, when, dispatcher=dispatcher)
        day_call(job, team, "Customer confirmed, gate pass arranged")
        with as_user(crew[team]):
            for name, value in {**SURVEY_REPORT, **report}.items():
                setattr(job, name, value)
            job.report_note = "Meter board in the basement parking"
            job.save()
            Job.submit_report([job])
        if review:
            with as_user(users[dispatcher]):
                Job.review_ready([job])
        return job

    def installation(key, team, when):
        "Booked once the survey found the site ready; materials planned"
        job = book(key, 'installation', team, when)
        with as_user(users['coordinator']):
            Job.plan_materials([job])
            Job.allocate_materials([job])
        return job

    def install(job, team, cable):
        "The crew installs a charger of its van and reports"
        day_call(job, team, "On our way, ETA 30 minutes")
        with as_user(crew[team]):
            job.charger_lot, = [m.lot for m in job.allocation.moves if m.lot]
            job.cable_used_m = Decimal(cable)
            job.tests_done = job.demo_given = True
            job.customer_signature = png(120, 40, (20, 20, 20))
            job.report_note = "Earthing resistance 1.8 Ω, RCD trips at 27 mA"
            job.save()
            Job.submit_report([job])

    def commission(job, team, identity):
        Photo = pool.get('ev.station.photo')
        with as_user(crew[team]):
            station = job.lead.stations[0]
            Photo(station=station, job=job, name='installed-charger.png',
                image=png(64, 48, (40, 140, 90)), kind='main',
                taken_by=crew[team].employee.party, taken_on=today).save()
            job.charger_identity = identity
            job.network_verified = job.app_paired = True
            job.save()
            Job.commission([job])

    # North: a payable installation, a survey still to call, and tomorrow
    # an installation whose materials are in the van
    survey('payable', 'BLR-N', slot((9, 0), 1), cable_run_m=Decimal('11.5'))
    payable = installation('payable', 'BLR-N', slot((10, 0), 3))
    install(payable, 'BLR-N', 12)
    commission(payable, 'BLR-N', 'CP-BLR-0101')
    with as_user(users['coordinator']):
        payable.closure_call_note = "Harish is charging every night, happy"
        payable.qa_note = "Photos checked: cable clipped, gland tight"
        payable.save()
        Job.closure_call([payable])
        Job.qa_pass([payable])
        Job.close([payable])
        Job.mark_payable([payable])
    book('to_call', 'survey', 'BLR-N', slot((14, 0), 1))
    survey('allocated', 'BLR-N', slot((16, 0), 1), cable_run_m=Decimal(18),
        mounting='pole')
    installation('allocated', 'BLR-N', slot((10, 0), 3, day=1))

    # South: a commissioned installation waiting for its closure call, a
    # survey on site, and a survey the team cannot make
    survey('commissioned', 'BLR-S', slot((9, 0), 1))
    commissioned = installation('commissioned', 'BLR-S', slot((10, 0), 3))
    install(commissioned, 'BLR-S', 15)
    commission(commissioned, 'BLR-S', 'CP-BLR-0102')
    on_site = book('on_site', 'survey', 'BLR-S', slot((13, 30), 1))
    day_call(on_site, 'BLR-S', "Customer at home after 1 pm")
    emergency = book('emergency', 'survey', 'BLR-S', slot((15, 0), 1),
        dispatcher='support')
    with as_user(crew['BLR-S']):
        emergency.unavailable_reason = (
            "Van tyre burst on Hosur Road, waiting for the mechanic")
        emergency.save()
        Job.mark_unavailable([emergency])

    # East: an installation reported (in the QA sample), a survey to review,
    # and a DC installation short of a breaker, bought locally
    survey('reported', 'BLR-E', slot((9, 0), 1), dispatcher='support')
    reported = installation('reported', 'BLR-E', slot((10, 0), 3))
    install(reported, 'BLR-E', 13)
    survey('to_review', 'BLR-E', slot((13, 30), 1), review=False)
    survey('procurement', 'BLR-E', slot((16, 0), 1), cable_run_m=Decimal(22),
        mounting='pedestal')
    short = installation('procurement', 'BLR-E', slot((10, 0), 4, day=2))
    create_procurement(pool, company, short, crew['BLR-E'])

    # Nobody yet: a survey waiting for a team and a slot
    with as_user(users['support']):
        Job(kind='survey', lead=leads['unassigned'], company=company).save()


def create_leads(pool, user):
    "The customers of the jobs, each lead ready for its survey"
    from trytond.transaction import Transaction

    Party = pool.get('party.party')
    Address = pool.get('party.address')
    Country = pool.get('country.country')
    Lead = pool.get('sale.opportunity')
    Call = pool.get('ev.lead.call')
    india, = Country.search([('code', '=', 'IN')])
    oems = {p.name: p for p in Party.search([('ev_is_oem', '=', True)])}
    leads = {}
    with Transaction().set_user(user.id):
        for i, (key, name, mobile, street, area, postal_code,
                model) in enumerate(LEADS):
            customer = Party(name=name, contact_mechanisms=[
                    {'type': 'mobile', 'value': mobile},
                    {'type': 'email', 'value': name.lower().replace(' ', '.')
                        + '@example.in'}])
            customer.save()
            address = Address(party=customer, street=street,
                city=f"{area}, Bengaluru", postal_code=postal_code,
                country=india)
            address.save()
            lead = Lead(party=customer, lead_source='phone',
                charger_quantity=1, charger_model=model,
                site_type='business' if 'DC' in model else 'home')
            oem, reference, vehicle = OEM_LEADS.get(key, (None,) * 3)
            if oem in oems:
                lead.lead_source = 'oem'
                lead.oem = oems[oem]
                lead.oem_reference = reference
                lead.vehicle_model = vehicle
            lead.save()
            Call(lead=lead, outcome='reached',
                note="Explained the survey; documents received on "
                "WhatsApp").save()
            complete_documents(pool, lead, address,
                (Decimal('12.9716') + Decimal(i) / 100,
                    Decimal('77.5946') + Decimal(i) / 200),
                electrician=("Ramesh Electricals", '98440 4100' + str(i)))
            Lead.ready_for_survey([lead])
            leads[key] = lead
    return leads


def create_procurement(pool, company, job, crew_user):
    """The crew buys the missing breaker at a shop on the way: above the
    threshold, Finance must approve"""
    from trytond.transaction import Transaction

    Party = pool.get('party.party')
    Procurement = pool.get('ev.field.procurement')
    vendor = Party(name="Sri Lakshmi Electricals, SP Road",
        addresses=[{'street': "112, SP Road", 'city': "Bengaluru",
                'postal_code': '560002'}],
        contact_mechanisms=[{'type': 'mobile', 'value': '+91 80 2222 4455'}])
    vendor.save()
    with Transaction().set_user(crew_user.id):
        procurement = Procurement(job=job, company=company)
        procurement.on_change_job()
        procurement.vendor = vendor
        # The shop's QR code, for the amount of the proposed lines
        procurement.upi_link = ('upi://pay?pa=srilakshmi.elec@okhdfcbank'
            '&pn=Sri%20Lakshmi%20Electricals'
            f'&am={procurement.on_change_with_amount():.2f}&cu=INR')
        procurement.save()
        Procurement.submit([procurement])
