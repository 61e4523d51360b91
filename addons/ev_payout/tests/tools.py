# This file is part of the EV operations suite.
"""The world of the payout tests: ev_service's world (company in INR with a
chart, team Alpha with its contractor) plus a fiscal year, the payout
accounts and journals, and helpers that make payable work and holds"""
import datetime as dt
from decimal import Decimal

from trytond.modules.account.tests.test_module import get_fiscalyear
from trytond.modules.account_invoice.tests.test_module import (
    set_invoice_sequences)
from trytond.modules.ev_field.tests.tools import (
    create_employee, create_team, create_user)
from trytond.modules.ev_service.tests.test_service import ServiceWorld
from trytond.pool import Pool
from trytond.transaction import without_check_access


class PayoutWorld(ServiceWorld):

    def setup(self):
        pool = Pool()
        Account = pool.get('account.account')
        Journal = pool.get('account.journal')
        PaymentJournal = pool.get('account.payment.journal')
        Configuration = pool.get('ev.payout.configuration')
        FiscalYear = pool.get('account.fiscalyear')
        w = super().setup()
        from trytond.modules.company.tests import set_company
        w.set_company = set_company
        with set_company(w.company):
            fiscalyear = set_invoice_sequences(get_fiscalyear(w.company))
            fiscalyear.save()
            FiscalYear.create_period([fiscalyear])
            w.expense, = Account.search([('type.expense', '=', True),
                    ('closed', '!=', True)],
                limit=1)
            w.revenue, = Account.search([('type.revenue', '=', True),
                    ('closed', '!=', True)],
                limit=1)
            w.payable, = Account.search([('type.payable', '=', True),
                    ('closed', '!=', True)],
                limit=1)
            w.clearing = Account(name="Bank Clearing", code='BCLR',
                type=w.payable.type, reconcile=True, deferral=True,
                parent=w.payable.parent, company=w.company)
            w.clearing.save()
            expense_journal, = Journal.search([('code', '=', 'EXP')])
            w.payment_journal = PaymentJournal(name="Bank transfers",
                process_method='manual', currency=w.inr, company=w.company,
                clearing_journal=expense_journal, clearing_account=w.clearing)
            w.payment_journal.save()
            config = Configuration(1)
            config.expense_account = w.expense
            config.hold_account = w.revenue
            config.payment_journal = w.payment_journal
            config.save()
            Address = pool.get('party.address')
            Address(party=w.contractor, street="4 Industrial Area",
                city="Bengaluru", postal_code='560058').save()
            w.alpha.payout_vpa = 'alpha.crew@okaxis'
            w.alpha.save()
            w.finance = create_user('finance', 'ev_station.group_finance')
            w.ops = create_user('ops', 'ev_lead.group_central_ops')
            w.alpha_user = create_user('alpha-crew',
                'ev_field.group_field_team', employee=w.crew)
            w.beta = create_team(w.company, 'BETA', ['5601*'],
                labour_rate=Decimal(2000), van=False)
            w.beta_contractor = pool.get('party.party')(name="Beta Works")
            w.beta_contractor.save()
            Address(party=w.beta_contractor, street="9 Whitefield Road",
                city="Bengaluru", postal_code='560066').save()
            w.beta_crew = create_employee(w.company, "Bala Beta")
            w.beta.members = [w.beta_crew]
            w.beta.contractor = w.beta_contractor
            w.beta.payout_bank_account = '001234567890'
            w.beta.payout_ifsc = 'HDFC0001234'
            w.beta.save()
            w.beta_user = create_user('beta-crew',
                'ev_field.group_field_team', employee=w.beta_crew)
        return w


def set_schedule(team, frequency, valid_from, reason=None):
    Schedule = Pool().get('ev.payout.schedule')
    schedule = Schedule(team=team, frequency=frequency,
        valid_from=valid_from, reason=reason)
    schedule.save()
    return schedule


_slot = 0


def payable_job(w, team, on, labour=None, extra=None, extra_reason=None):
    """An installation job of the team, closed and marked payable on the
    date `on` (written as the closure module would: the tests of the
    payouts need many, at given dates)"""
    global _slot
    Job = Pool().get('ev.field.job')
    # Each job its own slot: a team is never booked twice at once
    _slot += 1
    start = dt.datetime.combine(on, dt.time(0)) + dt.timedelta(hours=_slot)
    job = Job(kind='installation', lead=w.lead, company=w.company,
        team=team, slot_start=start,
        slot_end=start + dt.timedelta(minutes=30))
    job.save()
    with without_check_access():
        Job.write([job], {
                'state': 'closed',
                'payable': True,
                'payable_at': dt.datetime.combine(on, dt.time(12)),
                'cost_labour': team.labour_rate if labour is None else labour,
                'cost_materials': Decimal(0),
                'cost_logistics': Decimal(0),
                'payout_extra': extra,
                'payout_extra_reason': extra_reason,
                })
    return Job(job.id)


def place_hold(w, world, amount, on, party=None):
    "A hold placed on `on` for a part of a new case of team Alpha"
    Hold = Pool().get('ev.service.hold')
    case = world.case(w)
    part = world.part(w, case, None, label=None)
    with without_check_access():
        hold, = Hold.create([{
                    'part': part.id, 'company': w.company.id,
                    'party': (party or w.contractor).id,
                    'amount': Decimal(amount), 'currency': w.inr.id,
                    'placed_at': dt.datetime.combine(on, dt.time(9)),
                    'reason': "Old charger not returned",
                    }])
    return hold


def release_hold(hold, on):
    Hold = Pool().get('ev.service.hold')
    Hold.release([hold], "Old charger returned")
    with without_check_access():
        Hold.write([hold], {
                'released_at': dt.datetime.combine(on, dt.time(9))})
    return Hold(hold.id)
