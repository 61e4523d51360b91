# This file is part of the EV operations suite.
"""Business calendars: when the company works, in its own time zone.

`BusinessHours` is the arithmetic, pure Python (no database), tested on its
own:

    hours = BusinessHours('Asia/Kolkata',
        weekly={0: [(time(9), time(18))], ...},   # 0 = Monday
        country='IN', subdivision=None,           # public holidays
        closures={date(2026, 12, 31)},            # the company's own
        extra_days={date(2026, 8, 16): [(time(10), time(14))]})
    due = hours.add_business_seconds(start_utc, 4 * 3600)
    spent = hours.business_seconds(start_utc, end_utc)

Datetimes are UTC, naive (as Tryton stores them) or aware; the answer has
the same form as the start. Working hours are read in the calendar's time
zone, so a span crosses nights, weekends and holidays whatever the zone and
its daylight saving. The arithmetic walks day by day over the working
intervals (never minute by minute); public holidays come from the
`holidays` package, cached per (country, subdivision, year).

A day is worked as its extra working day says if there is one (even on a
holiday), else it is closed on a public holiday or a closure, else it has
the hours of its weekday. An end time of 00:00 means midnight at the end of
the day.

`ev.business.calendar` holds the same in configuration records;
`calendar.business_hours()` gives its `BusinessHours`; the suite's default
calendar (`Calendar.get_default()`) is India's, Monday to Saturday 09:00-18:00
(Indian service desks work Saturdays; public holidays of India closed).
"""
import datetime as dt
import functools
from zoneinfo import ZoneInfo

import holidays as holidays_package

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import timezone as tz
from trytond.transaction import Transaction

UTC = dt.timezone.utc
MIDNIGHT = dt.time(0)
# A calendar that finds no working time in three years has none
MAX_DAYS = 3 * 366
WEEKDAYS = [
    ('0', "Monday"),
    ('1', "Tuesday"),
    ('2', "Wednesday"),
    ('3', "Thursday"),
    ('4', "Friday"),
    ('5', "Saturday"),
    ('6', "Sunday"),
    ]
TIMEZONES = sorted((z, z) for z in tz.available_timezones())


@functools.lru_cache(maxsize=512)
def public_holidays(country, subdivision, year):
    "The public holidays of the year, a frozenset of dates"
    if not country:
        return frozenset()
    return frozenset(holidays_package.country_holidays(
            country, subdiv=subdivision or None, years=year))


def _as_utc(value):
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _like(value, model):
    "value (aware, UTC) in the form of model: naive if model is naive"
    return value.replace(tzinfo=None) if model.tzinfo is None else value


class NoWorkingTime(ValueError):
    "The calendar has no working time where the arithmetic needs some"


class BusinessHours:
    "The working time of a calendar; see the module's docstring"

    def __init__(self, timezone='Asia/Kolkata', weekly=None, country=None,
            subdivision=None, closures=(), extra_days=None):
        self.tzinfo = (ZoneInfo(timezone) if isinstance(timezone, str)
            else timezone)
        self.weekly = {int(d): sorted(h) for d, h in (weekly or {}).items()
            if h}
        self.country = country
        self.subdivision = subdivision
        self.closures = frozenset(closures)
        self.extra_days = {d: sorted(h) for d, h in (extra_days or {}).items()
            if h}

    def is_public_holiday(self, date):
        return date in public_holidays(
            self.country, self.subdivision, date.year)

    def hours(self, date):
        "The working hours of the date: a list of (start, end) local times"
        if date in self.extra_days:
            return self.extra_days[date]
        if date in self.closures or self.is_public_holiday(date):
            return []
        return self.weekly.get(date.weekday(), [])

    def intervals(self, date):
        "The working intervals of the date, as aware UTC datetimes"
        for start, end in self.hours(date):
            start_at = dt.datetime.combine(date, start, tzinfo=self.tzinfo)
            if end == MIDNIGHT:
                end_at = dt.datetime.combine(
                    date + dt.timedelta(days=1), MIDNIGHT, tzinfo=self.tzinfo)
            else:
                end_at = dt.datetime.combine(date, end, tzinfo=self.tzinfo)
            yield start_at.astimezone(UTC), end_at.astimezone(UTC)

    def _local_date(self, value):
        return value.astimezone(self.tzinfo).date()

    def add_business_seconds(self, start, seconds):
        """The moment when `seconds` of working time have passed since
        start. A span that ends exactly at a closing time ends there (not at
        the next opening)."""
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        if not seconds:
            return start
        current = _as_utc(start)
        remaining = dt.timedelta(seconds=seconds)
        date = self._local_date(current)
        for _ in range(MAX_DAYS):
            for interval_start, interval_end in self.intervals(date):
                if interval_end <= current:
                    continue
                interval_start = max(interval_start, current)
                available = interval_end - interval_start
                if remaining <= available:
                    return _like(interval_start + remaining, start)
                remaining -= available
            date += dt.timedelta(days=1)
        raise NoWorkingTime(
            f"no working time in {MAX_DAYS} days from {start}")

    def business_seconds(self, start, end):
        "The working seconds between start and end (0 if end <= start)"
        start, end = _as_utc(start), _as_utc(end)
        if end <= start:
            return 0
        total = dt.timedelta()
        date, last = self._local_date(start), self._local_date(end)
        while date <= last:
            for interval_start, interval_end in self.intervals(date):
                low, high = max(interval_start, start), min(interval_end, end)
                if high > low:
                    total += high - low
            date += dt.timedelta(days=1)
        return total.total_seconds()


class Calendar(DeactivableMixin, ModelSQL, ModelView):
    "When the company works: the clocks of the SLAs count only this time"
    __name__ = 'ev.business.calendar'
    __string__ = "Business Calendar"

    name = fields.Char("Name", required=True, translate=True)
    timezone = fields.Selection(
        TIMEZONES, "Timezone", required=True, translate=False,
        help="The working hours and days are read in this time zone.")
    holiday_country = fields.Char(
        "Public Holidays of", size=2,
        help="The ISO code of the country whose public holidays are closed "
        "(the holidays package); empty: none.")
    holiday_subdivision = fields.Char(
        "Subdivision",
        states={'invisible': ~Eval('holiday_country')},
        help="The state or province whose holidays count too "
        "(e.g. KA for Karnataka); empty: the national ones only.")
    hours = fields.One2Many(
        'ev.business.calendar.hours', 'calendar', "Working Hours")
    days = fields.One2Many(
        'ev.business.calendar.day', 'calendar', "Closures and Extra Days",
        help="Days closed (the company's own holidays) and extra working "
        "days (they are worked even on a public holiday).")

    @classmethod
    def default_timezone(cls):
        "The company's time zone when there is one, else India's"
        try:
            Company = Pool().get('company.company')
        except KeyError:
            Company = None
        company_id = Transaction().context.get('company')
        if Company and company_id:
            company = Company(company_id)
            if getattr(company, 'timezone', None):
                return company.timezone
        return 'Asia/Kolkata'

    @classmethod
    def default_holiday_country(cls):
        return 'IN'

    @classmethod
    def validate_fields(cls, calendars, field_names):
        super().validate_fields(calendars, field_names)
        if field_names & {'holiday_country', 'holiday_subdivision'}:
            supported = holidays_package.list_supported_countries()
            for calendar in calendars:
                country = calendar.holiday_country
                if not country:
                    continue
                if country not in supported:
                    raise ValidationError(gettext(
                            'ev_station.msg_calendar_country_unknown',
                            country=country, calendar=calendar.rec_name))
                subdivision = calendar.holiday_subdivision
                if subdivision and subdivision not in supported[country]:
                    raise ValidationError(gettext(
                            'ev_station.msg_calendar_subdivision_unknown',
                            subdivision=subdivision, country=country,
                            calendar=calendar.rec_name))

    def business_hours(self):
        "The calendar's BusinessHours"
        weekly, extra_days, closures = {}, {}, set()
        for line in self.hours:
            weekly.setdefault(int(line.weekday), []).append(
                (line.start, line.end))
        for day in self.days:
            if day.kind == 'closed':
                closures.add(day.date)
            else:
                extra_days.setdefault(day.date, []).append(
                    (day.start, day.end))
        return BusinessHours(self.timezone, weekly=weekly,
            country=self.holiday_country,
            subdivision=self.holiday_subdivision,
            closures=closures, extra_days=extra_days)

    @classmethod
    def get_default(cls):
        "The calendar the suite uses when a module names none"
        ModelData = Pool().get('ir.model.data')
        return cls(ModelData.get_id('ev_station', 'business_calendar_default'))


class _TimeRange:
    __slots__ = ()

    @classmethod
    def validate_fields(cls, records, field_names):
        super().validate_fields(records, field_names)
        if field_names & {'start', 'end'}:
            for record in records:
                if record.start is None or record.end is None:
                    continue
                if record.end != MIDNIGHT and record.end <= record.start:
                    raise ValidationError(gettext(
                            'ev_station.msg_calendar_hours_order',
                            start=record.start.strftime('%H:%M'),
                            end=record.end.strftime('%H:%M')))


class CalendarHours(_TimeRange, ModelSQL, ModelView):
    "Working hours of a weekday"
    __name__ = 'ev.business.calendar.hours'
    __string__ = "Business Calendar Hours"

    calendar = fields.Many2One(
        'ev.business.calendar', "Calendar", required=True,
        ondelete='CASCADE')
    weekday = fields.Selection(WEEKDAYS, "Weekday", required=True, sort=False)
    start = fields.Time("From", required=True, format='%H:%M')
    end = fields.Time("To", required=True, format='%H:%M',
        help="00:00 means midnight at the end of the day.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('weekday', 'ASC'))
        cls._order.insert(1, ('start', 'ASC'))


class CalendarDay(_TimeRange, ModelSQL, ModelView):
    "A day closed, or worked out of the usual hours"
    __name__ = 'ev.business.calendar.day'
    __string__ = "Business Calendar Day"

    calendar = fields.Many2One(
        'ev.business.calendar', "Calendar", required=True,
        ondelete='CASCADE')
    date = fields.Date("Date", required=True)
    kind = fields.Selection([
            ('closed', "Closed"),
            ('working', "Extra Working Day"),
            ], "Kind", required=True)
    start = fields.Time("From", format='%H:%M',
        states={
            'required': Eval('kind') == 'working',
            'invisible': Eval('kind') != 'working',
            })
    end = fields.Time("To", format='%H:%M',
        states={
            'required': Eval('kind') == 'working',
            'invisible': Eval('kind') != 'working',
            })
    reason = fields.Char("Reason")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('date', 'DESC'))

    @classmethod
    def default_kind(cls):
        return 'closed'
