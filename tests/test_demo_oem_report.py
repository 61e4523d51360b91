# This file is part of the EV operations suite.
"""The closure packs and OEM reports of the demo (demo/oem_report.py), as
the demo users see them over JSON-RPC: a template per OEM with the items it
asks for, the packs of the installations closed today (Tata's accepted, its
disputed one with the dispute owned by Central Ops, its incomplete one;
MG's complete and incomplete drafts), the submitted packs' PDF and ZIP
whose manifest gives each file's SHA-256, each OEM's user seeing its own
packs only, and a weekly XLSX report per OEM for last week with its email
queued in the outbox."""
import base64
import datetime as dt
import hashlib
import io
import json
import re
import zipfile
import zoneinfo

import pytest

from test_demo_field import menu_names, session

# The demo data as its users see it over JSON-RPC: what it checks does not
# depend on the backend (the modules' tests run on both), and loading the
# demo takes minutes; ./ev test runs these in the SQLite pass, with the
# browser tests on the same demo
pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope='module')
def server(demo_server):
    "The session's demo server (tests/conftest.py), before any browser test"
    return demo_server


def today():
    "The company's day (India)"
    return dt.datetime.now(zoneinfo.ZoneInfo('Asia/Kolkata')).date()


def date(value):
    return dt.date(value['year'], value['month'], value['day'])


def binary(value):
    return base64.b64decode(value['base64'])


PACK_FIELDS = ['number', 'state', 'oem_name', 'missing', 'job.lead',
    'submission_count', 'accepted_by.login', 'pdf_name', 'archive_name',
    'manifest']


def packs(call, domain=()):
    "{OEM reference of the lead: pack}"
    found = call('model.ev.oem.closure.pack.search_read', list(domain), 0,
        None, [('id', 'ASC')], PACK_FIELDS)
    leads = {lead['id']: lead['oem_reference'] for lead in call(
            'model.sale.opportunity.read',
            [p['job.']['lead'] for p in found], ['oem_reference'])}
    return {leads[p['job.']['lead']]: p for p in found}


def test_a_template_per_oem(server):
    coordinator = session(server, 'coordinator')
    templates = coordinator('model.ev.oem.closure.template.search_read', [],
        0, None, None, ['name', 'oem.name', 'items'])
    assert {t['oem.']['name']: t['name'] for t in templates} == {
        "Tata Motors": "Tata Motors installation handover",
        "MG Motor": "MG Motor charger closure pack",
        }
    tata, = [t for t in templates if t['oem.']['name'] == "Tata Motors"]
    items = coordinator('model.ev.oem.closure.template.item.read',
        tata['items'], ['label', 'item_type', 'required', 'quantity',
            'photo_keyword'])
    assert [(i['label'], i['item_type'], i['required']) for i in items] == [
        ("Main final-site photo", 'main_photo', True),
        ("Earthing photos (pit and bar)", 'photo', True),
        ("Electricity bill", 'document', True),
        ("Signed demo checklist", 'signature', True),
        ("Commissioning data", 'commissioning', True),
        ("Customer updates", 'event_log', True),
        ("Installation report", 'installation_report', True),
        ("Walk-through video", 'video', False),
        ]
    earthing = items[1]
    assert (earthing['quantity'], earthing['photo_keyword']) == (
        2, 'earthing')


def test_packs_of_the_closed_installations(server):
    coordinator = session(server, 'coordinator')
    found = packs(coordinator)
    assert {r: (p['oem_name'], p['state'], p['missing'])
        for r, p in found.items()} == {
        'TM-24-0287': ("Tata Motors", 'accepted', None),
        'TM-24-0291': ("Tata Motors", 'disputed', None),
        'TM-24-0296': ("Tata Motors", 'draft',
            "Earthing photos (pit and bar), Electricity bill"),
        'MG-24-1011': ("MG Motor", 'draft', None),
        'MG-24-1019': ("MG Motor", 'draft', "Electricity bill"),
        }
    assert all(re.fullmatch(r'CLP-\d{6}', p['number'])
        for p in found.values())
    # The incomplete pack's items and their verdicts
    items = coordinator('model.ev.oem.closure.pack.item.search_read',
        [('pack', '=', found['TM-24-0296']['id'])], 0, None, None,
        ['label', 'verdict', 'detail'])
    verdicts = {i['label']: (i['verdict'], i['detail']) for i in items}
    assert verdicts["Earthing photos (pit and bar)"] == (
        'missing', "1 of 2")
    assert verdicts["Electricity bill"] == ('missing', None)
    assert verdicts["Signed demo checklist"] == ('present', None)
    assert verdicts["Customer updates"] == ('present', None)
    assert verdicts["Walk-through video"] == ('missing', "0 of 1")


def test_accepted_pack_with_its_pdf_and_zip(server):
    coordinator = session(server, 'coordinator')
    accepted = packs(coordinator)['TM-24-0287']
    assert accepted['submission_count'] == 1
    assert accepted['accepted_by.']['login'] == 'oem-tata'
    number = accepted['number']
    assert (accepted['pdf_name'], accepted['archive_name']) == (
        f'{number}.pdf', f'{number}.zip')
    pack, = coordinator('model.ev.oem.closure.pack.read',
        [accepted['id']], ['pdf', 'archive'])
    assert binary(pack['pdf']).startswith(b'%PDF')
    archive = zipfile.ZipFile(io.BytesIO(binary(pack['archive'])))
    manifest = json.loads(archive.read('manifest.json'))
    assert manifest == json.loads(accepted['manifest'])
    names = [f['name'] for f in manifest['files']]
    assert names[0] == f'{number}.pdf'
    assert sum(n.endswith('.jpg') for n in names) == 3
    assert any(n.endswith('-customer-signature.png') for n in names)
    assert any(n.endswith('-electricity-bill.pdf') for n in names)
    for entry in manifest['files']:
        assert hashlib.sha256(archive.read(entry['name'])).hexdigest() == (
            entry['sha256']), entry['name']


def test_disputed_pack_waits_for_central_ops(server):
    coordinator = session(server, 'coordinator')
    disputed = packs(coordinator)['TM-24-0291']
    dispute, = coordinator('model.ev.dispute.search_read',
        [('origin', '=', f"ev.oem.closure.pack,{disputed['id']}")], 0, None,
        None, ['state', 'party.name', 'opened_by.login', 'owner.login',
            'reason'])
    assert (dispute['state'], dispute['party.']['name'],
        dispute['opened_by.']['login'], dispute['owner.']['login']) == (
        'open', "Tata Motors", 'oem-tata', 'coordinator')
    assert dispute['reason'].startswith("The earthing photos")


@pytest.mark.parametrize('login, references', [
        ('oem-tata', {'TM-24-0287', 'TM-24-0291', 'TM-24-0296'}),
        ('oem-mg', {'MG-24-1011', 'MG-24-1019'}),
        ])
def test_each_oem_sees_its_own_packs(server, login, references):
    oem = session(server, login)
    found = oem('model.ev.oem.closure.pack.search_read', [], 0, None, None,
        ['number', 'oem_name', 'station_name', 'customer_name'])
    coordinator = session(server, 'coordinator')
    numbers = {p['number'] for r, p in packs(coordinator).items()
        if r in references}
    assert {p['number'] for p in found} == numbers
    assert all(p['station_name'] and p['customer_name'] for p in found)


def test_weekly_report_per_oem_with_its_email(server):
    coordinator = session(server, 'coordinator')
    monday = today() - dt.timedelta(days=today().weekday())
    configs = coordinator('model.ev.oem.report.config.search_read', [], 0,
        None, None, ['name', 'oem.name', 'frequency', 'file_format',
            'email_to', 'next_period_start'])
    assert {c['oem.']['name']: (c['name'], c['frequency'],
            c['file_format'], c['email_to'], date(c['next_period_start']))
        for c in configs} == {
        "Tata Motors": ("Tata Motors weekly", 'weekly', 'xlsx',
            'ev-installations@tatamotors.example.com', monday),
        "MG Motor": ("MG Motor weekly", 'weekly', 'xlsx',
            'charging.partners@mgmotor.example.com', monday),
        }
    reports = coordinator('model.ev.oem.report.search_read', [], 0, None,
        None, ['oem.name', 'state', 'period_start', 'period_end',
            'file_name', 'lead_count', 'emails'])
    last_monday = monday - dt.timedelta(days=7)
    assert {r['oem.']['name']: (r['state'], date(r['period_start']),
            date(r['period_end']), r['lead_count']) for r in reports} == {
        "Tata Motors": ('done', last_monday, monday - dt.timedelta(days=1),
            3),
        "MG Motor": ('done', last_monday, monday - dt.timedelta(days=1), 2),
        }
    for report in reports:
        assert report['file_name'].endswith(
            f'-weekly-{last_monday:%Y%m%d}-'
            f'{monday - dt.timedelta(days=1):%Y%m%d}.xlsx')
        email, = coordinator('model.ev.oem.report.email.read',
            report['emails'], ['state', 'recipient', 'subject'])
        assert email['state'] == 'pending'
        assert email['recipient'] == {
            "Tata Motors": 'ev-installations@tatamotors.example.com',
            "MG Motor": 'charging.partners@mgmotor.example.com',
            }[report['oem.']['name']]
    # Each OEM's user reads its own report only
    tata = session(server, 'oem-tata')
    assert tata('model.ev.oem.report.search', [], 0, None, None) == [
        r['id'] for r in reports if r['oem.']['name'] == "Tata Motors"]


@pytest.mark.parametrize('login, shown, hidden', [
        ('coordinator', {"Closure Packs", "Closure Pack Templates",
                "OEM Reports"}, {"Configuration"}),
        ('oem-tata', {"Closure Packs", "OEM Reports"},
            {"Closure Pack Templates", "Field Jobs"}),
        ])
def test_menus_lead_to_the_packs(server, login, shown, hidden):
    """Central Ops reach the templates without Configuration; an OEM's user
    reaches its packs without EV Operations"""
    names = menu_names(server, login)
    assert shown <= names, shown - names
    assert not hidden & names, hidden & names
