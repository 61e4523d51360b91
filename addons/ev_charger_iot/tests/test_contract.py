# This file is part of the EV operations suite.
"""The parsing of the MQTT contract (contract.py), without a database: what
a charger may send on each topic and the reason each bad message gets as a
dead letter"""
import datetime
import json
import unittest

import pytest

from trytond.modules.ev_charger_iot import contract
from trytond.modules.ev_charger_iot.contract import BadMessage, parse

pytestmark = pytest.mark.backend_independent


def payload(**values):
    return json.dumps(values).encode()


class TopicTestCase(unittest.TestCase):

    def test_kinds(self):
        for kind in contract.INGESTED:
            with self.subTest(kind=kind):
                self.assertEqual(contract.split_topic(f'ev/CP-1/{kind}'),
                    ('CP-1', kind))

    def test_bad_topics(self):
        for topic, reason in [
                ('ev/CP-1', "topic 'ev/CP-1' is not ev/<id>/<kind>"),
                ('other/CP-1/heartbeat',
                    "topic 'other/CP-1/heartbeat' is not ev/<id>/<kind>"),
                ('ev//heartbeat', "topic 'ev//heartbeat' is not "
                    "ev/<id>/<kind>"),
                ('ev/CP-1/cmd', "topic 'ev/CP-1/cmd': unknown kind 'cmd'"),
                ('ev/CP-1/status/extra', "topic 'ev/CP-1/status/extra': "
                    "unknown kind 'status/extra'"),
                ]:
            with self.subTest(topic=topic):
                with self.assertRaises(BadMessage) as raised:
                    contract.split_topic(topic)
                self.assertEqual(str(raised.exception), reason)

    def test_topic(self):
        self.assertEqual(contract.topic('CP-1', 'cmd'), 'ev/CP-1/cmd')


class PayloadTestCase(unittest.TestCase):

    def assertBad(self, topic, raw, reason):
        with self.assertRaises(BadMessage) as raised:
            parse(topic, raw)
        self.assertEqual(str(raised.exception), reason)

    def test_not_json(self):
        with self.assertRaises(BadMessage) as raised:
            parse('ev/CP-1/heartbeat', b'{not json')
        self.assertTrue(str(raised.exception).startswith(
                "payload is not valid JSON: Expecting property name"),
            raised.exception)

    def test_not_utf8(self):
        with self.assertRaises(BadMessage) as raised:
            parse('ev/CP-1/heartbeat', b'\xff\xfe{')
        self.assertTrue(str(raised.exception).startswith(
                "payload is not valid JSON: "), raised.exception)

    def test_not_an_object(self):
        for raw in [b'[1, 2]', b'"text"', b'42', b'null']:
            with self.subTest(raw=raw):
                self.assertBad('ev/CP-1/heartbeat', raw,
                    "payload is not a JSON object")

    def test_message(self):
        message = parse('ev/CP-1/heartbeat', payload(
                ts='2026-03-01T10:00:00Z', rssi=-70))
        self.assertEqual(message, contract.Message('heartbeat', 'CP-1', {
                    'ts': datetime.datetime(2026, 3, 1, 10, 0),
                    'rssi': -70}))


class TimestampTestCase(unittest.TestCase):
    "ts: ISO 8601 (Z, an offset or none for UTC) or seconds since the epoch"

    def ts(self, value):
        return parse('ev/CP-1/heartbeat', payload(ts=value)).values['ts']

    def assertBad(self, value, reason):
        with self.assertRaises(BadMessage) as raised:
            self.ts(value)
        self.assertEqual(str(raised.exception), reason)

    def test_formats(self):
        expected = datetime.datetime(2026, 3, 1, 10, 0, 5)
        for value in [
                '2026-03-01T10:00:05Z',
                '2026-03-01T10:00:05+00:00',
                '2026-03-01T15:30:05+05:30',
                '2026-03-01T05:00:05-05:00',
                '2026-03-01T10:00:05',
                '2026-03-01 10:00:05',
                1772359205,
                1772359205.0,
                ]:
            with self.subTest(value=value):
                self.assertEqual(self.ts(value), expected)

    def test_fractions(self):
        self.assertEqual(self.ts('2026-03-01T10:00:05.250Z'),
            datetime.datetime(2026, 3, 1, 10, 0, 5, 250000))
        self.assertEqual(self.ts(1772359205.5),
            datetime.datetime(2026, 3, 1, 10, 0, 5, 500000))

    def test_naive_result(self):
        "Stored naive, in UTC, as every timestamp of Tryton"
        self.assertIsNone(self.ts('2026-03-01T15:30:05+05:30').tzinfo)

    def test_missing(self):
        with self.assertRaises(BadMessage) as raised:
            parse('ev/CP-1/heartbeat', payload(rssi=-50))
        self.assertEqual(str(raised.exception), '"ts" is required')

    def test_bad(self):
        for value, reason in [
                ('yesterday',
                    "\"ts\" is not an ISO 8601 date and time: 'yesterday'"),
                ('2026-13-01T00:00:00Z', '"ts" is not an ISO 8601 date and '
                    "time: '2026-13-01T00:00:00Z'"),
                (True, '"ts" must be an ISO 8601 text or a number'),
                ([2026, 3, 1], '"ts" must be an ISO 8601 text or a number'),
                ({'seconds': 1}, '"ts" must be an ISO 8601 text or a number'),
                ('1999-12-31T23:59:59Z',
                    "\"ts\" is out of range: '1999-12-31T23:59:59Z'"),
                ('2101-01-01T00:00:00Z',
                    "\"ts\" is out of range: '2101-01-01T00:00:00Z'"),
                (0, '"ts" is out of range: 0'),
                (-1, '"ts" is out of range: -1'),
                (1e300, '"ts" is out of range'),
                ]:
            with self.subTest(value=value):
                self.assertBad(value, reason)

    def test_not_finite(self):
        # Python's JSON reads NaN and Infinity
        for raw in [b'{"ts": NaN}', b'{"ts": Infinity}']:
            with self.subTest(raw=raw):
                with self.assertRaises(BadMessage) as raised:
                    parse('ev/CP-1/heartbeat', raw)
                self.assertEqual(str(raised.exception), '"ts" must be finite')


TS = '2026-03-01T10:00:00Z'


class KindTestCase(unittest.TestCase):
    "The fields of each kind and their types"

    def assertBad(self, kind, values, reason):
        with self.assertRaises(BadMessage) as raised:
            parse(f'ev/CP-1/{kind}', payload(**values))
        self.assertEqual(str(raised.exception), reason)

    def values(self, kind, **values):
        return parse(f'ev/CP-1/{kind}', payload(**values)).values

    def test_boot(self):
        self.assertEqual(self.values('boot', ts=TS, vendor="Delta",
                model="AC Mini", serial="SN-1", firmware="1.2.0"), {
                'ts': datetime.datetime(2026, 3, 1, 10), 'vendor': "Delta",
                'model': "AC Mini", 'serial': "SN-1", 'firmware': "1.2.0"})

    def test_boot_fields_optional(self):
        self.assertEqual(self.values('boot', ts=TS, firmware="2.0"), {
                'ts': datetime.datetime(2026, 3, 1, 10), 'vendor': None,
                'model': None, 'serial': None, 'firmware': "2.0"})

    def test_boot_texts(self):
        self.assertEqual(self.values('boot', ts=TS, serial='S' * 300)[
                'serial'], 'S' * 256)
        self.assertBad('boot', {'ts': TS, 'firmware': 2},
            '"firmware" must be a text')

    def test_heartbeat_rssi(self):
        self.assertIsNone(self.values('heartbeat', ts=TS)['rssi'])
        self.assertIsNone(self.values('heartbeat', ts=TS, rssi=None)['rssi'])
        rssi = self.values('heartbeat', ts=TS, rssi=-70.0)['rssi']
        self.assertEqual((rssi, type(rssi)), (-70, int))
        for rssi, reason in [
                ('strong', '"rssi" must be a whole number'),
                (-70.5, '"rssi" must be a whole number'),
                (True, '"rssi" must be a whole number'),
                (-201, '"rssi" is out of range: -201'),
                (51, '"rssi" is out of range: 51'),
                ]:
            with self.subTest(rssi=rssi):
                self.assertBad('heartbeat', {'ts': TS, 'rssi': rssi}, reason)

    def test_status(self):
        self.assertEqual(self.values('status', ts=TS, connector=2,
                status='Faulted', error_code='GroundFailure'), {
                'ts': datetime.datetime(2026, 3, 1, 10), 'connector': 2,
                'status': 'Faulted', 'error_code': 'GroundFailure'})
        self.assertIsNone(self.values('status', ts=TS, connector=0,
                status='Available')['error_code'])
        self.assertEqual(len(self.values('status', ts=TS, connector=1,
                    status='Available', error_code='E' * 100)['error_code']),
            64)

    def test_status_bad(self):
        statuses = ', '.join(sorted(contract.STATUS_CODES))
        for values, reason in [
                ({'connector': 1, 'status': 'Exploded'},
                    f'"status" must be an OCPP 1.6 status ({statuses}), '
                    "not 'Exploded'"),
                ({'connector': 1, 'status': 'available'},
                    f'"status" must be an OCPP 1.6 status ({statuses}), '
                    "not 'available'"),
                ({'connector': 1}, f'"status" must be an OCPP 1.6 status '
                    f'({statuses}), not None'),
                ({'status': 'Available'}, '"connector" is required'),
                ({'connector': '1', 'status': 'Available'},
                    '"connector" must be a whole number'),
                ({'connector': -1, 'status': 'Available'},
                    '"connector" is out of range: -1'),
                ({'connector': 101, 'status': 'Available'},
                    '"connector" is out of range: 101'),
                ({'connector': 1, 'status': 'Available', 'error_code': 5},
                    '"error_code" must be a text'),
                ]:
            with self.subTest(values=values):
                self.assertBad('status', dict(values, ts=TS), reason)

    def test_meter(self):
        self.assertEqual(self.values('meter', ts=TS, connector=1,
                energy_wh=1234, power_w=-50.5), {
                'ts': datetime.datetime(2026, 3, 1, 10), 'connector': 1,
                'energy_wh': 1234.0, 'power_w': -50.5})
        # Either value alone
        self.assertIsNone(self.values('meter', ts=TS, connector=1,
                power_w=0)['energy_wh'])
        self.assertIsNone(self.values('meter', ts=TS, connector=1,
                energy_wh=0)['power_w'])

    def test_meter_bad(self):
        for values, reason in [
                ({}, '"energy_wh" or "power_w" is required'),
                ({'energy_wh': 'lots'}, '"energy_wh" must be a number'),
                ({'energy_wh': True}, '"energy_wh" must be a number'),
                ({'energy_wh': -1}, '"energy_wh" is out of range: -1'),
                ({'power_w': 2e9}, '"power_w" is out of range: 2000000000.0'),
                ]:
            with self.subTest(values=values):
                self.assertBad('meter', dict(values, ts=TS, connector=1),
                    reason)
        with self.assertRaises(BadMessage) as raised:
            parse('ev/CP-1/meter',
                b'{"ts": "%s", "connector": 1, "power_w": NaN}' % TS.encode())
        self.assertEqual(str(raised.exception), '"power_w" must be a number')

    def test_result(self):
        self.assertEqual(self.values('cmd/result', id='abc',
                status='Rejected', detail="busy"), {
                'id': 'abc', 'status': 'Rejected', 'detail': "busy"})
        self.assertEqual(self.values('cmd/result', id='I' * 100,
                status='Accepted')['id'], 'I' * 64)

    def test_result_bad(self):
        for values, reason in [
                ({'status': 'Accepted'}, '"id" is required'),
                ({'id': 7, 'status': 'Accepted'}, '"id" must be a text'),
                ({'id': 'abc', 'status': 'Maybe'}, '"status" must be one of '
                    "Accepted, Failed, Rejected, not 'Maybe'"),
                ]:
            with self.subTest(values=values):
                self.assertBad('cmd/result', values, reason)
