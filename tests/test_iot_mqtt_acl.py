# This file is part of the EV operations suite.
"""The production broker's access control, tried as an outsider would: a
Mosquitto of our own with TLS only, a password file and the ACL shipped in
docs/mosquitto/acl. A charger publishes under its own topic only and reads
its own commands only; an anonymous client or a wrong password is refused;
the ingestion service logs in with its own credentials and stores what a
charger says of itself."""
import os
import time

import pytest

from iot_tools import (
    Broker, Ingest, Publisher, Subscriber, iso, shared_server, unique,
    wait_for)
from server import ROOT
from test_iot_ocpp import command_state

pytestmark = pytest.mark.backend_independent

ACL = os.path.join(ROOT, 'docs', 'mosquitto', 'acl')
PASSWORDS = ['A-charger-password-01', 'B-charger-password-02']


@pytest.fixture(scope='module')
def server():
    return shared_server()


def heartbeats(server, charger_id):
    return server.count('ev_charger_heartbeat', 'WHERE charger = %s',
        (charger_id,))


def test_chargers_stay_in_their_own_topics(server):
    charger_a, charger_b = unique('MQ-A'), unique('MQ-B')
    id_a, id_b = server.create_chargers([charger_a, charger_b])
    logins = dict(zip([charger_a, charger_b], PASSWORDS))
    with Broker(secure=True, users=logins, acl_file=ACL) as broker:
        tls = {'ca_certs': broker.ca_certs}

        def login(username=None, password=None):
            client = Publisher(broker.port, username=username,
                password=password, **tls)
            assert client.answered.wait(20)
            client.close()
            return client.connack
        refused = [login(), login(charger_a, PASSWORDS[1])]
        with Ingest(server, broker_port=broker.port, mqtt_tls=True,
                    mqtt_ca_certs=broker.ca_certs,
                    mqtt_username=Broker.USERNAME,
                    mqtt_password=Broker.PASSWORD), \
                Publisher(broker.port, username=charger_a,
                    password=PASSWORDS[0], **tls) as a, \
                Publisher(broker.port, username=charger_b,
                    password=PASSWORDS[1], **tls) as b:
            commands_a = Subscriber(f'ev/{charger_a}/cmd', broker.port,
                username=charger_a, password=PASSWORDS[0], **tls)
            # B listens where A's commands go, by name and by wildcard
            commands_b = Subscriber([f'ev/{charger_a}/cmd', 'ev/+/cmd'],
                broker.port, username=charger_b, password=PASSWORDS[1],
                **tls)
            try:
                # B speaks for A: a heartbeat that would keep A online
                forged = b.publish(f'ev/{charger_a}/heartbeat',
                    {'ts': iso(30)})
                own = a.publish(f'ev/{charger_a}/heartbeat', {'ts': iso(10)})
                wait_for(lambda: heartbeats(server, id_a) == 1,
                    message="A's own heartbeat")
                server.call('model.ev.charger.reset', [id_a])
                wait_for(lambda: commands_a.messages,
                    message="A's command at A")
                (_, command), = commands_a.messages
                a.publish(f'ev/{charger_a}/cmd/result', {'id': command['id'],
                        'status': 'Accepted', 'detail': "done"})
                wait_for(lambda: command_state(server, id_a, 'Reset')
                    == ('accepted', 'done'), message="A's result stored")
                time.sleep(1)  # time for a copy of A's command to reach B
                received_b = list(commands_b.messages)
            finally:
                commands_a.close()
                commands_b.close()
        log = broker.log_tail()
    assert refused == ['Not authorized', 'Not authorized']
    assert b.pubacks[forged.mid] == 'Not authorized'
    assert a.pubacks[own.mid] == 'Success'
    assert received_b == []
    assert heartbeats(server, id_a) == 1  # A's own, not B's forgery
    assert heartbeats(server, id_b) == 0
    assert f"u'{charger_b}'" in log  # B did log in: refused for the topic
