# This file is part of the EV operations suite.
"""WhatsApp Business of ev_helpdesk against a real trytond and a fake Graph
API (addons/ev_helpdesk/tests/fake_graph.py) that also sends the signed
webhooks, as Meta does: the signature and the challenge, exactly-once
storage under concurrent redelivery, media, the 24-hour window, statuses."""
import importlib.util
import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
import xmlrpc.client

import pytest

from server import ADMIN_PASSWORD, ROOT, TrytonServer

_spec = importlib.util.spec_from_file_location('fake_graph', os.path.join(
        ROOT, 'addons', 'ev_helpdesk', 'tests', 'fake_graph.py'))
fake_graph = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fake_graph)
FakeGraph = fake_graph.FakeGraph
notification = fake_graph.notification
text_message = fake_graph.text_message

CUSTOMER = '919845012345'


def admin_proxy(server, database=None):
    return xmlrpc.client.ServerProxy(
        f'http://admin:{ADMIN_PASSWORD}@127.0.0.1:{server.port}/'
        f'{database or server.database}/rpc/', allow_none=True)


def configure(server, graph, database=None, secret=None):
    admin = admin_proxy(server, database)
    admin.model.ev.helpdesk.configuration.write([1], {
            'whatsapp_graph_url': graph.url,
            'whatsapp_api_version': fake_graph.VERSION,
            'whatsapp_phone_number_id': fake_graph.PHONE_NUMBER_ID,
            'whatsapp_access_token': fake_graph.ACCESS_TOKEN,
            'whatsapp_app_secret': secret or fake_graph.APP_SECRET,
            'whatsapp_verify_token': fake_graph.VERIFY_TOKEN,
            'whatsapp_template': 'follow_up',
            'whatsapp_template_language': 'en',
            'whatsapp_media_max_bytes': 1000,
            }, {})
    return admin


@pytest.fixture(scope='module')
def graph():
    graph = FakeGraph().start()
    yield graph
    graph.stop()


@pytest.fixture(scope='module')
def wa(graph):
    "A trytond with ev_helpdesk, configured for the fake Graph API"
    with TrytonServer(modules=('ev_helpdesk',), prefix='ev_wa') as server:
        admin = configure(server, graph)
        admin.model.party.party.create([{
                    'name': "Asha Rao",
                    'contact_mechanisms': [['create', [{
                                    'type': 'mobile',
                                    'value': '+' + CUSTOMER}]]],
                    }], {})
        yield server


def webhook_url(server, database=None):
    return (f'{server.url}{database or server.database}'
        '/ev/whatsapp/webhook')


_counter = iter(range(10 ** 6))


def new_wamid():
    return f'wamid.TEST{time.time_ns()}{next(_counter)}'


def messages_of(server, wamid):
    return server.count('ev_helpdesk_whatsapp_message',
        'WHERE wamid = %s', (wamid,))


def requests_with(server, text):
    return server.count('ev_helpdesk_request', 'WHERE text = %s', (text,))


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.headers['Content-Type'], \
                answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers['Content-Type'], \
            error.read().decode()


def test_subscription_challenge(wa):
    url = webhook_url(wa)
    status, content_type, body = get(
        f'{url}?hub.mode=subscribe&hub.challenge=1158201444'
        f'&hub.verify_token={fake_graph.VERIFY_TOKEN}')
    assert (status, content_type, body) == (
        200, 'text/plain', '1158201444')
    status, content_type, body = get(
        f'{url}?hub.mode=subscribe&hub.challenge=1158201444'
        '&hub.verify_token=guessed')
    assert (status, content_type, json.loads(body)) == (
        403, 'application/json',
        {'error': "the verify token does not match"})


@pytest.mark.parametrize('signature', [False, 'sha256=' + '0' * 64,
        'sha1=abc'])
def test_bad_or_missing_signature_is_refused(wa, graph, signature):
    wamid = new_wamid()
    payload = notification([text_message(wamid, CUSTOMER, "Forged")])
    status, body = graph.send_webhook(webhook_url(wa), payload,
        signature=signature)
    assert (status, body) == (401, {
            'error': "missing or invalid X-Hub-Signature-256"})
    assert messages_of(wa, wamid) == 0
    assert requests_with(wa, "Forged") == 0


def test_a_body_that_is_not_json(wa, graph):
    status, body = graph.send_webhook(webhook_url(wa), None,
        raw=b'entry=1&object=whatsapp')
    assert (status, body) == (400, {
            'errors': {'': "the body is not valid JSON"}})
    status, body = graph.send_webhook(webhook_url(wa), {'object': 'page'})
    assert (status, body) == (400, {
            'errors': {'object': "must be whatsapp_business_account"}})
    payload = notification([text_message(new_wamid(), CUSTOMER, "x")])
    del payload['entry'][0]['changes'][0]['value']['messages'][0]['id']
    status, body = graph.send_webhook(webhook_url(wa), payload)
    assert (status, body) == (400, {'errors': {
                'entry[0].changes[0].value.messages[0].id':
                "must be a non-empty string"}})


def test_an_oversized_body(wa, graph):
    payload = notification([text_message(new_wamid(), CUSTOMER,
                "x" * 70000)])
    status, body = graph.send_webhook(webhook_url(wa), payload)
    assert (status, body) == (413, {
            'errors': {'': "the body is larger than 65536 bytes"}})


def test_message_opens_one_request(wa, graph):
    wamid = new_wamid()
    payload = notification([text_message(wamid, CUSTOMER,
                "Charger at my home shows red light")])
    status, body = graph.send_webhook(webhook_url(wa), payload)
    assert (status, body) == (200,
        {'messages': 1, 'duplicates': 0, 'statuses': 0})
    (phone, party, direction, kind, request), = wa.sql(
        'SELECT m.phone, p.name, m.direction, m.type, r.sender '
        'FROM ev_helpdesk_whatsapp_message m '
        'JOIN party_party p ON p.id = m.party '
        'JOIN ev_helpdesk_request r ON r.id = m.request '
        'WHERE m.wamid = %s', (wamid,))
    assert (phone, party, direction, kind, request) == (
        '+919845012345', "Asha Rao", 'in', 'text', '+919845012345')
    # Meta retries: answered 200, stored once
    status, body = graph.send_webhook(webhook_url(wa), payload)
    assert (status, body) == (200,
        {'messages': 0, 'duplicates': 1, 'statuses': 0})
    assert messages_of(wa, wamid) == 1
    assert requests_with(wa, "Charger at my home shows red light") == 1


def test_concurrent_redelivery_is_stored_once(wa, graph):
    "The same message POSTed three times at once: one message, one request"
    wamid = new_wamid()
    text = f"Payment failed twice {wamid}"
    payload = notification([text_message(wamid, CUSTOMER, text)])
    barrier = threading.Barrier(3)
    results = []

    def deliver():
        barrier.wait()
        results.append(graph.send_webhook(webhook_url(wa), payload))
    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in results] == [200, 200, 200], results
    assert messages_of(wa, wamid) == 1
    assert requests_with(wa, text) == 1


def test_media_is_stored_as_attachment(wa, graph):
    data = b'\xff\xd8\xff\xe0' + b'JPEG-BYTES' * 20
    graph.add_media('media-ok-1', data, 'image/jpeg')
    wamid = new_wamid()
    payload = notification([fake_graph.media_message(wamid, CUSTOMER,
                'image', 'media-ok-1', 'image/jpeg',
                caption="Photo of the display")])
    status, body = graph.send_webhook(webhook_url(wa), payload)
    assert status == 200, body
    (message_id, request_id, state, mime_type, error), = wa.sql(
        'SELECT id, request, media_state, mime_type, media_error '
        'FROM ev_helpdesk_whatsapp_message WHERE wamid = %s', (wamid,))
    assert (state, mime_type, error) == ('stored', 'image/jpeg', None)
    rows = wa.sql('SELECT resource, name, data FROM ir_attachment '
        'WHERE resource IN (%s, %s) ORDER BY resource', (
            f'ev.helpdesk.request,{request_id}',
            f'ev.helpdesk.whatsapp.message,{message_id}'))
    assert [(r, n, bytes(d)) for r, n, d in rows] == [
        (f'ev.helpdesk.request,{request_id}', 'media-ok-1.jpeg', data),
        (f'ev.helpdesk.whatsapp.message,{message_id}', 'media-ok-1.jpeg',
            data)]
    # Fetched with the access token: the URL, then the bytes
    fetched = [(m, p, h.get('Authorization')) for m, p, h, _
        in graph.requests if 'media-ok-1' in p]
    assert fetched == [
        ('GET', '/v21.0/media-ok-1', f'Bearer {fake_graph.ACCESS_TOKEN}'),
        ('GET', '/media/media-ok-1', f'Bearer {fake_graph.ACCESS_TOKEN}')]
    # The request says what came
    assert wa.sql('SELECT text FROM ev_helpdesk_request WHERE id = %s',
        (request_id,)) == [("Photo of the display",)]


@pytest.mark.parametrize('media_id,data,mime_type,size,reason', [
        ('media-big', b'x' * 1001, 'application/pdf', None,
            "The media is refused: its size (1001 bytes) is over the limit "
            "of 1000 bytes."),
        ('media-lying', b'x' * 5000, 'application/pdf', 10,
            "The media is refused: its size (> 1000 bytes) is over the "
            "limit of 1000 bytes."),
        ('media-exe', b'MZ' * 10, 'application/x-msdownload', None,
            'The media is refused: its type "application/x-msdownload" is '
            'not accepted for a Document (application/msword, '
            'application/pdf, '
            'application/vnd.ms-excel, application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet, application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document, '
            'text/plain).'),
        ])
def test_refused_media(wa, graph, media_id, data, mime_type, size, reason):
    "Too large or of a wrong type: refused with the reason, nothing stored"
    graph.add_media(media_id, data, mime_type, file_size=size)
    wamid = new_wamid()
    payload = notification([fake_graph.media_message(wamid, CUSTOMER,
                'document', media_id, mime_type, filename='invoice.pdf')])
    status, body = graph.send_webhook(webhook_url(wa), payload)
    assert status == 200, body
    (message_id, request_id, state, error), = wa.sql(
        'SELECT id, request, media_state, media_error '
        'FROM ev_helpdesk_whatsapp_message WHERE wamid = %s', (wamid,))
    assert (state, error) == ('refused', reason)
    assert wa.count('ir_attachment', 'WHERE resource IN (%s, %s)', (
            f'ev.helpdesk.request,{request_id}',
            f'ev.helpdesk.whatsapp.message,{message_id}')) == 0


def send_wizard(server, request_id, text):
    "The agent's Send WhatsApp on the request (as admin)"
    admin = admin_proxy(server)
    wizard = admin.wizard.ev.helpdesk.whatsapp.send
    context = {'active_model': 'ev.helpdesk.request', 'active_id': request_id,
        'active_ids': [request_id]}
    session, _, _ = wizard.create(context)
    view = wizard.execute(session, {}, 'start', context)
    defaults = view['view']['defaults']
    wizard.execute(session, {'start': dict(defaults, text=text)}, 'send',
        context)
    wizard.delete(session, context)
    return defaults


def request_of(server, wamid):
    (request_id,), = server.sql('SELECT request FROM '
        'ev_helpdesk_whatsapp_message WHERE wamid = %s', (wamid,))
    return request_id


def test_reply_outside_the_window_is_a_template(wa, graph):
    customer = '919845012399'
    old = time.time() - 25 * 3600
    wamid = new_wamid()
    graph.send_webhook(webhook_url(wa), notification([text_message(
                    wamid, customer, "Any update?", timestamp=old)]))
    sent = len(graph.sent_messages())
    defaults = send_wizard(wa, request_of(wa, wamid), "Fixed, try again")
    assert (defaults['phone'], defaults['window_open']) == (
        '+' + customer, False)
    assert graph.sent_messages()[sent:] == [{
            'messaging_product': 'whatsapp',
            'recipient_type': 'individual',
            'to': customer,
            'type': 'template',
            'template': {'name': 'follow_up', 'language': {'code': 'en'}},
            }]
    # Within 24 h of the customer's last message: the text itself
    wamid = new_wamid()
    graph.send_webhook(webhook_url(wa), notification([text_message(
                    wamid, customer, "Still broken")]))
    defaults = send_wizard(wa, request_of(wa, wamid), "Fixed, try again")
    assert defaults['window_open'] is True
    assert graph.sent_messages()[sent + 1:] == [{
            'messaging_product': 'whatsapp',
            'recipient_type': 'individual',
            'to': customer,
            'type': 'text',
            'text': {'preview_url': False, 'body': "Fixed, try again"},
            }]


def outbound(server, wamid):
    (state,), = server.sql('SELECT status FROM ev_helpdesk_whatsapp_message '
        'WHERE wamid = %s', (wamid,))
    return state


def test_statuses_never_go_back(wa, graph):
    customer = '919845012377'
    wamid = new_wamid()
    graph.send_webhook(webhook_url(wa), notification([text_message(
                    wamid, customer, "Please call me")]))
    send_wizard(wa, request_of(wa, wamid), "Calling you in 5 minutes")
    sent = graph.sent_messages()[-1]
    assert sent['to'] == customer
    (out_wamid,), = wa.sql('SELECT wamid FROM ev_helpdesk_whatsapp_message '
        "WHERE direction = 'out' AND wa_id = %s", (customer,))
    assert outbound(wa, out_wamid) == 'accepted'
    now = time.time()
    for value, at, expected in [
            ('delivered', now + 2, 'delivered'),
            ('sent', now + 1, 'delivered'),  # late, out of order
            ('read', now + 3, 'read'),
            ('delivered', now + 2, 'read'),  # redelivered
            ('failed', now + 4, 'read'),
            ]:
        status, body = graph.send_webhook(webhook_url(wa), notification(
                statuses=[fake_graph.status(out_wamid, value, customer, at,
                        errors=[{'code': 131047, 'title': "Re-engagement"}]
                        if value == 'failed' else None)]))
        assert status == 200, body
        assert outbound(wa, out_wamid) == expected
    # Each status kept once
    assert wa.sql('SELECT status FROM ev_helpdesk_whatsapp_status '
        'WHERE wamid = %s ORDER BY at', (out_wamid,)) == [
        ('sent',), ('delivered',), ('read',), ('failed',)]


def test_failed_before_delivery(wa, graph):
    customer = '919845012388'
    wamid = new_wamid()
    graph.send_webhook(webhook_url(wa), notification([text_message(
                    wamid, customer, "Hello")]))
    send_wizard(wa, request_of(wa, wamid), "Hello, how can we help?")
    (out_wamid,), = wa.sql('SELECT wamid FROM ev_helpdesk_whatsapp_message '
        "WHERE direction = 'out' AND wa_id = %s", (customer,))
    graph.send_webhook(webhook_url(wa), notification(statuses=[
                fake_graph.status(out_wamid, 'failed', customer, errors=[{
                            'code': 131026, 'title': "Message undeliverable",
                            'error_data': {'details': "Not on WhatsApp"}}])]))
    assert wa.sql('SELECT status, error FROM ev_helpdesk_whatsapp_message '
        'WHERE wamid = %s', (out_wamid,)) == [
        ('failed', "131026 — Message undeliverable — Not on WhatsApp")]


def test_another_databases_signature_fails(wa, graph):
    """A webhook signed with the app secret of another database is refused
    by this one (each database checks with its own secret)"""
    if wa.backend != 'sqlite':
        pytest.skip("a second database is an SQLite file copy here")
    other = wa.database + '_other'
    shutil.copyfile(os.path.join(wa.db_path, f'{wa.database}.sqlite'),
        os.path.join(wa.db_path, f'{other}.sqlite'))
    # The route loads the pool of the new database (a first XML-RPC call
    # to a database the server has not loaded fails on trytond 8.0)
    assert get(webhook_url(wa, other))[0] == 403
    configure(wa, graph, database=other, secret='secret-of-the-other-db')
    wamid = new_wamid()
    payload = notification([text_message(wamid, CUSTOMER, "Cross")])
    status, body = graph.send_webhook(webhook_url(wa), payload,
        secret='secret-of-the-other-db')
    assert (status, body) == (401, {
            'error': "missing or invalid X-Hub-Signature-256"})
    assert messages_of(wa, wamid) == 0
    # The other database accepts its own
    status, _ = graph.send_webhook(webhook_url(wa, other), payload,
        secret='secret-of-the-other-db')
    assert status == 200
    assert messages_of(wa, wamid) == 0
