# This file is part of the EV operations suite.
"""Chargers authenticate at the OCPP gateway, tried as an outsider would:
an unknown charger, a wrong password, a charger claiming another's identity
or sending none are refused at the websocket upgrade (OCPP security profile
1, HTTP Basic; profile 2 over TLS), a charger receives only its own
commands, and only the id tags of the authorisation list may charge."""
import asyncio
import os
import shutil
import ssl
import tempfile

import pytest
import websockets
from ocpp.v16 import call
from ocpp.v16.enums import RegistrationStatus
from ocpp.v201 import call as call201
from websockets.exceptions import InvalidMessage, InvalidStatus

from iot_tools import (
    CHARGER_PASSWORD, Gateway, Ingest, Service, make_certificates,
    shared_server, unique, wait_for)
from test_iot_ocpp import (
    SimulatedChargePoint, SimulatedStation201, command_state, connect,
    credentials, run, until)

pytestmark = pytest.mark.backend_independent

WRONG_PASSWORD = 'Not-The-Password-0001'


@pytest.fixture(scope='module')
def server():
    return shared_server()


@pytest.fixture(scope='module')
def certificates():
    "A CA and the gateway's certificate for 127.0.0.1 (profile 2)"
    directory = tempfile.mkdtemp(prefix='ev-ocpp-tls-')
    ca = make_certificates(directory)
    yield {'ca': ca, 'certfile': os.path.join(directory, 'server.crt'),
        'keyfile': os.path.join(directory, 'server.key')}
    shutil.rmtree(directory, ignore_errors=True)


async def refusal(url, headers=None, **kwargs):
    "(HTTP status, body) of a websocket upgrade the gateway must refuse"
    try:
        connection = await websockets.connect(url, subprotocols=['ocpp1.6'],
            additional_headers=headers, **kwargs)
    except InvalidStatus as refused:
        return refused.response.status_code, refused.response.body
    await connection.close()
    raise AssertionError(f"the gateway let {url} in")


def test_upgrade_refused(server):
    """No credentials, an unknown identity, a wrong password, another
    charger's password, or a charger never given a password: 401 before
    any OCPP message, the same answer whichever it was, nothing published"""
    charger_a, charger_b, no_password = (unique('AUTH-A'), unique('AUTH-B'),
        unique('AUTH-NONE'))
    server.create_chargers([charger_a, charger_b], password=CHARGER_PASSWORD)
    server.create_chargers([no_password])
    base = f'ws://127.0.0.1:{server.gateway_port}'
    with Gateway(server) as gateway:
        async def attempts():
            return [
                await refusal(f'{base}/{charger_a}'),
                await refusal(f'{base}/{unique("ROGUE")}',
                    credentials(unique('ROGUE'))),
                await refusal(f'{base}/{charger_a}',
                    credentials(charger_a, WRONG_PASSWORD)),
                # B's own credentials on A's URL: B speaking as A
                await refusal(f'{base}/{charger_a}', credentials(charger_b)),
                # A's credentials on B's URL
                await refusal(f'{base}/{charger_b}', credentials(charger_a)),
                await refusal(f'{base}/{no_password}',
                    credentials(no_password, '')),
                await refusal(f'{base}/{no_password}',
                    credentials(no_password)),
                ]
        answers = run(attempts())
        log = gateway.log()
    assert answers == [(401, b"Missing credentials\n")] + [
        (401, b"Invalid credentials\n")] * 6
    assert f"connection refused: id='{charger_a}' missing credentials" in log
    assert f"connection refused: id='{charger_a}' invalid credentials" in log
    assert 'charger connected' not in log
    assert server.count('ev_charger_dead_letter', 'WHERE identity IN '
        '(%s, %s, %s)', (charger_a, charger_b, no_password)) == 0


def test_password_guessing_is_cut_short(server):
    """A guesser gets a few tries per minute from its address, then even
    the right password is refused unchecked until the window has passed
    (each check costs the gateway a password hash)"""
    charger = unique('AUTH-GUESS')
    server.create_chargers([charger], password=CHARGER_PASSWORD)
    url = f'ws://127.0.0.1:{server.gateway_port}/{charger}'
    with Gateway(server, ocpp_login_failures=3, ocpp_login_window=3) \
            as gateway:
        async def guesses():
            answers = [await refusal(url, credentials(
                        charger, f'Guess-Number-{n:08d}')) for n in range(3)]
            answers.append(await refusal(url, credentials(charger)))
            return answers
        answers = run(guesses())
        assert answers == [(401, b"Invalid credentials\n")] * 4
        assert gateway.log().count("too many failed logins") == 1
        assert gateway.log().count(
            f"connection refused: id='{charger}' invalid credentials") == 3
        # Once the window has passed, the charger itself gets in again
        wait_for(lambda: run(accepted(url, charger)), timeout=20,
            message="the charger to be let in after the window")


async def accepted(url, charger):
    try:
        connection = await websockets.connect(url, subprotocols=['ocpp1.6'],
            additional_headers=credentials(charger))
    except InvalidStatus:
        return False
    await connection.close()
    return True


def test_commands_reach_their_charger_only(server):
    """Two chargers connected with their own credentials: a command for A
    reaches A, never B; B cannot connect in A's place"""
    charger_a, charger_b = unique('CMD-A'), unique('CMD-B')
    id_a, _ = server.create_chargers([charger_a, charger_b],
        password=CHARGER_PASSWORD)
    with Ingest(server), Gateway(server):
        async def scenario():
            connection_a, cp_a, task_a = await connect(
                server, charger_a, 'ocpp1.6', SimulatedChargePoint)
            connection_b, cp_b, task_b = await connect(
                server, charger_b, 'ocpp1.6', SimulatedChargePoint)
            for cp in [cp_a, cp_b]:
                boot = await cp.call(call.BootNotification(
                        charge_point_vendor="Exicom",
                        charge_point_model="Spin Air"))
                assert boot.status == RegistrationStatus.accepted
            await until(lambda: server.count('ev_charger_boot',
                    'WHERE charger = %s', (id_a,)), "A's boot")
            hijack = await refusal(
                f'ws://127.0.0.1:{server.gateway_port}/{charger_a}',
                credentials(charger_b))
            await asyncio.to_thread(server.call, 'model.ev.charger.reset',
                [id_a])
            await until(lambda: command_state(server, id_a, 'Reset')
                == ('accepted', 'Accepted'), "A's Reset result")
            await asyncio.sleep(1)
            for task, connection in [(task_a, connection_a),
                    (task_b, connection_b)]:
                task.cancel()
                await connection.close()
            return hijack, cp_a.received, cp_b.received
        hijack, received_a, received_b = run(scenario())
    assert hijack == (401, b"Invalid credentials\n")
    assert received_a == [('Reset', {'type': 'Soft'})]
    assert received_b == []


def test_profile_2_tls(server, certificates):
    """Profile 2: the gateway speaks TLS only; a charger with its password
    boots over wss://, a wrong password over TLS is refused, and ws:// to
    the TLS port gets no OCPP at all"""
    identity = unique('TLS')
    server.create_chargers([identity], password=CHARGER_PASSWORD)
    wss = f'wss://127.0.0.1:{server.gateway_port}/{identity}'
    trust = ssl.create_default_context(cafile=certificates['ca'])
    with Gateway(server, ocpp_security_profile=2,
            gateway_certfile=certificates['certfile'],
            gateway_keyfile=certificates['keyfile']) as gateway:
        async def scenario():
            wrong = await refusal(wss,
                credentials(identity, WRONG_PASSWORD), ssl=trust)
            plain = None
            try:
                await websockets.connect(
                    f'ws://127.0.0.1:{server.gateway_port}/{identity}',
                    subprotocols=['ocpp1.6'],
                    additional_headers=credentials(identity))
            except InvalidMessage as error:
                plain = type(error)
            connection, cp, task = await connect(server, identity, 'ocpp1.6',
                SimulatedChargePoint, url=wss, ssl=trust)
            boot = await cp.call(call.BootNotification(
                    charge_point_vendor="Exicom", charge_point_model="X"))
            task.cancel()
            await connection.close()
            return wrong, plain, boot.status
        wrong, plain, status = run(scenario())
        log = gateway.log()
    assert wrong == (401, b"Invalid credentials\n")
    assert plain is InvalidMessage
    assert status == RegistrationStatus.accepted
    assert 'gateway listening on 127.0.0.1' in log
    assert '(OCPP security profile 2)' in log


def test_profile_2_needs_a_certificate(server):
    "A profile 2 gateway without its certificate stops, saying why"
    gateway = Gateway(server, ocpp_security_profile=2)
    Service.start(gateway)
    try:
        wait_for(lambda: gateway.process.poll() is not None, timeout=60,
            message="the gateway to stop")
    finally:
        gateway.stop()
    assert gateway.process.returncode == 1
    assert ("[ev_charger_iot] ocpp_security_profile = 2 (TLS) needs "
        "gateway_certfile and gateway_keyfile") in gateway.log()


def id_tags(server):
    "A card of the list, a blocked one, an expired one and an unknown one"
    tags = {status: unique(status[:4].upper()).upper()
        for status in ['Accepted', 'Blocked', 'Expired', 'Invalid']}
    server.call('model.ev.charger.id_tag.create', [
            {'tag': tags['Accepted']},
            {'tag': tags['Blocked'], 'blocked': True},
            {'tag': tags['Expired'], 'expires': {'__class__': 'datetime',
                    'year': 2024, 'month': 1, 'day': 1, 'hour': 0,
                    'minute': 0, 'second': 0, 'microsecond': 0}},
            ])
    return tags


def test_authorize_16(server):
    """1.6: Authorize and StartTransaction are Accepted for a card of the
    list only; a card the list does not know is Invalid (never Accepted)"""
    identity = unique('TAG16')
    server.create_chargers([identity], password=CHARGER_PASSWORD)
    tags = id_tags(server)
    with Gateway(server) as gateway:
        async def scenario():
            connection, cp, task = await connect(
                server, identity, 'ocpp1.6', SimulatedChargePoint)
            await cp.call(call.BootNotification(
                    charge_point_vendor="Exicom", charge_point_model="X"))
            statuses = {}
            for expected, tag in tags.items():
                answer = await cp.call(call.Authorize(id_tag=tag.lower()))
                statuses[expected] = answer.id_tag_info
            start = await cp.call(call.StartTransaction(connector_id=1,
                    id_tag=tags['Invalid'], meter_start=0,
                    timestamp='2026-03-02T10:00:00Z'))
            task.cancel()
            await connection.close()
            return statuses, start
        statuses, start = run(scenario())
        log = gateway.log()
    assert statuses == {
        'Accepted': {'status': 'Accepted'},
        'Blocked': {'status': 'Blocked'},
        'Expired': {'status': 'Expired',
            'expiry_date': '2024-01-01T00:00:00Z'},
        'Invalid': {'status': 'Invalid'},
        }
    assert start.id_tag_info == {'status': 'Invalid'}
    assert f"id tag refused charger={identity}: Invalid" in log


def test_authorize_201(server):
    """2.0.1: Authorize and the id token of a TransactionEvent are answered
    from the same list"""
    identity = unique('TAG201')
    server.create_chargers([identity], power_class='l3',
        password=CHARGER_PASSWORD)
    tags = id_tags(server)
    with Gateway(server):
        async def scenario():
            connection, cp, task = await connect(
                server, identity, 'ocpp2.0.1', SimulatedStation201)
            await cp.call(call201.BootNotification(
                    charging_station={'vendor_name': "Tritium",
                        'model': "PKM150"}, reason='PowerUp'))
            statuses = {}
            for expected, tag in tags.items():
                answer = await cp.call(call201.Authorize(
                        id_token={'id_token': tag, 'type': 'ISO14443'}))
                statuses[expected] = answer.id_token_info['status']
            event = await cp.call(call201.TransactionEvent(
                    event_type='Started', timestamp='2026-03-02T10:00:00Z',
                    trigger_reason='Authorized', seq_no=0,
                    transaction_info={'transaction_id': 'TX-1'},
                    id_token={'id_token': tags['Invalid'],
                        'type': 'ISO14443'}))
            task.cancel()
            await connection.close()
            return statuses, event
        statuses, event = run(scenario())
    assert statuses == {s: s for s in tags}
    assert event.id_token_info == {'status': 'Invalid'}
