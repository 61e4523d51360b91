# This file is part of the EV operations suite.
"""Pay periods: pure date arithmetic, tested without a database.

A fortnight is the 1st to the 15th or the 16th to the month's end, a month
the calendar month (how Indian contractors are paid). A schedule change
takes effect on its date: the period running then ends the day before."""
import calendar
import datetime as dt

FREQUENCIES = [
    ('job', "Per Job"),
    ('fortnight', "Fortnightly"),
    ('month', "Monthly"),
    ]
ONE_DAY = dt.timedelta(days=1)


def month_end(date):
    return date.replace(day=calendar.monthrange(date.year, date.month)[1])


def natural_end(frequency, start):
    "The last day of the period of `frequency` that contains `start`"
    if frequency == 'fortnight':
        if start.day <= 15:
            return start.replace(day=15)
        return month_end(start)
    if frequency == 'month':
        return month_end(start)
    raise ValueError(frequency)


def period_from(schedules, start):
    """(frequency, end) of the period starting on `start` under
    `schedules`, a list of (valid_from, frequency) sorted by date; the
    period is cut short the day before the next schedule takes effect.
    Returns (None, None) before the first schedule."""
    current, following = None, None
    for valid_from, frequency in schedules:
        if valid_from <= start:
            current = frequency
        elif following is None:
            following = valid_from
    if current is None:
        return None, None
    if current == 'job':
        return 'job', (following - ONE_DAY) if following else None
    end = natural_end(current, start)
    if following and following - ONE_DAY < end:
        end = following - ONE_DAY
    return current, end


def ended_periods(schedules, start, today):
    """The (start, end, frequency) periods from `start` that ended before
    `today`; per-job stretches are skipped (their runs are per job)"""
    periods = []
    while True:
        frequency, end = period_from(schedules, start)
        if frequency is None:
            later = [f for f, _ in schedules if f > start]
            if not later:
                break
            start = later[0]
            continue
        if frequency == 'job':
            if end is None or end >= today:
                break
            start = end + ONE_DAY
            continue
        if end >= today:
            break
        periods.append((start, end, frequency))
        start = end + ONE_DAY
    return periods
