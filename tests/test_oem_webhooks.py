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

from server import ADMIN_PASSWORD, OEMS, free_port
from test_oem_api import call, new_body

SECRET = 'shared-secret-of-mg'
MG_KEY = OEMS[1][2]


class Receiver:
    "An OEM's endpoint: keeps what it receives, can fail on demand"

    def __init__(self):
        self.port = free_port()
        self.received = []
        self.fail_next = 0
        self.server = None

    @property
    def url(self):
        return f'http://127.0.0.1:{self.port}/ev-hook'

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers['Content-Length']))
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
            'ev_webhook_secret': SECRET}, {})
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
    admin.model.ev.lead.webhook.deliver_due({})
    assert deliveries(server, lead['id']) == [('pending', 2)]

    # Back, but answering 503 once, then fine
    receiver.start()
    receiver.fail_next = 1
    for _ in range(20):
        time.sleep(0.5)
        admin.model.ev.lead.webhook.deliver_due({})
        if deliveries(server, lead['id'])[0][0] == 'sent':
            break
    assert deliveries(server, lead['id']) == [('sent', 4)]
    assert [e['status'] for e in receiver.events()] == ['on_hold']

    # Delivered means delivered once: more runs send nothing
    time.sleep(1.2)
    admin.model.ev.lead.webhook.deliver_due({})
    assert len(receiver.received) == 1


def test_oem_without_url_gets_no_webhook(server):
    "A lead of an OEM without a webhook URL is not queued"
    body = new_body()
    status, lead = call(server, 'POST', 'leads', body, OEMS[0][2])
    assert status == 201
    admin_proxy(server).model.sale.opportunity.mark_contacted(
        [lead['id']], {})
    assert deliveries(server, lead['id']) == []
