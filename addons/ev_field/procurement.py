# This file is part of the EV operations suite.
"Local procurement: buying from a nearby vendor when stock is short"
import datetime as dt
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.modules.ev_station.notification import (
    group_users, notify)
from trytond.pool import Pool
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction
from trytond.modules.ev_station.timestamp import Timestamp

from .exceptions import ProcurementError, UPIError
from .upi import InvalidUPI, parse_upi, valid_vpa

_DRAFT = {'readonly': Eval('state') != 'draft'}


class Procurement(Workflow, ModelSQL, ModelView):
    __name__ = 'ev.field.procurement'
    __string__ = "Local Procurement"

    job = fields.Many2One('ev.field.job', "Job", required=True,
        ondelete='RESTRICT', domain=[('kind', '=', 'installation')],
        states=_DRAFT)
    company = fields.Many2One('company.company', "Company", required=True,
        states=_DRAFT)
    vendor = fields.Many2One('party.party', "Vendor", required=True,
        context={'company': Eval('company', -1)}, depends={'company'},
        states=_DRAFT)
    upi_link = fields.Char("UPI QR",
        states=_DRAFT,
        help="The text of the vendor's UPI QR code "
        "(upi://pay?pa=...&pn=...&am=...&cu=INR).")
    vpa = fields.Char("UPI ID (VPA)", states=_DRAFT)
    payee_name = fields.Char("Payee Name", states=_DRAFT)
    bank_account = fields.Char("Bank Account", states=_DRAFT)
    bank_ifsc = fields.Char("IFSC", states=_DRAFT)
    lines = fields.One2Many('ev.field.procurement.line', 'procurement',
        "Lines", states=_DRAFT)
    amount = fields.Numeric("Amount", digits=(16, 2), readonly=True,
        help="The total of the lines, in the procurement's currency.")
    currency = fields.Many2One('currency.currency', "Currency",
        required=True, states=_DRAFT)
    state = fields.Selection([
            ('draft', "Draft"),
            ('waiting', "Waiting for Approval"),
            ('approved', "Approved"),
            ('purchased', "Purchased"),
            ('paid', "Paid"),
            ('cancelled', "Cancelled"),
            ], "State", readonly=True, required=True, sort=False)
    auto_approved = fields.Boolean("Auto-approved", readonly=True)
    approved_by = fields.Many2One('res.user', "Approved By", readonly=True)
    purchase = fields.Many2One('purchase.purchase', "Purchase",
        readonly=True)
    invoice = fields.Function(fields.Many2One('account.invoice',
            "Supplier Invoice"), 'get_invoice')
    payment_reference = fields.Char("Payment Reference",
        states={
            'readonly': Eval('state') != 'purchased',
            'required': Eval('state') == 'paid',
            },
        help="The UPI transaction ID or bank UTR of the vendor payment.")
    paid_at = Timestamp("Paid At", readonly=True)
    paid_by = fields.Many2One('res.user', "Paid By", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'waiting'),
            ('draft', 'approved'),
            ('waiting', 'approved'),
            ('approved', 'purchased'),
            ('purchased', 'paid'),
            ('draft', 'cancelled'),
            ('waiting', 'cancelled'),
            ('approved', 'cancelled'),
            }
        cls._buttons.update({
                'submit': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'approve': {
                    'invisible': Eval('state') != 'waiting',
                    'depends': ['state'],
                    },
                'buy': {
                    'invisible': Eval('state') != 'approved',
                    'depends': ['state'],
                    },
                'pay': {
                    'invisible': Eval('state') != 'purchased',
                    'readonly': ~Bool(Eval('payment_reference')),
                    'depends': ['state', 'payment_reference'],
                    },
                'cancel': {
                    'invisible': ~Eval('state').in_(
                        ['draft', 'waiting', 'approved']),
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    def get_invoice(self, name):
        # The purchase makes its invoice when processed (maybe by a worker)
        if self.purchase and self.purchase.invoices:
            return self.purchase.invoices[0].id

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_currency(cls, **pattern):
        "The currency of the company"
        Company = Pool().get('company.company')
        company = pattern.get('company') or cls.default_company()
        if company is not None and company >= 0:
            return Company(company).currency.id

    @fields.depends('company', 'currency')
    def on_change_company(self):
        if self.company and not self.currency:
            self.currency = self.company.currency

    @fields.depends('job', '_parent_job.company', 'lines', 'company',
        methods=['on_change_company'])
    def on_change_job(self):
        "Propose the job's missing materials as lines"
        Line = Pool().get('ev.field.procurement.line')
        if not self.job or self.lines:
            return
        if not self.company:
            self.company = self.job.company
            self.on_change_company()
        self.lines = [Line(product=m.product, quantity=m.quantity,
                unit=m.unit, unit_price=m.product.cost_price)
            for m in self.job.materials if m.state == 'short']

    @fields.depends('upi_link', 'vpa', 'payee_name')
    def on_change_upi_link(self):
        try:
            upi = parse_upi(self.upi_link) if self.upi_link else None
        except InvalidUPI:
            return
        if upi:
            self.vpa = upi['vpa']
            self.payee_name = upi['payee'] or self.payee_name

    def upi(self):
        "The parsed UPI link, or a clear error naming the wrong part"
        try:
            return parse_upi(self.upi_link)
        except InvalidUPI as error:
            raise UPIError(gettext(f'ev_field.msg_upi_invalid_{error.field}',
                    value=error.value, procurement=self.rec_name)) from error

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if values.get('upi_link'):
            try:
                upi = parse_upi(values['upi_link'])
            except InvalidUPI:
                # validate() reports it with the record's name
                return values
            values.setdefault('vpa', upi['vpa'])
            if upi['payee'] and not values.get('payee_name'):
                values['payee_name'] = upi['payee']
        return values

    @classmethod
    def validate_fields(cls, procurements, field_names):
        super().validate_fields(procurements, field_names)
        for procurement in procurements:
            if procurement.upi_link and field_names & {'upi_link', 'lines'}:
                procurement.upi()
            if procurement.vpa and not valid_vpa(procurement.vpa):
                raise UPIError(gettext('ev_field.msg_upi_invalid_pa',
                        value=procurement.vpa,
                        procurement=procurement.rec_name))

    @fields.depends('lines')
    def on_change_with_amount(self):
        return sum((getattr(l, 'amount', None) or 0 for l in self.lines or []),
            Decimal(0))

    def compute_fields(self, field_names=None):
        "The stored amount follows the lines"
        values = super().compute_fields(field_names=field_names)
        if field_names is None or 'lines' in field_names:
            amount = self.on_change_with_amount()
            if self.amount != amount:
                values['amount'] = amount
        return values

    def check_payable_details(self):
        if not (self.vpa or (self.bank_account and self.bank_ifsc)):
            raise ProcurementError(gettext(
                    'ev_field.msg_procurement_no_payment_details',
                    procurement=self.rec_name))
        if not self.lines:
            raise ProcurementError(gettext(
                    'ev_field.msg_procurement_no_lines',
                    procurement=self.rec_name))
        if self.upi_link:
            upi = self.upi()
            if upi['amount'] is not None and upi['amount'] != self.amount:
                raise ProcurementError(gettext(
                        'ev_field.msg_upi_amount_mismatch',
                        procurement=self.rec_name, upi=upi['amount'],
                        amount=self.amount))

    @classmethod
    @ModelView.button
    def submit(cls, procurements):
        """Below the threshold the purchase is approved at once; from it on
        Finance must approve"""
        Configuration = Pool().get('ev.field.configuration')
        threshold = Configuration(1).approval_threshold
        auto, waiting = [], []
        for procurement in procurements:
            procurement.check_payable_details()
            (auto if procurement.amount < threshold else waiting).append(
                procurement)
        if auto:
            cls.write(auto, {'auto_approved': True})
            cls._approve(auto)
        if waiting:
            cls._wait(waiting)
            cls.notify_finance(waiting)
        for procurement in procurements:
            procurement.job.record('local_procurement', gettext(
                    'ev_field.msg_log_procurement_auto'
                    if procurement.auto_approved
                    else 'ev_field.msg_log_procurement_waiting',
                    job=procurement.job.rec_name,
                    vendor=procurement.vendor.rec_name,
                    amount=procurement.amount, threshold=threshold,
                    currency=procurement.currency.code))

    @classmethod
    @Workflow.transition('waiting')
    def _wait(cls, procurements):
        pass

    @classmethod
    @Workflow.transition('approved')
    def _approve(cls, procurements):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('approved')
    def approve(cls, procurements):
        "Finance approves a purchase from the threshold on"
        cls.write(procurements, {'approved_by': Transaction().user})
        for procurement in procurements:
            procurement.job.record('local_procurement', gettext(
                    'ev_field.msg_log_procurement_approved',
                    job=procurement.job.rec_name,
                    vendor=procurement.vendor.rec_name,
                    amount=procurement.amount,
                    currency=procurement.currency.code))

    @classmethod
    def notify_finance(cls, procurements):
        notify(group_users('ev_station.group_finance'), procurements,
            lambda p: gettext('ev_field.msg_notify_approval',
                procurement=p.rec_name, amount=p.amount,
                currency=p.currency.code, job=p.job.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('purchased')
    def buy(cls, procurements):
        """A Tryton purchase for the vendor: it fills the job's purchase
        requests and makes the supplier invoice"""
        pool = Pool()
        Purchase = pool.get('purchase.purchase')
        PurchaseLine = pool.get('purchase.line')
        Request = pool.get('purchase.request')
        Configuration = pool.get('ev.field.configuration')
        config = Configuration(1)
        for procurement in procurements:
            job = procurement.job
            purchase = Purchase(company=procurement.company,
                party=procurement.vendor,
                invoice_address=procurement.vendor.address_get(
                    type='invoice'),
                currency=procurement.currency,
                warehouse=config.get_warehouse(procurement.company),
                purchase_date=pool.get('ir.date').today(),
                description=gettext('ev_field.msg_purchase_description',
                    job=job.rec_name),
                invoice_method='order')
            purchase.save()
            lines, requests = [], []
            for line in procurement.lines:
                purchase_line = PurchaseLine(purchase=purchase,
                    product=line.product)
                purchase_line.on_change_product()
                purchase_line.quantity = line.quantity
                purchase_line.unit = line.unit
                purchase_line.unit_price = line.unit_price
                lines.append(purchase_line)
                for material in job.materials:
                    if (material.product == line.product and material.request
                            and not material.request.purchase_line):
                        requests.append((material.request, purchase_line))
            PurchaseLine.save(lines)
            for request, purchase_line in requests:
                request.purchase_line = purchase_line
            Request.save([r for r, _ in requests])
            Purchase.quote([purchase])
            Purchase.confirm([purchase])
            purchase = Purchase(purchase.id)
            if purchase.state == 'confirmed':
                # Processing was queued for the worker: the invoice and the
                # incoming moves are needed now, for Finance
                Purchase.process([purchase])
            Request.update_state([r for r, _ in requests])
            procurement.purchase = purchase
        cls.save(procurements)
        for procurement in procurements:
            procurement.job.record('local_procurement', gettext(
                    'ev_field.msg_log_procurement_purchased',
                    job=procurement.job.rec_name,
                    purchase=procurement.purchase.rec_name,
                    invoice=procurement.invoice.rec_name
                    if procurement.invoice else '-'))

    @classmethod
    @ModelView.button
    @Workflow.transition('paid')
    def pay(cls, procurements):
        "Finance paid the vendor directly (UPI or bank transfer)"
        for procurement in procurements:
            if not (procurement.payment_reference or '').strip():
                raise ProcurementError(gettext(
                        'ev_field.msg_procurement_payment_reference',
                        procurement=procurement.rec_name))
        cls.write(procurements, {
                'paid_at': dt.datetime.now(),
                'paid_by': Transaction().user,
                })
        for procurement in procurements:
            procurement.job.record('vendor_paid', gettext(
                    'ev_field.msg_log_vendor_paid',
                    job=procurement.job.rec_name,
                    vendor=procurement.vendor.rec_name,
                    amount=procurement.amount,
                    currency=procurement.currency.code,
                    to=procurement.vpa or procurement.bank_account,
                    reference=procurement.payment_reference))

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, procurements):
        pass


class ProcurementLine(ModelSQL, ModelView):
    __name__ = 'ev.field.procurement.line'
    __string__ = "Local Procurement Line"

    procurement = fields.Many2One('ev.field.procurement', "Procurement",
        required=True, ondelete='CASCADE')
    product = fields.Many2One('product.product', "Product", required=True,
        domain=[('purchasable', '=', True)])
    quantity = fields.Float("Quantity", required=True, digits='unit',
        domain=[('quantity', '>', 0)])
    unit = fields.Many2One('product.uom', "Unit", required=True)
    unit_price = fields.Numeric("Unit Price", digits=(16, 2), required=True,
        domain=[('unit_price', '>=', 0)])
    amount = fields.Function(fields.Numeric("Amount", digits=(16, 2)),
        'on_change_with_amount')

    @fields.depends('product', 'unit')
    def on_change_product(self):
        if self.product:
            self.unit = self.product.purchase_uom or self.product.default_uom

    @fields.depends('quantity', 'unit_price')
    def on_change_with_amount(self, name=None):
        if self.quantity is None or self.unit_price is None:
            return None
        return (Decimal(str(self.quantity)) * self.unit_price).quantize(
            Decimal('0.01'))
