# This file is part of the EV operations suite.
"""The WhatsApp Cloud API webhook of a database.

GET  /<database>/ev/whatsapp/webhook   Meta's subscription challenge
                                       (hub.mode, hub.verify_token,
                                       hub.challenge)
POST /<database>/ev/whatsapp/webhook   notifications: messages and
                                       statuses, signed X-Hub-Signature-256

A POST is checked in this order: size (413), signature of the raw body with
the database's app secret (401, nothing read further), JSON (400), shape
(400 naming the path). Then its messages are stored once each by their id:
a redelivery answers 200 too, so that Meta stops retrying."""
import hmac
import logging

from trytond import backend
from trytond.model.modelsql import SQLConstraintError
from trytond.modules.ev_station.api import (
    APIError, json_body, json_errors, json_response, max_body, only)
from trytond.protocols.wrappers import Response, with_pool, with_transaction
from trytond.transaction import TransactionError
from trytond.wsgi import app

from .whatsapp import MEDIA_TYPES, from_timestamp, valid_signature
from .whatsapp_inbound import NoCompany

logger = logging.getLogger(__name__)
PATH = '/<database_name>/ev/whatsapp/webhook'
STATUS_VALUES = {'sent', 'delivered', 'read', 'failed'}


class InvalidNotification(Exception):
    "A body that is no WhatsApp notification; `errors` by path"

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


class _Redelivered(TransactionError):
    """A concurrent delivery stored the same message or status meanwhile:
    the transaction starts again and finds it stored"""


def _text(value, path, errors, required=True):
    if isinstance(value, str) and value:
        return value
    if value is not None or required:
        errors[path] = "must be a non-empty string"
    return None


def parse_message(value, path, names, errors):
    "The values of a message of the Cloud API (None when invalid)"
    if not isinstance(value, dict):
        errors[path] = "must be an object"
        return None
    wamid = _text(value.get('id'), f'{path}.id', errors)
    wa_id = _text(value.get('from'), f'{path}.from', errors)
    timestamp = value.get('timestamp')
    try:
        at = from_timestamp(timestamp)
    except (TypeError, ValueError, OverflowError, OSError):
        errors[f'{path}.timestamp'] = "must be a Unix timestamp"
        at = None
    type_ = value.get('type')
    if not wamid or not wa_id or not at or not isinstance(type_, str):
        if not isinstance(type_, str):
            errors[f'{path}.type'] = "must be a string"
        return None
    values = {'wamid': wamid, 'wa_id': wa_id, 'timestamp': at,
        'profile_name': names.get(wa_id)}
    content = value.get(type_)
    if type_ == 'text':
        body = content.get('body') if isinstance(content, dict) else None
        values.update(type='text', text=_text(body, f'{path}.text.body',
                errors))
    elif type_ in MEDIA_TYPES - {'voice'}:
        if not isinstance(content, dict):
            errors[f'{path}.{type_}'] = "must be an object"
            return None
        media_id = _text(content.get('id'), f'{path}.{type_}.id', errors)
        if type_ == 'audio' and content.get('voice'):
            type_ = 'voice'
        values.update(type=type_, media_id=media_id,
            mime_type=content.get('mime_type'),
            caption=content.get('caption'),
            filename=content.get('filename'),
            media_sha256=content.get('sha256'))
    elif type_ == 'button' and isinstance(content, dict):
        values.update(type='text', text=content.get('text'))
    else:
        # Reactions, locations, contacts...: kept, not opened as requests
        values.update(type='other', text=f"[{type_}]")
    return values


def parse_status(value, path, errors):
    if not isinstance(value, dict):
        errors[path] = "must be an object"
        return None
    wamid = _text(value.get('id'), f'{path}.id', errors)
    status = value.get('status')
    if status not in STATUS_VALUES:
        errors[f'{path}.status'] = (
            f"must be one of {', '.join(sorted(STATUS_VALUES))}")
        return None
    try:
        at = from_timestamp(value.get('timestamp'))
    except (TypeError, ValueError, OverflowError, OSError):
        errors[f'{path}.timestamp'] = "must be a Unix timestamp"
        return None
    if not wamid:
        return None
    error = None
    if isinstance(value.get('errors'), list) and value['errors']:
        first = value['errors'][0]
        if isinstance(first, dict):
            details = (first.get('error_data') or {}).get('details') \
                if isinstance(first.get('error_data'), dict) else None
            error = ' — '.join(str(v) for v in [first.get('code'),
                    first.get('title') or first.get('message'), details]
                if v)
    return {'wamid': wamid, 'status': status, 'at': at,
        'recipient': value.get('recipient_id'), 'error': error}


def parse_notification(body):
    """(messages, statuses) of a Cloud API notification
    (entry[].changes[].value.messages[] / .statuses[], contacts[] for the
    profile names); InvalidNotification names what is wrong"""
    errors = {}
    if not isinstance(body, dict) \
            or body.get('object') != 'whatsapp_business_account':
        raise InvalidNotification({'object':
                "must be whatsapp_business_account"})
    entries = body.get('entry')
    if not isinstance(entries, list):
        raise InvalidNotification({'entry': "must be a list"})
    messages, statuses = [], []
    for i, entry in enumerate(entries):
        changes = entry.get('changes') if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            errors[f'entry[{i}].changes'] = "must be a list"
            continue
        for j, change in enumerate(changes):
            path = f'entry[{i}].changes[{j}].value'
            value = change.get('value') if isinstance(change, dict) else None
            if not isinstance(value, dict):
                errors[path] = "must be an object"
                continue
            names = {}
            for contact in value.get('contacts') or []:
                if isinstance(contact, dict) and contact.get('wa_id'):
                    profile = contact.get('profile') or {}
                    if isinstance(profile, dict):
                        names[contact['wa_id']] = profile.get('name')
            for k, item in enumerate(value.get('messages') or []):
                parsed = parse_message(
                    item, f'{path}.messages[{k}]', names, errors)
                if parsed:
                    messages.append(parsed)
            for k, item in enumerate(value.get('statuses') or []):
                parsed = parse_status(item, f'{path}.statuses[{k}]', errors)
                if parsed:
                    statuses.append(parsed)
    if errors:
        raise InvalidNotification(errors)
    return messages, statuses


only(PATH, 'GET', 'POST')


@app.route(PATH, methods=['GET'])
@json_errors
@with_pool
@with_transaction(readonly=True)
def verify_subscription(request, pool):
    "Meta's challenge: the verify token must be the configured one"
    Configuration = pool.get('ev.helpdesk.configuration')
    expected = Configuration(1).whatsapp_verify_token
    token = request.args.get('hub.verify_token') or ''
    challenge = request.args.get('hub.challenge')
    if (request.args.get('hub.mode') == 'subscribe' and expected
            and challenge is not None
            and hmac.compare_digest(token.encode(), expected.encode())):
        return Response(challenge, status=200, content_type='text/plain')
    raise APIError(403, {'error': "the verify token does not match"})


@app.route(PATH, methods=['POST'])
@json_errors
@with_pool
@with_transaction(readonly=False)
def receive_notification(request, pool):
    Configuration = pool.get('ev.helpdesk.configuration')
    Message = pool.get('ev.helpdesk.whatsapp.message')
    data = request.get_data(cache=True)
    if len(data) > max_body():
        raise APIError(413, {'errors': {
                    '': f"the body is larger than {max_body()} bytes"}})
    secret, company = Configuration.webhook_settings()
    if not valid_signature(secret, data,
            request.headers.get('X-Hub-Signature-256')):
        raise APIError(401, {'error':
                "missing or invalid X-Hub-Signature-256"})
    body = json_body(request)
    try:
        messages, statuses = parse_notification(body)
    except InvalidNotification as exception:
        raise APIError(400, {'errors': exception.errors})
    try:
        new_messages, new_statuses = Message.intake(
            messages, statuses, company=company)
    except NoCompany:
        # Meta delivers again later: nothing is lost while it is set up
        raise APIError(503, {'error': "no company receives the WhatsApp "
                "messages of this database yet"})
    except SQLConstraintError as exception:
        # A unique key (the message's id, a status) taken by a concurrent
        # delivery: nothing more is read in this aborted transaction (on
        # PostgreSQL), it starts again and finds the record stored
        retries = request.environ.get('ev.whatsapp_retries', 0)
        if not isinstance(exception.__cause__,
                backend.DatabaseIntegrityError) or retries >= 3:
            raise
        request.environ['ev.whatsapp_retries'] = retries + 1
        raise _Redelivered() from exception
    return json_response({
            'messages': new_messages,
            'duplicates': len({m['wamid'] for m in messages}) - new_messages,
            'statuses': new_statuses,
            })
