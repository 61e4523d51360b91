# This file is part of the EV operations suite.
"""The commands REST API on a real trytond: 201 for a good command, 4xx with
a JSON body naming the fields for bad input, never a 500"""
import ast
import json
import urllib.error
import urllib.request

import pytest

from iot_tools import shared_server, unique

CREATE_REFUSED = 'You are not allowed to access "Charger Command".'
# (Tryton's own words, its missing quote included)
BUTTON_REFUSED = 'Calling button "reset on "Charger" is not allowed.'
LOCATION = ('"location" must be an absolute URI with a scheme and a host '
    '(e.g. https://firmware.example.com/4.0.1.bin), of at most 512 '
    'characters')
RETRIEVE_DATE = ('"retrieve_date" must be a date and time with its time zone '
    '(RFC 3339, e.g. 2026-03-02T10:00:00Z)')


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
    request.key = key
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
@pytest.mark.backend_independent
def test_bad_commands(api, body, fields):
    identity = unique('API')
    api.server.create_chargers([identity])
    status, answer = api('POST', f'chargers/{identity}/commands', body)
    assert status == 422
    assert set(answer['errors']) == fields
    assert api.server.count('ev_charger_command c JOIN ev_charger ch '
        'ON ch.id = c.charger', 'WHERE ch.identity = %s', (identity,)) == 0


@pytest.mark.backend_independent
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


def rpc_error(call, method, *params):
    "The Tryton exception a JSON-RPC call answers: (name, arguments)"
    with pytest.raises(RuntimeError) as error:
        call(method, *params)
    return ast.literal_eval(str(error.value).removeprefix('RPC error: '))


def commands_of(server, identity):
    return server.count('ev_charger_command c JOIN ev_charger ch '
        'ON ch.id = c.charger', 'WHERE ch.identity = %s', (identity,))


@pytest.mark.parametrize('action,params,errors', [
        ('UpdateFirmware', {'location': 'firmware/4.0.1.bin'},
            {'params.location': LOCATION}),
        ('UpdateFirmware', {'location': 'https://[fw.example.com/4.bin'},
            {'params.location': LOCATION}),
        ('UpdateFirmware', {'location': 'https://fw.example.com/4.bin',
                'retrieve_date': '2026-03-02T10:00:00'},
            {'params.retrieve_date': RETRIEVE_DATE}),
        ('Reset', {'type': 'Soft', 'delay': 5}, {'params.delay':
                '"delay" is not a parameter of Reset (its parameters: type)'}),
        ('RemoteStartTransaction', {'id_tag': 'T' * 37}, {'params.id_tag':
                '"id_tag" must be an id tag of 1 to 36 printable ASCII '
                'characters'}),
        ('UnlockConnector', {'connector_id': 2}, {'params.connector_id':
                '"connector_id" must be a whole number from 1 to 1'}),
        ])
def test_contract_refused(api, action, params, errors):
    """Params no charger could take: a 422 naming each field over REST, the
    same words in a UserError over RPC, nothing recorded either way"""
    identity = unique('API')
    api.server.create_chargers([identity])
    status, answer = api('POST', f'chargers/{identity}/commands',
        {'action': action, 'params': params})
    assert (status, answer) == (422, {'errors': errors})
    error = rpc_error(api.server.call, 'model.ev.charger.command.send',
        identity, action, params)
    message, = errors.values()
    assert error == ['UserError', [
            f'The command is not valid: {message}', '', None]]
    assert commands_of(api.server, identity) == 0


def test_campaign_bad_location_over_rpc(api):
    "A campaign is refused its location before any charger sees it"
    identity = unique('API')
    charger_id, = api.server.create_chargers([identity])
    name = unique("Campaign")
    error = rpc_error(api.server.call,
        'model.ev.charger.firmware_campaign.create', [{
                'name': name, 'firmware': '4.0.1',
                'location': 'firmware.example.com/4.0.1.bin',
                'lines': [['create', [{'charger': charger_id}]]]}])
    assert error == ['UserError', [f'The firmware campaign "{name}" cannot '
            f'be sent to chargers: {LOCATION}', '', None]]
    assert api.server.count('ev_charger_firmware_campaign',
        'WHERE name = %s', (name,)) == 0


def test_outsiders_cannot_send(api):
    """Attack: EV staff outside the IoT operators, with a session or a
    validated key of the commands API, and anyone without either, send
    nothing through REST or RPC"""
    server = api.server
    identity = unique('API')
    charger_id, = server.create_chargers([identity])
    group_ev, = server.call('model.res.group.search',
        [('name', '=', "EV Operations")], 0, None, None)
    login, password = unique('staff'), unique('Pw!9x')
    user_id, = server.call('model.res.user.create', [{
                'name': "EV Staff", 'login': login, 'password': password,
                'groups': [['add', [group_ev]]]}])
    key = 'iot-' + unique('staff-key')
    server.call('model.res.user.application.create', [{
                'user': user_id, 'key': key, 'application': 'ev_iot',
                'state': 'validated'}])
    body = {'action': 'Reset', 'params': {'type': 'Hard'}}

    status, answer = api('POST', f'chargers/{identity}/commands', body,
        key=key)
    assert (status, answer) == (403, {'error': CREATE_REFUSED})
    # Refused before the params are looked at
    status, answer = api('POST', f'chargers/{identity}/commands',
        {'action': 'Reset', 'params': {'type': 'Kick'}}, key=key)
    assert (status, answer) == (403, {'error': CREATE_REFUSED})
    status, _ = api('POST', f'chargers/{identity}/commands', body, key=None)
    assert status == 401

    call = server.rpc_session(login, password)
    assert rpc_error(call, 'model.ev.charger.command.send', identity,
        'Reset', {'type': 'Hard'}, {})[1][0] == CREATE_REFUSED
    assert rpc_error(call, 'model.ev.charger.command.create', [{
                'charger': charger_id, 'action': 'Reset',
                'params': {'type': 'Hard'}}], {})[1][0] == CREATE_REFUSED
    assert rpc_error(call, 'model.ev.charger.reset', [charger_id],
        {})[1][0] == BUTTON_REFUSED
    with pytest.raises(urllib.error.HTTPError) as error:
        server._post({'id': 1, 'method': 'model.ev.charger.command.send',
                'params': [identity, 'Reset', {}, {}]})
    assert error.value.code == 401
    assert commands_of(server, identity) == 0


def test_outsiders_cannot_read_commands(api):
    "Attack: EV staff outside the IoT operators read no command over REST"
    server = api.server
    identity = unique('API')
    server.create_chargers([identity])
    status, command = api('POST', f'chargers/{identity}/commands',
        {'action': 'Reset', 'params': {}})
    assert status == 201
    group_ev, = server.call('model.res.group.search',
        [('name', '=', "EV Operations")], 0, None, None)
    user_id, = server.call('model.res.user.create', [{
                'name': "EV Staff", 'login': unique('reader'),
                'groups': [['add', [group_ev]]]}])
    key = 'iot-' + unique('reader-key')
    server.call('model.res.user.application.create', [{
                'user': user_id, 'key': key, 'application': 'ev_iot',
                'state': 'validated'}])
    status, answer = api('GET', f"commands/{command['id']}", key=key)
    assert status == 403, answer
    assert set(answer) == {'error'}
    assert command['id'] not in json.dumps(answer)


@pytest.mark.parametrize('body, errors', [
        ({'action': 'UnlockConnector', 'params': {'connector_id': 10 ** 12}},
            {'params.connector_id': "is out of range"}),
        ({'action': 'RemoteStartTransaction',
                'params': {'id_tag': "TAG\x00", 'connector_id': 1}},
            {'params.id_tag': "must not contain NUL characters"}),
        ({'action': 'Reset', 'params': {'type': 'Soft\x00'}},
            {'params.type': "must not contain NUL characters"}),
        ])
@pytest.mark.backend_independent
def test_hostile_params_are_a_json_4xx(api, body, errors):
    identity = unique('API')
    api.server.create_chargers([identity])
    assert api('POST', f'chargers/{identity}/commands', body) == (
        400, {'errors': errors})
    assert commands_of(api.server, identity) == 0


@pytest.mark.backend_independent
def test_wrong_type_method_or_route_is_json(api):
    server = api.server
    identity = unique('API')
    server.create_chargers([identity])
    url = f'{server.url}{server.database}/ev/api/v1/'
    for method, path, data, content_type, expected in [
            ('POST', f'chargers/{identity}/commands', b'{"action": "Reset"}',
                'text/plain', (415, {'errors': {
                            '': "the body must be sent as application/json"}})),
            ('PUT', f'chargers/{identity}/commands', b'{}',
                'application/json', (405, {'error': "method not allowed",
                        'allowed': ['POST']})),
            ('DELETE', 'commands/abc', None, None, (405, {
                        'error': "method not allowed", 'allowed': ['GET']})),
            ('GET', 'chargers', None, None, (404, {'error': "no such route"})),
            ]:
        request = urllib.request.Request(url + path, data=data,
            method=method)
        if content_type:
            request.add_header('Content-Type', content_type)
        request.add_header('Authorization', f'Bearer {api.key}')
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, timeout=30)
        assert error.value.headers.get_content_type() == 'application/json'
        assert (error.value.code, json.loads(error.value.read())) \
            == expected, (method, path)
    assert commands_of(server, identity) == 0
