# This file is part of the EV operations suite.
"""Health rules and alerts with a controlled clock: `now` is passed to the
evaluation, the chargers' heartbeats and statuses are set relative to it"""
import datetime

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.ev_station.tests.tools import (
    ModuleDBTestCase, SMTPServer, as_user, create_station, create_user)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction
import trytond.config as config

NOW = datetime.datetime(2026, 3, 2, 10, 0, 0)


def minutes(n):
    return datetime.timedelta(minutes=n)


def seconds(n):
    return datetime.timedelta(seconds=n)


def create_charger(identity, power_class='l2', station=None, connectors=1):
    Charger = Pool().get('ev.charger')
    charger, = Charger.create([{
                'identity': identity,
                'station': (station or create_station()).id,
                'power_class': power_class,
                'current_type': 'ac' if power_class == 'l2' else 'dc',
                'connectors': [('create', [{'number': n}
                            for n in range(1, connectors + 1)])],
                }])
    return charger


def heartbeat(charger, at, rssi=None):
    "What the ingestion service writes for a heartbeat"
    Charger = Pool().get('ev.charger')
    table = Charger.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.update([table.last_heartbeat, table.rssi],
            [at, rssi], where=table.id == charger.id))


def connector_status(charger, number, status, at, fault_since=None):
    Connector = Pool().get('ev.charger.connector')
    table = Connector.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.update(
            [table.status, table.status_at, table.fault_since],
            [status, at, fault_since if status == 'Faulted' else None],
            where=(table.charger == charger.id) & (table.number == number)))


def evaluate(at):
    Pool().get('ev.charger').evaluate_health(now=at)


def health(charger):
    Charger = Pool().get('ev.charger')
    return Charger(charger.id).health


def alerts(charger, kind=None):
    Alert = Pool().get('ev.charger.alert')
    domain = [('charger', '=', charger.id)]
    if kind:
        domain.append(('kind', '=', kind))
    return Alert.search(domain, order=[('id', 'ASC')])


class HealthTestCase(ModuleDBTestCase):
    module = 'ev_charger_iot'

    @with_transaction()
    def test_buckets(self):
        "Each rule gives its bucket, in order of precedence"
        station = create_station()
        charger = create_charger('CP-BUCKETS', station=station)
        evaluate(NOW)
        self.assertEqual(health(charger), 'offline')  # never heard of

        heartbeat(charger, NOW - seconds(30), rssi=-60)
        evaluate(NOW)
        self.assertEqual(health(charger), 'available')

        connector_status(charger, 1, 'Charging', NOW)
        evaluate(NOW)
        self.assertEqual(health(charger), 'charging')

        heartbeat(charger, NOW - seconds(30), rssi=-90)
        evaluate(NOW)
        self.assertEqual(health(charger), 'weak_signal')

        connector_status(charger, 1, 'Faulted', NOW, fault_since=NOW)
        evaluate(NOW)
        self.assertEqual(health(charger), 'faulted')

        # 3 × 60 s without heartbeat: offline wins over everything
        evaluate(NOW + seconds(149))
        self.assertEqual(health(charger), 'faulted')
        evaluate(NOW + seconds(151))
        self.assertEqual(health(charger), 'offline')

    @with_transaction()
    def test_offline_threshold_configurable(self):
        "The threshold is the multiple of the heartbeat interval"
        charger = create_charger('CP-THRESHOLD')
        heartbeat(charger, NOW)
        if not config.has_section('ev_charger_iot'):
            config.add_section('ev_charger_iot')
        config.set('ev_charger_iot', 'heartbeat_interval', '10')
        config.set('ev_charger_iot', 'heartbeat_multiple', '2')
        try:
            evaluate(NOW + seconds(20))
            self.assertEqual(health(charger), 'available')
            evaluate(NOW + seconds(21))
            self.assertEqual(health(charger), 'offline')
        finally:
            config.set('ev_charger_iot', 'heartbeat_interval', '60')
            config.set('ev_charger_iot', 'heartbeat_multiple', '3')

    @with_transaction()
    def test_offline_alert_debounced_once_per_episode(self):
        """No alert before the offline delay, one alert per episode, closed
        (not deleted) on recovery, a new one for the next episode"""
        charger = create_charger('CP-OFFLINE')
        last = NOW
        heartbeat(charger, last)
        # Offline at last + 180 s; the alert waits 5 minutes more
        for at in [last + seconds(181), last + seconds(300),
                last + seconds(479)]:
            evaluate(at)
            self.assertEqual(health(charger), 'offline')
            self.assertEqual(alerts(charger), [])
        evaluate(last + seconds(480))
        alert, = alerts(charger)
        self.assertEqual((alert.kind, alert.state, alert.since),
            ('offline', 'open', last))
        for at in [last + minutes(9), last + minutes(30)]:
            evaluate(at)
        self.assertEqual(len(alerts(charger)), 1)

        heartbeat(charger, last + minutes(31))
        evaluate(last + minutes(31))
        self.assertEqual(health(charger), 'available')
        alert, = alerts(charger)
        self.assertEqual(alert.state, 'closed')
        self.assertEqual(alert.closed_at, last + minutes(31))

        # A second episode opens a second alert; the first stays as history
        evaluate(last + minutes(31) + seconds(480))
        first, second = alerts(charger)
        self.assertEqual((first.state, second.state), ('closed', 'open'))

    @with_transaction()
    def test_flapping_charger_no_alert(self):
        "A charger back before the delay never raises an alert"
        charger = create_charger('CP-FLAP')
        at = NOW
        for _ in range(5):
            heartbeat(charger, at)
            evaluate(at + seconds(200))  # offline for 20 s
            self.assertEqual(health(charger), 'offline')
            at += seconds(210)
            heartbeat(charger, at)
            evaluate(at)
            self.assertEqual(health(charger), 'available')
        self.assertEqual(alerts(charger), [])

    @with_transaction()
    def test_fault_alert_after_two_minutes(self):
        "A connector fault alert after 2 minutes, closed when it recovers"
        charger = create_charger('CP-FAULT', connectors=2)
        heartbeat(charger, NOW)
        connector_status(charger, 2, 'Faulted', NOW, fault_since=NOW)
        evaluate(NOW + seconds(119))
        self.assertEqual(health(charger), 'faulted')
        self.assertEqual(alerts(charger), [])
        evaluate(NOW + seconds(120))
        alert, = alerts(charger)
        self.assertEqual((alert.kind, alert.connector, alert.state),
            ('fault', 2, 'open'))
        heartbeat(charger, NOW + seconds(150))
        evaluate(NOW + seconds(150))
        self.assertEqual(len(alerts(charger)), 1)

        connector_status(charger, 2, 'Available', NOW + seconds(160))
        heartbeat(charger, NOW + seconds(160))
        evaluate(NOW + seconds(160))
        alert, = alerts(charger)
        self.assertEqual(alert.state, 'closed')
        self.assertEqual(health(charger), 'available')

    @with_transaction()
    def test_alert_notifies_operators(self):
        "New alerts notify the IoT operators (notification and email)"
        pool = Pool()
        Notification = pool.get('res.notification')
        Group = pool.get('res.group')
        ModelData = pool.get('ir.model.data')
        smtp = SMTPServer().start()
        self.addCleanup(smtp.stop)
        config.set('email', 'uri', smtp.uri)
        self.addCleanup(config.set, 'email', 'uri', 'smtp://localhost:25')
        operator = create_user('iot-operator', email='ops@example.com')
        operator.groups = [Group(ModelData.get_id(
                    'ev_charger_iot', 'group_iot_operator'))]
        operator.save()
        Notice = pool.get('ev.charger.alert.notice')
        charger = create_charger('CP-NOTIFY')
        heartbeat(charger, NOW)
        evaluate(NOW + minutes(10))
        # The evaluation only leaves a notice in the outbox ...
        alert, = alerts(charger)
        self.assertTrue(alert.notified)
        self.assertEqual(alert.notice.state, 'pending')
        self.assertEqual(
            Notification.search([('user', '=', operator.id)]), [])
        self.assertEqual(smtp.messages, [])
        # ... that the outbox delivers
        Notice.deliver_due()
        notification, = Notification.search([('user', '=', operator.id)])
        self.assertEqual(notification.label,
            "Charger alert: CP-NOTIFY: Offline")
        self.assertEqual(Notice(alert.notice.id).state, 'sent')
        # Once: the next evaluation and delivery notify nothing more
        evaluate(NOW + minutes(11))
        Notice.deliver_due()
        self.assertEqual(
            Notification.search([('user', '=', operator.id)], count=True), 1)
        self.assertEqual(len(smtp.messages), 1)
        self.assertIn('ops@example.com', smtp.messages[0].rcpt_tos)
        self.assertIn(b'CP-NOTIFY', smtp.messages[0].content)

    @with_transaction()
    def test_overview_counts(self):
        "The overview counts the chargers per bucket, L2 and L3 apart"
        pool = Pool()
        Overview = pool.get('ev.charger.overview')

        def counts():
            evaluate(NOW)
            return {o.power_class: (o.available, o.charging, o.weak_signal,
                    o.offline, o.faulted, o.total)
                for o in Overview.search([])}

        def delta(after, before, power_class):
            zero = (0,) * 6
            return tuple(a - b for a, b in zip(after.get(power_class, zero),
                    before.get(power_class, zero)))
        before = counts()  # other tests may have committed chargers
        station = create_station()
        l2 = [create_charger(f'CP-L2-{i}', station=station) for i in range(3)]
        l3 = [create_charger(f'CP-L3-{i}', 'l3', station=station)
            for i in range(2)]
        heartbeat(l2[0], NOW)
        heartbeat(l2[1], NOW, rssi=-100)
        heartbeat(l3[0], NOW)
        connector_status(l3[0], 1, 'Charging', NOW)
        after = counts()
        self.assertEqual(delta(after, before, 'l2'), (1, 0, 1, 1, 0, 3))
        self.assertEqual(delta(after, before, 'l3'), (0, 1, 0, 1, 0, 2))

    @with_transaction()
    def test_alert_and_telemetry_read_only(self):
        "Users cannot forge alerts nor telemetry"
        pool = Pool()
        Alert = pool.get('ev.charger.alert')
        Heartbeat = pool.get('ev.charger.heartbeat')
        charger = create_charger('CP-RO')
        heartbeat(charger, NOW)
        evaluate(NOW + minutes(10))
        alert, = alerts(charger)
        user = create_user('iot-admin', 'group_ev_admin')
        with as_user(user):
            with self.assertRaises(AccessError):
                Alert.write([Alert(alert.id)], {'state': 'closed'})
            with self.assertRaises((AccessError, UserError)):
                Heartbeat.create([{'charger': charger.id, 'ts': NOW}])

    @with_transaction()
    def test_identity_validated(self):
        "An identity that cannot be an MQTT topic level is refused"
        with self.assertRaises(ValidationError) as cm:
            create_charger('CP/1')
        self.assertIn('CP/1', cm.exception.message)
