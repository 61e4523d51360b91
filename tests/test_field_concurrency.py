# This file is part of the EV operations suite.
"""Two dispatchers book the same team at once: PostgreSQL decides.

Job.validate refuses an overlapping slot of a team with a clear message, but
it only sees committed rows: two transactions booking the same team at the
same time both pass it. The exclusion constraint team_no_overlap (btree_gist)
is what keeps a team out of two places at once. These tests run two real
transactions in two threads, both past the pre-check on their snapshot
before either inserts, and both inserted (or blocked by the other) before
either commits.

Bookings of a team wait for each other on an advisory lock of the team
(Job.lock_teams): without it, two INSERTs of overlapping slots can each
wait for the other's row in the exclusion check and end in a deadlock
instead of the constraint's message.

PostgreSQL only: on SQLite Tryton checks the constraint under a table lock,
one transaction at a time. The tests use a database of their own
(DB_NAME + '_conc'), with ev_field activated, dropped at the end.
"""
import datetime as dt
import os
import subprocess
import threading
import time
import uuid

import pytest

URI = os.environ.get('TRYTOND_DATABASE__URI', '')
pytestmark = pytest.mark.skipif(
    not URI.startswith('postgresql'),
    reason="concurrent booking needs PostgreSQL (the exclusion constraint "
    "team_no_overlap); TRYTOND_DATABASE__URI is not postgresql://")

MODULE = 'ev_field'
USER = 1  # admin
BOOKED_STATES = ['scheduled', 'confirmed', 'done', 'commissioned', 'closed']
TIMEOUT = 30  # seconds a thread waits for the other


def cache_dump(module=MODULE):
    """The DB_CACHE dump of a database with the module activated, as
    activate_module(module) keeps it (./ev test sets DB_CACHE)"""
    from trytond.tests import test_tryton
    if not test_tryton.DB_CACHE or test_tryton.DB_CACHE.startswith(
            'postgresql://'):
        return None
    return test_tryton._db_cache_file(test_tryton.DB_CACHE, module)


def pg_tool(*args):
    from trytond.tests import test_tryton
    options, env = test_tryton._pg_options()
    return not subprocess.call([args[0], *options, *args[1:]], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def activate(name, module=MODULE):
    "A fresh database `name` with the module, as activate_module makes one"
    from trytond import backend
    from trytond.pool import Pool
    from trytond.tests.test_tryton import create_db, db_exist, drop_db
    from trytond.transaction import Transaction
    from trytond.tests import test_tryton
    cache = test_tryton.DB_CACHE or ''
    if cache.startswith('postgresql://') and test_tryton.restore_db_cache(
            module):
        # The module's template database (./ev test), built if missing
        template = test_tryton._db_cache_file(cache, module)[len(cache) + 1:]
        with Transaction().start(
                None, 0, close=True, autocommit=True) as transaction:
            transaction.database.create(transaction.connection, name, template)
        # The template was restored into DB_NAME to be sure it is there
        test_tryton.drop_db()
        backend.Database._extensions.pop(name, None)
        Pool(name).init()
        return
    dump = cache_dump(module)
    if dump and os.path.exists(dump):
        with Transaction().start(
                None, 0, close=True, autocommit=True) as transaction:
            transaction.database.create(transaction.connection, name)
        if pg_tool('pg_restore', '-d', name, dump):
            Pool(name).init()
            return
        drop_db(name)
    create_db(name)
    with Transaction().start(name, USER, close=True) as transaction:
        pool = Pool()
        Module = pool.get('ir.module')
        Module.activate(Module.search([('name', '=', module)]))
        transaction.commit()
        ActivateUpgrade = pool.get('ir.module.activate_upgrade',
            type='wizard')
        instance_id, _, _ = ActivateUpgrade.create()
        transaction.commit()
        ActivateUpgrade(instance_id).transition_upgrade()
        ActivateUpgrade.delete(instance_id)
        transaction.commit()
    # The activation asked whether btree_gist is there from another
    # connection before its own CREATE EXTENSION was committed; a server
    # started afterwards asks again, and so do these tests.
    backend.Database._extensions.pop(name, None)
    if dump and db_exist(name):
        pg_tool('pg_dump', '-f', dump, '-F', 'd', name)


@pytest.fixture(scope='module')
def world():
    "The database, a company, a lead and two installation teams"
    from trytond.i18n import gettext
    from trytond.modules.company.tests import create_company
    from trytond.pool import Pool
    from trytond.tests.test_tryton import db_exist, drop_db
    from trytond.transaction import Transaction

    name = (os.environ.get('DB_NAME') or f'test_{os.getpid()}') + '_conc'
    if db_exist(name):
        drop_db(name)
    activate(name)
    try:
        with Transaction().start(name, USER) as transaction:
            pool = Pool()
            User = pool.get('res.user')
            Party = pool.get('party.party')
            Lead = pool.get('sale.opportunity')
            Team = pool.get('ev.field.team')
            company = create_company()
            User.write([User(USER)], {
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    })
            with transaction.set_context(company=company.id):
                customer = Party(name="Meera Iyer")
                customer.save()
                lead = Lead(party=customer)
                lead.save()
                teams = Team.create([{
                            'name': f"Team {code}", 'code': code,
                            'company': company.id,
                            'survey': True, 'installation': True,
                            'zones': [('create', [{'pattern': '5600*'}])],
                            'saturday': True, 'sunday': True,
                            } for code in ['CONC-A', 'CONC-B']])
                messages = {
                    'double_booked': gettext(
                        'ev_field.msg_job_team_double_booked'),
                    }
            transaction.commit()
            world = {
                'database': name,
                'company': company.id,
                'lead': lead.id,
                'teams': [t.id for t in teams],
                'messages': messages,
                }
        yield world
    finally:
        drop_db(name)


def test_exclusion_constraint_exists(world):
    "Activating ev_field creates team_no_overlap in the database"
    from trytond.transaction import Transaction
    with Transaction().start(world['database'], USER, readonly=True) as t:
        cursor = t.connection.cursor()
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conname = 'ev_field_job_team_no_overlap'")
        definitions = [d for d, in cursor]
    assert len(definitions) == 1, "no exclusion constraint team_no_overlap"
    assert definitions[0].startswith('EXCLUDE USING gist'), definitions


def job_values(world, team, day, start_hour, end_hour):
    "An installation scheduled on `day` (UTC) from start to end hour"
    start = dt.datetime.combine(day, dt.time(start_hour))
    return {
        'number': f'CONC-{uuid.uuid4().hex[:10]}',
        'kind': 'installation',
        'company': world['company'],
        'lead': world['lead'],
        'team': team,
        'postal_code': '560001',
        'slot_start': start,
        'slot_end': start + dt.timedelta(hours=end_hour - start_hour),
        'state': 'scheduled',
        }


def race(world, bookings, waits=None):
    """Create each of the two bookings in a transaction and a thread of its
    own; return their outcomes: 'committed' or the exception raised.
    `waits` (a dict) gets, per booking seen blocked, the types of the locks
    it waited for (pg_locks.locktype).

    Both run the pre-check of Job.validate on their snapshot before either
    inserts (a barrier), and neither commits before the other has inserted
    or is blocked in its INSERT by the first one's uncommitted row."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    barrier = threading.Barrier(len(bookings), timeout=TIMEOUT)
    inserted = [threading.Event() for _ in bookings]
    pids = [None] * len(bookings)
    outcomes = [None] * len(bookings)
    prechecked = [False] * len(bookings)

    def wait_for_other(cursor, i):
        other = 1 - i
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if inserted[other].is_set() or outcomes[other] is not None:
                return
            # pg_blocking_pids is live, not the transaction's snapshot
            cursor.execute('SELECT %s = ANY(pg_blocking_pids(%s))',
                (pids[i], pids[other]))
            if cursor.fetchone()[0]:
                if waits is not None:
                    cursor.execute('SELECT locktype FROM pg_locks '
                        'WHERE pid = %s AND NOT granted', (pids[other],))
                    waits[other] = sorted(t for t, in cursor)
                return
            time.sleep(0.01)
        raise AssertionError(
            f"booking {other} neither inserted nor waited for booking {i}")

    def book(i, values):
        try:
            with Transaction().start(world['database'], USER,
                    context={'company': world['company']}) as transaction:
                pool = Pool()
                Job = pool.get('ev.field.job')
                Team = pool.get('ev.field.team')
                cursor = transaction.connection.cursor()
                cursor.execute('SELECT pg_backend_pid()')
                pids[i], = cursor.fetchone()
                # The pre-check passes: nothing is booked in the slot yet
                Job(**dict(values, team=Team(values['team']))
                    ).check_overlap()
                prechecked[i] = True
                barrier.wait()
                Job.create([values])
                inserted[i].set()
                wait_for_other(cursor, i)
                transaction.commit()
            outcomes[i] = 'committed'
        except Exception as exception:
            outcomes[i] = exception
            barrier.abort()

    threads = [threading.Thread(target=book, args=(i, values), daemon=True)
        for i, values in enumerate(bookings)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(2 * TIMEOUT + 10)
        assert not thread.is_alive(), "a booking thread is stuck"
    assert all(prechecked), f"a pre-check failed: {outcomes}"
    return outcomes


def booked(world, team, start, end):
    "Numbers of the jobs holding `team` between start and end"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(world['database'], USER, readonly=True):
        Job = Pool().get('ev.field.job')
        return sorted(j.number for j in Job.search([
                    ('team', '=', team),
                    ('state', 'in', BOOKED_STATES),
                    ('slot_start', '<', end),
                    ('slot_end', '>', start),
                    ]))


def is_double_booking(exception, world):
    "The exclusion constraint (raw or as Tryton words it) or the pre-check"
    from psycopg.errors import ExclusionViolation

    from trytond.model.modelsql import SQLConstraintError
    from trytond.modules.ev_field.exceptions import FieldJobError
    cause = exception.__cause__ or exception.__context__
    if isinstance(exception, SQLConstraintError):
        return (exception.message == world['messages']['double_booked']
            and isinstance(cause, ExclusionViolation)
            and 'team_no_overlap' in str(cause))
    if isinstance(exception, ExclusionViolation):
        return 'team_no_overlap' in str(exception)
    if isinstance(exception, FieldJobError):
        return 'is already booked for job' in exception.message
    return False


def test_same_team_overlapping_slots_one_booking_wins(world):
    "Same team, overlapping slots at the same time: exactly one commits"
    team, _ = world['teams']
    day = dt.date(2031, 3, 3)
    first = job_values(world, team, day, 10, 12)
    second = job_values(world, team, day, 11, 13)

    waits = {}
    outcomes = race(world, [first, second], waits)

    committed = [i for i, o in enumerate(outcomes) if o == 'committed']
    assert len(committed) == 1, outcomes
    loser, = [o for o in outcomes if o != 'committed']
    assert is_double_booking(loser, world), repr(loser)
    # The loser waited on the team's lock, before its INSERT: in the
    # exclusion check ('transactionid') two inserts can deadlock
    assert waits == {1 - committed[0]: ['advisory']}, waits
    winner = [first, second][committed[0]]
    start, end = first['slot_start'], second['slot_end']
    assert booked(world, team, start, end) == [winner['number']]


def test_same_team_adjacent_slots_both_booked(world):
    "Same team, one slot ending when the other starts: both commit"
    team, _ = world['teams']
    day = dt.date(2031, 3, 4)
    first = job_values(world, team, day, 10, 12)
    second = job_values(world, team, day, 12, 14)

    outcomes = race(world, [first, second])

    assert outcomes == ['committed', 'committed'], outcomes
    assert booked(world, team, first['slot_start'], second['slot_end']) \
        == sorted([first['number'], second['number']])


def test_two_teams_same_slot_both_booked(world):
    "Two teams in the same slot at the same time: both commit"
    team_a, team_b = world['teams']
    day = dt.date(2031, 3, 5)
    first = job_values(world, team_a, day, 10, 12)
    second = job_values(world, team_b, day, 10, 12)

    outcomes = race(world, [first, second])

    assert outcomes == ['committed', 'committed'], outcomes
    start, end = first['slot_start'], first['slot_end']
    assert booked(world, team_a, start, end) == [first['number']]
    assert booked(world, team_b, start, end) == [second['number']]
