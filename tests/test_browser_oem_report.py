# This file is part of the EV operations suite.
"""The closure packs and OEM reports of the demo (demo/oem_report.py) in
sao, as Central Ops see them: Tata's accepted pack opens on its form with
its items and verdicts, and the OEM Reports list shows each OEM's weekly
report. With EV_SCREENSHOTS=1 the test saves the README's
docs/screenshots/closure-pack-form.png and oem-reports.png."""
from playwright.sync_api import expect

from test_browser import (
    browser, debug_on_failure, login, new_page, open_menu, pytestmark,
    settle, wait_visible)
from test_browser_helpdesk import screenshot as folded_screenshot
from test_browser_roles import DESKTOP, PASSWORD, open_tab, screenshot
from test_demo_field import server, session

__all__ = ['browser', 'pytestmark', 'server']


def test_central_ops_read_a_pack_and_the_reports(server, browser):
    coordinator = session(server, 'coordinator')
    accepted, = coordinator('model.ev.oem.closure.pack.search_read',
        [('state', '=', 'accepted')], 0, None, None, ['number', 'items'])
    reports = coordinator('model.ev.oem.report.search_read',
        [('state', '=', 'done')], 0, None, None, ['config.name'])
    assert len(reports) == 2

    with new_page(browser, **DESKTOP) as page, \
            debug_on_failure(page, server, 'closure-pack'):
        login(page, server, 'coordinator', PASSWORD)
        tab = open_menu(page, "EV Operations", "Closure Packs")
        open_tab(page, tab, "All")
        row = tab.locator('.treeview tbody tr', has_text=accepted['number'])
        wait_visible(page, row, "the accepted pack")
        row.first.dblclick()
        number = tab.locator('.form input[name="number"]')
        wait_visible(page, number, "the pack's form")
        expect(number).to_have_value(accepted['number'])
        items = tab.locator('.form .treeview tbody tr')
        expect(items).to_have_count(len(accepted['items']))
        settle(page)
        screenshot(page, 'closure-pack-form.png')

        tab = open_menu(page, "EV Operations", "OEM Reports", "OEM Reports")
        open_tab(page, tab, "All")
        rows = tab.locator('.treeview tbody tr')
        for report in reports:
            name = report['config.']['name']
            wait_visible(page, rows.filter(has_text=name), name)
        settle(page)
        # The menu folded away: the list has the width of its columns
        folded_screenshot(page, 'oem-reports.png')
        assert not page.js_errors, page.js_errors
