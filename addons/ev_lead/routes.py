# This file is part of the EV operations suite.
"""The OEM integration API: lead intake and status over REST.

POST /<database>/ev/api/v1/leads            create a lead (201) or return the
                                            one with that reference (200)
GET  /<database>/ev/api/v1/leads/<reference> status and milestones

Authenticated with `Authorization: Bearer <key>`, a user application key
(res.user.application, application "EV OEM API") of the OEM's integration
user, validated by an administrator."""
import json
import logging
import re

from werkzeug.exceptions import HTTPException

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model.exceptions import ValidationError
from trytond.protocols.wrappers import (
    Response, user_application, with_pool, with_transaction)
from trytond.transaction import Transaction, TransactionError
from trytond.wsgi import app

logger = logging.getLogger(__name__)
oem_api = user_application('ev_oem')

SITE_TYPES = {'home', 'business'}
# The syntax only: email-validator, which trytond uses when installed, also
# checks deliverability over DNS, which an intake must not depend on.
EMAIL = re.compile(r'^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$')


class _IntakeConflict(TransactionError):
    """Another request created the same lead meanwhile: the transaction
    starts again and finds it"""


class APIError(HTTPException):
    "An answer with a JSON body, raised so that the transaction rolls back"

    def __init__(self, status, body):
        super().__init__(response=Response(
                json.dumps(body), status=status,
                content_type='application/json'))


def _text(data, path, errors, required=True, max_length=None):
    value = data.get(path[-1]) if isinstance(data, dict) else None
    name = '.'.join(path)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[name] = "is required"
        return None
    if not isinstance(value, str):
        errors[name] = "must be a string"
        return None
    if max_length and len(value) > max_length:
        errors[name] = f"must be at most {max_length} characters"
        return None
    return value.strip()


def _object(data, key, errors, required=True):
    value = data.get(key) if isinstance(data, dict) else None
    if value is None:
        if required:
            errors[key] = "is required"
        return {}
    if not isinstance(value, dict):
        errors[key] = "must be an object"
        return {}
    return value


def parse_customer(pool, customer, errors):
    "The customer's values; errors are added under customer.*"
    Party = pool.get('party.party')
    Country = pool.get('country.country')
    name = _text(customer, ['customer', 'name'], errors)
    phone_raw = _text(customer, ['customer', 'phone'], errors)
    phone = None
    if phone_raw:
        phone = Party.normalize_phone(phone_raw)
        if not phone:
            errors['customer.phone'] = "is not a valid phone number"
    email = _text(customer, ['customer', 'email'], errors, required=False)
    if email:
        if EMAIL.match(email):
            email = email.lower()
        else:
            errors['customer.email'] = "is not a valid email address"
    address = customer.get('address')
    if not isinstance(address, dict):
        errors['customer.address'] = ("is required" if address is None
            else "must be an object")
        address = None
    street = city = postal_code = state = country = None
    if address is not None:
        path = ['customer', 'address']
        street = _text(address, path + ['street'], errors)
        city = _text(address, path + ['city'], errors)
        postal_code = _text(address, path + ['postal_code'], errors)
        state = _text(address, path + ['state'], errors, required=False)
        country_code = _text(address, path + ['country'], errors)
        if country_code:
            countries = Country.search(
                [('code', '=', country_code.upper())], limit=1)
            if countries:
                country, = countries
            else:
                errors['customer.address.country'] = (
                    "is not an ISO country code")
    return {
        'name': name, 'phone': phone, 'email': email,
        'street': street, 'city': city, 'postal_code': postal_code,
        'state': state, 'country': country,
        }


def parse_lead(pool, data):
    """The lead's values from the request body, or APIError 422 naming every
    field in error"""
    errors = {}
    if not isinstance(data, dict):
        raise APIError(422, {'errors': {'': "the body must be a JSON object"}})
    reference = _text(data, ['oem_reference'], errors, max_length=100)
    customer = _object(data, 'customer', errors)
    customer_values = parse_customer(pool, customer, errors) \
        if 'customer' not in errors else None
    vehicle = _object(data, 'vehicle', errors)
    vehicle_model = _text(vehicle, ['vehicle', 'model'], errors)
    vin = _text(vehicle, ['vehicle', 'vin'], errors, required=False)
    charger = _object(data, 'charger', errors)
    charger_model = _text(charger, ['charger', 'model'], errors,
        required=False)
    quantity = charger.get('quantity') if charger else None
    if quantity is None:
        errors['charger.quantity'] = "is required"
    elif (not isinstance(quantity, int) or isinstance(quantity, bool)
            or quantity < 1):
        errors['charger.quantity'] = "must be an integer >= 1"
    site_type = data.get('site_type')
    if site_type not in SITE_TYPES:
        errors['site_type'] = "must be 'home' or 'business'"
    notes = _text(data, ['notes'], errors, required=False)
    if errors:
        raise APIError(422, {'errors': errors})
    return {
        'oem_reference': reference,
        'customer': customer_values,
        'vehicle_model': vehicle_model,
        'vehicle_vin': vin,
        'charger_model': charger_model,
        'charger_quantity': quantity,
        'site_type': site_type,
        'notes': notes,
        }


def _user_oem(pool):
    User = pool.get('res.user')
    user = User(Transaction().user)
    if not user.ev_oem:
        # A key of a user that is no OEM's integration user
        raise APIError(401, {'error': "the key is not an OEM integration key"})
    return user.ev_oem


@app.route('/<database_name>/ev/api/v1/leads', methods=['POST'])
@with_pool
@with_transaction(readonly=False)
@oem_api
def create_lead(request, pool):
    Lead = pool.get('sale.opportunity')
    try:
        data = json.loads(request.get_data(as_text=True) or 'null')
    except ValueError:
        raise APIError(422, {'errors': {'': "the body is not valid JSON"}})
    oem = _user_oem(pool)
    values = parse_lead(pool, data)
    # Concurrent retries of one request: the unique constraint on (OEM,
    # reference) lets one insert win; the others start again (see
    # _IntakeConflict) with a fresh snapshot in which this search finds it.
    existing = Lead.search([
            ('oem', '=', oem.id),
            ('oem_reference', '=', values['oem_reference']),
            ], limit=1)
    if existing:
        return Response(json.dumps(existing[0].api_summary()), status=200,
            content_type='application/json')
    try:
        lead = Lead.create_from_api(oem, values)
    except (UserError, ValidationError) as exception:
        retries = request.environ.get('ev.intake_retries', 0)
        if (exception.message == gettext('ev_lead.msg_oem_reference_unique')
                and retries < 3):
            request.environ['ev.intake_retries'] = retries + 1
            raise _IntakeConflict() from exception
        raise APIError(422, {'errors': {'': exception.message}})
    return Response(json.dumps(lead.api_summary()), status=201,
        content_type='application/json')


@app.route('/<database_name>/ev/api/v1/leads/<path:reference>',
    methods=['GET'])
@with_pool
@with_transaction(readonly=True)
@oem_api
def lead_status(request, pool, reference):
    Lead = pool.get('sale.opportunity')
    oem = _user_oem(pool)
    leads = Lead.search([
            ('oem', '=', oem.id),
            ('oem_reference', '=', reference),
            ], limit=1)
    if not leads:
        raise APIError(404, {'error': "no lead with that reference"})
    lead, = leads
    return lead.api_status()
