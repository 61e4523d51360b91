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
