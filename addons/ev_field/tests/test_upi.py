# This file is part of the EV operations suite.
"The UPI link parser, on its own: no database, no Tryton"
from decimal import Decimal

import pytest

from trytond.modules.ev_field.upi import InvalidUPI, parse_upi, valid_vpa

pytestmark = pytest.mark.backend_independent


def test_full_link():
    assert parse_upi(
        ' upi://pay?pa=sharma.elec@okaxis&pn=Sharma%20Electricals'
        '&am=7500.50&cu=INR&tn=Cable%20for%20INS-000001 ') == {
        'vpa': 'sharma.elec@okaxis',
        'payee': 'Sharma Electricals',
        'amount': Decimal('7500.50'),
        'currency': 'INR',
        'note': 'Cable for INS-000001',
        }


def test_minimal_link_defaults_to_inr_without_amount():
    assert parse_upi('UPI://PAY?pa=shop@ybl') == {
        'vpa': 'shop@ybl', 'payee': None, 'amount': None,
        'currency': 'INR', 'note': None}


@pytest.mark.parametrize('link, field, value', [
    ('https://pay?pa=shop@ybl', 'link', 'https://pay?pa=shop@ybl'),
    ('upi://collect?pa=shop@ybl', 'link', 'upi://collect?pa=shop@ybl'),
    ('upi://pay?pa=not-a-vpa&am=100', 'pa', 'not-a-vpa'),
    ('upi://pay?pa=a@b&am=100', 'pa', 'a@b'),
    ('upi://pay?am=100', 'pa', ''),
    ('upi://pay?pa=shop@ybl&am=-5', 'am', '-5'),
    ('upi://pay?pa=shop@ybl&am=12.345', 'am', '12.345'),
    ('upi://pay?pa=shop@ybl&am=abc', 'am', 'abc'),
    ('upi://pay?pa=shop@ybl&am=0', 'am', '0'),
    ('upi://pay?pa=shop@ybl&am=1&am=2', 'am', '1,2'),
    ('upi://pay?pa=shop@ybl&cu=USD', 'cu', 'USD'),
    ])
def test_bad_links_name_the_wrong_part(link, field, value):
    with pytest.raises(InvalidUPI) as error:
        parse_upi(link)
    assert (error.value.field, error.value.value) == (field, value)


@pytest.mark.parametrize('vpa, valid', [
    ('sharma.elec@okaxis', True),
    ('9876543210@paytm', True),
    ('x@okaxis', False),
    ('shop@1bank', False),
    ('shop', False),
    ('', False),
    (None, False),
    ])
def test_vpa(vpa, valid):
    assert valid_vpa(vpa) is valid
