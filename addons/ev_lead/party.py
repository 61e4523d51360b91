# This file is part of the EV operations suite.
from trytond.i18n import gettext
from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools.email_ import normalize_email

from .exceptions import ContactError
from .intake import EMAIL

try:
    import phonenumbers
    from phonenumbers import NumberParseException, PhoneNumberFormat
except ImportError:  # pragma: no cover - phonenumbers is a requirement
    phonenumbers = None

PHONE_TYPES = {'phone', 'mobile', 'fax'}


def default_region():
    Configuration = Pool().get('ev.lead.configuration')
    return Configuration(1).phone_region or 'IN'


def normalize_phone(value, region=None):
    """The E.164 form of a phone number, or None when it is not valid

    Numbers without their international prefix are read in `region`
    (the lead configuration's default region, India unless changed)."""
    if not value:
        return None
    try:
        number = phonenumbers.parse(value, region or default_region())
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


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
        return normalize_phone(value, region)

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
                    ('value', 'ilike', normalize_email(email)),
                    ])
        if len(domain) == 1:
            return None
        mechanisms = ContactMechanism.search(
            [domain, ('party.active', '=', True)],
            order=[('party', 'ASC')], limit=1)
        return mechanisms[0].party if mechanisms else None


class ContactMechanism(metaclass=PoolMeta):
    __name__ = 'party.contact_mechanism'

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
