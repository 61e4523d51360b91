# This file is part of the EV operations suite.
"""The demo chargers of `./ev run` (demo/chargers.py) through a real broker
and the ingestion service: every health bucket shows in the back office,
and a command sent from it is answered"""
import pytest

from iot_tools import Broker, DemoChargers, Ingest, shared_server, wait_for

pytestmark = pytest.mark.backend_independent

# What demo/chargers.py plays for each demo charger
EXPECTED = {
    'CP-DEMO-01': ('l2', 'available'),
    'CP-DEMO-02': ('l2', 'charging'),
    'CP-DEMO-03': ('l3', 'faulted'),
    'CP-DEMO-04': ('l3', 'weak_signal'),
    'CP-DEMO-05': ('l2', 'offline'),
    'CP-DEMO-06': ('l3', 'charging'),
    }


@pytest.fixture(scope='module')
def server():
    return shared_server()


def test_demo_chargers(server):
    ids = {}
    for identity, (power_class, _) in EXPECTED.items():
        ids[identity], = server.create_chargers([identity],
            power_class=power_class, connectors=2)

    def health():
        return dict(server.sql('SELECT identity, health FROM ev_charger '
                'WHERE identity LIKE %s', ('CP-DEMO-%',)))
    expected = {i: h for i, (_, h) in EXPECTED.items()}
    with Broker() as broker, Ingest(server, broker_port=broker.port), \
            DemoChargers(server, broker_port=broker.port) as chargers:
        wait_for(lambda: health() == expected, timeout=60,
            message="every health bucket")

        def energy():
            return server.sql('SELECT MAX(energy_wh) FROM ev_charger_meter '
                'WHERE charger = %s', (ids['CP-DEMO-02'],))[0][0] or 0
        first = energy()
        wait_for(lambda: energy() > first, message="the energy to grow")
        server.call('model.ev.charger.reset', [ids['CP-DEMO-01']])
        wait_for(lambda: server.sql('SELECT state, detail FROM '
                'ev_charger_command WHERE charger = %s',
                (ids['CP-DEMO-01'],)) == [
                ('accepted', "demo charger: Reset done")],
            message="the answer to the Reset")
        assert chargers.process.poll() is None
    assert server.count('ev_charger_heartbeat', 'WHERE charger = %s',
        (ids['CP-DEMO-05'],)) == 0
