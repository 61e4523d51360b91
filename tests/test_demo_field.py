# This file is part of the EV operations suite.
"""The field operations of the demo (demo/field.py), loaded by `python -m
demo` into a fresh database with every module of `./ev run`, as the demo
users see them over JSON-RPC: every tab of Field Jobs shows jobs to the
dispatcher, each crew sees its own team's jobs only, a local procurement
waits for Finance, the vans hold stock, and each job's log tells its steps."""
import datetime as dt
import json
import os
import re
import zoneinfo

import pytest
from trytond.protocols.jsonrpc import JSONEncoder
from trytond.pyson import PYSONDecoder

from server import ADMIN_PASSWORD, ROOT

from demo.field import TEAMS
from demo.oem_report import INSTALLATIONS
from demo.payout import PAST_JOBS

# The demo data as its users see it over JSON-RPC: what it checks does not
# depend on the backend (the modules' tests run on both), and loading the
# demo takes minutes; ./ev test runs these in the SQLite pass, with the
# browser tests on the same demo
pytestmark = pytest.mark.backend_independent

# The installations of past weeks the payouts' demo paid (demo/payout.py)
# and those the OEMs' closure packs come from (demo/oem_report.py): not
# the field demo's week
FIELD_DEMO = [('lead.party.name', 'not in',
        [j[1] for j in PAST_JOBS] + [i[4] for i in INSTALLATIONS])]

PASSWORD = 'demo-pass'
TABS = ['Today', 'Unassigned', 'Emergencies', 'Scheduled', 'To Review',
    'QA Queue', 'Payable']


@pytest.fixture(scope='module')
def server(demo_server):
    "The session's demo server (tests/conftest.py), before any browser test"
    return demo_server


def session(server, login, password=PASSWORD):
    "call(method, *params) as the user, with the user's context last"
    call = server.rpc_session(login, password)
    context = call('model.res.user.get_preferences', True, {})

    def as_user(method, *params):
        return call(method, *params, context)
    as_user.user_id = call.user_id
    return as_user


def utc(value):
    "A datetime of JSON-RPC (naive UTC) as an aware datetime"
    return dt.datetime(value['year'], value['month'], value['day'],
        value['hour'], value['minute'], value.get('second', 0),
        tzinfo=dt.timezone.utc)


def rpc_domain(domain):
    "A decoded domain the way the client sends it (datetimes as objects)"
    return json.loads(json.dumps(domain, cls=JSONEncoder))


def tab_domains(server, action, module='ev_field'):
    """{tab name: domain} of an action of `module` (Field Operations by
    default), evaluated as sao does"""
    rows = server.sql(
        'SELECT d.name, d.domain FROM ir_action_act_window_domain d '
        'JOIN ir_model_data m ON m.db_id = d.id '
        "AND m.model = 'ir.action.act_window.domain' "
        "WHERE m.module = %s AND m.fs_id LIKE %s", (module, action + '%'))
    return {name: PYSONDecoder({}).decode(domain) for name, domain in rows}


def jobs(call, domain, fields=('number', 'kind', 'state', 'team')):
    return call('model.ev.field.job.search_read', rpc_domain(domain), 0,
        None, None, list(fields))


def test_dispatcher_sees_every_tab(server):
    coordinator = session(server, 'coordinator')
    tabs = tab_domains(server, 'act_job_domain')
    assert set(TABS) <= set(tabs)
    shown = {tab: jobs(coordinator, tabs[tab]) for tab in TABS}
    # Today is the company's day (India), whatever the hour in UTC
    for tab, found in shown.items():
        assert found, f"the tab {tab} is empty"
    assert {j['state'] for j in shown['Today']} == {
        'scheduled', 'confirmed', 'emergency', 'done'}
    assert {j['kind'] for j in shown['To Review']} == {
        'survey', 'installation'}
    emergency, = jobs(coordinator, [('state', '=', 'emergency')],
        ['number', 'backup_teams.code', 'unavailable_team.code'])
    assert emergency['unavailable_team.']['code'] == 'BLR-S'
    assert [t['code'] for t in emergency['backup_teams.']] == ['BLR-E']
    unassigned, = shown['Unassigned']
    assert unassigned['team'] is None


def test_jobs_are_today_and_this_week_in_india(server):
    admin = session(server, 'admin', ADMIN_PASSWORD)
    company, = admin('model.company.company.search_read', [], 0, None, None,
        ['timezone'])
    assert company['timezone'] == 'Asia/Kolkata'
    india = zoneinfo.ZoneInfo('Asia/Kolkata')
    today = dt.datetime.now(india).date()
    booked = jobs(admin, [('state', '!=', 'draft'), ('team', '!=', None),
            *FIELD_DEMO], ['slot_start', 'state'])
    days = {}
    for job in booked:
        local = utc(job['slot_start']).astimezone(india)
        assert dt.time(9) <= local.time() < dt.time(18), job
        days.setdefault((local.date() - today).days, set()).add(job['state'])
    assert set(days) == {0, 1, 2}
    assert days[0] >= {'scheduled', 'confirmed', 'done', 'commissioned',
        'closed'}


def test_job_logs_tell_the_steps(server):
    coordinator = session(server, 'coordinator')
    payable, = jobs(coordinator, [('payable', '=', True), *FIELD_DEMO],
        ['lead', 'cost_total', 'qa_state'])
    assert float(payable['cost_total']['decimal']) > 0
    assert payable['qa_state'] == 'passed'
    admin = session(server, 'admin', ADMIN_PASSWORD)
    consumed = admin('model.stock.move.search_read',
        [('origin', '=', f"ev.field.job,{payable['id']}")], 0, None, None,
        ['state', 'to_location.type', 'lot'])
    assert {(m['state'], m['to_location.']['type']) for m in consumed} == {
        ('done', 'customer')}
    assert [m['lot'] for m in consumed if m['lot']]
    entries = coordinator('model.ev.station.log.search_read',
        [('station.lead', '=', payable['lead'])], 0, None,
        [('id', 'ASC')], ['event_type.code'])
    codes = [e['event_type.']['code'] for e in entries]
    steps = ['survey_scheduled', 'field_day_call', 'survey_reported',
        'site_ready', 'installation_scheduled', 'materials_allocated',
        'field_day_call', 'installation_completed', 'commissioned', 'closure_call', 'qa_audit',
        'job_closed', 'job_payable']
    assert [c for c in codes if c in set(steps)] == steps
    # The reported survey is handed over to its dispatcher for the review
    to_review, = jobs(coordinator, [('kind', '=', 'survey'),
            ('state', '=', 'done')], ['lead', 'dispatcher'])
    handovers = coordinator('model.ev.station.handover.search_read',
        [('station.lead', '=', to_review['lead']), ('state', '=', 'pending')],
        0, None, None, ['receiver'])
    assert [h['receiver'] for h in handovers] == [to_review['dispatcher']]


def test_installation_with_materials_in_the_van(server):
    # The stock documents are the warehouse's and the administrator's
    admin = session(server, 'admin', ADMIN_PASSWORD)
    allocated, = jobs(admin, [('kind', '=', 'installation'),
            ('state', '=', 'scheduled'), ('allocation', '!=', None)],
        ['team.location', 'allocation.state', 'allocation.to_location',
            'materials.state'])
    assert allocated['allocation.']['state'] == 'done'
    assert (allocated['allocation.']['to_location']
        == allocated['team.']['location'])
    assert {m['state'] for m in allocated['materials.']} == {'allocated'}


def test_vans_hold_stock(server):
    admin = session(server, 'admin', ADMIN_PASSWORD)
    teams = admin('model.ev.field.team.search_read', [], 0, None, None,
        ['code', 'location'])
    assert {t['code'] for t in teams} == {code for code, *_ in TEAMS}
    call = server.rpc_session('admin', ADMIN_PASSWORD)
    # The client's context: the company's day (India), not the server's
    preferences = call('model.res.user.get_preferences', True, {})
    for team in teams:
        context = {**preferences, 'locations': [team['location']]}
        stocked = call('model.product.product.search_read', [], 0, None,
            None, ['name', 'quantity'], context)
        in_van = {p['name'] for p in stocked if p['quantity'] > 0}
        assert any(n.startswith("EVB ") for n in in_van), (team, in_van)
        assert any(n.startswith("Armoured cable") for n in in_van)
        serials = call('model.stock.lot.search_read', [], 0, None, None,
            ['number', 'quantity'], context)
        assert [s for s in serials if s['quantity'] == 1], team


def test_crews_see_their_own_team_only(server):
    coordinator = session(server, 'coordinator')
    everything = jobs(coordinator, [], ['number', 'team.code'])
    for code, _, _, crew in TEAMS:
        theirs = {j['number'] for j in everything
            if (j['team.'] or {}).get('code') == code}
        others = [j for j in everything if j['number'] not in theirs]
        assert theirs and others
        for login, *_ in crew:
            call = session(server, login)
            seen = jobs(call, [])
            assert {j['number'] for j in seen} == theirs, login
            # Another team's job, asked for by its id: refused
            with pytest.raises(RuntimeError,
                    match=r"You are not allowed to read records .* of "
                    r'"Field Job" because of .*\\nField teams see their own '
                    'jobs'):
                call('model.ev.field.job.read', [others[0]['id']],
                    ['number'])


def test_procurement_waits_for_finance(server):
    admin = session(server, 'admin', ADMIN_PASSWORD)
    threshold = float(admin('model.ev.field.configuration.read', [1],
            ['approval_threshold'])[0]['approval_threshold']['decimal'])
    finance = session(server, 'finance')
    to_approve = {name: domain for name, domain in tab_domains(
            server, 'act_procurement_domain').items()
        if domain == [['state', '=', 'waiting']]}
    assert to_approve, "no tab of the waiting procurements"
    waiting, = finance('model.ev.field.procurement.search_read',
        next(iter(to_approve.values())), 0, None, None,
        ['amount', 'vpa', 'job.state', 'lines'])
    assert float(waiting['amount']['decimal']) >= threshold
    assert waiting['vpa'] == 'srilakshmi.elec@okhdfcbank'
    assert waiting['job.']['state'] == 'scheduled'
    notified = finance('model.res.notification.search_read',
        [('user', '=', finance.user_id)], 0, None, None, ['label'])
    assert [n['label'] for n in notified if 'procurement' in n['label']]


def test_logins_are_documented():
    "Each crew login of the demo is in the README's table and ./ev's banner"
    with open(os.path.join(ROOT, 'README.md')) as readme, \
            open(os.path.join(ROOT, 'ev')) as ev:
        readme, ev = readme.read(), ev.read()
    for code, _, _, crew in TEAMS:
        for login, *_ in crew:
            assert re.search(rf'^\|[^\n]*`{login}`', readme, re.M), login
            assert re.search(rf'\b{login}\b', ev), login


def test_administrator_lands_on_the_menu(server):
    """The demo is configured: the administrator's first login does not
    open Tryton's module configuration wizard"""
    admin = session(server, 'admin', ADMIN_PASSWORD)
    assert admin('model.ir.module.config_wizard.item.search',
        [('state', '!=', 'done')], 0, None, None) == []


def menu_names(server, login, password=PASSWORD):
    "The names of the menu entries the user's client shows"
    call = session(server, login, password)
    return {m['name'] for m in call('model.ir.ui.menu.search_read',
            [], 0, None, None, ['name'])}


@pytest.mark.parametrize('login, shown, hidden', [
        ('manjunath',
            {"Stations", "Field Jobs", "Local Procurements", "Field Teams"},
            {"Import Leads", "OEM Webhooks", "Payments", "Shipments",
                "Chargers", "Charger Overview", "Team Calendar",
                "Emergency Board", "Configuration"}),
        ('finance',
            {"Stations", "Payments", "Local Procurements", "Field Jobs"},
            {"Team Calendar", "Emergency Board", "Import Leads",
                "Chargers", "Shipments", "Configuration"}),
        ('coordinator',
            {"Field Jobs", "Team Calendar", "Emergency Board",
                "Import Leads", "Payments", "Shipments", "Chargers"},
            {"Configuration", "OEM Leads"}),
        ('iot', {"Chargers", "Stations"},
            {"Payments", "Import Leads", "Team Calendar", "Local Procurements"}),
        ])
def test_each_role_sees_its_own_menu(server, login, shown, hidden):
    "The menus follow the groups: each role sees the tools of its work"
    names = menu_names(server, login)
    assert shown <= names, shown - names
    assert not hidden & names, hidden & names
