# This file is part of the EV operations suite.
"Report periods: pure date arithmetic"
import datetime as dt
import unittest

import pytest

from trytond.modules.ev_oem_report.report_config import period_of

pytestmark = pytest.mark.backend_independent
D = dt.date


class PeriodTestCase(unittest.TestCase):

    def test_week_from_monday(self):
        self.assertEqual(period_of('weekly', D(2026, 12, 9)),
            (D(2026, 12, 7), D(2026, 12, 13)))
        self.assertEqual(period_of('weekly', D(2026, 12, 7)),
            (D(2026, 12, 7), D(2026, 12, 13)))
        # across the year's end
        self.assertEqual(period_of('weekly', D(2027, 1, 1)),
            (D(2026, 12, 28), D(2027, 1, 3)))

    def test_calendar_month(self):
        self.assertEqual(period_of('monthly', D(2026, 12, 31)),
            (D(2026, 12, 1), D(2026, 12, 31)))
        self.assertEqual(period_of('monthly', D(2028, 2, 10)),
            (D(2028, 2, 1), D(2028, 2, 29)))
