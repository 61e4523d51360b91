# This file is part of the EV operations suite.
"""The commands REST API on a real trytond: 201 for a good command, 4xx with
a JSON body naming the fields for bad input, never a 500"""
import json
import urllib.error
import urllib.request

import pytest

from iot_tools import shared_server, unique


@pytest.fixture(scope='module')
def api():
    server = shared_server()
    key = 'iot-' + unique('key')
    admin_id = server.admin.user_id
    server.call('model.res.user.application.create', [{
                'user': admin_id, 'key': key, 'application': 'ev_iot',
                'state': 'validated'}])

    def request(method, path, body=None, key=key, raw=None):
        data = raw if raw is not None else (
            json.dumps(body).encode() if body is not None else None)
        headers = {'Content-Type': 'application/json'}
        if key:
            headers['Authorization'] = f'Bearer {key}'
        req = urllib.request.Request(
            f'{server.url}{server.database}/ev/api/v1/{path}', data=data,
            method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                return error.code, json.loads(body)
            except ValueError:
                return error.code, body.decode()
    request.server = server
    return request


def test_send_and_follow_a_command(api):
    identity = unique('API')
    api.server.create_chargers([identity])
    status, command = api('POST', f'chargers/{identity}/commands',
        {'action': 'UnlockConnector', 'params': {'connector_id': 1}})
    assert status == 201
    assert (command['charger'], command['action'], command['state'],
        command['sent_by']) == (identity, 'UnlockConnector', 'pending',
        'admin')
    status, same = api('GET', f"commands/{command['id']}")
    assert status == 200
    assert same['id'] == command['id']


@pytest.mark.parametrize('body,fields', [
        ({'action': 'SelfDestruct'}, {'action'}),
        ({'params': {}}, {'action'}),
        ({'action': 42}, {'action'}),
        ({'action': 'UnlockConnector', 'params': {'connector_id': 'one'}},
            {'params.connector_id'}),
        ({'action': 'RemoteStartTransaction', 'params': {}},
            {'params.id_tag'}),
        ({'action': 'Reset', 'params': [1]}, {'params'}),
        ({'action': 'Reset', 'priority': 'high'}, {'priority'}),
        ])
def test_bad_commands(api, body, fields):
    identity = unique('API')
    api.server.create_chargers([identity])
    status, answer = api('POST', f'chargers/{identity}/commands', body)
    assert status == 422
    assert set(answer['errors']) == fields
    assert api.server.count('ev_charger_command c JOIN ev_charger ch '
        'ON ch.id = c.charger', 'WHERE ch.identity = %s', (identity,)) == 0


def test_bad_requests(api):
    status, answer = api('POST', 'chargers/NOBODY/commands',
        {'action': 'Reset'})
    assert (status, answer) == (404, {'error': "no charger with that identity"})
    status, answer = api('POST', 'chargers/NOBODY/commands', raw=b'{oops')
    assert status == 400 and answer['errors']
    status, answer = api('GET', 'commands/no-such-command')
    assert status == 404
    status, _ = api('POST', 'chargers/NOBODY/commands', {'action': 'Reset'},
        key='wrong-key')
    assert status in {401, 403}
