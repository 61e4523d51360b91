# This file is part of the EV operations suite.
"""The load of the soak run (soak.py, `./ev soak`): the simulated chargers
on MQTT and the API clients (OEM intake and status over REST, back-office
reads over JSON-RPC), each keeping what it sent and what it was answered
for the soak's figures and its exactly-once check."""
import base64
import datetime
import http.client
import itertools
import json
import random
import time
import uuid

from bench_iot import TOPICS, identity, mqtt_client, telemetry
from bench_lead import Client, intake_body
from server import OEMS

OEM_KEY = OEMS[0][2]
OPS_LOGIN, OPS_PASSWORD = 'soak-ops', 'soak-ops-pass-1'
ENDPOINTS = ['oem_intake', 'oem_status', 'rpc_stations', 'rpc_leads']


def create_ops_user(database):
    """The back-office user of the JSON-RPC reads: EV Central Ops (the
    leads) and EV Sales (the stations); the pool is this process's"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    with Transaction().start(database, 0) as transaction:
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        User.create([{'login': OPS_LOGIN, 'name': "Soak Central Ops",
                    'password': OPS_PASSWORD, 'groups': [('add', [
                                ModelData.get_id('ev_lead',
                                    'group_central_ops'),
                                ModelData.get_id('ev_station',
                                    'group_sales')])]}])
        transaction.commit()


class Chargers:
    """`count` chargers, each publishing one message every `interval`
    seconds, their starts spread over the interval; keeps (identity, kind,
    ts) of every message with its publication's acknowledgement"""

    TICK = 0.1

    def __init__(self, port, count, interval):
        self.port, self.count, self.interval = port, count, interval
        self.sent = []  # (identity, kind, ts, MQTTMessageInfo)

    def run(self, stop):
        client = mqtt_client('soak-chargers-' + uuid.uuid4().hex[:6])
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.connect('127.0.0.1', self.port)
        client.loop_start()
        slots = max(1, round(self.interval / self.TICK))
        started = time.monotonic()
        try:
            for tick in itertools.count():
                if stop.is_set():
                    break
                now = datetime.datetime.utcnow()
                ts = now.isoformat(timespec='milliseconds') + 'Z'
                n = tick // slots
                for charger in range(tick % slots, self.count, slots):
                    kind = TOPICS[(n + charger) % 3]
                    topic, payload = telemetry(charger, kind, n, ts)
                    self.sent.append((identity(charger), kind,
                            now.replace(microsecond=now.microsecond
                                // 1000 * 1000),
                            client.publish(topic, payload, qos=1)))
                delay = started + (tick + 1) * self.TICK - time.monotonic()
                if delay > 0:
                    stop.wait(delay)
            for *_, info in self.sent:
                try:
                    info.wait_for_publish(timeout=60)
                except RuntimeError:
                    # The broker is gone (Ctrl-C): what it did not
                    # acknowledge was not published
                    break
        finally:
            client.disconnect()
            client.loop_stop()

    def published(self):
        "{(identity, kind, ts)} of the messages the broker acknowledged"
        return {(i, k, ts) for i, k, ts, info in self.sent
            if info.is_published()}


class APIClient:
    "One API client: a connection, a session, the four requests in turn"

    def __init__(self, soak, number):
        self.soak = soak
        self.number = number
        self.http = Client(soak.server.port)
        self.database = soak.server.database
        self.session = None

    def login(self):
        status, payload = self.timed('rpc_login', 'POST',
            f'/{self.database}/rpc/', {'id': 0, 'method': 'common.db.login',
                'params': [OPS_LOGIN, {'password': OPS_PASSWORD}, 'en']})
        user_id, session = json.loads(payload)['result'][:2]
        token = base64.b64encode(
            f'{OPS_LOGIN}:{user_id}:{session}'.encode()).decode()
        self.session = {'Authorization': f'Session {token}'}

    def run(self, stop):
        for turn in itertools.count(self.number):
            if stop.is_set():
                return
            endpoint = ENDPOINTS[turn % len(ENDPOINTS)]
            try:
                if self.session is None:
                    self.login()
                getattr(self, endpoint)()
            except (OSError, http.client.HTTPException):
                # Counted by `timed`; the next request on a new connection
                time.sleep(0.1)

    def timed(self, endpoint, method, path, body=None, headers=None):
        "The request, counted when it ends (answered or failed)"
        try:
            status, payload, ms = self.http.request(method, path, body,
                headers, retry=False)
        except (OSError, http.client.HTTPException):
            self.soak.record(endpoint, time.monotonic(), None, 'connection')
            raise
        self.soak.record(endpoint, time.monotonic(), ms, status)
        return status, payload

    def oem_intake(self):
        """A new lead; a broken connection sends the same body again (the
        reference makes it idempotent) until it is answered"""
        number = next(self.soak.numbers)
        body = intake_body(self.soak.run_id, number)
        reference = body['oem_reference']
        self.soak.sent_references.add(reference)
        path = f'/{self.database}/ev/api/v1/leads'
        headers = {'Authorization': f'Bearer {OEM_KEY}'}
        for attempt in itertools.count():
            try:
                status, payload = self.timed('oem_intake', 'POST', path,
                    body, headers)
            except (OSError, http.client.HTTPException):
                if (time.monotonic() > self.soak.give_up
                        or self.soak.aborted.is_set()):
                    raise
                time.sleep(0.2)
                continue
            break
        self.soak.answered(reference, status, attempt, payload)

    def oem_status(self):
        if not self.soak.accepted:
            return self.oem_intake()
        reference = random.choice(self.soak.accepted)
        status, payload = self.timed('oem_status', 'GET',
            f'/{self.database}/ev/api/v1/leads/{reference}',
            headers={'Authorization': f'Bearer {OEM_KEY}'})
        self.soak.expect('oem_status', status, 200, payload)

    def rpc(self, endpoint, method, fields, order):
        status, payload = self.timed(endpoint, 'POST',
            f'/{self.database}/rpc/', {'id': 1, 'method': method,
                'params': [[], 0, 20, order, fields, {}]}, self.session)
        if status == 401:
            self.session = None
        self.soak.expect(endpoint, status, 200, payload)
        if status == 200 and 'error' in json.loads(payload):
            self.soak.problems.append(f'{endpoint}: {payload[:300]!r}')

    def rpc_stations(self):
        self.rpc('rpc_stations', 'model.ev.station.search_read',
            ['rec_name', 'customer', 'stage'], [('id', 'DESC')])

    def rpc_leads(self):
        self.rpc('rpc_leads', 'model.sale.opportunity.search_read',
            ['reference', 'state', 'party', 'oem_reference'],
            [('id', 'DESC')])
