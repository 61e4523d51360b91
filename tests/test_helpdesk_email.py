# This file is part of the EV operations suite.
"""Emails to the support address over Tryton's real inbound-email endpoint
(`/<database>/inbound_email/inbox/<identifier>`) of a running trytond
(tests/server.py) with ev_helpdesk: the mail provider's POST, as it comes"""
import re
import urllib.error
import urllib.request
from email.message import EmailMessage

import pytest

from server import (
    ADMIN_PASSWORD, CUSTOMER_EMAIL, CUSTOMER_NAME, TrytonServer)

PHOTO = b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 8


@pytest.fixture(scope='module')
def helpdesk():
    "A trytond with ev_helpdesk, the Support inbox given its endpoint"
    with TrytonServer(modules=('ev_helpdesk',), prefix='ev_hd_email') \
            as server:
        call = server.rpc_session('admin', ADMIN_PASSWORD)
        inbox_id, = call('model.inbound.email.inbox.search',
            [('name', '=', "Support")], 0, None, None, {})
        call('model.inbound.email.inbox.new_identifier', [inbox_id], {})
        inbox, = call('model.inbound.email.inbox.read', [inbox_id],
            ['identifier'], {})
        server.inbox_url = (f'{server.url}{server.database}'
            f'/inbound_email/inbox/{inbox["identifier"]}')
        yield server


def customer_email(message_id, sender=f'{CUSTOMER_NAME} <{CUSTOMER_EMAIL}>',
        subject="Charger not starting",
        text="My charger shows a red light since this morning.",
        photo=PHOTO):
    message = EmailMessage()
    message['From'] = sender
    message['To'] = 'support@ev.example.com'
    message['Subject'] = subject
    message['Message-ID'] = message_id
    message.set_content(text)
    if photo:
        message.add_attachment(photo, maintype='image', subtype='png',
            filename='red-light.png')
    return message.as_bytes()


def post(url, data):
    "Status and body of the provider's POST of a raw email"
    request = urllib.request.Request(url, data=data, method='POST',
        headers={'Content-Type': 'message/rfc822'})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def reason(body):
    "The message of Tryton's 400 page (a UserError: message - description)"
    message, = re.findall(r'<p>(.*) - </p>', body.decode())
    return message.replace('&#34;', '"').replace('&quot;', '"')


def requests(server):
    return server.sql(
        'SELECT r.id, r.channel, r.sender, r.subject, r.text, r.state, '
        'p.name FROM ev_helpdesk_request AS r '
        'LEFT JOIN party_party AS p ON p.id = r.party ORDER BY r.id')


def test_email_lands_in_the_inbox(helpdesk):
    "A customer's email with a photo: one request, the photo attached"
    status, body = post(helpdesk.inbox_url,
        customer_email('<http-1@example.com>'))
    assert (status, body) == (204, b''), helpdesk.log_tail()
    (request_id, *request), = requests(helpdesk)
    assert request == ['email', CUSTOMER_EMAIL, "Charger not starting",
        "My charger shows a red light since this morning.", 'new',
        CUSTOMER_NAME]
    assert helpdesk.sql(
        'SELECT name FROM ir_attachment WHERE resource = %s',
        (f'ev.helpdesk.request,{request_id}',)) == [('red-light.png',)]

    # The provider posts it again (it saw no answer): still one request
    status, _ = post(helpdesk.inbox_url,
        customer_email('<http-1@example.com>'))
    assert status == 204
    assert len(requests(helpdesk)) == 1


def test_unknown_sender_lands_without_customer(helpdesk):
    before = len(requests(helpdesk))
    status, _ = post(helpdesk.inbox_url, customer_email(
            '<http-2@example.com>', sender='someone@example.org'))
    assert status == 204
    rows = requests(helpdesk)
    assert len(rows) == before + 1
    assert tuple(rows[-1][2:]) == ('someone@example.org',
        "Charger not starting",
        "My charger shows a red light since this morning.", 'new', None)


def test_bad_bodies_are_refused_with_the_reason(helpdesk):
    "Empty, or with nothing to read: 400 and why, nothing stored"
    before = len(requests(helpdesk))
    emails_before = helpdesk.count('inbound_email')
    status, body = post(helpdesk.inbox_url, b'')
    assert (status, reason(body)) == (400, "The email has no sender "
        "address (From): it cannot become a request.")
    status, body = post(helpdesk.inbox_url, customer_email(
            '<http-3@example.com>', subject='', text='', photo=None))
    assert (status, reason(body)) == (400, 'The email from '
        f'"{CUSTOMER_EMAIL}" has no subject, text or attachment: it cannot '
        'become a request.')
    assert len(requests(helpdesk)) == before
    assert helpdesk.count('inbound_email') == emails_before
    # An inbox that does not exist
    status, _ = post(helpdesk.inbox_url[:-4] + 'ffff', customer_email(
            '<http-4@example.com>'))
    assert status == 404
