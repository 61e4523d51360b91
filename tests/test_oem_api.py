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

from server import OEMS

TATA_KEY = OEMS[0][2]
MG_KEY = OEMS[1][2]

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


@pytest.mark.parametrize('key', [None, 'not-a-key', 'tata-' + 'ff' * 30])
@pytest.mark.backend_independent
def test_missing_or_unknown_key(server, key):
    before = lead_count(server)
    status, _ = call(server, 'POST', 'leads', new_body(), key)
    assert status == 401
    status, _ = call(server, 'GET', 'leads/ANY', key=key)
    assert status == 401
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
