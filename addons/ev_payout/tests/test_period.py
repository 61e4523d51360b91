# This file is part of the EV operations suite.
"Pay periods: pure date arithmetic"
import datetime as dt
import unittest

import pytest

from trytond.modules.ev_payout.period import ended_periods, period_from

pytestmark = pytest.mark.backend_independent
D = dt.date


class PeriodTestCase(unittest.TestCase):

    def test_fortnights(self):
        schedules = [(D(2026, 2, 1), 'fortnight')]
        self.assertEqual(ended_periods(schedules, D(2026, 2, 1),
                D(2026, 3, 16)), [
                (D(2026, 2, 1), D(2026, 2, 15), 'fortnight'),
                (D(2026, 2, 16), D(2026, 2, 28), 'fortnight'),
                (D(2026, 3, 1), D(2026, 3, 15), 'fortnight'),
                ])

    def test_change_cuts_the_running_period(self):
        schedules = [(D(2026, 8, 1), 'fortnight'), (D(2026, 8, 10), 'month')]
        self.assertEqual(ended_periods(schedules, D(2026, 8, 1),
                D(2026, 9, 1)), [
                (D(2026, 8, 1), D(2026, 8, 9), 'fortnight'),
                (D(2026, 8, 10), D(2026, 8, 31), 'month'),
                ])

    def test_per_job_then_monthly(self):
        schedules = [(D(2026, 8, 1), 'job'), (D(2026, 8, 20), 'month')]
        self.assertEqual(period_from(schedules, D(2026, 8, 1)),
            ('job', D(2026, 8, 19)))
        self.assertEqual(ended_periods(schedules, D(2026, 8, 1),
                D(2026, 9, 1)), [(D(2026, 8, 20), D(2026, 8, 31), 'month')])
        self.assertEqual(ended_periods(schedules, D(2026, 8, 1),
                D(2026, 8, 31)), [])

    def test_same_day_correction_wins(self):
        schedules = [(D(2026, 8, 1), 'fortnight'), (D(2026, 8, 1), 'month')]
        self.assertEqual(period_from(schedules, D(2026, 8, 1)),
            ('month', D(2026, 8, 31)))

    def test_before_first_schedule(self):
        self.assertEqual(period_from([(D(2026, 8, 1), 'month')],
                D(2026, 7, 1)), (None, None))
        # Leap year February
        self.assertEqual(period_from([(D(2028, 2, 16), 'fortnight')],
                D(2028, 2, 16)), ('fortnight', D(2028, 2, 29)))
