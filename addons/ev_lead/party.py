# This file is part of the EV operations suite.
"""Customers: phone numbers in E.164, valid emails, and the matching that
links a new lead to the customer the company already knows"""
import re

from trytond.i18n import gettext
from sql import Null
from sql.functions import Lower

from trytond.model import Index, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools.email_ import normalize_email
from trytond.transaction import Transaction

from .exceptions import ContactError

try:
    import phonenumbers
    from phonenumbers import NumberParseException, PhoneNumberFormat
except ImportError:  # pragma: no cover - phonenumbers is a requirement
    phonenumbers = None

PHONE_TYPES = {'phone', 'mobile', 'fax'}
# The syntax only: email-validator, which trytond uses when installed, also
# checks deliverability over DNS, which an intake must not depend on.
EMAIL = re.compile(r'^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$')


def compact_email(value):
    "The form in which emails are matched: normalised, lower case"
    return normalize_email(value).lower() if value else value


def normalize_phone(value, region):
    """The E.164 form of a phone number, or None when it is not valid

    Numbers without their international prefix are read in `region`."""
    if not value:
        return None
    try:
        number = phonenumbers.parse(value, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def default_region():
    "The lead configuration's region of numbers without prefix"
    Configuration = Pool().get('ev.lead.configuration')
    return Configuration(1).phone_region or 'IN'


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    ev_is_oem = fields.Boolean(
        "OEM", help="The party is a vehicle or charger OEM sharing leads.")
    ev_webhook_url = fields.Char(
        "Status Webhook URL",
        states={'invisible': ~Eval('ev_is_oem')},
        help="Every status change of the OEM's leads is POSTed there.")
    ev_webhook_secret = fields.Char(
        "Status Webhook Secret",
        states={'invisible': ~Eval('ev_is_oem')},
        help="Key of the HMAC-SHA256 signature in X-EV-Signature.")

    @classmethod
    def normalize_phone(cls, value, region=None):
        "E.164, numbers without prefix read in the configured region"
        return normalize_phone(value, region or default_region())

    @classmethod
    def find_customer(cls, phone=None, email=None):
        "The existing party with that phone (E.164) or email, if any"
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        domain = ['OR']
        if phone:
            domain.append([
                    ('type', 'in', list(PHONE_TYPES)),
                    ('value_compact', '=', phone),
                    ])
        if email:
            domain.append([
                    ('type', '=', 'email'),
                    ('value_compact', '=', compact_email(email)),
                    ])
        if len(domain) == 1:
            return None
        mechanisms = ContactMechanism.search(
            [domain, ('party.active', '=', True)],
            order=[('party', 'ASC')], limit=1)
        return mechanisms[0].party if mechanisms else None

    @classmethod
    def customer_from_intake(cls, values):
        """The customer of an intake (see intake.parse_customer) and its site
        address: the known party of that phone or email, else a new one;
        the phone and email it lacks are added"""
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        customer = cls.find_customer(
            phone=values['phone'], email=values['email'])
        if not customer:
            customer = cls(name=values['name'])
            customer.save()
        known = {(m.type, m.value_compact or m.value)
            for m in customer.contact_mechanisms}
        mechanisms = []
        phone = values['phone']
        if not known & {('mobile', phone), ('phone', phone)}:
            mechanisms.append(ContactMechanism(
                    party=customer, type='mobile', value=phone))
        if values['email'] and ('email', values['email']) not in known:
            mechanisms.append(ContactMechanism(
                    party=customer, type='email', value=values['email']))
        ContactMechanism.save(mechanisms)
        address = customer.address_from_intake(values)
        address.save()
        return customer, address

    def address_from_intake(self, values):
        "A new address of the party; the state is matched by name or code"
        Address = Pool().get('party.address')
        address = Address(
            party=self,
            street=values['street'],
            city=values['city'],
            postal_code=values['postal_code'],
            country=values['country'])
        state = (values['state'] or '').lower()
        if state and values['country']:
            for subdivision in values['country'].subdivisions:
                if state in {subdivision.name.lower(),
                        (subdivision.code or '').lower()}:
                    address.subdivision = subdivision
                    break
        return address


class ContactMechanism(metaclass=PoolMeta):
    __name__ = 'party.contact_mechanism'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # An intake finds the customer of a phone or an email by equality
        cls._sql_indexes.add(Index(t,
                (t.value_compact, Index.Equality()),
                (t.type, Index.Equality())))

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        # Emails were matched case-insensitively on value: their compact
        # form is now the lower-case one
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update([table.value_compact],
                [Lower(table.value)],
                where=(table.type == 'email')
                & ((table.value_compact != Lower(table.value))
                    | (table.value_compact == Null))))

    def format_value_compact(self, value=None, type_=None):
        if type_ == 'email':
            return compact_email(value)
        return super().format_value_compact(value=value, type_=type_)

    def _phone_country_codes(self):
        yield from super()._phone_country_codes()
        yield default_region()

    def format_value(self, value=None, type_=None):
        # Phone numbers are kept in E.164, the form every integration sends
        if phonenumbers and type_ in PHONE_TYPES:
            return self.format_value_compact(value=value, type_=type_)
        return super().format_value(value=value, type_=type_)

    @classmethod
    def check_valid_email(cls, mechanisms, field_names=None):
        # trytond checks emails only when email-validator is installed (and
        # then over DNS); the syntax is always checked here.
        super().check_valid_email(mechanisms, field_names)
        if field_names and not (field_names & {'type', 'value'}):
            return
        for mechanism in mechanisms:
            if (mechanism.type == 'email' and mechanism.value
                    and not EMAIL.match(mechanism.value)):
                raise ContactError(gettext(
                        'ev_lead.msg_invalid_email',
                        email=mechanism.value,
                        party=mechanism.party.rec_name))
