# This file is part of the EV operations suite.
"""The OCPP gateway: chargers speaking OCPP 1.6J or 2.0.1 over websockets
on one side, the MQTT contract (contract.py) on the other.

    python -m trytond.modules.ev_charger_iot.gateway -c tryton.conf -d <db>

A charger connects to ws://<gateway_listen>/<identity> (wss:// in OCPP
security profile 2) with the subprotocol ocpp1.6 or ocpp2.0.1 and HTTP Basic
credentials: its identity and its OCPP password (ocpp_auth.py). Authorize
and the id tags of the transactions are answered from the authorisation
list (ev.charger.id_tag). BootNotification, Heartbeat, StatusNotification and
MeterValues (and, in 2.0.1, the charging state of TransactionEvent) are
published on ev/<identity>/boot, heartbeat, status and meter. Commands
published on ev/<identity>/cmd become the matching OCPP calls and their
answers are published on ev/<identity>/cmd/result. A charger removed from
the database while connected is refused at BootNotification (and its other
messages are answered with a SecurityError).

A command whose params the charger's OCPP version cannot carry is failed
without being sent; a CALLERROR answer fails it with the error code and
description, and so does a charger silent for ocpp_call_timeout seconds
([ev_charger_iot], 20 by default). A malformed CALL from a charger is
answered FormationViolation in 1.6 and FormatViolation in 2.0.1."""
import asyncio
import itertools
import json
import logging
import signal
from collections import OrderedDict

from ocpp.exceptions import (
    FormationViolationError, FormatViolationError, OCPPError, SecurityError)
from ocpp.messages import MessageType
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v16.enums import RegistrationStatus
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201


from . import contract, ocpp_auth, settings
from .ocpp_auth import Authorization
from .ocpp_values import CHARGING_STATE_201, STATUS_201, iso, meter_readings

logger = logging.getLogger('ev_charger_iot.gateway')

SUBPROTOCOLS = ['ocpp1.6', 'ocpp2.0.1']
# The name of the payload syntax error in each version (1.6 kept its typo)
FORMAT_VIOLATION = {
    '1.6': FormationViolationError,
    '2.0.1': FormatViolationError,
    }


class CommandRefused(Exception):
    "A command that cannot be sent to the charger: status and detail"

    def __init__(self, status, detail):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def call_timeout():
    "Seconds the gateway waits for a charger's answer to a call"
    return settings.get('ocpp_call_timeout')


def rule(message, variables):
    "A contract error in short: the rule broken and its limits"
    limits = ' '.join(f"{k}={v}" for k, v in sorted(variables.items())
        if k not in {'name', 'action'})
    kind = message.removeprefix('msg_command_param_').removeprefix(
        'msg_command_')
    return f"({kind} {limits})" if limits else f"({kind})"


class Bridge(Authorization):
    "What both OCPP versions share: the MQTT side and the registration"

    def bridge_init(self, gateway):
        self.gateway = gateway
        self.accepted = None
        self.transactions = {}  # connector → transaction id (1.6)
        # One command at a time, in the order they arrived (the library
        # validates each call in a thread before taking its own lock, so
        # a short Reset could overtake the UpdateFirmware sent before it)
        self.commands = asyncio.Lock()

    async def ensure_accepted(self):
        if self.accepted is None:
            self.accepted = await self.gateway.is_known(self.id)
        if not self.accepted:
            raise SecurityError(
                description=f"charger {self.id} is not registered")

    def publish(self, kind, payload):
        self.gateway.publish(self.id, kind, payload)

    def transaction_to_stop(self, params):
        "The transaction named, or the one in progress on the connector"
        transaction_id = params.get('transaction_id')
        if transaction_id is None:
            transaction_id = self.transactions.get(
                params.get('connector_id', 1))
        if transaction_id is None:
            raise CommandRefused('Rejected',
                "no transaction in progress on the connector")
        return transaction_id

    def check_command(self, action, params):
        "Refuse what the charger's OCPP version cannot carry, unsent"
        errors = contract.command_errors(
            action, params, protocol=self._ocpp_version)
        if errors:
            raise CommandRefused('Failed',
                f"not sent, invalid for OCPP {self._ocpp_version}: "
                + '; '.join(f"{field} {rule(*error)}"
                    for field, error in sorted(errors.items())))

    async def _get_specific_response(self, unique_id, timeout):
        # The library answers None to a CALLERROR (or raises an exception
        # without the code of a code it does not know): fail the command
        # with the charger's own code and description instead
        response = await super()._get_specific_response(unique_id, timeout)
        if response.message_type_id == MessageType.CallError:
            detail = f"CALLERROR {str(response.error_code)[:64]}"
            if response.error_description:
                detail += f": {str(response.error_description)[:500]}"
            raise CommandRefused('Failed', detail)
        return response

    async def _handle_call(self, msg):
        """Answer a malformed CALL with the version's own error code, and
        a warning in the log (the library would log a traceback)"""
        try:
            if not isinstance(msg.payload, dict):
                raise FormatViolationError(
                    description="the payload of a CALL is a JSON object")
            return await super()._handle_call(msg)
        except OCPPError as error:
            if isinstance(error, (FormatViolationError,
                        FormationViolationError)):
                error = FORMAT_VIOLATION[self._ocpp_version](
                    description=error.description, details=error.details)
            logger.warning("call refused charger=%s action=%s: %s %s",
                self.id, msg.action, error.code, error.description)
            await self._send(msg.create_call_error(error).to_json())

    async def run_command(self, command):
        "Send an ev/<id>/cmd command as an OCPP call, publish its result"
        async with self.commands:
            await self._run_command(command)

    async def _run_command(self, command):
        action, params = command.get('action'), command.get('params') or {}
        timeout = call_timeout()
        try:
            self.check_command(action, params)
            # The call may wait for a call of the charger's in progress
            status, detail = await asyncio.wait_for(
                self.send_command(action, params), 2 * timeout + 5)
        except CommandRefused as refused:
            status, detail = refused.status, refused.detail
        except (asyncio.TimeoutError, TimeoutError):
            status, detail = 'Failed', (
                f"no answer from the charger within {timeout} s "
                "(OCPP call timeout)")
        except OCPPError as error:
            # An answer that is not valid OCPP
            status, detail = 'Failed', (
                f"invalid answer from the charger: {error.code}: "
                f"{error.description}")
        except Exception as exception:
            logger.exception("command %s to %s", command.get('id'), self.id)
            status, detail = 'Failed', str(exception) or repr(exception)
        self.publish('cmd/result', {'id': command.get('id'),
                'status': status, 'detail': detail})
        logger.info("command id=%s charger=%s action=%s status=%s",
            command.get('id'), self.id, command.get('action'), status)


class OCPP16(Bridge, ChargePoint16):
    "A charger speaking OCPP 1.6J"

    def __init__(self, identity, connection, gateway):
        super().__init__(identity, connection,
            response_timeout=call_timeout())
        self.bridge_init(gateway)
        self._transaction_ids = itertools.count(1)

    @on(Action16.boot_notification)
    async def on_boot(self, charge_point_vendor, charge_point_model,
            **kwargs):
        self.accepted = await self.gateway.is_known(self.id)
        if not self.accepted:
            logger.warning("boot refused: unknown charger %s", self.id)
            return result16.BootNotification(current_time=iso(),
                interval=settings.get('heartbeat_interval'),
                status=RegistrationStatus.rejected)
        self.publish('boot', {'vendor': charge_point_vendor,
                'model': charge_point_model,
                'serial': kwargs.get('charge_point_serial_number')
                or kwargs.get('charge_box_serial_number'),
                'firmware': kwargs.get('firmware_version'),
                'ts': iso()})
        return result16.BootNotification(current_time=iso(),
            interval=settings.get('heartbeat_interval'),
            status=RegistrationStatus.accepted)

    @on(Action16.heartbeat)
    async def on_heartbeat(self):
        await self.ensure_accepted()
        self.publish('heartbeat', {'ts': iso()})
        return result16.Heartbeat(current_time=iso())

    @on(Action16.status_notification)
    async def on_status(self, connector_id, error_code, status,
            timestamp=None, **kwargs):
        await self.ensure_accepted()
        self.publish('status', {'connector': connector_id,
                'status': status, 'error_code': error_code,
                'ts': timestamp or iso()})
        return result16.StatusNotification()

    @on(Action16.meter_values)
    async def on_meter_values(self, connector_id, meter_value, **kwargs):
        await self.ensure_accepted()
        for ts, energy, power in meter_readings(meter_value):
            self.publish('meter', {'connector': connector_id,
                    'energy_wh': energy, 'power_w': power, 'ts': ts})
        return result16.MeterValues()

    @on(Action16.authorize)
    async def on_authorize(self, id_tag):
        await self.ensure_accepted()
        return result16.Authorize(id_tag_info=await self.id_tag_info(id_tag))

    @on(Action16.start_transaction)
    async def on_start_transaction(self, connector_id, id_tag, meter_start,
            timestamp, **kwargs):
        await self.ensure_accepted()
        # Refused or not, the transaction has an id: the charger stops it
        transaction_id = next(self._transaction_ids)
        self.transactions[connector_id] = transaction_id
        return result16.StartTransaction(transaction_id=transaction_id,
            id_tag_info=await self.id_tag_info(id_tag))

    @on(Action16.stop_transaction)
    async def on_stop_transaction(self, transaction_id, id_tag=None,
            **kwargs):
        await self.ensure_accepted()
        for connector, current in list(self.transactions.items()):
            if current == transaction_id:
                del self.transactions[connector]
        return result16.StopTransaction(id_tag_info=id_tag
            and await self.id_tag_info(id_tag))

    @on(Action16.firmware_status_notification)
    async def on_firmware_status(self, status):
        return result16.FirmwareStatusNotification()

    async def send_command(self, action, params):
        if action == 'Reset':
            response = await self.call(
                call16.Reset(type=params.get('type', 'Soft')))
            return _accepted(response.status)
        if action == 'RemoteStartTransaction':
            response = await self.call(call16.RemoteStartTransaction(
                    id_tag=params['id_tag'],
                    connector_id=params.get('connector_id')))
            return _accepted(response.status)
        if action == 'RemoteStopTransaction':
            transaction_id = self.transaction_to_stop(params)
            response = await self.call(call16.RemoteStopTransaction(
                    transaction_id=transaction_id))
            return _accepted(response.status)
        if action == 'UnlockConnector':
            response = await self.call(call16.UnlockConnector(
                    connector_id=params['connector_id']))
            return ('Accepted' if response.status == 'Unlocked'
                else 'Rejected', response.status)
        if action == 'UpdateFirmware':
            await self.call(call16.UpdateFirmware(
                    location=params['location'],
                    retrieve_date=params.get('retrieve_date') or iso()))
            return 'Accepted', "download scheduled"
        if action == 'TriggerMessage':
            response = await self.call(call16.TriggerMessage(
                    requested_message=params['requested_message'],
                    connector_id=params.get('connector_id')))
            return _accepted(response.status)
        raise CommandRefused('Rejected', f"unknown action {action!r}")


class OCPP201(Bridge, ChargePoint201):
    "A charging station speaking OCPP 2.0.1 (an EVSE is a connector here)"

    def __init__(self, identity, connection, gateway):
        super().__init__(identity, connection,
            response_timeout=call_timeout())
        self.bridge_init(gateway)
        self._request_ids = itertools.count(1)

    @on(Action201.boot_notification)
    async def on_boot(self, charging_station, reason, **kwargs):
        self.accepted = await self.gateway.is_known(self.id)
        if not self.accepted:
            logger.warning("boot refused: unknown charger %s", self.id)
            return result201.BootNotification(current_time=iso(),
                interval=settings.get('heartbeat_interval'),
                status='Rejected')
        self.publish('boot', {'vendor': charging_station.get('vendor_name'),
                'model': charging_station.get('model'),
                'serial': charging_station.get('serial_number'),
                'firmware': charging_station.get('firmware_version'),
                'ts': iso()})
        return result201.BootNotification(current_time=iso(),
            interval=settings.get('heartbeat_interval'), status='Accepted')

    @on(Action201.heartbeat)
    async def on_heartbeat(self, **kwargs):
        await self.ensure_accepted()
        self.publish('heartbeat', {'ts': iso()})
        return result201.Heartbeat(current_time=iso())

    @on(Action201.status_notification)
    async def on_status(self, timestamp, connector_status, evse_id,
            connector_id, **kwargs):
        await self.ensure_accepted()
        self.publish('status', {'connector': evse_id,
                'status': STATUS_201.get(connector_status, 'Unavailable'),
                'error_code': 'NoError', 'ts': timestamp})
        return result201.StatusNotification()

    @on(Action201.meter_values)
    async def on_meter_values(self, evse_id, meter_value, **kwargs):
        await self.ensure_accepted()
        for ts, energy, power in meter_readings(meter_value,
                unit_key='unit_of_measure'):
            self.publish('meter', {'connector': evse_id,
                    'energy_wh': energy, 'power_w': power, 'ts': ts})
        return result201.MeterValues()

    @on(Action201.authorize)
    async def on_authorize(self, id_token, **kwargs):
        await self.ensure_accepted()
        return result201.Authorize(
            id_token_info=await self.id_token_info(id_token))

    @on(Action201.transaction_event)
    async def on_transaction_event(self, event_type, timestamp,
            transaction_info, evse=None, meter_value=None, id_token=None,
            **kwargs):
        await self.ensure_accepted()
        evse_id = (evse or {}).get('id', 1)
        state = transaction_info.get('charging_state')
        if state in CHARGING_STATE_201:
            self.publish('status', {'connector': evse_id,
                    'status': CHARGING_STATE_201[state],
                    'error_code': 'NoError', 'ts': timestamp})
        if event_type == 'Ended':
            self.transactions.pop(evse_id, None)
        else:
            self.transactions[evse_id] = transaction_info['transaction_id']
        for ts, energy, power in meter_readings(meter_value,
                unit_key='unit_of_measure'):
            self.publish('meter', {'connector': evse_id,
                    'energy_wh': energy, 'power_w': power, 'ts': ts})
        return result201.TransactionEvent(id_token_info=id_token
            and await self.id_token_info(id_token))

    async def send_command(self, action, params):
        if action == 'Reset':
            kind = 'OnIdle' if params.get('type', 'Soft') == 'Soft' \
                else 'Immediate'
            response = await self.call(call201.Reset(type=kind))
            # Scheduled: it resets once the running transactions end
            return _accepted(response.status, ('Accepted', 'Scheduled'))
        if action == 'RemoteStartTransaction':
            response = await self.call(call201.RequestStartTransaction(
                    id_token={'id_token': params['id_tag'],
                        'type': 'Central'},
                    remote_start_id=next(self._request_ids),
                    evse_id=params.get('connector_id')))
            return _accepted(response.status)
        if action == 'RemoteStopTransaction':
            transaction_id = self.transaction_to_stop(params)
            response = await self.call(call201.RequestStopTransaction(
                    transaction_id=str(transaction_id)))
            return _accepted(response.status)
        if action == 'UnlockConnector':
            response = await self.call(call201.UnlockConnector(
                    evse_id=params['connector_id'], connector_id=1))
            return ('Accepted' if response.status == 'Unlocked'
                else 'Rejected', response.status)
        if action == 'UpdateFirmware':
            response = await self.call(call201.UpdateFirmware(
                    request_id=next(self._request_ids),
                    firmware={'location': params['location'],
                        'retrieve_date_time':
                        params.get('retrieve_date') or iso()}))
            return _accepted(response.status)
        if action == 'TriggerMessage':
            connector_id = params.get('connector_id')
            response = await self.call(call201.TriggerMessage(
                    requested_message=params['requested_message'],
                    evse={'id': connector_id} if connector_id else None))
            return _accepted(response.status)
        raise CommandRefused('Rejected', f"unknown action {action!r}")


def _accepted(status, accepted=('Accepted',)):
    "The contract's status of an OCPP answer, with the answer as detail"
    return ('Accepted' if status in accepted else 'Rejected'), str(status)


class Gateway:
    "The websocket server, the MQTT client and the registry of chargers"

    def __init__(self, database):
        self.database = database
        self.charge_points = {}
        self.loop = None
        self.client = None
        self.pool = None
        self.ssl = None
        # Commands may be published twice (at least once): run them once
        self.handled = OrderedDict()

    def start_pool(self):
        self.pool = settings.open_pool(self.database)

    def read(self, model, method, *args):
        "A class method of a model, in a read-only transaction"
        from trytond.transaction import Transaction
        with Transaction().start(self.database, 0, readonly=True):
            return getattr(self.pool.get(model), method)(*args)

    async def ask(self, model, method, *args):
        "`read` in a thread: the loop goes on with the other chargers"
        return await asyncio.to_thread(self.read, model, method, *args)

    async def is_known(self, identity):
        return bool(await self.ask('ev.charger', 'search_count',
                [('identity', '=', identity)]))

    async def check_password(self, identity, password):
        return await self.ask('ev.charger', 'check_ocpp_password',
            identity, password)

    # -- MQTT --------------------------------------------------------------

    def start_mqtt(self):
        from . import mqtt
        self.client = mqtt.make_client(settings.get('gateway_client_id'))
        self.client.max_queued_messages_set(0)
        self.client.on_connect = self.on_mqtt_connect
        self.client.on_message = self.on_mqtt_message
        mqtt.connect(self.client)
        self.client.loop_start()

    def on_mqtt_connect(self, client, userdata, flags, reason_code,
            properties):
        if reason_code.is_failure:
            logger.warning("broker refused the connection: %s", reason_code)
            return
        logger.info("connected to the broker")
        for identity in list(self.charge_points):
            client.subscribe(contract.topic(identity, 'cmd'), qos=1)

    def on_mqtt_message(self, client, userdata, message):
        identity = message.topic.split('/')[1]
        try:
            command = json.loads(message.payload)
            if not isinstance(command, dict):
                raise ValueError("not a JSON object")
        except ValueError as exception:
            logger.warning("bad command on %s: %s", message.topic, exception)
            return
        key = (identity, command.get('id'))
        if key in self.handled:
            return
        self.handled[key] = True
        while len(self.handled) > 10000:
            self.handled.popitem(last=False)
        charge_point = self.charge_points.get(identity)
        if charge_point is not None:
            asyncio.run_coroutine_threadsafe(
                charge_point.run_command(command), self.loop)

    def publish(self, identity, kind, payload):
        self.client.publish(contract.topic(identity, kind),
            json.dumps(payload), qos=1)

    # -- websockets --------------------------------------------------------

    async def on_connection(self, connection):
        # The identity it authenticated as (ocpp_auth.basic_auth)
        identity = connection.username
        protocol = connection.subprotocol
        if not identity or protocol not in SUBPROTOCOLS:
            logger.warning("connection refused: id=%r subprotocol=%r",
                identity, protocol)
            await connection.close(1002, "an OCPP subprotocol is required")
            return
        cls = OCPP16 if protocol == 'ocpp1.6' else OCPP201
        charge_point = cls(identity, connection, self)
        self.charge_points[identity] = charge_point
        self.client.subscribe(contract.topic(identity, 'cmd'), qos=1)
        logger.info("charger connected id=%s protocol=%s", identity,
            protocol)
        try:
            await charge_point.start()
        except Exception as exception:
            logger.info("charger disconnected id=%s (%s)", identity,
                type(exception).__name__)
        finally:
            if self.charge_points.get(identity) is charge_point:
                del self.charge_points[identity]
                self.client.unsubscribe(contract.topic(identity, 'cmd'))

    async def serve(self, stop):
        from websockets.asyncio.server import serve
        self.loop = asyncio.get_running_loop()
        host, port = settings.get('gateway_listen').rsplit(':', 1)
        async with serve(self.on_connection, host, int(port),
                subprotocols=SUBPROTOCOLS, ssl=self.ssl,
                process_request=ocpp_auth.basic_auth(self.check_password)):
            logger.info("gateway listening on %s:%s (OCPP security "
                "profile %s)", host, port, ocpp_auth.security_profile())
            await stop

    def run(self):
        # A profile 2 gateway without its certificate stops before anything
        self.ssl = ocpp_auth.ssl_context()
        self.start_pool()
        self.start_mqtt()

        async def main():
            stop = asyncio.get_running_loop().create_future()
            for sig in (signal.SIGTERM, signal.SIGINT):
                asyncio.get_running_loop().add_signal_handler(
                    sig, lambda: stop.done() or stop.set_result(None))
            await self.serve(stop)
        try:
            asyncio.run(main())
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            logger.info("gateway stopped")


def main(argv=None):
    options = settings.service_options('gateway', __doc__, argv)
    Gateway(options.database).run()


if __name__ == '__main__':
    main()
