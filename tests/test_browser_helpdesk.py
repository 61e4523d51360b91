# This file is part of the EV operations suite.
"""The hotline agent's helpdesk (ev_helpdesk, issue 14) in a real browser.

The demo of `./ev run` (demo/helpdesk.py) in a real trytond serving sao;
Debian's headless Chromium on a 1440×900 desktop in India. `hotline` (Hema
Hotline, an Ops Agent of the Hotline department) logs in through sao's
login once for the file and

- reads the new requests of the *Inbox* with the category, urgency and
  confidence the classifier gave them (the confidence column turned on
  from the list's menu, as a user does);
- finds on *Tickets* the Near Breach tab the server computes and, on All,
  her department's tickets with their SLA; opens the payment ticket the
  demo put in progress;
- opens the escalated call on *Calls*: the phone said as "098860 31001"
  stored in E.164, the caller looked up, their chargers and open ticket on
  the Customer tab;
- then, as an attacker, tries to reach the Technical department's critical
  ticket: not in the list, not found by its number in the search, and its
  link refused with the record rule's message.

What the browser shows is compared with what the server gives the same
users over JSON-RPC. With EV_SCREENSHOTS=1 the tests also save the README's
docs/screenshots/helpdesk-{inbox,tickets,ticket,call}.png. On failure a
screenshot, the page's HTML and the logs go to var/test/.
"""
import pytest
from playwright.sync_api import expect

from test_browser import (
    SCREENSHOTS, browser, debug_on_failure, login, new_page, open_menu,
    pytestmark, save_screenshot, settle, wait_visible)
from test_browser_roles import DESKTOP, list_column, open_row, open_tab
from test_demo_field import rpc_domain, session, tab_domains
from test_demo_helpdesk import server

PASSWORD = 'demo-pass'
AGENT, AGENT_NAME = 'hotline', "Hema Hotline"

__all__ = ['browser', 'pytestmark', 'server']


@pytest.fixture(scope='module')
def desk(browser, server):
    "The agent logged in through sao's login, one page for the file"
    with new_page(browser, **DESKTOP) as page:
        with debug_on_failure(page, server, 'helpdesk-login'):
            login(page, server, AGENT, PASSWORD)
        yield page


def screenshot(page, name):
    """A README screenshot when EV_SCREENSHOTS=1, the menu folded away with
    its button so that the list or form has the width"""
    if not SCREENSHOTS:
        return
    brand = page.locator('a.navbar-brand[data-toggle="menu"]')
    brand.click()
    page.evaluate('document.activeElement && document.activeElement.blur()')
    save_screenshot(page, name)
    brand.click()


def show_columns(page, tab, **shown):
    """Tick or untick optional columns in the list's menu, as a user does
    (`shown`: {column title with _ for spaces: visible})"""
    toggle = tab.locator('.treeview thead th.tree-menu a[data-toggle]')
    toggle.click()
    for name, visible in shown.items():
        item = tab.locator(
            '.treeview thead th.tree-menu .dropdown-menu label',
            has_text=name.replace('_', ' '))
        wait_visible(page, item, f"{name} in the list's menu")
        item.locator('input').set_checked(visible)
    toggle.click()
    settle(page)


def rows_of(tab):
    return tab.locator('.treeview tbody tr')


TICKET_FIELDS = ['number', 'subject', 'priority', 'state',
    'department.code', 'agent.login', 'sla_status:string']


def test_agent_reads_inbox_tickets_and_a_call(server, desk):
    page = desk
    agent = session(server, AGENT)
    manager = session(server, 'helpdesk')
    requests = agent('model.ev.helpdesk.request.search_read', [
            ('state', '=', 'new')], 0, None, None,
        ['text', 'category.name', 'urgency:string', 'category_confidence'])
    assert len(requests) == 3, requests
    # What the record rules let the agent see: the Hotline's tickets and
    # those assigned to her, out of every ticket the manager sees
    everything = manager('model.ev.helpdesk.ticket.search_read', [], 0,
        None, None, TICKET_FIELDS)
    allowed = {t['number'] for t in everything
        if t['department.']['code'] == 'hotline'
        or (t['agent.'] or {}).get('login') == AGENT}
    tickets = {t['number']: t for t in agent(
            'model.ev.helpdesk.ticket.search_read', [], 0, None, None,
            TICKET_FIELDS)}
    assert set(tickets) == allowed
    technical = {t['number'] for t in everything
        if t['department.']['code'] == 'technical'}
    assert technical and not technical & allowed
    near_breach = agent('model.ev.helpdesk.ticket.search_count',
        rpc_domain(tab_domains(
            server, 'act_ticket_domain', 'ev_helpdesk')['Near Breach']))
    # The payment problem the demo's hotline works on
    ticket, = [t for t in tickets.values()
        if t['subject'] == "UPI debited twice for one session"]
    assert (ticket['priority'], ticket['state']) == ('high', 'in_progress')
    escalated, = agent('model.ev.helpdesk.call.search_read', [
            ('state', '=', 'escalated')], 0, None, None,
        ['phone', 'party.rec_name', 'ticket.number', 'customer_chargers',
            'open_tickets'])
    chargers = agent('model.ev.charger.read', escalated['customer_chargers'],
        ['identity'])
    open_tickets = agent('model.ev.helpdesk.ticket.read',
        escalated['open_tickets'], ['number'])

    with debug_on_failure(page, server, 'helpdesk'):
        # The inbox: each new request classified, with the confidence
        inbox = open_menu(page, "EV Operations", "Helpdesk", "Inbox")
        open_tab(page, inbox, "New")
        wait_visible(page, rows_of(inbox), "the new requests")
        expect(rows_of(inbox)).to_have_count(len(requests))
        show_columns(page, inbox, Category_Confidence=True)
        for request in requests:
            row = rows_of(inbox).filter(has_text=request['text'][:30])
            expect(row).to_have_count(1)
            expect(row.locator('td[data-title="Category: "]')).to_have_text(
                request['category.']['name'])
            expect(row.locator('td[data-title="Urgency: "]')).to_have_text(
                request['urgency:string'])
            expect(row.locator('td[data-title="Category Confidence: "]')
                ).to_have_text(f"{request['category_confidence']:.2f}")
        assert not page.js_errors, page.js_errors
        screenshot(page, 'helpdesk-inbox.png')

        # The tickets: Near Breach as the server computes it, then all she
        # may see with their SLA, and only those
        tab = open_menu(page, "EV Operations", "Helpdesk", "Tickets")
        open_tab(page, tab, "Near Breach")
        expect(rows_of(tab)).to_have_count(near_breach)
        open_tab(page, tab, "All")
        wait_visible(page, rows_of(tab), "the agent's tickets")
        expect(rows_of(tab)).to_have_count(len(allowed))
        # The due time in, the category and customer out (the form shows
        # them): every column in sight
        show_columns(page, tab, SLA_Due=True, Category=False,
            Customer=False)
        assert set(list_column(tab, "Number")) == allowed
        for number, shown in zip(list_column(tab, "Number"),
                list_column(tab, "SLA")):
            assert shown == tickets[number]['sla_status:string'], number
        screenshot(page, 'helpdesk-tickets.png')

        open_row(page, tab, ticket['number'], 'number', ticket['number'],
            column="Number")
        form = tab.locator('.form')
        expect(form.locator('input[name="subject"]')).to_have_value(
            "UPI debited twice for one session")
        expect(form.locator('select[name="priority"]')).to_have_value(
            '"high"')
        expect(form.locator('select[name="state"]')).to_have_value(
            '"in_progress"')
        expect(form.locator('input[name="agent"]')).to_have_value(AGENT_NAME)
        expect(form.locator('input[name="department"]')).to_have_value(
            "Hotline")
        expect(form.locator('textarea[name="description"]')).to_have_value(
            "₹ 486 debited twice on 3 Dec, session of 22 kWh.")
        for button in ["Resolve", "Wait on Customer", "Open Service Case"]:
            expect(form.locator('button', has_text=button)).to_be_visible()
        assert not page.js_errors, page.js_errors
        screenshot(page, 'helpdesk-ticket.png')

        # The escalated call: the caller looked up from the phone as said
        calls = open_menu(page, "EV Operations", "Helpdesk", "Calls")
        open_tab(page, calls, "All")
        name = escalated['party.']['rec_name']
        open_row(page, calls, escalated['phone'], 'phone',
            escalated['phone'], column="Phone")
        form = calls.locator('.form')
        assert escalated['phone'] == '+919886031001'
        expect(form.locator('input[name="party"]')).to_have_value(name)
        expect(form.locator('select[name="state"]')).to_have_value(
            '"escalated"')
        expect(form.locator('input[name="ticket"]')).to_have_value(
            escalated['ticket.']['number'])
        form.locator('.form-notebook .nav-tabs li a',
            has_text="Customer").click()
        settle(page)

        def listed(label, column):
            box = form.locator('.form-one2many, .form-many2many').filter(
                has=page.locator('label', has_text=label))
            wait_visible(page, box, f"{label} of the caller")
            return {text.strip() for text in box.locator(
                    f'tbody tr td[data-title="{column}: "]'
                    ).all_inner_texts()}
        assert chargers, "the demo caller has no charger"
        assert listed("Chargers", "Identity") == {
            c['identity'] for c in chargers}
        assert escalated['ticket.']['number'] in {
            t['number'] for t in open_tickets}
        assert listed("Open Tickets", "Number") == {
            t['number'] for t in open_tickets}
        assert not page.js_errors, page.js_errors
        screenshot(page, 'helpdesk-call.png')


def test_agent_cannot_reach_a_technical_ticket(server, desk):
    """The Hotline agent, as an attacker, after the Technical department's
    critical ticket: not listed, not found by its number, its link
    refused by the record rule, and nothing of it shown"""
    page = desk
    manager = session(server, 'helpdesk')
    target, = manager('model.ev.helpdesk.ticket.search_read', [
            ('department.code', '=', 'technical'),
            ('priority', '=', 'critical')], 0, None, None,
        ['number', 'subject'])
    own = session(server, AGENT)('model.ev.helpdesk.ticket.search_read', [],
        0, 1, None, ['number'])[0]

    with debug_on_failure(page, server, 'helpdesk-attack'):
        tab = open_menu(page, "EV Operations", "Helpdesk", "Tickets")
        open_tab(page, tab, "All")
        wait_visible(page, rows_of(tab), "the agent's tickets")
        listed = list_column(tab, "Number")
        assert listed and target['number'] not in listed, listed
        assert target['subject'] not in tab.locator('.treeview').inner_text()

        # Its number typed in the search, which finds one of hers
        search = tab.locator('.filter-box input[placeholder="Search"]')
        for number, found in [(own['number'], 1), (target['number'], 0)]:
            search.fill(number)
            search.press('Enter')
            settle(page)
            expect(rows_of(tab)).to_have_count(found)

        # Its link, as pasted in the address bar
        page.goto(f'{server.url}#{server.database}'
            f'/model/ev.helpdesk.ticket/{target["id"]}')
        dialog = page.locator('.modal-dialog', has_text="not allowed")
        wait_visible(page, dialog, "the refusal")
        expect(dialog.locator('.alert')).to_have_text(
            f'You are not allowed to read records "{target["id"]}" of '
            '"Helpdesk Ticket" because of at least one of these rules:'
            "\nAgents see their departments' tickets and theirs"
            "\nWithin groups: EV Operations, EV Helpdesk Agent",
            use_inner_text=True)
        dialog.locator('.modal-footer button', has_text="OK").click()
        expect(dialog).to_have_count(0)
        settle(page)
        opened = page.locator('#tabcontent > .tab-pane.active')
        expect(opened.locator('.form input[name="number"]')).to_have_value('')
        assert target['subject'] not in page.locator('body').inner_text()
