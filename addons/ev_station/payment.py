# This file is part of the EV operations suite.
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.transaction import Transaction

from .exceptions import LogValidationError
from .immutable import ImmutableMixin

PAYMENT_EVENTS = {
    'prepayment': 'prepayment_received',
    'partial': 'partial_payment_received',
    'full': 'full_payment_received',
    }


class Payment(ImmutableMixin, ModelSQL, ModelView):
    "Payment log: the fact of a payment, recorded once"
    __name__ = 'ev.station.payment'
    __string__ = "Payment"

    station = fields.Many2One(
        'ev.station', "Station", required=True, ondelete='RESTRICT')
    date = fields.Date("Date", required=True)
    type = fields.Selection([
            ('prepayment', "Prepayment"),
            ('partial', "Partial Payment"),
            ('full', "Full Payment"),
            ], "Type", required=True)
    type_string = type.translated('type')
    amount = fields.Numeric(
        "Amount", digits=(16, 2),
        domain=[If(Bool(Eval('amount')), ('amount', '>', 0), ())],
        states={'required': ~Eval('percentage')})
    currency = fields.Many2One(
        'currency.currency', "Currency",
        states={'required': Bool(Eval('amount'))})
    percentage = fields.Numeric(
        "Percentage", digits=(5, 2),
        domain=[If(Bool(Eval('percentage')),
                [('percentage', '>', 0), ('percentage', '<=', 100)], ())],
        states={'required': ~Eval('amount')})
    reference = fields.Char("Reference")
    text = fields.Text("Text")
    notify_customer = fields.Boolean(
        "Notify Customer",
        help="Email the customer that the payment was received.")
    author = fields.Many2One('res.user', "Recorded By", readonly=True)
    entry = fields.Many2One('ev.station.log', "Log Entry", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.station, Index.Equality())))
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_date(cls):
        return Pool().get('ir.date').today()

    @classmethod
    def default_currency(cls):
        pool = Pool()
        Currency = pool.get('currency.currency')
        currencies = Currency.search([('code', '=', 'INR')], limit=1)
        return currencies[0].id if currencies else None

    def get_rec_name(self, name):
        return self.describe(
            self.type_string, self.amount, self.currency, self.percentage,
            self.reference)

    @classmethod
    def describe(cls, type_string, amount, currency, percentage, reference):
        parts = []
        if amount:
            parts.append(f'{amount} {currency.code if currency else ""}'
                .strip())
        if percentage:
            parts.append(f'{Decimal(percentage).normalize():f}%')
        return gettext('ev_station.msg_payment_text',
            type=type_string, amount=' / '.join(parts),
            reference=reference or '-')

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            values['author'] = Transaction().user or None
        return values

    @classmethod
    def validate_fields(cls, payments, field_names):
        super().validate_fields(payments, field_names)
        for payment in payments:
            if not payment.amount and not payment.percentage:
                raise LogValidationError(gettext(
                        'ev_station.msg_payment_amount_required'))

    @classmethod
    def create(cls, vlist):
        pool = Pool()
        Station = pool.get('ev.station')
        # The log entry is created first so that the payment points at it
        # and stays untouched afterwards.
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            values['entry'] = None
            if (not values.get('station')
                    or values.get('type') not in PAYMENT_EVENTS):
                # The standard required/selection checks report it.
                continue
            if not values.get('amount') and not values.get('percentage'):
                raise LogValidationError(gettext(
                        'ev_station.msg_payment_amount_required'))
            Currency = pool.get('currency.currency')
            text = cls.describe(
                dict(cls.type.selection)[values['type']],
                values.get('amount'),
                Currency(values['currency']) if values.get('currency')
                else None,
                values.get('percentage'), values.get('reference'))
            if values.get('text'):
                text += '\n' + values['text']
            # Through the log's door: the caller's access to the station
            # is checked there
            entry = Station(values['station']).record_event(
                PAYMENT_EVENTS[values['type']], text,
                visibility=('client_email' if values.get('notify_customer')
                    else 'internal'))
            values['entry'] = entry.id
        return super().create(vlist)
