# This file is part of the EV operations suite.
"""SLA targets: the business time allowed per kind of record, level and
metric (the configuration the engine of sla.py reads)."""
import datetime as dt

from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields)
from trytond.pool import Pool
from trytond.transaction import without_check_access


class Target(DeactivableMixin, ModelSQL, ModelView):
    "The business time allowed for a metric of a kind of record at a level"
    __name__ = 'ev.sla.target'
    __string__ = "SLA Target"

    kind = fields.Selection([
            ('generic', "Generic"),
            ], "Kind", required=True,
        help="The records the target applies to (modules add theirs).")
    level = fields.Char("Level", required=True,
        help="The level of the record the target applies to, as the "
        "module names it (e.g. the priority: critical, high, medium, low).")
    metric = fields.Selection([
            ('first_response', "First Response"),
            ('resolution', "Resolution"),
            ], "Metric", required=True)
    duration = fields.TimeDelta("Target", required=True,
        domain=[('duration', '>', dt.timedelta())],
        help="In business time of the calendar.")
    warning_percent = fields.Integer("Warning at (%)", required=True,
        domain=[('warning_percent', '>', 0), ('warning_percent', '<', 100)],
        help="Warn when this share of the target is spent.")
    calendar = fields.Many2One(
        'ev.business.calendar', "Calendar", required=True,
        ondelete='RESTRICT')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('kind_level_metric_unique',
                Unique(t, t.kind, t.level, t.metric),
                'ev_station.msg_sla_target_unique'),
            ]
        cls._order = [
            ('kind', 'ASC'), ('level', 'ASC'), ('metric', 'ASC'),
            ('id', 'ASC')]

    @classmethod
    def default_warning_percent(cls):
        return 80

    @classmethod
    def default_calendar(cls):
        Calendar = Pool().get('ev.business.calendar')
        try:
            return Calendar.get_default().id
        except KeyError:
            return None

    @property
    def seconds(self):
        return int(self.duration.total_seconds())

    @classmethod
    def find(cls, kind, level, metric):
        "The active target of (kind, level, metric), or None"
        with without_check_access():
            targets = cls.search([
                    ('kind', '=', kind),
                    ('level', '=', level),
                    ('metric', '=', metric),
                    ], limit=1)
        return targets[0] if targets else None
