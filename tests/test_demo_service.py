# This file is part of the EV operations suite.
"""The service cases of the demo (demo/service.py), as the demo users see
them over JSON-RPC: open cases in several states, an overdue part holding
the contractor's payout, a part returned into the returns location, a spare
retained with the approver's reason and a rework of an installation; the
warehouse receives but does not decide, a crew sees its own team's cases.
The warranty claims judged by the demo chargers' telemetry; a crew sees
none."""
import datetime as dt
import zoneinfo
import re

import pytest

from server import ADMIN_PASSWORD

from test_demo_field import session, utc

# The demo data as its users see it over JSON-RPC: what it checks does not
# depend on the backend (the modules' tests run on both), and loading the
# demo takes minutes; ./ev test runs these in the SQLite pass, with the
# browser tests on the same demo
pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope='module')
def server(demo_server):
    "The session's demo server (tests/conftest.py), before any browser test"
    return demo_server


def cases(call, domain=(), fields=('number', 'state', 'team.code')):
    return call('model.ev.service.case.search_read', list(domain), 0, None,
        None, list(fields))


def parts(call, domain=(), fields=()):
    return call('model.ev.service.part.search_read', list(domain), 0, None,
        None, ['return_state', 'case', *fields])


def test_service_manager_sees_cases_in_every_state(server):
    service = session(server, 'service')
    states = {c['state'] for c in cases(service)}
    assert states >= {'reported', 'diagnosis', 'client_approval',
        'replaced', 'return_received', 'closed', 'decided'}


def test_overdue_part_holds_the_contractor(server):
    service = session(server, 'service')
    overdue, = parts(service, [('overdue', '=', True)],
        ['return_label', 'product.name', 'lot.number', 'return_box'])
    assert overdue['return_state'] == 'pending'
    assert overdue['return_label'] == 'DLV-RL-880101'
    assert overdue['product.']['name'] == "EVB Wallbox 7.4 kW AC (Type 2)"
    assert overdue['lot.']['number'].startswith('EVB7-')
    assert overdue['return_box']
    finance = session(server, 'finance')
    hold, = finance('model.ev.service.hold.search_read',
        [('state', '=', 'active'), ('part', '=', overdue['id'])], 0, None,
        None,
        ['part', 'amount', 'party.name', 'reason'])
    assert hold['part'] == overdue['id']
    assert hold['amount']['decimal'] == '32000.00'
    assert hold['party.']['name'] == "Gowda Electricals (North contractor)"
    assert hold['reason'] == "Part return overdue"


def test_return_received_into_the_returns_location(server):
    warehouse = session(server, 'warehouse')
    returned, = parts(warehouse, [('return_state', '=', 'complete')],
        ['condition', 'product'])
    assert returned['condition'].startswith("Complete; cartridge burnt")
    admin = server.rpc_session('admin', ADMIN_PASSWORD)
    returns, = admin('model.stock.location.search_read',
        [('code', '=', 'RET')], 0, None, None, ['name'], {})
    assert admin('model.ev.service.configuration.read', [1],
        ['returns_location'], {})[0]['returns_location'] == returns['id']
    # In the company's day (India), the day of the moves
    preferences = admin('model.res.user.get_preferences', True, {})
    stocked = admin('model.product.product.search_read', [], 0, None, None,
        ['name', 'quantity'], {**preferences, 'locations': [returns['id']]})
    assert {p['name']: p['quantity'] for p in stocked if p['quantity']} == {
        "Surge protection device Type 2": 1.0}


def test_spare_retained_with_approval(server):
    service = session(server, 'service')
    kept, = parts(service, [('return_state', '=', 'retained')],
        ['retained_reason', 'retained_by.login', 'holds'])
    assert kept['retained_reason'].startswith("The old SPD tests fine")
    assert kept['retained_by.']['login'] == 'service'
    assert kept['holds'] == []


def test_rework_goes_back_to_the_installation_team(server):
    service = session(server, 'service')
    rework, = cases(service, [('origin', '=', 'rework')],
        ['state', 'team.code', 'same_team_returns', 'rework_job.state',
            'decision'])
    assert (rework['state'], rework['decision'], rework['team.']['code'],
        rework['same_team_returns']) == (
        'decided', 'on_site_visit', 'BLR-S', True)


def test_warehouse_does_not_decide_and_crew_sees_its_own(server):
    warehouse = session(server, 'warehouse')
    in_diagnosis, = cases(warehouse, [('state', '=', 'diagnosis')])
    with pytest.raises(RuntimeError,
            match=r'Calling button "decide on "Service Case" is not '
            'allowed'):
        warehouse('model.ev.service.case.decide', [in_diagnosis['id']])
    crew = session(server, 'manjunath')
    seen = cases(crew)
    assert seen and {c['team.']['code'] for c in seen} == {'BLR-N'}
    service = session(server, 'service')
    assert len(seen) < len(cases(service))


def claims(call, domain=(), fields=()):
    "{(charger, connector): claim}"
    return {(c['charger.']['identity'], c['connector']): c
        for c in call('model.ev.service.claim.search_read', list(domain),
            0, None, None, ['charger.identity', 'connector', 'state',
                'verdict', 'error_type.code', *fields])}


def evidence(call, claim):
    return [(e['kind'], e['text']) for e in call(
            'model.ev.service.claim.evidence.search_read',
            [('claim', '=', claim['id'])], 0, None, None, ['kind', 'text'])]


def test_warranty_claims_judged_by_telemetry(server):
    service = session(server, 'service')
    found = claims(service, fields=['approver_group.name',
            'decided_by.login', 'window_start', 'claimed_kwh'])
    assert {k: (c['state'], c['verdict'], c['error_type.']['code'])
        for k, c in found.items()} == {
        ('CP-DEMO-03', 2): ('approved', 'supported', 'failed_start'),
        ('CP-DEMO-02', 1): ('submitted', 'contradicted', 'billing'),
        ('CP-DEMO-06', 1): ('draft', None, 'failed_reservation'),
        ('CP-DEMO-04', 1): ('submitted', None, 'failed_start'),
        ('CP-DEMO-04', 2): ('submitted', None, 'failed_start'),
        }
    # High severity: routed to L2, whose demo user approved it after the
    # evidence check found the Faulted episode the charger reported
    supported = found[('CP-DEMO-03', 2)]
    assert (supported['approver_group.']['name'],
        supported['decided_by.']['login']) == ("EV Service L2", 'l2')
    # In the company's time zone (India), as its users read the clocks
    start = utc(supported['window_start']).astimezone(
        zoneinfo.ZoneInfo('Asia/Kolkata'))
    fault = (start + dt.timedelta(minutes=7), start + dt.timedelta(minutes=45))
    l2 = session(server, 'l2')
    assert evidence(l2, supported) == [('status',
            f'connector 2 Faulted {fault[0]:%H:%M}-{fault[1]:%H:%M}')]
    # The meter counted 6.4 kWh of the 18 billed: the Service Manager's
    # review, nobody decided yet
    contradicted = found[('CP-DEMO-02', 1)]
    assert (contradicted['approver_group.']['name'],
        contradicted['decided_by.'], contradicted['claimed_kwh']) == (
        "EV Service Manager", None, 18.0)
    assert evidence(service, contradicted) == [('meter',
            'meter readings 6.4 kWh vs 18.0 kWh claimed (9 values)')]
    assert evidence(service, found[('CP-DEMO-06', 1)]) == []
    # Three spots with a failed start within 24 hours: one alert
    alerts = service('model.ev.service.claim.alert.search_read', [], 0,
        None, None, ['error_type.code', 'spots'])
    assert [(a['error_type.']['code'], a['spots']) for a in alerts] == [
        ('failed_start', 3)]


def test_crew_cannot_read_claims(server):
    crew = session(server, 'manjunath')
    for model, name in [('ev.service.claim', "Warranty Claim"),
            ('ev.service.claim.evidence', "Claim Evidence"),
            ('ev.service.claim.alert', "Claim Frequency Alert")]:
        with pytest.raises(RuntimeError, match=re.escape(
                    f'You are not allowed to access "{name}".')):
            crew(f'model.{model}.search_read', [], 0, None, None, ['id'])
