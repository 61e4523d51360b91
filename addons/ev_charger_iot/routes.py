# This file is part of the EV operations suite.
"""Remote commands over REST, for the operators' other tools.

POST /<database>/ev/api/v1/chargers/<identity>/commands
     {"action": "Reset", "params": {"type": "Soft"}}       201 the command
GET  /<database>/ev/api/v1/commands/<id>                   200 its state

Authenticated with `Authorization: Bearer <key>`, a user application key
(res.user.application, application "EV Charger Commands API") of a user of
the EV IoT Operator group; the command is recorded as sent by that user.
Bad input is answered 4xx with a JSON body naming the fields, e.g. 422
{"errors": {"params.location": "..."}}: the parameters of each action are
those of contract.COMMANDS."""
from trytond.model.exceptions import AccessError
from trytond.modules.ev_station.api import (
    APIError, json_body, json_errors, json_response, only)
from trytond.protocols.wrappers import (
    user_application, with_pool, with_transaction)
from trytond.transaction import Transaction
from trytond.wsgi import app

from .command import InvalidCommand

iot_api = user_application('ev_iot')


only('/<database_name>/ev/api/v1/chargers/<identity>/commands', 'POST')
only('/<database_name>/ev/api/v1/commands/<uuid>', 'GET')


@app.route('/<database_name>/ev/api/v1/chargers/<identity>/commands',
    methods=['POST'])
@json_errors
@with_pool
@with_transaction(readonly=False)
@iot_api
def send_command(request, pool, identity):
    Command = pool.get('ev.charger.command')
    Charger = pool.get('ev.charger')
    data = json_body(request)
    if not isinstance(data, dict):
        raise APIError(400, {'errors': {'': "the body is not a JSON object"}})
    unknown = sorted(set(data) - {'action', 'params'})
    if unknown:
        raise APIError(422, {'errors': {
                    name: "unknown field" for name in unknown}})
    with Transaction().set_context(_check_access=True):
        try:
            if not Charger.search([('identity', '=', identity)], limit=1):
                raise APIError(404, {'error': "no charger with that identity"})
            command, = Command.send(
                identity, data.get('action'), data.get('params'))
        except InvalidCommand as exception:
            raise APIError(422, {'errors': exception.errors})
        except AccessError as exception:
            raise APIError(403, {'error': exception.message})
    return json_response(command.api_status(), status=201)


@app.route('/<database_name>/ev/api/v1/commands/<uuid>', methods=['GET'])
@json_errors
@with_pool
@with_transaction(readonly=True)
@iot_api
def command_status(request, pool, uuid):
    Command = pool.get('ev.charger.command')
    with Transaction().set_context(_check_access=True):
        try:
            commands = Command.search([('uuid', '=', uuid)], limit=1)
        except AccessError as exception:
            raise APIError(403, {'error': exception.message})
        if not commands:
            raise APIError(404, {'error': "no command with that id"})
        return json_response(commands[0].api_status())
