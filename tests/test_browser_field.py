# This file is part of the EV operations suite.
"""A field crew's day on a phone, in a real browser.

The demo data set (demo/field.py) in a real trytond serving sao; Debian's
headless Chromium as a 390×844 touch phone in India. `manjunath` (crew of
North Bengaluru) opens *Field Operations › Field Jobs*, tab *Today*, double
taps the survey still to call, types the day-call note and taps *Day Call
Done* at once, as a thumb does (no Tab, no save first), then adds a photo
with the job's *Add Photo* button. The job, the note and the photo are then
checked over JSON-RPC as the same user.

Before sao/custom.js, that tap saved the survey as an installation: sao's
selects show their first option until a later task after each redisplay,
and a tap delivers the note's change and the click in one task.

With EV_SCREENSHOTS=1 the test also saves docs/screenshots/field-phone.png.
On failure a screenshot, the page's HTML and the logs go to var/test/.
"""
import base64
import re
import uuid

import pytest
from playwright.sync_api import expect

from test_browser import (
    SCREENSHOTS, browser, debug_on_failure, login, new_page, open_menu,
    pytestmark, save_screenshot, settle, wait_visible)
from test_demo_field import server, session

from demo.__main__ import png

PASSWORD = 'demo-pass'
CREW = 'manjunath'
PHONE = {
    'viewport': {'width': 390, 'height': 844}, 'device_scale_factor': 2,
    'is_mobile': True, 'has_touch': True, 'timezone_id': 'Asia/Kolkata'}

__all__ = ['browser', 'pytestmark', 'server']


@pytest.fixture
def phone(browser):
    with new_page(browser, **PHONE) as page:
        yield page


def survey_to_call(call):
    "The crew's survey of today still to call (demo/field.py's 'to_call')"
    jobs = call('model.ev.field.job.search_read', [
            ('kind', '=', 'survey'), ('state', '=', 'scheduled')],
        0, None, None, ['number', 'team', 'lead', 'customer'])
    assert len(jobs) == 1, jobs
    return jobs[0]


def test_crew_day_call_and_photo_on_phone(server, phone):
    page = phone
    crew = session(server, CREW)
    job = survey_to_call(crew)
    note = f"Called at 9, gate pass ready {uuid.uuid4().hex[:6]}"
    photo_name = f'meter-board-{uuid.uuid4().hex[:6]}.png'
    photo = png(32, 24, (200, 120, 40))

    with debug_on_failure(page, server, 'field-phone'):
        login(page, server, CREW, PASSWORD)
        tab = open_menu(
            page, "EV Operations", "Field Operations", "Field Jobs",
            touch=True)
        expect(tab.locator('.nav-tabs li.active')).to_contain_text("Today")
        card = tab.locator('.treeview tbody tr', has_text=job['number'])
        wait_visible(page, card, f"job {job['number']} in Today")
        card.first.dblclick()
        number = tab.locator('.form input[name="number"]')
        wait_visible(page, number, f"the form of job {job['number']}")
        expect(number).to_have_value(job['number'])
        settle(page)

        # What the crew needs at the gate: the site and a number to call
        expect(tab.locator('.form textarea[name="site_address"]')
            ).to_have_value(re.compile(r"22, 5th Main.*RT Nagar", re.S))
        call_link = tab.locator('.form-url', has=page.locator(
                'input[name="customer_phone"]')).locator('a')
        expect(call_link).to_have_attribute(
            'href', re.compile(r'^tel:\+91 ?98860 ?31003$'))
        expect(tab.locator('label', has_text="Day Call Note")).to_be_visible()

        # The thumb: tap the note, type, tap the button
        note_entry = tab.locator('textarea[name="day_call_note"]')
        note_entry.tap()
        page.keyboard.type(note, delay=10)
        tab.locator('button', has_text="Day Call Done").tap()
        settle(page)
        expect(tab.locator('select[name="state"]')).to_have_value(
            '"confirmed"')
        expect(tab.locator('select[name="kind"]')).to_have_value('"survey"')
        expect(page.locator('.modal-dialog')).to_have_count(0)
        assert not page.js_errors, page.js_errors

        # A photo from the job's button (a phone offers its camera there)
        tab.locator('button', has_text="Add Photo").tap()
        dialog = page.locator('.modal-dialog', has=page.locator(
                '.form-image'))
        wait_visible(page, dialog, "the Add Photo dialog")
        settle(page)
        dialog.locator('input[type="file"]').set_input_files(files=[{
                    'name': photo_name, 'mimeType': 'image/png',
                    'buffer': photo}])
        expect(dialog.locator('input[name="name"]')).to_have_value(
            photo_name)
        settle(page)
        dialog.locator('.modal-footer button', has_text="Add").tap()
        expect(dialog).to_have_count(0)
        settle(page)
        assert not page.js_errors, page.js_errors
        if SCREENSHOTS:
            save_phone_screenshot(page, tab)

    # As the crew sees it over JSON-RPC: confirmed with the note typed, still
    # the same survey of the same team
    saved, = crew('model.ev.field.job.read', [job['id']], [
            'kind', 'state', 'team', 'day_call_note', 'customer_confirmed',
            'day_call_at', 'stations', 'photos'])
    assert saved['kind'] == 'survey'
    assert saved['state'] == 'confirmed'
    assert saved['team'] == job['team']
    assert saved['day_call_note'] == note
    assert saved['customer_confirmed'] == 1  # True (1 from SQLite)
    assert saved['day_call_at'] is not None

    photos = crew('model.ev.station.photo.search_read', [
            ('job', '=', job['id'])], 0, None, None, [
            'name', 'station', 'kind', 'taken_by', 'uploaded_by', 'image'])
    assert len(photos) == 1, photos
    added, = photos
    assert saved['photos'] == [added['id']]
    assert added['name'] == photo_name
    assert added['station'] in saved['stations']
    assert added['kind'] == 'other'
    assert added['uploaded_by'] == crew.user_id
    user, = crew('model.res.user.read', [crew.user_id], ['employee.party'])
    assert added['taken_by'] == user['employee.']['party']
    image = added['image']
    assert image['__class__'] == 'bytes'
    assert base64.b64decode(image['base64']) == photo


def test_crew_cannot_turn_a_scheduled_survey_into_an_installation(server):
    """What the phone used to send, sent on purpose: the kind of a job that
    left draft is refused, and nothing is written"""
    crew = session(server, 'irfan')
    jobs = crew('model.ev.field.job.search_read', [
            ('kind', '=', 'survey'), ('state', 'in', ['scheduled',
                    'confirmed'])], 0, 1, None, ['number', 'state:string'])
    assert jobs, "no survey of North Bengaluru scheduled today"
    job, = jobs
    refused = re.escape(
        f"Job {job['number']} stays a Survey: its kind can change only "
        f"before it is scheduled (it is \"{job['state:string']}\").")
    with pytest.raises(RuntimeError, match=refused):
        crew('model.ev.field.job.write', [job['id']], {
                'kind': 'installation', 'day_call_note': "overwritten"})
    again, = crew('model.ev.field.job.read', [job['id']], [
            'kind', 'day_call_note'])
    assert again['kind'] == 'survey'
    assert again['day_call_note'] != "overwritten"


def save_phone_screenshot(page, tab):
    "The job at the top of the phone's screen, after the day call"
    tab.locator('.form input[name="number"]').scroll_into_view_if_needed()
    save_screenshot(page, 'field-phone.png')


def test_crew_cannot_add_a_photo_to_another_teams_job(server):
    """The Add Photo wizard, driven over JSON-RPC on another team's job:
    refused when it starts, and when a session opened on the crew's own job
    is pointed at it"""
    south = session(server, 'lakshmi')
    theirs, = south('model.ev.field.job.search_read', [
            ('state', '=', 'confirmed'), ('kind', '=', 'survey')],
        0, 1, None, ['number', 'stations'])
    north = server.rpc_session('irfan', PASSWORD)
    preferences = north('model.res.user.get_preferences', True, {})
    ours, = north('model.ev.field.job.search_read', [
            ('state', 'in', ['scheduled', 'confirmed'])], 0, 1, None, ['id'],
        preferences)

    def on(job):
        return {**preferences, 'active_model': 'ev.field.job',
            'active_id': job['id'], 'active_ids': [job['id']]}
    refused = re.escape(
        f'You are not allowed to read records "{theirs["id"]}" of '
        '"Field Job" because of at least one of these rules:\\n'
        'Field teams see their own jobs')
    with pytest.raises(RuntimeError, match=refused):
        north('wizard.ev.field.job.add_photo.create', on(theirs))
    wizard, start, _ = north(
        'wizard.ev.field.job.add_photo.create', on(ours))
    with pytest.raises(RuntimeError, match=refused):
        north('wizard.ev.field.job.add_photo.execute', wizard, {
                'start': {'station': theirs['stations'][0],
                    'name': 'intruder.png', 'kind': 'other',
                    'image': {'__class__': 'bytes', 'base64':
                        base64.b64encode(png(4, 4, (0, 0, 0))).decode()}},
                }, 'add', on(theirs))
    photos = south('model.ev.station.photo.search_read', [
            ('name', '=', 'intruder.png')], 0, None, None, ['id'])
    assert photos == []
