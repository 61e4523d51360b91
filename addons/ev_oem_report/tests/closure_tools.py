# This file is part of the EV operations suite.
"""The world of the closure pack tests: two OEMs with their users, the
template of the first, photos that are real images, and an RPC call made
the way the dispatcher makes it"""
import datetime as dt
import io
import random
from decimal import Decimal

from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access

# The template of the OEM "VoltDrive": (label, type, values)
TEMPLATE_ITEMS = [
    ("Survey report", 'survey_report', {}),
    ("Installation report", 'installation_report', {}),
    ("Main final-site photo", 'main_photo', {}),
    ("Two photos of the earthing", 'photo',
        {'quantity': 2, 'photo_keyword': 'earthing'}),
    ("Commissioning data", 'commissioning', {}),
    ("Customer sign-off", 'signature', {}),
    ("Electricity bill", 'document', {}),
    ("Walk-through video", 'video', {'required': False}),
    ("Customer updates", 'event_log', {}),
    ]


def image(width=64, height=48, fmt='JPEG', seed=0, quality=90):
    "An image of noise: JPEG does not shrink it, every one differs"
    from PIL import Image
    rng = random.Random(seed)
    pixels = rng.randbytes(width * height * 3)
    buffer = io.BytesIO()
    Image.frombytes('RGB', (width, height), pixels).save(
        buffer, fmt, **({'quality': quality} if fmt == 'JPEG' else {}))
    return buffer.getvalue()


def create_oem(name):
    Party = Pool().get('party.party')
    oem = Party(name=name, ev_is_oem=True)
    oem.save()
    return oem


def create_oem_user(login, oem, company):
    pool = Pool()
    User = pool.get('res.user')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    user = User(login=login, name=login.title(), ev_oem=oem,
        companies=[company], company=company,
        groups=[Group(ModelData.get_id('ev_lead', 'group_oem'))])
    user.save()
    return user


def create_template(oem, items=TEMPLATE_ITEMS):
    Template = Pool().get('ev.oem.closure.template')
    template = Template(name=f"{oem.name} closure pack", oem=oem,
        items=[{'label': label, 'item_type': type_, 'sequence': i,
                **values} for i, (label, type_, values) in enumerate(items)])
    template.save()
    return template


def add_photos(station, taken_by, names, width=64, height=48, quality=90):
    "Photos of the station: the first named one is the main final-site one"
    Photo = Pool().get('ev.station.photo')
    photos = [Photo(station=station, name=name,
            image=image(width, height, seed=i + 1, quality=quality),
            kind='main' if name.startswith('final') else 'other',
            taken_by=taken_by, taken_on=dt.date.today())
        for i, name in enumerate(names)]
    Photo.save(photos)
    return photos


def rpc(user, Model, method, *args, context=None):
    """Call `method` of `Model` as `user` the way the RPC dispatcher does:
    its declared RPC (instantiation, access checks) and its button checks"""
    transaction = Transaction()
    call = Model.__rpc__[method]
    with transaction.set_user(user.id):
        c_args, c_kwargs, c_context, _ = call.convert(
            Model, *args, dict(context or {}))
        with transaction.set_context(c_context):
            return call.result(
                call.decorate(getattr(Model, method))(*c_args, **c_kwargs))


def dispute_as(user, pack, reason):
    "The OEM's user runs the Dispute wizard of the pack over RPC"
    Wizard = Pool().get('ev.oem.closure.pack.dispute', type='wizard')
    context = {'active_model': pack.__name__, 'active_id': pack.id,
        'active_ids': [pack.id]}
    session_id, _, _ = rpc(user, Wizard, 'create')
    rpc(user, Wizard, 'execute', session_id, {}, 'start', context=context)
    return rpc(user, Wizard, 'execute', session_id,
        {'start': {'pack': pack.id, 'reason': reason}}, 'dispute',
        context=context)


# -- for the scenario (proteus): an installation commissioned and called,
# written on the server as the field module's steps would leave it

def scenario_installation(config, oem_id):
    """A lead of the OEM with its station, its closed survey and its
    installation commissioned, with the site photos; returns the job id"""
    from trytond.modules.company.tests import set_company
    from trytond.modules.ev_field.tests.tools import create_team
    with Transaction().start(config.database_name, 0) as transaction:
        pool = Pool()
        Company = pool.get('company.company')
        Party = pool.get('party.party')
        Address = pool.get('party.address')
        Lead = pool.get('sale.opportunity')
        Job = pool.get('ev.field.job')
        Template = pool.get('product.template')
        Uom = pool.get('product.uom')
        Lot = pool.get('stock.lot')
        company, = Company.search([], limit=1)
        with set_company(company), without_check_access():
            customer = Party(name="Meera Iyer", contact_mechanisms=[
                    {'type': 'email', 'value': 'meera@example.com'}])
            customer.save()
            address = Address(party=customer, street="12 MG Road",
                city="Bengaluru", postal_code='560001')
            address.save()
            lead = Lead(party=customer, address=address, charger_quantity=1,
                charger_model="Wallbox 7kW", lead_source='oem',
                oem=Party(oem_id), oem_reference='VD-2041')
            lead.save()
            Lead.create_stations([lead])
            station, = lead.stations
            team = create_team(company, 'NORTH', ['5600*'], van=False)
            crew = Party(name="Arjun North")
            crew.save()
            unit, = Uom.search([('symbol', '=', 'u')])
            charger = Template(name="Wallbox 7kW charger", type='goods',
                default_uom=unit, products=[{}])
            charger.save()
            lot = Lot(number='WB7-1001', product=charger.products[0])
            lot.save()
            now = dt.datetime.now()
            survey = Job(kind='survey', lead=lead, company=company,
                team=team, slot_start=now - dt.timedelta(days=9),
                slot_end=now - dt.timedelta(days=9, hours=-2))
            installation = Job(kind='installation', lead=lead,
                company=company, team=team,
                slot_start=now - dt.timedelta(days=2),
                slot_end=now - dt.timedelta(days=2, hours=-3))
            Job.save([survey, installation])
            Job.write([survey], {
                    'state': 'closed', 'review': 'ready',
                    'reported_at': now - dt.timedelta(days=9),
                    'sanctioned_load_kw': Decimal('7.5'), 'earthing': 'ok',
                    'cable_run_m': Decimal('12.5'), 'mounting': 'wall',
                    }, [installation], {
                    'state': 'commissioned', 'charger_lot': lot.id,
                    'cable_used_m': Decimal(14), 'tests_done': True,
                    'demo_given': True,
                    'customer_signature': image(120, 40, 'PNG', seed=99),
                    'reported_at': now - dt.timedelta(days=2),
                    'charger_identity': 'EVB-000123',
                    'network_verified': True, 'app_paired': True,
                    'commissioned_at': now - dt.timedelta(days=2),
                    'closure_call_at': now - dt.timedelta(days=1),
                    })
            add_photos(station, crew,
                ['final-site.jpg', 'earthing-pit.jpg', 'earthing-bar.jpg'])
            station.record_event('note', "Your charger is installed and "
                "charging.", visibility='client')
        transaction.commit()
    return installation.id
