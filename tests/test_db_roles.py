# This file is part of the EV operations suite.
"""The README's production database roles, followed to the letter, keep the
log's evidence out of the server's reach.

The test creates an owner role and a server role, a database owned by the
owner, installs ev_station with trytond-admin as the owner and runs the
README's GRANT statements as written there (the block under "Two database
roles"). Then the server role records an event through Tryton, as the
server does, and tries what an attacker holding the server's database
credentials would: edit or delete the entry, truncate the table, disable or
drop the immutability triggers, replace their function, switch triggers off
with session_replication_role. Each is refused by PostgreSQL and the entry
still reads as recorded.

PostgreSQL only (the roles and the triggers are PostgreSQL's); a database
and two roles of its own, removed at the end.
"""
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from server import (
    ADMIN_PASSWORD, ROOT, admin_all, drop_database, pg_connect, trytond_admin,
    write_conf)

URI = os.environ.get('TRYTOND_DATABASE__URI', '')
pytestmark = pytest.mark.skipif(
    not URI.startswith('postgresql'),
    reason="database roles are PostgreSQL's; TRYTOND_DATABASE__URI is not "
    "postgresql://")


def readme_grants(owner, app):
    "The SQL of the README's `psql -d ev -c \"...\"` with the roles renamed"
    with open(os.path.join(ROOT, 'README.md')) as fp:
        readme = fp.read()
    section = readme[readme.index('Two database roles'):]
    sql = re.search(r'psql -d ev -c "(.*?)"', section, re.S).group(1)
    sql = re.sub(r'\bev_owner\b', owner, sql)
    return re.sub(r'\bev_app\b', app, sql)


def role_uri(role):
    "TRYTOND_DATABASE__URI with `role` as the user"
    parts = urlsplit(URI)
    host = parts.netloc.rsplit('@', 1)[-1]
    return urlunsplit(parts._replace(netloc=f'{role}@{host}'))


RECORD_AS_SERVER = textwrap.dedent('''
    import sys
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    database = sys.argv[1]
    Pool.start()
    pool = Pool(database)
    pool.init()
    with Transaction().start(database, 1) as transaction:
        Party = pool.get('party.party')
        Station = pool.get('ev.station')
        customer, = Party.create([{'name': 'Evidence Customer'}])
        station, = Station.create([{'customer': customer.id}])
        entry = station.record_event('note', 'What the customer said')
        transaction.commit()
        print(entry.id)
    ''')


@pytest.fixture(scope='module')
def roles_database():
    suffix = uuid.uuid4().hex[:10]
    owner, app = f'ev_owner_{suffix}', f'ev_app_{suffix}'
    database = f'test_roles_{suffix}'
    with pg_connect(URI, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{owner}" LOGIN')
        conn.execute(f'CREATE ROLE "{app}" LOGIN')
        conn.execute(f'CREATE DATABASE "{database}" OWNER "{owner}" '
            "TEMPLATE template0 ENCODING 'UTF8'")
    try:
        with tempfile.TemporaryDirectory(prefix='ev-roles-') as tmp:
            env = dict(os.environ, TRYTOND_DATABASE__URI=role_uri(owner))
            conf = write_conf(os.path.join(tmp, 'trytond.conf'), {
                    'database': {'uri': role_uri(owner),
                        'path': os.path.join(tmp, 'db')}})
            env.pop('TRYTOND_CONFIG', None)
            admin_all(conf, database, ADMIN_PASSWORD, env=env)
            trytond_admin(conf, database, '-u', 'ev_station',
                '--activate-dependencies', env=env)
            with pg_connect(role_uri(owner), database, autocommit=True) \
                    as conn:
                conn.execute(readme_grants(owner, app))
            yield database, owner, app
    finally:
        drop_database(URI, database)
        with pg_connect(URI, autocommit=True) as conn:
            for role in [app, owner]:
                conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_server_role_records_but_cannot_rewrite_evidence(roles_database):
    database, owner, app = roles_database
    app_uri = role_uri(app)
    result = subprocess.run([sys.executable, '-c', RECORD_AS_SERVER, database],
        env=dict(os.environ, TRYTOND_DATABASE__URI=app_uri),
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    entry = int(result.stdout.split()[-1])

    import psycopg
    attacks = {
        'UPDATE ev_station_log SET text = %s WHERE id = %s':
            ("ev: UPDATE of ev_station_log refused: entries are immutable",
                ("rewritten", entry)),
        'DELETE FROM ev_station_log WHERE id = %s':
            ("ev: DELETE of ev_station_log refused: entries are immutable",
                (entry,)),
        'TRUNCATE ev_station_log':
            ("permission denied for table ev_station_log", None),
        'ALTER TABLE ev_station_log DISABLE TRIGGER ALL':
            ("must be owner of table ev_station_log", None),
        'ALTER TABLE ev_station_log DISABLE TRIGGER '
        '"ev_station_log_refuse_update"':
            ("must be owner of table ev_station_log", None),
        'DROP TRIGGER "ev_station_log_refuse_delete" ON ev_station_log':
            ("must be owner of relation ev_station_log", None),
        'CREATE OR REPLACE FUNCTION ev_refuse_modification() '
        'RETURNS trigger AS $$ BEGIN RETURN NEW; END; $$ LANGUAGE plpgsql':
            ("must be owner of function ev_refuse_modification", None),
        'SET session_replication_role = replica':
            ('permission denied to set parameter "session_replication_role"',
                None),
        'ALTER TABLE ev_station_log OWNER TO CURRENT_USER':
            ("must be owner of table ev_station_log", None),
        }
    with pg_connect(app_uri, database, autocommit=True) as conn:
        for statement, (refusal, params) in attacks.items():
            with pytest.raises(psycopg.Error) as error:
                conn.execute(statement, params)
            assert str(error.value).splitlines()[0] == refusal, statement
        text, = conn.execute(
            'SELECT text FROM ev_station_log WHERE id = %s',
            (entry,)).fetchone()
    assert text == 'What the customer said'
    # The owner, used only for schema updates, still could: the reason
    # the server must not run as the owner
    with pg_connect(role_uri(owner), database, autocommit=True) as conn:
        conn.execute('ALTER TABLE ev_station_log DISABLE TRIGGER USER')
        conn.execute('ALTER TABLE ev_station_log ENABLE TRIGGER USER')
