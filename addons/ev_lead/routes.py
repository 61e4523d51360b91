# This file is part of the EV operations suite.
"""The OEM integration API: lead intake and status over REST.

POST /<database>/ev/api/v1/leads            create a lead (201) or return the
                                            one with that reference (200)
GET  /<database>/ev/api/v1/leads/<reference> status and milestones

Authenticated with `Authorization: Bearer <key>`, a user application key
(res.user.application, application "EV OEM API") of the OEM's integration
user, validated by an administrator."""
import logging

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model.exceptions import ValidationError
from trytond.modules.ev_station.api import (
    APIError, json_body, json_errors, json_response, only)
from trytond.protocols.wrappers import (
    user_application, with_pool, with_transaction)
from trytond.transaction import TransactionError
from trytond.wsgi import app

from .intake import InvalidLead, parse_lead

logger = logging.getLogger(__name__)
oem_api = user_application('ev_oem')


class _IntakeConflict(TransactionError):
    """Another request created the same lead meanwhile: the transaction
    starts again and finds it"""


def _user_oem(pool):
    User = pool.get('res.user')
    Party = pool.get('party.party')
    oem = User.get_ev_oem()
    if oem is None:
        # A key of a user that is no OEM's integration user
        raise APIError(401, {'error': "the key is not an OEM integration key"})
    return Party(oem)


only('/<database_name>/ev/api/v1/leads', 'POST')
only('/<database_name>/ev/api/v1/leads/<path:reference>', 'GET')


@app.route('/<database_name>/ev/api/v1/leads', methods=['POST'])
@json_errors
@with_pool
@with_transaction(readonly=False)
@oem_api
def create_lead(request, pool):
    Lead = pool.get('sale.opportunity')
    data = json_body(request, status=422)
    oem = _user_oem(pool)
    try:
        values = parse_lead(pool, data)
    except InvalidLead as exception:
        raise APIError(422, {'errors': exception.errors})
    # Concurrent retries of one request: the unique constraint on (OEM,
    # reference) lets one insert win; the others start again (see
    # _IntakeConflict) with a fresh snapshot in which this search finds it.
    existing = Lead.search([
            ('oem', '=', oem.id),
            ('oem_reference', '=', values['oem_reference']),
            ], limit=1)
    if existing:
        return json_response(existing[0].api_summary())
    try:
        lead = Lead.create_from_api(oem, values)
    except (UserError, ValidationError) as exception:
        retries = request.environ.get('ev.intake_retries', 0)
        if (exception.message == gettext('ev_lead.msg_oem_reference_unique')
                and retries < 3):
            request.environ['ev.intake_retries'] = retries + 1
            raise _IntakeConflict() from exception
        raise APIError(422, {'errors': {'': exception.message}})
    return json_response(lead.api_summary(), status=201)


@app.route('/<database_name>/ev/api/v1/leads/<path:reference>',
    methods=['GET'])
@json_errors
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
