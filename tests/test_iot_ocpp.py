# This file is part of the EV operations suite.
"""The OCPP gateway with a simulated charge point built on the `ocpp`
library (a real protocol peer over websockets): its messages reach the
database through gateway → MQTT → ingestion, and commands sent from the
back office reach it and their results come back."""
import asyncio

import pytest
import websockets
from ocpp.exceptions import SecurityError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action, RegistrationStatus
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201

from websockets.headers import build_authorization_basic

from iot_tools import (
    CHARGER_PASSWORD, Gateway, Ingest, Publisher, shared_server, unique,
    wait_for)

pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope='module')
def server():
    return shared_server()


class SimulatedChargePoint(ChargePoint16):
    "A charge point that accepts the remote calls and remembers them"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = []

    @on(Action.reset)
    async def on_reset(self, type):
        self.received.append(('Reset', {'type': type}))
        return call_result.Reset(status='Accepted')

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag, connector_id=None, **kwargs):
        self.received.append(('RemoteStartTransaction',
                {'id_tag': id_tag, 'connector_id': connector_id}))
        return call_result.RemoteStartTransaction(status='Accepted')

    @on(Action.unlock_connector)
    async def on_unlock(self, connector_id):
        self.received.append(('UnlockConnector',
                {'connector_id': connector_id}))
        return call_result.UnlockConnector(status='UnlockFailed')


class SimulatedStation201(ChargePoint201):
    "An OCPP 2.0.1 charging station that answers the remote calls"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = []

    @on(Action201.reset)
    async def on_reset(self, type, **kwargs):
        self.received.append(('Reset', {'type': type}))
        return result201.Reset(status='Scheduled')

    @on(Action201.request_start_transaction)
    async def on_request_start(self, id_token, remote_start_id,
            evse_id=None, **kwargs):
        self.received.append(('RequestStartTransaction',
                {'id_token': id_token, 'evse_id': evse_id}))
        return result201.RequestStartTransaction(status='Accepted',
            transaction_id='TX-201')


class OrderedStation201(ChargePoint201):
    "A 2.0.1 station that remembers the order of the calls it receives"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = []

    @on(Action201.update_firmware)
    async def on_update_firmware(self, request_id, firmware, **kwargs):
        self.received.append(firmware['location'])
        return result201.UpdateFirmware(status='Accepted')

    @on(Action201.reset)
    async def on_reset(self, type, **kwargs):
        self.received.append('Reset')
        return result201.Reset(status='Accepted')


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 240))


def credentials(username, password=CHARGER_PASSWORD):
    "The HTTP Basic header of OCPP security profiles 1 and 2"
    return {'Authorization': build_authorization_basic(username, password)}


async def connect(server, identity, protocol, cls, password=CHARGER_PASSWORD,
        url=None, **kwargs):
    "A charge point `cls` connected to the gateway as `identity`"
    connection = await websockets.connect(
        url or f'ws://127.0.0.1:{server.gateway_port}/{identity}',
        subprotocols=[protocol],
        additional_headers=credentials(identity, password), **kwargs)
    charge_point = cls(identity, connection)
    task = asyncio.create_task(charge_point.start())
    return connection, charge_point, task


async def until(predicate, message):
    await asyncio.to_thread(wait_for, predicate, 60, 0.2, message)


def command_state(server, charger_id, action):
    rows = server.sql('SELECT state, detail FROM ev_charger_command '
        'WHERE charger = %s AND action = %s', (charger_id, action))
    return rows[0] if rows else None


def test_ocpp16_charge_point(server):
    identity = unique('OCPP16')
    charger_id, = server.create_chargers([identity],
        password=CHARGER_PASSWORD)
    with Ingest(server), Gateway(server):
        async def scenario():
            connection, cp, task = await connect(
                server, identity, 'ocpp1.6', SimulatedChargePoint)
            boot = await cp.call(call.BootNotification(
                    charge_point_vendor="Exicom",
                    charge_point_model="Spin Air",
                    charge_point_serial_number="EX-42",
                    firmware_version="3.1.4"))
            assert boot.status == RegistrationStatus.accepted
            await cp.call(call.Heartbeat())
            await cp.call(call.StatusNotification(connector_id=1,
                    error_code='NoError', status='Charging',
                    timestamp='2026-03-02T10:00:00Z'))
            await cp.call(call.MeterValues(connector_id=1, meter_value=[{
                        'timestamp': '2026-03-02T10:00:30Z',
                        'sampled_value': [
                            {'value': '12.5', 'unit': 'kWh',
                                'measurand': 'Energy.Active.Import.Register'},
                            {'value': '7100', 'unit': 'W',
                                'measurand': 'Power.Active.Import'},
                            ]}]))
            await until(lambda: server.count('ev_charger_meter',
                    'WHERE charger = %s', (charger_id,)), "meter values")
            # From the back office (JSON-RPC buttons of the charger form)
            await asyncio.to_thread(server.call, 'model.ev.charger.reset',
                [charger_id])
            await until(lambda: command_state(server, charger_id, 'Reset')
                == ('accepted', 'Accepted'), "the Reset result")
            await asyncio.to_thread(server.call,
                'model.ev.charger.remote_start', [charger_id])
            await until(lambda: command_state(server, charger_id,
                    'RemoteStartTransaction') == ('accepted', 'Accepted'),
                "the RemoteStartTransaction result")
            await asyncio.to_thread(server.call,
                'model.ev.charger.unlock_connector', [charger_id])
            await until(lambda: command_state(server, charger_id,
                    'UnlockConnector') == ('rejected', 'UnlockFailed'),
                "the UnlockConnector result")
            task.cancel()
            await connection.close()
            return cp.received
        received = run(scenario())

    assert received == [
        ('Reset', {'type': 'Soft'}),
        ('RemoteStartTransaction', {'id_tag': 'BACKOFFICE',
                'connector_id': 1}),
        ('UnlockConnector', {'connector_id': 1}),
        ]
    assert server.sql('SELECT vendor, model, serial, firmware FROM '
        'ev_charger WHERE id = %s', (charger_id,)) == [
        ('Exicom', 'Spin Air', 'EX-42', '3.1.4')]
    assert server.count('ev_charger_heartbeat', 'WHERE charger = %s',
        (charger_id,)) == 1
    assert server.sql('SELECT status, error_code FROM ev_charger_status '
        'WHERE charger = %s', (charger_id,)) == [('Charging', 'NoError')]
    assert server.sql('SELECT energy_wh, power_w FROM ev_charger_meter '
        'WHERE charger = %s', (charger_id,)) == [(12500.0, 7100.0)]
    senders = server.sql('SELECT DISTINCT u.login FROM ev_charger_command c '
        'JOIN res_user u ON u.id = c.sender WHERE c.charger = %s',
        (charger_id,))
    assert senders == [('admin',)]


def test_removed_charger_refused(server):
    """A charger removed from the back office while connected (an unknown
    one cannot connect at all: test_iot_ocpp_auth) is refused at
    BootNotification and its other messages are answered SecurityError"""
    identity = unique('GONE')
    charger_id, = server.create_chargers([identity],
        password=CHARGER_PASSWORD)
    with Ingest(server), Gateway(server) as gateway:
        async def scenario():
            connection, cp, task = await connect(
                server, identity, 'ocpp1.6', SimulatedChargePoint)
            await asyncio.to_thread(server.call, 'model.ev.charger.delete',
                [charger_id])
            boot = await cp.call(call.BootNotification(
                    charge_point_vendor="Nobody", charge_point_model="X"))
            heartbeat_refused = False
            try:
                await cp.call(call.Heartbeat(), suppress=False)
            except SecurityError:
                heartbeat_refused = True
            task.cancel()
            await connection.close()
            return boot.status, heartbeat_refused
        status, heartbeat_refused = run(scenario())
        assert f'boot refused: unknown charger {identity}' in gateway.log()
    assert status == RegistrationStatus.rejected
    assert heartbeat_refused
    assert server.count('ev_charger_dead_letter', 'WHERE identity = %s',
        (identity,)) == 0  # nothing was published for it


def test_ocpp201_charging_station(server):
    """An OCPP 2.0.1 station: boot, heartbeat, status and meter values reach
    the database; a Reset and a remote start from the back office reach it
    as Reset and RequestStartTransaction, and their answers come back"""
    identity = unique('OCPP201')
    charger_id, = server.create_chargers([identity], power_class='l3',
        password=CHARGER_PASSWORD)
    with Ingest(server), Gateway(server):
        async def scenario():
            connection, cp, task = await connect(
                server, identity, 'ocpp2.0.1', SimulatedStation201)
            boot = await cp.call(call201.BootNotification(
                    charging_station={'vendor_name': "Tritium",
                        'model': "PKM150", 'serial_number': "TR-7",
                        'firmware_version': "2.0.9"},
                    reason='PowerUp'))
            assert boot.status == 'Accepted'
            await cp.call(call201.Heartbeat())
            await cp.call(call201.StatusNotification(
                    timestamp='2026-03-02T10:00:00Z',
                    connector_status='Faulted', evse_id=1, connector_id=1))
            await cp.call(call201.MeterValues(evse_id=1, meter_value=[{
                        'timestamp': '2026-03-02T10:00:30Z',
                        'sampled_value': [
                            {'value': 42.0, 'measurand':
                                'Energy.Active.Import.Register',
                                'unit_of_measure': {'unit': 'kWh'}},
                            {'value': 150.0,
                                'measurand': 'Power.Active.Import',
                                'unit_of_measure': {'unit': 'W',
                                    'multiplier': 3}},
                            ]}]))
            await until(lambda: server.count('ev_charger_status',
                    'WHERE charger = %s', (charger_id,)), "the status")
            await until(lambda: server.count('ev_charger_meter',
                    'WHERE charger = %s', (charger_id,)), "meter values")
            await asyncio.to_thread(server.call, 'model.ev.charger.reset',
                [charger_id])
            await until(lambda: command_state(server, charger_id, 'Reset')
                == ('accepted', 'Scheduled'), "the Reset result")
            await asyncio.to_thread(server.call,
                'model.ev.charger.remote_start', [charger_id])
            await until(lambda: command_state(server, charger_id,
                    'RemoteStartTransaction') == ('accepted', 'Accepted'),
                "the RequestStartTransaction result")
            task.cancel()
            await connection.close()
            return cp.received
        received = run(scenario())
    assert received == [
        ('Reset', {'type': 'OnIdle'}),
        ('RequestStartTransaction', {
                'id_token': {'id_token': 'BACKOFFICE', 'type': 'Central'},
                'evse_id': 1}),
        ]
    assert server.sql('SELECT energy_wh, power_w FROM ev_charger_meter '
        'WHERE charger = %s', (charger_id,)) == [(42000.0, 150000.0)]
    assert server.sql('SELECT vendor, firmware FROM ev_charger WHERE id = %s',
        (charger_id,)) == [('Tritium', '2.0.9')]
    assert server.sql('SELECT connector, status FROM ev_charger_status '
        'WHERE charger = %s', (charger_id,)) == [(1, 'Faulted')]


def test_commands_in_order(server):
    """Commands reach a charger in the order they were published, whatever
    their size: a reset sent after a firmware update never overtakes it"""
    identity = unique('ORDER201')
    server.create_chargers([identity], power_class='l3',
        password=CHARGER_PASSWORD)
    sent = []
    for n in range(8):
        sent.append('https://firmware.example.com/' + 'x' * 400 + f'/{n}.bin')
        sent.append('Reset')
    with Gateway(server), Publisher() as publisher:
        async def scenario():
            connection, cp, task = await connect(
                server, identity, 'ocpp2.0.1', OrderedStation201)
            # Once a first command gets through, the gateway is subscribed
            for probe in range(60):
                publisher.publish(f'ev/{identity}/cmd', {
                        'id': f'{identity}-probe-{probe}', 'action': 'Reset',
                        'params': {}})
                await asyncio.sleep(0.5)
                if cp.received:
                    break
            await until(lambda: cp.received, "the probe at the station")
            await asyncio.sleep(1)
            cp.received.clear()
            for n, what in enumerate(sent):
                action, params = ('Reset', {}) if what == 'Reset' else (
                    'UpdateFirmware', {'location': what})
                publisher.publish(f'ev/{identity}/cmd', {
                        'id': f'{identity}-{n}', 'action': action,
                        'params': params}, wait=False)
            publisher.flush()
            await until(lambda: len(cp.received) == len(sent),
                "every command at the station")
            task.cancel()
            await connection.close()
            return cp.received
        received = run(scenario())
    assert received == sent
