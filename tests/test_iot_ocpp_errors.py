# This file is part of the EV operations suite.
"""The charger contract when things go wrong, against real OCPP peers (the
`ocpp` library's charge points over websockets) through the gateway, the
broker and the ingestion service: a CALLERROR or a silent charger fails the
command with what the charger said, params the charger's OCPP version cannot
carry are never sent, and a malformed CALL from a charger is answered in the
words of its version."""
import asyncio
import json
from dataclasses import dataclass

import pytest
import websockets
from ocpp.exceptions import (
    FormationViolationError, FormatViolationError, InternalError, OCPPError)
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result
from ocpp.v16.enums import Action
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201.enums import Action as Action201

from iot_tools import (
    CHARGER_PASSWORD, Gateway, Ingest, Subscriber, shared_server, unique)
from test_iot_ocpp import command_state, connect, credentials, run, until

pytestmark = pytest.mark.backend_independent

FIRMWARE_URL = 'https://firmware.example.com/4.0.1.bin'
NOT_IMPLEMENTED = ("CALLERROR NotImplemented: Request Action is recognized "
    "but not supported by the receiver")
SYNTAX = "Payload for Action is syntactically incorrect or structure for Action"


@pytest.fixture(scope='module')
def server():
    return shared_server()


class VendorBusy(OCPPError):
    "A CALLERROR code of no OCPP version, as some firmwares send"
    code = 'VendorBusy'


@dataclass
class Heartbeat:
    "A malformed Heartbeat: the request has no field in either version"
    colour: str


class Refusing16(ChargePoint16):
    """A 1.6 charge point that answers CALLERROR to UpdateFirmware, has no
    Reset (CALLERROR NotImplemented) and never answers UnlockConnector"""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = []

    @on(Action.update_firmware)
    async def on_update_firmware(self, location, retrieve_date, **kwargs):
        self.received.append(('UpdateFirmware', location))
        raise InternalError(description="no space left for the image")

    @on(Action.remote_start_transaction)
    async def on_remote_start(self, id_tag, **kwargs):
        self.received.append(('RemoteStartTransaction', id_tag))
        return call_result.RemoteStartTransaction(status='Accepted')

    @on(Action.unlock_connector)
    async def on_unlock(self, connector_id):
        self.received.append(('UnlockConnector', connector_id))
        await asyncio.Event().wait()


class Refusing201(ChargePoint201):
    """A 2.0.1 station that answers CALLERROR to UpdateFirmware and a code of
    its own to Reset"""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = []

    @on(Action201.update_firmware)
    async def on_update_firmware(self, request_id, firmware, **kwargs):
        self.received.append(('UpdateFirmware', firmware['location']))
        raise InternalError(description="signature check failed")

    @on(Action201.reset)
    async def on_reset(self, type, **kwargs):
        self.received.append(('Reset', type))
        raise VendorBusy(description="charging session in progress")


def start_campaign(server, charger_id):
    campaign, = server.call('model.ev.charger.firmware_campaign.create', [{
                'name': unique("Campaign"), 'firmware': '4.0.1',
                'location': FIRMWARE_URL,
                'lines': [['create', [{'charger': charger_id}]]]}])
    server.call('model.ev.charger.firmware_campaign.start', [campaign])
    return campaign


def campaign_progress(server, campaign):
    lines = server.call('model.ev.charger.firmware_campaign.line.search_read',
        [('campaign', '=', campaign)], 0, None, None, ['progress'])
    failed, = server.call('model.ev.charger.firmware_campaign.read',
        [campaign], ['failed'])
    return [line['progress'] for line in lines], failed['failed']


async def until_settled(server, charger_id, actions):
    "Wait for the result of the command of each action, whatever it is"
    for action in actions:
        await until(lambda: (command_state(server, charger_id, action)
                or ('pending',))[0] not in {'pending', 'sent'},
            f"the {action} result")


def results(subscriber):
    return sorted((payload['status'], payload['detail'])
        for _, payload in subscriber.messages)


async def malformed_calls(server, identity, protocol, cp):
    """The answers of the gateway to a CALL whose payload is not an object
    (raw frame, from a charger of its own) and to a Heartbeat with a field
    it does not have"""
    await asyncio.to_thread(server.create_chargers, [f'{identity}-raw'],
        password=CHARGER_PASSWORD)
    async with websockets.connect(
            f'ws://127.0.0.1:{server.gateway_port}/{identity}-raw',
            subprotocols=[protocol],
            additional_headers=credentials(f'{identity}-raw')) as raw:
        await raw.send(json.dumps([2, 'raw-1', 'Heartbeat', 'beat']))
        raw_answer = json.loads(await raw.recv())
    try:
        await cp.call(Heartbeat(colour='blue'), suppress=False,
            skip_schema_validation=True)
    except OCPPError as error:
        return raw_answer, error
    raise AssertionError("a malformed Heartbeat was answered")


def test_ocpp16_call_errors(server):
    """1.6: CALLERROR to UpdateFirmware (a campaign) and to Reset (a button)
    fail the commands with code and description; an id tag longer than 1.6
    carries is not sent; a malformed CALL is a FormationViolation"""
    identity = unique('ERR16')
    charger_id, = server.create_chargers([identity],
        password=CHARGER_PASSWORD)
    watch = Subscriber(f'ev/{identity}/cmd/result')
    try:
        with Ingest(server), Gateway(server) as gateway:
            async def scenario():
                connection, cp, task = await connect(
                    server, identity, 'ocpp1.6', Refusing16)
                campaign = await asyncio.to_thread(
                    start_campaign, server, charger_id)
                await asyncio.to_thread(server.call,
                    'model.ev.charger.reset', [charger_id])
                # Valid for the back office (2.0.1 takes 36), not for 1.6
                await asyncio.to_thread(server.call,
                    'model.ev.charger.command.send', identity,
                    'RemoteStartTransaction', {'id_tag': 'T' * 21})
                await until_settled(server, charger_id, ['UpdateFirmware',
                        'Reset', 'RemoteStartTransaction'])
                answers = await malformed_calls(server, identity, 'ocpp1.6',
                    cp)
                task.cancel()
                await connection.close()
                return campaign, answers, cp.received
            campaign, (raw, error), received = run(scenario())
            log = gateway.log()
        assert command_state(server, charger_id, 'UpdateFirmware') == (
            'failed', "CALLERROR InternalError: no space left for the image")
        assert command_state(server, charger_id, 'Reset') == (
            'failed', NOT_IMPLEMENTED)
        too_long = ("not sent, invalid for OCPP 1.6: params.id_tag "
            "(id_tag size=20)")
        assert command_state(server, charger_id,
            'RemoteStartTransaction') == ('failed', too_long)
        assert campaign_progress(server, campaign) == (['failed'], 1)
        assert received == [('UpdateFirmware', FIRMWARE_URL)]
        assert results(watch) == sorted([
                ('Failed', "CALLERROR InternalError: no space left for the "
                    "image"),
                ('Failed', NOT_IMPLEMENTED),
                ('Failed', too_long)])
        assert raw == [4, 'raw-1', 'FormationViolation',
            "the payload of a CALL is a JSON object", {}]
        assert type(error) is FormationViolationError
        assert error.description == SYNTAX
        assert 'Traceback' not in log
        assert (f"call refused charger={identity} action=Heartbeat: "
            f"FormationViolation {SYNTAX}") in log
    finally:
        watch.close()


def test_ocpp201_call_errors(server):
    """2.0.1: CALLERROR to UpdateFirmware and to Reset (with a code of the
    charger's own) fail the commands; 1.6-only triggers are not sent; a
    malformed CALL is a FormatViolation"""
    identity = unique('ERR201')
    charger_id, = server.create_chargers([identity], power_class='l3',
        password=CHARGER_PASSWORD)
    with Ingest(server), Gateway(server) as gateway:
        async def scenario():
            connection, cp, task = await connect(
                server, identity, 'ocpp2.0.1', Refusing201)
            await asyncio.to_thread(server.call,
                'model.ev.charger.command.send', identity, 'UpdateFirmware',
                {'location': FIRMWARE_URL,
                    'retrieve_date': '2026-03-02T10:00:00+05:30'})
            await asyncio.to_thread(server.call,
                'model.ev.charger.reset', [charger_id])
            await asyncio.to_thread(server.call,
                'model.ev.charger.command.send', identity, 'TriggerMessage',
                {'requested_message': 'DiagnosticsStatusNotification'})
            await until_settled(server, charger_id,
                ['UpdateFirmware', 'Reset', 'TriggerMessage'])
            answers = await malformed_calls(server, identity, 'ocpp2.0.1',
                cp)
            task.cancel()
            await connection.close()
            return answers, cp.received
        (raw, error), received = run(scenario())
        log = gateway.log()
    assert command_state(server, charger_id, 'UpdateFirmware') == (
        'failed', "CALLERROR InternalError: signature check failed")
    assert command_state(server, charger_id, 'Reset') == (
        'failed', "CALLERROR VendorBusy: charging session in progress")
    assert command_state(server, charger_id, 'TriggerMessage') == (
        'failed', "not sent, invalid for OCPP 2.0.1: "
        "params.requested_message (choice choices=BootNotification, "
        "FirmwareStatusNotification, Heartbeat, LogStatusNotification, "
        "MeterValues, PublishFirmwareStatusNotification, "
        "SignChargingStationCertificate, SignCombinedCertificate, "
        "SignV2GCertificate, StatusNotification, TransactionEvent)")
    assert received == [('UpdateFirmware', FIRMWARE_URL), ('Reset', 'OnIdle')]
    assert raw == [4, 'raw-1', 'FormatViolation',
        "the payload of a CALL is a JSON object", {}]
    assert type(error) is FormatViolationError
    assert error.description == SYNTAX
    assert 'Traceback' not in log


def test_silent_charger(server):
    "No answer within the OCPP call timeout fails the command, saying so"
    identity = unique('MUTE')
    charger_id, = server.create_chargers([identity],
        password=CHARGER_PASSWORD)
    with Ingest(server), Gateway(server, ocpp_call_timeout=2):
        async def scenario():
            connection, cp, task = await connect(
                server, identity, 'ocpp1.6', Refusing16)
            await asyncio.to_thread(server.call,
                'model.ev.charger.unlock_connector', [charger_id])
            await until_settled(server, charger_id, ['UnlockConnector'])
            task.cancel()
            await connection.close()
            return cp.received
        received = run(scenario())
    assert received == [('UnlockConnector', 1)]
    assert command_state(server, charger_id, 'UnlockConnector') == (
        'failed', "no answer from the charger within 2 s (OCPP call timeout)")
