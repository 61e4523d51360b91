# This file is part of the EV operations suite.
"""An OEM's integration user over Tryton's standard XML-RPC endpoint: its own
leads' status and milestones, nothing of other OEMs, no other business data,
no writes."""
import xmlrpc.client

import pytest

from server import OEMS, USER_PASSWORD
from test_oem_api import call, new_body

TATA_LOGIN, _, TATA_KEY = OEMS[0]
MG_LOGIN, _, MG_KEY = OEMS[1]

# Business data an OEM's user must not read, though Tryton lets every
# internal user read most of it
BUSINESS_MODELS = [
    'party.party', 'party.address', 'party.contact_mechanism',
    'company.employee', 'product.template', 'product.product',
    'sale.sale', 'account.account', 'ev.station', 'ev.station.log',
    'ev.lead.call', 'ev.lead.webhook', 'ev.outbox.attempt', 'stock.location',
    ]


def proxy(server, login):
    return xmlrpc.client.ServerProxy(
        f'http://{login}:{USER_PASSWORD}@127.0.0.1:{server.port}/'
        f'{server.database}/rpc/', allow_none=True)


@pytest.fixture(scope='module')
def leads(server):
    "A lead of each OEM"
    result = {}
    for login, _, key in OEMS:
        status, lead = call(server, 'POST', 'leads', new_body(), key)
        assert status == 201
        result[login] = lead
    return result


def test_reads_own_leads_status(server, leads):
    tata = proxy(server, TATA_LOGIN)
    ids = tata.model.sale.opportunity.search([], 0, None, None, {})
    assert leads[TATA_LOGIN]['id'] in ids
    assert leads[MG_LOGIN]['id'] not in ids
    rows = tata.model.sale.opportunity.read(
        [leads[TATA_LOGIN]['id']], ['oem_reference', 'state'], {})
    assert rows[0]['oem_reference'] == leads[TATA_LOGIN]['oem_reference']
    assert rows[0]['state'] == 'lead'
    status, = tata.model.sale.opportunity.ev_oem_status(
        [leads[TATA_LOGIN]['id']], {})
    assert status['status'] == 'new'
    assert status['milestones']['received']
    assert 'installed' in status['milestones']


def test_reads_nothing_of_other_oems(server, leads):
    tata = proxy(server, TATA_LOGIN)
    other = leads[MG_LOGIN]['id']
    for method, args in [
            ('read', ([other], ['oem_reference'])),
            ('ev_oem_status', ([other],)),
            ]:
        with pytest.raises(xmlrpc.client.Fault) as error:
            getattr(tata.model.sale.opportunity, method)(*args, {})
        assert 'Traceback' not in error.value.faultString
    assert tata.model.sale.opportunity.search(
        [('oem_reference', '=', leads[MG_LOGIN]['oem_reference'])],
        0, None, None, {}) == []


@pytest.mark.parametrize('model', BUSINESS_MODELS)
def test_no_other_business_data(server, leads, model):
    tata = proxy(server, TATA_LOGIN)
    try:
        found = getattr(tata.model, model).search([], 0, None, None, {})
    except xmlrpc.client.Fault as error:
        assert 'not allowed to access' in error.faultString, error
    else:
        assert found == [], f"{model}: {found}"
    # ids that exist are not readable either
    (some_id,), = server.sql(
        f'SELECT COALESCE(MAX(id), 1) FROM "{model.replace(".", "_")}"')
    with pytest.raises(xmlrpc.client.Fault):
        getattr(tata.model, model).read([some_id], ['id'], {})


@pytest.mark.parametrize('model, method, args', [
        ('sale.opportunity', 'write', (None, {'vehicle_model': "X"})),
        ('sale.opportunity', 'create', ([{'party': None}],)),
        ('sale.opportunity', 'delete', (None,)),
        ('sale.opportunity', 'mark_contacted', (None,)),
        ('party.party', 'create', ([{'name': "Intruder"}],)),
        ('ev.lead.call', 'create', ([{'outcome': 'reached'}],)),
        ])
def test_writes_nothing(server, leads, model, method, args):
    tata = proxy(server, TATA_LOGIN)
    own = leads[TATA_LOGIN]['id']
    args = tuple([own] if a is None else a for a in args)
    if model == 'ev.lead.call':
        args = ([dict(args[0][0], lead=own)],)
    before = server.sql(
        'SELECT state, vehicle_model FROM sale_opportunity WHERE id = %s',
        (own,))
    parties = server.sql('SELECT COUNT(*) FROM party_party')
    with pytest.raises(xmlrpc.client.Fault):
        getattr(getattr(tata.model, model), method)(*args, {})
    assert server.sql(
        'SELECT state, vehicle_model FROM sale_opportunity WHERE id = %s',
        (own,)) == before
    assert server.sql('SELECT COUNT(*) FROM party_party') == parties
