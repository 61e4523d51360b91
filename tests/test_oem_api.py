# This file is part of the EV operations suite.
"""The OEM integration API of ev_lead, with a real HTTP client against the
running server (tests/server.py)."""
import copy
import json
import threading
import urllib.error
import urllib.request
import uuid

import pytest

from server import (
    ADMIN_PASSWORD, CUSTOMER_EMAIL, OEMS, USER_LOGIN, USER_PASSWORD)

TATA_KEY = OEMS[0][2]
MG_KEY = OEMS[1][2]
# Tryton's AccessError of a model an OEM's user may not use
PARTIES_CLOSED = (r'You are not allowed to access '
    r'"Party( Contact Mechanism| Address)?"')

BODY = {
    "oem_reference": None,
    "customer": {
        "name": "Kavya Nair",
        "phone": "98470 12345",
        "email": "kavya.nair@example.com",
        "address": {
            "street": "7 Marine Drive", "city": "Kochi",
            "postal_code": "682031", "state": "Kerala", "country": "IN",
            },
        },
    "vehicle": {"model": "Nexon EV", "vin": None},
    "charger": {"model": "7.4 kW AC", "quantity": 1},
    "site_type": "home",
    "notes": "Prefers mornings",
    }


def call(server, method, path, body=None, key=None, raw=None):
    "Status and JSON body (or text) of one request"
    url = f'{server.url}{server.database}/ev/api/v1/{path}'
    data = raw if raw is not None else (
        json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header('Content-Type', 'application/json')
    if key:
        request.add_header('Authorization', f'Bearer {key}')
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode(errors='replace')


def new_body(**changes):
    body = copy.deepcopy(BODY)
    body['oem_reference'] = f'REF-{uuid.uuid4().hex[:10]}'
    body.update(changes)
    return body


def lead_count(server):
    (value,), = server.sql('SELECT COUNT(*) FROM sale_opportunity')
    return value


def party_count(server):
    (value,), = server.sql('SELECT COUNT(*) FROM party_party')
    return value


def test_intake_creates_a_lead(server):
    body = new_body()
    status, result = call(server, 'POST', 'leads', body, TATA_KEY)
    assert status == 201, result
    assert result['oem_reference'] == body['oem_reference']
    assert result['status'] == 'new'
    assert result['reference']
    (source, oem, quantity, site, vehicle), = server.sql(
        'SELECT o.lead_source, p.name, o.charger_quantity, o.site_type, '
        'o.vehicle_model FROM sale_opportunity o '
        'JOIN party_party p ON p.id = o.oem WHERE o.id = %s',
        (result['id'],))
    assert (source, oem, quantity, site, vehicle) == (
        'oem', "Tata Motors", 1, 'home', "Nexon EV")
    phones = server.sql(
        'SELECT m.value FROM party_contact_mechanism m '
        'JOIN sale_opportunity o ON o.party = m.party '
        "WHERE o.id = %s AND m.type = 'mobile'", (result['id'],))
    assert phones == [('+919847012345',)]


def test_same_reference_returns_the_existing_lead(server):
    body = new_body()
    status, first = call(server, 'POST', 'leads', body, TATA_KEY)
    assert status == 201
    before = lead_count(server)
    status, again = call(server, 'POST', 'leads', body, TATA_KEY)
    assert status == 200
    assert again == first
    assert lead_count(server) == before


def test_same_reference_of_another_oem_is_another_lead(server):
    body = new_body()
    assert call(server, 'POST', 'leads', body, TATA_KEY)[0] == 201
    status, other = call(server, 'POST', 'leads', body, MG_KEY)
    assert status == 201


def test_known_customer_is_linked_not_duplicated(server):
    body = new_body()
    body['customer']['phone'] = '+91 94470 99999'
    body['customer']['email'] = None
    status, first = call(server, 'POST', 'leads', body, TATA_KEY)
    assert status == 201
    parties = party_count(server)
    second = new_body()
    second['customer']['phone'] = '094470 99999'
    second['customer']['email'] = None
    second['customer']['name'] = "Kavya N."
    status, result = call(server, 'POST', 'leads', second, TATA_KEY)
    assert status == 201
    assert party_count(server) == parties
    customers = server.sql(
        'SELECT party FROM sale_opportunity WHERE id IN (%s, %s)',
        (first['id'], result['id']))
    assert len({c for c, in customers}) == 1


def customer_of(server, lead_id):
    "The party of a lead, with its contacts and addresses"
    (party,), = server.sql(
        'SELECT party FROM sale_opportunity WHERE id = %s', (lead_id,))
    return party, party_contents(server, party)


def party_contents(server, party):
    return (
        sorted(server.sql('SELECT type, value FROM party_contact_mechanism '
                'WHERE party = %s', (party,))),
        sorted(server.sql('SELECT street_unstructured, city, postal_code FROM '
                'party_address WHERE party = %s', (party,))))


def duplicate_notices(server, party):
    """The parties opened by Central Ops' (admin's) possible-duplicate
    notifications that name the party"""
    rows = server.sql(
        'SELECT n.records FROM res_notification n '
        'JOIN res_user u ON u.id = n."user" '
        "WHERE u.login = 'admin' AND n.model = 'party.party' "
        'AND n.label LIKE %s', ('Possible duplicate customer%',))
    return [json.loads(r) for r, in rows if party in json.loads(r)]


def test_intake_never_links_another_oems_customer(server):
    """MG sends the phone and email of a customer of Tata: MG's lead gets a
    new party, Tata's customer is untouched, Central Ops hears of it"""
    tata = new_body()
    tata['customer']['phone'] = '+91 94470 11111'
    tata['customer']['email'] = 'asha.menon@example.com'
    status, first = call(server, 'POST', 'leads', tata, TATA_KEY)
    assert status == 201, first
    tata_party, tata_before = customer_of(server, first['id'])

    mg = new_body()
    mg['customer'] = copy.deepcopy(tata['customer'])
    mg['customer']['name'] = "Asha M."
    mg['customer']['address']['street'] = "12 Other Road"
    status, second = call(server, 'POST', 'leads', mg, MG_KEY)
    assert status == 201, second
    mg_party, mg_contents = customer_of(server, second['id'])
    assert mg_party != tata_party
    assert party_contents(server, tata_party) == tata_before
    assert mg_contents == (
        [('email', 'asha.menon@example.com'), ('mobile', '+919447011111')],
        [('12 Other Road', 'Kochi', '682031')])
    assert duplicate_notices(server, mg_party) == [[mg_party, tata_party]]


def test_intake_never_links_a_direct_customer(server):
    """An OEM sends the email of a customer the company serves directly
    (the customer of the session's data): a new party, nothing written on
    the known one"""
    (direct, email), = server.sql(
        'SELECT party, value FROM party_contact_mechanism '
        "WHERE type = 'email' AND value = %s", (CUSTOMER_EMAIL,))
    before = party_contents(server, direct)
    body = new_body()
    body['customer']['phone'] = '+91 94470 22222'
    body['customer']['email'] = email.upper()
    status, result = call(server, 'POST', 'leads', body, TATA_KEY)
    assert status == 201, result
    party, _ = customer_of(server, result['id'])
    assert party != direct
    assert party_contents(server, direct) == before
    assert duplicate_notices(server, party) == [[party, direct]]


def test_intake_never_writes_on_its_own_known_customer(server):
    """The OEM's own customer with a new email and another site: a new
    party; the known one keeps exactly what it had"""
    body = new_body()
    body['customer']['phone'] = '+91 94470 33333'
    body['customer']['email'] = None
    status, first = call(server, 'POST', 'leads', body, TATA_KEY)
    assert status == 201
    known, before = customer_of(server, first['id'])
    again = new_body()
    again['customer']['phone'] = '+91 94470 33333'
    again['customer']['email'] = 'new.address@example.com'
    again['customer']['address']['street'] = "1 New Street"
    status, second = call(server, 'POST', 'leads', again, TATA_KEY)
    assert status == 201
    party, _ = customer_of(server, second['id'])
    assert party != known
    assert party_contents(server, known) == before
    assert duplicate_notices(server, party) == [[party, known]]


def test_oem_user_learns_nothing_of_other_parties(server):
    """Over JSON-RPC, an OEM's user finds its leads but nothing of any
    party through them: searching its leads on the customer's related
    fields finds nothing, parties cannot be searched, read or written"""
    body = new_body()
    body['customer']['phone'] = '+91 94470 44444'
    status, lead = call(server, 'POST', 'leads', body, TATA_KEY)
    assert status == 201
    own, _ = customer_of(server, lead['id'])
    email = f'direct-{uuid.uuid4().hex[:8]}@example.com'
    admin = server.rpc_session('admin', ADMIN_PASSWORD)
    direct, = admin('model.party.party.create', [{'name': "Direct Customer",
                'contact_mechanisms': [['create', [
                                {'type': 'email', 'value': email}]]]}], {})
    tata = server.rpc_session('oem-tata', USER_PASSWORD)

    def search(model, domain):
        return tata(f'model.{model}.search', domain, 0, None, None, {})

    assert search('sale.opportunity', [
            ('oem_reference', '=', body['oem_reference'])]) == [lead['id']]
    assert search('sale.opportunity', [('party', '=', direct)]) == []
    # Tryton does not apply the parties' record rules to a search on a
    # related field: the OEM's user may not read parties at all
    for domain in [
            [('party.contact_mechanisms.value', '=', email)],
            [('party.name', '=', "Direct Customer")],
            # Not even of its own customer
            [('party.contact_mechanisms.value', '=', '+919447044444')],
            [('party.addresses.city', '=', "Kochi")],
            ]:
        with pytest.raises(RuntimeError, match=PARTIES_CLOSED):
            search('sale.opportunity', domain)
    for model, domain in [
            ('party.party', []),
            ('party.contact_mechanism', [('value', '=', email)]),
            ('party.address', []),
            ('res.user', [('ev_oem.contact_mechanisms.value', '=', email)]),
            ]:
        with pytest.raises(RuntimeError, match=PARTIES_CLOSED):
            search(model, domain)
    for party in [direct, own]:
        with pytest.raises(RuntimeError, match=PARTIES_CLOSED):
            tata('model.party.party.read', [party], ['name'], {})
    with pytest.raises(RuntimeError, match=PARTIES_CLOSED):
        tata('model.party.party.write', [own], {'name': "Renamed"}, {})
    with pytest.raises(RuntimeError, match=PARTIES_CLOSED):
        tata('model.party.contact_mechanism.create', [
                {'party': own, 'type': 'email', 'value': 'x@example.com'}],
            {})


@pytest.mark.parametrize('key', [None, 'not-a-key', 'tata-' + 'ff' * 30])
@pytest.mark.backend_independent
def test_missing_or_unknown_key(server, key):
    before = lead_count(server)
    status, answer = call(server, 'POST', 'leads', new_body(), key)
    assert status == 401
    assert set(answer) == {'error'}, answer
    status, answer = call(server, 'GET', 'leads/ANY', key=key)
    assert status == 401
    assert set(answer) == {'error'}, answer
    assert lead_count(server) == before


@pytest.mark.parametrize('change, fields', [
        (lambda b: b.pop('oem_reference'), {'oem_reference'}),
        (lambda b: b['customer'].update(phone='12'), {'customer.phone'}),
        (lambda b: b['customer'].update(email='not-an-email'),
            {'customer.email'}),
        (lambda b: b['customer']['address'].update(country='XX'),
            {'customer.address.country'}),
        (lambda b: b['charger'].update(quantity=0), {'charger.quantity'}),
        (lambda b: b['charger'].update(quantity='2'), {'charger.quantity'}),
        (lambda b: b.update(site_type='castle'), {'site_type'}),
        (lambda b: b.pop('customer'), {'customer'}),
        (lambda b: (b['customer'].pop('name'),
                b['vehicle'].pop('model')),
            {'customer.name', 'vehicle.model'}),
        ])
@pytest.mark.backend_independent
def test_invalid_body_is_422_and_writes_nothing(server, change, fields):
    body = new_body()
    change(body)
    before = (lead_count(server), party_count(server))
    status, result = call(server, 'POST', 'leads', body, TATA_KEY)
    assert status == 422, result
    assert set(result['errors']) == fields
    assert all(isinstance(m, str) and m for m in result['errors'].values())
    assert (lead_count(server), party_count(server)) == before


@pytest.mark.parametrize('raw', [b'{not json', b'[1, 2]', b''])
@pytest.mark.backend_independent
def test_malformed_json_is_422(server, raw):
    before = lead_count(server)
    status, result = call(server, 'POST', 'leads', key=TATA_KEY, raw=raw)
    assert status == 422, result
    assert 'errors' in result
    assert lead_count(server) == before


def test_concurrent_retries_create_one_lead(server):
    "The same request sent at once many times makes exactly one lead"
    body = new_body()
    results = []
    barrier = threading.Barrier(6)

    def post():
        barrier.wait()
        results.append(call(server, 'POST', 'leads', body, TATA_KEY))
    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 5 + [201], results
    assert len({r['id'] for _, r in results}) == 1
    rows = server.sql(
        'SELECT COUNT(*) FROM sale_opportunity WHERE oem_reference = %s',
        (body['oem_reference'],))
    assert rows == [(1,)]


def test_status_of_own_lead(server):
    body = new_body()
    status, created = call(server, 'POST', 'leads', body, TATA_KEY)
    assert status == 201
    status, result = call(
        server, 'GET', f"leads/{body['oem_reference']}", key=TATA_KEY)
    assert status == 200, result
    assert result['reference'] == created['reference']
    assert result['oem_reference'] == body['oem_reference']
    assert result['status'] == 'new'
    assert set(result['milestones']) == {
        'received', 'contacted', 'survey_scheduled', 'survey_done',
        'installation_scheduled', 'installed', 'closed'}
    assert result['milestones']['received']
    assert result['milestones']['contacted'] is None


@pytest.mark.backend_independent
def test_status_of_other_oems_lead_is_404(server):
    body = new_body()
    assert call(server, 'POST', 'leads', body, MG_KEY)[0] == 201
    status, _ = call(
        server, 'GET', f"leads/{body['oem_reference']}", key=TATA_KEY)
    assert status == 404
    status, _ = call(server, 'GET', 'leads/NO-SUCH-REF', key=TATA_KEY)
    assert status == 404


def send(server, method, path, data=None, key=TATA_KEY,
        content_type='application/json'):
    "Status, Content-Type and JSON body of a raw request"
    url = f'{server.url}{server.database}/ev/api/{path}'
    request = urllib.request.Request(url, data=data, method=method)
    if content_type:
        request.add_header('Content-Type', content_type)
    if key:
        request.add_header('Authorization', f'Bearer {key}')
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, headers, payload = (
                response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        status, headers, payload = error.code, error.headers, error.read()
    assert headers.get_content_type() == 'application/json', payload[:300]
    return status, json.loads(payload)


def nested(levels, value):
    "The value inside `levels` lists"
    for _ in range(levels):
        value = [value]
    return value


def body_with(change):
    body = new_body()
    change(body)
    return json.dumps(body).encode()


@pytest.mark.parametrize('data, content_type, status, errors', [
        (body_with(lambda b: None), 'text/plain', 415,
            {'': "the body must be sent as application/json"}),
        (b'{"notes": "' + b'x' * 70_000 + b'"}', 'application/json', 413,
            {'': "the body is larger than 65536 bytes"}),
        (b'[' * 5000 + b']' * 5000, 'application/json', 422,
            {'': "the body is not valid JSON"}),
        (b'{"charger": {"quantity": NaN}}', 'application/json', 422,
            {'': "the body is not valid JSON"}),
        (b'\xff\xfe{}', 'application/json', 422,
            {'': "the body is not valid JSON"}),
        (json.dumps({'notes': {'a': nested(16, 'deep')}}).encode(),
            'application/json', 422,
            {'notes.a' + '[0]' * 15: "nests deeper than 16 levels"}),
        (body_with(lambda b: b['customer'].update(name="Kavya\x00Nair")),
            'application/json', 422,
            {'customer.name': "must not contain NUL characters"}),
        (body_with(lambda b: b['customer']['address'].update(
                    city="Kochi" * 1000)), 'application/json', 422,
            {'customer.address.city': "must be at most 200 characters"}),
        (body_with(lambda b: b['charger'].update(quantity=10 ** 12)),
            'application/json', 422, {'charger.quantity': "is out of range"}),
        (body_with(lambda b: b['charger'].update(quantity=5000)),
            'application/json', 422,
            {'charger.quantity': "must be an integer from 1 to 100"}),
        (body_with(lambda b: b.update({'site_type': 'home\x00'})),
            'application/json', 422,
            {'site_type': "must not contain NUL characters"}),
        ])
@pytest.mark.backend_independent
def test_hostile_body_is_a_json_4xx(server, data, content_type, status,
        errors):
    "No input is a 500: every refusal is JSON naming what is wrong"
    before = (lead_count(server), party_count(server))
    answer = send(server, 'POST', 'v1/leads', data, content_type=content_type)
    assert answer == (status, {'errors': errors})
    assert (lead_count(server), party_count(server)) == before


@pytest.mark.parametrize('method, path, status, body', [
        ('PUT', 'v1/leads', 405,
            {'error': "method not allowed", 'allowed': ['POST']}),
        ('DELETE', 'v1/leads/REF-1', 405,
            {'error': "method not allowed", 'allowed': ['GET']}),
        ('GET', 'v1/nothing-here', 404, {'error': "no such route"}),
        ('POST', 'v2/leads', 404, {'error': "no such route"}),
        ])
@pytest.mark.backend_independent
def test_wrong_route_or_method_is_json(server, method, path, status, body):
    assert send(server, method, path, b'{}' if method != 'GET' else None) \
        == (status, body)


def test_oem_user_in_the_web_client(server):
    """An OEM's user logging into the back office has an OEM Leads menu,
    and whatever view it asks for a lead (its menu's, the stock form, the
    default one a notification opens) shows its lead's customer and
    milestones and nothing of a model closed to it; another OEM's lead
    stays closed"""
    status, own = call(server, 'POST', 'leads', new_body(), TATA_KEY)
    assert status == 201
    status, theirs = call(server, 'POST', 'leads', new_body(), MG_KEY)
    assert status == 201
    tata = server.rpc_session('oem-tata', USER_PASSWORD)
    staff = server.rpc_session(USER_LOGIN, USER_PASSWORD)

    def oem_menus(session):
        return session('model.ir.ui.menu.search_read',
            [('name', '=', "OEM Leads")], 0, None, None, ['action'], {})
    menu, = oem_menus(tata)
    assert menu['action'].startswith('ir.action.act_window,')
    assert oem_menus(staff) == []

    (stock_form,), = server.sql("SELECT db_id FROM ir_model_data "
        "WHERE module = 'sale_opportunity' "
        "AND fs_id = 'opportunity_view_form'")
    closed = {'party', 'address', 'contact', 'employee', 'field_jobs',
        'stations', 'calls', 'site_photos'}
    for view_id, view_type in [(None, 'form'), (stock_form, 'form'),
            (None, 'tree')]:
        view = tata('model.sale.opportunity.fields_view_get', view_id,
            view_type, {})
        assert not closed & set(view['fields']), (view_id, view_type)
        assert {'oem_customer', 'milestone_received'} <= set(view['fields'])
        values, = tata('model.sale.opportunity.read', [own['id']],
            list(view['fields']), {})
        assert values['oem_customer'] == BODY['customer']['name']
        assert values['milestone_received'] is not None
        assert values['milestone_installed'] is None
    # Staff keep the full form
    view = staff('model.sale.opportunity.fields_view_get', None, 'form', {})
    assert {'party', 'address'} <= set(view['fields'])

    with pytest.raises(RuntimeError, match='You are not allowed to read'):
        tata('model.sale.opportunity.read', [theirs['id']],
            ['oem_customer', 'milestone_received'], {})
