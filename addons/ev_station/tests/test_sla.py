# This file is part of the EV operations suite.
"""SLA clocks with a controlled clock (`at` / `now` given by the test).

The calendar is the suite's default: India (UTC+05:30), Monday to Saturday
09:00-18:00, India's public holidays closed. Every time is written in IST
and converted to the naive UTC Tryton stores (09:00 IST = 03:30 UTC)."""
import datetime as dt
import unittest
from unittest import mock

from trytond import backend
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import ModuleDBTestCase, as_user, create_station, create_user

H = 3600


def ist(*args):
    return dt.datetime(*args) - dt.timedelta(hours=5, minutes=30)


class HookRecorder:
    "Records the calls of the hooks a using module defines"

    def __init__(self):
        self.calls = []

    def hooks(self, Model):
        def hook(name):
            return classmethod(lambda cls, records, metric: self.calls.append(
                    (name, sorted(r.id for r in records), metric)))
        return mock.patch.multiple(Model, create=True,
            sla_warned=hook('warned'), sla_breached=hook('breached'))


class SLATestCase(ModuleDBTestCase):

    def calendar(self):
        return Pool().get('ev.business.calendar').get_default()

    def events(self, clock):
        Event = Pool().get('ev.sla.event')
        return [(e.kind, e.at, e.due_at) for e in Event.search(
                [('clock', '=', clock.id)], order=[('id', 'ASC')])]

    @with_transaction()
    def test_friday_evening_before_independence_day(self):
        """A ticket opened Fri 14 Aug 2026 17:00, the eve of Independence
        Day (Sat 15 Aug, closed like the Sunday after it), at priority High:
        first response in 2 h, resolution in 8 h of business time."""
        pool = Pool()
        Clock = pool.get('ev.sla.clock')
        Station = pool.get('ev.station')
        calendar = self.calendar()
        ticket = create_station()
        recorder = HookRecorder()
        opened = ist(2026, 8, 14, 17)

        with recorder.hooks(Station):
            response, = Clock.start(
                [ticket], 'first_response', 2 * H, calendar, at=opened)
            resolution, = Clock.start(
                [ticket], 'resolution', 8 * H, calendar, at=opened)
        # First response: 1 h Friday (17:00-18:00), Saturday a holiday,
        # Sunday closed, 1 h Monday 09:00-10:00 -> due Mon 17 Aug 10:00.
        # Warning at 80 % = 96 min: 60 min Friday + 36 min -> Mon 09:36.
        self.assertEqual(response.due_at, ist(2026, 8, 17, 10))
        self.assertEqual(response.warn_at, ist(2026, 8, 17, 9, 36))
        # Resolution: 1 h Friday + 7 h Monday -> Mon 16:00; warning at
        # 6 h 24 min: 1 h Friday + 5 h 24 min -> Mon 14:24.
        self.assertEqual(resolution.due_at, ist(2026, 8, 17, 16))
        self.assertEqual(resolution.warn_at, ist(2026, 8, 17, 14, 24))
        # Starting again changes nothing
        self.assertEqual(Clock.start([ticket], 'resolution', H, calendar,
                at=ist(2026, 8, 17, 9)), [resolution])
        self.assertEqual(Clock(resolution.id).target_seconds, 8 * H)

        with recorder.hooks(Station):
            # Monday 09:20: the agent answers; nothing is due yet
            self.assertEqual(Clock.check_due(now=ist(2026, 8, 17, 9, 20)), [])
            response, = Clock.stop(
                [ticket], 'first_response', at=ist(2026, 8, 17, 9, 20))
            self.assertEqual(response.state, 'met')
            self.assertFalse(response.warned)

            # Mon 11:00: Waiting on Customer. Spent: 1 h Fri + 2 h Mon = 3 h
            resolution, = Clock.pause(
                [ticket], 'resolution', at=ist(2026, 8, 17, 11))
            self.assertEqual(resolution.state, 'paused')
            self.assertIsNone(resolution.due_at)
            self.assertEqual(resolution._elapsed(ist(2026, 8, 17, 17)), 3 * H)

            # Mon 15:00, still waiting: the customer calls back, the
            # priority is raised to Critical: 4 h. The 3 h spent count
            # against it: below the warning (80 % = 3 h 12 min).
            resolution, = Clock.retarget(
                [ticket], 'resolution', 4 * H, at=ist(2026, 8, 17, 15))
            self.assertEqual(
                (resolution.state, resolution.target_seconds,
                    resolution.warned), ('paused', 4 * H, False))

            # Mon 16:30, past the first due time: a paused clock is not due
            self.assertEqual(Clock.check_due(now=ist(2026, 8, 17, 16, 30)), [])

            # Tue 18 Aug 10:30: the customer answers. Paused: Mon 11:00-
            # 18:00 (7 h) + Tue 09:00-10:30 (1 h 30) = 8 h 30 of business
            # time. Left: 4 h - 3 h = 1 h -> due Tue 11:30 (= Fri 17:00 +
            # 4 h + 8 h 30: 1 h Fri, 9 h Mon, 2 h 30 Tue); warning left:
            # 3 h 12 min - 3 h = 12 min -> Tue 10:42.
            resolution, = Clock.resume(
                [ticket], 'resolution', at=ist(2026, 8, 18, 10, 30))
        self.assertEqual(resolution.paused_seconds, 8 * H + 1800)
        self.assertEqual(resolution.due_at, ist(2026, 8, 18, 11, 30))
        self.assertEqual(resolution.warn_at, ist(2026, 8, 18, 10, 42))
        self.assertEqual(recorder.calls, [])

        with recorder.hooks(Station):
            # The cron, a second before the warning: nothing
            self.assertEqual(
                Clock.check_due(now=ist(2026, 8, 18, 10, 41, 59)), [])
            # At 10:45 it warns, once, however often it runs
            self.assertEqual(Clock.check_due(now=ist(2026, 8, 18, 10, 45)),
                [resolution])
            self.assertEqual(Clock.check_due(now=ist(2026, 8, 18, 10, 45)), [])
            self.assertEqual(Clock.check_due(now=ist(2026, 8, 18, 11)), [])
            self.assertEqual(
                Clock.check_due(now=ist(2026, 8, 18, 11, 29, 59)), [])
            # At 11:30 exactly the target is spent: breached, once
            self.assertEqual(Clock.check_due(now=ist(2026, 8, 18, 11, 30)),
                [resolution])
            self.assertEqual(Clock.check_due(now=ist(2026, 8, 18, 11, 35)), [])
        resolution = Clock(resolution.id)
        self.assertEqual(
            (resolution.state, resolution.warned, resolution.breached_at),
            ('breached', True, ist(2026, 8, 18, 11, 30)))
        self.assertEqual(recorder.calls, [
                ('warned', [ticket.id], 'resolution'),
                ('breached', [ticket.id], 'resolution'),
                ])

        # Resolved at 12:00: the clock stops, still breached
        resolution, = Clock.stop(
            [ticket], 'resolution', at=ist(2026, 8, 18, 12))
        self.assertEqual((resolution.state, resolution.stopped_at),
            ('breached', ist(2026, 8, 18, 12)))
        due = ist(2026, 8, 18, 11, 30)
        self.assertEqual(self.events(resolution), [
                ('started', opened, ist(2026, 8, 17, 16)),
                ('paused', ist(2026, 8, 17, 11), None),
                ('retargeted', ist(2026, 8, 17, 15), None),
                ('resumed', ist(2026, 8, 18, 10, 30), due),
                ('warned', ist(2026, 8, 18, 10, 45), due),
                ('breached', ist(2026, 8, 18, 11, 30), due),
                ])
        self.assertEqual(self.events(response), [
                ('started', opened, ist(2026, 8, 17, 10)),
                ('met', ist(2026, 8, 17, 9, 20), ist(2026, 8, 17, 10)),
                ])

    @with_transaction()
    def test_retarget_running(self):
        """A priority change on a running clock: the time spent counts
        against the new target"""
        pool = Pool()
        Clock = pool.get('ev.sla.clock')
        Station = pool.get('ev.station')
        calendar = self.calendar()
        lowered, raised = create_station(), create_station()
        recorder = HookRecorder()
        # Tue 11 Aug 09:00, 4 h: due 13:00, warning at 3 h 12 -> 12:12
        Clock.start([lowered, raised], 'resolution', 4 * H, calendar,
            at=ist(2026, 8, 11, 9))
        with recorder.hooks(Station):
            # 12:30: warned (12:12 passed)
            self.assertEqual(len(Clock.check_due(
                        now=ist(2026, 8, 11, 12, 30))), 2)
            # 12:40, lowered to 8 h: due 17:00, warning again at 6 h 24
            # -> 15:24
            clock, = Clock.retarget([lowered], 'resolution', 8 * H,
                at=ist(2026, 8, 11, 12, 40))
            self.assertEqual(
                (clock.due_at, clock.warn_at, clock.warned, clock.state),
                (ist(2026, 8, 11, 17), ist(2026, 8, 11, 15, 24), False,
                    'running'))
            # 12:40, raised to 2 h: 3 h 40 spent, over the target since
            # 11:00 -> breached at once; it went over when it was raised.
            clock, = Clock.retarget([raised], 'resolution', 2 * H,
                at=ist(2026, 8, 11, 12, 40))
            self.assertEqual(
                (clock.due_at, clock.state, clock.breached_at),
                (ist(2026, 8, 11, 11), 'breached', ist(2026, 8, 11, 12, 40)))
            # A breached clock is not retargeted again
            self.assertEqual(Clock.retarget([raised], 'resolution', 8 * H,
                    at=ist(2026, 8, 11, 12, 45)), [])
        self.assertEqual(recorder.calls, [
                ('warned', sorted([lowered.id, raised.id]), 'resolution'),
                ('breached', [raised.id], 'resolution'),
                ])

    @with_transaction()
    def test_pause_after_due_breaches(self):
        "Pausing a clock already past its due time breaches it first"
        Clock = Pool().get('ev.sla.clock')
        station = create_station()
        Clock.start([station], 'resolution', H, self.calendar(),
            at=ist(2026, 8, 11, 9))
        self.assertEqual(Clock.pause([station], 'resolution',
                at=ist(2026, 8, 11, 11)), [])
        clock, = Clock.get_clocks([station], 'resolution')
        self.assertEqual((clock.state, clock.breached_at),
            ('breached', ist(2026, 8, 11, 10)))
        # Stopped late: stays breached, never met
        clock, = Clock.stop([station], 'resolution', at=ist(2026, 8, 11, 12))
        self.assertEqual(clock.state, 'breached')
        self.assertEqual([e[0] for e in self.events(clock)],
            ['started', 'breached'])

    @with_transaction()
    def test_target_configuration(self):
        pool = Pool()
        Target = pool.get('ev.sla.target')
        Clock = pool.get('ev.sla.clock')
        target, = Target.create([{
                    'kind': 'generic', 'level': 'high',
                    'metric': 'resolution', 'duration': dt.timedelta(hours=8),
                    }])
        self.assertEqual((target.warning_percent, target.calendar),
            (80, self.calendar()))
        self.assertEqual(Target.find('generic', 'high', 'resolution'), target)
        self.assertIsNone(Target.find('generic', 'low', 'resolution'))
        station = create_station()
        clock, = Clock.start_target([station], target, at=ist(2026, 8, 14, 17))
        self.assertEqual(clock.due_at, ist(2026, 8, 17, 16))
        with self.assertRaises(UserError) as cm:
            Target.create([{
                        'kind': 'generic', 'level': 'high',
                        'metric': 'resolution',
                        'duration': dt.timedelta(hours=4),
                        }])
        self.assertEqual(cm.exception.message,
            "There is already an SLA target for this kind, level and metric.")

    @with_transaction()
    def test_events_immutable(self):
        pool = Pool()
        Clock = pool.get('ev.sla.clock')
        Event = pool.get('ev.sla.event')
        station = create_station()
        clock, = Clock.start([station], 'resolution', H, self.calendar(),
            at=ist(2026, 8, 11, 9))
        event, = clock.events
        message = ('Records of "SLA Event" are evidence: they cannot be '
            'edited or deleted. Record a correcting entry instead.')
        with self.assertRaises(AccessError) as cm:
            Event.write([event], {'at': ist(2026, 8, 11, 8)})
        self.assertEqual(cm.exception.message, message)
        with self.assertRaises(AccessError) as cm:
            Event.delete([event])
        self.assertEqual(cm.exception.message, message)

    @with_transaction()
    def test_users_cannot_write_clocks_targets_events(self):
        "Support and the EV administrator try the doors; only targets open"
        pool = Pool()
        Clock = pool.get('ev.sla.clock')
        Event = pool.get('ev.sla.event')
        Target = pool.get('ev.sla.target')
        Calendar = pool.get('ev.business.calendar')
        station = create_station()
        clock, = Clock.start([station], 'resolution', H, self.calendar(),
            at=ist(2026, 8, 11, 9))
        event, = clock.events
        target, = Target.create([{
                    'kind': 'generic', 'level': 'high',
                    'metric': 'resolution', 'duration': dt.timedelta(hours=8),
                    }])
        support = create_user('support-sla', 'group_support')
        admin = create_user('admin-sla', 'group_ev_admin')
        for user in [support, admin]:
            with as_user(user):
                # Readable by all
                self.assertEqual(Clock.search([]), [clock])
                self.assertEqual(Event.search([]), [event])
                self.assertEqual(Target.search([]), [target])
                for model, call in [
                        ("SLA Clock", lambda: Clock.write([Clock(clock.id)],
                            {'due_at': ist(2026, 9, 1, 9)})),
                        ("SLA Clock", lambda: Clock.create([{
                                    'record_model': 'ev.station',
                                    'record_id': station.id,
                                    'metric': 'first_response',
                                    'calendar': self.calendar().id,
                                    'state': 'running',
                                    'started_at': ist(2026, 8, 11, 9),
                                    'target_seconds': H,
                                    'warning_percent': 80}])),
                        ("SLA Clock", lambda: Clock.delete([Clock(clock.id)])),
                        ("SLA Event", lambda: Event.create([{
                                        'clock': clock.id, 'kind': 'met',
                                        'at': ist(2026, 8, 11, 9)}])),
                        ("SLA Event", lambda: Event.write([Event(event.id)],
                            {'kind': 'met'})),
                        ]:
                    with self.assertRaises(AccessError) as cm:
                        call()
                    self.assertEqual(cm.exception.message,
                        f'You are not allowed to access "{model}".')
            with as_user(user):
                calls = [
                    ("SLA Target", lambda: Target.write([Target(target.id)],
                        {'duration': dt.timedelta(hours=100)})),
                    ("Business Calendar", lambda: Calendar.write(
                            [self.calendar()], {'holiday_country': None})),
                    ]
                for model, call in calls:
                    if user == support:
                        with self.assertRaises(AccessError) as cm:
                            call()
                        self.assertEqual(cm.exception.message,
                            f'You are not allowed to access "{model}".')
                    else:
                        call()
        self.assertEqual(Clock(clock.id).due_at, ist(2026, 8, 11, 10))
        self.assertEqual(Target(target.id).duration, dt.timedelta(hours=100))

    @with_transaction()
    def test_calendar_validation(self):
        pool = Pool()
        Calendar = pool.get('ev.business.calendar')
        calendar = self.calendar()
        self.assertEqual(calendar.timezone, 'Asia/Kolkata')
        self.assertEqual(sorted((h.weekday, h.start, h.end)
                for h in calendar.hours),
            [(str(d), dt.time(9), dt.time(18)) for d in range(6)])
        # Each try on a calendar of its own: a failed write is not undone
        # before the test's transaction ends

        def create(**values):
            Calendar.create([{'name': "Try", 'timezone': 'Asia/Kolkata',
                        **values}])
        with self.assertRaises(ValidationError) as cm:
            create(holiday_country='XX')
        self.assertEqual(cm.exception.message,
            'The public holidays of "XX" (calendar "Try") are not known: '
            'give the ISO code of a country the holidays package supports, '
            'e.g. IN.')
        with self.assertRaises(ValidationError) as cm:
            create(holiday_country='IN', holiday_subdivision='ZZ')
        self.assertEqual(cm.exception.message,
            '"ZZ" is not a subdivision of IN known to the holidays package '
            '(calendar "Try").')
        with self.assertRaises(ValidationError) as cm:
            create(hours=[('create', [{'weekday': '6', 'start': dt.time(18),
                                'end': dt.time(9)}])])
        self.assertEqual(cm.exception.message,
            'Working hours must end after they start (18:00 to 09:00); '
            '00:00 as the end means midnight.')
        # Karnataka's own holidays, and a closure, reach the arithmetic
        Calendar.write([calendar], {
                'holiday_subdivision': 'KA',
                'days': [('create', [{
                                'date': dt.date(2026, 8, 12),
                                'kind': 'closed'}])]})
        hours = calendar.business_hours()
        self.assertEqual(hours.subdivision, 'KA')
        self.assertEqual(hours.add_business_seconds(
                ist(2026, 8, 11, 17), 2 * H), ist(2026, 8, 13, 10))


@unittest.skipUnless(backend.name == 'postgresql',
    "row locks (FOR UPDATE SKIP LOCKED) and the planner are PostgreSQL's")
class SLAPostgreSQLTestCase(ModuleDBTestCase):
    "Two crons at once, and the cron's query on many clocks"

    def test_two_crons_at_once(self):
        """While a cron holds the due clocks, a second one skips them; run
        again after the first commits, it finds nothing: one event each"""
        from trytond.tests.test_tryton import DB_NAME, USER
        with Transaction().start(DB_NAME, USER) as transaction:
            pool = Pool()
            Clock = pool.get('ev.sla.clock')
            calendar = pool.get('ev.business.calendar').get_default()
            stations = [create_station() for _ in range(3)]
            # Tue 11 Aug 09:00 + 1 h: due 10:00
            Clock.start(stations, 'resolution', H, calendar,
                at=ist(2026, 8, 11, 9))
            transaction.commit()
        now = ist(2026, 8, 11, 10, 5)
        with Transaction().start(DB_NAME, USER) as first:
            Clock = Pool().get('ev.sla.clock')
            self.assertEqual(len(Clock.check_due(now=now)), 3)
            with Transaction().new_transaction() as second:
                self.assertEqual(Clock.check_due(now=now), [])
                second.commit()
            first.commit()
        with Transaction().start(DB_NAME, USER) as transaction:
            pool = Pool()
            Clock = pool.get('ev.sla.clock')
            Event = pool.get('ev.sla.event')
            self.assertEqual(Clock.check_due(now=now), [])
            self.assertEqual(
                Event.search_count([('kind', '=', 'breached')]), 3)
            self.assertEqual(
                Event.search_count([('kind', '=', 'warned')]), 0)
            transaction.rollback()

    @with_transaction()
    def test_cron_query_uses_the_indexes(self):
        "200,000 clocks, a few due: the cron reads an index, never the table"
        pool = Pool()
        Clock = pool.get('ev.sla.clock')
        calendar = pool.get('ev.business.calendar').get_default()
        cursor = Transaction().connection.cursor()
        # Running clocks due from 1 Sep onwards, a minute apart; a tenth of
        # them stopped long ago
        cursor.execute(
            'INSERT INTO ev_sla_clock (record_model, record_id, metric, '
            'calendar, state, started_at, target_seconds, warning_percent, '
            'paused, paused_seconds, warned, warn_at, due_at) '
            "SELECT 'ev.test', n, 'resolution', %s, "
            "CASE WHEN n %% 10 = 0 THEN 'met' ELSE 'running' END, "
            "TIMESTAMP '2026-08-01', 3600, 80, false, 0, false, "
            "TIMESTAMP '2026-09-01' + n * INTERVAL '1 minute', "
            "TIMESTAMP '2026-09-01' + n * INTERVAL '1 minute' "
            'FROM generate_series(1, 200000) AS n', (calendar.id,))
        cursor.execute('ANALYZE ev_sla_clock')
        table = Clock.__table__()
        query = table.select(table.id,
            where=Clock._due_where(table, dt.datetime(2026, 9, 1, 0, 10)))
        sql, params = tuple(query)
        cursor.execute('EXPLAIN ' + sql, params)
        plan = '\n'.join(r for r, in cursor)
        # One partial index per condition, or-ed: a BitmapOr of two scans
        self.assertNotIn('Seq Scan', plan)
        self.assertIn('BitmapOr', plan)
        self.assertIn('Index Cond: (due_at <=', plan)
        self.assertIn('Index Cond: (warn_at <=', plan)
        self.assertEqual(len(Clock.check_due(
                    now=dt.datetime(2026, 9, 1, 0, 10))), 9)
