# This file is part of the EV operations suite.
"""The one home of the test harness's real servers (with broker.py).

`TrytonServer` creates a fresh database (an SQLite file in a temporary
directory or a uniquely named PostgreSQL database, after the environment
variable TRYTOND_DATABASE__URI), activates its modules (ev_station and
ev_lead unless told), loads test data, serves the back office (sao) with
`trytond` and removes everything at the end. Every step runs in a subprocess
with its own configuration file, so the pytest process itself never touches
the database. The cross-module tests share one per session (conftest.py);
the IoT tests and the benchmarks start their own with other modules and
settings.

Beside it, what every harness needs: `free_port`, `wait_for`,
`stop_process`, `write_conf`, `trytond_admin`, `init_pool` and the
PostgreSQL helpers (`pg_connect`, `create_database`, ...). The MQTT broker
is broker.py's `Broker`; the mail catcher is ev_station's
`tests.tools.SMTPServer` (pass its `uri` as `email_uri`).

Run as a script (`python tests/server.py data -d <db>`, with TRYTOND_CONFIG
set) it creates the small data set of the browser and API tests.
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
from urllib.parse import urlsplit, urlunsplit

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


def wait_for(predicate, timeout=60, interval=0.1, message="condition"):
    """Poll until `predicate()` is true; a timeout is a failure of the
    test, not a measurement"""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(interval)


def listening(port):
    "Whether something accepts connections on the loopback `port`"
    with contextlib.closing(socket.socket()) as sock:
        return sock.connect_ex(('127.0.0.1', port)) == 0


def file_tail(path, size=4000):
    "The last `size` characters of a log file ('' when there is none)"
    try:
        with open(path) as fp:
            return fp.read()[-size:]
    except OSError:
        return ''


def stop_process(process, timeout=15):
    """SIGTERM, as a service manager stops a service, then SIGKILL if it is
    still there after `timeout` seconds"""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def _bin(name):
    path = os.path.join(VENV_BIN, name)
    return path if os.path.exists(path) else shutil.which(name) or name


def write_conf(path, sections):
    "A trytond configuration file of `sections` ({section: {key: value}})"
    with open(path, 'w') as fp:
        for section, values in sections.items():
            fp.write(f'[{section}]\n')
            for key, value in values.items():
                fp.write(f'{key} = {value}\n')
            fp.write('\n')
    return path


def run_logged(args, log, env=None, timeout=900):
    """Run a command to its end, its output in the file `log`; a failure
    raises with the tail of the log"""
    with open(log, 'w') as out:
        result = subprocess.run(
            [str(arg) for arg in args], stdout=out, stderr=subprocess.STDOUT,
            cwd=ROOT, stdin=subprocess.DEVNULL, timeout=timeout,
            env=env or os.environ)
    if result.returncode:
        with open(log) as fp:
            tail = fp.read()[-4000:]
        raise RuntimeError(
            f"failed ({result.returncode}): {' '.join(map(str, args))}\n"
            f"{tail}")


def trytond_admin(conf, database, *args, env=None, log=None):
    "trytond-admin on `database` (its output in `log` when given)"
    with tempfile.TemporaryDirectory(prefix='ev-admin-') as tmp:
        run_logged([_bin('trytond-admin'), '-c', conf, '-d', database, *args],
            log or os.path.join(tmp, 'trytond-admin.log'), env=env)


def admin_all(conf, database, password, env=None, log=None):
    """trytond-admin --all on a new, empty `database`: Tryton's tables and
    the user admin with `password`"""
    admin_password(conf, database, password, '--all', env=env, log=log)


def admin_password(conf, database, password, *args, env=None, log=None):
    "trytond-admin `args` on `database`, giving the user admin `password`"
    with tempfile.TemporaryDirectory(prefix='ev-admin-') as tmp:
        passfile = os.path.join(tmp, 'admin-password')
        with open(passfile, 'w') as fp:
            fp.write(password + '\n')
        trytond_admin(conf, database, *args, '--password',
            '--email', 'admin@ev.localhost',
            env=dict(env or os.environ, TRYTONPASSFILE=passfile), log=log)


def cached_module_database(modules, uri):
    """The test run's cached database with `modules` activated: the path of
    an SQLite file or of a pg_dump directory, or the name of a PostgreSQL
    template database; None outside a test run (no DB_CACHE) or for a
    server on another database than the run's.

    Tryton's test framework keeps these (DB_CACHE) and the suite's
    conftest.py builds a missing one on the largest it contains: a server
    copies it in seconds where trytond-admin builds it in minutes."""
    if not os.environ.get('DB_CACHE') \
            or uri != os.environ.get('TRYTOND_DATABASE__URI'):
        return None
    from trytond.tests import test_tryton
    name = '-'.join(modules)
    # Restored into the run's DB_NAME, after being built if missing
    if not test_tryton.restore_db_cache(name):
        return None
    test_tryton.drop_db()
    path = test_tryton._db_cache_file(test_tryton.DB_CACHE, name)
    if path.startswith('postgresql://'):
        return path[len(test_tryton.DB_CACHE) + 1:]
    return path


def init_pool(database):
    "The pool of `database`, loaded in this process (a script's set-up)"
    from trytond.pool import Pool
    Pool.start()
    pool = Pool(database)
    pool.init()
    return pool


# -- PostgreSQL ---------------------------------------------------------------

def pg_dsn(uri, database):
    "libpq connection string of `database` on the server of `uri`"
    return urlunsplit(urlsplit(uri)._replace(path='/' + database))


def pg_connect(uri, database='postgres', autocommit=False):
    "A psycopg connection to `database` on the server of `uri`"
    import psycopg
    return psycopg.connect(pg_dsn(uri, database), autocommit=autocommit)


def database_exists(uri, name):
    with pg_connect(uri, autocommit=True) as conn:
        return bool(conn.execute(
                'SELECT 1 FROM pg_database WHERE datname = %s',
                (name,)).fetchone())


def create_database(uri, name):
    from psycopg import sql
    with pg_connect(uri, autocommit=True) as conn:
        conn.execute(sql.SQL(
                "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'")
            .format(sql.Identifier(name)))


def copy_database(uri, name, source):
    """Database `name` as a copy of `source`: a template database's name,
    or the path of a pg_dump directory"""
    from psycopg import sql
    if os.path.isdir(source):
        create_database(uri, name)
        parts = urlsplit(uri)
        args = ['pg_restore', '-d', name, '-h', parts.hostname or '127.0.0.1',
            '-p', str(parts.port or 5432), '-U', parts.username or 'postgres',
            source]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
        return
    with pg_connect(uri, autocommit=True) as conn:
        conn.execute(sql.SQL('CREATE DATABASE {} TEMPLATE {}').format(
                sql.Identifier(name), sql.Identifier(source)))


def drop_database(uri, name):
    from psycopg import sql
    with pg_connect(uri, autocommit=True) as conn:
        conn.execute(sql.SQL('DROP DATABASE IF EXISTS {} WITH (FORCE)')
            .format(sql.Identifier(name)))


class TrytonServer:
    """A trytond on a fresh database with `modules` activated, for one test
    session or one benchmark run

    Subclasses (or callers) add configuration sections with `settings`
    ({section: {key: value}}) and data after start-up in `start`."""

    modules = ('ev_station', 'ev_lead')

    def __init__(self, uri=None, demo=False, data=True, workdir=None,
            modules=None, settings=None, email_uri=None, prefix='ev_test'):
        uri = uri or os.environ.get('TRYTOND_DATABASE__URI') or 'sqlite://'
        self.backend = 'postgresql' if uri.startswith('postgresql') \
            else 'sqlite'
        self.uri = uri
        self.demo = demo
        self.data = data
        if modules is not None:
            self.modules = tuple(modules)
        self.settings = settings or {}
        # Nobody listens there unless a mail catcher is given: no mail
        # leaves the test
        self.email_uri = email_uri or f'smtp://127.0.0.1:{free_port()}'
        self.tmpdir = workdir or tempfile.mkdtemp(prefix='ev-server-')
        self.database = f'{prefix}_{uuid.uuid4().hex[:12]}'
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}/'
        self.conf = os.path.join(self.tmpdir, 'trytond.conf')
        self.log_path = os.path.join(self.tmpdir, 'trytond.log')
        self.db_path = os.path.join(self.tmpdir, 'db')
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

    def conf_sections(self):
        "The configuration of the server, `settings` applied last"
        sections = {
            'database': {'uri': self.uri, 'path': self.db_path,
                'list': False},
            'web': {'listen': f'127.0.0.1:{self.port}', 'root': SAO_ROOT},
            'session': {'timeout': 3600},
            'email': {'uri': self.email_uri,
                'from': 'EV Operations <ops@ev.localhost>'},
            'queue': {'worker': False},
            'attachment': {'filestore': False},
            # Webhook retries come quickly in the tests
            # The tests' own webhook receivers listen on the loopback:
            # allowed explicitly (production refuses http and the loopback)
            'ev_lead': {'webhook_retry_delay': 1, 'webhook_timeout': 5,
                'webhook_allow_http': True,
                'webhook_allowed_hosts': '127.0.0.1'},
            }
        for section, values in self.settings.items():
            sections.setdefault(section, {}).update(values)
        return sections

    def write_conf(self):
        os.makedirs(self.db_path, exist_ok=True)
        write_conf(self.conf, self.conf_sections())

    # -- database ----------------------------------------------------------

    def create_database(self):
        if self.backend == 'sqlite':
            open(os.path.join(
                    self.db_path, f'{self.database}.sqlite'), 'w').close()
        else:
            create_database(self.uri, self.database)
        self._created = True

    def drop_database(self):
        if not self._created:
            return
        if self.backend == 'postgresql':
            drop_database(self.uri, self.database)
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
        with pg_connect(self.uri, self.database) as conn:
            return conn.execute(query, params).fetchall()

    def count(self, table, where='', params=()):
        "Rows of `table` (WHERE `where`, with %s parameters)"
        return self.sql(f'SELECT COUNT(*) FROM {table} {where}', params)[0][0]

    @contextlib.contextmanager
    def _step(self, name):
        "A set-up step: timed, its output in <name>.log"
        start = time.monotonic()
        yield os.path.join(self.tmpdir, f'{name}.log')
        self.timings[name] = time.monotonic() - start

    # Seconds a set-up step may take (activating modules on PostgreSQL
    # takes minutes on a loaded machine)
    setup_timeout = 600

    def _run(self, step, args, env=None):
        "A set-up step in a subprocess with the server's environment"
        with self._step(step) as log:
            run_logged(args, log, env=env or self.env(),
                timeout=self.setup_timeout)

    def copy_test_cache(self):
        "The database as a copy of the test run's cache, if there is one"
        with self._step('test-cache') as log:
            cache = cached_module_database(self.modules, self.uri)
            if not cache:
                return False
            if self.backend == 'sqlite':
                shutil.copyfile(cache,
                    os.path.join(self.db_path, f'{self.database}.sqlite'))
            else:
                drop_database(self.uri, self.database)
                copy_database(self.uri, self.database, cache)
            admin_password(self.conf, self.database, ADMIN_PASSWORD,
                env=self.env(), log=log)
        return True

    def setup_database(self):
        if not self.copy_test_cache():
            with self._step('admin-all') as log:
                admin_all(self.conf, self.database, ADMIN_PASSWORD,
                    env=self.env(), log=log)
            self._run('admin-activate', [_bin('trytond-admin'), '-c',
                    self.conf, '-d', self.database, '-u', *self.modules,
                    '--activate-dependencies'])
        if self.demo:
            self._run('demo',
                [sys.executable, '-m', 'demo', '-d', self.database])
        if self.data:
            self._run('data', [sys.executable, os.path.abspath(__file__),
                    'data', '-d', self.database])

    # -- server ------------------------------------------------------------

    def serving(self):
        """Whether trytond answers HTTP (any answer: without the web client
        in var/sao it answers / with 405)"""
        if self.process.poll() is not None:
            raise RuntimeError(
                f"trytond stopped ({self.process.returncode}):\n"
                + self.log_tail())
        try:
            urllib.request.urlopen(self.url, timeout=2).close()
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            return False
        return True

    def command(self):
        "The server's command line (a WSGI server's in a subclass)"
        # `-d` loads the pool of the database before serving: without it
        # trytond 8.0.12 answers the first login with KeyError 'res.user'
        # (Cache.sync registers an empty pool for the database first).
        return [_bin('trytond'), '-c', self.conf, '-d', self.database]

    def server_env(self):
        return self.env()

    def start(self, timeout=60):
        start = time.monotonic()
        self._log = open(self.log_path, 'w')
        self.process = subprocess.Popen(self.command(),
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT,
            stdin=subprocess.DEVNULL, env=self.server_env())
        try:
            wait_for(self.serving, timeout=timeout, interval=0.2,
                message="trytond to serve")
        except AssertionError:
            raise RuntimeError("trytond not ready:\n" + self.log_tail())
        self.timings['start'] = time.monotonic() - start

    def stop(self):
        stop_process(self.process)
        self.process = None
        if self._log:
            self._log.close()
            self._log = None

    def log_tail(self, size=4000):
        return file_tail(self.log_path, size)

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
        call.headers = headers
        return call


def create_data(database):
    "The customer, the station and the user of the browser test"
    from trytond.transaction import Transaction

    pool = init_pool(database)
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
