# This file is part of the EV operations suite.
"""The SLA of tickets, on ev_station's engine (ev_station/sla.py).

Two clocks per ticket, started when it is opened with the targets of its
priority (SLA Targets of kind "Helpdesk Ticket", one per priority and
metric, in business time of their calendar):
- first_response: stopped at the ticket's first response;
- resolution: paused while Waiting on Customer, resumed when it leaves it,
  stopped when the ticket is resolved.
A priority change retargets both: the business time spent counts against
the new target. Nearing the target (the warning) tells the department's
supervisor; a breach tells the supervisor and the agent and writes an
entry on the Station Record of the ticket."""
import datetime as dt
from collections import defaultdict

from sql import Literal

from trytond.i18n import gettext
from trytond.model import fields
from trytond.modules.ev_station.notification import notify, notify_summary
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

KIND = 'ev_helpdesk.ticket'
METRICS = ['first_response', 'resolution']
SLA_STATUSES = [
    (None, ""),
    ('on_track', "On Track"),
    ('near_breach', "Near Breach"),
    ('breached', "Breached"),
    ('paused', "Paused"),
    ('met', "Met"),
    ]


class Target(metaclass=PoolMeta):
    __name__ = 'ev.sla.target'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.kind.selection.append((KIND, "Helpdesk Ticket"))


def _by(records, key):
    groups = defaultdict(list)
    for record in records:
        groups[key(record)].append(record)
    return groups.items()


class Ticket(metaclass=PoolMeta):
    __name__ = 'ev.helpdesk.ticket'

    sla_clocks = fields.Function(fields.Many2Many(
            'ev.sla.clock', None, None, "SLA Clocks"), 'get_sla_clocks')
    sla_status = fields.Function(fields.Selection(SLA_STATUSES, "SLA",
            help="Breached: a target is spent. Near Breach: a clock runs "
            "past its warning. Paused: waiting on the customer."),
        'get_sla', searcher='search_sla_status')
    sla_due_at = fields.Function(fields.DateTime("SLA Due",
            help="When the next running target is spent."), 'get_sla')

    @classmethod
    def get_sla(cls, tickets, names):
        """The status and next due time of the tickets' clocks, read in one
        query"""
        Clock = Pool().get('ev.sla.clock')
        now = dt.datetime.utcnow()
        clock = Clock.__table__()
        cursor = Transaction().connection.cursor()
        states = defaultdict(set)
        due = {}
        ids = [t.id for t in tickets]
        for sub_ids in grouped_slice(ids, 1000):
            cursor.execute(*clock.select(clock.record_id, clock.state,
                    clock.warn_at, clock.due_at,
                    where=(clock.record_model == cls.__name__)
                    & fields.SQL_OPERATORS['in'](
                        clock.record_id, list(sub_ids))))
            for record_id, state, warn_at, due_at in cursor:
                if state == 'running' and warn_at and warn_at <= now:
                    state = 'near_breach'
                states[record_id].add(state)
                if state in {'running', 'near_breach'} and due_at:
                    due[record_id] = min(due_at, due.get(record_id, due_at))
        result = {'sla_status': {},
            'sla_due_at': {i: due.get(i) for i in ids}}
        for ticket_id in ids:
            status = None
            for state, name in [('breached', 'breached'),
                    ('near_breach', 'near_breach'), ('running', 'on_track'),
                    ('paused', 'paused'), ('met', 'met')]:
                if state in states[ticket_id]:
                    status = name
                    break
            result['sla_status'][ticket_id] = status
        return {n: result[n] for n in names}

    @classmethod
    def search_sla_status(cls, name, clause):
        """Near breach: a running clock past its warning; breached: a clock
        breached — each one indexed query on the clocks"""
        Clock = Pool().get('ev.sla.clock')
        clock = Clock.__table__()
        _, operator, value = clause[:3]
        values = value if isinstance(value, (list, tuple)) else [value]
        if operator not in {'=', 'in', '!=', 'not in'} or not set(
                values) <= {'near_breach', 'breached'}:
            return [('id', '=', -1)] if operator in {'=', 'in'} else []
        now = dt.datetime.utcnow()
        where = Literal(False)
        if 'near_breach' in values:
            where |= ((clock.state == 'running') & (clock.warn_at <= now))
        if 'breached' in values:
            where |= (clock.state == 'breached')
        query = clock.select(clock.record_id,
            where=(clock.record_model == cls.__name__) & where)
        if operator in {'=', 'in'}:
            return [('id', 'in', query)]
        return [('id', 'not in', query)]

    def get_sla_clocks(self, name):
        Clock = Pool().get('ev.sla.clock')
        return [c.id for metric in METRICS
            for c in Clock.get_clocks([self], metric)]

    @classmethod
    def copy(cls, tickets, default=None):
        default = default.copy() if default else {}
        default.setdefault('sla_clocks')
        return super().copy(tickets, default=default)

    @classmethod
    def on_modification(cls, mode, tickets, field_names=None):
        super().on_modification(mode, tickets, field_names=field_names)
        if mode == 'create':
            cls.sla_start(tickets)
            cls.sla_follow(tickets)
        elif mode == 'write':
            if 'priority' in field_names:
                cls.sla_retarget(tickets)
            if field_names & {'state', 'first_response_at'}:
                cls.sla_follow(tickets)

    @classmethod
    def sla_start(cls, tickets):
        "Start the clocks of the tickets, from their opening"
        pool = Pool()
        Clock = pool.get('ev.sla.clock')
        Target = pool.get('ev.sla.target')
        for (priority, opened_at), group in _by(
                tickets, lambda t: (t.priority, t.opened_at)):
            for metric in METRICS:
                target = Target.find(KIND, priority, metric)
                if target:
                    Clock.start_target(group, target, at=opened_at)

    @classmethod
    def sla_retarget(cls, tickets):
        "The targets of the tickets' (new) priority"
        pool = Pool()
        Clock = pool.get('ev.sla.clock')
        Target = pool.get('ev.sla.target')
        for priority, group in _by(tickets, lambda t: t.priority):
            for metric in METRICS:
                target = Target.find(KIND, priority, metric)
                if target:
                    Clock.retarget(group, metric, target.seconds,
                        warning_percent=target.warning_percent)

    @classmethod
    def sla_follow(cls, tickets):
        """Stop, pause or resume the clocks as the tickets' state says, at
        the times the tickets recorded"""
        Clock = Pool().get('ev.sla.clock')
        for at, group in _by([t for t in tickets if t.first_response_at],
                lambda t: t.first_response_at):
            Clock.stop(group, 'first_response', at=at)
        for (state, at), group in _by(tickets, lambda t: (t.state, {
                        'waiting': t.waiting_since,
                        'resolved': t.resolved_at,
                        'closed': t.resolved_at,
                        }.get(t.state))):
            if state == 'waiting':
                Clock.pause(group, 'resolution', at=at)
            elif state in {'resolved', 'closed'}:
                Clock.stop(group, 'resolution', at=at)
            else:
                # Back from waiting, or reopened after its resolution
                Clock.reopen(group, 'resolution')

    @classmethod
    def _sla_metric_string(cls, metric):
        Target = Pool().get('ev.sla.target')
        return dict(Target.metric.selection).get(metric, metric)

    @classmethod
    def sla_warned(cls, tickets, metric):
        "The engine's hook: the target nears; the supervisor is told"
        metric_string = cls._sla_metric_string(metric)
        due = _due_texts(tickets, metric)
        for supervisor, group in _by(tickets, lambda t: (
                    t.department and t.department.supervisor)):
            if not supervisor:
                continue
            _notify([supervisor], group, lambda t: gettext(
                    'ev_helpdesk.msg_sla_warned',
                    ticket=t.rec_name, metric=metric_string,
                    due=due[t.id]),
                gettext('ev_helpdesk.msg_sla_warned_many',
                    count=len(group), metric=metric_string))

    @classmethod
    def sla_breached(cls, tickets, metric):
        """The engine's hook: the target is spent; the supervisor and the
        agent are told, the Station Record keeps it"""
        metric_string = cls._sla_metric_string(metric)
        due = _due_texts(tickets, metric)
        texts = {t.id: gettext('ev_helpdesk.msg_sla_breached',
                ticket=t.rec_name, metric=metric_string,
                priority=t.priority_string, due=due[t.id])
            for t in tickets}
        # One notification batch per agent and supervisor
        for users, group in _by(tickets, lambda t: (t.agent,
                    t.department and t.department.supervisor)):
            _notify(list(users), group, lambda t: texts[t.id],
                gettext('ev_helpdesk.msg_sla_breached_many',
                    count=len(group), metric=metric_string))
        for ticket in tickets:
            if ticket.station:
                with without_check_access():
                    ticket.record('helpdesk_sla_breached', texts[ticket.id])


# More tickets than this for one user at once: one notification opens them
NOTIFY_EACH_MAX = 5


def _notify(users, tickets, label, summary):
    """A notification per ticket, or one for them all when a cron run finds
    many at once (after a pause of the cron, on a busy morning)"""
    if len(tickets) > NOTIFY_EACH_MAX:
        return notify_summary(users, tickets, summary)
    return notify(users, tickets, label)


def _due_texts(tickets, metric):
    """The due time of each ticket's clock, in its company's time zone, read
    in one query"""
    from zoneinfo import ZoneInfo
    Clock = Pool().get('ev.sla.clock')
    clock = Clock.__table__()
    cursor = Transaction().connection.cursor()
    due = {}
    ids = [t.id for t in tickets]
    for sub_ids in grouped_slice(ids, 1000):
        cursor.execute(*clock.select(clock.record_id, clock.due_at,
                where=(clock.record_model == 'ev.helpdesk.ticket')
                & (clock.metric == metric)
                & fields.SQL_OPERATORS['in'](clock.record_id, list(sub_ids))))
        due.update(cursor)
    texts, zones = {}, {}
    for ticket in tickets:
        due_at = due.get(ticket.id)
        if not due_at:
            texts[ticket.id] = ''
            continue
        due_at = due_at.replace(tzinfo=dt.timezone.utc)
        company = ticket.company
        if company.id not in zones:
            zones[company.id] = company.timezone
        if zones[company.id]:
            due_at = due_at.astimezone(ZoneInfo(zones[company.id]))
        texts[ticket.id] = due_at.strftime('%Y-%m-%d %H:%M')
    return texts
