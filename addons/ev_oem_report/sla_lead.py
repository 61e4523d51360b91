# This file is part of the EV operations suite.
"""The SLA of a lead's transitions, on ev_station's engine (ev_station/sla.py).

Five clocks per lead, one per transition (SLA Targets of kind "Lead", in
business time of their calendar; level: the OEM's code, else "default"):
- lead_first_contact: from the lead's creation to its first contact;
- lead_survey_scheduled: from the first contact to a survey job scheduled;
- lead_installation: from the survey reported to the installation reported;
- lead_closure: from the installation reported to its closure call;
- lead_end_to_end: from the lead's creation to the closure call.
The lead on hold, cancelled or lost pauses them (the customer's wait, or a
lead nobody works on any more, is not an SLA breach); back to a working
stage resumes them.

Nearing a target (the engine's warning) tells Central Ops; a breach is an
escalation: it tells the SLA supervisors, and the clock is listed in "SLA
Escalations" (ev.oem.sla.escalation) until the transition happens."""
import datetime as dt
from collections import defaultdict

from sql import Literal, Null

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.ev_station.notification import (
    group_users, notify, notify_summary)
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

KIND = 'ev_lead.lead'
LEAD_MODEL = 'sale.opportunity'
DEFAULT_LEVEL = 'default'
METRICS = [
    ('lead_first_contact', "Lead → First Contact"),
    ('lead_survey_scheduled', "First Contact → Survey Scheduled"),
    ('lead_installation', "Survey → Installation"),
    ('lead_closure', "Installation → Closure"),
    ('lead_end_to_end', "Lead → Closure (End to End)"),
    ]
METRIC_NAMES = [m for m, _ in METRICS]
# The lead's stages that pause its clocks
PAUSED_STATES = {'on_hold', 'cancelled', 'lost'}
# The survey job's states once it has a slot
SURVEY_SCHEDULED_STATES = {
    'scheduled', 'confirmed', 'emergency', 'done', 'commissioned', 'closed'}
# More leads than this for one user at once: one notification opens them
NOTIFY_EACH_MAX = 5


def now():
    "The moment of an event the records do not time themselves (naive UTC)"
    return dt.datetime.utcnow().replace(microsecond=0)


def _by(records, key):
    groups = defaultdict(list)
    for record in records:
        groups[key(record)].append(record)
    return groups.items()


def _hours(seconds):
    return round(seconds / 3600, 2) if seconds is not None else None


class Target(metaclass=PoolMeta):
    __name__ = 'ev.sla.target'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.kind.selection.append((KIND, "Lead"))
        cls.metric.selection.extend(METRICS)
        # validate_fields says it in words (a domain error names no rule)
        cls.duration.domain = []

    @classmethod
    def validate_fields(cls, targets, field_names):
        super().validate_fields(targets, field_names)
        if 'duration' in field_names:
            for target in targets:
                if target.duration <= dt.timedelta():
                    raise ValidationError(gettext(
                            'ev_oem_report.msg_sla_target_duration_positive',
                            level=target.level,
                            metric=dict(cls.metric.selection).get(
                                target.metric, target.metric),
                            hours='%g' % (
                                target.duration.total_seconds() / 3600)))

    @classmethod
    def find_lead(cls, lead, metric):
        "The target of the lead's OEM for the metric, else the default one"
        code = lead.oem and lead.oem.code
        return ((code and cls.find(KIND, code, metric))
            or cls.find(KIND, DEFAULT_LEVEL, metric))


class Clock(metaclass=PoolMeta):
    __name__ = 'ev.sla.clock'

    sla_lead = fields.Function(fields.Many2One(LEAD_MODEL, "Lead"),
        'get_sla_lead', searcher='search_sla_lead')
    business_hours = fields.Function(fields.Float("Business Hours",
            digits=(16, 2),
            help="The business time counted against the target, until the "
            "clock stopped or now."), 'get_business_hours')

    def get_sla_lead(self, name):
        if self.record_model == LEAD_MODEL:
            return self.record_id

    @classmethod
    def search_sla_lead(cls, name, clause):
        "The clocks of the leads the clause finds (one sub-query)"
        Lead = Pool().get(LEAD_MODEL)
        nested = clause[0][len(name) + 1:] or 'id'
        domain = [(nested, *clause[1:])]
        return [
            ('record_model', '=', LEAD_MODEL),
            ('record_id', 'in', Lead.search(domain, query=True)),
            ]

    def get_business_hours(self, name):
        if self.stopped_at and self.elapsed_seconds is not None:
            # What the engine counted at the stop, as the reports read it
            return _hours(self.elapsed_seconds)
        if self.state == 'paused' or self.stopped_at:
            end = self.paused_since or self.stopped_at
        else:
            end = now()
        # The calendar is configuration an OEM's user does not read
        with without_check_access():
            hours = self.__class__(self.id).calendar.business_hours()
        seconds = (hours.business_seconds(self.started_at, end)
            - self.paused_seconds)
        return _hours(max(seconds, 0))


class Lead(metaclass=PoolMeta):
    __name__ = LEAD_MODEL

    sla_clocks = fields.Function(fields.Many2Many(
            'ev.sla.clock', None, None, "SLA Clocks",
            help="The lead's transitions against their targets: met, "
            "breached, running or paused."), 'get_sla_clocks')
    sla_breaches = fields.Function(fields.Integer("SLA Breaches",
            help="How many of the lead's transitions went over their "
            "target."), 'get_sla_breaches')

    def get_sla_clocks(self, name):
        Clock = Pool().get('ev.sla.clock')
        order = {m: i for i, m in enumerate(METRIC_NAMES)}
        clocks = [c for metric in METRIC_NAMES
            for c in Clock.get_clocks([self], metric)]
        return [c.id for c in sorted(clocks, key=lambda c: order[c.metric])]

    @classmethod
    def get_sla_breaches(cls, leads, name):
        Clock = Pool().get('ev.sla.clock')
        clock = Clock.__table__()
        cursor = Transaction().connection.cursor()
        result = {lead.id: 0 for lead in leads}
        for sub_ids in grouped_slice(list(result), 1000):
            cursor.execute(*clock.select(clock.record_id,
                    where=(clock.record_model == LEAD_MODEL)
                    & (clock.state == 'breached')
                    & fields.SQL_OPERATORS['in'](
                        clock.record_id, list(sub_ids))))
            for lead_id, in cursor:
                result[lead_id] += 1
        return result

    @classmethod
    def copy(cls, leads, default=None):
        default = default.copy() if default else {}
        default.setdefault('sla_clocks')
        return super().copy(leads, default=default)

    @classmethod
    def on_modification(cls, mode, leads, field_names=None):
        super().on_modification(mode, leads, field_names=field_names)
        if mode == 'create':
            at = now()
            cls.sla_start(leads, ['lead_first_contact', 'lead_end_to_end'],
                at=at)
            cls.sla_follow(leads)
        elif mode == 'write':
            if field_names & {'contacted_at', 'state'}:
                cls.sla_follow(leads)

    @classmethod
    def sla_start(cls, leads, metrics, at):
        "Start the metrics' clocks of the leads on their targets"
        Clock = Pool().get('ev.sla.clock')
        Target = Pool().get('ev.sla.target')
        for metric in metrics:
            for target, group in _by(leads,
                    lambda lead: Target.find_lead(lead, metric)):
                if target:
                    Clock.start_target(group, target, at=at)

    @classmethod
    def sla_follow(cls, leads):
        """Stop, start, pause or resume the clocks as the leads' contact
        and stage say"""
        Clock = Pool().get('ev.sla.clock')
        for at, group in _by([lead for lead in leads if lead.contacted_at],
                lambda lead: lead.contacted_at):
            Clock.stop(group, 'lead_first_contact', at=at)
            cls.sla_start(group, ['lead_survey_scheduled'], at=at)
        paused = [lead for lead in leads if lead.state in PAUSED_STATES]
        working = [lead for lead in leads if lead.state not in PAUSED_STATES]
        at = now()
        for metric in METRIC_NAMES:
            if paused:
                Clock.pause(paused, metric, at=at)
            if working:
                Clock.resume(working, metric, at=at)

    @classmethod
    def sla_follow_jobs(cls, jobs):
        "Stop and start the clocks as the leads' field jobs say"
        for kind, metric, at, started in [
                ('survey', 'lead_installation', 'reported_at', None),
                ('installation', 'lead_closure', 'reported_at',
                    'lead_installation'),
                ]:
            cls._sla_job_step(jobs, kind, at, stop=started, start=metric)
        scheduled = [j for j in jobs if j.kind == 'survey'
            and j.state in SURVEY_SCHEDULED_STATES]
        if scheduled:
            cls._sla_stop([j.lead for j in scheduled],
                ['lead_survey_scheduled'], now())
        cls._sla_job_step(jobs, 'installation', 'closure_call_at',
            stop='lead_closure', start=None)
        cls._sla_job_step(jobs, 'installation', 'closure_call_at',
            stop='lead_end_to_end', start=None)

    @classmethod
    def _sla_job_step(cls, jobs, kind, at_field, stop, start):
        for at, group in _by([j for j in jobs
                    if j.kind == kind and getattr(j, at_field)],
                lambda j: getattr(j, at_field)):
            leads = cls.browse({j.lead.id for j in group})
            if stop:
                cls._sla_stop(leads, [stop], at)
            if start:
                cls.sla_start(leads, [start], at)

    @classmethod
    def _sla_stop(cls, leads, metrics, at):
        Clock = Pool().get('ev.sla.clock')
        for metric in metrics:
            Clock.stop(leads, metric, at=at)

    # --- the engine's hooks ---------------------------------------------

    @classmethod
    def _sla_metric_string(cls, metric):
        return dict(METRICS).get(metric, metric)

    @classmethod
    def sla_warned(cls, leads, metric):
        "The engine's hook: a transition nears its target; Central Ops acts"
        metric_string = cls._sla_metric_string(metric)
        due = _due_texts(leads, metric)
        _notify(group_users('ev_lead.group_central_ops'), leads,
            lambda lead: gettext('ev_oem_report.msg_sla_lead_warned',
                lead=lead.rec_name, metric=metric_string, due=due[lead.id]),
            gettext('ev_oem_report.msg_sla_lead_warned_many',
                count=len(leads), metric=metric_string))

    @classmethod
    def sla_breached(cls, leads, metric):
        """The engine's hook: a transition went over its target; the SLA
        supervisors are told (the escalation list keeps it until acted on)"""
        metric_string = cls._sla_metric_string(metric)
        due = _due_texts(leads, metric)
        _notify(group_users('ev_oem_report.group_sla_supervisor'), leads,
            lambda lead: gettext('ev_oem_report.msg_sla_lead_breached',
                lead=lead.rec_name, metric=metric_string, due=due[lead.id]),
            gettext('ev_oem_report.msg_sla_lead_breached_many',
                count=len(leads), metric=metric_string))


class Job(metaclass=PoolMeta):
    __name__ = 'ev.field.job'

    @classmethod
    def on_modification(cls, mode, jobs, field_names=None):
        super().on_modification(mode, jobs, field_names=field_names)
        if mode == 'create' or (mode == 'write' and field_names & {
                    'state', 'reported_at', 'closure_call_at'}):
            Pool().get(LEAD_MODEL).sla_follow_jobs(jobs)


class Escalation(ModelSQL, ModelView):
    """A lead's transition nobody acted on: its clock past its warning or
    breached and not stopped, of a lead still worked on"""
    __name__ = 'ev.oem.sla.escalation'
    __string__ = "SLA Escalation"

    clock = fields.Many2One('ev.sla.clock', "Clock", readonly=True)
    lead = fields.Many2One(LEAD_MODEL, "Lead", readonly=True)
    oem = fields.Many2One('party.party', "OEM", readonly=True)
    city = fields.Function(fields.Char("Zone (City)"), 'get_city',
        searcher='search_city')
    metric = fields.Selection(METRICS, "Transition", readonly=True,
        sort=False)
    state = fields.Selection([
            ('running', "Near Breach"),
            ('breached', "Breached"),
            ], "State", readonly=True, sort=False)
    started_at = fields.DateTime("Started At", readonly=True)
    due_at = fields.DateTime("Due At", readonly=True)
    breached_at = fields.DateTime("Breached At", readonly=True)
    age = fields.Function(fields.Float("Age (business hours)",
            digits=(16, 2),
            help="The business time since the transition started."),
        'get_ages')
    overdue = fields.Function(fields.Float("Overdue (business hours)",
            digits=(16, 2), help="The business time since it was due."),
        'get_ages')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # The oldest first: the longest nobody acted on
        cls._order = [('started_at', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Clock = pool.get('ev.sla.clock')
        Lead = pool.get(LEAD_MODEL)
        clock = Clock.__table__()
        lead = Lead.__table__()
        return clock.join(lead, condition=(
                    clock.record_model == LEAD_MODEL)
                & (clock.record_id == lead.id)
            ).select(
                clock.id.as_('id'),
                clock.id.as_('clock'),
                lead.id.as_('lead'),
                lead.oem.as_('oem'),
                clock.metric.as_('metric'),
                clock.state.as_('state'),
                clock.started_at.as_('started_at'),
                clock.due_at.as_('due_at'),
                clock.breached_at.as_('breached_at'),
                where=(clock.stopped_at == Null)
                & (((clock.state == 'running')
                        & (clock.warned == Literal(True)))
                    | (clock.state == 'breached'))
                & ~lead.state.in_(list(PAUSED_STATES)))

    def get_city(self, name):
        return self.lead.city

    @classmethod
    def search_city(cls, name, clause):
        return [('lead.city', *clause[1:])]

    @classmethod
    def get_ages(cls, escalations, names):
        result = {n: {} for n in names}
        at, calendars = now(), {}
        # Read as the engine: the escalations' rules kept them to the user
        with without_check_access():
            for clock in Pool().get('ev.sla.clock').browse(
                    [e.id for e in escalations]):
                if clock.calendar.id not in calendars:
                    calendars[clock.calendar.id] = (
                        clock.calendar.business_hours())
                cls._ages(clock, calendars[clock.calendar.id], at, result)
        return result

    @staticmethod
    def _ages(clock, hours, at, result):
        if 'age' in result:
            result['age'][clock.id] = _hours(
                hours.business_seconds(clock.started_at, at)
                - clock.paused_seconds)
        if 'overdue' in result:
            due = clock.breached_at or clock.due_at
            result['overdue'][clock.id] = _hours(
                hours.business_seconds(due, at) if due and due < at else 0)


def _notify(users, leads, label, summary):
    """A notification per lead, or one for them all when a cron run finds
    many at once"""
    if len(leads) > NOTIFY_EACH_MAX:
        return notify_summary(users, leads, summary)
    return notify(users, leads, label)


def _due_texts(leads, metric):
    """The due time of each lead's clock, in its company's time zone"""
    from zoneinfo import ZoneInfo
    Clock = Pool().get('ev.sla.clock')
    due = {c.record_id: c.due_at for c in Clock.get_clocks(leads, metric)}
    texts = {}
    for lead in leads:
        due_at = due.get(lead.id)
        if not due_at:
            texts[lead.id] = ''
            continue
        due_at = due_at.replace(tzinfo=dt.timezone.utc)
        timezone = lead.company.timezone
        if timezone:
            due_at = due_at.astimezone(ZoneInfo(timezone))
        texts[lead.id] = due_at.strftime('%Y-%m-%d %H:%M')
    return texts
