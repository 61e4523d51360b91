# This file is part of the EV operations suite.
"Field teams: who can do what, where and when"
import datetime as dt
import re

from sql import Literal
from sql.operators import Exists
from sql.aggregate import Count
from sql.conditionals import Coalesce

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday',
    'saturday', 'sunday']
CAPABILITIES = ['survey', 'installation', 'service']
# Postal-code patterns: digits and letters, * for any run, ? for one sign
ZONE_PATTERN = re.compile(r'^[0-9A-Za-z ?*-]+$')
# Jobs in these states hold their team's slot
BOOKED_STATES = ['scheduled', 'confirmed', 'done', 'commissioned', 'closed']


def company_timezone():
    "The company's time zone: slots and working hours are read in it"
    pool = Pool()
    Company = pool.get('company.company')
    company_id = Transaction().context.get('company')
    if company_id and company_id >= 0:
        company = Company(company_id)
        if company.timezone:
            import zoneinfo
            return zoneinfo.ZoneInfo(company.timezone)
    return dt.timezone.utc


def to_local(value, tz=None):
    "A naive UTC datetime (as Tryton stores them) in local time, naive"
    tz = tz or company_timezone()
    return value.replace(tzinfo=dt.timezone.utc).astimezone(tz).replace(
        tzinfo=None)


def to_utc(value, tz=None):
    tz = tz or company_timezone()
    return value.replace(tzinfo=tz).astimezone(dt.timezone.utc).replace(
        tzinfo=None)


class Team(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'ev.field.team'
    __string__ = "Field Team"

    name = fields.Char("Name", required=True)
    code = fields.Char("Code", required=True)
    company = fields.Many2One('company.company', "Company", required=True)
    survey = fields.Boolean("Surveys")
    installation = fields.Boolean("Installations")
    service = fields.Boolean("Service")
    members = fields.Many2Many(
        'ev.field.team-company.employee', 'team', 'employee', "Members",
        domain=[('company', '=', Eval('company', -1))],
        help="The employees of the crew; their users see the team's jobs.")
    crew_size = fields.Function(fields.Integer("Crew Size"), 'get_crew_size')
    zones = fields.One2Many('ev.field.team.zone', 'team', "Zones",
        help="The postal codes the team covers.")
    work_start = fields.Time("Work Starts", required=True, format='%H:%M')
    work_end = fields.Time("Work Ends", required=True, format='%H:%M',
        domain=[('work_end', '>', Eval('work_start'))])
    monday = fields.Boolean("Monday")
    tuesday = fields.Boolean("Tuesday")
    wednesday = fields.Boolean("Wednesday")
    thursday = fields.Boolean("Thursday")
    friday = fields.Boolean("Friday")
    saturday = fields.Boolean("Saturday")
    sunday = fields.Boolean("Sunday")
    days_off = fields.One2Many('ev.field.team.day_off', 'team', "Days Off")
    location = fields.Many2One(
        'stock.location', "Van", ondelete='RESTRICT',
        domain=[('type', '=', 'storage')],
        help="The stock location of the team's van.")
    labour_rate = fields.Numeric(
        "Labour per Job", digits=(16, 2),
        domain=[('labour_rate', '>=', 0)],
        help="What the team is paid per completed job.")
    manager = fields.Many2One('res.user', "Manager",
        help="Who is told about the team's emergencies and reviews.")

    _user_teams_cache = Cache(__name__ + '.user_teams', context=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code), 'ev_field.msg_team_code_unique'),
            ]
        cls._order = [('name', 'ASC'), ('id', 'ASC')]

    def get_rec_name(self, name):
        return f'[{self.code}] {self.name}' if self.code else self.name

    @classmethod
    def search_rec_name(cls, name, clause):
        "A team is found by its name or its code"
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('name', operator, operand, *extra),
            ('code', operator, operand, *extra),
            ]

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_work_start(cls):
        return dt.time(9, 0)

    @classmethod
    def default_work_end(cls):
        return dt.time(18, 0)

    @classmethod
    def default_labour_rate(cls):
        return 0

    for _day in WEEKDAYS[:6]:
        locals()[f'default_{_day}'] = classmethod(lambda cls: True)
    del _day

    @classmethod
    def default_sunday(cls):
        return False

    def get_crew_size(self, name):
        return len(self.members)

    def can(self, capability):
        return bool(getattr(self, capability))

    def works_on(self, day):
        return bool(getattr(self, WEEKDAYS[day.weekday()])) and not any(
            d.date == day for d in self.days_off)

    def covers(self, postal_code):
        code = (postal_code or '').replace(' ', '').upper()
        return any(z.matches(code) for z in self.zones)

    @classmethod
    def user_teams(cls, user_id=None):
        "Ids of the teams of the user's employees, for the record rules"
        pool = Pool()
        User = pool.get('res.user')
        Member = pool.get('ev.field.team-company.employee')
        UserEmployee = pool.get('res.user-company.employee')
        user_id = user_id if user_id is not None else Transaction().user
        teams = cls._user_teams_cache.get(user_id)
        if teams is not None:
            return teams
        member = Member.__table__()
        user_employee = UserEmployee.__table__()
        user = User.__table__()
        cursor = Transaction().connection.cursor()
        # The user's employees: the many2many and the current employee
        cursor.execute(*member.join(user_employee,
                condition=member.employee == user_employee.employee
                ).select(member.team,
                where=user_employee.user == user_id)
            | member.join(user,
                condition=member.employee == user.employee
                ).select(member.team, where=user.id == user_id))
        teams = sorted({t for t, in cursor})
        cls._user_teams_cache.set(user_id, teams)
        return teams

    @classmethod
    def on_modification(cls, mode, teams, field_names=None):
        super().on_modification(mode, teams, field_names=field_names)
        cls._user_teams_cache.clear()

    @classmethod
    def propose_backups(cls, capability, postal_code, start, end,
            exclude=None, limit=10):
        """Teams that can take a job: with the capability, covering the
        postal code, working and free during the slot; the least loaded on
        that day first. `start`/`end` are naive UTC. Returns a list of
        (team id, jobs that day) in rank order, in one query."""
        pool = Pool()
        Job = pool.get('ev.field.job')
        Zone = pool.get('ev.field.team.zone')
        DayOff = pool.get('ev.field.team.day_off')
        team = cls.__table__()
        zone = Zone.__table__()
        day_off = DayOff.__table__()
        busy = Job.__table__()
        load = Job.__table__()
        cursor = Transaction().connection.cursor()
        assert capability in CAPABILITIES

        tz = company_timezone()
        local_start, local_end = to_local(start, tz), to_local(end, tz)
        day = local_start.date()
        if local_end.date() != day:
            # Nobody works through midnight
            return []
        day_start = to_utc(dt.datetime.combine(day, dt.time()), tz)
        day_end = day_start + dt.timedelta(days=1)
        code = (postal_code or '').replace(' ', '').upper()

        covers = zone.select(zone.id,
            where=(zone.team == team.id)
            & Literal(code).like(zone.like_pattern))
        off = day_off.select(day_off.id,
            where=(day_off.team == team.id) & (day_off.date == day))
        overlapping = busy.select(busy.id,
            where=(busy.team == team.id)
            & busy.state.in_(BOOKED_STATES)
            & (busy.slot_start < end) & (busy.slot_end > start))
        day_load = load.select(load.team, Count(load.id).as_('jobs'),
            where=load.state.in_(BOOKED_STATES)
            & (load.slot_start >= day_start) & (load.slot_start < day_end),
            group_by=[load.team])
        where = ((team.active == Literal(True))
            & (getattr(team, capability) == Literal(True))
            & (getattr(team, WEEKDAYS[day.weekday()]) == Literal(True))
            & (team.work_start <= local_start.time())
            & (team.work_end >= local_end.time())
            & Exists(covers) & ~Exists(off) & ~Exists(overlapping))
        if exclude:
            where &= ~team.id.in_(list(exclude))
        jobs = Coalesce(day_load.jobs, 0)
        query = team.join(day_load, 'LEFT',
            condition=day_load.team == team.id).select(
            team.id, jobs,
            where=where, order_by=[jobs.asc, team.name.asc, team.id.asc],
            limit=limit)
        cursor.execute(*query)
        return [(t, int(n)) for t, n in cursor]


class TeamEmployee(ModelSQL):
    __name__ = 'ev.field.team-company.employee'
    __string__ = "Field Team Member"

    team = fields.Many2One(
        'ev.field.team', "Team", required=True, ondelete='CASCADE')
    employee = fields.Many2One(
        'company.employee', "Employee", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('member_unique', Unique(t, t.team, t.employee),
                'ev_field.msg_team_member_unique'),
            ]

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        Pool().get('ev.field.team')._user_teams_cache.clear()


class Zone(ModelSQL, ModelView):
    __name__ = 'ev.field.team.zone'
    __string__ = "Field Team Zone"

    team = fields.Many2One(
        'ev.field.team', "Team", required=True, ondelete='CASCADE')
    pattern = fields.Char("Postal Codes", required=True,
        help="A postal code or a pattern: * stands for any digits, "
        "? for one (e.g. 5600* or 56001?).")
    like_pattern = fields.Char("SQL Pattern", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('pattern', 'ASC'), ('id', 'ASC')]

    @staticmethod
    def _like(pattern):
        return (pattern.replace(' ', '').upper()
            .replace('*', '%').replace('?', '_'))

    def matches(self, code):
        return re.fullmatch(
            self.pattern.replace(' ', '').upper()
            .replace('*', '.*').replace('?', '.'), code) is not None

    @classmethod
    def validate_fields(cls, zones, field_names):
        super().validate_fields(zones, field_names)
        if 'pattern' in field_names:
            for zone in zones:
                if not ZONE_PATTERN.match(zone.pattern or ''):
                    raise ValidationError(gettext(
                            'ev_field.msg_zone_pattern_invalid',
                            pattern=zone.pattern))

    @classmethod
    def preprocess_values(cls, mode, values):
        "The SQL pattern the backup proposals match postal codes with"
        values = super().preprocess_values(mode, values)
        if values.get('pattern'):
            values['like_pattern'] = cls._like(values['pattern'])
        return values


class DayOff(ModelSQL, ModelView):
    __name__ = 'ev.field.team.day_off'
    __string__ = "Field Team Day Off"

    team = fields.Many2One(
        'ev.field.team', "Team", required=True, ondelete='CASCADE')
    date = fields.Date("Date", required=True)
    reason = fields.Char("Reason")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('date_unique', Unique(t, t.team, t.date),
                'ev_field.msg_day_off_unique'),
            ]
        cls._order = [('date', 'ASC'), ('id', 'ASC')]
