# This file is part of the EV operations suite.
"""Posting a payout run on Tryton's accounting: one supplier invoice per
run on the team's contractor, one payment of it on account_payment
(approved by Finance), the UTR recorded when it is paid and matched to the
bank statement by statement rules (keyword `payment`: a payment is found
by its number or its UTR)."""
import datetime as dt
from decimal import Decimal

from sql.aggregate import Count, Sum

from trytond.i18n import gettext
from trytond.model import ModelView, Workflow, fields
from trytond.modules.ev_station.bulk import lock_together
from trytond.modules.ev_station.notification import group_users, notify
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .exceptions import PayoutError, PayoutValidationError
from .line import COUNTED_KINDS_ORDER
from .run import COUNTED

# A UTR: 12 to 22 letters and digits (NEFT/RTGS/IMPS and UPI references)
UTR_LENGTH = (12, 22)


def settle_payment(payment, utr):
    """The money moved: the payment gets its UTR, is processed in a group
    of its own if it was not, and succeeds (account_payment_clearing moves
    the debt to the clearing account). The caller's button is the door:
    the payment's own buttons are pressed on its behalf."""
    pool = Pool()
    Payment = pool.get('account.payment')
    Group = pool.get('account.payment.group')
    with without_check_access():
        payment = Payment(payment.id)
        payment.ev_utr = utr
        payment.save()
        if payment.state in {'approved', 'submitted'}:
            def group():
                group = Group(company=payment.company,
                    journal=payment.journal, kind=payment.kind)
                group.save()
                return group
            Payment.process([payment], group)
        Payment.succeed([payment])


class Run(metaclass=PoolMeta):
    __name__ = 'ev.payout.run'

    @classmethod
    @ModelView.button
    @Workflow.transition('posted')
    def post(cls, runs):
        """Finance posts the signed-off runs: the invoices are posted and
        their payments submitted for approval, all or none"""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        Payment = pool.get('account.payment')
        Configuration = pool.get('ev.payout.configuration')
        # Two clicks at once: the second waits for the lock, then finds the
        # run posted (the transition skips it) or gives up: never pays twice.
        # The numbering's strict sequences are locked with the runs, before
        # any work: a lock met later starts the transaction again and
        # throws the work away
        today = pool.get('ir.date').today()
        lock_together((cls, runs), *cls._numbering_locks(
                {(r.company, today) for r in runs}))
        config = Configuration(1)
        for name in ['expense_account', 'hold_account', 'payment_journal']:
            if not getattr(config, name):
                raise PayoutError(gettext('ev_payout.msg_config_missing',
                        field=Configuration.fields_get([name])[name][
                            'string']))
        for run in runs:
            if run.invoice:
                raise PayoutError(gettext('ev_payout.msg_run_posted_already',
                        run=run.rec_name))
            run.team.check_payee()
            if run.net <= 0:
                raise PayoutError(gettext('ev_payout.msg_run_net_not_positive',
                        run=run.rec_name, net=run.net))
        totals = cls._kind_totals(runs)
        invoices = [run.new_invoice(config, today, totals[run.id])
            for run in runs]
        cls._open_journal_periods(invoices)
        # Saving computes the taxes (Invoice.on_modification)
        Invoice.save(invoices)
        Invoice.post(invoices)
        payments = []
        for run, invoice in zip(runs, invoices):
            run.invoice = invoice
            run.payee = run.team.payee_text()
            run.posted_at = dt.datetime.now()
            run.posted_by = Transaction().user
            payments.append(run.new_payment(config, invoice))
        Payment.save(payments)
        Payment.submit(payments)
        for run, payment in zip(runs, payments):
            run.payment = payment
        cls.save(runs)
        notify(group_users('account_payment.group_payment_approval'),
            payments, lambda p: gettext('ev_payout.msg_notify_approve',
                payment=p.rec_name, amount=p.amount,
                party=p.party.rec_name))

    @classmethod
    def _numbering_locks(cls, companies_dates):
        """(Model, records) of the strict sequences that number the supplier
        invoices and their moves of these (company, invoice date)"""
        pool = Pool()
        Period = pool.get('account.period')
        Sequence = pool.get('ir.sequence.strict')
        sequences = set()
        for company, date in companies_dates:
            period = Period.find(company, date=date, test_state=False)
            fiscalyear = period.fiscalyear
            pattern = {
                'company': company.id,
                'fiscalyear': fiscalyear.id,
                'period': period.id,
                }
            for invoice_sequence in fiscalyear.invoice_sequences:
                if invoice_sequence.match(pattern):
                    sequences.add(invoice_sequence.in_invoice_sequence)
                    break
            sequences.add(period.move_sequence_used)
        sequences = [s for s in sequences if s]
        return [(Sequence, sequences)] if sequences else []

    @classmethod
    def _open_journal_periods(cls, invoices):
        """Open the journal's period before posting: the first move of a
        period locks the journal periods' table, which would start the
        transaction again after all the work"""
        pool = Pool()
        Period = pool.get('account.period')
        MoveLine = pool.get('account.move.line')
        for company, date, journal in {
                (i.company, i.invoice_date, i.journal) for i in invoices}:
            period = Period.find(company, date=date)
            MoveLine.check_journal_period_modify(period, journal)

    @classmethod
    def _kind_totals(cls, runs):
        """{run id: {kind: [amount, number of lines]}} of the lines counted
        in the runs, in one query"""
        Line = Pool().get('ev.payout.line')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        totals = {r.id: {} for r in runs}
        for sub_ids in grouped_slice([r.id for r in runs], 1000):
            cursor.execute(*line.select(line.run, line.kind,
                    Sum(line.amount), Count(line.id),
                    where=line.run.in_(list(sub_ids))
                    & line.state.in_(COUNTED),
                    group_by=[line.run, line.kind]))
            for run_id, kind, amount, count in cursor:
                totals[run_id][kind] = [
                    Decimal(str(amount)).quantize(Decimal('0.01')), count]
        return totals

    def new_invoice(self, config, date, totals):
        "The supplier invoice: one line per kind of payout line"
        pool = Pool()
        Invoice = pool.get('account.invoice')
        InvoiceLine = pool.get('account.invoice.line')
        Line = pool.get('ev.payout.line')
        party = self.team.contractor
        invoice = Invoice(type='in', company=self.company,
            party=party, currency=self.currency,
            invoice_date=date, reference=self.number,
            description=gettext('ev_payout.msg_invoice_description',
                run=self.number, team=self.team.rec_name,
                start=self.period_start.isoformat(),
                end=self.period_end.isoformat()))
        invoice.on_change_type()
        invoice.on_change_party()
        kinds = dict(Line.fields_get(['kind'])['kind']['selection'])
        lines = []
        for kind in COUNTED_KINDS_ORDER:
            if kind not in totals:
                continue
            amount, count = totals[kind]
            account = (config.hold_account
                if kind in {'hold', 'hold_release'}
                else config.expense_account)
            lines.append(InvoiceLine(type='line', company=self.company,
                    currency=self.currency, account=account,
                    quantity=1, unit_price=amount,
                    description=gettext('ev_payout.msg_invoice_line',
                        kind=kinds[kind], count=count)))
        invoice.lines = lines
        return invoice

    def new_payment(self, config, invoice):
        Payment = Pool().get('account.payment')
        line, = invoice.lines_to_pay
        return Payment(company=self.company, journal=config.payment_journal,
            kind='payable', party=invoice.party, line=line,
            amount=invoice.total_amount, date=invoice.invoice_date,
            reference=self.number, origin=self)

    @classmethod
    @ModelView.button_action('ev_payout.wizard_run_pay')
    def pay(cls, runs):
        pass

    @classmethod
    @Workflow.transition('paid')
    def mark_paid(cls, runs):
        pass


class Payment(metaclass=PoolMeta):
    __name__ = 'account.payment'

    ev_utr = fields.Char("UTR",
        states={'readonly': Eval('state') == 'succeeded'},
        help="The bank's reference of the transfer (UTR) or the UPI "
        "transaction ID; bank statements are matched on it.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.ev_utr.search_unaccented = False

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['ev.payout.run']

    @classmethod
    def search_rec_name(cls, name, clause):
        "A bank statement names a payment by its UTR"
        domain = super().search_rec_name(name, clause)
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            return ['AND', domain, ('ev_utr', operator, operand, *extra)]
        return ['OR', domain, ('ev_utr', operator, operand, *extra)]

    @classmethod
    def validate_fields(cls, payments, field_names):
        super().validate_fields(payments, field_names)
        if 'ev_utr' not in field_names:
            return
        for payment in payments:
            utr = payment.ev_utr
            if utr and not (utr.isalnum()
                    and UTR_LENGTH[0] <= len(utr) <= UTR_LENGTH[1]):
                raise PayoutValidationError(gettext(
                        'ev_payout.msg_utr_invalid', utr=utr,
                        payment=payment.rec_name))
            if utr and cls.search([
                        ('ev_utr', '=', utr), ('id', '!=', payment.id)],
                    limit=1):
                raise PayoutValidationError(gettext(
                        'ev_payout.msg_utr_used', utr=utr))

    @classmethod
    def succeed(cls, payments):
        "A run is paid when its payment succeeds (by hand or by statement)"
        Run = Pool().get('ev.payout.run')
        super().succeed(payments)
        runs = [p.origin for p in payments if isinstance(p.origin, Run)
            and p.origin.state == 'posted']
        if runs:
            Run.mark_paid(runs)


class PayStart(ModelView):
    __name__ = 'ev.payout.run.pay.start'
    __string__ = "Record a Payout's Payment"

    run = fields.Many2One('ev.payout.run', "Run", readonly=True)
    amount = fields.Numeric("Amount", digits=(16, 2), readonly=True)
    payee = fields.Char("Paid To", readonly=True)
    utr = fields.Char("UTR", required=True,
        help="The bank's reference of the transfer or the UPI "
        "transaction ID.")


class Pay(Wizard):
    __name__ = 'ev.payout.run.pay'
    __string__ = "Record a Payout's Payment"

    start = StateView('ev.payout.run.pay.start',
        'ev_payout.run_pay_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Paid", 'pay', 'tryton-ok', default=True),
            ])
    pay = StateTransition()

    def default_start(self, fields):
        return {
            'run': self.record.id,
            'amount': self.record.payment.amount
            if self.record.payment else None,
            'payee': self.record.payee,
            }

    def transition_pay(self):
        "Finance sent the money: the approved payment is processed and paid"
        Payment = Pool().get('account.payment')
        run = self.record
        payment = run.payment
        if run.state != 'posted' or not payment:
            raise PayoutError(gettext('ev_payout.msg_run_not_posted',
                    run=run.rec_name))
        if payment.state not in {'approved', 'processing'}:
            states = dict(Payment.fields_get(['state'])['state']['selection'])
            raise PayoutError(gettext('ev_payout.msg_payment_not_approved',
                    payment=payment.rec_name, run=run.rec_name,
                    state=states[payment.state]))
        settle_payment(payment, (self.start.utr or '').strip().upper())
        return 'end'
