# This file is part of the EV operations suite.
"""The dashboards refresh on their own (ev_oem_report/dashboard_refresh.py
and sao/custom.js), on a real trytond with ev_oem_report (tests/server.py)
and, for sao, in Debian's headless Chromium.

On PostgreSQL, with `[bus] allow_subscribe = True` as `./ev run` sets it:

- a LISTEN on Tryton's bus sees one message per committed transaction that
  changed a dashboard's data (three leads created at once: one message),
  none for a write no dashboard reads, and only dashboard model names;
- Central Ops' dashboard shows a lead the administrator creates over
  JSON-RPC without any action in the browser (the
  periodic fallback pushed out to an hour: only the bus can bring it).

On SQLite (no bus) the dashboard shown reloads every
Sao.config.ev_dashboard_poll ms (a minute; the test sets two seconds), and
shows the new lead the same way. There too, the rules of the reload (the
same with the bus): a dashboard behind another tab waits until it is shown
again, and one in which the user types waits until the typing stops.

The tests depend on the backend (the bus is PostgreSQL's NOTIFY), so each
runs in its backend's pass of `./ev test`."""
import json
import os

import pytest
from trytond.modules.ev_oem_report.dashboard import OPS_FIGURES

from server import ADMIN_PASSWORD, SAO_ROOT, TrytonServer, pg_connect
from playwright.sync_api import expect

from test_browser import (
    browser, debug_on_failure, login, new_page, open_menu)
from test_demo_field import session

__all__ = ['browser']

URI = os.environ.get('TRYTOND_DATABASE__URI') or 'sqlite://'
POSTGRESQL = URI.startswith('postgresql')
# The dashboard's figures as the graph draws them (billboard.js keeps each
# bar's datum on its element)
BARS = '''tab => Array.from(tab.querySelectorAll('path.bb-bar'))
    .sort((a, b) => a.__data__.index - b.__data__.index)
    .map(bar => bar.__data__.value)'''
ACTIVE_LEADS = 0  # dashboard.OPS_FIGURES' first
OPS_LOGIN, OPS_PASSWORD = 'dash-ops', 'dash-ops-pass-1'
LEADS = ['ev.oem.dashboard.funnel', 'ev.oem.dashboard.ops',
    'ev.oem.dashboard.zone']

pytestmark = pytest.mark.skipif(
    not os.path.isfile(os.path.join(SAO_ROOT, 'index.html')),
    reason=f"the sao web client is not unpacked in {SAO_ROOT} (./ev run)")
postgresql_only = pytest.mark.skipif(not POSTGRESQL,
    reason="the bus needs PostgreSQL's channels (the PostgreSQL pass)")
sqlite_only = pytest.mark.skipif(POSTGRESQL,
    reason="the fallback without bus (the SQLite pass)")


@pytest.fixture(scope='module')
def server():
    """trytond with ev_oem_report, the bus open where there is one, and a
    Central Ops user of the company (OPS_LOGIN)"""
    with TrytonServer(uri=URI, modules=('ev_oem_report',),
            settings={'bus': {'allow_subscribe': POSTGRESQL}},
            prefix='ev_test_dash') as server:
        admin = session(server, 'admin', ADMIN_PASSWORD)
        company = admin('model.res.user.get_preferences', True)['company']
        group, = admin('model.res.group.search',
            [('name', '=', "EV Central Ops")], 0, None, None)
        admin('model.res.user.create', [{
                    'login': OPS_LOGIN, 'name': "Divya Dispatch",
                    'password': OPS_PASSWORD,
                    'groups': [['add', [group]]],
                    'companies': [['add', [company]]],
                    'company': company}])
        yield server


def new_leads(admin, count=1):
    company = admin('model.res.user.get_preferences', True)['company']
    return admin('model.sale.opportunity.create',
        [{'company': company, 'lead_source': 'phone'}] * count)


@postgresql_only
def test_bus_message_per_transaction(server):
    """One message per committed transaction that changed a dashboard's
    data, with the names of its dashboards only"""
    admin = session(server, 'admin', ADMIN_PASSWORD)
    with pg_connect(server.uri, server.database, autocommit=True) as conn:
        conn.execute('LISTEN bus')
        leads = new_leads(admin, 3)
        # No dashboard reads a lead's description
        admin('model.sale.opportunity.write', leads,
            {'description': "Asked for a 7 kW charger"})
        # The last message: a PIN code changes the zones only
        admin('model.party.party.create', [{'name': "Meera Iyer",
                    'addresses': [['create', [{'postal_code': '560034'}]]]}])
        messages = []
        for notification in conn.notifies(timeout=60):
            messages.append(json.loads(notification.payload))
            if messages[-1]['message']['models'] == [
                    'ev.oem.dashboard.zone']:
                break
    assert [(m['channel'], m['message']['type'], m['message']['models'])
        for m in messages] == [
        ('ev.dashboard', 'ev.dashboard', LEADS),
        ('ev.dashboard', 'ev.dashboard', ['ev.oem.dashboard.zone']),
        ]
    # Anyone may listen: nothing of the records
    for message in messages:
        assert set(message['message']) == {'type', 'models', 'message_id'}
        assert str(leads[0]) not in json.dumps(message['message']['models'])


def figure(page, pane):
    "The active leads the dashboard in `pane` (an element) shows"
    return page.evaluate(BARS, pane)[ACTIVE_LEADS]


def wait_figure(page, pane, value):
    page.wait_for_function(f'([pane, value]) => ({BARS})(pane)'
        f'[{ACTIVE_LEADS}] == value', arg=[pane, value], timeout=30_000)


def shown_figures(tab):
    """The figures the dashboard's graph shows, once it shows them (a bar
    of 0 has no height: it is not "visible")"""
    expect(tab.locator('.board-action path.bb-bar')).to_have_count(
        len(OPS_FIGURES))
    return tab.evaluate(BARS)


def assert_dashboard_follows(server, browser, name, poll):
    """Open the Central Ops Dashboard as Central Ops, create a lead in the
    administrator's session: the count of active leads goes up on its
    own"""
    admin = session(server, 'admin', ADMIN_PASSWORD)
    with new_page(browser) as page, debug_on_failure(page, server, name):
        login(page, server, OPS_LOGIN, OPS_PASSWORD)
        page.evaluate(f'Sao.config.ev_dashboard_poll = {poll}')
        tab = open_menu(page, "EV Operations", "Dashboards",
            "Central Ops Dashboard")
        # (not settle(): with the bus, sao always has a request under way)
        before = shown_figures(tab)
        listening = page.evaluate('Sao.Bus.listening')
        new_leads(admin)
        expected = before[ACTIVE_LEADS] + 1
        wait_figure(page, tab.element_handle(), expected)
        assert shown_figures(tab)[ACTIVE_LEADS] == expected
        assert not page.js_errors, page.js_errors
    return listening


@postgresql_only
def test_dashboard_follows_the_bus(server, browser):
    "With the bus, the figure changes at the commit of another session"
    listening = assert_dashboard_follows(server, browser, 'dashboard-bus',
        poll=3600 * 1000)
    assert listening is True


@sqlite_only
def test_dashboard_polls_without_bus(server, browser):
    "Without a bus (SQLite), the dashboard shown reloads periodically"
    listening = assert_dashboard_follows(server, browser, 'dashboard-poll',
        poll=2000)
    assert listening is False


# Open an action by its XML id in a tab of its own, as its menu entry would
OPEN_ACTION = '''xml_id => Sao.rpc({
        method: 'model.ir.action.act_window.get', params: [xml_id, {}]},
    Sao.Session.current_session).then(
    action => Sao.Action.execute(action, {}, {}))'''


@sqlite_only
def test_dashboard_waits_for_the_user(server, browser):
    """A dashboard reloads only when shown and not under the user's typing:
    Central Ops' board behind the Central Ops Now tab keeps its figure
    while that tab shows each new lead, and catches up when shown again;
    the tab does not reload while the user types in its dates, and does
    once the typing stops"""
    admin = session(server, 'admin', ADMIN_PASSWORD)
    with new_page(browser) as page, debug_on_failure(
            page, server, 'dashboard-wait'):
        login(page, server, OPS_LOGIN, OPS_PASSWORD)
        throttle = 1000
        page.evaluate(f'Sao.config.ev_dashboard_poll = 1000; '
            f'Sao.config.ev_dashboard_throttle = {throttle}')
        board = open_menu(page, "EV Operations", "Dashboards",
            "Central Ops Dashboard")
        start = shown_figures(board)[ACTIVE_LEADS]
        board = board.element_handle()

        page.evaluate(OPEN_ACTION, 'ev_oem_report.act_dashboard_ops')
        expect(page.locator('#tablist li.active')).to_contain_text(
            "Central Ops Now")
        tab = page.locator('#tabcontent > .tab-pane.active')
        expect(tab.locator('path.bb-bar')).to_have_count(len(OPS_FIGURES))
        tab = tab.element_handle()
        assert figure(page, tab) == start

        # Hidden: the tab shown reloads, the board behind it does not
        new_leads(admin)
        wait_figure(page, tab, start + 1)
        page.wait_for_timeout(3 * throttle)
        assert figure(page, board) == start

        # Typing: a key pressed in the dates every 300 ms for 5 throttle
        # periods holds the reload back; it comes when the typing stops
        date = page.locator(
            '#tabcontent > .tab-pane.active input:visible').first
        date.focus()
        new_leads(admin)
        for _ in range(5 * throttle // 300):
            page.keyboard.press('Shift')
            page.wait_for_timeout(300)
        assert figure(page, tab) == start + 1
        wait_figure(page, tab, start + 2)

        # Shown again, the board catches up
        page.locator('#tablist a', has_text="Central Ops Dashboard").click()
        wait_figure(page, board, start + 2)
        assert not page.js_errors, page.js_errors
