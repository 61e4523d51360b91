# This file is part of the EV operations suite.
"""Vendor payments of local procurements on account_payment: the purchase's
supplier invoice is posted and paid by an `account.payment` (approved
automatically below ev_field's approval threshold, by Finance from it on),
its UTR matched by the bank statement like a payout's; defective materials
are refunded by a supplier credit note the vendor pays back."""
import datetime as dt
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.modules.ev_station.notification import group_users, notify
from trytond.modules.ev_station.timestamp import Timestamp
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .accounting import UTR_LENGTH, settle_payment
from .exceptions import PayoutError


def _config_payment_journal():
    Configuration = Pool().get('ev.payout.configuration')
    journal = Configuration(1).payment_journal
    if not journal:
        raise PayoutError(gettext('ev_payout.msg_config_missing',
                field=Configuration.fields_get(['payment_journal'])[
                    'payment_journal']['string']))
    return journal


def _normalized(reference):
    return (reference or '').strip().upper().replace(' ', '')


def _valid_utr(reference):
    return (reference.isalnum()
        and UTR_LENGTH[0] <= len(reference) <= UTR_LENGTH[1])


class Procurement(metaclass=PoolMeta):
    __name__ = 'ev.field.procurement'

    payment = fields.Many2One('account.payment', "Payment", readonly=True,
        help="The payment of the supplier invoice to the vendor.")
    refunds = fields.One2Many('ev.payout.refund', 'procurement', "Refunds",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'request_refund': {
                    'invisible': Eval('state') != 'paid',
                    'depends': ['state'],
                    },
                })

    def payee_text(self):
        "Whom the money goes to, as the bank or the UPI app shows it"
        if self.vpa:
            payee = f'UPI {self.vpa}'
        else:
            payee = f'A/c {self.bank_account} IFSC {self.bank_ifsc}'
        if self.payee_name:
            payee += f' ({self.payee_name})'
        return payee

    @classmethod
    @ModelView.button
    def pay(cls, procurements):
        """Finance records the vendor payment: the supplier invoice is posted
        and paid by an account.payment; from the approval threshold on, the
        payment first waits for Finance approval"""
        pool = Pool()
        Payment = pool.get('account.payment')
        for procurement in procurements:
            if procurement.state != 'purchased':
                continue
            reference = _normalized(procurement.payment_reference)
            if not reference:
                raise PayoutError(gettext(
                        'ev_field.msg_procurement_payment_reference',
                        procurement=procurement.rec_name))
            if not _valid_utr(reference):
                raise PayoutError(gettext(
                        'ev_payout.msg_procurement_utr_invalid',
                        reference=procurement.payment_reference,
                        procurement=procurement.rec_name))
            if procurement.payment and procurement.payment.state not in {
                    'approved', 'processing', 'succeeded'}:
                states = dict(
                    Payment.fields_get(['state'])['state']['selection'])
                raise PayoutError(gettext(
                        'ev_payout.msg_procurement_payment_not_approved',
                        payment=procurement.payment.rec_name,
                        procurement=procurement.rec_name,
                        state=states[procurement.payment.state]))
        procurements = [p for p in procurements if p.state == 'purchased']
        cls.create_payments([p for p in procurements if not p.payment])
        for procurement in procurements:
            payment = procurement.payment
            if payment.state in {'approved', 'processing'}:
                # Its success marks the procurement paid (mark_paid)
                settle_payment(payment,
                    _normalized(procurement.payment_reference))

    @classmethod
    def create_payments(cls, procurements):
        """Post the supplier invoices and pay them: approved below the
        threshold, submitted to Finance from it on"""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        Payment = pool.get('account.payment')
        Date = pool.get('ir.date')
        Configuration = pool.get('ev.field.configuration')
        if not procurements:
            return
        threshold = Configuration(1).approval_threshold
        journal = _config_payment_journal()
        for procurement in procurements:
            if not procurement.invoice:
                raise PayoutError(gettext(
                        'ev_payout.msg_procurement_no_invoice',
                        procurement=procurement.rec_name))
        with without_check_access():
            invoices = [p.invoice for p in procurements]
            drafts = [i for i in invoices if i.state in {'draft', 'validated'}]
            for invoice in drafts:
                if not invoice.invoice_date:
                    invoice.invoice_date = Date.today()
            Invoice.save(drafts)
            Invoice.post(drafts)
            payments = []
            for procurement in procurements:
                invoice = Invoice(procurement.invoice.id)
                line, = invoice.lines_to_pay
                payments.append(Payment(company=procurement.company,
                        journal=journal, kind='payable',
                        party=procurement.vendor, line=line,
                        amount=invoice.total_amount,
                        date=Date.today(),
                        reference=gettext(
                            'ev_payout.msg_procurement_payment_reference',
                            procurement=procurement.rec_name,
                            payee=procurement.payee_text()),
                        origin=procurement))
            Payment.save(payments)
            Payment.submit(payments)
            auto = [p for p in payments if p.amount < threshold]
            Payment.approve(auto)
            for procurement, payment in zip(procurements, payments):
                procurement.payment = payment
            cls.save(procurements)
        waiting = [p for p in payments if p.state == 'submitted']
        notify(group_users('ev_station.group_finance'), waiting,
            lambda p: gettext('ev_payout.msg_notify_approve',
                payment=p.rec_name, amount=p.amount,
                party=p.party.rec_name))

    @classmethod
    def mark_paid(cls, procurements):
        """ev_field's transition: paid_at, paid_by and the job's
        vendor_paid entry"""
        super().pay(procurements)

    @classmethod
    @ModelView.button_action('ev_payout.wizard_procurement_refund')
    def request_refund(cls, procurements):
        pass


class Payment(metaclass=PoolMeta):
    __name__ = 'account.payment'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + [
            'ev.field.procurement', 'ev.payout.refund']

    @classmethod
    def succeed(cls, payments):
        """A procurement is paid, a refund received, when its payment
        succeeds (by its button or by the bank statement)"""
        pool = Pool()
        Procurement = pool.get('ev.field.procurement')
        Refund = pool.get('ev.payout.refund')
        super().succeed(payments)
        procurements, refunds = [], []
        for payment in payments:
            origin = payment.origin
            if isinstance(origin, Procurement) and origin.state == 'purchased':
                if not origin.payment_reference:
                    origin.payment_reference = (
                        payment.ev_utr or payment.rec_name)
                procurements.append(origin)
            elif isinstance(origin, Refund) and origin.state == 'requested':
                refunds.append(origin)
        with without_check_access():
            if procurements:
                Procurement.save(procurements)
                Procurement.mark_paid(procurements)
            if refunds:
                Refund.mark_received(refunds)


class Refund(Workflow, ModelSQL, ModelView):
    "Money the vendor owes back for defective materials"
    __name__ = 'ev.payout.refund'
    __string__ = "Vendor Refund"

    procurement = fields.Many2One('ev.field.procurement', "Procurement",
        required=True, readonly=True, ondelete='RESTRICT')
    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    reason = fields.Text("Reason", required=True, readonly=True)
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        readonly=True, domain=[('amount', '>', 0)])
    currency = fields.Many2One('currency.currency', "Currency",
        required=True, readonly=True)
    credit_note = fields.Many2One('account.invoice', "Credit Note",
        readonly=True, ondelete='RESTRICT')
    reference = fields.Char("Refund Reference",
        states={
            'readonly': Eval('state') != 'requested',
            'required': Eval('state') == 'received',
            },
        help="The UTR or UPI transaction ID of the vendor's transfer.")
    payment = fields.Many2One('account.payment', "Payment", readonly=True)
    requested_by = fields.Many2One('res.user', "Requested By",
        readonly=True)
    received_at = Timestamp("Received At", readonly=True)
    state = fields.Selection([
            ('requested', "Requested"),
            ('received', "Received"),
            ], "State", readonly=True, required=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'DESC')]
        cls._transitions |= {('requested', 'received')}
        cls._buttons.update({
                'receive': {
                    'invisible': Eval('state') != 'requested',
                    'readonly': ~Bool(Eval('reference')),
                    'depends': ['state', 'reference'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'requested'

    def get_rec_name(self, name):
        return gettext('ev_payout.msg_refund_rec_name', id=self.id,
            procurement=self.procurement.rec_name)

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('procurement.rec_name', *clause[1:])]

    @classmethod
    def request(cls, procurement, reason, amount=None, lines=None):
        """A draft supplier credit note of the paid procurement: of the
        chosen lines, else of the amount (all of it: Tryton's credit of the
        invoice)"""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        lines = list(lines or [])
        if procurement.state != 'paid':
            raise PayoutError(gettext('ev_payout.msg_refund_not_paid',
                    procurement=procurement.rec_name))
        if not (reason or '').strip():
            raise PayoutError(gettext('ev_payout.msg_refund_reason',
                    procurement=procurement.rec_name))
        if any(line.procurement != procurement for line in lines):
            raise PayoutError(gettext('ev_payout.msg_refund_foreign_line',
                    procurement=procurement.rec_name))
        if lines:
            amount = sum((line.amount for line in lines), Decimal(0))
        refunded = sum((r.amount for r in procurement.refunds), Decimal(0))
        remaining = procurement.amount - refunded
        if amount is None or amount <= 0:
            raise PayoutError(gettext('ev_payout.msg_refund_amount_positive',
                    procurement=procurement.rec_name))
        amount = procurement.currency.round(amount)
        if amount > remaining:
            raise PayoutError(gettext('ev_payout.msg_refund_above_amount',
                    amount=amount, remaining=remaining,
                    currency=procurement.currency.code,
                    procurement=procurement.rec_name,
                    total=procurement.amount))
        refund, = cls.create([{
                    'procurement': procurement.id,
                    'company': procurement.company.id,
                    'reason': reason.strip(),
                    'amount': amount,
                    'currency': procurement.currency.id,
                    'requested_by': Transaction().user,
                    }])
        with without_check_access():
            invoice = Invoice(procurement.invoice.id)
            if not lines and amount == procurement.amount:
                credit_note = invoice._credit()
            else:
                credit_note = invoice._credit()
                credit_note.lines = refund._credit_lines(invoice, lines)
                credit_note.taxes = []
            # Each refund its own reference: not "similar" to the others
            credit_note.reference = refund.rec_name
            credit_note.description = gettext(
                'ev_payout.msg_refund_description',
                procurement=procurement.rec_name, reason=refund.reason)
            credit_note.save()
            Invoice.update_taxes([credit_note])
            refund.credit_note = credit_note
            refund.save()
        procurement.job.record('vendor_refund', gettext(
                'ev_payout.msg_log_refund_requested',
                job=procurement.job.rec_name,
                vendor=procurement.vendor.rec_name, amount=amount,
                currency=procurement.currency.code, reason=refund.reason,
                credit_note=credit_note.rec_name))
        return refund

    def _credit_lines(self, invoice, lines):
        "Credit lines of the returned products, or one of the amount"
        InvoiceLine = Pool().get('account.invoice.line')
        credit_lines = []
        for line in lines:
            for invoice_line in invoice.lines:
                if (invoice_line.type == 'line'
                        and invoice_line.product == line.product):
                    credit_line = invoice_line._credit()
                    credit_line.quantity = -line.quantity
                    credit_lines.append(credit_line)
                    break
        if not lines:
            # No product returned: the amount, on the invoice's account
            first, = [il for il in invoice.lines if il.type == 'line'][:1]
            credit_lines.append(InvoiceLine(type='line',
                    invoice_type=invoice.type, company=invoice.company,
                    currency=invoice.currency, party=invoice.party,
                    account=first.account, quantity=-1,
                    unit_price=self.amount, description=self.reason))
        return credit_lines

    @classmethod
    @ModelView.button
    def receive(cls, refunds):
        """The vendor paid back: the credit note is posted and a receivable
        payment of it succeeds with the vendor's reference"""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        Payment = pool.get('account.payment')
        Date = pool.get('ir.date')
        refunds = [r for r in refunds if r.state == 'requested']
        for refund in refunds:
            if not _valid_utr(_normalized(refund.reference)):
                raise PayoutError(gettext('ev_payout.msg_refund_reference',
                        reference=refund.reference or '',
                        refund=refund.rec_name))
        journal = _config_payment_journal()
        with without_check_access():
            credit_notes = [Invoice(r.credit_note.id) for r in refunds]
            drafts = [i for i in credit_notes
                if i.state in {'draft', 'validated'}]
            for credit_note in drafts:
                if not credit_note.invoice_date:
                    credit_note.invoice_date = Date.today()
            Invoice.save(drafts)
            Invoice.post(drafts)
            payments = []
            for refund in refunds:
                credit_note = Invoice(refund.credit_note.id)
                line, = credit_note.lines_to_pay
                payments.append(Payment(company=refund.company,
                        journal=journal, kind='receivable',
                        party=refund.procurement.vendor, line=line,
                        amount=-credit_note.total_amount,
                        date=Date.today(), reference=refund.rec_name,
                        origin=refund))
            Payment.save(payments)
            Payment.submit(payments)
            for refund, payment in zip(refunds, payments):
                refund.payment = payment
            cls.save(refunds)
        for refund, payment in zip(refunds, payments):
            # Its success marks the refund received (mark_received)
            settle_payment(payment, _normalized(refund.reference))

    @classmethod
    @Workflow.transition('received')
    def mark_received(cls, refunds):
        cls.write(refunds, {'received_at': dt.datetime.now()})
        for refund in refunds:
            procurement = refund.procurement
            procurement.job.record('vendor_refund', gettext(
                    'ev_payout.msg_log_refund_received',
                    job=procurement.job.rec_name,
                    vendor=procurement.vendor.rec_name,
                    amount=refund.amount,
                    currency=refund.currency.code,
                    reference=refund.reference))


class RefundStart(ModelView):
    __name__ = 'ev.payout.refund.request.start'
    __string__ = "Request a Vendor Refund"

    procurement = fields.Many2One('ev.field.procurement', "Procurement",
        readonly=True)
    currency = fields.Many2One('currency.currency', "Currency",
        readonly=True)
    lines = fields.Many2Many('ev.field.procurement.line', None, None,
        "Defective Lines",
        domain=[('procurement', '=', Eval('procurement', -1))],
        help="The lines returned to the vendor; leave empty to give an "
        "amount.")
    amount = fields.Numeric("Amount", digits=(16, 2),
        states={
            'readonly': Bool(Eval('lines')),
            'required': ~Eval('lines'),
            })
    reason = fields.Text("Reason", required=True)

    @fields.depends('lines', 'amount')
    def on_change_lines(self):
        if self.lines:
            self.amount = sum((line.amount or 0 for line in self.lines),
                Decimal(0))


class RefundRequest(Wizard):
    __name__ = 'ev.payout.refund.request'
    __string__ = "Request a Vendor Refund"

    start = StateView('ev.payout.refund.request.start',
        'ev_payout.refund_request_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Request", 'request', 'tryton-ok', default=True),
            ])
    request = StateTransition()

    def default_start(self, fields):
        return {
            'procurement': self.record.id,
            'currency': self.record.currency.id,
            'amount': self.record.amount,
            }

    def transition_request(self):
        Refund = Pool().get('ev.payout.refund')
        Refund.request(self.record, self.start.reason,
            amount=self.start.amount, lines=self.start.lines)
        return 'end'
