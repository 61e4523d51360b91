"""The service cases of the demo (ev_service), on the Bengaluru stations.

Open cases in every state the Service Manager meets: a charger fault just
reported, one in L2 diagnosis, a quote waiting for the client, a part out
in a van that is overdue and holds the contractor's payout (the real daily
control, run on a due date in the past), a part returned complete into the
warehouse's returns location, a spare the team keeps with the approver's
reason, and an installation rework the same team goes back for.

Every step is a button of the module pressed by the user who would press it:
`service` (the Service Manager) opens and runs the cases, `l2` decides,
`warehouse` receives the returns. Loaded once: a database with service
cases is left alone."""
import datetime as dt
import logging
from decimal import Decimal

from demo.__main__ import PASSWORD, in_transaction

logger = logging.getLogger(__name__)

# login, name, group (module, xml id)
SERVICE_USERS = [
    ('service', "Sameer Service", ('ev_service', 'group_service_manager')),
    ('l2', "Lalitha L2", ('ev_service', 'group_service_l2')),
    ]
# The teams that do service, and the contractor that answers for each van
CONTRACTORS = {
    'BLR-N': "Gowda Electricals (North contractor)",
    'BLR-E': "D'Souza Power Services (East contractor)",
    }


def load_service(database):
    def step(pool):
        if 'ev.service.case' not in dict(pool.iterobject()):
            return False
        Case = pool.get('ev.service.case')
        Team = pool.get('ev.field.team')
        User = pool.get('res.user')
        coordinator = User.search([('login', '=', 'coordinator')])
        if (Case.search([], limit=1) or not Team.search([], limit=1)
                or not coordinator or not coordinator[0].company):
            return False
        create_service(pool, coordinator[0].company)
        return True
    return in_transaction(database, step)


def create_service(pool, company):
    from trytond.transaction import Transaction

    with Transaction().set_context(company=company.id):
        users = create_users(pool, company)
        teams = service_teams(pool, company)
        Cases(pool, company, users, teams).create()


def create_users(pool, company):
    User = pool.get('res.user')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    users = {u.login: u for u in User.search([
                ('login', 'in', ['admin', 'warehouse', 'support'])])}
    for login, name, group in SERVICE_USERS:
        users[login] = User(login=login, name=name, password=PASSWORD,
            email=f'{login}@ev.localhost',
            groups=[Group(ModelData.get_id(*group))],
            companies=[company], company=company)
        users[login].save()
    User.write([users['warehouse']], {
            'companies': [('add', [company.id])], 'company': company.id})
    return users


def service_teams(pool, company):
    Party = pool.get('party.party')
    Team = pool.get('ev.field.team')
    teams = {t.code: t for t in Team.search([])}
    for code, name in CONTRACTORS.items():
        contractor = Party(name=name)
        contractor.save()
        teams[code].service = True
        teams[code].contractor = contractor
    Team.save([teams[c] for c in CONTRACTORS])
    return teams


class Cases:
    "The demo's service cases, each walked by its users' buttons"

    def __init__(self, pool, company, users, teams):
        Station = pool.get('ev.station')
        self.pool, self.company = pool, company
        self.users, self.teams = users, teams
        self.Case = pool.get('ev.service.case')
        self.Part = pool.get('ev.service.part')
        # The stations of the field jobs (Bengaluru) first
        self.stations = Station.search([], order=[('id', 'DESC')])

    def as_user(self, login):
        from trytond.transaction import Transaction
        return Transaction().set_user(self.users[login].id)

    def open(self, station, description, team='BLR-N', **values):
        with self.as_user('service'):
            case = self.Case(station=station, company=self.company,
                description=description, team=self.teams.get(team),
                coordinator=self.users['service'], **values)
            case.save()
        return case

    def diagnose(self, case):
        with self.as_user('l2'):
            self.Case.diagnose([case])

    def decide(self, case, decision, note, **values):
        self.diagnose(case)
        with self.as_user('l2'):
            case.decision = decision
            case.decision_note = note
            for name, value in values.items():
                setattr(case, name, value)
            case.save()
            self.Case.decide([case])

    def ship(self, case, product, lot, label):
        "The part with its return box and label leaves for the team's van"
        Package = self.pool.get('stock.package')
        PackageType = self.pool.get('stock.package.type')
        box_type, = PackageType.search([('name', '=', "Return box")]) or [
            PackageType(name="Return box")]
        box_type.save()
        box = Package(company=self.company, type=box_type)
        box.save()
        with self.as_user('service'):
            part = self.Part(case=case, product=product, lot=lot,
                destination='van', return_box=box, return_label=label)
            part.save()
            self.Case.ship_parts([case])
        return part

    def visit(self, case, note):
        with self.as_user('service'):
            case.visit_date = case.visit_date or dt.date.today()
            case.save()
            self.Case.start_visit([case])
            case.visit_note = note
            case.save()
            self.Case.complete_replacement([case])

    def in_storage(self, product):
        "The serials of the product on the warehouse's shelves"
        pool = self.pool
        Product = pool.get('product.product')
        Lot = pool.get('stock.lot')
        Configuration = pool.get('ev.field.configuration')
        storage = Configuration(1).get_warehouse(
            self.company).storage_location
        quantities = Product.products_by_location([storage.id],
            with_childs=True, grouping=('product', 'lot'),
            grouping_filter=([product.id],))
        return Lot.browse(sorted(lot for (_, _, lot), quantity
                in quantities.items() if lot and quantity > 0))

    def create(self):
        pool = self.pool
        Product = pool.get('product.product')
        Job = pool.get('ev.field.job')
        Date = pool.get('ir.date')
        today = Date.today()
        charger, = Product.search(
            [('name', '=', "EVB Wallbox 7.4 kW AC (Type 2)")])
        spd, = Product.search(
            [('name', '=', "Surge protection device Type 2")])
        lots = self.in_storage(charger)
        stations = iter(self.stations)

        # Just reported: the charger alert of a faulted connector
        self.open(next(stations), "CP alert: connector 1 faulted at every "
            "start since yesterday evening", origin='alert')

        # L2 is looking at the logs of another
        case = self.open(next(stations), "Charging stops after 10 minutes, "
            "customer sends a video")
        self.diagnose(case)

        # A chargeable repair: the quote waits for the client
        case = self.open(next(stations), "Socket shutter broken by the "
            "customer's car door")
        self.decide(case, 'part_replacement', "Replace the socket assembly",
            chargeable=True, quoted_amount=Decimal(4500))
        with self.as_user('service'):
            self.Case.request_approval([case])

        # A charger out in the North van whose old unit never came back:
        # shipped 20 days ago, the daily control finds it overdue and holds
        # the contractor's payout
        case = self.open(next(stations), "Display dead, charger does not "
            "wake up")
        self.decide(case, 'part_replacement', "Replace the charger, test "
            "three sessions")
        part = self.ship(case, charger, lots[0] if lots else None,
            'DLV-RL-880101')
        self.visit(case, "Charger replaced; old unit left with the customer "
            "for pickup")
        with self.as_user('service'):
            self.Part.write([part], {
                    'return_due': today - dt.timedelta(days=6)})
        self.Part.mark_overdue()

        # A surge protector replaced; the old one is back in the returns
        # location, received and inspected by the warehouse
        case = self.open(next(stations), "SPD indicator red after a storm",
            team='BLR-E')
        self.decide(case, 'part_replacement', "Replace the SPD")
        part = self.ship(case, spd, None, 'DLV-RL-880102')
        self.visit(case, "SPD replaced, insulation test passed")
        with self.as_user('warehouse'):
            part.condition = ("Complete; cartridge burnt, for the "
                "supplier's warranty")
            part.save()
            self.Part.receive([part])
        with self.as_user('service'):
            self.Case.confirm_returns([case])

        # Another surge protector the East team keeps as a spare in its
        # van, approved by the Service Manager with a reason
        case = self.open(next(stations), "SPD replaced as a precaution "
            "after a nearby lightning strike", team='BLR-E')
        self.decide(case, 'part_replacement', "Replace the SPD")
        part = self.ship(case, spd, None, 'DLV-RL-880103')
        self.visit(case, "New SPD fitted; the old one tests fine")
        with self.as_user('service'):
            part.retained_reason = ("The old SPD tests fine: kept in the "
                "East van as a spare for the next storm call")
            part.save()
            self.Part.retain([part])
            self.Case.confirm_returns([case])
            self.Case.close([case])

        # Rework: the installation team goes back to its own installation
        installation, = Job.search([
                ('kind', '=', 'installation'),
                ('state', 'in', ['commissioned', 'closed']),
                ('team.code', '=', 'BLR-S')], limit=1)
        case = self.open(installation.lead.stations[0], "Cable gland at "
            "the charger leaks after the first rain", team=None,
            origin='rework', rework_job=installation, same_team_returns=True)
        self.decide(case, 'on_site_visit', "Re-seal the gland, check the "
            "insulation")
        with self.as_user('service'):
            case.visit_date = today + dt.timedelta(days=1)
            case.save()
