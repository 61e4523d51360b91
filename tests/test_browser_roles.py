# This file is part of the EV operations suite.
"""Each back-office role's day on the demo data set, in a real browser.

The demo of `./ev run` (demo/__main__.py, demo/field.py) in a real trytond
serving sao; Debian's headless Chromium on a 1440×900 desktop in India.
Each test walks one role through its day with the demo's own login, then
checks what it did over JSON-RPC as the same user:

- the dispatcher (`coordinator`) finds today's jobs in *Field Jobs › Today*,
  schedules the survey nobody is assigned to, and finds it in the *Team
  Calendar*;
- Finance (`finance`) approves the local procurement waiting for it, and
  reads the payout runs;
- Tata Motors' user (`oem-tata`) follows its leads and their milestones in
  *OEM Leads*, and sees no other OEM's lead;
- the IoT operator (`iot`) reads the *Charger Overview* while the demo
  chargers talk to a real Mosquitto and the ingestion service, and resets
  a charger, which answers.

They run after test_demo_field.py has checked the demo as loaded
(tests/conftest.py), since they change it. With EV_SCREENSHOTS=1 they also
save the README's screenshots of these views. On failure a screenshot, the
page's HTML and the logs go to var/test/.
"""
import datetime as dt
import re
import zoneinfo

import pytest
from playwright.sync_api import expect

from iot_tools import Broker, DemoChargers, Ingest, wait_for
from test_browser import (
    SCREENSHOTS, browser, debug_on_failure, login, new_page, open_menu,
    pick_completion, pytestmark, save_screenshot, settle,
    unknown_list_columns, wait_visible)
from test_demo_field import jobs, server, session, tab_domains, utc

PASSWORD = 'demo-pass'
INDIA = zoneinfo.ZoneInfo('Asia/Kolkata')
DESKTOP = {'viewport': {'width': 1440, 'height': 900},
    'timezone_id': 'Asia/Kolkata'}
WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday',
    'saturday', 'sunday']

__all__ = ['browser', 'pytestmark', 'server']


@pytest.fixture
def desk(browser):
    with new_page(browser, **DESKTOP) as page:
        yield page


def screenshot(page, name):
    "A README screenshot when EV_SCREENSHOTS=1"
    if SCREENSHOTS:
        save_screenshot(page, name)


def open_tab(page, tab, name):
    "Click the list's tab (an action's domain) `name` and wait for the list"
    tab.locator('.nav-tabs li a', has_text=re.compile(
            rf'^\s*{re.escape(name)}')).first.click()
    expect(tab.locator('.nav-tabs li.active')).to_contain_text(name)
    settle(page)


def open_row(page, tab, text, field, value, column=None):
    """Double-click the list's row showing `text` (its cell `text` of the
    column titled `column`, where the middle of the row may be a link to
    another record); wait for its form"""
    row = tab.locator('.treeview tbody tr' + (
            f' td[data-title="{column}: "]' if column else ''),
        has_text=text)
    wait_visible(page, row, f"{text} in the list")
    row.first.dblclick()
    entry = tab.locator(f'.form input[name="{field}"]')
    wait_visible(page, entry, f"the form of {text}")
    expect(entry).to_have_value(value)
    settle(page)
    return tab


def list_column(tab, title):
    "The texts of the list's column `title`, row by row"
    return [text.strip() for text in tab.locator(
            f'.treeview tbody tr td[data-title="{title}: "]').all_inner_texts()]


def free_slot(call, team, hours=2):
    """The first slot of `hours` tomorrow or later (India) in the team's
    working days and hours that none of its jobs takes"""
    team, = call('model.ev.field.team.read', [team], [
            'work_start', 'work_end', 'days_off.date'] + WEEKDAYS)
    booked = [(utc(j['slot_start']), utc(j['slot_end']))
        for j in call('model.ev.field.job.search_read', [
                ('team', '=', team['id']),
                ('state', 'not in', ['draft', 'cancelled'])],
            0, None, None, ['slot_start', 'slot_end'])]
    days_off = {dt.date(d['date']['year'], d['date']['month'],
            d['date']['day']) for d in team['days_off.']}
    first = team['work_start']['hour'] + 1
    last = team['work_end']['hour'] - hours
    today = dt.datetime.now(INDIA).date()
    for offset in range(1, 15):
        day = today + dt.timedelta(days=offset)
        if not team[WEEKDAYS[day.weekday()]] or day in days_off:
            continue
        for hour in range(first, last + 1):
            start = dt.datetime.combine(day, dt.time(hour), INDIA)
            end = start + dt.timedelta(hours=hours)
            if all(end <= s or start >= e for s, e in booked):
                return start, end
    raise AssertionError(f"no free slot for {team['id']} in two weeks")


def type_datetime(page, tab, name, value):
    "Type a date and time in the user's format (English) and leave it"
    entry = tab.locator(f'.form input[type="text"][name="{name}"]')
    typed = value.strftime('%m/%d/%Y %H:%M')
    entry.click()
    entry.fill(typed)
    entry.press('Tab')
    settle(page)
    expect(entry).to_have_value(re.compile(rf'^{re.escape(typed)}'))


def test_dispatcher_schedules_a_survey(server, desk):
    page = desk
    coordinator = session(server, 'coordinator')
    todays = {j['number'] for j in jobs(coordinator,
            tab_domains(server, 'act_job_domain')['Today'], ['number'])}
    assert todays, "the demo has no job today"
    job, = coordinator('model.ev.field.job.search_read', [
            ('team', '=', None), ('state', '=', 'draft')], 0, None, None,
        ['number', 'postal_code', 'kind'])
    south, = coordinator('model.ev.field.team.search', [
            ('code', '=', 'BLR-S')], 0, None, None)
    start, end = free_slot(coordinator, south)

    with debug_on_failure(page, server, 'dispatcher'):
        login(page, server, 'coordinator', PASSWORD)
        tab = open_menu(
            page, "EV Operations", "Field Operations", "Field Jobs")
        expect(tab.locator('.nav-tabs li.active')).to_contain_text("Today")
        rows = tab.locator('.treeview tbody tr')
        wait_visible(page, rows, "today's jobs")
        settle(page)
        assert set(list_column(tab, "Number")) == todays
        screenshot(page, 'field-jobs-today.png')

        open_tab(page, tab, "Unassigned")
        open_row(page, tab, job['number'], 'number', job['number'])
        pick_completion(page, tab, 'team', "South Beng",
            shown="[BLR-S] South Bengaluru")
        type_datetime(page, tab, 'slot_start', start)
        type_datetime(page, tab, 'slot_end', end)
        tab.locator('.form button[name="schedule"]').click()
        settle(page)
        expect(tab.locator('select[name="state"]')).to_have_value(
            '"scheduled"')
        expect(page.locator('.modal-dialog')).to_have_count(0)
        assert not page.js_errors, page.js_errors
        screenshot(page, 'field-job-form.png')

        calendar = open_menu(
            page, "EV Operations", "Field Operations", "Team Calendar")
        wait_visible(page, calendar.locator('.fc-view'), "the calendar")
        # The week opens at working hours: 9:00 is in sight, 6:00 is not
        scroller = calendar.locator('.fc-scroller').first
        wait_visible(page, calendar.locator('.fc-time', has_text='9:00'),
            "the calendar's hours")
        top = scroller.evaluate('el => el.scrollTop')
        nine = calendar.locator('tr[data-time="09:00:00"]').evaluate(
            'el => el.offsetTop')
        six = calendar.locator('tr[data-time="06:00:00"]').evaluate(
            'el => el.offsetTop')
        assert six < top <= nine, (six, top, nine)
        # On to the week of the slot (sao's weeks follow the language)
        for _ in range(3):
            last = calendar.locator('.fc-day-header').last.get_attribute(
                'data-date')
            if dt.date.fromisoformat(last) >= start.date():
                break
            calendar.locator('.fc-next-button').click()
            settle(page)
        event = calendar.locator('.fc-event', has_text=job['number'])
        wait_visible(page, event, f"{job['number']} in the calendar")
        expect(event).to_contain_text("South Bengaluru")
        screenshot(page, 'team-calendar.png')

        # The handovers to act on keep their buttons in sight at 1440 px
        handovers = open_menu(page, "EV Operations", "Handovers")
        rows = handovers.locator('.treeview tbody tr')
        wait_visible(page, rows, "the handovers")
        settle(page)
        width = DESKTOP['viewport']['width']
        buttons = [b for b in rows.locator('button').all() if b.is_visible()]
        assert buttons, "no handover to accept, complete or forward"
        for button in buttons:
            box = button.bounding_box()
            assert box['x'] + box['width'] <= width, (
                f"{button.inner_text()} is out of sight ({box})")
        screenshot(page, 'handovers.png')
        if SCREENSHOTS:
            # An OEM's lead as Central Ops sees it
            leads = open_menu(page, "EV Operations", "Leads")
            open_tab(page, leads, "All")
            open_row(page, leads, 'TM-24-0325', 'oem_reference',
                'TM-24-0325')
            screenshot(page, 'lead-form.png')

    saved, = coordinator('model.ev.field.job.read', [
            coordinator('model.ev.field.job.search', [
                    ('number', '=', job['number'])], 0, None, None)[0]],
        ['state', 'team', 'slot_start', 'slot_end', 'stations'])
    assert saved['state'] == 'scheduled'
    assert saved['team'] == south
    assert utc(saved['slot_start']) == start
    assert utc(saved['slot_end']) == end
    # Its lead got its Station Record, whose log says so
    entries = coordinator('model.ev.station.log.search_read', [
            ('station', 'in', saved['stations']),
            ('event_type.code', '=', 'survey_scheduled')],
        0, None, None, ['text', 'author'])
    assert len(entries) == 1, entries
    assert entries[0]['author'] == coordinator.user_id
    assert job['number'] in entries[0]['text']


def test_finance_approves_a_procurement(server, desk):
    page = desk
    finance = session(server, 'finance')
    waiting, = finance('model.ev.field.procurement.search_read', [
            ('state', '=', 'waiting')], 0, None, None,
        ['job.number', 'vendor.rec_name', 'amount'])
    vendor = waiting['vendor.']['rec_name']

    with debug_on_failure(page, server, 'finance'):
        login(page, server, 'finance', PASSWORD)
        tab = open_menu(page, "EV Operations", "Field Operations",
            "Local Procurements")
        open_tab(page, tab, "To Approve")
        row = tab.locator('.treeview tbody tr', has_text=vendor)
        wait_visible(page, row, "the procurement waiting for Finance")
        expect(tab.locator('.treeview tbody tr')).to_have_count(1)
        screenshot(page, 'procurements.png')
        row.first.dblclick()
        state = tab.locator('.form select[name="state"]')
        wait_visible(page, state, "the procurement's form")
        expect(state).to_have_value('"waiting"')
        settle(page)
        tab.locator('.form button', has_text="Approve").click()
        settle(page)
        expect(state).to_have_value('"approved"')
        expect(tab.locator('.form input[name="approved_by"]')).to_have_value(
            "Farah Finance")
        expect(page.locator('.modal-dialog')).to_have_count(0)
        assert not page.js_errors, page.js_errors

    approved, = finance('model.ev.field.procurement.read', [waiting['id']],
        ['state', 'approved_by'])
    assert approved['state'] == 'approved'
    assert approved['approved_by'] == finance.user_id


def test_finance_reads_the_payout_runs(server, desk):
    """Finance finds the three teams' runs of the demo (demo/payout.py) in
    *Payouts › Payout Runs*: one per state it meets"""
    page = desk
    finance = session(server, 'finance')
    runs = finance('model.ev.payout.run.search_read', [], 0, None, None,
        ['number', 'state'])
    assert {r['state'] for r in runs} == {'draft', 'sign_off', 'paid'}

    with debug_on_failure(page, server, 'finance'):
        login(page, server, 'finance', PASSWORD)
        tab = open_menu(page, "EV Operations", "Payouts", "Payout Runs")
        open_tab(page, tab, "All")
        rows = tab.locator('.treeview tbody tr')
        wait_visible(page, rows.first, "the payout runs")
        expect(rows).to_have_count(len(runs))
        for run in runs:
            expect(tab.locator('.treeview tbody tr',
                    has_text=run['number'])).to_have_count(1)
        screenshot(page, 'payout-runs.png')
        assert not page.js_errors, page.js_errors


def test_oem_follows_its_leads(server, desk):
    page = desk
    tata = session(server, 'oem-tata')
    own = tata('model.sale.opportunity.search_read', [
            ('state', 'not in', ['lost', 'cancelled'])], 0, None, None,
        ['oem_reference', 'milestone_installed', 'oem_customer'])
    references = {l['oem_reference'] for l in own}
    assert 'TM-24-0311' in references, references
    # The demo's other OEM
    (mg,), = server.sql("SELECT oem_reference FROM sale_opportunity "
        "WHERE oem_reference LIKE 'MG-%' LIMIT 1")
    installed, = [l for l in own if l['oem_reference'] == 'TM-24-0311']
    assert installed['milestone_installed'] is not None
    shown_date = utc(installed['milestone_installed']).astimezone(
        INDIA).strftime('%m/%d/%Y')

    with debug_on_failure(page, server, 'oem'):
        login(page, server, 'oem-tata', PASSWORD, menu="OEM Leads")
        tab = open_menu(page, "OEM Leads")
        rows = tab.locator('.treeview tbody tr')
        wait_visible(page, rows.filter(has_text='TM-24-0311'), "its leads")
        settle(page)
        assert set(list_column(tab, "OEM Reference")) == references
        assert mg not in tab.locator('.treeview').inner_text()
        row = rows.filter(has_text='TM-24-0311')
        expect(row).to_contain_text(installed['oem_customer'])
        expect(row).to_contain_text(shown_date)
        screenshot(page, 'oem-leads.png')
        row.first.dblclick()
        wait_visible(page, tab.locator('.form input[name="oem_reference"]'),
            "the lead's form")
        expect(tab.locator('.form input[name="oem_reference"]')
            ).to_have_value('TM-24-0311')
        expect(tab.locator('.form input[name="milestone_installed"]')
            ).to_have_value(re.compile(re.escape(shown_date)))
        assert not page.js_errors, page.js_errors


def test_every_list_view_shows_in_sao(server):
    "Every list view of every module of the demo shows in sao"
    unknown = unknown_list_columns(server)
    assert not unknown, (
        "sao cannot show these list columns: " + "; ".join(unknown))


def test_service_manager_follows_an_overdue_part(server, desk):
    """The Service Manager finds the part that never came back on the
    Overdue tab, with its box and label, and the hold it placed"""
    page = desk
    service = session(server, 'service')
    overdue = service('model.ev.service.part.search_read', [
            ('overdue', '=', True)], 0, None, None,
        ['return_label', 'case.number', 'return_box.rec_name'])
    assert overdue, "the demo has an overdue part"
    labels = {p['return_label'] for p in overdue}

    with debug_on_failure(page, server, 'service'):
        login(page, server, 'service', PASSWORD)
        tab = open_menu(page, "EV Operations", "Service", "Parts to Return")
        open_tab(page, tab, "Overdue")
        rows = tab.locator('.treeview tbody tr')
        wait_visible(page, rows.first, "the overdue parts")
        expect(rows).to_have_count(len(overdue))
        assert set(list_column(tab, "Return Label")) == labels
        screenshot(page, 'service-overdue.png')
        part = overdue[0]
        # On the label's cell: the serial's and the case's cells are links
        label = tab.locator(
            '.treeview tbody tr td[data-title="Return Label: "]',
            has_text=part['return_label'])
        label.first.dblclick()
        entry = tab.locator('.form input[name="return_label"]')
        wait_visible(page, entry, "the overdue part's form")
        expect(entry).to_have_value(part['return_label'])
        since = tab.locator('.form input[type=text][name="overdue_since"]')
        wait_visible(page, since, "when the part became overdue")
        expect(since).not_to_have_value('')
        assert not page.js_errors, page.js_errors

        cases = open_menu(page, "EV Operations", "Service", "Service Cases")
        open_tab(page, cases, "Open")
        row = cases.locator('.treeview tbody tr',
            has_text=part['case.']['number'])
        wait_visible(page, row, "the overdue part's case")
        screenshot(page, 'service-cases.png')
        assert not page.js_errors, page.js_errors


def test_iot_operator_resets_a_charger(server, desk):
    page = desk
    iot = session(server, 'iot')

    def health():
        return dict(server.sql("SELECT identity, health FROM ev_charger "
                "WHERE identity LIKE 'CP-DEMO-%'"))
    with Broker() as broker, \
            Ingest(server, broker_port=broker.port), \
            DemoChargers(server, broker_port=broker.port), \
            debug_on_failure(page, server, 'iot'):
        wait_for(lambda: health().get('CP-DEMO-03') == 'faulted'
            and health().get('CP-DEMO-02') == 'charging', timeout=60,
            message="the demo chargers' health")
        overview = {row['power_class']: row for row in iot(
                'model.ev.charger.overview.search_read', [], 0, None, None,
                ['power_class', 'available', 'charging', 'faulted',
                    'total'])}
        login(page, server, 'iot', PASSWORD)
        tab = open_menu(page, "EV Operations", "Chargers", "Charger Overview")
        rows = tab.locator('.treeview tbody tr')
        wait_visible(page, rows, "the overview")
        expect(rows).to_have_count(len(overview))
        for power_class, row in overview.items():
            shown = rows.filter(has_text=re.compile(
                    r'L2 \(AC\)' if power_class == 'l2' else r'L3 \(DC'))
            expect(shown.first).to_contain_text(str(row['total']))
        screenshot(page, 'charger-overview.png')

        tab = open_menu(page, "EV Operations", "Chargers", "Chargers")
        open_tab(page, tab, "All")
        open_row(page, tab, 'CP-DEMO-01', 'identity', 'CP-DEMO-01')
        tab.locator('.form button', has_text="Reset").click()
        confirm = page.locator('.modal-dialog', has_text="Send this command")
        wait_visible(page, confirm, "the confirmation of the command")
        confirm.locator('.modal-footer button', has_text="OK").click()
        expect(confirm).to_have_count(0)
        settle(page)
        assert not page.js_errors, page.js_errors
        charger, = iot('model.ev.charger.search', [
                ('identity', '=', 'CP-DEMO-01')], 0, None, None)

        def answered():
            return iot('model.ev.charger.command.search_read', [
                    ('charger', '=', charger), ('action', '=', 'Reset')],
                0, None, None, ['state', 'detail', 'sender'])
        commands = wait_for(lambda: [c for c in answered()
                if c['state'] == 'accepted'], timeout=60,
            message="the charger's answer to Reset")
        # The operator's own commands, answered
        log = open_menu(page, "EV Operations", "Chargers", "Command Log")
        open_tab(page, log, "Mine")
        row = log.locator('.treeview tbody tr', has_text='CP-DEMO-01')
        wait_visible(page, row, "the Reset in the command log")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Accepted")
        expect(row).to_contain_text("demo charger: Reset done")
        assert not page.js_errors, page.js_errors
    command, = commands
    assert command['detail'] == "demo charger: Reset done"
    assert command['sender'] == iot.user_id
