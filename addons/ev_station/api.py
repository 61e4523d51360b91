# This file is part of the EV operations suite.
"""What the suite's REST routes share: answers with a JSON body."""
import json

from werkzeug.exceptions import HTTPException

from trytond.protocols.wrappers import Response


def json_response(body, status=200):
    return Response(json.dumps(body), status=status,
        content_type='application/json')


class APIError(HTTPException):
    """An answer with a JSON body, raised so that the transaction rolls
    back (with_transaction commits only when the route returns)"""

    def __init__(self, status, body):
        super().__init__(response=json_response(body, status=status))


def json_body(request, status=400):
    """The JSON of the request's body (None when empty); an APIError of
    `status` naming the body when it is not JSON"""
    try:
        return json.loads(request.get_data(as_text=True) or 'null')
    except ValueError:
        raise APIError(status, {'errors': {'': "the body is not valid JSON"}})
