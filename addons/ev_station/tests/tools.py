# This file is part of the EV operations suite.
"""Helpers shared by the tests of ev_station and of the modules built on it.

`SMTPServer` is the one mail catcher of the suite's tests and benchmarks;
importing it does not load Tryton's test framework (trytond.tests.test_tryton
is imported where a database test needs it), so that scripts use it too."""
import contextlib
import datetime
import socket
import threading

import unittest

from aiosmtpd.controller import Controller

from trytond.pool import Pool
from trytond.transaction import Transaction


class ModuleDBTestCase(unittest.TestCase):
    "A test case on a fresh database with `module` activated"
    module = 'ev_station'

    @classmethod
    def setUpClass(cls):
        from trytond.tests.test_tryton import activate_module, drop_db
        drop_db()
        activate_module(cls.module)

    @classmethod
    def tearDownClass(cls):
        from trytond.tests.test_tryton import drop_db
        drop_db()


def free_port():
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class SMTPRecorder:
    "aiosmtpd handler keeping the messages it receives"

    def __init__(self):
        self.messages = []
        self.received = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        self.received.set()
        return '250 Message accepted for delivery'


class SMTPServer:
    "A real SMTP server on a loopback port, started and stopped at will"

    def __init__(self, port=None):
        self.port = port or free_port()
        self.handler = SMTPRecorder()
        self.controller = None

    @property
    def uri(self):
        return f'smtp://127.0.0.1:{self.port}'

    def start(self):
        self.controller = Controller(
            self.handler, hostname='127.0.0.1', port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self):
        return self.handler.messages

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def create_customer(name="Meera Iyer", email='meera@example.com', lang=None):
    Party = Pool().get('party.party')
    mechanisms = []
    if email:
        mechanisms.append({'type': 'email', 'value': email})
    party = Party(name=name, contact_mechanisms=mechanisms, lang=lang)
    party.save()
    return party


def create_station(customer=None, **values):
    Station = Pool().get('ev.station')
    station = Station(customer=customer or create_customer(), **values)
    station.save()
    return station


def create_user(login, *group_xml_ids, email=None):
    pool = Pool()
    User = pool.get('res.user')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    user = User(
        login=login, name=login.title(), email=email,
        groups=[Group(ModelData.get_id('ev_station', g))
            for g in group_xml_ids])
    user.save()
    return user


@contextlib.contextmanager
def as_user(user):
    "Run as `user` with access checks on, the way an RPC call does"
    transaction = Transaction()
    with transaction.set_user(user.id), \
            transaction.set_context(_check_access=True):
        yield


def walk_to(station, stage_event_codes):
    "Record the events in order, each with its code as text"
    for code in stage_event_codes:
        station.record_event(code, code)


def create_inr():
    Currency = Pool().get('currency.currency')
    inr = Currency(name="Indian Rupee", code='INR', symbol='₹')
    inr.save()
    return inr


def today():
    return Pool().get('ir.date').today()


def days(n):
    return datetime.timedelta(days=n)


def scenario_test(name, path):
    """A pytest test running each scenario_*.rst doctest next to `path`
    (Tryton's load_tests protocol, which pytest does not follow)"""
    import pytest

    from trytond.tests.test_tryton import load_doc_tests

    suite = load_doc_tests(
        name, path, unittest.TestLoader(), unittest.TestSuite(), None)

    @pytest.mark.parametrize('scenario', list(suite), ids=str)
    def test_scenario(scenario):
        result = unittest.TestResult()
        scenario.run(result)
        problems = result.failures + result.errors
        assert not problems, '\n'.join(text for _, text in problems)
    return test_scenario
