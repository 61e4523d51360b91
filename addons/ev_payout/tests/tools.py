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
            w.recovered = Account(name="Recovered Part Costs", code='RPC',
                type=w.expense.type, parent=w.expense.parent,
                company=w.company)
            w.recovered.save()
            config.hold_account = w.recovered
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


def payable_job(w, team, on, labour=None, extra=None, extra_reason=None,
        lead=None, materials=None, logistics=None):
    """An installation job of the team, closed and marked payable on the
    date `on` (written as the closure module would: the tests of the
    payouts need many, at given dates)"""
    global _slot
    Job = Pool().get('ev.field.job')
    # Each job its own slot: a team is never booked twice at once
    _slot += 1
    start = dt.datetime.combine(on, dt.time(0)) + dt.timedelta(hours=_slot)
    job = Job(kind='installation', lead=lead or w.lead, company=w.company,
        team=team, slot_start=start,
        slot_end=start + dt.timedelta(minutes=30))
    job.save()
    with without_check_access():
        Job.write([job], {
                'state': 'closed',
                'payable': True,
                'payable_at': dt.datetime.combine(on, dt.time(12)),
                'cost_labour': team.labour_rate if labour is None else labour,
                'cost_materials': materials or Decimal(0),
                'cost_logistics': logistics or Decimal(0),
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


# -- for the scenario (proteus): the work that makes payouts, written on
# the server as the field and service modules would

def _scenario_lead():
    pool = Pool()
    Lead = pool.get('sale.opportunity')
    Party = pool.get('party.party')
    Address = pool.get('party.address')
    leads = Lead.search([], limit=1)
    if leads:
        return leads[0]
    customer = Party(name="Meera Iyer")
    customer.save()
    address = Address(party=customer, street="12 MG Road",
        city="Bengaluru", postal_code='560001')
    address.save()
    lead = Lead(party=customer, address=address, charger_quantity=1,
        charger_model="Wallbox 7kW", lead_source='phone')
    lead.save()
    return lead


def scenario_job(config, team_id, on, **values):
    "A job of the team marked payable on the day `on`; returns its id"
    from trytond.transaction import Transaction
    from trytond.modules.company.tests import set_company
    import types
    with Transaction().start(config.database_name, 0) as transaction:
        pool = Pool()
        Team = pool.get('ev.field.team')
        team = Team(team_id)
        with set_company(team.company):
            w = types.SimpleNamespace(lead=_scenario_lead(),
                company=team.company)
            job = payable_job(w, team, on, **values)
        transaction.commit()
    return job.id


def scenario_hold(config, party_id, amount, on, release=None):
    """A hold placed on the party on the day `on` for a part of a new
    service case (or the hold `release` released on that day)"""
    from trytond.transaction import Transaction
    from trytond.modules.company.tests import set_company
    with Transaction().start(config.database_name, 0) as transaction:
        pool = Pool()
        Hold = pool.get('ev.service.hold')
        Company = pool.get('company.company')
        company, = Company.search([], limit=1)
        with set_company(company):
            if release is not None:
                hold = release_hold(Hold(release), on)
            else:
                hold = _scenario_hold(company, party_id, amount, on)
        transaction.commit()
    return hold.id


def _scenario_hold(company, party_id, amount, on):
    pool = Pool()
    Station = pool.get('ev.station')
    Case = pool.get('ev.service.case')
    Part = pool.get('ev.service.part')
    Hold = pool.get('ev.service.hold')
    Template = pool.get('product.template')
    Uom = pool.get('product.uom')
    lead = _scenario_lead()
    station = Station(customer=lead.party)
    station.save()
    case = Case(station=station, company=company,
        description="Charger replaced: the old one did not come back")
    case.save()
    unit, = Uom.search([('symbol', '=', 'u')])
    template = Template(name="Wallbox 7kW charger", type='goods',
        default_uom=unit, list_price=Decimal(amount))
    template.products = [{'cost_price': Decimal(amount)}]
    template.save()
    part = Part(case=case, product=template.products[0])
    part.save()
    with without_check_access():
        hold, = Hold.create([{
                    'part': part.id, 'company': company.id,
                    'party': party_id, 'amount': Decimal(amount),
                    'currency': company.currency.id,
                    'placed_at': dt.datetime.combine(on, dt.time(9)),
                    'reason': "Old charger not returned",
                    }])
    return hold


def as_cron(database_name, function):
    """Call function() in a transaction of root that is committed, started
    again with the locks it asks for, as trytond-cron does"""
    from trytond.transaction import Transaction, TransactionError
    extras = {}
    while True:
        try:
            with Transaction().start(database_name, 0, **extras) as t:
                result = function()
                t.commit()
            return result
        except TransactionError as error:
            error.fix(extras)
