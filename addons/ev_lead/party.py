# This file is part of the EV operations suite.
"""Customers: phone numbers in E.164, valid emails, and the matching that
links a new lead to the customer the company already knows"""
import re

from sql import Null
from sql.functions import Lower

from trytond.i18n import gettext
from trytond.model import Index, fields
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.ev_station.notification import user_in_group
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools.email_ import normalize_email
from trytond.transaction import Transaction, without_check_access

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
    # Write-only: nobody reads it back over RPC (ir.model.field.access),
    # the administrator sets a new one through ev_webhook_new_secret
    ev_webhook_secret = fields.Char(
        "Status Webhook Secret", readonly=True,
        help="Key of the HMAC-SHA256 signature in X-EV-Signature.")
    ev_webhook_new_secret = fields.Function(fields.Char(
            "Status Webhook Secret",
            states={'invisible': ~Eval('ev_is_oem')},
            help="Key of the HMAC-SHA256 signature in X-EV-Signature. It is "
            "never shown again: type a new one to replace it."),
        'get_webhook_new_secret', setter='set_webhook_new_secret')

    def get_webhook_new_secret(self, name):
        return None

    @classmethod
    def set_webhook_new_secret(cls, parties, name, value):
        if value:
            with without_check_access():
                cls.write(parties, {'ev_webhook_secret': value})

    @classmethod
    def validate_fields(cls, parties, field_names):
        super().validate_fields(parties, field_names)
        if field_names and 'ev_webhook_url' not in field_names:
            return
        from .webhook import destination_error, refusal
        for party in parties:
            if party.ev_webhook_url:
                error = destination_error(party.ev_webhook_url)
                if error:
                    raise ValidationError(
                        refusal(party.ev_webhook_url, error))

    @classmethod
    def check_modification(cls, mode, parties, values=None, external=False):
        super().check_modification(
            mode, parties, values=values, external=external)
        # Where the suite sends data and with which key: the EV
        # administrator's decision only
        if not external or mode not in {'create', 'write'}:
            return
        if mode == 'create':
            changed = any(p.ev_webhook_url for p in parties)
        else:
            changed = bool({'ev_webhook_url', 'ev_webhook_new_secret'}
                & {k for k, v in values.items() if v})
        if changed and not user_in_group('ev_station.group_ev_admin'):
            raise AccessError(gettext('ev_lead.msg_webhook_admin_only'))

    @classmethod
    def normalize_phone(cls, value, region=None):
        "E.164, numbers without prefix read in the configured region"
        return normalize_phone(value, region or default_region())

    @classmethod
    def find_customers(cls, phone=None, email=None, limit=20):
        "The active parties with that phone (E.164) or email, oldest first"
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
            return []
        mechanisms = ContactMechanism.search(
            [domain, ('party.active', '=', True)],
            order=[('party', 'ASC')], limit=limit)
        return sorted({m.party for m in mechanisms}, key=lambda p: p.id)

    @classmethod
    def find_customer(cls, phone=None, email=None):
        "The oldest active party with that phone (E.164) or email, if any"
        customers = cls.find_customers(phone=phone, email=email, limit=1)
        return customers[0] if customers else None

    @classmethod
    def customer_from_intake(cls, values, oem):
        """The customer of an OEM's intake (see intake.parse_customer), its
        site address and the parties it may duplicate.

        The customer is one of the OEM's own customers (the party of one of
        its leads) that already has the phone, the email and the address
        given; nothing the OEM sends is written on an existing party. Else
        a new party is created, and the other parties with that phone or
        email are returned for Central Ops to merge by hand."""
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        candidates = cls.find_customers(
            phone=values['phone'], email=values['email'])
        own = set()
        if candidates:
            own = {l.party for l in Lead.search([
                        ('oem', '=', oem.id),
                        ('party', 'in', [c.id for c in candidates]),
                        ])}
        for customer in candidates:
            if customer not in own:
                continue
            address = customer.intake_address(values)
            if address and customer.has_contacts(values):
                return customer, address, []
        customer = cls(name=values['name'], contact_mechanisms=[
                {'type': 'mobile', 'value': values['phone']}]
            + ([{'type': 'email', 'value': values['email']}]
                if values['email'] else []))
        customer.save()
        address = customer.address_from_intake(values)
        address.save()
        return customer, address, candidates

    def has_contacts(self, values):
        "Whether the party has the phone and the email of the intake"
        known = {(m.type, m.value_compact or m.value)
            for m in self.contact_mechanisms}
        phone, email = values['phone'], values['email']
        if phone and not known & {('mobile', phone), ('phone', phone)}:
            return False
        return not email or ('email', compact_email(email)) in known

    def intake_address(self, values):
        "The party's address that is the site of the intake, if any"
        def key(street, city, postal_code, country):
            return tuple(' '.join((v or '').lower().split())
                for v in [street, city, postal_code]) + (
                    country.id if country else None,)
        wanted = key(values['street'], values['city'],
            values['postal_code'], values['country'])
        for address in self.addresses:
            if key(address.street, address.city, address.postal_code,
                    address.country) == wanted:
                return address

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
        config = Pool().get('ev.lead.configuration').__table__()
        cursor.execute(*config.select(config.phone_region, limit=1))
        region, = cursor.fetchone() or (None,)
        cls.normalize_legacy_phones(region or 'IN')

    @classmethod
    def normalize_legacy_phones(cls, region):
        """Give the phones stored before they were kept in E.164 (by the
        party module alone, or imported by SQL) their E.164 compact form, so
        that a phone is found by an indexed equality (find_customers)"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id, table.value,
                where=table.type.in_(list(PHONE_TYPES))
                & ((table.value_compact == Null)
                    | ~table.value_compact.like('+%'))))
        for id_, value in cursor.fetchall():
            phone = normalize_phone(value, region)
            if phone:
                cursor.execute(*table.update([table.value_compact], [phone],
                        where=table.id == id_))

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
