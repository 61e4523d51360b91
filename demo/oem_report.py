"""The closure packs and periodic reports of the demo (ev_oem_report), for
its two OEMs, Tata Motors and MG Motor.

Each OEM has its closure-pack template, as Central Ops entered it from the
OEM's requirements: the main final-site photo, two photos of the earthing,
the electricity bill, the customer's signature of the demo checklist, the
commissioning data, the customer's updates of the event log (and the survey
and installation reports; a walk-through video is optional). Five
installations of the OEMs' leads were surveyed, installed, commissioned and
called last week; Central Ops close them today, which builds their packs:

- Tata Motors: one pack submitted and accepted by `oem-tata`, one submitted
  and disputed by `oem-tata` (an ev.dispute, waiting for Central Ops), one
  in draft still missing the electricity bill and an earthing photo;
- MG Motor: one complete pack in draft, ready to submit, and one missing
  its electricity bill.

Each OEM also has a weekly XLSX report; the cron generated last week's and
queued its email in the outbox (sent by ./ev run's cron to var/mail).

Every step is the module's own button or method pressed by the user who
would press it: `coordinator` (Central Ops) closes, completes and submits,
the OEM's user accepts or disputes. Loaded once: a database with a closure
pack template is left alone."""
import datetime as dt
import io
import logging
from decimal import Decimal

from demo.__main__ import PASSWORD, complete_documents, in_transaction

logger = logging.getLogger(__name__)

# The login of each OEM's user (oem-tata is demo/__main__.py's)
OEM_USERS = {"Tata Motors": 'oem-tata', "MG Motor": 'oem-mg'}

# Each OEM's template: label, type, values
TEMPLATES = {
    "Tata Motors": ("Tata Motors installation handover", [
            ("Main final-site photo", 'main_photo', {
                    'description': "The charger on its wall, the cable "
                    "run and the socket visible."}),
            ("Earthing photos (pit and bar)", 'photo', {
                    'quantity': 2, 'photo_keyword': 'earthing',
                    'description': "The earthing pit and the earth bar "
                    "at the distribution board."}),
            ("Electricity bill", 'document', {
                    'description': "The customer's latest bill, showing "
                    "the sanctioned load."}),
            ("Signed demo checklist", 'signature', {
                    'description': "The customer signs that the charger "
                    "and the app were demonstrated."}),
            ("Commissioning data", 'commissioning', {}),
            ("Customer updates", 'event_log', {}),
            ("Installation report", 'installation_report', {}),
            ("Walk-through video", 'video', {'required': False}),
            ]),
    "MG Motor": ("MG Motor charger closure pack", [
            ("Site survey", 'survey_report', {}),
            ("Final installation photo", 'main_photo', {}),
            ("Earthing (2 photos)", 'photo', {
                    'quantity': 2, 'photo_keyword': 'earthing'}),
            ("Commissioning", 'commissioning', {}),
            ("Customer signature on the demo checklist", 'signature', {}),
            ("Electricity bill", 'document', {}),
            ("Client-visible log", 'event_log', {}),
            ]),
    }

# The installations closed today: key, OEM, OEM reference, vehicle,
# customer, mobile, street, area, postal code, team, site photos (the
# first one is the main photo), electricity bill uploaded
INSTALLATIONS = [
    ('accepted', "Tata Motors", 'TM-24-0287', "Nexon EV", "Lavanya Rao",
        '98860 34001', "45, 1st Cross, Malleshwaram", "Malleshwaram",
        '560003', 'BLR-N',
        ['final-site.jpg', 'earthing-pit.jpg', 'earthing-bar.jpg'], True),
    ('disputed', "Tata Motors", 'TM-24-0291', "Punch EV", "Gautam Bhat",
        '98860 34002', "8, 6th Main, BTM Layout", "BTM Layout", '560076',
        'BLR-S',
        ['final-site.jpg', 'earthing-pit.jpg', 'earthing-bar.jpg'], True),
    ('incomplete', "Tata Motors", 'TM-24-0296', "Tiago EV", "Divya Menon",
        '98860 34003', "221, Kaggadasapura Main Road", "CV Raman Nagar",
        '560093', 'BLR-E', ['final-site.jpg', 'earthing-pit.jpg'], False),
    ('complete', "MG Motor", 'MG-24-1011', "Windsor EV", "Imran Sheikh",
        '98860 34004', "17, 2nd Stage, Domlur", "Domlur", '560071',
        'BLR-E',
        ['final-site.jpg', 'earthing-pit.jpg', 'earthing-bar.jpg'], True),
    ('no_bill', "MG Motor", 'MG-24-1019', "ZS EV", "Sowmya Iyengar",
        '98860 34005', "3, Temple Street, Basavanagudi", "Basavanagudi",
        '560004', 'BLR-S',
        ['final-site.jpg', 'earthing-pit.jpg', 'earthing-bar.jpg'], False),
    ]

DISPUTE_REASON = ("The earthing photos do not show the resistance reading: "
    "please add a photo of the earth tester on the pit.")
# Where each OEM's weekly report goes
REPORT_EMAILS = {
    "Tata Motors": 'ev-installations@tatamotors.example.com',
    "MG Motor": 'charging.partners@mgmotor.example.com',
    }
# The colours of the demo photos
COLOURS = {'final': (40, 120, 90), 'earthing': (150, 100, 50)}


def load_oem_report(database):
    def step(pool):
        if 'ev.oem.closure.template' not in dict(pool.iterobject()):
            return False
        Template = pool.get('ev.oem.closure.template')
        Party = pool.get('party.party')
        Team = pool.get('ev.field.team')
        User = pool.get('res.user')
        coordinator = User.search([('login', '=', 'coordinator')])
        oems = Party.search([('ev_is_oem', '=', True),
                ('name', 'in', list(OEM_USERS))])
        if (Template.search([], limit=1) or len(oems) < len(OEM_USERS)
                or not Team.search([], limit=1) or not coordinator
                or not coordinator[0].company):
            return False
        create_oem_report(pool, coordinator[0].company,
            {p.name: p for p in oems})
        return True
    return in_transaction(database, step)


def create_oem_report(pool, company, oems):
    from trytond.transaction import Transaction

    with Transaction().set_context(company=company.id):
        users = create_oem_users(pool, company, oems)
        templates = create_templates(pool, oems, users)
        packs = create_installations(pool, company, oems, users)
        answer_packs(pool, packs, users)
        create_reports(pool, company, oems, users)
    return templates


def as_user(user):
    from trytond.transaction import Transaction
    return Transaction().set_user(user.id)


def create_oem_users(pool, company, oems):
    "The demo's users: Central Ops and each OEM's (MG's is new)"
    User = pool.get('res.user')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    users = {u.login: u for u in User.search([('login', 'in',
                    ['coordinator', 'support', *OEM_USERS.values()])])}
    if 'oem-mg' not in users:
        users['oem-mg'] = User(login='oem-mg', name="MG Motor integration",
            password=PASSWORD, ev_oem=oems["MG Motor"],
            companies=[company], company=company,
            groups=[Group(ModelData.get_id('ev_lead', 'group_oem'))])
        users['oem-mg'].save()
    return users


def create_templates(pool, oems, users):
    Template = pool.get('ev.oem.closure.template')
    templates = {}
    with as_user(users['coordinator']):
        for oem, (name, items) in TEMPLATES.items():
            templates[oem] = Template(name=name, oem=oems[oem], items=[
                    {'label': label, 'item_type': kind, 'sequence': i,
                        **values}
                    for i, (label, kind, values) in enumerate(items, 1)])
        Template.save(list(templates.values()))
    return templates


def jpeg(label, colour, size=(320, 240)):
    "A small JPEG photo of the demo: a coloured gradient with its caption"
    from PIL import Image, ImageDraw
    width, height = size
    image = Image.new('RGB', size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        shade = 0.6 + 0.4 * y / height
        draw.line([(0, y), (width, y)],
            fill=tuple(int(c * shade) for c in colour))
    draw.rectangle([10, height - 40, width - 10, height - 10],
        fill=(255, 255, 255))
    draw.text((18, height - 32), label, fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, 'JPEG', quality=80)
    return buffer.getvalue()


def signature_png(name):
    "The customer's signature, as the crew's phone captures it"
    from PIL import Image, ImageDraw
    image = Image.new('RGB', (240, 80), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.line([(15, 55), (60, 20), (90, 58), (130, 25), (170, 50),
            (220, 30)], fill=(20, 30, 120), width=3)
    draw.text((15, 62), name, fill=(90, 90, 90))
    buffer = io.BytesIO()
    image.save(buffer, 'PNG')
    return buffer.getvalue()


def bill_pdf(name, account):
    "The customer's electricity bill: a one-page PDF"
    from PIL import Image, ImageDraw
    image = Image.new('RGB', (420, 594), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 420, 50], fill=(0, 70, 140))
    draw.text((20, 18), "BESCOM - Electricity bill", fill=(255, 255, 255))
    for i, line in enumerate([f"Consumer: {name}",
                f"Account ID: {account}", "Tariff: LT-2(a) domestic",
                "Sanctioned load: 10 kW", "Units consumed: 412 kWh"]):
        draw.text((20, 80 + 24 * i), line, fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, 'PDF', resolution=72)
    return buffer.getvalue()


def create_installations(pool, company, oems, users):
    """The installations of INSTALLATIONS, done last week as the field
    module's steps would leave them (commissioned, the closure call made),
    closed today by Central Ops: the close builds each station's pack"""
    from trytond.transaction import without_check_access
    from trytond.modules.ev_field.team import to_utc

    Party = pool.get('party.party')
    Address = pool.get('party.address')
    Country = pool.get('country.country')
    Lead = pool.get('sale.opportunity')
    Call = pool.get('ev.lead.call')
    Job = pool.get('ev.field.job')
    Team = pool.get('ev.field.team')
    Lot = pool.get('stock.lot')
    Product = pool.get('product.product')
    Photo = pool.get('ev.station.photo')
    Date = pool.get('ir.date')
    india, = Country.search([('code', '=', 'IN')])
    teams = {t.code: t for t in Team.search([])}
    charger, = Product.search([('name', 'like', 'EVB Wallbox 7.4 kW%')],
        limit=1)
    today = Date.today()
    # Last week, Monday to Sunday: its report has these installations
    monday = today - dt.timedelta(days=today.weekday() + 7)

    def at(day, hour):
        return to_utc(dt.datetime.combine(
                monday + dt.timedelta(days=day), dt.time(hour)))

    packs = {}
    for i, (key, oem, reference, vehicle, name, mobile, street, area,
            postal_code, team, photos, bill) in enumerate(INSTALLATIONS):
        team = teams[team]
        with as_user(users['support']):
            customer = Party(name=name, contact_mechanisms=[
                    {'type': 'mobile', 'value': mobile},
                    {'type': 'email', 'value': name.lower().replace(' ', '.')
                        + '@example.in'}])
            customer.save()
            address = Address(party=customer, street=street,
                city=f"{area}, Bengaluru", postal_code=postal_code,
                country=india)
            address.save()
            lead = Lead(party=customer, lead_source='oem', oem=oems[oem],
                oem_reference=reference, vehicle_model=vehicle,
                charger_quantity=1, charger_model="7.4 kW AC wallbox",
                site_type='home')
            lead.save()
            Call(lead=lead, outcome='reached', note="Explained the survey; "
                "documents received on WhatsApp").save()
            complete_documents(pool, lead, address,
                (Decimal('12.9900') + Decimal(i) / 100,
                    Decimal('77.5700') + Decimal(i) / 200),
                electrician=("Ramesh Electricals", '98440 4300' + str(i)))
            Lead.ready_for_survey([lead])
        with as_user(users['coordinator']):
            survey = Job(kind='survey', lead=lead, company=company,
                team=team, slot_start=at(i % 2, 10),
                slot_end=at(i % 2, 11))
            installation = Job(kind='installation', lead=lead,
                company=company, team=team, slot_start=at(2 + i % 2, 10),
                slot_end=at(2 + i % 2, 13))
            Job.save([survey, installation])
        crew = team.members[0].party
        lot = Lot(number=f'EVB7-{24300 + i}', product=charger)
        lot.save()
        with without_check_access():
            Lead.create_stations([lead])
            station, = Lead(lead.id).stations
            Job.write([survey], {
                    'state': 'closed', 'review': 'ready',
                    'reported_at': at(i % 2, 11),
                    'sanctioned_load_kw': Decimal('10'), 'earthing': 'ok',
                    'cable_run_m': Decimal('14'), 'mounting': 'wall',
                    'report_note': "Meter board in the utility area",
                    }, [installation], {
                    'state': 'commissioned', 'charger_lot': lot.id,
                    'cable_used_m': Decimal(15), 'tests_done': True,
                    'demo_given': True,
                    'customer_signature': signature_png(name),
                    'report_note': "Earthing resistance 1.6 Ω, RCD trips "
                    "at 28 mA",
                    'reported_at': at(2 + i % 2, 13),
                    'charger_identity': f'CP-BLR-03{i + 1:02d}',
                    'network_verified': True, 'app_paired': True,
                    'commissioned_at': at(2 + i % 2, 13),
                    'closure_call_note': f"{name.split()[0]} charges every "
                    "night, happy with the demo",
                    'closure_call_at': at(4, 11),
                    })
            Photo.save([Photo(station=station, job=installation,
                        name=photo,
                        image=jpeg(f"{reference} {photo[:-4]}",
                            COLOURS[photo.split('-')[0]]),
                        kind='main' if photo.startswith('final') else 'other',
                        taken_by=crew,
                        taken_on=monday + dt.timedelta(days=2 + i % 2))
                    for photo in photos])
            station.record_event('note', f"Your {vehicle} charger is "
                "installed and commissioned: charge from tonight, the app "
                "is paired.", visibility='client')
        # Central Ops close the installation: its pack is built
        with as_user(users['coordinator']):
            Job.close([Job(installation.id)])
            pack, = Job(installation.id).closure_packs
        if bill:
            with as_user(users['coordinator']):
                item, = [i for i in pack.items if i.item_type == 'document']
                item.document = bill_pdf(name, f'BESCOM-{7712040 + i}')
                item.document_name = 'electricity-bill.pdf'
                item.save()
        packs[key] = pack
    return packs


def answer_packs(pool, packs, users):
    """Central Ops submit two of Tata's packs (PDF and ZIP rendered);
    Tata's user accepts one and disputes the other"""
    Pack = pool.get('ev.oem.closure.pack')
    Dispute = pool.get('ev.dispute')
    with as_user(users['coordinator']):
        Pack.submit([packs['accepted'], packs['disputed']])
    with as_user(users['oem-tata']):
        Pack.accept([Pack(packs['accepted'].id)])
        dispute = Pack(packs['disputed'].id).open_dispute(DISPUTE_REASON)
    # Central Ops own the answer to Tata
    with as_user(users['coordinator']):
        dispute = Dispute(dispute.id)
        dispute.owner = users['coordinator']
        dispute.save()


def create_reports(pool, company, oems, users):
    """A weekly XLSX report per OEM from last week on; the cron generates
    last week's report and queues its email"""
    Config = pool.get('ev.oem.report.config')
    Report = pool.get('ev.oem.report')
    Date = pool.get('ir.date')
    today = Date.today()
    monday = today - dt.timedelta(days=today.weekday() + 7)
    with as_user(users['coordinator']):
        Config.save([Config(name=f"{oem} weekly", company=company,
                    oem=oems[oem], frequency='weekly', file_format='xlsx',
                    email_to=REPORT_EMAILS[oem], next_period_start=monday)
                for oem in OEM_USERS])
    # The hourly cron
    Report.generate_due()
