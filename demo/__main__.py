"""Demo data of the EV operations suite: `python -m demo -d <database>`.

Idempotent: a database that already has the demo users is left alone."""
import argparse
import datetime
import logging
import os
import struct
import zlib
from decimal import Decimal

from trytond import config

logger = logging.getLogger(__name__)
PASSWORD = 'demo-pass'
# The demo company works in India: its working day, the teams' slots and
# "today" are read in this time zone
TIMEZONE = 'Asia/Kolkata'
ROLE_USERS = [
    # login, name, group xml id
    ('sales', "Asha Sales", 'group_sales'),
    ('packer', "Pavan Packer", 'group_packer'),
    ('finance', "Farah Finance", 'group_finance'),
    ('production', "Pradeep Production", 'group_production'),
    ('warehouse', "Wasim Warehouse", 'group_warehouse'),
    ('assembly', "Anil Assembly", 'group_assembly'),
    ('testing', "Tara Testing", 'group_testing'),
    ('logistics', "Leela Logistics", 'group_logistics'),
    ('coordinator', "Kiran Coordinator", 'group_installation'),
    ('support', "Sunita Support", 'group_support'),
    ]

# Each station walks the life cycle up to the event named last.
LIFECYCLE = [
    ('client_account_created', 'sales', "Customer account opened after the "
        "public offer was accepted."),
    ('station_configuration_agreed', 'sales', "22 kW, 3 phase, Type 2 "
        "socket with DLM and 4G modem agreed with the customer."),
    ('station_created', 'packer', "Station card created with its "
        "identification."),
    ('prepayment_received', 'finance', None),
    ('factory_transfer_sent', 'production', "Order passed to the factory."),
    ('production_confirmed', 'production', "Production slot confirmed for "
        "this week."),
    ('components_available', 'warehouse', "All components on the shelf."),
    ('assembly_started', 'assembly', "Assembly started on line 2."),
    ('assembly_completed', 'assembly', "Assembly finished."),
    ('testing_started', 'testing', "Unit in the test bay."),
    ('testing_completed', 'testing', "All electrical tests passed."),
    ('packaging_started', 'logistics', "Packed on a pallet."),
    ('carrier_agreed', 'logistics', "Carrier booked at the agreed price."),
    ('shipped', 'logistics', None),
    ('arrived_to_site', 'logistics', None),
    ('installation_started', 'coordinator', "Installer on site."),
    ('installation_completed', 'coordinator', "Installation finished, "
        "cable run 18 m."),
    ('commissioned', 'coordinator', "Tariff configured and station "
        "activated."),
    ]

CUSTOMERS = [
    ("Meera Iyer", "Bengaluru", "meera.iyer@example.com"),
    ("Rahul Verma", "Pune", "rahul.verma@example.com"),
    ("Sunrise Apartments RWA", "Hyderabad", "rwa@sunrise.example.com"),
    ("Kavya Nair", "Kochi", "kavya.nair@example.com"),
    ("GreenFleet Logistics", "Chennai", "fleet@greenfleet.example.com"),
    ("Arjun Mehta", "Mumbai", "arjun.mehta@example.com"),
    ("Priya Sharma", "Delhi", "priya.sharma@example.com"),
    ("Hotel Lakeview", "Udaipur", "ops@lakeview.example.com"),
    ("Vikram Singh", "Jaipur", "vikram.singh@example.com"),
    ("Nisha Patel", "Ahmedabad", "nisha.patel@example.com"),
    ("TechPark Phase II", "Noida", "facilities@techpark.example.com"),
    ("Rohan Das", "Kolkata", "rohan.das@example.com"),
    ]

# How far along the life cycle each demo station is (index in LIFECYCLE)
PROGRESS = [0, 1, 2, 3, 5, 6, 8, 10, 13, 14, 16, 17]


def png(width, height, rgb):
    "A plain PNG image, enough to show the photo log"
    raw = b''.join(
        b'\x00' + bytes(rgb) * width for _ in range(height))

    def chunk(tag, data):
        return (struct.pack('>I', len(data)) + tag + data
            + struct.pack('>I', zlib.crc32(tag + data) & 0xffffffff))
    return (b'\x89PNG\r\n\x1a\n'
        + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
        + chunk(b'IDAT', zlib.compress(raw))
        + chunk(b'IEND', b''))


def in_transaction(database, step):
    """`step(pool)` in a transaction of its own, committed when it returns
    true; tried again with what a TransactionError asks for (e.g. the
    configuration singletons ask for a table lock)"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError

    Pool.start()
    pool = Pool(database)
    pool.init()
    extras = {}
    while True:
        with Transaction().start(database, 0, **extras) as transaction:
            try:
                done = step(pool)
            except TransactionError as exception:
                transaction.rollback()
                exception.fix(extras)
                continue
            if done:
                transaction.commit()
        return done


def load(database):
    def step(pool):
        User = pool.get('res.user')
        if User.search([('login', '=', 'sales')]):
            logger.info("demo data already loaded")
            return False
        users = create_users(pool)
        create_stations(pool, users)
        if 'ev.lead.configuration' in dict(pool.iterobject()):
            create_leads(pool, users)
        return True
    return in_transaction(database, step)


def load_chargers(database):
    """The demo chargers (with an IoT operator) once ev_charger_iot is
    activated, on their own: a database loaded before has none"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    pool = Pool(database)
    if 'ev.charger' not in dict(pool.iterobject()):
        return False
    with Transaction().start(database, 0) as transaction:
        Charger = pool.get('ev.charger')
        if Charger.search([], limit=1):
            return False
        create_chargers(pool)
        transaction.commit()
    return True


# The OCPP password of every demo charger at the gateway of `./ev run`
# (ws://127.0.0.1:9000/CP-DEMO-01, HTTP Basic), and a demo RFID card
CHARGER_PASSWORD = 'demo-charger-pass'
ID_TAG = 'DEMO-CARD-01'
# identity, power class, AC/DC, vendor, model, connector types; what each
# does is played by demo/chargers.py
CHARGERS = [
    ('CP-DEMO-01', 'l2', 'ac', "Exicom", "Spin Air 7.4", ['type2']),
    ('CP-DEMO-02', 'l2', 'ac', "Delta", "AC Max 22", ['type2']),
    ('CP-DEMO-03', 'l3', 'dc', "Tritium", "RTM 60", ['ccs2', 'chademo']),
    ('CP-DEMO-04', 'l3', 'dc', "ABB", "Terra 54", ['ccs2', 'ccs2']),
    ('CP-DEMO-05', 'l2', 'ac', "Exicom", "Spin Air 7.4", ['type2']),
    ('CP-DEMO-06', 'l3', 'dc', "Delta", "DC Wallbox 25", ['ccs2']),
    ]


def create_chargers(pool):
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    Group = pool.get('res.group')
    Station = pool.get('ev.station')
    Charger = pool.get('ev.charger')
    Connector = pool.get('ev.charger.connector')
    IdTag = pool.get('ev.charger.id_tag')
    if not IdTag.search([('tag', '=', ID_TAG)]):
        IdTag(tag=ID_TAG, description="Demo RFID card").save()
    if not User.search([('login', '=', 'iot')]):
        User(login='iot', name="Ishaan IoT", password=PASSWORD,
            email='iot@ev.localhost',
            groups=[Group(ModelData.get_id(
                        'ev_charger_iot', 'group_iot_operator'))]).save()
    stations = Station.search([], order=[('id', 'ASC')])
    if not stations:
        return
    today = datetime.date.today()
    Charger.save([Charger(identity=identity, ocpp_password=CHARGER_PASSWORD,
                station=stations[i % len(stations)], power_class=power,
                current_type=current, vendor=vendor, model=model,
                commissioning_date=today - datetime.timedelta(days=30 * i),
                connectors=[Connector(number=n, connector_type=kind)
                    for n, kind in enumerate(connectors, 1)])
            for i, (identity, power, current, vendor, model, connectors)
            in enumerate(CHARGERS)])


def create_users(pool):
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    Group = pool.get('res.group')
    users = {}
    for login, name, group in ROLE_USERS:
        users[login] = User(
            login=login, name=name, password=PASSWORD,
            email=f'{login}@ev.localhost',
            groups=[Group(ModelData.get_id('ev_station', group))])
    User.save(list(users.values()))
    admin, = User.search([('login', '=', 'admin')])
    users['admin'] = admin
    Configuration = pool.get('ev.station.configuration')
    configuration = Configuration(1)
    configuration.escalation_user = users['support']
    configuration.save()
    return users


def create_stations(pool, users):
    from trytond.transaction import Transaction

    Party = pool.get('party.party')
    Country = pool.get('country.country')
    Lang = pool.get('ir.lang')
    Currency = pool.get('currency.currency')
    Station = pool.get('ev.station')
    Payment = pool.get('ev.station.payment')
    Logistics = pool.get('ev.station.logistics')
    Photo = pool.get('ev.station.photo')
    Handover = pool.get('ev.station.handover')
    Option = pool.get('ev.station.option')
    Date = pool.get('ir.date')
    today = Date.today()

    india, = Country.search([('code', '=', 'IN')]) or Country.create([{
                'name': "India", 'code': 'IN', 'code3': 'IND',
                'code_numeric': '356'}])
    english, = Lang.search([('code', '=', 'en')])
    inr = Currency.search([('code', '=', 'INR')])
    if not inr:
        inr = Currency.create([{
                    'name': "Indian Rupee", 'code': 'INR', 'symbol': '₹',
                    'numeric_code': '356'}])
    inr, = inr
    options = Option.search([])

    installer = Party(name="Ravi Electricals (installer)")
    installer.save()
    for i, ((name, city, email), progress) in enumerate(
            zip(CUSTOMERS, PROGRESS)):
        customer = Party(
            name=name, lang=english,
            addresses=[{'city': city, 'country': india.id}],
            contact_mechanisms=[
                {'type': 'email', 'value': email},
                {'type': 'phone', 'value': f'+9198450{i:05d}'},
                ])
        customer.save()
        site_contact = Party(name=f"Site contact of {name}")
        site_contact.save()
        with Transaction().set_user(users['sales'].id):
            station = Station(
                customer=customer, country=india, language=english,
                customer_account=f'ACC-{1000 + i}',
                power_kw=Decimal('22.0') if i % 3 else Decimal('7.4'),
                phases='3' if i % 3 else '1',
                dlm=bool(i % 2), modem='4g',
                connectors=[{'type': 'type2', 'count': 1 + i % 2}],
                options=options[:i % 3 + 1],
                contact=customer,
                location_contact=site_contact,
                location_contact_backup=customer,
                installation_contact=installer,
                service_contact=site_contact,
                photo_taker=users['coordinator'],
                photo_uploader=users['support'],
                )
            station.save()
        for code, login, text in LIFECYCLE[:progress + 1]:
            with Transaction().set_user(users[login].id):
                if code == 'prepayment_received':
                    Payment(station=station, type='prepayment',
                        percentage=Decimal(50), amount=Decimal(45000),
                        currency=inr, reference=f'UTR{880000 + i}',
                        text="Bank transfer received.").save()
                elif code == 'shipped':
                    shipment = Logistics(
                        station=station, carrier="BlueDart",
                        tracking_number=f'BD{7000000 + i}')
                    shipment.save()
                    Logistics.ship([shipment])
                elif code == 'arrived_to_site':
                    shipment, = Logistics.search([
                            ('station', '=', station.id)])
                    Logistics.arrive([shipment])
                else:
                    if code == 'commissioned':
                        Photo(station=station, name='final-site.png',
                            image=png(64, 48, (40, 140, 90)), kind='main',
                            taken_by=installer, taken_on=today).save()
                    station.record_event(code, text)
        # Every station has a next step handed over to someone
        owner, receiver = LIFECYCLE[progress][1], LIFECYCLE[
            min(progress + 1, len(LIFECYCLE) - 1)][1]
        if receiver == owner:
            receiver = 'support'
        with Transaction().set_user(users[owner].id):
            station.record_event(
                'handover_forwarded',
                f"Please take over the next step for {name}.",
                next_owner=users[receiver],
                next_action="Confirm the next step with the customer",
                follow_up_date=today + datetime.timedelta(days=(i % 5) - 2))
        if i % 4 == 1:
            handover, = Handover.search([
                    ('station', '=', station.id), ('state', '=', 'pending')])
            with Transaction().set_user(users[receiver].id):
                Handover.accept([handover])
        if i % 3 == 0:
            with Transaction().set_user(users['support'].id):
                Photo(station=station, name='technical.png',
                    image=png(48, 48, (200, 120, 40)), kind='technical',
                    taken_by=installer, taken_on=today).save()
                station.record_event(
                    'call_summary',
                    "Call with the customer: site access from 9:00, parking "
                    "available. Agreed to send photos of the main board.")
    # Make the overdue handovers visible at once
    Handover.notify_overdue()


LEADS = [
    # customer, phone, city, OEM, reference, chargers, how far
    ("Anita Desai", "98860 11111", "Bengaluru", "Tata Motors", 'TM-24-0101',
        1, 'new'),
    ("Farhan Qureshi", "99000 22222", "Hyderabad", "Tata Motors",
        'TM-24-0102', 1, 'contacted'),
    ("Lotus Residency", "99160 33333", "Pune", "MG Motor", 'MG-7781', 4,
        'documents_complete'),
    ("Sanjay Kulkarni", "98450 44444", "Mumbai", "MG Motor", 'MG-7782', 1,
        'ready_for_survey'),
    ("Deepa Menon", "94470 55555", "Kochi", None, None, 1, 'waiting'),
    ]


def create_leads(pool, users):
    "A few leads from OEMs and walk-ins, at every stage before the survey"
    from trytond.transaction import Transaction

    Company = pool.get('company.company')
    Party = pool.get('party.party')
    Currency = pool.get('currency.currency')
    Lead = pool.get('sale.opportunity')
    Call = pool.get('ev.lead.call')
    Address = pool.get('party.address')
    User = pool.get('res.user')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    Configuration = pool.get('ev.lead.configuration')

    inr, = Currency.search([('code', '=', 'INR')])
    company = Company(party=Party(name="EV Operations India"), currency=inr,
        timezone=TIMEZONE)
    company.party.save()
    company.save()
    User.write(list(users.values()), {
            'companies': [('add', [company.id])], 'company': company.id})
    ops_group = Group(ModelData.get_id('ev_lead', 'group_central_ops'))
    User.write([users['support'], users['coordinator']], {
            'groups': [('add', [ops_group.id])]})
    configuration = Configuration(1)
    configuration.central_ops_group = ops_group
    configuration.save()
    oems = {}
    for name in ["Tata Motors", "MG Motor"]:
        oems[name] = Party(name=name, ev_is_oem=True)
        oems[name].save()
    oem_user = User(login='oem-tata', name="Tata Motors integration",
        password=PASSWORD, ev_oem=oems["Tata Motors"],
        companies=[company], company=company,
        groups=[Group(ModelData.get_id('ev_lead', 'group_oem'))])
    oem_user.save()
    with Transaction().set_context(company=company.id), \
            Transaction().set_user(users['support'].id):
        for (name, phone, city, oem, reference, chargers,
                stage) in LEADS:
            customer = Party.find_customer(
                phone=Party.normalize_phone(phone)) or Party(
                name=name, contact_mechanisms=[
                    {'type': 'mobile', 'value': phone}])
            customer.save()
            lead = Lead(
                party=customer, lead_source='oem' if oem else 'walk_in',
                oem=oems.get(oem), oem_reference=reference,
                charger_quantity=chargers, charger_model="22 kW AC wallbox",
                site_type='business' if chargers > 1 else 'home',
                vehicle_model="Nexon EV" if oem == "Tata Motors"
                else "ZS EV" if oem else None)
            lead.save()
            if stage == 'new':
                Call(lead=lead, outcome='no_answer').save()
                continue
            Call(lead=lead, outcome='reached',
                note="Explained the survey and the documents needed").save()
            if stage in {'contacted', 'waiting'}:
                if stage == 'waiting':
                    lead.site_work_required = (
                        "Earthing pit and a dedicated 32 A circuit")
                    lead.save()
                    Lead.wait_for_site([lead])
                continue
            address = Address(party=customer, street="1 Main Road",
                city=city)
            address.save()
            complete_documents(pool, lead, address,
                (Decimal('18.520430'), Decimal('73.856743')))
            if stage == 'ready_for_survey':
                Lead.ready_for_survey([lead])


def complete_documents(pool, lead, address, position,
        electrician=("Local electrician", '98220 66666')):
    "The customer's documents checklist of a lead, complete and confirmed"
    Lead = pool.get('sale.opportunity')
    Photo = pool.get('ev.lead.site_photo')
    lead.address = address
    lead.electricity_bill = b'%PDF-1.4 demo electricity bill'
    lead.electricity_bill_name = 'electricity-bill.pdf'
    lead.latitude, lead.longitude = position
    lead.electrician_name, lead.electrician_phone = electrician
    lead.save()
    Photo(lead=lead, name='site.png',
        image=png(64, 48, (90, 90, 160))).save()
    Lead.confirm_documents([lead])


def close_configuration_wizard(database):
    """The demo is set up: the administrator's first login opens the EV
    Operations menu, not Tryton's module configuration wizard"""
    def step(pool):
        Item = pool.get('ir.module.config_wizard.item')
        items = Item.search([('state', '!=', 'done')])
        if items:
            Item.write(items, {'state': 'done'})
        return bool(items)
    return in_transaction(database, step)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('-d', '--database', required=True)
    parser.add_argument('-c', '--config',
        default=os.environ.get('TRYTOND_CONFIG'))
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format='%(message)s')
    logging.getLogger(__name__).setLevel(logging.INFO)
    if options.config:
        config.update_etc(options.config)
    if load(options.database):
        logger.info("demo data loaded into %s", options.database)
    if load_chargers(options.database):
        logger.info("demo chargers loaded into %s", options.database)
    # After the chargers: a commissioned installation monitors a charger
    from demo.field import load_field
    if load_field(options.database):
        logger.info("demo field operations loaded into %s", options.database)
    from demo.service import load_claims, load_service
    if load_service(options.database):
        logger.info("demo service cases loaded into %s", options.database)
    if load_claims(options.database):
        logger.info("demo warranty claims loaded into %s", options.database)
    # After the service cases: a part's hold is deducted from a payout
    from demo.payout import load_payout
    if load_payout(options.database):
        logger.info("demo payouts loaded into %s", options.database)
    from demo.helpdesk import load_helpdesk
    if load_helpdesk(options.database):
        logger.info("demo helpdesk loaded into %s", options.database)
    # After the field teams: the OEMs' installations closed with their packs
    from demo.oem_report import load_oem_report
    if load_oem_report(options.database):
        logger.info("demo closure packs and OEM reports loaded into %s",
            options.database)
    close_configuration_wizard(options.database)


if __name__ == '__main__':
    main()
