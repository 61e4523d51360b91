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
with the reason, which the ingestion service stores as a dead letter."""
import datetime
import json
import math
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
