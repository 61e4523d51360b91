# This file is part of the EV operations suite.
"""The Station Record over Tryton's real XML-RPC and JSON-RPC endpoints.

A running trytond (tests/server.py) on a fresh database; every call goes
through HTTP as an integration or the web client would make it."""
import re
import xmlrpc.client

import pytest

from server import ADMIN_PASSWORD, ROOT, USER_LOGIN, USER_NAME, USER_PASSWORD


def xmlrpc_proxy(server, login, password):
    return xmlrpc.client.ServerProxy(
        f'http://{login}:{password}@127.0.0.1:{server.port}/'
        f'{server.database}/rpc/', allow_none=True)


# The model access (no write, no delete for any group) answers first over
# RPC; the model's own check answers where access would allow it.
REFUSED = re.compile(
    r'not allowed to access "Station Log Entry"|cannot be edited or deleted')


def event_type_id(server, code):
    (value,), = server.sql(
        'SELECT id FROM ev_station_event_type WHERE code = %s', (code,))
    return value


@pytest.fixture(scope='module')
def station_id(server):
    (value,), = server.sql(
        'SELECT id FROM ev_station ORDER BY id LIMIT 1')
    return value


@pytest.fixture(params=['admin', 'sales'])
def proxy(request, server):
    if request.param == 'admin':
        return xmlrpc_proxy(server, 'admin', ADMIN_PASSWORD)
    return xmlrpc_proxy(server, USER_LOGIN, USER_PASSWORD)


def test_record_event_over_xmlrpc(server, station_id):
    "An integration appends to the log; author and time are the server's"
    proxy = xmlrpc_proxy(server, USER_LOGIN, USER_PASSWORD)
    entry_id, = proxy.model.ev.station.record_events(
        [station_id], 'note', "Called the customer over XML-RPC", {}, {})
    entry, = proxy.model.ev.station.log.read(
        [entry_id], ['text', 'author.login', 'timestamp', 'visibility'], {})
    assert entry['text'] == "Called the customer over XML-RPC"
    assert entry['author.']['login'] == USER_LOGIN
    assert entry['timestamp'] is not None
    assert entry['visibility'] == 'internal'


def test_log_write_and_delete_refused(server, station_id, proxy):
    "Nobody, the admin included, edits or deletes an entry over RPC"
    entry_id, = proxy.model.ev.station.record_events(
        [station_id], 'note', "Evidence", {}, {})
    with pytest.raises(xmlrpc.client.Fault) as write_error:
        proxy.model.ev.station.log.write(
            [entry_id], {'text': "Rewritten"}, {})
    assert REFUSED.search(write_error.value.faultString)
    with pytest.raises(xmlrpc.client.Fault) as delete_error:
        proxy.model.ev.station.log.delete([entry_id], {})
    assert REFUSED.search(delete_error.value.faultString)
    (text,), = server.sql(
        'SELECT text FROM ev_station_log WHERE id = %s', (entry_id,))
    assert text == "Evidence"


def test_json_rpc_refuses_write_for_admin(server, station_id):
    "The web client's protocol refuses the same"
    call = server.rpc_session('admin', ADMIN_PASSWORD)
    entry_id, = call(
        'model.ev.station.record_events', [station_id], 'note', "Kept", {},
        {})
    with pytest.raises(RuntimeError, match=REFUSED):
        call('model.ev.station.log.write', [entry_id], {'text': "No"}, {})
    with pytest.raises(RuntimeError, match=REFUSED):
        call('model.ev.station.log.delete', [entry_id], {})
    assert server.count('ev_station_log', 'WHERE id = %s', (entry_id,)) == 1


@pytest.mark.parametrize('values, message', [
        ({'event_type': 'note'}, '"Text"'),
        ({'text': "No type"}, '"Event Type"'),
        # PostgreSQL's foreign key or, on SQLite, the model's own check
        ({'event_type': 999999, 'text': "Unknown type"},
            '"Event Type" in "Station Log Entry" does not exist'
            '|no event type "999999"'),
        ({'event_type': 'handover_forwarded', 'text': "To nobody",
                'follow_up_date': None}, 'forwarded to'),
        ({'event_type': 'shipped', 'text': "Too early"}, 'would skip'),
        ])
def test_bad_entries_write_nothing(server, station_id, values, message):
    "Bad input gets a clear message and leaves nothing half-written"
    proxy = xmlrpc_proxy(server, USER_LOGIN, USER_PASSWORD)
    values = dict(values, station=station_id)
    if isinstance(values.get('event_type'), str):
        values['event_type'] = event_type_id(server, values['event_type'])
    before = {t: server.count(t) for t in [
            'ev_station_log', 'ev_station_handover',
            'ev_station_log_email']}
    with pytest.raises(xmlrpc.client.Fault) as error:
        proxy.model.ev.station.log.create([values], {})
    assert re.search(message, error.value.faultString)
    assert 'Traceback' not in error.value.faultString
    assert {t: server.count(t) for t in before} == before


def test_unknown_event_code(server, station_id):
    proxy = xmlrpc_proxy(server, USER_LOGIN, USER_PASSWORD)
    before = server.count('ev_station_log')
    with pytest.raises(xmlrpc.client.Fault) as error:
        proxy.model.ev.station.record_events(
            [station_id], 'teleported', "Beam me up", {}, {})
    assert 'There is no event type "teleported"' in error.value.faultString
    assert server.count('ev_station_log') == before


def test_stage_not_writable_over_rpc(server, station_id):
    "The admin cannot move a station by editing it"
    proxy = xmlrpc_proxy(server, 'admin', ADMIN_PASSWORD)
    (stage,), = server.sql(
        'SELECT stage FROM ev_station WHERE id = %s', (station_id,))
    with pytest.raises(xmlrpc.client.Fault) as error:
        proxy.model.ev.station.write(
            [station_id], {'stage': 'commissioned'}, {})
    assert 'record an event' in error.value.faultString
    assert server.sql(
        'SELECT stage FROM ev_station WHERE id = %s',
        (station_id,)) == [(stage,)]


def test_admin_granting_itself_access_is_still_refused(server, station_id):
    "Even after the admin grants write access, the model and database refuse"
    admin = xmlrpc_proxy(server, 'admin', ADMIN_PASSWORD)
    entry_id, = admin.model.ev.station.record_events(
        [station_id], 'note', "Evidence under pressure", {}, {})
    group_id, = admin.model.res.group.search(
        [('name', '=', 'Administration')], 0, None, None, {})
    admin.model.ir.model.access.create([{
                'model': 'ev.station.log', 'group': group_id,
                'perm_read': True, 'perm_write': True,
                'perm_create': True, 'perm_delete': True,
                }], {})
    with pytest.raises(xmlrpc.client.Fault) as error:
        admin.model.ev.station.log.write(
            [entry_id], {'text': "Rewritten"}, {})
    assert 'cannot be edited or deleted' in error.value.faultString
    with pytest.raises(xmlrpc.client.Fault) as error:
        admin.model.ev.station.log.delete([entry_id], {})
    assert 'cannot be edited or deleted' in error.value.faultString
    assert server.sql(
        'SELECT text FROM ev_station_log WHERE id = %s',
        (entry_id,)) == [("Evidence under pressure",)]


def test_stage_override_only_by_its_authoriser(server):
    """An override of the stages is authorised by the user who records it,
    a member of the override group: naming somebody else, or overriding
    without being a member, is refused and writes nothing"""
    admin = xmlrpc_proxy(server, 'admin', ADMIN_PASSWORD)
    sales = xmlrpc_proxy(server, USER_LOGIN, USER_PASSWORD)
    (customer,), = server.sql(
        'SELECT customer FROM ev_station ORDER BY id LIMIT 1')
    station, = admin.model.ev.station.create([{'customer': customer}], {})
    (admin_id,), = server.sql("SELECT id FROM res_user WHERE login = 'admin'")
    (sales_id,), = server.sql(
        'SELECT id FROM res_user WHERE login = %s', (USER_LOGIN,))
    before = server.count('ev_station_log')

    def override(proxy, named):
        return proxy.model.ev.station.record_events(
            [station], 'production_confirmed', "Urgent order",
            {'override_by': named, 'override_reason': "Hospital"}, {})

    for proxy, named, message in [
            (sales, admin_id, f'"{USER_NAME}" cannot record it in the name '
                'of "Administrator"'),
            (admin, sales_id, f'"Administrator" cannot record it in the name '
                f'of "{USER_NAME}"'),
            (sales, sales_id, 'Only members of the group "EV Stage Override" '
                'may override the stages'),
            ]:
        with pytest.raises(xmlrpc.client.Fault) as error:
            override(proxy, named)
        assert message in error.value.faultString
        assert 'Traceback' not in error.value.faultString
    assert server.count('ev_station_log') == before
    entry, = override(admin, admin_id)
    assert server.sql('SELECT s.stage, l.stage_override, l.override_by '
        'FROM ev_station s JOIN ev_station_log l ON l.station = s.id '
        'WHERE l.id = %s', (entry,)) == [('production', True, admin_id)]


@pytest.mark.backend_independent
def test_shipped_configuration_is_safe(server):
    """The embedded configuration (./ev run) lists no database and ends
    idle sessions within the hour; a server so configured refuses to list
    its databases to a visitor"""
    import configparser
    import json
    import os
    import urllib.error
    import urllib.request
    conf = configparser.ConfigParser()
    conf.read(os.path.join(ROOT, 'tryton.conf'))
    assert conf.getboolean('database', 'list') is False
    assert conf.getint('session', 'timeout') <= 3600
    request = urllib.request.Request(f'{server.url}rpc/', data=json.dumps(
            {'id': 0, 'method': 'common.db.list', 'params': []}).encode(),
        headers={'Content-Type': 'application/json'})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=30)
    assert error.value.code == 403
    assert server.database.encode() not in error.value.read()
