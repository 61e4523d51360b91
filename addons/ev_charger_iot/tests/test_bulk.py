# This file is part of the EV operations suite.
"""The gathering of the latest values of a batch (bulk.Latest), without a
database; the storing itself is tested against the real broker and service
(tests/test_iot_ingest.py)"""
import datetime
import unittest

import pytest

from trytond.modules.ev_charger_iot.bulk import Field, Latest, array_literal

pytestmark = pytest.mark.backend_independent


def at(second):
    return datetime.datetime(2026, 3, 1, 10, 0, second)


class LatestTestCase(unittest.TestCase):

    def latest(self):
        return Latest(['INTEGER'], [
                Field('heard_at'),
                Field('rssi_at', ['rssi'], ['INTEGER']),
                ])

    def test_latest_by_timestamp_not_arrival(self):
        latest = self.latest()
        for second, rssi in [(10, -60), (30, -80), (20, -70)]:
            latest.add((1,), 'rssi_at', at(second), [rssi])
        self.assertEqual(list(latest.rows()),
            [[1, None, at(30), -80]])

    def test_field_not_carried_kept(self):
        "A message without the field leaves the one of an older message"
        latest = self.latest()
        latest.add((1,), 'heard_at', at(10))
        latest.add((1,), 'rssi_at', at(10), [-60])
        latest.add((1,), 'heard_at', at(20))
        self.assertEqual(list(latest.rows()), [[1, at(20), at(10), -60]])

    def test_tie_later_arrival(self):
        latest = self.latest()
        latest.add((1,), 'rssi_at', at(10), [-60])
        latest.add((1,), 'rssi_at', at(10), [-65])
        self.assertEqual(list(latest.rows()), [[1, None, at(10), -65]])

    def test_records_apart_sorted(self):
        latest = self.latest()
        latest.add((2,), 'heard_at', at(5))
        latest.add((1,), 'rssi_at', at(7), [-50])
        self.assertEqual(list(latest.rows()), [
                [1, None, at(7), -50],
                [2, at(5), None, None],
                ])
        self.assertEqual(latest.columns(), (
                ['heard_at', 'rssi_at', 'rssi'],
                ['INTEGER', 'TIMESTAMP', 'TIMESTAMP', 'INTEGER']))

    def test_empty(self):
        self.assertFalse(self.latest())


class ArrayLiteralTestCase(unittest.TestCase):

    def test_values(self):
        self.assertEqual(array_literal([1, None, -2.5]), '{1,NULL,-2.5}')
        self.assertEqual(array_literal(['a"b', 'c\\d', 'NULL']),
            '{"a\\"b","c\\\\d","NULL"}')
        self.assertEqual(array_literal([at(5)]), '{"2026-03-01 10:00:05"}')
