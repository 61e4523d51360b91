# This file is part of the EV operations suite.
"""Status webhooks to an OEM, received by a real local HTTP server: signed,
retried while the receiver is down or failing, delivered once."""
import hashlib
import hmac
import http.server
import json
import threading
import time
import xmlrpc.client

import pytest

from server import ADMIN_PASSWORD, OEMS, USER_LOGIN, USER_PASSWORD, free_port
from test_oem_api import call, new_body

SECRET = 'shared-secret-of-mg'
MG_KEY = OEMS[1][2]


class Receiver:
    "An OEM's endpoint: keeps what it receives, can fail on demand"

    def __init__(self):
        self.port = free_port()
        self.received = []
        self.fail_next = 0
        self.redirect_to = None
        self.server = None

    @property
    def url(self):
        return f'http://127.0.0.1:{self.port}/ev-hook'

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers['Content-Length']))
                if receiver.redirect_to:
                    self.send_response(302)
                    self.send_header('Location', receiver.redirect_to)
                    self.end_headers()
                    return
                if receiver.fail_next:
                    receiver.fail_next -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.received.append((self.headers, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass
        self.server = http.server.ThreadingHTTPServer(
            ('127.0.0.1', self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def events(self):
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver(server):
    receiver = Receiver()
    receiver.start()
    admin = admin_proxy(server)
    oem_id, = admin.model.party.party.search(
        [('name', '=', OEMS[1][1])], 0, None, None, {})
    admin.model.party.party.write([oem_id], {
            'ev_webhook_url': receiver.url,
            'ev_webhook_new_secret': SECRET}, {})
    yield receiver
    if receiver.server:
        try:
            receiver.stop()
        except OSError:
            pass


def admin_proxy(server):
    return xmlrpc.client.ServerProxy(
        f'http://admin:{ADMIN_PASSWORD}@127.0.0.1:{server.port}/'
        f'{server.database}/rpc/', allow_none=True)


def run_retries(admin):
    "Run the cron of the due webhook retries now (Tryton's Run Once)"
    cron_ids = admin.model.ir.cron.search(
        [('method', '=', 'ev.lead.webhook|deliver_due')], 0, None, None, {})
    admin.model.ir.cron.run_once(cron_ids, {})


def new_lead(server):
    body = new_body()
    status, lead = call(server, 'POST', 'leads', body, MG_KEY)
    assert status == 201, lead
    return lead


def deliveries(server, lead_id):
    return server.sql(
        'SELECT w.state, COUNT(a.id) FROM ev_lead_webhook w '
        'LEFT JOIN ev_outbox_attempt a '
        "ON a.item = 'ev.lead.webhook,' || w.id "
        'WHERE w.lead = %s GROUP BY w.id, w.state ORDER BY w.id',
        (lead_id,))


def test_status_change_is_signed_and_delivered(server, receiver):
    lead = new_lead(server)
    admin_proxy(server).model.sale.opportunity.mark_contacted(
        [lead['id']], {})
    (headers, body), = receiver.received
    expected = 'sha256=' + hmac.new(
        SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers.get('X-EV-Signature') == expected
    event = json.loads(body)
    assert set(event) == {'event_id', 'oem_reference', 'status',
        'occurred_at'}
    assert event['oem_reference'] == lead['oem_reference']
    assert event['status'] == 'contacted'
    assert deliveries(server, lead['id']) == [('sent', 1)]


def test_delivery_after_the_receiver_was_down(server, receiver):
    admin = admin_proxy(server)
    lead = new_lead(server)
    receiver.stop()
    admin.model.sale.opportunity.hold([lead['id']], {})
    assert deliveries(server, lead['id']) == [('pending', 1)]
    (error,), = server.sql(
        'SELECT a.error FROM ev_outbox_attempt a '
        "JOIN ev_lead_webhook w ON a.item = 'ev.lead.webhook,' || w.id "
        'WHERE w.lead = %s',
        (lead['id'],))
    assert error

    # Still down at the first retry
    time.sleep(1.2)
    run_retries(admin)
    assert deliveries(server, lead['id']) == [('pending', 2)]

    # Back, but answering 503 once, then fine
    receiver.start()
    receiver.fail_next = 1
    for _ in range(20):
        time.sleep(0.5)
        run_retries(admin)
        if deliveries(server, lead['id'])[0][0] == 'sent':
            break
    assert deliveries(server, lead['id']) == [('sent', 4)]
    assert [e['status'] for e in receiver.events()] == ['on_hold']

    # Delivered means delivered once: more runs send nothing
    time.sleep(1.2)
    run_retries(admin)
    assert len(receiver.received) == 1


def test_oem_without_url_gets_no_webhook(server):
    "A lead of an OEM without a webhook URL is not queued"
    body = new_body()
    status, lead = call(server, 'POST', 'leads', body, OEMS[0][2])
    assert status == 201
    admin_proxy(server).model.sale.opportunity.mark_contacted(
        [lead['id']], {})
    assert deliveries(server, lead['id']) == []


def mg_party(admin):
    oem_id, = admin.model.party.party.search(
        [('name', '=', OEMS[1][1])], 0, None, None, {})
    return oem_id


def test_only_the_ev_admin_sets_webhooks(server, receiver):
    "A sales user cannot point an OEM's webhooks elsewhere nor change the key"
    sales = xmlrpc.client.ServerProxy(
        f'http://{USER_LOGIN}:{USER_PASSWORD}@127.0.0.1:{server.port}/'
        f'{server.database}/rpc/', allow_none=True)
    oem_id = mg_party(admin_proxy(server))
    for values in [{'ev_webhook_url': 'http://127.0.0.1:9/steal'},
            {'ev_webhook_new_secret': 'known-to-the-attacker'}]:
        with pytest.raises(xmlrpc.client.Fault) as error:
            sales.model.party.party.write([oem_id], values, {})
        assert ('Only an EV Operations Administrator sets where the status '
            'webhooks of an OEM go and their secret.'
            in error.value.faultString), values
    with pytest.raises(xmlrpc.client.Fault) as error:
        sales.model.party.party.create([{'name': "Fake OEM",
                    'ev_webhook_url': 'http://127.0.0.1:9/steal'}], {})
    assert 'Only an EV Operations Administrator' in error.value.faultString
    assert server.sql('SELECT ev_webhook_url, ev_webhook_secret FROM '
        'party_party WHERE id = %s', (oem_id,)) == [(receiver.url, SECRET)]


def test_webhook_secret_is_write_only(server, receiver):
    "Not even the administrator reads the secret back, or searches on it"
    admin = admin_proxy(server)
    oem_id = mg_party(admin)
    for call_ in [
            lambda: admin.model.party.party.read(
                [oem_id], ['ev_webhook_secret'], {}),
            lambda: admin.model.party.party.search(
                [('ev_webhook_secret', '=', SECRET)], 0, None, None, {}),
            lambda: admin.model.party.party.write(
                [oem_id], {'ev_webhook_secret': 'x'}, {}),
            ]:
        with pytest.raises(xmlrpc.client.Fault) as error:
            call_()
        assert 'You are not allowed to' in error.value.faultString
    party, = admin.model.party.party.read(
        [oem_id], ['ev_webhook_new_secret'], {})
    assert party['ev_webhook_new_secret'] is None
    admin.model.party.party.write(
        [oem_id], {'ev_webhook_new_secret': 'rotated-secret'}, {})
    assert server.sql('SELECT ev_webhook_secret FROM party_party '
        'WHERE id = %s', (oem_id,)) == [('rotated-secret',)]


@pytest.mark.parametrize('url, reason', [
        ('ftp://example.com/hook', "must use http or https"),
        ('https://169.254.169.254/latest/meta-data',
            "points to an address that is not public: 169.254.169.254"),
        ('https://10.20.30.40/hook',
            "points to an address that is not public: 10.20.30.40"),
        ('https://[::1]:8000/hook',
            "points to an address that is not public: ::1"),
        ('http://0.0.0.0:8000/hook',
            "points to an address that is not public: 0.0.0.0"),
        ('https://ops:secret@example.com/hook',
            "must not carry credentials"),
        ])
def test_webhook_destination_refused(server, receiver, url, reason):
    "The administrator cannot aim the webhooks inside (a port scanner)"
    admin = admin_proxy(server)
    oem_id = mg_party(admin)
    with pytest.raises(xmlrpc.client.Fault) as error:
        admin.model.party.party.write([oem_id], {'ev_webhook_url': url}, {})
    assert f'The webhook URL "{url}" {reason}.' in error.value.faultString
    assert 'Traceback' not in error.value.faultString
    assert server.sql('SELECT ev_webhook_url FROM party_party '
        'WHERE id = %s', (oem_id,)) == [(receiver.url,)]


def test_redirect_is_not_followed(server, receiver):
    "A 3xx answer is a failed attempt: the redirect could point inside"
    inside = Receiver()
    inside.start()
    try:
        receiver.redirect_to = inside.url
        lead = new_lead(server)
        admin_proxy(server).model.sale.opportunity.mark_contacted(
            [lead['id']], {})
        assert deliveries(server, lead['id']) == [('pending', 1)]
        assert server.sql(
            'SELECT a.error, a.status_code FROM ev_outbox_attempt a '
            "JOIN ev_lead_webhook w ON a.item = 'ev.lead.webhook,' || w.id "
            'WHERE w.lead = %s', (lead['id'],)) == [('HTTP 302', 302)]
        assert inside.received == []
    finally:
        inside.stop()


@pytest.mark.parametrize('method', ['deliver_due', 'deliver', 'enqueue'])
def test_delivery_is_not_an_rpc(server, method):
    "Nobody, the administrator included, calls the delivery over RPC"
    admin = admin_proxy(server)
    webhook_ids = admin.model.ev.lead.webhook.search(
        [], 0, 1, None, {})
    args = ({},) if method == 'deliver_due' else (webhook_ids, {})
    # Tryton answers 403 to a method that is not in __rpc__
    with pytest.raises(xmlrpc.client.ProtocolError) as error:
        getattr(admin.model.ev.lead.webhook, method)(*args)
    assert error.value.errcode == 403
