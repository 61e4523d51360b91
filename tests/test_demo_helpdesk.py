# This file is part of the EV operations suite.
"""The helpdesk of the demo (demo/helpdesk.py), as its users see it over
JSON-RPC: tickets in every state with their SLA, an inbox request, and the
departments keeping each agent to their own tickets."""
import pytest

from test_demo_field import session

# The demo data as its users see it over JSON-RPC: what it checks does not
# depend on the backend (the modules' tests run on both), and loading the
# demo takes minutes; ./ev test runs these in the SQLite pass, with the
# browser tests on the same demo
pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope='module')
def server(demo_server):
    "The session's demo server (tests/conftest.py), before any browser test"
    return demo_server


def tickets(call, domain=()):
    return call('model.ev.helpdesk.ticket.search_read', list(domain), 0,
        None, None, ['number', 'state', 'priority', 'department.code',
            'sla_status', 'agent.login'])


def test_manager_sees_tickets_in_every_state(server):
    manager = session(server, 'helpdesk')
    found = tickets(manager)
    assert {t['state'] for t in found} == {
        'open', 'in_progress', 'waiting', 'resolved', 'closed'}
    # Every ticket runs or ran on the SLA clocks of its priority
    assert all(t['sla_status'] for t in found)
    # One ticket nears its breach, whatever the hour the demo was loaded
    assert 'near_breach' in {t['sla_status'] for t in found}
    critical, = [t for t in found if t['priority'] == 'critical']
    assert (critical['state'], critical['department.']['code']) == (
        'open', 'technical')


def test_agents_see_their_departments_tickets(server):
    manager = session(server, 'helpdesk')
    everything = tickets(manager)
    by_department = {}
    for t in everything:
        by_department.setdefault(t['department.']['code'], set()).add(
            t['number'])
    hotline = {t['number'] for t in tickets(session(server, 'hotline'))}
    tech = {t['number'] for t in tickets(session(server, 'tech'))}
    assert hotline == by_department['hotline']
    assert tech == by_department['technical']
    assert not hotline & tech


def test_inbox_request_is_classified(server):
    hotline = session(server, 'hotline')
    request, = hotline('model.ev.helpdesk.request.search_read',
        [('state', '=', 'new'), ('channel', '=', 'manual')], 0, None, None,
        ['channel', 'category.code', 'category_confidence', 'department'])
    assert request['channel'] == 'manual'
    assert request['category.']['code'] == 'inquiry'
    assert 0 < request['category_confidence'] <= 1


def test_whatsapp_conversation_lands_in_the_inbox(server):
    "Hindi, Hinglish or English, the payment complaints go to the hotline"
    hotline = session(server, 'hotline')
    requests = hotline('model.ev.helpdesk.request.search_read',
        [('channel', '=', 'whatsapp')], 0, None, [('received_at', 'ASC')],
        ['sender', 'party', 'category.code', 'department.code', 'text'])
    assert [(r['category.']['code'], r['department.']['code'])
        for r in requests] == [('payment', 'hotline')] * 2
    assert len({r['sender'] for r in requests}) == 1
    assert all(r['party'] for r in requests)
    messages = hotline('model.ev.helpdesk.whatsapp.message.search_read',
        [('request', 'in', [r['id'] for r in requests])], 0, None, None,
        ['direction', 'wamid'])
    assert sorted(m['wamid'] for m in messages) == [
        'wamid.DEMO0', 'wamid.DEMO1']


def test_calls_of_each_category(server):
    hotline = session(server, 'hotline')
    calls = hotline('model.ev.helpdesk.call.search_read', [], 0, None,
        None, ['category.code', 'state', 'phone', 'party', 'ticket'])
    assert {c['category.']['code'] for c in calls} == {
        'payment', 'fault', 'inquiry', 'complaint'}
    # The numbers said as "09886 031001" are found in E.164
    assert all(c['phone'].startswith('+91') and c['party'] for c in calls)
    escalated, = [c for c in calls if c['state'] == 'escalated']
    assert escalated['category.']['code'] == 'payment'
    assert escalated['ticket']
