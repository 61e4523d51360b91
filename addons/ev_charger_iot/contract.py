# This file is part of the EV operations suite.
"""The MQTT contract between the chargers (or the OCPP gateway) and the
back office. QoS 1, JSON payloads, <id> = the charger identity:

ev/<id>/boot        {"vendor", "model", "serial", "firmware", "ts"}
ev/<id>/heartbeat   {"ts", "rssi"}                       rssi dBm, optional
ev/<id>/status      {"connector", "status", "error_code", "ts"}
ev/<id>/meter       {"connector", "energy_wh", "power_w", "ts"}
ev/<id>/cmd         {"id", "action", "params"}           published by us
ev/<id>/cmd/result  {"id", "status", "detail"}

`parse` turns a received message into a `Message` or raises `BadMessage`
with the reason, which the ingestion service stores as a dead letter.
`command_errors` checks the action and params of a command (see COMMANDS)
before anything is sent to a charger."""
import datetime
import json
import math
import re
import urllib.parse
from collections import namedtuple


# OCPP 1.6 StatusNotification statuses (ChargePointStatus)
STATUS_CODES = ('Available', 'Preparing', 'Charging', 'SuspendedEVSE',
    'SuspendedEV', 'Finishing', 'Reserved', 'Unavailable', 'Faulted')
RESULT_STATUSES = {'Accepted': 'accepted', 'Rejected': 'rejected',
    'Failed': 'failed'}

TOPIC_PREFIX = 'ev'
INGESTED = ('boot', 'heartbeat', 'status', 'meter', 'cmd/result')
MAX_CONNECTOR = 100
EPOCH = datetime.datetime(1970, 1, 1)
# Timestamps outside these years are a charger's clock gone wrong
MIN_YEAR, MAX_YEAR = 2000, 2100

Message = namedtuple('Message', ['kind', 'identity', 'values'])


class BadMessage(ValueError):
    "A message that cannot be stored; the argument is the reason"


def topic(identity, kind):
    return f'{TOPIC_PREFIX}/{identity}/{kind}'


def split_topic(name):
    "(identity, kind) of a topic of the contract"
    parts = name.split('/')
    if len(parts) < 3 or parts[0] != TOPIC_PREFIX or not parts[1]:
        raise BadMessage(f"topic {name!r} is not ev/<id>/<kind>")
    kind = '/'.join(parts[2:])
    if kind not in INGESTED:
        raise BadMessage(f"topic {name!r}: unknown kind {kind!r}")
    return parts[1], kind


def parse(name, payload):
    "The Message of a topic and its raw payload (bytes)"
    identity, kind = split_topic(name)
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exception:
        raise BadMessage(f"payload is not valid JSON: {exception}")
    if not isinstance(data, dict):
        raise BadMessage("payload is not a JSON object")
    return Message(kind, identity, PARSERS[kind](data))


def timestamp(data, name='ts'):
    """A naive UTC datetime from an ISO 8601 text (with Z, an offset or
    none for UTC) or a number of seconds since the epoch"""
    value = data.get(name)
    if value is None:
        raise BadMessage(f'"{name}" is required')
    if isinstance(value, bool):
        raise BadMessage(f'"{name}" must be an ISO 8601 text or a number')
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise BadMessage(f'"{name}" must be finite')
        try:
            result = EPOCH + datetime.timedelta(seconds=value)
        except OverflowError:
            raise BadMessage(f'"{name}" is out of range')
    elif isinstance(value, str):
        try:
            result = datetime.datetime.fromisoformat(
                value.replace('Z', '+00:00'))
        except ValueError:
            raise BadMessage(f'"{name}" is not an ISO 8601 date and time: '
                f'{value!r}')
        if result.tzinfo is not None:
            result = result.astimezone(datetime.timezone.utc).replace(
                tzinfo=None)
    else:
        raise BadMessage(f'"{name}" must be an ISO 8601 text or a number')
    if not MIN_YEAR <= result.year <= MAX_YEAR:
        raise BadMessage(f'"{name}" is out of range: {value!r}')
    return result


def integer(data, name, required=True, minimum=None, maximum=None):
    value = data.get(name)
    if value is None:
        if required:
            raise BadMessage(f'"{name}" is required')
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadMessage(f'"{name}" must be a whole number')
    if ((minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)):
        raise BadMessage(f'"{name}" is out of range: {value}')
    return value


def number(data, name, minimum=None, maximum=None):
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) \
            or not math.isfinite(value):
        raise BadMessage(f'"{name}" must be a number')
    if ((minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)):
        raise BadMessage(f'"{name}" is out of range: {value}')
    return float(value)


def text(data, name, required=False, size=256):
    value = data.get(name)
    if value is None:
        if required:
            raise BadMessage(f'"{name}" is required')
        return None
    if not isinstance(value, str):
        raise BadMessage(f'"{name}" must be a text')
    return value[:size]


def parse_boot(data):
    return {
        'ts': timestamp(data),
        'vendor': text(data, 'vendor'),
        'model': text(data, 'model'),
        'serial': text(data, 'serial'),
        'firmware': text(data, 'firmware'),
        }


def parse_heartbeat(data):
    return {
        'ts': timestamp(data),
        'rssi': integer(data, 'rssi', required=False,
            minimum=-200, maximum=50),
        }


def parse_status(data):
    status = data.get('status')
    if status not in STATUS_CODES:
        raise BadMessage(f'"status" must be an OCPP 1.6 status '
            f'({", ".join(sorted(STATUS_CODES))}), not {status!r}')
    return {
        'ts': timestamp(data),
        'connector': integer(data, 'connector', minimum=0,
            maximum=MAX_CONNECTOR),
        'status': status,
        'error_code': text(data, 'error_code', size=64),
        }


def parse_meter(data):
    values = {
        'ts': timestamp(data),
        'connector': integer(data, 'connector', minimum=0,
            maximum=MAX_CONNECTOR),
        'energy_wh': number(data, 'energy_wh', minimum=0, maximum=1e15),
        'power_w': number(data, 'power_w', minimum=-1e9, maximum=1e9),
        }
    if values['energy_wh'] is None and values['power_w'] is None:
        raise BadMessage('"energy_wh" or "power_w" is required')
    return values


def parse_result(data):
    status = data.get('status')
    if status not in RESULT_STATUSES:
        raise BadMessage(f'"status" must be one of '
            f'{", ".join(sorted(RESULT_STATUSES))}, not {status!r}')
    return {
        'id': text(data, 'id', required=True, size=64),
        'status': status,
        'detail': text(data, 'detail', size=2000),
        }


PARSERS = {
    'boot': parse_boot,
    'heartbeat': parse_heartbeat,
    'status': parse_status,
    'meter': parse_meter,
    'cmd/result': parse_result,
    }


# -- Commands (ev/<id>/cmd) --------------------------------------------------
#
# The parameters of each action, checked by the back office (a command record
# whoever creates it: RPC, buttons, firmware campaigns, REST) and again by the
# OCPP gateway, which knows the charger's OCPP version, before it sends
# anything. An error is (id of an ev_charger_iot message, its variables):
# this module stays free of Tryton and the caller words the error.

OCPP_VERSIONS = ('1.6', '2.0.1')
# 1.6 idTag is a CiString20Type, 2.0.1 IdTokenType.idToken a string[36]
ID_TAG_SIZE = {'1.6': 20, '2.0.1': 36}
# The MessageTrigger of TriggerMessage in each version
TRIGGERABLE = {
    '1.6': {'BootNotification', 'DiagnosticsStatusNotification',
        'FirmwareStatusNotification', 'Heartbeat', 'MeterValues',
        'StatusNotification'},
    '2.0.1': {'BootNotification', 'LogStatusNotification',
        'FirmwareStatusNotification', 'Heartbeat', 'MeterValues',
        'SignChargingStationCertificate', 'SignV2GCertificate',
        'StatusNotification', 'TransactionEvent', 'SignCombinedCertificate',
        'PublishFirmwareStatusNotification'},
    }
RESET_TYPES = {'Hard', 'Soft'}
# 2.0.1 firmware location is a string[512]
LOCATION_SIZE = 512
TEXT_SIZE = 256
# 1.6 transactionId is an integer: a signed 32-bit one on most chargers
TRANSACTION_ID_MAX = 2 ** 31 - 1
URI_SCHEME = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*')
# RFC 3339, the dateTime of OCPP-J: the offset (or Z) is required
RFC3339 = re.compile(
    r'\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})')

# What a check sees besides the value: the charger's OCPP version (None when
# unknown: then what one version accepts is accepted, the gateway checks the
# rest) and its highest connector number (None when unknown)
Scope = namedtuple('Scope', ['protocol', 'connectors'])
Param = namedtuple('Param', ['check', 'required'], defaults=[False])


def whole_number(minimum, maximum):
    def check(name, value, scope):
        if (not isinstance(value, int) or isinstance(value, bool)
                or not minimum <= value <= maximum):
            return ('msg_command_param_integer',
                {'name': name, 'minimum': minimum, 'maximum': maximum})
    return check


def connector_id(name, value, scope):
    "A connector of the charger (1 to its highest number when known)"
    return whole_number(1, scope.connectors or MAX_CONNECTOR)(
        name, value, scope)


def choice(values):
    "One of `values`, a set or a set per OCPP version"
    def check(name, value, scope):
        choices = values
        if isinstance(values, dict):
            choices = (values[scope.protocol] if scope.protocol
                else set().union(*values.values()))
        if not isinstance(value, str) or value not in choices:
            return ('msg_command_param_choice',
                {'name': name, 'choices': ', '.join(sorted(choices))})
    return check


def printable_text(size):
    def check(name, value, scope):
        if (not isinstance(value, str) or not value or len(value) > size
                or not value.isprintable()):
            return ('msg_command_param_text', {'name': name, 'size': size})
    return check


def id_tag(name, value, scope):
    "Printable ASCII (a CiString of 1.6) within the version's length"
    size = (ID_TAG_SIZE[scope.protocol] if scope.protocol
        else max(ID_TAG_SIZE.values()))
    if (not isinstance(value, str) or not value or len(value) > size
            or not value.isascii() or not value.isprintable()):
        return ('msg_command_param_id_tag', {'name': name, 'size': size})


def absolute_uri(name, value, scope):
    "scheme://host/...: where a charger downloads from"
    error = ('msg_command_param_uri', {'name': name, 'size': LOCATION_SIZE})
    if (not isinstance(value, str) or len(value) > LOCATION_SIZE
            or not value.isprintable() or any(c.isspace() for c in value)):
        return error
    try:
        uri = urllib.parse.urlsplit(value)
        host = uri.hostname
    except ValueError:
        return error
    if not URI_SCHEME.fullmatch(uri.scheme) or not host:
        return error


def timestamp_with_zone(name, value, scope):
    error = ('msg_command_param_datetime', {'name': name})
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        return error
    try:
        moment = datetime.datetime.fromisoformat(value.replace('Z', '+00:00'))
    except ValueError:
        return error
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        return error


COMMANDS = {
    'Reset': {
        'type': Param(choice(RESET_TYPES)),
        },
    'RemoteStartTransaction': {
        'id_tag': Param(id_tag, required=True),
        'connector_id': Param(connector_id),
        },
    'RemoteStopTransaction': {
        'transaction_id': Param(whole_number(0, TRANSACTION_ID_MAX)),
        'connector_id': Param(connector_id),
        },
    'UnlockConnector': {
        'connector_id': Param(connector_id, required=True),
        },
    'UpdateFirmware': {
        'location': Param(absolute_uri, required=True),
        'retrieve_date': Param(timestamp_with_zone),
        # The version the campaign expects at the next boot (not sent)
        'firmware': Param(printable_text(TEXT_SIZE)),
        },
    'TriggerMessage': {
        'requested_message': Param(choice(TRIGGERABLE), required=True),
        'connector_id': Param(connector_id),
        },
    }
# Actions that need one of these parameters: the gateway stops the
# transaction named or the one running on the connector
ONE_OF = {
    'RemoteStopTransaction': ('transaction_id', 'connector_id'),
    }


def command_errors(action, params, protocol=None, connectors=None):
    """The errors of a command by field ("action", "params" or
    "params.<name>"), each (message id, variables); empty when it can be
    sent. `protocol` is the charger's OCPP version, `connectors` its highest
    connector number, each None when unknown."""
    if action is None:
        return {'action': ('msg_command_param_required', {'name': 'action'})}
    spec = COMMANDS.get(action) if isinstance(action, str) else None
    if spec is None:
        return {'action': ('msg_command_action_unknown', {'action': action,
                    'actions': ', '.join(sorted(COMMANDS))})}
    if not isinstance(params, dict):
        return {'params': ('msg_command_params_object', {})}
    scope = Scope(protocol, connectors)
    errors = {}
    for name in sorted(map(str, set(params) - set(spec))):
        errors[f'params.{name}'] = ('msg_command_param_unknown', {
                'name': name, 'action': action,
                'names': ', '.join(sorted(spec))})
    for name, param in spec.items():
        value = params.get(name)
        if value is None:
            if param.required:
                errors[f'params.{name}'] = (
                    'msg_command_param_required', {'name': name})
            continue
        error = param.check(name, value, scope)
        if error:
            errors[f'params.{name}'] = error
    names = ONE_OF.get(action)
    if names and all(params.get(n) is None for n in names):
        errors[f'params.{names[0]}'] = ('msg_command_param_one_of',
            {'names': ' or '.join(f'"{n}"' for n in names)})
    return errors
