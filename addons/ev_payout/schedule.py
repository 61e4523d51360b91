# This file is part of the EV operations suite.
"""A team's payment schedule, effective-dated: each change is a new record
that says who set it, when, and from which day it applies. Records are
never changed or deleted, and a change may not reach back into a period
that the payout cycle drafted already."""
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import AccessError
from trytond.modules.ev_station.timestamp import Timestamp
from trytond.pool import Pool
from trytond.transaction import Transaction

from .exceptions import ScheduleError
from .period import FREQUENCIES


class Schedule(ModelSQL, ModelView):
    __name__ = 'ev.payout.schedule'
    __string__ = "Payment Schedule"

    team = fields.Many2One('ev.field.team', "Team", required=True,
        ondelete='RESTRICT')
    frequency = fields.Selection(FREQUENCIES, "Frequency", required=True)
    frequency_string = frequency.translated('frequency')
    valid_from = fields.Date("Applies From", required=True,
        help="The first day paid under this schedule: the period running "
        "then ends the day before.")
    reason = fields.Char("Reason",
        help="Why the schedule was set or changed (e.g. the contract).")
    set_by = fields.Function(fields.Many2One('res.user', "Set By"),
        'get_set')
    set_at = fields.Function(Timestamp("Set At"), 'get_set')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t,
                (t.team, Index.Equality()), (t.valid_from, Index.Range())))
        cls._order = [('valid_from', 'DESC'), ('id', 'DESC')]

    def get_set(self, name):
        if name == 'set_by':
            return self.create_uid.id if self.create_uid else None
        return self.create_date

    def get_rec_name(self, name):
        return f'{self.team.rec_name}: {self.frequency_string}'

    @classmethod
    def check_modification(cls, mode, schedules, values=None,
            external=False):
        super().check_modification(
            mode, schedules, values=values, external=external)
        if mode in {'write', 'delete'}:
            raise AccessError(gettext('ev_payout.msg_schedule_immutable'))

    @classmethod
    def preprocess_values(cls, mode, values):
        """A schedule may not reach back into a period that has a run:
        refused before anything is written"""
        Team = Pool().get('ev.field.team')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and values.get('team') and values.get(
                'valid_from'):
            team = Team(values['team'])
            until = team.payout_drafted_until
            if until and values['valid_from'] <= until:
                raise ScheduleError(gettext(
                        'ev_payout.msg_schedule_reaches_run',
                        team=team.rec_name,
                        date=values['valid_from'].isoformat(),
                        end=until.isoformat()))
        return values

    @classmethod
    def history(cls, team_ids):
        """{team id: [(valid_from, frequency)]} in the order they apply: a
        later record for the same day replaces the earlier"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        result = {t: [] for t in team_ids}
        if not team_ids:
            return result
        for sub_ids in _slices(sorted(team_ids)):
            cursor.execute(*table.select(
                    table.team, table.valid_from, table.frequency,
                    where=table.team.in_(sub_ids),
                    order_by=[table.team, table.valid_from, table.id]))
            for team, valid_from, frequency in cursor:
                result[team].append((valid_from, frequency))
        return result


def _slices(ids, size=1000):
    for i in range(0, len(ids), size):
        yield ids[i:i + size]
