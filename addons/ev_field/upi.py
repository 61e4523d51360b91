# This file is part of the EV operations suite.
"""UPI payment links as vendors show them in their QR codes.

`upi://pay?pa=<VPA>&pn=<payee name>&am=<amount>&cu=INR[&tn=<note>]` is
the NPCI deep-link format; the QR code holds exactly that string."""
import re
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urlsplit

# handle@psp: the handle is letters, digits, dot, dash or underscore;
# the PSP part starts with a letter (e.g. okaxis, ybl, paytm)
VPA = re.compile(r'^[A-Za-z0-9._-]{2,256}@[A-Za-z][A-Za-z0-9.-]{1,63}$')
AMOUNT = re.compile(r'^\d{1,10}(\.\d{1,2})?$')


class InvalidUPI(ValueError):
    "`field` names the part of the link that is wrong"

    def __init__(self, field, value):
        super().__init__(field, value)
        self.field = field
        self.value = value


def valid_vpa(vpa):
    return bool(vpa and VPA.match(vpa))


def parse_upi(link):
    """Return {'vpa', 'payee', 'amount', 'currency', 'note'} of a UPI
    link or raise InvalidUPI naming the wrong part"""
    link = (link or '').strip()
    parts = urlsplit(link)
    if parts.scheme.lower() != 'upi' or parts.netloc.lower() != 'pay':
        raise InvalidUPI('link', link)
    try:
        query = parse_qs(parts.query, keep_blank_values=True,
            strict_parsing=True)
    except ValueError:
        raise InvalidUPI('link', link)

    def one(key):
        values = query.get(key)
        if values is None:
            return None
        if len(values) != 1:
            raise InvalidUPI(key, ','.join(values))
        return values[0].strip()

    vpa = one('pa')
    if not valid_vpa(vpa):
        raise InvalidUPI('pa', vpa or '')
    amount = one('am')
    if amount is not None:
        if not AMOUNT.match(amount):
            raise InvalidUPI('am', amount)
        try:
            amount = Decimal(amount)
        except InvalidOperation:
            raise InvalidUPI('am', amount)
        if amount <= 0:
            raise InvalidUPI('am', str(amount))
    currency = one('cu') or 'INR'
    if currency.upper() != 'INR':
        raise InvalidUPI('cu', currency)
    return {
        'vpa': vpa,
        'payee': one('pn'),
        'amount': amount,
        'currency': 'INR',
        'note': one('tn'),
        }
