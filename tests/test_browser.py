# This file is part of the EV operations suite.
"""The back office in a real browser.

A real trytond (tests/server.py) serves the sao web client on a fresh
database; Debian's headless Chromium, driven by Playwright, logs in, opens a
Station Record from the menu "EV Operations > Stations", adds an entry to its
event log (tab "Follow-up", field "Event Log") and saves the station. The
entry is then checked in the database and over JSON-RPC: one new entry, with
the text, event type and visibility typed in, and the logged-in user as its
author.

With EV_SCREENSHOTS=1 the database holds the demo data set instead and the
test also saves the README screenshots docs/screenshots/station-list.png and
docs/screenshots/station-form.png.

On failure a screenshot, the page's HTML and the JavaScript errors go to
var/test/.
"""
import contextlib
import os
import re
import time
import uuid
from xml.etree import ElementTree

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect, sync_playwright

from server import (
    ADMIN_PASSWORD, CUSTOMER_ACCOUNT, ROOT, SAO_ROOT, USER_LOGIN, USER_NAME,
    USER_PASSWORD)

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
    '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync']
VIEWPORT = {'width': 1400, 'height': 900}
SCREENSHOTS = os.environ.get('EV_SCREENSHOTS') == '1'
DEBUG_DIR = os.path.join(ROOT, 'var', 'test')
DOCS_DIR = os.path.join(ROOT, 'docs', 'screenshots')
# sao loads a few MB of JavaScript the first time: be patient
TIMEOUT = 30_000
FIRST_LOAD_TIMEOUT = 60_000
expect.set_options(timeout=TIMEOUT)

# The demo data set (demo/__main__.py) when EV_SCREENSHOTS=1
DEMO_LOGIN, DEMO_NAME, DEMO_PASSWORD = 'sales', "Asha Sales", 'demo-pass'
DEMO_ACCOUNT = 'ACC-1000'

pytestmark = [
    pytest.mark.skipif(
        not os.path.isfile(os.path.join(SAO_ROOT, 'index.html')),
        reason=f"the sao web client is not unpacked in {SAO_ROOT} (./ev run)"),
    # What the browser shows does not depend on the database backend
    pytest.mark.backend_independent,
    ]


@pytest.fixture(scope='module')
def sao_server(server):
    "trytond serving sao (the session's server of tests/conftest.py)"
    return server


@pytest.fixture(scope='module')
def browser():
    assert os.access(CHROMIUM, os.X_OK), (
        f"{CHROMIUM} is missing: apt-get update && apt-get install -y "
        "chromium (the test never downloads a browser)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def new_page(browser, **options):
    """A page in a fresh browser context (no cookies, no local storage);
    `options` of the context replace the desktop's (e.g. a phone's viewport,
    is_mobile and has_touch, its time zone)"""
    context = browser.new_context(**{
            'viewport': VIEWPORT, 'locale': 'en-US', 'timezone_id': 'UTC',
            **options})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    page.js_errors = []
    page.on('pageerror', lambda error: page.js_errors.append(str(error)))
    track_rpc(page)
    try:
        yield page
    finally:
        context.close()


def track_rpc(page):
    "Count the calls sao has under way, for settle()"
    page.rpc_pending = set()
    page.rpc_last = time.monotonic()

    def is_rpc(request):
        return request.method == 'POST' and request.url.startswith(
            page.url.split('#')[0])

    def started(request):
        if is_rpc(request):
            page.rpc_pending.add(request)
            page.rpc_last = time.monotonic()

    def ended(request):
        if request in page.rpc_pending:
            page.rpc_pending.discard(request)
            page.rpc_last = time.monotonic()
    page.on('request', started)
    page.on('requestfinished', ended)
    page.on('requestfailed', ended)


def settle(page, quiet=0.4, timeout=TIMEOUT):
    """Wait until sao has had no call under way for `quiet` seconds: it
    redisplays a record when defaults and on_change results come back,
    which loses whatever was typed meanwhile"""
    deadline = time.monotonic() + timeout / 1000
    while page.rpc_pending or time.monotonic() - page.rpc_last < quiet:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"sao still busy after {timeout} ms: "
                f"{[r.post_data for r in page.rpc_pending]}")
        page.wait_for_timeout(50)


@pytest.fixture
def page(browser):
    with new_page(browser) as page:
        yield page


@contextlib.contextmanager
def debug_on_failure(page, server, name):
    "Keep what is needed to understand a failure in var/test/"
    try:
        yield
    except BaseException as exception:
        os.makedirs(DEBUG_DIR, exist_ok=True)
        prefix = os.path.join(
            DEBUG_DIR, f'browser-{name}-{server.backend}')
        with contextlib.suppress(Exception):
            page.screenshot(path=prefix + '.png', full_page=True)
        with contextlib.suppress(Exception):
            with open(prefix + '.html', 'w') as fp:
                fp.write(page.content())
        with contextlib.suppress(Exception):
            with open(prefix + '.log', 'w') as fp:
                fp.write("JavaScript errors:\n")
                fp.writelines(f"  {e}\n" for e in page.js_errors)
                fp.write(f"\n{exception!r}\n")
                lines = server.log_tail(1_000_000).splitlines(keepends=True)
                fp.write("\ntrytond log without the requests (tail):\n")
                lines = [line for line in lines if ' werkzeug ' not in line]
                fp.writelines(lines[-200:])
        if isinstance(exception, Exception):
            message = str(exception)
            if page.js_errors and 'JavaScript error' not in message:
                message += f"\nJavaScript errors in sao: {page.js_errors}"
            raise AssertionError(
                f"{message}\n(screenshot, HTML and logs: {prefix}.*)"
                ) from exception
        raise


def wait_visible(page, locator, what, timeout=TIMEOUT):
    """Wait for locator to be visible; fail at once when sao raises a
    JavaScript error meanwhile (sao then never shows the view)"""
    deadline = time.monotonic() + timeout / 1000
    while True:
        if page.js_errors:
            raise AssertionError(
                f"sao raised a JavaScript error while waiting for {what}: "
                f"{page.js_errors}")
        if locator.first.is_visible():
            return locator
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not shown after {timeout} ms")
        page.wait_for_timeout(200)


def login(page, server, user, password, menu="EV Operations"):
    page.goto(f'{server.url}#{server.database}')
    database = page.locator('.login-dialog input#database')
    expect(database).to_be_visible(timeout=FIRST_LOAD_TIMEOUT)
    if not database.get_attribute('readonly') and not database.input_value():
        database.fill(server.database)
    page.locator('.login-dialog input#login').fill(user)
    page.locator('.login-dialog button[type="submit"]').click()
    # The server asks for the password in a second dialog
    password_entry = page.locator('.ask-dialog input[type="password"]')
    password_entry.fill(password)
    page.locator('.ask-dialog .modal-footer .btn-primary').click()
    wait_visible(
        page, page.locator(f'#menu .column-char[title="{menu}"]'),
        "the menu after login", FIRST_LOAD_TIMEOUT)


def open_menu(page, *path, touch=False):
    """Open the menu entry at `path` (expanding its parents; a name may
    repeat, as EV Operations › Chargers › Chargers), with taps on a phone;
    return the tab it opened"""
    def press(locator):
        locator.tap() if touch else locator.click()

    def row_after(row, name):
        rows = (page.locator('#menu tr') if row is None
            else row.locator('xpath=following-sibling::tr'))
        return rows.filter(has=page.locator(
                f'.column-char[title="{name}"]')).first
    row = row_after(None, path[0])
    wait_visible(page, row, f"{path[0]} in the menu")
    for child in path[1:]:
        shown = row_after(row, child)
        if not shown.is_visible():
            press(row.locator('.expander').first)
        wait_visible(page, shown, f"{child} in the menu")
        row = shown
    press(row.locator('.column-char').first)
    expect(page.locator('#tablist li.active')).to_contain_text(path[-1])
    return page.locator('#tabcontent > .tab-pane.active')


def pick_completion(page, dialog, name, value, attempts=3, shown=None):
    """Type value in the Many2One `name` and pick it from the completion
    list (the record named `shown`, else `value`), as a user does; return
    the entry"""
    shown = shown or value
    entry = dialog.locator(f'input[name="{name}"]')
    item = dialog.locator('li.completion a', has_text=re.compile(
            rf'^\s*{re.escape(shown)}\s*$'))
    for _ in range(attempts):
        settle(page)
        entry.click()
        entry.fill('')
        entry.press_sequentially(value, delay=30)
        try:
            item.wait_for(state='visible', timeout=10_000)
        except PlaywrightTimeoutError:
            continue  # sao redisplayed the record over the typing
        item.click()
        # its on_change comes back (e.g. the type's default visibility)
        settle(page)
        expect(entry).to_have_value(shown)
        return entry
    raise AssertionError(
        f"{value!r} never showed in the completion of {name}")


def open_stations(page):
    "Open EV Operations > Stations; return the new tab"
    menu = page.locator('#menu')
    ev = menu.locator(
        'tr', has=page.locator('.column-char[title="EV Operations"]'))
    stations = menu.locator('.column-char[title="Stations"]')
    if not stations.is_visible():
        ev.locator('.expander').click()
    stations.click()
    tab = page.locator('#tabcontent > .tab-pane.active')
    expect(page.locator('#tablist li.active')).to_contain_text('Stations')
    return tab


def open_station(page, tab, number):
    "Open the station of the list in the form view"
    row = tab.locator('.treeview tbody tr', has_text=number)
    wait_visible(page, row, f"station {number} in the list")
    row.first.dblclick()
    number_field = tab.locator('.form input[name="number"]')
    wait_visible(page, number_field, f"the form of station {number}")
    expect(number_field).to_have_value(number)
    follow_up = tab.locator(
        '.form-notebook .nav-tabs li', has_text='Follow-up')
    if 'active' not in (follow_up.get_attribute('class') or ''):
        follow_up.locator('a').click()
    return tab.locator('.form-one2many', has=page.locator(
            'label.form-one2many-string', has_text='Event Log'))


def test_add_event_log_entry_in_browser(sao_server, browser, page):
    server = sao_server
    if SCREENSHOTS:
        user, name, password, account = (
            DEMO_LOGIN, DEMO_NAME, DEMO_PASSWORD, DEMO_ACCOUNT)
    else:
        user, name, password, account = (
            USER_LOGIN, USER_NAME, USER_PASSWORD, CUSTOMER_ACCOUNT)
    (station_id, number), = server.sql(
        'SELECT id, number FROM ev_station WHERE customer_account = %s',
        (account,))
    text = f"Customer called from the browser test {uuid.uuid4().hex[:8]}"
    (before,), = server.sql(
        'SELECT COUNT(*) FROM ev_station_log WHERE station = %s',
        (station_id,))

    with debug_on_failure(page, server, 'event-log'):
        login(page, server, user, password)
        tab = open_stations(page)
        events = open_station(page, tab, number)
        wait_visible(page, events, "the Event Log of the station")

        events.locator('button[aria-label="New"]').click()
        dialog = page.locator('.modal-dialog', has=page.locator(
                'textarea[name="text"]'))
        wait_visible(page, dialog, "the form of a new log entry")
        # The defaults are in once the author shows; typing earlier is lost
        expect(dialog.locator('input[name="author"]')).to_have_value(name)
        event_type = pick_completion(page, dialog, 'event_type', "Note")
        # sao takes a value on "change": leave each field with Tab
        text_entry = dialog.locator('textarea[name="text"]')
        text_entry.fill(text)
        text_entry.press('Tab')
        visibility = dialog.locator('select[name="visibility"]')
        visibility.select_option(label="Client visible")
        visibility.press('Tab')
        expect(event_type).to_have_value('Note')
        expect(text_entry).to_have_value(text)
        expect(visibility).to_have_value('"client"')
        settle(page)
        dialog.locator('.modal-footer button#save').click()
        expect(dialog).to_have_count(0)

        row = events.locator('tbody tr', has_text=text)
        expect(row).to_have_count(1)
        settle(page)
        tab.locator('button.navbar-btn[title="Save"]').click()
        expect(tab.locator('.infobar')).to_contain_text(
            "Record saved", timeout=TIMEOUT)
        assert not page.js_errors, page.js_errors
        # The saved entry as the server sends it back
        expect(row).to_contain_text("Note")
        expect(row).to_contain_text(name)
        expect(row).to_contain_text("Client visible")

    # In the database: one new entry, as typed, by the logged-in user
    rows = server.sql(
        'SELECT l.station, l.text, t.code, l.visibility, u.login, '
        'l.timestamp '
        'FROM ev_station_log AS l '
        'JOIN ev_station_event_type AS t ON t.id = l.event_type '
        'LEFT JOIN res_user AS u ON u.id = l.author '
        'WHERE l.text = %s', (text,))
    assert len(rows) == 1, rows
    (station, saved_text, code, saved_visibility, author, timestamp), = rows
    assert station == station_id
    assert saved_text == text
    assert code == 'note'
    assert saved_visibility == 'client'
    assert author == user
    assert timestamp is not None
    (after,), = server.sql(
        'SELECT COUNT(*) FROM ev_station_log WHERE station = %s',
        (station_id,))
    assert after == before + 1

    # Over JSON-RPC, as the same user sees it
    call = server.rpc_session(user, password)
    entries = call(
        'model.ev.station.log.search_read', [('text', '=', text)], 0, None,
        None, ['station', 'text', 'event_type.code', 'visibility',
            'author', 'author.login'], {})
    assert len(entries) == 1, entries
    entry, = entries
    assert entry['station'] == station_id
    assert entry['text'] == text
    assert entry['event_type.']['code'] == 'note'
    assert entry['visibility'] == 'client'
    assert entry['author'] == call.user_id
    assert entry['author.']['login'] == user

    if SCREENSHOTS:
        with new_page(browser) as page, \
                debug_on_failure(page, server, 'screenshots'):
            login(page, server, user, password)
            save_readme_screenshots(page, server)


def sao_list_widgets():
    "The widgets sao's list views can show (Sao.View.TreeXMLViewParser)"
    for path in ['src/view/tree.js', 'dist/tryton-sao.js']:
        path = os.path.join(SAO_ROOT, path)
        if os.path.isfile(path):
            with open(path) as fp:
                source = fp.read()
            break
    else:
        pytest.fail(f"no view/tree.js nor tryton-sao.js in {SAO_ROOT}")
    start = source.index('Sao.View.TreeXMLViewParser.WIDGETS = {')
    block = source[start:source.index('};', start)]
    return set(re.findall(r"'([\w-]+)'\s*:", block))


def unknown_list_columns(server):
    """The list columns of the ev_* modules' views that sao's lists cannot
    show: sao stops with "ColumnFactory is not a constructor" when it builds
    such a view, e.g. opening a station whose Event Log list has one.
    (A Timestamp or DateTime column needs widget="date" and widget="time".)
    """
    known = sao_list_widgets()
    assert {'char', 'date', 'time', 'many2one'} <= known, known
    call = server.rpc_session('admin', ADMIN_PASSWORD)
    views = call('model.ir.ui.view.search_read', [
            ('module', 'like', 'ev_%'), ('type', '=', 'tree')],
        0, None, None, ['model', 'name', 'module'], {})
    assert views
    unknown = []
    for view in views:
        result = call(f'model.{view["model"]}.fields_view_get',
            view['id'], 'tree', {})
        for column in ElementTree.fromstring(result['arch']).iter('field'):
            name = column.get('name')
            widget = column.get('widget') or result['fields'][name]['type']
            if widget not in known:
                unknown.append(
                    f"{view['module']}/view/{view['name']}.xml "
                    f"({view['model']}): field {name}, widget {widget!r}")
    return unknown


def test_list_views_use_widgets_sao_shows(sao_server):
    "Every list view of the server's ev_* modules shows in sao"
    unknown = unknown_list_columns(sao_server)
    assert not unknown, (
        "sao cannot show these list columns: " + "; ".join(unknown))


def save_screenshot(page, name):
    "A README screenshot in docs/screenshots, the pointer out of the way"
    os.makedirs(DOCS_DIR, exist_ok=True)
    page.mouse.move(0, page.viewport_size['height'] - 1)
    page.wait_for_timeout(500)
    page.screenshot(path=os.path.join(DOCS_DIR, name))


def save_readme_screenshots(page, server):
    "The station list and a well filled station form of the demo data"
    # The station with the longest log that is still in progress
    (number,), = server.sql(
        'SELECT s.number FROM ev_station AS s '
        'JOIN ev_station_log AS l ON l.station = s.id '
        "WHERE s.stage != 'commissioned' "
        'GROUP BY s.number ORDER BY COUNT(l.id) DESC, s.number LIMIT 1')
    tab = open_stations(page)
    rows = tab.locator('.treeview tbody tr')
    wait_visible(page, rows.filter(has_text=number), "the station list")
    save_screenshot(page, 'station-list.png')

    events = open_station(page, tab, number)
    wait_visible(page, events.locator('tbody tr'), "the station's log")
    save_screenshot(page, 'station-form.png')
