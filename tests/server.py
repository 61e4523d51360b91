# This file is part of the EV operations suite.
"""A real Tryton server for the browser tests.

`TrytonServer` creates a fresh database (an SQLite file in a temporary
directory or a uniquely named PostgreSQL database, after the environment
variable TRYTOND_DATABASE__URI), activates ev_station, loads test data,
serves the back office (sao) with `trytond` and removes everything at the
end. Every step runs in a subprocess with its own configuration file, so the
pytest process itself never touches the database.

Run as a script (`python tests/server.py data -d <db>`, with TRYTOND_CONFIG
set) it creates the small data set of the browser test.
"""
import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAO_ROOT = os.path.join(ROOT, 'var', 'sao', 'package')
VENV_BIN = os.path.join(ROOT, '.venv', 'bin')
ADMIN_PASSWORD = 'admin-test-pass'

# The data set of the browser test (created by `create_data`)
USER_LOGIN = 'browser-sales'
USER_NAME = "Bea Browser"
USER_PASSWORD = 'browser-pass-1'
CUSTOMER_NAME = "Meera Iyer"
CUSTOMER_EMAIL = 'meera.iyer@example.com'
CUSTOMER_ACCOUNT = 'ACC-BROWSER-1'

# The OEMs of the API tests: login, OEM name, application key
OEMS = [
    ('oem-tata', "Tata Motors", 'tata-' + 'a1' * 30),
    ('oem-mg', "MG Motor", 'mg-' + 'b2' * 30),
    ]


def free_port():
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _bin(name):
    path = os.path.join(VENV_BIN, name)
    return path if os.path.exists(path) else shutil.which(name) or name


class TrytonServer:
    "A trytond serving sao on a fresh database, for one test session"

    def __init__(self, uri=None, demo=False, data=True, workdir=None):
        uri = uri or os.environ.get('TRYTOND_DATABASE__URI') or 'sqlite://'
        self.backend = 'postgresql' if uri.startswith('postgresql') \
            else 'sqlite'
        self.uri = uri
        self.demo = demo
        self.data = data
        self.tmpdir = workdir or tempfile.mkdtemp(prefix='ev-browser-')
        self.database = f'ev_browser_{uuid.uuid4().hex[:12]}'
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}/'
        self.conf = os.path.join(self.tmpdir, 'trytond.conf')
        self.log_path = os.path.join(self.tmpdir, 'trytond.log')
        self.process = None
        self._log = None
        self._created = False
        self.timings = {}

    # -- environment -------------------------------------------------------

    def env(self, **extra):
        "The environment of the subprocesses: only our configuration file"
        env = {k: v for k, v in os.environ.items()
            if not k.startswith('TRYTOND_')
            and k not in {'DB_NAME', 'DB_CACHE'}}
        env['TRYTOND_CONFIG'] = self.conf
        env['PYTHONPATH'] = os.pathsep.join(
            filter(None, [ROOT, os.environ.get('PYTHONPATH')]))
        env.update(extra)
        return env

    def write_conf(self):
        db_path = os.path.join(self.tmpdir, 'db')
        os.makedirs(db_path, exist_ok=True)
        with open(self.conf, 'w') as fp:
            fp.write(f"""\
[database]
uri = {self.uri}
path = {db_path}
list = False

[web]
listen = 127.0.0.1:{self.port}
root = {SAO_ROOT}

[session]
timeout = 3600

[email]
# Nobody listens there: no mail leaves the test
uri = smtp://127.0.0.1:{free_port()}
from = EV Operations <ops@ev.localhost>

[queue]
worker = False

[attachment]
filestore = False

[ev_lead]
# Webhook retries come quickly in the tests
webhook_retry_delay = 1
webhook_timeout = 5
""")
        self.db_path = db_path

    # -- database ----------------------------------------------------------

    def _pg_connect(self, dbname='postgres'):
        "An autocommit connection to `dbname` on the server of self.uri"
        from urllib.parse import urlparse
        parsed = urlparse(self.uri)
        params = dict(
            host=parsed.hostname or '127.0.0.1', port=parsed.port or 5432,
            user=parsed.username or 'postgres', dbname=dbname)
        if parsed.password:
            params['password'] = parsed.password
        try:
            import psycopg
        except ImportError:  # the driver of trytond < 8
            import psycopg2
            conn = psycopg2.connect(**params)
            conn.autocommit = True
            return conn
        return psycopg.connect(autocommit=True, **params)

    def create_database(self):
        if self.backend == 'sqlite':
            open(os.path.join(
                    self.db_path, f'{self.database}.sqlite'), 'w').close()
        else:
            with contextlib.closing(self._pg_connect()) as conn, \
                    conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.database}"')
        self._created = True

    def drop_database(self):
        if not self._created:
            return
        if self.backend == 'postgresql':
            with contextlib.closing(self._pg_connect()) as conn, \
                    conn.cursor() as cursor:
                cursor.execute(
                    f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        self._created = False

    def sql(self, query, params=()):
        "Rows of a read-only SQL query on the test database"
        if self.backend == 'sqlite':
            import sqlite3
            conn = sqlite3.connect(
                os.path.join(self.db_path, f'{self.database}.sqlite'))
            with contextlib.closing(conn):
                return conn.execute(
                    query.replace('%s', '?'), params).fetchall()
        with contextlib.closing(self._pg_connect(self.database)) as conn, \
                conn.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()

    def _run(self, step, args, **kwargs):
        start = time.monotonic()
        log = os.path.join(self.tmpdir, f'{step}.log')
        with open(log, 'w') as out:
            result = subprocess.run(
                args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                stdin=subprocess.DEVNULL, timeout=600, **kwargs)
        self.timings[step] = time.monotonic() - start
        if result.returncode:
            with open(log) as fp:
                tail = fp.read()[-4000:]
            raise RuntimeError(
                f"{step} failed ({result.returncode}): {' '.join(args)}\n"
                f"{tail}")

    def setup_database(self):
        passfile = os.path.join(self.tmpdir, 'admin-password')
        with open(passfile, 'w') as fp:
            fp.write(ADMIN_PASSWORD + '\n')
        admin = _bin('trytond-admin')
        self._run('admin-all', [
                admin, '-c', self.conf, '-d', self.database, '--all',
                '--email', 'admin@ev.localhost'],
            env=self.env(TRYTONPASSFILE=passfile))
        self._run('admin-activate', [
                admin, '-c', self.conf, '-d', self.database,
                '-u', 'ev_station', 'ev_lead', '--activate-dependencies'],
            env=self.env())
        if self.demo:
            self._run('demo', [
                    sys.executable, '-m', 'demo', '-d', self.database],
                env=self.env())
        if self.data:
            self._run('data', [
                    sys.executable, os.path.abspath(__file__), 'data',
                    '-d', self.database],
                env=self.env())

    # -- server ------------------------------------------------------------

    def start(self, timeout=60):
        start = time.monotonic()
        self._log = open(self.log_path, 'w')
        # `-d` loads the pool of the database before serving: without it
        # trytond 8.0.12 answers the first login with KeyError 'res.user'
        # (Cache.sync registers an empty pool for the database first).
        self.process = subprocess.Popen(
            [_bin('trytond'), '-c', self.conf, '-d', self.database],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT,
            stdin=subprocess.DEVNULL, env=self.env())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"trytond stopped ({self.process.returncode}):\n"
                    + self.log_tail())
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        else:
            raise RuntimeError("trytond not ready:\n" + self.log_tail())
        self.timings['start'] = time.monotonic() - start

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, size=4000):
        try:
            with open(self.log_path) as fp:
                return fp.read()[-size:]
        except OSError:
            return ''

    def __enter__(self):
        try:
            self.write_conf()
            self.create_database()
            self.setup_database()
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.stop()
        finally:
            try:
                self.drop_database()
            finally:
                shutil.rmtree(self.tmpdir, ignore_errors=True)

    # -- JSON-RPC ----------------------------------------------------------

    def _post(self, data, headers=None):
        request = urllib.request.Request(
            f'{self.url}{self.database}/rpc/', data=json.dumps(data).encode(),
            headers={'Content-Type': 'application/json', **(headers or {})})
        with urllib.request.urlopen(request, timeout=30) as response:
            result = json.load(response)
        if result.get('error'):
            raise RuntimeError(f"RPC error: {result['error']}")
        return result['result']

    def rpc_session(self, login, password):
        "A callable `call(method, *params)` for the user"
        user_id, session = self._post({
                'id': 0, 'method': 'common.db.login',
                'params': [login, {'password': password}, 'en']})[:2]
        token = base64.b64encode(
            f'{login}:{user_id}:{session}'.encode()).decode()
        headers = {'Authorization': f'Session {token}'}

        def call(method, *params):
            return self._post(
                {'id': 1, 'method': method, 'params': list(params)}, headers)
        call.user_id = user_id
        return call


def create_data(database):
    "The customer, the station and the user of the browser test"
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    Pool.start()
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 0) as transaction:
        User = pool.get('res.user')
        Group = pool.get('res.group')
        ModelData = pool.get('ir.model.data')
        Party = pool.get('party.party')
        Station = pool.get('ev.station')
        Lang = pool.get('ir.lang')
        if User.search([('login', '=', USER_LOGIN)]):
            return
        user = User(
            login=USER_LOGIN, name=USER_NAME, password=USER_PASSWORD,
            email=f'{USER_LOGIN}@ev.localhost',
            groups=[Group(ModelData.get_id('ev_station', 'group_sales'))])
        user.save()
        english, = Lang.search([('code', '=', 'en')])
        customer = Party(
            name=CUSTOMER_NAME, lang=english,
            contact_mechanisms=[{'type': 'email', 'value': CUSTOMER_EMAIL}])
        customer.save()
        with Transaction().set_user(user.id):
            station = Station(
                customer=customer, customer_account=CUSTOMER_ACCOUNT,
                language=english)
            station.save()
        create_oem_data(pool)
        transaction.commit()


def create_oem_data(pool):
    "A company, and per OEM an integration user with a validated API key"
    User = pool.get('res.user')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    Party = pool.get('party.party')
    Company = pool.get('company.company')
    Currency = pool.get('currency.currency')
    Application = pool.get('res.user.application')
    Country = pool.get('country.country')
    if not Country.search([('code', '=', 'IN')]):
        Country(name="India", code='IN', code3='IND').save()
    inr = Currency(name="Indian Rupee", code='INR', symbol='₹')
    inr.save()
    company = Company(party=Party(name="EV Operations India"), currency=inr)
    company.party.save()
    company.save()
    admin, = User.search([('login', '=', 'admin')])
    admin.companies = [company]
    admin.company = company
    admin.save()
    oem_group = Group(ModelData.get_id('ev_lead', 'group_oem'))
    for login, name, key in OEMS:
        oem = Party(name=name, ev_is_oem=True)
        oem.save()
        user = User(login=login, name=f"{name} integration",
            password=USER_PASSWORD, ev_oem=oem, groups=[oem_group],
            companies=[company], company=company)
        user.save()
        Application(user=user, key=key, application='ev_oem',
            state='validated').save()


def main():
    import argparse
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('command', choices=['data'])
    parser.add_argument('-d', '--database', required=True)
    options = parser.parse_args()
    from trytond import config
    if os.environ.get('TRYTOND_CONFIG'):
        config.update_etc(os.environ['TRYTOND_CONFIG'])
    create_data(options.database)


if __name__ == '__main__':
    main()
