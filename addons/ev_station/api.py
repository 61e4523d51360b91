# This file is part of the EV operations suite.
"""What the suite's REST routes share: answers with a JSON body, and a
request body read defensively (type, size, depth, NUL characters, integer
range), so that no input reaches the database as a 500."""
import functools
import json

from werkzeug.exceptions import HTTPException

import trytond.config as config
from trytond.protocols.wrappers import Response
from trytond.wsgi import app

# PostgreSQL's integer: a larger number is refused here, not by the database
INT_MIN, INT_MAX = -2 ** 31, 2 ** 31 - 1
MAX_DEPTH = 16


def json_response(body, status=200):
    return Response(json.dumps(body), status=status,
        content_type='application/json')


class APIError(HTTPException):
    """An answer with a JSON body, raised so that the transaction rolls
    back (with_transaction commits only when the route returns)"""

    def __init__(self, status, body):
        super().__init__(response=json_response(body, status=status))


def json_errors(func):
    """Every refusal of the route in JSON: werkzeug's own (Tryton's 401 of
    a missing or unknown key, 404 of an unknown database, 413...) answer an
    HTML page otherwise. The outermost decorator, under app.route."""
    @functools.wraps(func)
    def wrapper(request, *args, **kwargs):
        try:
            return func(request, *args, **kwargs)
        except APIError:
            raise
        except HTTPException as exception:
            if exception.code is None or exception.code < 400:
                raise
            description = exception.description
            if exception.code >= 500 or not isinstance(description, str):
                # Tryton's 500 carries the exception itself: its text is
                # for the server's log, not for the caller
                description = exception.name
            response = json_response(
                {'error': description or exception.name},
                status=exception.code)
            if exception.code == 401:
                response.headers['WWW-Authenticate'] = 'Bearer'
            return response
    return wrapper


def max_body():
    "[ev_station] api_max_body: the largest request body, in bytes"
    return config.getint('ev_station', 'api_max_body', default=64 * 1024)


def json_body(request, status=400):
    """The JSON of the request's body (None when empty); an APIError naming
    what is wrong: 415 when it is not application/json, 413 when larger than
    api_max_body, `status` when it is not JSON, nests deeper than
    MAX_DEPTH, holds a NUL character or an integer out of range (the path of
    the value is named)"""
    # Read whole (Tryton's [request] max_size bounds it) before answering:
    # a client still sending would see its connection reset
    data = request.get_data(cache=True)
    if len(data) > max_body():
        raise APIError(413, {'errors': {
                    '': f"the body is larger than {max_body()} bytes"}})
    if data and request.mimetype != 'application/json':
        raise APIError(415, {'errors': {
                    '': "the body must be sent as application/json"}})
    try:
        value = json.loads(data.decode('utf-8') or 'null',
            parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise APIError(status, {'errors': {'': "the body is not valid JSON"}})
    errors = {}
    _check(value, '', 0, errors)
    if errors:
        raise APIError(status, {'errors': errors})
    return value


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _check(value, path, depth, errors):
    "Add to `errors` what no field of any route may hold, by path"
    if len(errors) >= 20:
        return
    if depth > MAX_DEPTH:
        errors[path] = f"nests deeper than {MAX_DEPTH} levels"
        return
    if isinstance(value, str):
        if '\x00' in value:
            errors[path] = "must not contain NUL characters"
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            errors[path] = "is out of range"
    elif isinstance(value, float):
        if abs(value) > 1e15:
            errors[path] = "is out of range"
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f'{path}.{key}' if path else key
            if '\x00' in key:
                errors[path or ''] = "has a key with a NUL character"
                continue
            _check(item, name, depth + 1, errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f'{path}[{index}]', depth + 1, errors)


METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']


def only(path, *methods):
    """Answer the other methods on the route `path` (of app.route) with a
    JSON 405 naming the allowed ones, instead of werkzeug's HTML page"""
    others = [m for m in METHODS if m not in methods]

    def not_allowed(request, *args, **kwargs):
        response = json_response({'error': "method not allowed",
                'allowed': list(methods)}, status=405)
        response.headers['Allow'] = ', '.join(methods)
        return response
    not_allowed.__name__ = f'not_allowed_{path}'
    app.route(path, methods=others)(not_allowed)


@app.route('/<database_name>/ev/api/<path:rest>', methods=METHODS)
def no_such_route(request, database_name, rest):
    "Any other path of the suite's APIs: a JSON 404"
    return json_response({'error': "no such route"}, status=404)
