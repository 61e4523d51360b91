# This file is part of the EV operations suite.
"""The helpdesk of the demo (demo/helpdesk.py), as its users see it over
JSON-RPC: tickets in every state with their SLA, an inbox request, and the
departments keeping each agent to their own tickets."""
import pytest

from test_demo_field import session


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
        [('state', '=', 'new')], 0, None, None,
        ['channel', 'category.code', 'category_confidence', 'department'])
    assert request['channel'] == 'manual'
    assert request['category.']['code'] == 'inquiry'
    assert 0 < request['category_confidence'] <= 1
