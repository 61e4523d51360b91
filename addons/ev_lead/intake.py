# This file is part of the EV operations suite.
"""The validation of a lead sent by an OEM, shared by the REST intake and the
spreadsheet import: every field in error is named with its path."""
from .party import EMAIL

SITE_TYPES = {'home', 'business'}
# Bounds of what an OEM may send: a name, an address line...
MAX_TEXT = 200
MAX_NOTES = 5000
MAX_QUANTITY = 100


class InvalidLead(Exception):
    "The lead's errors, by field path"

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def _text(data, path, errors, required=True, max_length=MAX_TEXT):
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
    if '\x00' in value:
        errors[name] = "must not contain NUL characters"
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
    """The lead's values from an intake body, or InvalidLead naming every
    field in error"""
    errors = {}
    if not isinstance(data, dict):
        raise InvalidLead({'': "the body must be a JSON object"})
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
            or not 1 <= quantity <= MAX_QUANTITY):
        errors['charger.quantity'] = (
            f"must be an integer from 1 to {MAX_QUANTITY}")
    site_type = data.get('site_type')
    if site_type not in SITE_TYPES:
        errors['site_type'] = "must be 'home' or 'business'"
    notes = _text(data, ['notes'], errors, required=False,
        max_length=MAX_NOTES)
    if errors:
        raise InvalidLead(errors)
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
