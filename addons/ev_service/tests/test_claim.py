# This file is part of the EV operations suite.
"""Warranty claims checked against real telemetry rows: the evidence, the
warranty period, the routing, the frequency alert, and every door tried by
the role that may not open it"""
import contextlib
import datetime as dt

from sql import Column

from trytond.exceptions import UserError
from trytond.model.exceptions import (
    AccessError, RequiredValidationError, ValidationError)
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.ev_charger_iot.tests.test_health import create_charger
from trytond.modules.ev_field.tests.tools import create_user
from trytond.model.modelview import AccessButtonError
from trytond.modules.ev_station.tests.tools import (
    ModuleDBTestCase, as_user, create_customer, create_station)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

TODAY = dt.date.today()


@contextlib.contextmanager
def rolled_back(test):
    """Undo what the block wrote when it raises, as the RPC dispatcher
    does with its transaction"""
    cursor = Transaction().connection.cursor()
    cursor.execute('SAVEPOINT bad_input')
    try:
        yield
    except Exception:
        cursor.execute('ROLLBACK TO SAVEPOINT bad_input')
        # The ids of the undone rows are free again: forget their values
        Transaction().cache.clear()
        raise
    cursor.execute('RELEASE SAVEPOINT bad_input')


def at(hour, minute=0, day=TODAY):
    return dt.datetime.combine(day, dt.time(hour, minute))


def status(charger, connector, value, ts):
    "A StatusNotification as the ingestion stores it"
    Status = Pool().get('ev.charger.status')
    Status.create([{'charger': charger.id, 'connector': connector,
                'status': value, 'ts': ts, 'received_at': ts}])


def meter(charger, connector, energy_wh, ts):
    Meter = Pool().get('ev.charger.meter')
    Meter.create([{'charger': charger.id, 'connector': connector,
                'energy_wh': energy_wh, 'ts': ts, 'received_at': ts}])


def failed_command(charger, action, ts):
    "A command whose result came back as rejected"
    Command = Pool().get('ev.charger.command')
    command, = Command.create([{'charger': charger.id, 'action': action,
                'params': {'id_tag': 'TAG-1', 'connector_id': 1}}])
    table = Command.__table__()
    Transaction().connection.cursor().execute(*table.update(
            [table.state, table.requested_at], ['rejected', ts],
            where=table.id == command.id))
    return command


def error_type(code):
    ModelData = Pool().get('ir.model.data')
    ErrorType = Pool().get('ev.service.claim.error_type')
    return ErrorType(ModelData.get_id(
            'ev_service', f'claim_error_type_{code}'))


def log_entries(station):
    "(event code, visibility, text) of the claim entries of the station log"
    Log = Pool().get('ev.station.log')
    return [(e.event_type.code, e.visibility, e.text) for e in Log.search(
            [('station', '=', station.id)], order=[('id', 'ASC')])
        if e.event_type.code.startswith('warranty_claim')]


class ClaimWorld:

    def setup(self):
        pool = Pool()
        WarrantyTerm = pool.get('ev.service.warranty_term')
        company = create_company()
        self.company = company
        with set_company(company):
            self.station = create_station()
            self.charger = self.commissioned('CP-W-1', days=200)
            WarrantyTerm.create([
                    {'charger_model': 'Wallbox 7kW', 'months': 24}])
            self.customer = create_customer()
            self.manager = create_user('w-manager',
                'ev_service.group_service_manager')
            self.l2 = create_user('w-l2', 'ev_service.group_service_l2')
            self.iot = create_user('w-iot',
                'ev_charger_iot.group_iot_operator')
            self.field = create_user('w-field', 'ev_field.group_field_team')
            self.admin = create_user('w-admin', 'ev_station.group_ev_admin')
            for user in [self.manager, self.l2, self.iot, self.field,
                    self.admin]:
                user.companies = [company]
                user.company = company
                user.save()

    def commissioned(self, identity, days):
        charger = create_charger(identity, station=self.station,
            connectors=2)
        charger.model = 'Wallbox 7kW'
        charger.commissioning_date = TODAY - dt.timedelta(days=days)
        charger.save()
        return charger

    def claim(self, code='failed_start', charger=None, connector=1,
            start=None, end=None, **values):
        Claim = Pool().get('ev.service.claim')
        type_ = error_type(code)
        claim = Claim(company=self.company, charger=charger or self.charger,
            connector=connector, error_type=type_, severity=type_.severity,
            window_start=start or at(14), window_end=end or at(15),
            description="The session did not start", **values)
        claim.save()
        return claim

    def submitted(self, *args, **values):
        Claim = Pool().get('ev.service.claim')
        claim = self.claim(*args, **values)
        with as_user(self.manager):
            Claim.submit([Claim(claim.id)])
        return Claim(claim.id)


class ClaimTestCase(ClaimWorld, ModuleDBTestCase):
    module = 'ev_service'

    @with_transaction()
    def test_evidence_in_company_time(self):
        "The evidence reads the times on the company's clocks (India)"
        pool = Pool()
        Claim = pool.get('ev.service.claim')
        self.setup()
        self.company.timezone = 'Asia/Kolkata'
        self.company.save()
        with set_company(self.company):
            status(self.charger, 1, 'Faulted', at(14, 2))
            status(self.charger, 1, 'Available', at(14, 40))
            claim = self.submitted()
            with as_user(self.l2):
                Claim.check_evidence([Claim(claim.id)])
            self.assertEqual([e.text for e in claim.evidence],
                ['connector 1 Faulted 19:32-20:10'])

    @with_transaction()
    def test_fault_in_window_supports_claim(self):
        "A fault in the window and a rejected start support the claim"
        pool = Pool()
        Claim = pool.get('ev.service.claim')
        Notification = pool.get('res.notification')
        self.setup()
        with set_company(self.company):
            status(self.charger, 1, 'Available', at(13))
            status(self.charger, 1, 'Faulted', at(14, 2))
            status(self.charger, 1, 'Available', at(14, 40))
            status(self.charger, 2, 'Faulted', at(14, 10))  # other spot
            failed_command(self.charger, 'RemoteStartTransaction',
                at(14, 5))
            claim = self.submitted(source='customer',
                affected_user=self.customer)
            self.assertEqual(claim.state, 'submitted')
            self.assertEqual(claim.warranty_until,
                self.charger.commissioning_date.replace(
                    year=self.charger.commissioning_date.year + 2))
            # Failed start is high severity: L2 approves it
            self.assertEqual(claim.approver_group.name, "EV Service L2")
            self.assertEqual(sorted(n.user.login for n in Notification.search(
                        [('model', '=', 'ev.service.claim')])),
                ['admin', 'w-l2', 'w-manager'])

            with as_user(self.l2):
                Claim.check_evidence([Claim(claim.id)])
            self.assertEqual(claim.verdict, 'supported')
            self.assertEqual([(e.kind, e.text) for e in claim.evidence], [
                    ('status', 'connector 1 Faulted 14:02-14:40'),
                    ('command', 'Remote Start Transaction Rejected at 14:05'),
                    ])
            with as_user(self.manager), self.assertRaises(AccessError) as cm:
                Claim.approve([Claim(claim.id)])
            self.assertEqual(cm.exception.message,
                f'Claim "{claim.rec_name}" is decided by the group '
                '"EV Service L2".')
            with as_user(self.l2):
                Claim.approve([Claim(claim.id)])
            self.assertEqual((claim.state, claim.decided_by),
                ('approved', self.l2))
            # L2 does not open service cases; the Service Manager does
            with as_user(self.l2), self.assertRaises(AccessButtonError):
                Claim.open_case([Claim(claim.id)])
            with as_user(self.manager):
                Claim.open_case([Claim(claim.id)])
            case = claim.service_case
            self.assertEqual((case.origin, case.station, case.state),
                ('warranty', self.station, 'reported'))
            self.assertEqual(case.description,
                f'Warranty claim {claim.rec_name}: The session did not '
                'start\nEvidence: connector 1 Faulted 14:02-14:40; Remote '
                'Start Transaction Rejected at 14:05')
            with as_user(self.manager):
                Claim.close([Claim(claim.id)])
            # A customer's claim: every step is in the client's log
            self.assertEqual([(c, v) for c, v, _ in log_entries(
                            self.station)], [
                    ('warranty_claim_submitted', 'client'),
                    ('warranty_claim_evidence', 'client'),
                    ('warranty_claim_approved', 'client'),
                    ('warranty_claim_closed', 'client'),
                    ])
            # Every change is kept in the claim's history, in order
            history = Claim.__table_history__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*history.select(history.state,
                    where=history.id == claim.id,
                    order_by=[Column(history, '__id').asc]))
            states = [s for s, in cursor]
            self.assertEqual([s for i, s in enumerate(states)
                    if not i or s != states[i - 1]],
                ['draft', 'submitted', 'approved', 'closed'])
            self.assertEqual(log_entries(self.station)[1][2],
                f'Evidence of warranty claim {claim.rec_name}: Supported '
                '(connector 1 Faulted 14:02-14:40; Remote Start Transaction '
                'Rejected at 14:05)')

    @with_transaction()
    def test_window_without_fault_contradicts(self):
        "Statuses in the window but no fault: the claim is contradicted"
        Claim = Pool().get('ev.service.claim')
        self.setup()
        with set_company(self.company):
            status(self.charger, 1, 'Available', at(13))
            status(self.charger, 1, 'Charging', at(14, 10))
            claim = self.submitted()
            Claim.check_evidence([claim])
            self.assertEqual(claim.verdict, 'contradicted')
            self.assertEqual([e.text for e in claim.evidence],
                ['no fault reported between 14:00 and 15:00'])
            self.assertEqual(log_entries(self.station)[0][1], 'internal')

    @with_transaction()
    def test_meter_contradiction_flagged(self):
        """A claimed energy far from our meter values is contradicted; the
        reviewer decides only with an override reason"""
        Claim = Pool().get('ev.service.claim')
        self.setup()
        with set_company(self.company):
            for minute, energy in [(5, 10000), (30, 11500), (55, 13100)]:
                meter(self.charger, 1, energy, at(14, minute))
            meter(self.charger, 2, 90000, at(14, 30))  # other spot
            meter(self.charger, 1, 50000, at(16))  # after the window
            claim = self.submitted('meter_reading', claimed_kwh=7.4)
            with as_user(self.l2):
                Claim.check_evidence([Claim(claim.id)])
            self.assertEqual(claim.verdict, 'contradicted')
            self.assertEqual([e.text for e in claim.evidence],
                ['meter readings 3.1 kWh vs 7.4 kWh claimed (3 values)'])
            for button in [Claim.approve, Claim.escalate]:
                with as_user(self.l2), self.assertRaises(UserError) as cm:
                    button([Claim(claim.id)])
                self.assertEqual(cm.exception.message,
                    'The telemetry does not support claim '
                    f'"{claim.rec_name}" (Contradicted): give an override '
                    'reason to decide anyway.')
            self.assertEqual(claim.state, 'submitted')
            with as_user(self.l2):
                Claim.write([Claim(claim.id)], {
                        'override_reason': "Meter recalibrated on the 3rd"})
                Claim.approve([Claim(claim.id)])
            self.assertEqual(claim.state, 'approved')
            self.assertEqual(log_entries(self.station)[-1][2],
                f'Warranty claim {claim.rec_name}: Approved '
                '(override: Meter recalibrated on the 3rd)')

            # A claimed energy within the tolerance (5 %) is supported
            agreed = self.submitted('meter_reading', claimed_kwh=3.0)
            Claim.check_evidence([agreed])
            self.assertEqual(agreed.verdict, 'supported')

    @with_transaction()
    def test_no_evidence_no_decision(self):
        "Without a checked evidence nobody approves nor escalates"
        Claim = Pool().get('ev.service.claim')
        self.setup()
        with set_company(self.company):
            claim = self.submitted('other')
            for button in [Claim.approve, Claim.escalate]:
                with as_user(self.manager), \
                        self.assertRaises(UserError) as cm:
                    button([Claim(claim.id)])
                self.assertEqual(cm.exception.message,
                    f'Claim "{claim.rec_name}" has no evidence: check it '
                    'against the charger telemetry first.')
            # No telemetry at all: "no data", which needs an override too
            Claim.check_evidence([claim])
            self.assertEqual((claim.verdict, [e.text for e in claim.evidence]),
                ('no_data', ['no telemetry of the charger in the claimed '
                        'window']))
            claim.override_reason = "Customer's video shows the screen"
            claim.save()
            # "Other" is low severity: the manager decides, and escalates to
            # L2, who then decides
            with as_user(self.manager):
                Claim.escalate([Claim(claim.id)])
            self.assertEqual((claim.state, claim.approver_group.name),
                ('escalated', "EV Service L2"))
            with as_user(self.manager), self.assertRaises(AccessError):
                Claim.reject([Claim(claim.id)])
            with as_user(self.l2):
                Claim.reject([Claim(claim.id)])
            self.assertEqual(claim.state, 'rejected')
            with self.assertRaises(UserError) as cm:
                Claim.open_case([claim])
            self.assertEqual(cm.exception.message,
                f'Claim "{claim.rec_name}" is Rejected: only an approved '
                'claim opens a service case.')

    @with_transaction()
    def test_out_of_warranty_refused(self):
        "A claim after the warranty period is refused and nothing is written"
        pool = Pool()
        Claim = pool.get('ev.service.claim')
        Notification = pool.get('res.notification')
        self.setup()
        with set_company(self.company):
            old = self.commissioned('CP-W-OLD', days=3 * 365)
            claim = self.claim(charger=old)
            with as_user(self.manager), self.assertRaises(UserError) as cm:
                Claim.submit([Claim(claim.id)])
            commissioned = old.commissioning_date
            until = commissioned.replace(year=commissioned.year + 2)
            self.assertEqual(cm.exception.message,
                'Claim refused: the warranty of charger "CP-W-OLD" (model '
                f'Wallbox 7kW, 24 months from its commissioning on '
                f'{commissioned}) ended on {until}, before the claimed time '
                f'{TODAY}.')
            self.assertEqual(claim.state, 'draft')
            self.assertEqual(log_entries(self.station), [])
            self.assertEqual(Notification.search([]), [])

            # A model without terms is refused by name
            old.model = 'Unknown 3kW'
            old.save()
            with self.assertRaises(UserError) as cm:
                Claim.submit([Claim(claim.id)])
            self.assertEqual(cm.exception.message,
                'Charger "CP-W-OLD" is of model "Unknown 3kW", which has no '
                'warranty terms: add them before claiming.')

    @with_transaction()
    def test_frequency_alert_at_n_not_before(self):
        "The same error on N distinct spots raises one alert, N-1 none"
        pool = Pool()
        Claim = pool.get('ev.service.claim')
        Alert = pool.get('ev.service.claim.alert')
        Configuration = pool.get('ev.service.configuration')
        self.setup()
        with set_company(self.company):
            config = Configuration(1)
            config.claim_alert_spots = 3
            config.save()
            other = self.commissioned('CP-W-2', days=100)
            self.submitted(connector=1)
            self.submitted(connector=1)  # the same spot again
            self.submitted(connector=2)
            self.submitted('billing', charger=other)  # another error type
            self.claim(charger=other)  # a draft does not count
            self.assertEqual(Alert.search([]), [])

            self.submitted(charger=other, connector=1)
            alert, = Alert.search([])
            self.assertEqual((alert.error_type, alert.spots),
                (error_type('failed_start'), 3))
            # One alert per window
            self.submitted(charger=other, connector=2)
            self.assertEqual(len(Alert.search([])), 1)
            # Claims older than the window do not count
            self.assertEqual(Alert.count_spots(at(0) + dt.timedelta(days=2)),
                {})
            self.assertEqual(len(Claim.search([('state', '=', 'draft')])), 1)

    @with_transaction()
    def test_bad_input_writes_nothing(self):
        "Each bad claim is refused with its reason; no claim is written"
        Claim = Pool().get('ev.service.claim')
        self.setup()
        with set_company(self.company):
            with self.assertRaises(ValidationError) as cm, \
                    rolled_back(self):
                self.claim(start=at(15), end=at(14))
            self.assertEqual(cm.exception.message,
                'The claimed time window must end after it starts (from '
                f'{at(15)} to {at(14)}).')
            with self.assertRaises(RequiredValidationError) as cm, \
                    rolled_back(self):
                self.claim(source='customer')
            self.assertRegex(cm.exception.message,
                r'^A value is required for field "Affected User" in record '
                r'"Claim \d+: Failed start / allocation on CP-W-1" of '
                r'"Warranty Claim"\.$')
            with self.assertRaises(ValidationError) as cm, \
                    rolled_back(self):
                self.claim(connector=-1)
            self.assertEqual(cm.exception.message,
                'The charging spot of a claim is a connector number of 0 or '
                'more, not -1.')
            with self.assertRaises(ValidationError) as cm, \
                    rolled_back(self):
                self.claim('meter_reading', claimed_kwh=-2)
            self.assertEqual(cm.exception.message,
                'The claimed energy cannot be negative (-2.0 kWh).')
            self.assertEqual(Claim.search([]), [])

    @with_transaction()
    def test_access_by_role(self):
        "Each role tries the doors it may not open"
        pool = Pool()
        Claim = pool.get('ev.service.claim')
        Evidence = pool.get('ev.service.claim.evidence')
        ErrorType = pool.get('ev.service.claim.error_type')
        WarrantyTerm = pool.get('ev.service.warranty_term')
        Alert = pool.get('ev.service.claim.alert')
        self.setup()
        with set_company(self.company):
            status(self.charger, 1, 'Faulted', at(14, 2))
            claim = self.submitted()
            values = {'company': self.company.id,
                'charger': self.charger.id, 'connector': 1,
                'error_type': error_type('other').id, 'severity': 'low',
                'window_start': at(9), 'window_end': at(10),
                'description': "Reservation not confirmed"}
            # A field team sees no claim at all
            with as_user(self.field):
                for door in [lambda: Claim.search([]),
                        lambda: Claim.read([claim.id], ['state']),
                        lambda: Claim.create([values]),
                        lambda: Alert.search([])]:
                    with self.assertRaises(AccessError):
                        door()
            # The IoT operator reads claims but neither creates nor reviews
            with as_user(self.iot):
                self.assertEqual(Claim.search([]), [Claim(claim.id)])
                with self.assertRaises(AccessError):
                    Claim.create([values])
                for button in [Claim.check_evidence, Claim.approve]:
                    with self.assertRaises(AccessButtonError) as cm:
                        button([Claim(claim.id)])
                    self.assertEqual(cm.exception.message,
                        f'Calling button "{button.__name__} on "Warranty '
                        'Claim" is not allowed.')
            # L2 reviews but does not open claims nor submit them
            with as_user(self.l2):
                with self.assertRaises(AccessError):
                    Claim.create([values])
            draft, = Claim.create([values])
            with as_user(self.l2), self.assertRaises(AccessButtonError):
                Claim.submit([Claim(draft.id)])
            # Nobody edits the evidence, the error types nor the terms but
            # the check and the administrator
            with as_user(self.manager):
                Claim.check_evidence([Claim(claim.id)])
                evidence = Claim(claim.id).evidence[0]
                for i, door in enumerate([
                        lambda: Evidence.write([evidence], {'text': "x"}),
                        lambda: Evidence.delete([evidence]),
                        lambda: Evidence.create([{'claim': claim.id,
                                    'kind': 'status', 'text': "fake"}]),
                        lambda: ErrorType.write([error_type('other')],
                            {'severity': 'high'}),
                        lambda: WarrantyTerm.create([
                                {'charger_model': 'X', 'months': 99}]),
                        ]):
                    with self.assertRaises(AccessError, msg=i) as cm:
                        door()
                    if i == 0:
                        self.assertEqual(cm.exception.message,
                            'The evidence of a warranty claim is what the '
                            'telemetry says: only "Check Evidence" writes '
                            'it.')
                with self.assertRaises(AccessError):
                    Claim.delete([Claim(draft.id)])
            with as_user(self.admin):
                WarrantyTerm.create([{'charger_model': 'X', 'months': 12}])
                # Even the administrator keeps a submitted claim on record
                with self.assertRaises(AccessError) as cm:
                    Claim.delete([Claim(claim.id)])
                self.assertEqual(cm.exception.message,
                    f'Warranty claim "{claim.rec_name}" was submitted: it '
                    'stays on record and cannot be deleted.')
                Claim.delete([Claim(draft.id)])
            self.assertEqual(evidence.text,
                'connector 1 Faulted 14:02-15:00')
