# This file is part of the EV operations suite.
"The little world of the field tests: a company, a warehouse, teams, a lead"
import datetime as dt
import types
from decimal import Decimal

from trytond.modules.account.tests import create_chart
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.transaction import Transaction

POSTAL_CODE = '560001'


def create_user(login, *groups, employee=None):
    pool = Pool()
    User = pool.get('res.user')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    user = User(login=login, name=login.title(),
        groups=[Group(ModelData.get_id(*g.split('.'))) for g in groups])
    if employee:
        user.employees = [employee]
        user.employee = employee
    user.save()
    return user


def create_employee(company, name):
    pool = Pool()
    Party = pool.get('party.party')
    Employee = pool.get('company.employee')
    party = Party(name=name)
    party.save()
    employee = Employee(party=party, company=company)
    employee.save()
    return employee


def create_team(company, code, zones, survey=True, installation=True,
        van=True, **values):
    pool = Pool()
    Team = pool.get('ev.field.team')
    Location = pool.get('stock.location')
    location = None
    if van:
        location = Location(name=f"Van {code}", code=f'VAN-{code}',
            type='storage')
        location.save()
    values.setdefault('name', f"Team {code}")
    team = Team(code=code, company=company,
        survey=survey, installation=installation, location=location,
        zones=[{'pattern': z} for z in zones],
        saturday=True, sunday=True, **values)
    team.save()
    return team


def slot(hour, hours=2, day=0):
    "A slot today (+day) from hour:00 UTC"
    start = dt.datetime.combine(
        dt.date.today() + dt.timedelta(days=day), dt.time(hour))
    return start, start + dt.timedelta(hours=hours)


def quantity(product, location, lot=None):
    pool = Pool()
    Product = pool.get('product.product')
    grouping = ('product', 'lot') if lot else ('product',)
    grouping_filter = ([product.id], [lot.id]) if lot else ([product.id],)
    with Transaction().set_context(stock_date_end=dt.date.today()):
        pbl = Product.products_by_location([location.id], with_childs=True,
            grouping=grouping, grouping_filter=grouping_filter)
    key = (location.id, product.id, lot.id) if lot else (
        location.id, product.id)
    return pbl.get(key, 0)


def setup_world():
    """Company in INR with a chart of accounts, a warehouse stocked with
    chargers (serials SN-1..3), cable, breakers and mounting kits, the BOM
    of the "Wallbox 7kW", teams and a lead ready for survey"""
    pool = Pool()
    Currency = pool.get('currency.currency')
    Uom = pool.get('product.uom')
    Template = pool.get('product.template')
    Category = pool.get('product.category')
    Account = pool.get('account.account')
    Lot = pool.get('stock.lot')
    Move = pool.get('stock.move')
    Location = pool.get('stock.location')
    BOM = pool.get('ev.field.bom')
    Lead = pool.get('sale.opportunity')
    Party = pool.get('party.party')
    Address = pool.get('party.address')

    inr = Currency(name="Indian Rupee", code='INR', symbol='₹')
    inr.save()
    company = create_company(currency=inr)
    w = types.SimpleNamespace(company=company, inr=inr)
    with set_company(company):
        create_chart(company)
        expense, = Account.search([('type.expense', '=', True)], limit=1)
        category = Category(name="Field materials", accounting=True,
            account_expense=expense)
        category.save()
        unit, = Uom.search([('symbol', '=', 'u')])
        metre, = Uom.search([('symbol', '=', 'm')])

        def product(name, uom, price, lot=False):
            template = Template(name=name, type='goods', default_uom=uom,
                purchasable=True, purchase_uom=uom, account_category=category,
                list_price=price, cost_price_method='fixed',
                lot_required=['storage', 'customer', 'supplier']
                if lot else [])
            template.products = [{'cost_price': price}]
            template.save()
            return template.products[0]

        w.charger = product("Wallbox 7kW charger", unit, Decimal(30000), True)
        w.cable = product("Cable 6mm² (m)", metre, Decimal(150))
        w.breaker = product("MCB 32A + RCD", unit, Decimal(600))
        w.kit = product("Mounting kit", unit, Decimal(400))
        w.bom = BOM(charger_model="Wallbox 7kW", charger=w.charger, lines=[
                {'product': w.cable.id, 'per_metre': True, 'quantity': 2},
                {'product': w.breaker.id, 'quantity': 1},
                {'product': w.kit.id, 'quantity': 1},
                ])
        w.bom.save()

        w.warehouse, = Location.search([('type', '=', 'warehouse')], limit=1)
        w.storage = w.warehouse.storage_location
        supplier, = Location.search([('type', '=', 'supplier')], limit=1)
        w.lots = [Lot(number=f'SN-{i}', product=w.charger) for i in (1, 2, 3)]
        Lot.save(w.lots)
        moves = [Move(product=w.charger, lot=lot, quantity=1, unit=unit,
                from_location=supplier, to_location=w.storage,
                company=company, unit_price=Decimal(30000), currency=inr)
            for lot in w.lots]
        moves += [Move(product=p, quantity=q, unit=p.default_uom,
                from_location=supplier, to_location=w.storage,
                company=company, unit_price=p.cost_price, currency=inr)
            for p, q in [(w.cable, 100), (w.breaker, 5), (w.kit, 5)]]
        Move.save(moves)
        with Transaction().set_context(_skip_warnings=True):
            Move.do(moves)

        w.alpha = create_team(company, 'ALPHA', ['5600*'],
            labour_rate=Decimal(2500))
        w.crew = create_employee(company, "Arjun Alpha")
        w.alpha.members = [w.crew]
        w.alpha.save()

        customer = Party(name="Meera Iyer", lang=None,
            contact_mechanisms=[
                {'type': 'email', 'value': 'meera@example.com'}])
        customer.save()
        address = Address(party=customer, street="12 MG Road",
            city="Bengaluru", postal_code=POSTAL_CODE)
        address.save()
        w.customer = customer
        lead = Lead(party=customer, address=address, charger_quantity=1,
            charger_model="Wallbox 7kW", lead_source='phone',
            state='ready_for_survey')
        lead.save()
        Lead.write([lead], {'state': 'ready_for_survey'})
        w.lead = lead
    return w


def create_job(w, kind='survey', team=None, when=None, lead=None, **values):
    Job = Pool().get('ev.field.job')
    start, end = when or slot(10)
    job = Job(kind=kind, lead=lead or w.lead, company=w.company,
        team=team or w.alpha, slot_start=start, slot_end=end, **values)
    job.save()
    return job


def report_survey(job, **values):
    values = {
        'sanctioned_load_kw': Decimal('7.5'),
        'earthing': 'ok',
        'cable_run_m': Decimal('12.5'),
        'mounting': 'wall',
        **values,
        }
    for name, value in values.items():
        setattr(job, name, value)
    job.save()


def our_station_and_another(w):
    """A scheduled survey of the team Alpha, the Station Record of its lead
    and the station of a customer of no job of the team"""
    pool = Pool()
    Job = pool.get('ev.field.job')
    Station = pool.get('ev.station')
    Party = pool.get('party.party')
    job = create_job(w, 'survey')
    Job.schedule([job])
    ours, = job.lead.stations
    other_customer = Party(name="Someone Else")
    other_customer.save()
    theirs, = Station.create([{'customer': other_customer.id}])
    return job, ours, theirs
