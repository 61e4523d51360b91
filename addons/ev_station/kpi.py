# This file is part of the EV operations suite.
"""The one context of the reporting models (dashboards, KPIs, costs): the
company and the date range the table queries read from the context, and the
condition of that range on a timestamp column. Each module's context model
is a ModelView with this mixin; a module that wants another default period
overrides _default_from_date (KpiYearContextMixin: twelve months)."""
import datetime as dt

from sql import Literal

from trytond.model import fields
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction

# The period of a context without dates: the last 30 days
DEFAULT_DAYS = 30


class KpiContextMixin:
    "The company and the date range of a reporting model's context"
    __slots__ = ()

    company = fields.Many2One('company.company', "Company", required=True)
    from_date = fields.Date("From Date",
        domain=[If(Eval('to_date') & Eval('from_date'),
                ('from_date', '<=', Eval('to_date')), ())])
    to_date = fields.Date("To Date",
        domain=[If(Eval('from_date') & Eval('to_date'),
                ('to_date', '>=', Eval('from_date')), ())])

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_from_date(cls):
        Date = Pool().get('ir.date')
        context = Transaction().context
        if 'from_date' in context:
            return context['from_date']
        return cls._default_from_date(Date.today())

    @classmethod
    def _default_from_date(cls, today):
        return today - dt.timedelta(days=DEFAULT_DAYS - 1)

    @classmethod
    def default_to_date(cls):
        Date = Pool().get('ir.date')
        return Transaction().context.get('to_date') or Date.today()


class KpiYearContextMixin(KpiContextMixin):
    "A reporting context of the last twelve months by default"
    __slots__ = ()

    @classmethod
    def _default_from_date(cls, today):
        return today.replace(day=1, year=today.year - 1)


def in_period(column):
    """The condition of the context's dates on a timestamp column: from the
    first day's midnight to the midnight after the last day"""
    context = Transaction().context
    where = Literal(True)
    if context.get('from_date'):
        where &= column >= dt.datetime.combine(
            context['from_date'], dt.time())
    if context.get('to_date'):
        where &= column < dt.datetime.combine(
            context['to_date'] + dt.timedelta(days=1), dt.time())
    return where
