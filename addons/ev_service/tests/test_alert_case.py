# This file is part of the EV operations suite.
"""Service cases from charger alerts: the alerts are raised the way
ev_charger_iot raises them (health evaluation with a controlled clock)"""
from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.ev_charger_iot.tests.test_health import (
    NOW, connector_status, create_charger, evaluate, heartbeat, minutes,
    seconds)
from trytond.modules.ev_field.tests.tools import create_user
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction


def configure(**values):
    Configuration = Pool().get('ev.service.configuration')
    config = Configuration(1)
    for name, value in values.items():
        setattr(config, name, value)
    config.save()


def alert_cases():
    Case = Pool().get('ev.service.case')
    return Case.search([('origin', '=', 'alert')], order=[('id', 'ASC')])


def station_events(station):
    Log = Pool().get('ev.station.log')
    return [e.event_type.code for e in Log.search(
            [('station', '=', station.id)], order=[('id', 'ASC')])]


class AlertCaseTestCase(ModuleDBTestCase):
    module = 'ev_service'

    def faulted(self, identity='CP-FAULT'):
        "A charger whose connector 1 faulted at NOW, its alert raised"
        charger = create_charger(identity)
        heartbeat(charger, NOW)
        connector_status(charger, 1, 'Faulted', NOW, fault_since=NOW)
        evaluate(NOW + seconds(120))
        return charger

    @with_transaction()
    def test_fault_opens_one_case_per_episode(self):
        "A fault alert opens one case; the next episode opens another"
        pool = Pool()
        Case = pool.get('ev.service.case')
        Alert = pool.get('ev.charger.alert')
        company = create_company()
        with set_company(company):
            configure(alert_fault_opens_case=True)
            charger = self.faulted()
            alert, = Alert.search([('charger', '=', charger.id)])

            case, = Case.open_from_alerts(now=NOW + seconds(130))
            self.assertEqual(
                (case.origin, case.alert, case.station, case.company,
                    case.state),
                ('alert', alert, charger.station, company, 'reported'))
            self.assertEqual(case.description,
                'Charger alert CP-FAULT #1: Connector Fault since '
                '2026-03-02 10:00:00 (error code: -).')
            self.assertEqual(station_events(charger.station)[-1],
                'service_case_opened')

            # The same episode, evaluated and controlled again: no new case
            evaluate(NOW + minutes(10))
            self.assertEqual(Case.open_from_alerts(now=NOW + minutes(10)),
                [])
            self.assertEqual(alert_cases(), [case])

            # Recovered, then faulted again: a new episode, a new case
            connector_status(charger, 1, 'Available', NOW + minutes(11))
            evaluate(NOW + minutes(11))
            connector_status(charger, 1, 'Faulted', NOW + minutes(12),
                fault_since=NOW + minutes(12))
            evaluate(NOW + minutes(15))
            second, = Case.open_from_alerts(now=NOW + minutes(15))
            self.assertNotEqual(second.alert, alert)
            self.assertEqual(alert_cases(), [case, second])

    @with_transaction()
    def test_offline_opens_a_case_after_the_configured_minutes(self):
        "Offline alert at 8 min; the case only once offline for 60 min"
        pool = Pool()
        Case = pool.get('ev.service.case')
        company = create_company()
        with set_company(company):
            configure(alert_offline_minutes=60)
            charger = create_charger('CP-SILENT')
            heartbeat(charger, NOW)
            evaluate(NOW + minutes(8))
            self.assertEqual(Case.open_from_alerts(now=NOW + minutes(8)), [])
            evaluate(NOW + minutes(59))
            self.assertEqual(
                Case.open_from_alerts(now=NOW + minutes(59)), [])
            case, = Case.open_from_alerts(now=NOW + minutes(60))
            self.assertEqual((case.alert.kind, case.alert.since),
                ('offline', NOW))
            self.assertEqual(Case.open_from_alerts(now=NOW + minutes(90)), [])

    @with_transaction()
    def test_kinds_not_configured_open_nothing(self):
        "By default no alert opens a case; without a company, the first's"
        Case = Pool().get('ev.service.case')
        company = create_company()
        with set_company(company):
            self.faulted()
            charger = create_charger('CP-SILENT')
            heartbeat(charger, NOW)
            evaluate(NOW + minutes(600))
            self.assertEqual(
                Case.open_from_alerts(now=NOW + minutes(600)), [])
            self.assertEqual(alert_cases(), [])
            configure(alert_fault_opens_case=True, alert_offline_minutes=0)
        # A cron that lists no company: the first company's cases
        with Transaction().set_context(company=None):
            cases = Case.open_from_alerts(now=NOW + minutes(600))
        # CP-FAULT is also silent since NOW: offline too
        self.assertEqual(
            sorted((c.alert.charger.identity, c.alert.kind) for c in cases),
            [('CP-FAULT', 'fault'), ('CP-FAULT', 'offline'),
                ('CP-SILENT', 'offline')])
        self.assertEqual({c.company for c in cases}, {company})

    @with_transaction()
    def test_a_client_cannot_claim_an_alert(self):
        "Linking a case to an alert over RPC is refused, nothing written"
        pool = Pool()
        Case = pool.get('ev.service.case')
        Alert = pool.get('ev.charger.alert')
        company = create_company()
        with set_company(company):
            charger = self.faulted()
            alert, = Alert.search([])
            manager = create_user('svc-manager',
                'ev_service.group_service_manager')
            manager.companies = [company]
            manager.company = company
            manager.save()
            case = Case(station=charger.station, description="By hand")
            case.save()
            with as_user(manager), \
                    Transaction().set_context(_check_access=True):
                with self.assertRaises(AccessError) as cm:
                    Case.write([Case(case.id)], {'alert': alert.id})
                self.assertEqual(cm.exception.message,
                    'Only the alert control links a service case to a '
                    'charger alert.')
            self.assertIsNone(Case(case.id).alert)
            self.assertEqual(Case.search([], count=True), 1)
            # The alert still opens its case
            configure(alert_fault_opens_case=True)
            opened, = Case.open_from_alerts(now=NOW + seconds(130))
            self.assertEqual(opened.alert, alert)
            # Nor can a client create a case on an alert (refused once
            # created: the RPC call's transaction is rolled back)
            other = self.faulted('CP-OTHER')
            other_alert, = Alert.search([('charger', '=', other.id)])
            with as_user(manager):
                with self.assertRaises(AccessError) as cm:
                    Case.create([{'station': other.station.id,
                                'description': "Claim",
                                'origin': 'alert',
                                'alert': other_alert.id}])
                self.assertEqual(cm.exception.message,
                    'Only the alert control links a service case to a '
                    'charger alert.')


del ModuleDBTestCase
