# This file is part of the EV operations suite.
"""Real parts for the cross-process tests of ev_charger_iot: a trytond on a
fresh database with the module, Mosquitto brokers of our own, the ingestion
service and the OCPP gateway as subprocesses, and an MQTT publisher.

Every test uses its own charger identities and client ids, so that runs in
parallel (and the stock broker on 1883 shared with others) never collide."""
import atexit
import json
import os
import signal
import subprocess
import sys
import uuid

from broker import Broker, make_certificates  # noqa: F401 (the tests')
from server import (
    ADMIN_PASSWORD, ROOT, TrytonServer, free_port, stop_process, wait_for)

STOCK_BROKER_PORT = 1883
# The OCPP password the tests give their chargers (ocpp_password)
CHARGER_PASSWORD = 'Test-Charger-Pass-0001'


def unique(prefix):
    return f'{prefix}-{uuid.uuid4().hex[:10]}'


class IotServer(TrytonServer):
    "trytond with ev_charger_iot activated and an [ev_charger_iot] section"

    modules = ('ev_charger_iot',)

    def conf_sections(self):
        "The server's configuration with the [ev_charger_iot] section"
        sections = super().conf_sections()
        self.gateway_port = free_port()
        iot = {
            'mqtt_host': '127.0.0.1',
            'mqtt_port': STOCK_BROKER_PORT,
            'batch_delay_ms': 50,
            'command_poll_ms': 200,
            'command_timeout': 60,
            'gateway_listen': f'127.0.0.1:{self.gateway_port}',
            # HTTP Basic over ws:// (the TLS tests set 2)
            'ocpp_security_profile': 1,
            }
        # `settings` still apply last
        iot.update(sections.get('ev_charger_iot', {}))
        sections['ev_charger_iot'] = iot
        return sections

    def start(self, timeout=60):
        super().start(timeout)
        self.admin = self.rpc_session('admin', ADMIN_PASSWORD)
        self.context = self.admin('model.res.user.get_preferences', True, {})
        customer, = self.admin('model.party.party.create',
            [{'name': "IoT Test Customer"}], self.context)
        self.station, = self.admin('model.ev.station.create',
            [{'customer': customer}], self.context)

    def call(self, method, *params):
        "JSON-RPC as the administrator (an EV IoT operator)"
        return self.admin(method, *params, self.context)

    def create_chargers(self, identities, power_class='l2', connectors=1,
            password=None):
        "With `password`, chargers that may connect to the OCPP gateway"
        return self.call('model.ev.charger.create', [{
                    **({'ocpp_password': password} if password else {}),
                    'identity': identity,
                    'station': self.station,
                    'power_class': power_class,
                    'current_type': 'ac' if power_class == 'l2' else 'dc',
                    'connectors': [('create', [{'number': n}
                                for n in range(1, connectors + 1)])],
                    } for identity in identities])


class DemoServer(IotServer):
    """trytond on a database loaded with the demo data set of `./ev run`
    (demo/__main__.py, every module), configured for the IoT services"""

    modules = ('ev_station', 'ev_lead', 'ev_field', 'ev_charger_iot',
        'ev_service', 'ev_helpdesk', 'ev_payout', 'ev_oem_report')

    def __init__(self, **kwargs):
        super().__init__(demo=True, data=False, prefix='ev_demo', **kwargs)

    def start(self, timeout=60):
        # The demo's own stations and chargers, not IotServer's
        TrytonServer.start(self, timeout)


_shared = {}


def shared_server():
    """One IotServer per test process, shared by the test files and removed
    when the process ends"""
    if 'server' not in _shared:
        server = IotServer(data=False)
        server.__enter__()
        _shared['server'] = server
        atexit.register(server.close)
    return _shared['server']


class Service:
    "The ingestion service or the OCPP gateway in a subprocess"

    module = 'ingest'

    def __init__(self, server, broker_port=STOCK_BROKER_PORT, args=(),
            **settings):
        self.server = server
        self.args = list(args)
        self.env = server.env(TRYTOND_EV_CHARGER_IOT__MQTT_PORT=str(
                broker_port))
        for key, value in settings.items():
            self.env[f'TRYTOND_EV_CHARGER_IOT__{key.upper()}'] = str(value)
        self.log_path = os.path.join(server.tmpdir,
            f'{self.module}-{uuid.uuid4().hex[:6]}.log')
        self.process = None

    # The console script of the service (pyproject.toml [project.scripts]),
    # else python -m trytond.modules.ev_charger_iot.<module>
    script = None

    def command(self):
        if self.script:
            program = [os.path.join(os.path.dirname(sys.executable),
                    self.script)]
        else:
            program = [sys.executable, '-m',
                f'trytond.modules.ev_charger_iot.{self.module}']
        return program + ['-c', self.server.conf, '-d',
            self.server.database, *self.args]

    def start(self):
        log = open(self.log_path, 'a')
        # A restart appends to the log: wait_ready reads what this start
        # wrote
        self.log_start = log.tell()
        self.process = subprocess.Popen(self.command(), stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT,
            env=self.env)
        log.close()
        return self

    def wait_ready(self, text, timeout=60):
        wait_for(lambda: text in self.log()[self.log_start:]
            or self.process.poll() is not None,
            timeout=timeout, message=f"{self.module} to log {text!r}")
        assert self.process.poll() is None, self.log()

    def log(self):
        with open(self.log_path) as fp:
            return fp.read()

    def kill(self):
        "SIGKILL: no chance to finish a batch or to say goodbye"
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self):
        # The service gives its writer up to 60 s and the broker 15 s to
        # finish (ingest.finish): a test must not kill it sooner, or a
        # loaded machine loses the goodbye line the tests read
        stop_process(self.process, timeout=90)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        self.stop()
        if exc_type is not None:
            # Shown by pytest with the failure
            print(f"--- {self.module} log ---\n{self.log()[-8000:]}")


class Ingest(Service):
    module = 'ingest'
    script = 'ev-ingest'

    def __init__(self, server, client_id=None, **kwargs):
        self.client_id = client_id or unique('ingest')
        super().__init__(server, args=['--client-id', self.client_id],
            **kwargs)

    def start(self):
        super().start()
        self.wait_ready("connected to the broker")
        return self


class DemoChargers(Service):
    "The demo chargers of `./ev run` (demo/chargers.py), every second"

    module = 'demo-chargers'

    def command(self):
        return [sys.executable, '-m', 'demo.chargers', '-c',
            self.server.conf, '--period', '1']

    def start(self):
        super().start()
        self.wait_ready("demo chargers connected")
        return self


class Gateway(Service):
    module = 'gateway'

    def __init__(self, server, **kwargs):
        kwargs.setdefault('gateway_client_id', unique('gateway'))
        super().__init__(server, **kwargs)

    def start(self):
        super().start()
        self.wait_ready("gateway listening")
        return self


def mqtt_client(prefix, ca_certs=None, username=None, password=None):
    "A paho MQTT 5 client of the tests, with TLS and a login if given"
    from paho.mqtt.client import CallbackAPIVersion, Client, MQTTv5
    client = Client(callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=unique(prefix), protocol=MQTTv5)
    if ca_certs:
        client.tls_set(ca_certs=ca_certs)
    if username:
        client.username_pw_set(username, password)
    return client


class Publisher:
    """A charger's side of MQTT: QoS 1 publications, each acknowledged;
    keeps what the broker answered to its login (`connack`) and to each
    publication (`pubacks`: mid → reason)"""

    def __init__(self, port=STOCK_BROKER_PORT, ca_certs=None, username=None,
            password=None):
        import threading
        self.client = mqtt_client('charger', ca_certs, username, password)
        self.answered = threading.Event()
        self.connack = None
        self.pubacks = {}

        def on_connect(client, userdata, flags, reason_code, properties):
            if self.connack is None:
                self.connack = str(reason_code)
            self.answered.set()

        def on_publish(client, userdata, mid, reason_code, properties):
            self.pubacks[mid] = str(reason_code)
        self.client.on_connect = on_connect
        self.client.on_publish = on_publish
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        self.client.connect('127.0.0.1', port)
        self.client.loop_start()
        self.infos = []

    def publish(self, topic, payload, wait=True):
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=1)
        self.infos.append(info)
        if wait:
            info.wait_for_publish(timeout=30)
            assert info.is_published(), topic
        return info

    def flush(self, timeout=120):
        for info in self.infos:
            info.wait_for_publish(timeout=timeout)
            assert info.is_published()
        self.infos = []

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Subscriber:
    "Keeps what arrives on a topic filter (to see the published commands)"

    def __init__(self, topic, port=STOCK_BROKER_PORT, ca_certs=None,
            username=None, password=None):
        """`topic`: a filter or a list of filters"""
        import threading
        self.messages = []
        self.ready = threading.Event()
        self.client = mqtt_client('watch', ca_certs, username, password)
        topics = [topic] if isinstance(topic, str) else topic

        def on_connect(client, userdata, flags, reason_code, properties):
            client.subscribe([(t, 1) for t in topics])

        def on_subscribe(client, userdata, mid, reason_codes, properties):
            self.ready.set()

        def on_message(client, userdata, message):
            self.messages.append((message.topic, json.loads(message.payload)))
        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect('127.0.0.1', port)
        self.client.loop_start()
        assert self.ready.wait(20)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def iso(seconds_ago=0, base=None):
    "An ISO 8601 UTC timestamp `seconds_ago` before now (or base)"
    import datetime
    base = base or datetime.datetime.now(datetime.timezone.utc).replace(
        microsecond=0)
    return (base - datetime.timedelta(seconds=seconds_ago)).isoformat()\
        .replace('+00:00', 'Z')
