# This file is part of the EV operations suite.
"""The payouts of the demo (demo/payout.py), as the demo users see them over
JSON-RPC: the books the payouts need, the three teams on their schedules
(South's changed), North's per-job run in draft with the overdue part's
hold deducted, South's fortnight waiting for sign-off with a line disputed
and the dispute owned by Finance, East's month posted and paid with its UTR
found by the bank statement's search; a crew sees its own team's runs and
presses none of Finance's buttons."""
import datetime as dt
import re
import zoneinfo
from decimal import Decimal

import pytest

from server import ADMIN_PASSWORD

from test_demo_field import rpc_domain, session

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


def decimal(value):
    return Decimal(value['decimal']) if value is not None else None


def runs(call, domain=(), fields=()):
    "{team code: run}: the demo has one run per team"
    found = call('model.ev.payout.run.search_read', list(domain), 0, None,
        None, ['number', 'team.code', 'frequency', 'state', 'period_start',
            'period_end', 'gross', 'deductions', 'disputed', 'net',
            *fields])
    by_team = {r['team.']['code']: r for r in found}
    assert len(by_team) == len(found), found
    return by_team


def lines(call, run, fields=()):
    return [(l['kind'], l['state'], decimal(l['amount']),
            *(l[f] for f in fields))
        for l in call('model.ev.payout.line.search_read',
            [('run', '=', run['id'])], 0, None, [('id', 'ASC')],
            ['kind', 'state', 'amount', *fields])]


def test_books_of_the_payouts(server):
    finance = session(server, 'finance')
    year = today().year
    fiscal_year, = finance('model.account.fiscalyear.search_read',
        rpc_domain([('start_date', '<=', today()),
                ('end_date', '>=', today())]),
        0, None, None, ['name', 'state', 'invoice_sequences', 'periods'])
    assert (fiscal_year['name'], fiscal_year['state']) == (str(year), 'open')
    assert fiscal_year['invoice_sequences'] and len(
        fiscal_year['periods']) == 12
    config, = finance('model.ev.payout.configuration.read', [1],
        ['expense_account.name', 'hold_account.name',
            'payment_journal.name', 'payment_journal.process_method',
            'payment_journal.clearing_account.name', 'dispute_owner.login',
            'signoff_hours'])
    assert (config['expense_account.']['name'],
        config['hold_account.']['name']) == (
        "Field Team Payouts", "Part Holds on Field Teams")
    journal = config['payment_journal.']
    assert (journal['name'], journal['process_method'],
        journal['clearing_account.']['name']) == (
        "Bank transfers (NEFT/UPI)", 'manual', "Bank Clearing (payouts)")
    assert config['dispute_owner.']['login'] == 'finance'
    assert config['signoff_hours'] == 72
    admin = session(server, 'admin', ADMIN_PASSWORD)
    groups = admin('model.res.user.search_read', [('login', '=', 'finance')],
        0, None, None, ['groups.name'])[0]['groups.']
    assert {g['name'] for g in groups} >= {"EV Finance", "Accounting",
        "Payment", "Payment Approval", "Statement"}


def test_teams_on_their_schedules_with_their_payees(server):
    finance = session(server, 'finance')
    teams = {t['code']: t for t in finance('model.ev.field.team.search_read',
            [], 0, None, None, ['code', 'payout_frequency', 'payout_vpa',
                'payout_bank_account', 'payout_ifsc', 'contractor.name',
                'contractor.addresses'])}
    assert {c: (t['payout_frequency'], t['payout_vpa'],
            t['payout_bank_account'], t['payout_ifsc'],
            t['contractor.']['name']) for c, t in teams.items()} == {
        'BLR-N': ('job', 'gowda.electricals@okaxis', None, None,
            "Gowda Electricals (North contractor)"),
        'BLR-S': ('fortnight', 'raopowerworks@okhdfcbank', None, None,
            "Rao Power Works (South contractor)"),
        'BLR-E': ('month', None, '50100234567891', 'HDFC0000523',
            "D'Souza Power Services (East contractor)"),
        }
    assert all(t['contractor.']['addresses'] for t in teams.values())
    # South's contract changed: monthly, then fortnightly from last month
    history = finance('model.ev.payout.schedule.search_read',
        [('team.code', '=', 'BLR-S')], 0, None, [('valid_from', 'ASC')],
        ['frequency', 'valid_from', 'reason', 'set_by.login'])
    assert [s['frequency'] for s in history] == ['month', 'fortnight']
    last_month = (today().replace(day=1) - dt.timedelta(days=1)).replace(
        day=1)
    assert date(history[1]['valid_from']) == last_month
    assert history[1]['reason'].startswith("New contract")
    assert {s['set_by.']['login'] for s in history} == {'finance'}


def test_draft_run_deducts_the_overdue_hold(server):
    finance = session(server, 'finance')
    north = runs(finance, [('team.code', '=', 'BLR-N')])['BLR-N']
    assert (north['frequency'], north['state']) == ('job', 'draft')
    assert (decimal(north['gross']), decimal(north['deductions']),
        decimal(north['net'])) == (
        Decimal(2500), Decimal(-32000), Decimal(-29500))
    (labour, hold_line) = lines(finance, north, ['origin'])
    assert (labour[:3], hold_line[:3]) == (
        ('labour', 'proposed', Decimal(2500)),
        ('hold', 'proposed', Decimal(-32000)))
    hold, = finance('model.ev.service.hold.search_read',
        [('state', '=', 'active')], 0, None, None, ['party.name'])
    assert hold_line[3] == f"ev.service.hold,{hold['id']}"
    assert hold['party.']['name'] == "Gowda Electricals (North contractor)"
    # The field demo's payable installation is the job it pays
    payable, = finance('model.ev.field.job.search_read',
        [('payable', '=', True), ('team.code', '=', 'BLR-N')], 0, None,
        None, ['id'])
    assert labour[3] == f"ev.field.job,{payable['id']}"


def test_fortnight_waits_for_sign_off_with_a_dispute(server):
    finance = session(server, 'finance')
    south = runs(finance, [('team.code', '=', 'BLR-S')],
        ['sent_at', 'signoff_deadline'])['BLR-S']
    assert (south['frequency'], south['state']) == ('fortnight', 'sign_off')
    assert date(south['period_end']) < today()
    assert date(south['period_end']) - date(south['period_start']) < (
        dt.timedelta(days=16))
    assert south['sent_at'] and south['signoff_deadline']
    assert (decimal(south['gross']), decimal(south['disputed']),
        decimal(south['net'])) == (
        Decimal(3300), Decimal(2500), Decimal(3300))
    assert [l[:3] for l in lines(finance, south)] == [
        ('labour', 'disputed', Decimal(2500)),
        ('labour', 'proposed', Decimal(2500)),
        ('extra', 'proposed', Decimal(800)),
        ]
    dispute, = finance('model.ev.dispute.search_read',
        [('origin', 'like', 'ev.payout.line,%')], 0, None, None,
        ['state', 'owner.login', 'opened_by.login', 'claimed_amount',
            'reason', 'party.name'])
    assert (dispute['state'], dispute['owner.']['login'],
        dispute['opened_by.']['login'], decimal(dispute['claimed_amount']),
        dispute['party.']['name']) == ('open', 'finance', 'lakshmi',
        Decimal(3500), "Rao Power Works (South contractor)")
    assert dispute['reason'].startswith("Two visits")


def test_month_posted_and_paid_with_its_utr(server):
    finance = session(server, 'finance')
    east = runs(finance, [('team.code', '=', 'BLR-E')],
        ['payee', 'utr', 'invoice', 'payment', 'posted_by.login'])['BLR-E']
    last_month = (today().replace(day=1) - dt.timedelta(days=1))
    assert (east['frequency'], east['state'], date(east['period_start']),
        date(east['period_end'])) == ('month', 'paid',
        last_month.replace(day=1), last_month)
    assert decimal(east['net']) == Decimal(6200)
    assert east['payee'] == 'A/c 50100234567891 IFSC HDFC0000523'
    assert east['posted_by.']['login'] == 'finance'
    utr = f'HDFCN{today():%Y%m%d}48213'
    assert east['utr'] == utr
    invoice, = finance('model.account.invoice.read', [east['invoice']],
        ['state', 'type', 'total_amount', 'party.name', 'reference'])
    assert (invoice['state'], invoice['type'], decimal(
            invoice['total_amount']), invoice['party.']['name'],
        invoice['reference']) == ('posted', 'in', Decimal(6200),
        "D'Souza Power Services (East contractor)", east['number'])
    payment, = finance('model.account.payment.read', [east['payment']],
        ['state', 'amount', 'ev_utr', 'journal.name'])
    assert (payment['state'], decimal(payment['amount']), payment['ev_utr'],
        payment['journal.']['name']) == ('succeeded', Decimal(6200),
        utr, "Bank transfers (NEFT/UPI)")
    # A bank statement's line names the payment by its UTR
    found = finance('model.account.payment.search', [('rec_name', '=', utr)],
        0, None, None)
    assert found == [east['payment']]
    assert [l[:2] for l in lines(finance, east)] == [
        ('labour', 'confirmed'), ('labour', 'confirmed'),
        ('extra', 'confirmed')]


def test_crew_sees_its_own_runs_and_cannot_post(server):
    crew = session(server, 'lakshmi')
    seen = runs(crew)
    assert set(seen) == {'BLR-S'}
    finance = session(server, 'finance')
    everything = runs(finance)
    assert set(everything) == {'BLR-N', 'BLR-S', 'BLR-E'}
    # Another team's run, asked for by its id: refused
    with pytest.raises(RuntimeError,
            match=r'You are not allowed to read records .* of "Payout Run" '
            r'because of .*\\nField teams see their own runs'):
        crew('model.ev.payout.run.read', [everything['BLR-E']['id']],
            ['net'])
    # Finance's button on its own team's run: refused, nothing posted
    with pytest.raises(RuntimeError, match=re.escape(
                'Calling button "post on "Payout Run" is not allowed')):
        crew('model.ev.payout.run.post', [seen['BLR-S']['id']])
    assert runs(finance, [('team.code', '=', 'BLR-S')])['BLR-S'][
        'state'] == 'sign_off'
