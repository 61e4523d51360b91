# This file is part of the EV operations suite.
"""The ingestion service against the real Mosquitto: every topic of the
contract, duplicates, dead letters, a SIGKILL mid-stream and a broker
restart"""
import contextlib
import json
import time

import pytest

from iot_tools import (
    Broker, Ingest, Publisher, Service, iso, shared_server, unique, wait_for)


@pytest.fixture(scope='module')
def server():
    return shared_server()


def test_every_topic(server):
    "boot, heartbeat, status, meter and cmd/result reach their tables"
    identity = unique('CP')
    charger_id, = server.create_chargers([identity])
    with Ingest(server), Publisher() as charger:
        charger.publish(f'ev/{identity}/boot', {'vendor': "Delta",
                'model': "AC Mini", 'serial': "SN-1", 'firmware': "1.2.0",
                'ts': iso(30)})
        charger.publish(f'ev/{identity}/heartbeat', {'ts': iso(20),
                'rssi': -71})
        charger.publish(f'ev/{identity}/status', {'connector': 1,
                'status': 'Charging', 'error_code': 'NoError', 'ts': iso(10)})
        charger.publish(f'ev/{identity}/meter', {'connector': 1,
                'energy_wh': 1234.5, 'power_w': 7200, 'ts': iso(5)})
        wait_for(lambda: server.count('ev_charger_meter',
                'WHERE charger = %s', (charger_id,)), message="meter value")
        wait_for(lambda: server.sql('SELECT health FROM ev_charger '
                'WHERE id = %s', (charger_id,))[0][0] == 'charging',
            message="health charging")
        command, = server.call('model.ev.charger.command.send', identity,
            'Reset', {'type': 'Soft'})
        uuid_, = server.sql('SELECT uuid FROM ev_charger_command '
            'WHERE id = %s', (command,))[0]
        charger.publish(f'ev/{identity}/cmd/result', {'id': uuid_,
                'status': 'Accepted', 'detail': "resetting"})
        wait_for(lambda: server.sql('SELECT state FROM ev_charger_command '
                'WHERE id = %s', (command,))[0][0] == 'accepted',
            message="command accepted")

    assert server.sql('SELECT vendor, model, serial, firmware, rssi '
        'FROM ev_charger WHERE id = %s', (charger_id,)) == [
        ('Delta', 'AC Mini', 'SN-1', '1.2.0', -71)]
    assert server.count('ev_charger_boot', 'WHERE charger = %s',
        (charger_id,)) == 1
    assert server.sql('SELECT rssi FROM ev_charger_heartbeat '
        'WHERE charger = %s', (charger_id,)) == [(-71,)]
    assert server.sql('SELECT connector, status, error_code '
        'FROM ev_charger_status WHERE charger = %s', (charger_id,)) == [
        (1, 'Charging', 'NoError')]
    assert server.sql('SELECT status, energy_wh, power_w '
        'FROM ev_charger_connector WHERE charger = %s AND number = 1',
        (charger_id,)) == [('Charging', 1234.5, 7200.0)]
    assert server.sql('SELECT detail FROM ev_charger_command '
        'WHERE id = %s', (command,)) == [('resetting',)]


def test_duplicate_stored_once(server):
    "A redelivered message (same charger and timestamp) is stored once"
    identity = unique('CP')
    charger_id, = server.create_chargers([identity])
    ts = iso(1)
    with Ingest(server), Publisher() as charger:
        for _ in range(3):
            charger.publish(f'ev/{identity}/heartbeat', {'ts': ts,
                    'rssi': -60})
            charger.publish(f'ev/{identity}/status', {'connector': 1,
                    'status': 'Available', 'error_code': 'NoError',
                    'ts': ts})
        # A marker behind them: once it is stored, so are they
        charger.publish(f'ev/{identity}/meter', {'connector': 1,
                'energy_wh': 1, 'ts': ts})
        wait_for(lambda: server.count('ev_charger_meter',
                'WHERE charger = %s', (charger_id,)), message="marker")
    assert server.count('ev_charger_heartbeat', 'WHERE charger = %s',
        (charger_id,)) == 1
    assert server.count('ev_charger_status', 'WHERE charger = %s',
        (charger_id,)) == 1


BAD = [
    ('heartbeat', b'{not json', "not valid JSON"),
    ('heartbeat', b'[1, 2]', "not a JSON object"),
    ('heartbeat', json.dumps({'rssi': -50}).encode(), '"ts" is required'),
    ('heartbeat', json.dumps({'ts': 'yesterday'}).encode(), 'ISO 8601'),
    ('heartbeat', json.dumps({'ts': iso(), 'rssi': 'strong'}).encode(),
        '"rssi" must be a whole number'),
    ('status', json.dumps({'connector': '1', 'status': 'Available',
                'ts': iso()}).encode(), '"connector" must be a whole number'),
    ('status', json.dumps({'connector': 1, 'status': 'Exploded',
                'ts': iso()}).encode(), 'OCPP 1.6 status'),
    ('meter', json.dumps({'connector': 1, 'energy_wh': 'lots',
                'ts': iso()}).encode(), '"energy_wh" must be a number'),
    ('cmd/result', json.dumps({'id': 'no-such-command',
                'status': 'Accepted'}).encode(), 'does not exist'),
    ('cmd/result', json.dumps({'id': 'x', 'status': 'Maybe'}).encode(),
        '"status" must be one of'),
    ]


def test_bad_messages_dead_lettered(server):
    "Malformed payloads and unknown chargers are dead letters; good ones flow"
    identity = unique('CP')
    stranger = unique('UNKNOWN')
    charger_id, = server.create_chargers([identity])
    with Ingest(server) as ingest, Publisher() as charger:
        for i, (kind, payload, _) in enumerate(BAD):
            charger.publish(f'ev/{identity}/{kind}', payload)
            charger.publish(f'ev/{identity}/heartbeat', {'ts': iso(100 - i)})
        charger.publish(f'ev/{stranger}/heartbeat', {'ts': iso()})
        charger.publish(f'ev/{identity}/meter', {'connector': 1,
                'energy_wh': 5, 'ts': iso()})
        wait_for(lambda: server.count('ev_charger_meter',
                'WHERE charger = %s', (charger_id,)), message="marker")
        assert ingest.process.poll() is None
    assert server.count('ev_charger_heartbeat', 'WHERE charger = %s',
        (charger_id,)) == len(BAD)
    reasons = [r for r, in server.sql('SELECT reason FROM '
            'ev_charger_dead_letter WHERE identity = %s ORDER BY id',
            (identity,))]
    assert len(reasons) == len(BAD)
    for _, _, expected in BAD:
        assert [r for r in reasons if expected in r], expected
    unknown, = server.sql('SELECT topic, reason FROM ev_charger_dead_letter '
        'WHERE identity = %s', (stranger,))
    assert unknown == (f'ev/{stranger}/heartbeat',
        f"unknown charger {stranger!r}")


def test_sigkill_mid_stream_exactly_once(server):
    """Killed with SIGKILL while messages flow and started again with the
    same session: every message published is stored exactly once"""
    identities = [unique('CP') for _ in range(5)]
    ids = server.create_chargers(identities)
    count = 3000
    with Broker() as broker:
        ingest = Ingest(server, broker_port=broker.port, batch_size=200)
        ingest.start()
        with Publisher(broker.port) as charger:
            for i in range(count):
                identity = identities[i % len(identities)]
                charger.publish(f'ev/{identity}/heartbeat',
                    {'ts': 1_800_000_000 + i, 'rssi': -60}, wait=False)
                if i == count // 3:
                    # Kill it once it has stored something of the stream
                    wait_for(lambda: _heartbeats(server, ids), interval=0.01,
                        message="the first batches")
                    ingest.kill()
                    ingest.start()
            charger.flush()
        wait_for(lambda: _heartbeats(server, ids) >= count, timeout=120,
            message="every heartbeat")
        ingest.stop()
    assert _heartbeats(server, ids) == count
    assert server.sql('SELECT COUNT(DISTINCT ts) FROM ev_charger_heartbeat '
        'WHERE charger IN (%s)' % ','.join(map(str, ids)))[0][0] == count


def _heartbeats(server, ids):
    return server.count('ev_charger_heartbeat',
        'WHERE charger IN (%s)' % ','.join(map(str, ids)))


def test_broker_restart_resumes(server):
    "After a broker restart the service reconnects and ingests by itself"
    identity = unique('CP')
    charger_id, = server.create_chargers([identity])
    with Broker() as broker, Ingest(server, broker_port=broker.port) \
            as ingest:
        with Publisher(broker.port) as charger:
            charger.publish(f'ev/{identity}/heartbeat', {'ts': iso(10)})
        wait_for(lambda: server.count('ev_charger_heartbeat',
                'WHERE charger = %s', (charger_id,)) == 1, message="first")
        broker.stop()
        broker.start()
        with Publisher(broker.port) as charger:
            charger.publish(f'ev/{identity}/heartbeat', {'ts': iso(5)})
        wait_for(lambda: server.count('ev_charger_heartbeat',
                'WHERE charger = %s', (charger_id,)) == 2, message="second")
        assert ingest.process.poll() is None
        assert 'disconnected from the broker' in ingest.log()


def test_shared_subscription_splits_the_stream(server):
    """Two processes in one shared group: each message is stored once and
    both take a part of the stream"""
    identities = [unique('CP') for _ in range(4)]
    ids = server.create_chargers(identities)
    count = 1000
    group = unique('group')
    with Broker() as broker, \
            Ingest(server, broker_port=broker.port, shared_group=group) \
            as first, \
            Ingest(server, broker_port=broker.port, shared_group=group) \
            as second:
        with Publisher(broker.port) as charger:
            for i in range(count):
                charger.publish(f'ev/{identities[i % 4]}/heartbeat',
                    {'ts': 1_790_000_000 + i}, wait=False)
            charger.flush()
        wait_for(lambda: _heartbeats(server, ids) >= count, timeout=120,
            message="every heartbeat")
        first.stop()
        second.stop()
        shares = [_stored(first.log()), _stored(second.log())]
    assert _heartbeats(server, ids) == count
    assert all(shares) and sum(shares) == count, shares


def _stored(log):
    "What the service says it stored, in its last line"
    import re
    return int(re.findall(r'ingestion stopped stored=(\d+)', log)[-1])


def test_database_outage(server):
    """The database goes away (its connections dropped, new ones refused,
    as during a restart) while messages arrive: the service retries and,
    once the database is back, stores every message once"""
    if server.backend != 'postgresql':
        pytest.skip("SQLite has no server to lose")
    identities = [unique('CP') for _ in range(3)]
    ids = server.create_chargers(identities)
    now = int(time.time())

    def database(sql):
        with contextlib.closing(server._pg_connect('postgres')) as conn:
            conn.execute(sql, (server.database,) if '%s' in sql else ())
    with Broker() as broker, Ingest(server, broker_port=broker.port) \
            as ingest, Publisher(broker.port) as charger:
        for i in range(100):
            charger.publish(f'ev/{identities[i % 3]}/heartbeat',
                {'ts': now - 300 + i}, wait=False)
        charger.flush()
        wait_for(lambda: _heartbeats(server, ids) == 100, message="first")
        database(f'ALTER DATABASE "{server.database}" '
            'WITH ALLOW_CONNECTIONS false')
        try:
            database('SELECT pg_terminate_backend(pid) FROM '
                'pg_stat_activity WHERE datname = %s')
            for i in range(100, 300):
                charger.publish(f'ev/{identities[i % 3]}/heartbeat',
                    {'ts': now - 300 + i}, wait=False)
            charger.flush()
            wait_for(lambda: 'database unavailable' in ingest.log(),
                message="the service to notice")
        finally:
            database(f'ALTER DATABASE "{server.database}" '
                'WITH ALLOW_CONNECTIONS true')
        wait_for(lambda: _heartbeats(server, ids) >= 300, timeout=120,
            message="every heartbeat")
        assert ingest.process.poll() is None
    assert _heartbeats(server, ids) == 300


def test_writer_killed(server):
    """The writer process killed with SIGKILL: the service stops with an
    error (for its supervisor to start it again) and, started again with
    its session, stores what arrived meanwhile, once"""
    import os
    import re
    import signal
    identity = unique('CP')
    charger_id, = server.create_chargers([identity])
    with Broker() as broker:
        ingest = Ingest(server, broker_port=broker.port)
        ingest.start()
        writer = int(re.search(r'writer process started pid=(\d+)',
                ingest.log()).group(1))
        assert writer != ingest.process.pid
        os.kill(writer, signal.SIGKILL)
        wait_for(lambda: ingest.process.poll() is not None,
            message="the service to stop")
        assert ingest.process.returncode == 1
        assert 'the writer process ended' in ingest.log()
        with Publisher(broker.port) as charger:
            for i in range(10):
                charger.publish(f'ev/{identity}/heartbeat',
                    {'ts': 1_810_000_000 + i}, wait=False)
            charger.flush()
        with Ingest(server, client_id=ingest.client_id,
                broker_port=broker.port):
            wait_for(lambda: _heartbeats(server, [charger_id]) >= 10,
                message="the heartbeats sent while it was down")
    assert _heartbeats(server, [charger_id]) == 10


def test_tls_and_credentials(server):
    """A broker that takes TLS only, with a user name and password: the
    service connects with mqtt_tls, mqtt_ca_certs, mqtt_username and
    mqtt_password and stores; with a wrong password the broker refuses it,
    it stores nothing and keeps trying"""
    identity = unique('CP')
    charger_id, = server.create_chargers([identity])
    with Broker(secure=True) as broker:
        secure = dict(broker_port=broker.port, mqtt_tls=True,
            mqtt_ca_certs=broker.ca_certs, mqtt_username=Broker.USERNAME)
        wrong = Ingest(server, mqtt_password='not-the-password', **secure)
        Service.start(wrong)
        try:
            wrong.wait_ready("broker refused the connection")
            with Ingest(server, mqtt_password=Broker.PASSWORD, **secure) \
                    as right, Publisher(broker.port,
                        ca_certs=broker.ca_certs, username=Broker.USERNAME,
                        password=Broker.PASSWORD) as charger:
                charger.publish(f'ev/{identity}/heartbeat', {'ts': iso(5)})
                wait_for(lambda: _heartbeats(server, [charger_id]) == 1,
                    message="the heartbeat over TLS")
                assert right.process.poll() is None
            assert wrong.process.poll() is None
            assert 'connected to the broker' not in wrong.log()
        finally:
            wrong.stop()
    assert 'ingestion stopped stored=0 ' in wrong.log()
