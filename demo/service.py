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
cases is left alone (and one with claims, for the claims)."""
import datetime as dt
import json
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


# The warranty of each demo charger model (demo/__main__.py CHARGERS), in
# months from the commissioning
WARRANTY_TERMS = [
    ("Spin Air 7.4", 24),
    ("AC Max 22", 24),
    ("RTM 60", 36),
    ("Terra 54", 36),
    ("DC Wallbox 25", 24),
    ]


def load_claims(database):
    """The warranty claims once the service users and the demo chargers
    are there; on their own: a database loaded before has none"""
    def step(pool):
        from trytond.transaction import Transaction
        if 'ev.service.claim' not in dict(pool.iterobject()):
            return False
        Claim = pool.get('ev.service.claim')
        Charger = pool.get('ev.charger')
        User = pool.get('res.user')
        users = {u.login: u for u in User.search([
                    ('login', 'in', ['admin', 'service', 'l2'])])}
        chargers = {c.identity: c for c in Charger.search([
                    ('identity', 'like', 'CP-DEMO-%')])}
        if (Claim.search([], limit=1) or len(users) < 3
                or not users['service'].company
                or not {'CP-DEMO-02', 'CP-DEMO-03', 'CP-DEMO-04',
                    'CP-DEMO-06'} <= set(chargers)):
            return False
        company = users['service'].company
        with Transaction().set_context(company=company.id):
            Claims(pool, company, users, chargers).create()
        return True
    return in_transaction(database, step)


class Claims:
    "The demo's warranty claims, each walked by its users' buttons"

    def __init__(self, pool, company, users, chargers):
        self.pool, self.company = pool, company
        self.users, self.chargers = users, chargers
        self.Claim = pool.get('ev.service.claim')
        self.ErrorType = pool.get('ev.service.claim.error_type')
        # Telemetry and claims of the last hours, to the minute (UTC)
        self.now = dt.datetime.now().replace(second=0, microsecond=0)

    as_user = Cases.as_user

    def warranty_terms(self):
        "The administrator's terms of the demo models"
        WarrantyTerm = self.pool.get('ev.service.warranty_term')
        known = {t.charger_model for t in WarrantyTerm.search([])}
        with self.as_user('admin'):
            WarrantyTerm.save([WarrantyTerm(charger_model=model,
                        months=months)
                    for model, months in WARRANTY_TERMS
                    if model not in known])

    def telemetry(self, kind, identity, rows):
        """`rows` of the charger stored by the ingestion's own Store, as
        MQTT messages received a second after the charger's timestamp"""
        from trytond.modules.ev_charger_iot.writer import Store
        messages = [(f'ev/{identity}/{kind}',
                json.dumps({**row, 'ts': row['ts'].isoformat() + 'Z'}
                    ).encode(), row['ts'] + dt.timedelta(seconds=1))
            for row in rows]
        stored, dead = Store(self.pool).store(messages, now=self.now)
        if dead:
            raise ValueError(f"demo telemetry refused: {messages}")

    def claim(self, identity, connector, code, start, minutes, description,
            **values):
        "The Service Manager records a claim of the customer of the station"
        charger = self.chargers[identity]
        error_type, = self.ErrorType.search([('code', '=', code)])
        with self.as_user('service'):
            claim = self.Claim(company=self.company, charger=charger,
                connector=connector, error_type=error_type,
                severity=error_type.severity, source='customer',
                affected_user=charger.station.customer,
                window_start=start,
                window_end=start + dt.timedelta(minutes=minutes),
                description=description, **values)
            claim.save()
        return claim

    def press(self, login, button, claim):
        with self.as_user(login):
            getattr(self.Claim, button)([claim])

    def create(self):
        minutes = dt.timedelta(minutes=1)
        self.warranty_terms()

        # A customer's session did not start on CP-DEMO-03's connector 2,
        # which the charger reported Faulted (ground failure) meanwhile:
        # the evidence supports the claim, L2 (high severity) approves it
        start = self.now - dt.timedelta(hours=5)
        self.telemetry('status', 'CP-DEMO-03', [
                {'connector': 2, 'status': s, 'error_code': e,
                    'ts': start + m * minutes}
                for s, e, m in [('Available', 'NoError', -30),
                    ('Faulted', 'GroundFailure', 7),
                    ('Available', 'NoError', 45)]])
        supported = self.claim('CP-DEMO-03', 2, 'failed_start', start, 60,
            "Session did not start, the app showed \"charger error\"")
        self.press('service', 'submit', supported)
        self.press('l2', 'check_evidence', supported)
        self.press('l2', 'approve', supported)

        # Billed 18 kWh for a session the meter of CP-DEMO-02 counts at
        # 6.4 kWh: contradicted, the Service Manager reviews it
        start = self.now - dt.timedelta(hours=20)
        self.telemetry('meter', 'CP-DEMO-02', [
                {'connector': 1, 'energy_wh': 1_180_000.0 + 800 * i,
                    'power_w': 4800.0, 'ts': start + 10 * i * minutes}
                for i in range(9)])
        contradicted = self.claim('CP-DEMO-02', 1, 'billing', start, 90,
            "Billed 18 kWh for a session of an hour and a half",
            claimed_kwh=18.0)
        self.press('service', 'submit', contradicted)
        self.press('service', 'check_evidence', contradicted)

        # A reservation the app lost, recorded but not submitted yet
        self.claim('CP-DEMO-06', 1, 'failed_reservation',
            self.now - dt.timedelta(hours=2), 30,
            "Reserved in the app for 18:00, another car was charging")

        # The same failed start on both spots of CP-DEMO-04 within the day:
        # three spots in 24 hours raise the frequency alert
        for connector, hours in [(1, 4), (2, 3)]:
            claim = self.claim('CP-DEMO-04', connector, 'failed_start',
                self.now - dt.timedelta(hours=hours), 30,
                "Session did not start after plugging in")
            self.press('service', 'submit', claim)
