# This file is part of the EV operations suite.
"""The ingestion service against the real Mosquitto: every topic of the
contract, duplicates, dead letters, a SIGKILL mid-stream and a broker
restart"""
import json
import time

import pytest

from iot_tools import (
    Broker, Ingest, Publisher, Service, iso, shared_server, unique, wait_for)
from server import pg_connect


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
        with pg_connect(server.uri, autocommit=True) as conn:
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
            # Noticed within [ev_charger_iot] database_timeout (3 s), not
            # psycopg's 30 s per attempt; the deadline is only a safety net
            wait_for(lambda: 'database unavailable: ' in ingest.log(),
                timeout=120, message="the service to notice")
        finally:
            database(f'ALTER DATABASE "{server.database}" '
                'WITH ALLOW_CONNECTIONS true')
        wait_for(lambda: 'database back after ' in ingest.log(),
            timeout=120, message="the service to say the database is back")
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


# A charger's day, with messages out of their order: (kind, payload) with
# ts in seconds after a base; several carry only some fields
DAY = [
    ('boot', {'serial': 'SN-1', 'firmware': '2.0', 'ts': 100}),
    ('heartbeat', {'ts': 110, 'rssi': -60}),
    ('status', {'connector': 1, 'status': 'Charging',
            'error_code': 'NoError', 'ts': 140}),
    ('meter', {'connector': 1, 'energy_wh': 1000, 'power_w': 7000,
            'ts': 140}),
    ('heartbeat', {'ts': 130}),
    ('heartbeat', {'ts': 120, 'rssi': -70}),
    ('status', {'connector': 1, 'status': 'Available',
            'error_code': 'NoError', 'ts': 135}),
    ('meter', {'connector': 1, 'power_w': 0, 'ts': 150}),
    ('meter', {'connector': 1, 'energy_wh': 900, 'power_w': 6000,
            'ts': 145}),
    ('boot', {'vendor': 'Delta', 'firmware': '1.0', 'ts': 90}),
    ('status', {'connector': 1, 'status': 'Faulted',
            'error_code': 'GroundFailure', 'ts': 160}),
    ('status', {'connector': 1, 'status': 'Faulted',
            'error_code': 'GroundFailure', 'ts': 155}),
    ('heartbeat', {'ts': 125, 'rssi': -80}),
    ]
CHARGER_STATE = ('last_heartbeat', 'rssi', 'last_boot', 'vendor', 'model',
    'serial', 'firmware')
CONNECTOR_STATE = ('status', 'error_code', 'status_at', 'fault_since',
    'energy_wh', 'power_w', 'meter_at')


def _publish_day(charger, identity, base, messages):
    for kind, payload in messages:
        charger.publish(f'ev/{identity}/{kind}',
            dict(payload, ts=base + payload['ts']), wait=False)
    charger.flush()


def _day_stored(server, charger_id):
    "Every message of DAY is in the history (each is distinct)"
    counts = {kind: 0 for kind, _ in DAY}
    for kind, _ in DAY:
        counts[kind] += 1
    return all(server.count(f'ev_charger_{kind}', 'WHERE charger = %s',
            (charger_id,)) == count for kind, count in counts.items())


def _state(server, charger_id):
    "The stored state of a charger and its connector 1, field by field"
    def plain(value):
        # SQLite gives the text of a timestamp, PostgreSQL a datetime
        return str(value) if hasattr(value, 'isoformat') else value
    charger, = server.sql('SELECT %s FROM ev_charger WHERE id = %%s'
        % ', '.join(CHARGER_STATE), (charger_id,))
    connector, = server.sql('SELECT %s FROM ev_charger_connector '
        'WHERE charger = %%s AND number = 1' % ', '.join(CONNECTOR_STATE),
        (charger_id,))
    return dict(zip(CHARGER_STATE + CONNECTOR_STATE,
            map(plain, charger + connector)))


def test_latest_value_wins_whatever_the_batching(server):
    """The same messages in one batch, one message per batch, and in the
    reverse order give the same state: each field holds the value of the
    latest message (by ts) that carried it; a message without a field
    (a heartbeat without rssi, a boot without firmware) keeps it"""
    import datetime
    base = int(time.time()) - 3600
    burst, burst_reversed, single, single_reversed = identities = [
        unique('CP') for _ in range(4)]
    ids = dict(zip(identities, server.create_chargers(identities)))
    with Broker() as broker:
        # All the messages of a burst wait in the session of a stopped
        # service: they come at once at its start, in one batch
        client_id = unique('ingest')
        Ingest(server, client_id=client_id, broker_port=broker.port).start(
            ).stop()
        with Publisher(broker.port) as charger:
            _publish_day(charger, burst, base, DAY)
            _publish_day(charger, burst_reversed, base, DAY[::-1])
        with Ingest(server, client_id=client_id, broker_port=broker.port,
                batch_delay_ms=2000):
            for identity in (burst, burst_reversed):
                wait_for(lambda: _day_stored(server, ids[identity]),
                    message=f"the burst of {identity}")
        with Ingest(server, broker_port=broker.port, batch_size=1), \
                Publisher(broker.port) as charger:
            for kind, payload in DAY:
                charger.publish(f'ev/{single}/{kind}',
                    dict(payload, ts=base + payload['ts']))
            for kind, payload in DAY[::-1]:
                charger.publish(f'ev/{single_reversed}/{kind}',
                    dict(payload, ts=base + payload['ts']))
            for identity in (single, single_reversed):
                wait_for(lambda: _day_stored(server, ids[identity]),
                    message=f"the messages of {identity}")

    def at(seconds):
        return str(datetime.datetime.fromtimestamp(base + seconds,
                datetime.timezone.utc).replace(tzinfo=None))
    expected = {
        'last_heartbeat': at(130), 'rssi': -80, 'last_boot': at(100),
        'vendor': 'Delta', 'model': None, 'serial': 'SN-1',
        'firmware': '2.0',
        'status': 'Faulted', 'error_code': 'GroundFailure',
        'status_at': at(160), 'fault_since': at(155),
        'energy_wh': 900.0, 'power_w': 0.0, 'meter_at': at(150),
        }
    for identity in identities:
        assert _state(server, ids[identity]) == expected, identity


def test_entry_points():
    """The services are console scripts and modules run with python -m,
    one command line"""
    import os
    import subprocess
    import sys
    bin_ = os.path.dirname(sys.executable)
    for command, program in [
            ([os.path.join(bin_, 'ev-ingest')], 'ev-ingest'),
            ([sys.executable, '-m', 'trytond.modules.ev_charger_iot.ingest'],
                'python -m trytond.modules.ev_charger_iot.ingest'),
            ([os.path.join(bin_, 'ev-ocpp-gateway')], 'ev-ocpp-gateway'),
            ([sys.executable, '-m',
                    'trytond.modules.ev_charger_iot.gateway'],
                'python -m trytond.modules.ev_charger_iot.gateway'),
            ]:
        result = subprocess.run(command + ['--help'], capture_output=True,
            text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        # argparse wraps the usage line at the terminal's width
        assert ' '.join(result.stdout.split()).startswith(
            f'usage: {program} [-h] [-c CONFIG] -d DATABASE [-v]'), \
            result.stdout
