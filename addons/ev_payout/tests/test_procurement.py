# This file is part of the EV operations suite.
"""Vendor payments of local procurements on account_payment and refunds of
defective materials; each door tried as Finance and as the field team"""
import datetime as dt
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import PayoutWorld

UPI_SMALL = ('upi://pay?pa=sharma.elec@okaxis&pn=Sharma%20Electricals'
    '&am=1600.00&cu=INR')
UTR = 'HDFCN52026081512345'
UPI_1200 = 'upi://pay?pa=sharma.elec@okaxis&am=1200&cu=INR'
UPI_TXN = '412233445566'


def log_entries(job, code):
    Log = Pool().get('ev.station.log')
    return [e.text for e in Log.search([
                ('station', 'in', [s.id for s in job.lead.stations]),
                ('event_type.code', '=', code),
                ], order=[('id', 'ASC')])]


class ProcurementPaymentTestCase(PayoutWorld, ModuleDBTestCase):
    module = 'ev_payout'

    _slot = 0

    def setup(self):
        w = super().setup()
        with w.set_company(w.company):
            # The lead's station holds the jobs' log
            w.station.lead = w.lead
            w.station.save()
            w.vendor = Pool().get('party.party')(name="Sharma Electricals",
                addresses=[{'city': "Bengaluru"}])
            w.vendor.save()
        return w

    def purchased(self, w, lines, upi=UPI_SMALL, bank=None, team=None):
        """A procurement of the team's installation, submitted (approved by
        Finance when needed) and bought"""
        pool = Pool()
        Job = pool.get('ev.field.job')
        Procurement = pool.get('ev.field.procurement')
        Finance = w.finance
        self._slot += 1
        start = dt.datetime.combine(dt.date.today(), dt.time(6)) \
            + dt.timedelta(days=self._slot)
        job = Job(kind='installation', lead=w.lead, company=w.company,
            team=team or w.alpha, slot_start=start,
            slot_end=start + dt.timedelta(hours=2))
        job.save()
        procurement = Procurement(job=job, company=w.company,
            vendor=w.vendor, upi_link=upi, lines=[{
                    'product': product.id, 'quantity': quantity,
                    'unit': product.default_uom.id, 'unit_price': price}
                for product, quantity, price in lines])
        if bank:
            procurement.bank_account, procurement.bank_ifsc = bank
        procurement.save()
        Procurement.submit([procurement])
        if procurement.state == 'waiting':
            with as_user(Finance):
                Procurement.approve([Procurement(procurement.id)])
        Procurement.buy([Procurement(procurement.id)])
        return Procurement(procurement.id)

    def pay(self, user, procurement, reference):
        Procurement = Pool().get('ev.field.procurement')
        with as_user(user):
            procurement = Procurement(procurement.id)
            procurement.payment_reference = reference
            procurement.save()
            Procurement.pay([procurement])
        return Procurement(procurement.id)

    def request_refund(self, user, procurement, reason, amount=None,
            lines=()):
        "Through the wizard, as the user's client runs it"
        Wizard = Pool().get('ev.payout.refund.request', type='wizard')
        with as_user(user), Transaction().set_context(
                active_model='ev.field.procurement',
                active_id=procurement.id, active_ids=[procurement.id]):
            Wizard.check_access()
            session_id, _, _ = Wizard.create()
            wizard = Wizard(session_id)
            wizard.start.reason = reason
            wizard.start.amount = amount
            wizard.start.lines = list(lines)
            wizard.transition_request()

    @with_transaction()
    def test_below_threshold_paid_with_upi_transaction(self):
        "1600 INR: the payment is approved at once and succeeds"
        pool = Pool()
        Invoice = pool.get('account.invoice')
        Payment = pool.get('account.payment')
        w = self.setup()
        with w.set_company(w.company):
            procurement = self.purchased(w, [(w.breaker, 2, Decimal(600)),
                    (w.kit, 1, Decimal(400))])
            self.assertEqual((procurement.state, procurement.amount,
                    procurement.invoice.state),
                ('purchased', Decimal(1600), 'draft'))
            procurement = self.pay(w.finance, procurement,
                ' 4122 3344 5566 ')
            payment = procurement.payment
            self.assertEqual(procurement.state, 'paid')
            self.assertEqual(procurement.paid_by, w.finance)
            self.assertEqual(
                (payment.kind, payment.party, payment.amount, payment.journal,
                    payment.origin, payment.state, payment.ev_utr),
                ('payable', w.vendor, Decimal(1600), w.payment_journal,
                    procurement, 'succeeded', UPI_TXN))
            self.assertEqual(payment.reference,
                f'Procurement {procurement.rec_name}, paid to '
                'UPI sharma.elec@okaxis (Sharma Electricals)')
            invoice = procurement.invoice
            self.assertEqual((invoice.state, invoice.invoice_date,
                    invoice.reconciled), ('posted', dt.date.today(),
                    dt.date.today()))
            # The queue's task, run as the worker would
            Invoice.process([invoice])
            self.assertEqual(Invoice(invoice.id).state, 'paid')
            self.assertEqual(payment.line, invoice.lines_to_pay[0])
            payable = w.vendor.account_payable_used
            self.assertEqual(
                sorted((ln.account.code or ln.account.name, ln.debit,
                        ln.credit) for ln in payment.clearing_move.lines),
                sorted([(payable.code or payable.name, Decimal(1600), 0),
                        ('BCLR', 0, Decimal(1600))]))
            self.assertEqual(
                Payment.search([('rec_name', '=', UPI_TXN)]), [payment])
            self.assertEqual(log_entries(procurement.job, 'vendor_paid'), [
                    'Vendor Sharma Electricals paid 1600.00 INR to '
                    f'sharma.elec@okaxis for {procurement.job.rec_name} '
                    f'(reference {procurement.payment_reference}).'])

    @with_transaction()
    def test_above_threshold_waits_for_finance(self):
        "7500 INR: the payment waits for Finance, then is paid"
        pool = Pool()
        Payment = pool.get('account.payment')
        Notification = pool.get('res.notification')
        Procurement = pool.get('ev.field.procurement')
        w = self.setup()
        with w.set_company(w.company):
            procurement = self.purchased(w, [(w.breaker, 2, Decimal(3750))],
                upi=None, bank=('001234567890', 'HDFC0001234'))
            self.assertEqual(procurement.approved_by, w.finance)
            procurement = self.pay(w.finance, procurement, UTR)
            payment = procurement.payment
            self.assertEqual((procurement.state, payment.state,
                    payment.amount, procurement.invoice.state),
                ('purchased', 'submitted', Decimal(7500), 'posted'))
            self.assertEqual(payment.reference,
                f'Procurement {procurement.rec_name}, paid to '
                'A/c 001234567890 IFSC HDFC0001234')
            self.assertIn(
                f'Payment {payment.rec_name} of 7500.00 to Sharma '
                'Electricals waits for approval.',
                [n.label for n in Notification.search(
                        [('user', '=', w.finance.id)])])
            with as_user(w.finance):
                with self.assertRaises(UserError) as cm:
                    Procurement.pay([Procurement(procurement.id)])
            self.assertEqual(cm.exception.message,
                f'Payment "{payment.rec_name}" of procurement '
                f'"{procurement.rec_name}" is Submitted: Finance must '
                'approve it before it is paid.')
            # The team cannot approve it
            with as_user(w.alpha_user):
                with self.assertRaises((AccessButtonError, AccessError)):
                    Payment.approve([Payment(payment.id)])
            self.assertEqual(Payment(payment.id).state, 'submitted')
            with as_user(w.finance):
                Payment.approve([Payment(payment.id)])
                Procurement.pay([Procurement(procurement.id)])
            procurement = Procurement(procurement.id)
            self.assertEqual((procurement.state, procurement.payment,
                    procurement.payment.state, procurement.payment.ev_utr,
                    procurement.invoice.reconciled),
                ('paid', payment, 'succeeded', UTR, dt.date.today()))
            self.assertEqual(len(Payment.search([])), 1)
            self.assertEqual(log_entries(procurement.job, 'vendor_paid'), [
                    'Vendor Sharma Electricals paid 7500.00 INR to '
                    f'001234567890 for {procurement.job.rec_name} '
                    f'(reference {UTR}).'])

    @with_transaction()
    def test_refunds_of_defective_materials(self):
        "The defective kit, then a part of the rest; the vendor pays back"
        pool = Pool()
        Refund = pool.get('ev.payout.refund')
        Payment = pool.get('account.payment')
        w = self.setup()
        with w.set_company(w.company):
            procurement = self.pay(w.finance, self.purchased(w, [
                        (w.breaker, 2, Decimal(600)),
                        (w.kit, 1, Decimal(400))]), UPI_TXN)
            breakers, kit = procurement.lines
            self.request_refund(w.finance, procurement,
                "Mounting kit cracked", lines=[kit])
            refund, = Refund.search([])
            note = refund.credit_note
            self.assertEqual((refund.amount, refund.state, note.type,
                    note.state, note.party, note.total_amount),
                (Decimal(400), 'requested', 'in', 'draft', w.vendor,
                    Decimal(-400)))
            self.assertEqual([(ln.product, ln.quantity, ln.unit_price)
                    for ln in note.lines], [(w.kit, -1, Decimal(400))])
            draft_name = note.rec_name
            # The procurement team asks for a part of a breaker back
            procurement_user = self.procurement_user(w)
            self.request_refund(procurement_user, procurement,
                "One breaker trips at 20 A", amount=Decimal(300))
            second, first = Refund.search([])
            self.assertEqual(first, refund)
            self.assertEqual(
                [(ln.product, ln.quantity, ln.unit_price, ln.description)
                    for ln in second.credit_note.lines],
                [(None, -1, Decimal(300), "One breaker trips at 20 A")])
            self.assertEqual(
                [r.amount for r in procurement.refunds],
                [Decimal(300), Decimal(400)])
            # Finance records the vendor's transfer of the first
            with as_user(w.finance):
                refund = Refund(refund.id)
                refund.reference = 'YESB60012345678'
                refund.save()
                Refund.receive([refund])
            refund = Refund(refund.id)
            self.assertEqual((refund.state, refund.credit_note.reconciled,
                    refund.payment.kind, refund.payment.state,
                    refund.payment.amount, refund.payment.ev_utr),
                ('received', dt.date.today(), 'receivable', 'succeeded',
                    Decimal(400), 'YESB60012345678'))
            self.assertEqual(
                Payment.search([('rec_name', '=', 'YESB60012345678')]),
                [refund.payment])
            job = procurement.job
            self.assertEqual(log_entries(job, 'vendor_refund'), [
                    'Refund of 400.00 INR requested from Sharma Electricals '
                    f'for {job.rec_name} (credit note {draft_name}): '
                    'Mounting kit cracked',
                    'Refund of 300.00 INR requested from Sharma Electricals '
                    f'for {job.rec_name} (credit note '
                    f'{second.credit_note.rec_name}): One breaker trips '
                    'at 20 A',
                    'Vendor Sharma Electricals refunded 400.00 INR for '
                    f'{job.rec_name} (reference YESB60012345678).'])

    @with_transaction()
    def test_whole_refund_credits_the_invoice(self):
        Refund = Pool().get('ev.payout.refund')
        w = self.setup()
        with w.set_company(w.company):
            procurement = self.pay(w.finance, self.purchased(w, [
                        (w.breaker, 2, Decimal(600)),
                        (w.kit, 1, Decimal(400))]), UPI_TXN)
            self.request_refund(w.finance, procurement,
                "Wrong rating delivered", amount=Decimal(1600))
            refund, = Refund.search([])
            self.assertEqual(refund.credit_note.total_amount, Decimal(-1600))
            self.assertEqual(
                sorted((ln.product.id, ln.quantity, ln.origin)
                    for ln in refund.credit_note.lines),
                sorted((ln.product.id, -ln.quantity, ln)
                    for ln in procurement.invoice.lines))

    @with_transaction()
    def test_field_team_sees_but_cannot_pay_or_refund(self):
        pool = Pool()
        Procurement = pool.get('ev.field.procurement')
        Refund = pool.get('ev.payout.refund')
        Payment = pool.get('account.payment')
        w = self.setup()
        with w.set_company(w.company):
            procurement = self.purchased(w, [(w.breaker, 2, Decimal(600))],
                upi=UPI_1200)
            Procurement.write([procurement],
                {'payment_reference': UPI_TXN})
            with as_user(w.alpha_user):
                self.assertEqual(Procurement.search([]), [procurement])
                with self.assertRaises(AccessButtonError):
                    Procurement.pay([Procurement(procurement.id)])
            with as_user(w.beta_user):
                self.assertEqual(Procurement.search([]), [])
            self.assertEqual((Procurement(procurement.id).state,
                    Payment.search([])), ('purchased', []))
            procurement = self.pay(w.finance, procurement, UPI_TXN)
            with as_user(w.alpha_user):
                with self.assertRaises(AccessButtonError):
                    Procurement.request_refund([Procurement(procurement.id)])
                with self.assertRaises(AccessError):
                    Refund.request(Procurement(procurement.id),
                        "Not my call", amount=Decimal(100))
            with self.assertRaises(AccessError):
                self.request_refund(w.alpha_user, procurement,
                    "Through the wizard", amount=Decimal(100))
            self.assertEqual(Refund.search([]), [])
            self.request_refund(w.finance, procurement, "Defective",
                amount=Decimal(100))
            refund, = Refund.search([])
            Refund.write([refund], {'reference': 'YESB60012345678'})
            with as_user(w.alpha_user):
                self.assertEqual(Refund.search([]), [refund])
                with self.assertRaises(AccessButtonError):
                    Refund.receive([Refund(refund.id)])
            with as_user(w.beta_user):
                self.assertEqual(Refund.search([]), [])
            self.assertEqual(Refund(refund.id).state, 'requested')

    @with_transaction()
    def test_bad_input(self):
        "Clear messages and nothing written"
        pool = Pool()
        Procurement = pool.get('ev.field.procurement')
        Refund = pool.get('ev.payout.refund')
        Invoice = pool.get('account.invoice')
        Payment = pool.get('account.payment')
        w = self.setup()
        with w.set_company(w.company):
            procurement = self.purchased(w, [(w.breaker, 2, Decimal(600))],
                upi=UPI_1200)
            invoices = Invoice.search([])
            # A refund before the vendor is paid
            with as_user(w.finance):
                with self.assertRaises(UserError) as cm:
                    Refund.request(Procurement(procurement.id), "Broken",
                        amount=Decimal(100))
            self.assertEqual(cm.exception.message,
                f'Procurement "{procurement.rec_name}" is not paid: only a '
                'paid procurement can be refunded.')
            # A payment reference that is no UTR
            with self.assertRaises(UserError) as cm:
                self.pay(w.finance, procurement, 'UPI-4122')
            self.assertEqual(cm.exception.message,
                'The payment reference "UPI-4122" of procurement '
                f'"{procurement.rec_name}" must be the UTR or UPI '
                'transaction ID: 12 to 22 letters and digits.')
            self.assertEqual((Payment.search([]), Invoice.search([]),
                    Refund.search([]), Procurement(procurement.id).state),
                ([], invoices, [], 'purchased'))
            self.assertEqual(Invoice(invoices[0].id).state, 'draft')
            # A refund above what was bought, after a first one
            procurement = self.pay(w.finance, procurement, UPI_TXN)
            self.request_refund(w.finance, procurement, "Defective",
                amount=Decimal(1000))
            refund, = Refund.search([])
            invoices = Invoice.search([])
            with as_user(w.finance):
                with self.assertRaises(UserError) as cm:
                    Refund.request(Procurement(procurement.id), "Both",
                        amount=Decimal('200.01'))
            self.assertEqual(cm.exception.message,
                'A refund of 200.01 INR is more than the 200.00 INR left to '
                f'refund of procurement "{procurement.rec_name}" (1200.00 '
                'INR bought).')
            with as_user(w.finance):
                with self.assertRaises(UserError) as cm:
                    Refund.request(Procurement(procurement.id), "  ",
                        amount=Decimal(100))
            self.assertEqual(cm.exception.message,
                'Say why the vendor of procurement '
                f'"{procurement.rec_name}" must refund it.')
            self.assertEqual((Refund.search([]), Invoice.search([])),
                ([refund], invoices))
            # Received with a reference that is no UTR
            with as_user(w.finance):
                refund = Refund(refund.id)
                refund.reference = 'YESB-1'
                refund.save()
                with self.assertRaises(UserError) as cm:
                    Refund.receive([Refund(refund.id)])
            self.assertEqual(cm.exception.message,
                f'The refund reference "YESB-1" of refund "{refund.rec_name}" '
                "must be the UTR or UPI transaction ID of the vendor's "
                'transfer: 12 to 22 letters and digits.')
            self.assertEqual((Refund(refund.id).state,
                    Refund(refund.id).credit_note.state,
                    len(Payment.search([]))), ('requested', 'draft', 1))

    def procurement_user(self, w):
        from trytond.modules.ev_field.tests.tools import create_user
        return create_user('buyer', 'ev_field.group_procurement')


del ModuleDBTestCase
