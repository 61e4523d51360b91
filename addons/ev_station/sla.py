# This file is part of the EV operations suite.
"""The SLA engine: clocks that count business time against a target, warn
before the target, breach at it, and keep a history nobody rewrites.

Configuration (records, not code):
- `ev.business.calendar` (calendar.py): when the company works.
- `ev.sla.target`: for a kind of record (a selection other modules extend,
  e.g. 'ev_helpdesk.ticket'), a level (e.g. a priority code) and a metric
  (e.g. 'first_response', 'resolution'; a selection modules extend), the
  target in business time, the warning threshold (percent of the target)
  and the calendar. `Target.find(kind, level, metric)`.

Clocks (`ev.sla.clock`, one per record and metric), driven by the using
module; records may be of any model, `at` defaults to now (naive UTC, to
the second) and is what the tests inject:

    Clock.start(tickets, 'resolution', 8 * 3600, calendar, at=None,
        warning_percent=80)          # or Clock.start_target(tickets, target)
    Clock.pause(tickets, 'resolution', at=None)      # waiting on customer
    Clock.resume(tickets, 'resolution', at=None)
    Clock.retarget(tickets, 'resolution', 4 * 3600, at=None)  # priority
    Clock.stop(tickets, 'resolution', at=None)       # met or breached
    Clock.get_clocks(tickets, 'resolution')

Time paused does not count, in business seconds. A clock is due when its
business time since the start, less the pauses, reaches the target:
due_at = start + target + pauses (business arithmetic). A retarget keeps
the time already spent against the new target; when that is already more,
the clock is breached at once (its due_at stays the honest past moment).
breached_at is the moment the clock went over its target: its due_at, or
the retarget/resume that put it over. elapsed_seconds is the business time
counted against the target, written when the clock stops (reports read it
without the calendar).

The cron `ev.sla.clock|check_due` (every 5 minutes) claims in one indexed
query the running clocks whose warning or due time has passed (FOR UPDATE
SKIP LOCKED on PostgreSQL: concurrent runs never warn twice), marks them
warned or breached, writes the events and calls the owning model's hooks
when it defines them:

    @classmethod
    def sla_warned(cls, records, metric): ...
    @classmethod
    def sla_breached(cls, records, metric): ...

Every change writes an `ev.sla.event` (started, paused, resumed,
retargeted, warned, breached, met) with the due time of that moment;
events are evidence (ImmutableMixin). Clocks and events are written only
by the engine: users read them.
"""
import datetime as dt
import math
from collections import defaultdict

from sql import Literal, Null
from sql.conditionals import Case, Coalesce
from sql.functions import CurrentTimestamp

from trytond import backend
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .bulk import sql_update
from .immutable import ImmutableMixin

CLOCK_STATES = [
    ('running', "Running"),
    ('paused', "Paused"),
    ('met', "Met"),
    ('breached', "Breached"),
    ]
EVENT_KINDS = [
    ('started', "Started"),
    ('paused', "Paused"),
    ('resumed', "Resumed"),
    ('retargeted', "Retargeted"),
    ('warned', "Warned"),
    ('breached', "Breached"),
    ('met', "Met"),
    ]


def _now(at=None):
    "The moment of an operation: naive UTC, to the second"
    at = at or dt.datetime.utcnow()
    if at.tzinfo is not None:
        at = at.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return at.replace(microsecond=0)


class Clock(ModelSQL, ModelView):
    "The business time of a record against an SLA target"
    __name__ = 'ev.sla.clock'
    __string__ = "SLA Clock"
    _rec_name = 'record_model'

    record = fields.Function(
        fields.Reference("Record", selection='get_models'), 'get_record')
    record_model = fields.Char("Model", required=True, readonly=True)
    record_id = fields.Integer("Record ID", required=True, readonly=True)
    metric = fields.Selection('get_metrics', "Metric", required=True,
        readonly=True)
    calendar = fields.Many2One('ev.business.calendar', "Calendar",
        required=True, readonly=True, ondelete='RESTRICT')
    state = fields.Selection(CLOCK_STATES, "State", required=True,
        readonly=True, sort=False)
    started_at = fields.DateTime("Started At", required=True, readonly=True)
    target_seconds = fields.Integer("Target (business seconds)",
        required=True, readonly=True)
    warning_percent = fields.Integer("Warning at (%)", required=True,
        readonly=True)
    scheduled_at = fields.DateTime("Scheduled At", readonly=True,
        help="When the due time was last computed (start, resume, "
        "retarget): a clock is not breached before it.")
    paused = fields.Boolean("Paused", readonly=True)
    paused_since = fields.DateTime("Paused Since", readonly=True)
    paused_seconds = fields.Integer("Paused (business seconds)",
        required=True, readonly=True)
    warn_at = fields.DateTime("Warn At", readonly=True,
        states={'invisible': Eval('state') == 'paused'})
    due_at = fields.DateTime("Due At", readonly=True)
    warned = fields.Boolean("Warned", readonly=True)
    breached_at = fields.DateTime("Breached At", readonly=True)
    stopped_at = fields.DateTime("Stopped At", readonly=True)
    elapsed_seconds = fields.Integer("Elapsed (business seconds)",
        readonly=True,
        help="The business time counted against the target, set when the "
        "clock stops: what reports read without the calendar.")
    events = fields.One2Many('ev.sla.event', 'clock', "Events",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('record_metric_unique',
                Unique(t, t.record_model, t.record_id, t.metric),
                'ev_station.msg_sla_clock_unique'),
            ]
        cls._sql_indexes.update({
                # The cron's two conditions, on running clocks only
                Index(t, (t.due_at, Index.Range()),
                    where=t.state == 'running'),
                Index(t, (t.warn_at, Index.Range()),
                    where=((t.state == 'running')
                        & (t.warned == Literal(False)))),
                # The lists of records near or past their targets
                Index(t, (t.record_model, Index.Equality()),
                    (t.warn_at, Index.Range()),
                    where=t.state == 'running'),
                Index(t, (t.record_model, Index.Equality()),
                    (t.record_id, Index.Range()),
                    where=t.state == 'breached'),
                })
        cls._order = [('due_at', 'ASC NULLS LAST'), ('id', 'DESC')]

    @classmethod
    def __register__(cls, module):
        added = not cls.__table_handler__(module).column_exist(
            'elapsed_seconds')
        super().__register__(module)
        if not added:
            return
        # Migration: the clocks stopped before elapsed_seconds existed
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id,
                where=(table.stopped_at != Null)
                & (table.elapsed_seconds == Null)))
        for sub_ids in grouped_slice(
                [i for i, in cursor.fetchall()], 1000):
            for clock in cls.browse(sub_ids):
                cls.write([clock], {'elapsed_seconds': max(int(
                                clock.calendar.business_hours()
                                .business_seconds(clock.started_at,
                                    clock.stopped_at)
                                - clock.paused_seconds), 0)})

    # How many clocks the cron claims and settles at a time
    _check_batch = 1000

    @classmethod
    def default_paused_seconds(cls):
        return 0

    @classmethod
    def default_paused(cls):
        return False

    @classmethod
    def default_warned(cls):
        return False

    @classmethod
    def get_models(cls):
        return Pool().get('ir.model').get_name_items()

    @classmethod
    def get_metrics(cls):
        return Pool().get('ev.sla.target').metric.selection

    def get_record(self, name):
        return f'{self.record_model},{self.record_id}'

    def get_rec_name(self, name):
        return f'{self.record_model},{self.record_id} ({self.metric})'

    # --- the API ---------------------------------------------------------

    @classmethod
    def get_clocks(cls, records, metric):
        "The clocks of the records for the metric"
        clocks = []
        by_model = defaultdict(list)
        for record in records:
            by_model[record.__name__].append(record.id)
        with without_check_access():
            for model, ids in by_model.items():
                for sub_ids in grouped_slice(ids, 1000):
                    clocks.extend(cls.search([
                                ('record_model', '=', model),
                                ('record_id', 'in', list(sub_ids)),
                                ('metric', '=', metric),
                                ]))
        return clocks

    @classmethod
    @without_check_access
    def start(cls, records, metric, target_seconds, calendar, at=None,
            warning_percent=80):
        """Start a clock per record (the records that have one for the
        metric keep it); return the clocks of the records"""
        pool = Pool()
        Event = pool.get('ev.sla.event')
        at = _now(at)
        started = {(c.record_model, c.record_id)
            for c in cls.get_clocks(records, metric)}
        hours = calendar.business_hours()
        warn_at, due_at = cls._schedule(
            hours, at, target_seconds, warning_percent, 0)
        to_create = []
        for record in records:
            key = (record.__name__, record.id)
            if key in started:
                continue
            started.add(key)
            to_create.append({
                    'record_model': record.__name__,
                    'record_id': record.id,
                    'metric': metric,
                    'calendar': calendar.id,
                    'state': 'running',
                    'started_at': at,
                    'target_seconds': target_seconds,
                    'warning_percent': warning_percent,
                    'scheduled_at': at,
                    'warn_at': warn_at,
                    'due_at': due_at,
                    })
        clocks = cls.create(to_create)
        Event.record(clocks, 'started', at)
        return cls.get_clocks(records, metric)

    @classmethod
    def start_target(cls, records, target, at=None):
        "Start the clocks of the records on an ev.sla.target"
        return cls.start(records, target.metric, target.seconds,
            target.calendar, at=at, warning_percent=target.warning_percent)

    @classmethod
    @without_check_access
    def pause(cls, records, metric, at=None):
        "Pause the running clocks: the time until resume does not count"
        Event = Pool().get('ev.sla.event')
        at = _now(at)
        clocks = cls._settle(cls._in_state(records, metric, {'running'}), at)
        clocks = [c for c in clocks if c.state == 'running']
        cls.write(clocks, {
                'state': 'paused',
                'paused': True,
                'paused_since': at,
                'warn_at': None,
                'due_at': None,
                })
        clocks = cls.browse([c.id for c in clocks])
        Event.record(clocks, 'paused', at)
        return clocks

    @classmethod
    @without_check_access
    def resume(cls, records, metric, at=None):
        "Resume the paused clocks, their due time pushed by the pause"
        Event = Pool().get('ev.sla.event')
        at = _now(at)
        clocks = cls._in_state(records, metric, {'paused'})
        to_write = []
        for clock in clocks:
            hours = clock.calendar.business_hours()
            paused_seconds = clock.paused_seconds + int(
                hours.business_seconds(clock.paused_since, at))
            warn_at, due_at = cls._schedule(hours, clock.started_at,
                clock.target_seconds, clock.warning_percent, paused_seconds)
            to_write.extend([[clock], {
                        'state': 'running',
                        'paused': False,
                        'paused_since': None,
                        'paused_seconds': paused_seconds,
                        'scheduled_at': at,
                        'warn_at': warn_at,
                        'due_at': due_at,
                        }])
        if to_write:
            cls.write(*to_write)
        clocks = cls.browse([c.id for c in clocks])
        Event.record(clocks, 'resumed', at)
        return cls._settle(clocks, at)

    @classmethod
    @without_check_access
    def retarget(cls, records, metric, target_seconds, at=None,
            warning_percent=None):
        """Change the target of the running and paused clocks: the business
        time already spent counts against the new target"""
        Event = Pool().get('ev.sla.event')
        at = _now(at)
        clocks = cls._settle(
            cls._in_state(records, metric, {'running', 'paused'}), at)
        clocks = [c for c in clocks if c.state in {'running', 'paused'}]
        to_write = []
        for clock in clocks:
            percent = warning_percent or clock.warning_percent
            values = {
                'target_seconds': target_seconds,
                'warning_percent': percent,
                'scheduled_at': at,
                }
            if clock.state == 'running':
                warn_at, due_at = cls._schedule(
                    clock.calendar.business_hours(), clock.started_at,
                    target_seconds, percent, clock.paused_seconds)
                values.update(warn_at=warn_at, due_at=due_at,
                    # A later threshold warns again; a passed one has warned
                    warned=bool(clock.warned and warn_at <= at))
            else:
                values['warned'] = bool(
                    clock.warned and cls._threshold(target_seconds, percent)
                    <= clock._elapsed(at))
            to_write.extend([[clock], values])
        if to_write:
            cls.write(*to_write)
        clocks = cls.browse([c.id for c in clocks])
        Event.record(clocks, 'retargeted', at)
        return cls._settle(clocks, at)

    @classmethod
    @without_check_access
    def reopen(cls, records, metric, at=None):
        """Run again the clocks that were met (a ticket reopened): the time
        since they stopped counts as a pause"""
        at = _now(at)
        clocks = cls._in_state(records, metric, {'met'})
        for clock in clocks:
            cls.write([clock], {
                    'state': 'paused',
                    'paused': True,
                    'paused_since': min(clock.stopped_at, at),
                    'stopped_at': None,
                    'elapsed_seconds': None,
                    })
        return cls.resume(records, metric, at=at)

    @classmethod
    @without_check_access
    def stop(cls, records, metric, at=None):
        """Stop the clocks that run or are paused: met within the target,
        else breached"""
        Event = Pool().get('ev.sla.event')
        at = _now(at)
        clocks = cls._settle(cls._in_state(
                records, metric, {'running', 'paused', 'breached'}), at)
        met, to_write = [], []
        for clock in clocks:
            if clock.stopped_at:
                continue
            values = {'stopped_at': at, 'paused': False, 'paused_since': None}
            if clock.state != 'breached':
                values['state'] = 'met'
                met.append(clock)
            hours = clock.calendar.business_hours()
            paused_seconds = clock.paused_seconds
            if clock.paused_since:
                paused_seconds += int(
                    hours.business_seconds(clock.paused_since, at))
                values['paused_seconds'] = paused_seconds
            values['elapsed_seconds'] = max(int(
                    hours.business_seconds(clock.started_at, at)
                    - paused_seconds), 0)
            to_write.extend([[clock], values])
        if to_write:
            cls.write(*to_write)
        Event.record(met, 'met', at)
        return cls.browse([c.id for c in clocks])

    @classmethod
    def check_due(cls, now=None):
        """Cron: warn and breach the running clocks whose warning or due
        time has passed; return the clocks it changed"""
        transaction = Transaction()
        database = transaction.database
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        now = _now(now)
        where = cls._due_where(table, now)
        changed = []
        while True:
            if backend.name == 'sqlite':
                # Take SQLite's write lock first: a concurrent run waits and
                # then reads what this one committed.
                cursor.execute(*table.update(
                        [table.state], [table.state], where=where))
            query = table.select(table.id, table.record_model, table.metric,
                table.record_id, table.due_at, where=where,
                order_by=[table.id.asc], limit=cls._check_batch)
            if database.has_select_for():
                For = database.get_select_for_skip_locked()
                query.for_ = For('UPDATE')
            cursor.execute(*query)
            # Read without the ORM: thousands may be due at once
            warned, breached = [], []
            for id_, model, metric, record_id, due_at in cursor:
                owner = (id_, model, metric, record_id)
                (breached if due_at <= now else warned).append(owner)
            if not warned and not breached:
                # Not browse(): it checks each id against all the others
                return [cls(i) for i in changed]
            with without_check_access():
                cls._apply(warned, breached, now)
            changed.extend(o[0] for o in warned + breached)

    @classmethod
    def _due_where(cls, table, now):
        "The clocks check_due handles: served by the two partial indexes"
        return ((table.state == 'running')
            & ((table.due_at <= now)
                | ((table.warn_at <= now) & (table.warned == Literal(False)))))

    # --- the arithmetic and the bookkeeping ------------------------------

    @staticmethod
    def _threshold(target_seconds, warning_percent):
        return math.ceil(target_seconds * warning_percent / 100)

    @classmethod
    def _schedule(cls, hours, started_at, target_seconds, warning_percent,
            paused_seconds):
        "(warn_at, due_at) of a running clock"
        warn_at = hours.add_business_seconds(started_at,
            cls._threshold(target_seconds, warning_percent) + paused_seconds)
        due_at = hours.add_business_seconds(
            started_at, target_seconds + paused_seconds)
        return warn_at, due_at

    def _elapsed(self, at):
        "The business seconds counted against the target at `at`"
        hours = self.calendar.business_hours()
        end = self.paused_since or at
        return int(hours.business_seconds(self.started_at, end)
            - self.paused_seconds)

    @classmethod
    def _in_state(cls, records, metric, states):
        return [c for c in cls.get_clocks(records, metric)
            if c.state in states]

    @classmethod
    def _settle(cls, clocks, at):
        """Warn and breach the clocks whose threshold or target has passed
        at `at`; call the owners' hooks. Returns the clocks, read anew."""
        warned, breached = [], []
        for clock in clocks:
            if clock.state == 'running':
                over = clock.due_at <= at
                warn = not clock.warned and clock.warn_at <= at
            elif clock.state == 'paused':
                elapsed = clock._elapsed(at)
                over = elapsed >= clock.target_seconds
                warn = not clock.warned and elapsed >= cls._threshold(
                    clock.target_seconds, clock.warning_percent)
            else:
                continue
            # What the hooks need, read before the updates
            owner = (clock.id, clock.record_model, clock.metric,
                clock.record_id)
            if over:
                breached.append(owner)
            elif warn:
                warned.append(owner)
        cls._apply(warned, breached, at)
        return cls.browse([c.id for c in clocks])

    @classmethod
    def _apply(cls, warned, breached, at):
        """Warn and breach clocks given as (clock id, record model, metric,
        record id): set-based, the cron may settle thousands at once"""
        Event = Pool().get('ev.sla.event')
        table = cls.__table__()
        due = Coalesce(table.due_at, at)
        scheduled = Coalesce(table.scheduled_at, table.started_at)
        sql_update(cls, [o[0] for o in breached], {
                table.state: 'breached',
                table.warned: Literal(True),
                table.paused: Literal(False),
                table.paused_since: Null,
                # Not before the change that put it over its target
                table.breached_at: Case(
                    (due >= scheduled, due), else_=scheduled),
                })
        sql_update(cls, [o[0] for o in warned], {
                table.warned: Literal(True),
                })
        # A clock over its target is breached without a warning first
        Event.record([o[0] for o in warned], 'warned', at)
        Event.record([o[0] for o in breached], 'breached', at)
        cls._call_hooks(warned, 'sla_warned')
        cls._call_hooks(breached, 'sla_breached')

    @classmethod
    def _call_hooks(cls, owners, hook):
        "owners: (clock id, record model, metric, record id)"
        pool = Pool()
        groups = defaultdict(list)
        for _, model, metric, record_id in owners:
            groups[(model, metric)].append(record_id)
        for (model, metric), ids in sorted(groups.items()):
            try:
                Model = pool.get(model)
            except KeyError:
                continue
            if hasattr(Model, hook):
                getattr(Model, hook)(Model.browse(ids), metric)


class Event(ImmutableMixin, ModelSQL, ModelView):
    "A change of an SLA clock: the breach history"
    __name__ = 'ev.sla.event'
    __string__ = "SLA Event"

    clock = fields.Many2One('ev.sla.clock', "Clock", required=True,
        readonly=True, ondelete='RESTRICT')
    kind = fields.Selection(EVENT_KINDS, "Event", required=True,
        readonly=True, sort=False)
    at = fields.DateTime("At", required=True, readonly=True)
    due_at = fields.DateTime("Due At", readonly=True,
        help="The clock's due time after the event (none while paused).")
    target_seconds = fields.Integer("Target (business seconds)",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.clock, Index.Equality())))
        cls._order = [('at', 'ASC'), ('id', 'ASC')]

    @classmethod
    def record(cls, clocks, kind, at):
        """Write the event `kind` of the clocks (records or ids) as they are
        in the database now: one INSERT ... SELECT per thousand clocks (the
        cron may breach thousands at once)"""
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        Clock = Pool().get('ev.sla.clock')
        table = cls.__table__()
        clock = Clock.__table__()
        for sub_ids in grouped_slice([int(c) for c in clocks], 1000):
            cursor.execute(*table.insert([
                        table.create_uid, table.create_date, table.clock,
                        table.kind, table.at, table.due_at,
                        table.target_seconds],
                    clock.select(
                        Literal(transaction.user), CurrentTimestamp(),
                        clock.id, Literal(kind), Literal(at), clock.due_at,
                        clock.target_seconds,
                        where=fields.SQL_OPERATORS['in'](clock.id, sub_ids),
                        order_by=[clock.id.asc])))
