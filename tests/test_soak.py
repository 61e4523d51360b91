# This file is part of the EV operations suite.
"""The exactly-once check of the soak run (tests/bench/soak.py, `./ev
soak`): what it compares is counted, a lead or message missing is lost, one
stored twice is duplicated, one stored and never accepted is unexpected"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / 'bench'))
from soak import exactly_once  # noqa: E402

pytestmark = pytest.mark.backend_independent


def test_every_key_stored_once():
    assert exactly_once({'BENCH-1', 'BENCH-2'}, ['BENCH-2', 'BENCH-1']) \
        == ([], [], [])


def test_lost_duplicated_and_unexpected_are_told_apart():
    published = {('BENCH-00001', 'heartbeat', 1), ('BENCH-00001', 'meter', 2),
        ('BENCH-00002', 'status', 1)}
    stored = [('BENCH-00001', 'heartbeat', 1), ('BENCH-00001', 'heartbeat', 1),
        ('BENCH-00002', 'status', 1), ('BENCH-00003', 'status', 1)]
    assert exactly_once(published, stored) == (
        [('BENCH-00001', 'meter', 2)],
        [('BENCH-00001', 'heartbeat', 1)],
        [('BENCH-00003', 'status', 1)])
