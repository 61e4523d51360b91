"""The payouts of the demo (ev_payout): the three Bengaluru teams paid on
Tryton's accounting.

The books the payouts need (a chart, the fiscal year with its invoice
sequences, the payment journal "Bank transfers (NEFT/UPI)" with its bank
clearing account, the payout configuration), Finance allowed to post and
approve, each team on its own schedule with where its money goes, and runs
in every state Finance and Central Ops meet:

- North is paid per job: the run of its payable installation waits in
  draft, the overdue charger's hold (demo/service.py) deducted from it;
- South, paid monthly until its new contract made it fortnightly: the run
  of the last fortnight waits for the team's sign-off, one line disputed by
  the crew (the dispute open, owned by Finance);
- East, paid monthly: last month's run posted, approved and paid, its UTR
  recorded.

Every step is a button of the module pressed by the user who would press
it: the cron drafts, `coordinator` (Central Ops) sends, the crews confirm
or dispute, `finance` posts, approves and records the payment. Loaded once:
a database with payment schedules is left alone."""
import datetime as dt
import logging
from decimal import Decimal

from demo.__main__ import in_transaction

logger = logging.getLogger(__name__)

# code, contractor (the one demo/service.py made, else a new one), its
# address (street, area, postal code), UPI ID or (bank account, IFSC)
PAYEES = [
    ('BLR-N', "Gowda Electricals (North contractor)",
        ("17, 2nd Main, Sahakar Nagar", "Bengaluru", '560092'),
        'gowda.electricals@okaxis', None),
    ('BLR-S', "Rao Power Works (South contractor)",
        ("9, 36th Cross, 4th Block", "Jayanagar, Bengaluru", '560011'),
        'raopowerworks@okhdfcbank', None),
    ('BLR-E', "D'Souza Power Services (East contractor)",
        ("56, Old Airport Road", "Marathahalli, Bengaluru", '560037'),
        None, ('50100234567891', 'HDFC0000523')),
    ]

# The installations of past weeks that South and East were paid for: team,
# customer, mobile, street, area, postal code, day in the team's last
# period, agreed extra and what for
PAST_JOBS = [
    ('BLR-S', "Deepak Shetty", '98860 32001', "27, 4th Cross", "Jayanagar",
        '560011', 1, None, None),
    ('BLR-S', "Rekha Bhat", '98860 32002', "B-204, Sobha Apartments",
        "JP Nagar", '560078', 4, Decimal(800),
        "Extra 15 m cable run to the basement meter board"),
    ('BLR-E', "Alok Jain", '98860 33001', "3, 80 Feet Road, HAL 3rd Stage",
        "Indiranagar", '560038', 3, None, None),
    ('BLR-E', "Sneha Pillai", '98860 33002', "Villa 12, Palm Meadows",
        "Whitefield", '560066', 10, Decimal(1200),
        "Pole mounting with a 6 m trench"),
    ]

# The South crew's dispute of the labour of its first job
DISPUTE = ("Two visits: the basement was locked on the first day and the "
    "society let us in the day after", Decimal(3500))
# The bank's reference of East's NEFT transfer (without the date)
UTR_SUFFIX = '48213'


def load_payout(database):
    def step(pool):
        if 'ev.payout.run' not in dict(pool.iterobject()):
            return False
        Schedule = pool.get('ev.payout.schedule')
        Team = pool.get('ev.field.team')
        User = pool.get('res.user')
        finance = User.search([('login', '=', 'finance')])
        teams = Team.search([('code', 'in', [p[0] for p in PAYEES])])
        if (Schedule.search([], limit=1) or len(teams) < len(PAYEES)
                or not finance or not finance[0].company):
            return False
        create_payouts(pool, finance[0].company)
        return True
    return in_transaction(database, step)


def create_payouts(pool, company):
    from trytond.transaction import Transaction

    User = pool.get('res.user')
    users = {u.login: u for u in User.search([
                ('login', 'in', ['finance', 'coordinator', 'lakshmi',
                        'joseph'])])}
    with Transaction().set_context(company=company.id):
        books = create_accounting(pool, company)
        configure(pool, company, books, users)
        allow_finance(pool, users['finance'])
        teams = set_payees(pool, company)
        Payouts(pool, company, users, teams).create()


# -- the books ----------------------------------------------------------------

def create_accounting(pool, company):
    """A chart of accounts and this year's fiscal year when the company has
    none, the payouts' accounts and their payment journal"""
    Account = pool.get('account.account')
    Journal = pool.get('account.journal')
    PaymentJournal = pool.get('account.payment.journal')
    FiscalYear = pool.get('account.fiscalyear')
    Date = pool.get('ir.date')
    today = Date.today()
    if not Account.search([('company', '=', company.id)], limit=1):
        create_chart(pool, company)
    if not FiscalYear.search([('company', '=', company.id),
                ('start_date', '<=', today), ('end_date', '>=', today)]):
        create_fiscal_year(pool, company, today)

    def account(kind):
        found, = Account.search([(f'type.{kind}', '=', True),
                ('closed', '!=', True), ('company', '=', company.id)],
            limit=1)
        return found
    expense, payable = (account(k) for k in ['expense', 'payable'])
    books = {
        'expense': Account(name="Field Team Payouts", code='PAYOUT',
            type=expense.type, parent=expense.parent, company=company),
        # Credited with the parts held back (an expense recovered): a
        # supplier invoice line takes expense or debt accounts only
        'hold': Account(name="Part Holds on Field Teams", code='HOLD',
            type=expense.type, parent=expense.parent, company=company),
        # Where a payment waits between the transfer and the bank statement
        'clearing': Account(name="Bank Clearing (payouts)", code='BCLR',
            type=payable.type, reconcile=True, deferral=True,
            parent=payable.parent, company=company),
        }
    Account.save(list(books.values()))
    cash, = Journal.search([('code', '=', 'CASH')], limit=1)
    books['journal'] = PaymentJournal(name="Bank transfers (NEFT/UPI)",
        process_method='manual', currency=company.currency, company=company,
        clearing_journal=cash, clearing_account=books['clearing'])
    books['journal'].save()
    return books


def create_chart(pool, company):
    "Tryton's minimal chart of accounts for the company"
    ModelData = pool.get('ir.model.data')
    Account = pool.get('account.account')
    Template = pool.get('account.account.template')
    CreateChart = pool.get('account.create_chart', type='wizard')
    template = Template(ModelData.get_id(
            'account', 'account_template_root_en'))
    session_id, _, _ = CreateChart.create()
    wizard = CreateChart(session_id)
    wizard.account.account_template = template
    wizard.account.company = company
    wizard.transition_create_account()
    properties = wizard.properties
    for name, value in wizard.states['properties'].get_defaults(
            wizard, 'properties', list(properties._fields)).items():
        if name in properties._fields:
            setattr(properties, name, value)
    for name, kind in [('account_receivable', 'receivable'),
            ('account_payable', 'payable')]:
        if not getattr(properties, name, None):
            found, = Account.search([(f'type.{kind}', '=', True),
                    ('party_required', '=', True),
                    ('company', '=', company.id)], limit=1)
            setattr(properties, name, found)
    wizard.transition_create_properties()
    CreateChart.delete(session_id)


def create_fiscal_year(pool, company, today):
    "The calendar year with its monthly periods and invoice sequences"
    Sequence = pool.get('ir.sequence.strict')
    SequenceType = pool.get('ir.sequence.type')
    FiscalYear = pool.get('account.fiscalyear')
    InvoiceSequence = pool.get('account.fiscalyear.invoice_sequence')

    def sequence(type_name, name):
        sequence_type, = SequenceType.search(
            [('name', '=', type_name)], limit=1)
        sequence = Sequence(name=name, sequence_type=sequence_type,
            company=company)
        sequence.save()
        return sequence
    name = str(today.year)
    invoices = sequence("Invoice", f"Invoices {name}")
    fiscal_year = FiscalYear(name=name, company=company,
        start_date=today.replace(month=1, day=1),
        end_date=today.replace(month=12, day=31),
        move_sequence=sequence("Account Move", f"Moves {name}"),
        invoice_sequences=[InvoiceSequence(
                in_invoice_sequence=invoices,
                in_credit_note_sequence=invoices,
                out_invoice_sequence=invoices,
                out_credit_note_sequence=invoices)])
    fiscal_year.save()
    FiscalYear.create_period([fiscal_year])


def configure(pool, company, books, users):
    Configuration = pool.get('ev.payout.configuration')
    configuration = Configuration(1)
    configuration.expense_account = books['expense']
    configuration.hold_account = books['hold']
    configuration.payment_journal = books['journal']
    # Finance settles the payout disputes of the demo
    configuration.dispute_owner = users['finance']
    configuration.save()


def allow_finance(pool, finance):
    """Finance posts the runs' invoices, approves their payments and
    matches the bank statements"""
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    groups = [ModelData.get_id(module, xml_id) for module, xml_id in [
            ('account', 'group_account'),
            ('account_payment', 'group_payment'),
            ('account_payment', 'group_payment_approval'),
            ('account_statement', 'group_statement'),
            ]]
    User.write([finance], {'groups': [('add', groups)]})


def set_payees(pool, company):
    "Each team's contractor with its address, and its UPI ID or bank"
    Party = pool.get('party.party')
    Address = pool.get('party.address')
    Country = pool.get('country.country')
    Team = pool.get('ev.field.team')
    india, = Country.search([('code', '=', 'IN')])
    teams = {t.code: t for t in Team.search([])}
    for code, name, (street, city, postal_code), vpa, bank in PAYEES:
        team = teams[code]
        contractor = team.contractor
        if not contractor:
            contractor = Party(name=name)
            contractor.save()
            team.contractor = contractor
        if not contractor.addresses:
            Address(party=contractor, street=street, city=city,
                postal_code=postal_code, country=india).save()
        team.payout_vpa = vpa
        team.payout_bank_account, team.payout_ifsc = bank or (None, None)
    Team.save(list(teams.values()))
    return teams


# -- the runs -----------------------------------------------------------------

class Payouts:
    "The schedules, the past work and the runs of the three teams"

    def __init__(self, pool, company, users, teams):
        self.pool, self.company = pool, company
        self.users, self.teams = users, teams
        self.today = pool.get('ir.date').today()
        self.Run = pool.get('ev.payout.run')

    def as_user(self, login):
        from trytond.transaction import Transaction
        return Transaction().set_user(self.users[login].id)

    def create(self):
        from trytond.modules.ev_payout.period import ONE_DAY, ended_periods
        Schedule = self.pool.get('ev.payout.schedule')
        this_month = self.today.replace(day=1)
        last_month = (this_month - ONE_DAY).replace(day=1)
        # The contracts of the teams began three months ago
        start = (last_month - ONE_DAY).replace(day=1)
        start = (start - ONE_DAY).replace(day=1)
        contract = f"Contract of {start:%B %Y}"
        with self.as_user('finance'):
            Schedule.save([
                    Schedule(team=self.teams['BLR-N'], frequency='job',
                        valid_from=start, reason=contract
                        + ": paid for each installation"),
                    Schedule(team=self.teams['BLR-S'], frequency='month',
                        valid_from=start, reason=contract),
                    Schedule(team=self.teams['BLR-S'], frequency='fortnight',
                        valid_from=last_month, reason="New contract: paid "
                        "every fortnight, as the crew asked"),
                    Schedule(team=self.teams['BLR-E'], frequency='month',
                        valid_from=start, reason=contract),
                    ])
        history = Schedule.history([t.id for t in self.teams.values()])
        # The last period each team's schedule ended (South: a fortnight)
        last = {code: ended_periods(history[self.teams[code].id], start,
                self.today)[-1] for code in ['BLR-S', 'BLR-E']}
        self.past_jobs(last)

        # The hourly cron drafts the runs of the ended periods and of the
        # payable jobs of per-job teams
        runs = {r.team.code: r for r in self.Run.create_runs(
                today=self.today)}
        self.sign_off_with_dispute(runs['BLR-S'])
        self.paid(runs['BLR-E'])
        # North's run stays in draft for Central Ops

    def past_jobs(self, last):
        """Closed payable installations in the teams' last periods, written
        as the closure would (the field demo's jobs are this week's)"""
        from trytond.transaction import Transaction, without_check_access
        from trytond.modules.ev_field.team import to_utc
        from demo.__main__ import complete_documents

        pool = self.pool
        Party = pool.get('party.party')
        Address = pool.get('party.address')
        Country = pool.get('country.country')
        Lead = pool.get('sale.opportunity')
        Call = pool.get('ev.lead.call')
        Job = pool.get('ev.field.job')
        User = pool.get('res.user')
        india, = Country.search([('code', '=', 'IN')])
        support, = User.search([('login', '=', 'support')])
        for i, (code, name, mobile, street, area, postal_code, day, extra,
                extra_reason) in enumerate(PAST_JOBS):
            period_start, period_end, _ = last[code]
            on = min(period_start + dt.timedelta(days=day), period_end)
            team = self.teams[code]
            with Transaction().set_user(support.id):
                customer = Party(name=name, contact_mechanisms=[
                        {'type': 'mobile', 'value': mobile}])
                customer.save()
                address = Address(party=customer, street=street,
                    city=f"{area}, Bengaluru", postal_code=postal_code,
                    country=india)
                address.save()
                lead = Lead(party=customer, lead_source='phone',
                    charger_quantity=1, charger_model="7.4 kW AC wallbox",
                    site_type='home')
                lead.save()
                Call(lead=lead, outcome='reached',
                    note="Explained the survey; documents received on "
                    "WhatsApp").save()
                complete_documents(pool, lead, address,
                    (Decimal('12.9352') + Decimal(i) / 100,
                        Decimal('77.6245') + Decimal(i) / 200),
                    electrician=("Ramesh Electricals", '98440 4200' + str(i)))
                Lead.ready_for_survey([lead])
            slot_start = to_utc(dt.datetime.combine(on, dt.time(10)))
            with self.as_user('coordinator'):
                job = Job(kind='installation', lead=lead,
                    company=self.company, team=team, slot_start=slot_start,
                    slot_end=slot_start + dt.timedelta(hours=3))
                job.save()
            with without_check_access():
                Job.write([job], {
                        'state': 'closed',
                        'payable': True,
                        'payable_at': to_utc(
                            dt.datetime.combine(on, dt.time(17))),
                        'cost_labour': team.labour_rate,
                        'cost_materials': Decimal(0),
                        'cost_logistics': Decimal(0),
                        'payout_extra': extra,
                        'payout_extra_reason': extra_reason,
                        })

    def sign_off_with_dispute(self, run):
        """Central Ops sends South's fortnight; the crew disputes the labour
        of the job that took two visits, the rest waits for its answer"""
        Line = self.pool.get('ev.payout.line')
        with self.as_user('coordinator'):
            self.Run.send([run])
        labour = [l for l in self.Run(run.id).lines if l.kind == 'labour']
        reason, claimed = DISPUTE
        with self.as_user('lakshmi'):
            Line(labour[0].id).open_dispute(reason, claimed)

    def paid(self, run):
        """East's month: sent, confirmed by the crew, posted by Finance,
        its payment approved and paid by NEFT with the bank's UTR"""
        from trytond.transaction import Transaction

        Payment = self.pool.get('account.payment')
        Pay = self.pool.get('ev.payout.run.pay', type='wizard')
        with self.as_user('coordinator'):
            self.Run.send([run])
        with self.as_user('joseph'):
            self.Run.confirm_all([self.Run(run.id)])
        with self.as_user('finance'):
            self.Run.post([self.Run(run.id)])
            run = self.Run(run.id)
            Payment.approve([run.payment])
            session_id, _, _ = Pay.create()
            with Transaction().set_context(active_model='ev.payout.run',
                    active_id=run.id, active_ids=[run.id]):
                pay = Pay(session_id)
                pay.start.utr = f'HDFCN{self.today:%Y%m%d}{UTR_SUFFIX}'
                pay.transition_pay()
            Pay.delete(session_id)
