# This file is part of the EV operations suite.
"""The arithmetic of business calendars, without a database: nights,
weekends, India's public holidays (from the holidays package), closures,
extra working days, spans of months, time zones and daylight saving.

Every expected value is worked out by hand in the comments. India's
time is UTC+05:30 all year: 09:00 IST is 03:30 UTC."""
import datetime as dt
import unittest

import pytest

from trytond.modules.ev_station.calendar import (
    BusinessHours, NoWorkingTime, public_holidays)

pytestmark = pytest.mark.backend_independent

H = 3600
NINE_TO_SIX = [(dt.time(9), dt.time(18))]
# The suite's default: Monday to Saturday 09:00-18:00, India's holidays
MON_SAT = {d: NINE_TO_SIX for d in range(6)}


def ist(*args):
    "A naive UTC datetime from a time given in India (UTC+05:30)"
    return dt.datetime(*args) - dt.timedelta(hours=5, minutes=30)


def india(**kw):
    return BusinessHours('Asia/Kolkata', weekly=MON_SAT, country='IN', **kw)


class HolidaysTestCase(unittest.TestCase):

    def test_india_2026(self):
        "The days the tests rely on, as the holidays package says"
        days = public_holidays('IN', None, 2026)
        for day in [dt.date(2026, 1, 26), dt.date(2026, 8, 15),
                dt.date(2026, 10, 2), dt.date(2026, 8, 26)]:
            self.assertIn(day, days)
        self.assertNotIn(dt.date(2026, 8, 14), days)
        self.assertNotIn(dt.date(2026, 8, 17), days)
        # Cached per (country, subdivision, year)
        self.assertIs(public_holidays('IN', None, 2026), days)

    def test_no_country_no_holidays(self):
        self.assertEqual(public_holidays(None, None, 2026), frozenset())


class BusinessHoursTestCase(unittest.TestCase):

    def assertRoundTrip(self, hours, start, seconds, due):
        self.assertEqual(hours.add_business_seconds(start, seconds), due)
        self.assertEqual(hours.business_seconds(start, due), seconds)

    def test_same_day(self):
        # Tue 11 Aug 2026 10:00 + 3 h = 13:00
        self.assertRoundTrip(india(), ist(2026, 8, 11, 10), 3 * H,
            ist(2026, 8, 11, 13))

    def test_night(self):
        # Tue 17:00 + 2 h: 1 h to 18:00, the night, 1 h from Wed 09:00
        self.assertRoundTrip(india(), ist(2026, 8, 11, 17), 2 * H,
            ist(2026, 8, 12, 10))

    def test_ends_at_closing_time(self):
        "A span that ends at 18:00 is due at 18:00, not the next morning"
        self.assertRoundTrip(india(), ist(2026, 8, 11, 17), 1 * H,
            ist(2026, 8, 11, 18))

    def test_start_out_of_hours(self):
        # Wed 06:00 + 30 min: counting starts at 09:00 -> 09:30
        self.assertRoundTrip(india(), ist(2026, 8, 12, 6), 1800,
            ist(2026, 8, 12, 9, 30))
        # Wed 20:00 to Thu 08:00: no working time
        self.assertEqual(india().business_seconds(
                ist(2026, 8, 12, 20), ist(2026, 8, 13, 8)), 0)

    def test_weekend(self):
        # Sat 8 Aug 17:00 + 2 h: 1 h Saturday, Sunday closed,
        # 1 h from Mon 10 Aug 09:00
        self.assertRoundTrip(india(), ist(2026, 8, 8, 17), 2 * H,
            ist(2026, 8, 10, 10))
        # Monday to Friday instead: Fri 7 Aug 17:00 + 2 h -> Mon 10:00
        mon_fri = BusinessHours('Asia/Kolkata',
            weekly={d: NINE_TO_SIX for d in range(5)}, country='IN')
        self.assertRoundTrip(mon_fri, ist(2026, 8, 7, 17), 2 * H,
            ist(2026, 8, 10, 10))

    def test_republic_day(self):
        # Sat 24 Jan 2026 17:00 + 2 h: 1 h Saturday, Sunday closed,
        # Mon 26 Jan Republic Day closed, 1 h from Tue 27 Jan 09:00
        self.assertRoundTrip(india(), ist(2026, 1, 24, 17), 2 * H,
            ist(2026, 1, 27, 10))

    def test_independence_day(self):
        # Fri 14 Aug 17:00 + 2 h: 1 h Friday, Sat 15 Aug Independence Day
        # and Sunday closed, 1 h from Mon 17 Aug 09:00
        self.assertRoundTrip(india(), ist(2026, 8, 14, 17), 2 * H,
            ist(2026, 8, 17, 10))

    def test_gandhi_jayanti(self):
        # Thu 1 Oct 17:00 + 2 h: Fri 2 Oct closed -> Sat 3 Oct 10:00
        self.assertRoundTrip(india(), ist(2026, 10, 1, 17), 2 * H,
            ist(2026, 10, 3, 10))

    def test_without_holidays(self):
        # The same span where no country's holidays apply: Fri 2 Oct 10:00
        plain = BusinessHours('Asia/Kolkata', weekly=MON_SAT)
        self.assertRoundTrip(plain, ist(2026, 10, 1, 17), 2 * H,
            ist(2026, 10, 2, 10))

    def test_closure(self):
        # Wed 12 Aug closed by the company: Tue 17:00 + 2 h -> Thu 10:00
        hours = india(closures={dt.date(2026, 8, 12)})
        self.assertRoundTrip(hours, ist(2026, 8, 11, 17), 2 * H,
            ist(2026, 8, 13, 10))

    def test_extra_working_day(self):
        # Sun 16 Aug worked 10:00-14:00: Fri 14 Aug 17:00 + 2 h: 1 h
        # Friday, Saturday a holiday, 1 h from Sunday 10:00 -> 11:00
        hours = india(extra_days={
                dt.date(2026, 8, 16): [(dt.time(10), dt.time(14))]})
        self.assertRoundTrip(hours, ist(2026, 8, 14, 17), 2 * H,
            ist(2026, 8, 16, 11))
        # An extra day is worked even on a public holiday: Sat 15 Aug
        # 09:00-12:00 -> Fri 17:00 + 2 h = Sat 10:00
        hours = india(extra_days={
                dt.date(2026, 8, 15): [(dt.time(9), dt.time(12))]})
        self.assertRoundTrip(hours, ist(2026, 8, 14, 17), 2 * H,
            ist(2026, 8, 15, 10))

    def test_split_hours(self):
        "A lunch break: 09:00-13:00 and 14:00-18:00"
        hours = BusinessHours('Asia/Kolkata', weekly={
                d: [(dt.time(14), dt.time(18)), (dt.time(9), dt.time(13))]
                for d in range(6)})
        # Tue 12:00 + 2 h: 1 h to 13:00, the break, 1 h from 14:00
        self.assertRoundTrip(hours, ist(2026, 8, 11, 12), 2 * H,
            ist(2026, 8, 11, 15))

    def test_months(self):
        """Mon 1 Jun 09:00 to Tue 1 Sep 09:00 (IST): June has 26 days from
        Monday to Saturday (Sundays 7, 14, 21, 28), July 27 (Sundays 5, 12,
        19, 26), August 26 (Sundays 2, 9, 16, 23, 30): 79 days, less the
        holidays falling on them: Ashura (Fri 26 Jun), Independence Day
        (Sat 15 Aug), the Prophet's Birthday (Wed 26 Aug): 76 days of 9 h
        = 684 h, the last one ending Mon 31 Aug 18:00."""
        self.assertEqual(public_holidays('IN', None, 2026) & {
                dt.date(2026, 6, 1) + dt.timedelta(days=n)
                for n in range(92)}, {dt.date(2026, 6, 26),
                dt.date(2026, 8, 15), dt.date(2026, 8, 26)})
        hours = india()
        self.assertEqual(hours.business_seconds(
                ist(2026, 6, 1, 9), ist(2026, 9, 1, 9)), 684 * H)
        self.assertEqual(hours.add_business_seconds(
                ist(2026, 6, 1, 9), 684 * H), ist(2026, 8, 31, 18))

    def test_across_years(self):
        # Thu 31 Dec 2026 17:00 + 10 h: 1 h, Fri 1 Jan 2027 9 h -> 18:00
        # (New Year's Day is not one of India's national holidays)
        self.assertNotIn(
            dt.date(2027, 1, 1), public_holidays('IN', None, 2027))
        self.assertRoundTrip(india(), ist(2026, 12, 31, 17), 10 * H,
            ist(2027, 1, 1, 18))

    def test_local_date_not_utc_date(self):
        """Fri 14 Aug 04:30 IST is Thu 13 Aug 23:00 UTC: the day is
        Friday's, counting starts at Friday 09:00"""
        start = dt.datetime(2026, 8, 13, 23)
        self.assertEqual(india().add_business_seconds(start, H),
            dt.datetime(2026, 8, 14, 4, 30))

    def test_aware_datetimes(self):
        "An aware start gives an aware due time, in UTC"
        start = dt.datetime(2026, 8, 11, 17, tzinfo=dt.timezone(
                dt.timedelta(hours=5, minutes=30)))
        due = india().add_business_seconds(start, 2 * H)
        self.assertEqual(due, dt.datetime(2026, 8, 12, 4, 30,
                tzinfo=dt.timezone.utc))
        self.assertEqual(india().business_seconds(start, due), 2 * H)

    def test_daylight_saving(self):
        """Berlin, open round the clock (00:00 to 00:00): Sun 29 Mar 2026
        has 23 hours (02:00 CET -> 03:00 CEST), Sun 25 Oct 25 hours"""
        hours = BusinessHours('Europe/Berlin', weekly={
                d: [(dt.time(0), dt.time(0))] for d in range(7)})
        # Sat 28 Mar 00:00 CET (27 Mar 23:00 UTC) to Mon 30 Mar 00:00 CEST
        # (29 Mar 22:00 UTC): 24 + 23 h
        self.assertEqual(hours.business_seconds(
                dt.datetime(2026, 3, 27, 23), dt.datetime(2026, 3, 29, 22)),
            47 * H)
        self.assertEqual(hours.business_seconds(
                dt.datetime(2026, 10, 24, 22), dt.datetime(2026, 10, 25, 23)),
            25 * H)
        # Working 09:00-17:00 local: 09:00 is 08:00 UTC before the change,
        # 07:00 UTC after it. Fri 27 Mar 16:00 CET + 2 h -> Mon 10:00 CEST
        office = BusinessHours('Europe/Berlin', weekly={
                d: [(dt.time(9), dt.time(17))] for d in range(5)})
        self.assertEqual(office.add_business_seconds(
                dt.datetime(2026, 3, 27, 15), 2 * H),
            dt.datetime(2026, 3, 30, 8))

    def test_zero_negative_and_nothing(self):
        start = ist(2026, 8, 16, 12)  # a Sunday: zero is due at once
        self.assertEqual(india().add_business_seconds(start, 0), start)
        with self.assertRaises(ValueError):
            india().add_business_seconds(start, -1)
        with self.assertRaises(NoWorkingTime):
            BusinessHours('Asia/Kolkata').add_business_seconds(start, 1)
        self.assertEqual(india().business_seconds(start, start), 0)
        self.assertEqual(india().business_seconds(
                ist(2026, 8, 17, 12), ist(2026, 8, 17, 11)), 0)
