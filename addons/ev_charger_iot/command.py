# This file is part of the EV operations suite.
"""Remote commands: recorded with their sender, published on ev/<id>/cmd by
the ingestion service (an outbox), matched with ev/<id>/cmd/result and
failed by the timeout when no result comes."""
import datetime
import uuid

from sql.aggregate import Max
from sql.functions import CurrentTimestamp

from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.ev_station.timestamp import Timestamp
from trytond.pool import Pool
from trytond.rpc import RPC
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from . import settings
from .charger import invalidate_cache
from .contract import RESULT_STATUSES, command_errors

ACTIONS = [
    ('Reset', "Reset"),
    ('RemoteStartTransaction', "Remote Start Transaction"),
    ('RemoteStopTransaction', "Remote Stop Transaction"),
    ('UnlockConnector', "Unlock Connector"),
    ('UpdateFirmware', "Update Firmware"),
    ('TriggerMessage', "Trigger Message"),
    ]


class InvalidCommand(ValidationError):
    "A command the charger cannot receive; `errors` names the fields"

    def __init__(self, errors):
        super().__init__(gettext('ev_charger_iot.msg_command_invalid_fields',
                errors=errors_text(errors)))
        self.errors = errors


def check_params(action, params, connectors=None):
    """The errors of a command by field ("action", "params" or
    "params.<name>"), worded: the rules are contract.COMMANDS"""
    return {field: gettext(f'ev_charger_iot.{message}', **variables)
        for field, (message, variables)
        in command_errors(action, params, connectors=connectors).items()}


def errors_text(errors):
    "The errors of check_params in one text, in the order of the fields"
    return '; '.join(errors[k] for k in sorted(errors))


class Command(ModelSQL, ModelView):
    __name__ = 'ev.charger.command'
    __string__ = "Charger Command"
    _rec_name = 'uuid'

    uuid = fields.Char("UUID", readonly=True,
        help="The id of the command on MQTT, set on creation.")
    charger = fields.Many2One(
        'ev.charger', "Charger", required=True, ondelete='CASCADE')
    action = fields.Selection(ACTIONS, "Action", required=True)
    params = fields.Dict(None, "Parameters")
    state = fields.Selection([
            ('pending', "Pending"),
            ('sent', "Sent"),
            ('accepted', "Accepted"),
            ('rejected', "Rejected"),
            ('failed', "Failed"),
            ], "State", required=True, readonly=True, sort=False)
    sender = fields.Many2One(
        'res.user', "Sent By", readonly=True, ondelete='RESTRICT')
    mine = fields.Function(
        fields.Boolean("Sent by Me"), 'get_mine', searcher='search_mine')
    requested_at = Timestamp("Requested At", readonly=True)
    sent_at = Timestamp("Published At", readonly=True)
    result_at = Timestamp("Result At", readonly=True)
    detail = fields.Text("Detail", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('uuid_unique', Unique(t, t.uuid),
                'ev_charger_iot.msg_command_uuid_unique'),
            ]
        cls._sql_indexes.add(
            Index(t, (t.state, Index.Equality()),
                where=t.state.in_(['pending', 'sent'])))
        cls._order = [('requested_at', 'DESC'), ('id', 'DESC')]
        cls.__rpc__.update({
                'send': RPC(readonly=False,
                    result=lambda commands: [c.id for c in commands]),
                })

    @classmethod
    def default_state(cls):
        return 'pending'

    @classmethod
    def default_params(cls):
        return {}

    @classmethod
    def default_sender(cls):
        return Transaction().user or None

    @classmethod
    def default_requested_at(cls):
        return datetime.datetime.now()

    def get_mine(self, name):
        return bool(self.sender) and self.sender.id == Transaction().user

    @classmethod
    def search_mine(cls, name, clause):
        _, operator, value = clause[:3]
        positive = (operator == '=') == bool(value)
        return [('sender', '=' if positive else '!=', Transaction().user)]

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            # Who sent it is the user of the transaction, whatever the
            # client says
            values['sender'] = Transaction().user or None
            # Defaults are computed once per create call: one id each
            values['uuid'] = str(uuid.uuid4())
            values['requested_at'] = datetime.datetime.now()
            values['state'] = 'pending'
        return values

    @classmethod
    def validate_fields(cls, commands, field_names):
        "The params, whoever records the command (RPC, button, campaign)"
        super().validate_fields(commands, field_names)
        if field_names and not (field_names & {'action', 'params', 'charger'}):
            return
        connectors = cls.highest_connectors({c.charger.id for c in commands})
        for command in commands:
            errors = check_params(command.action, command.params or {},
                connectors=connectors.get(command.charger.id))
            if errors:
                raise InvalidCommand(errors)

    @classmethod
    def highest_connectors(cls, charger_ids):
        "The highest connector number of each charger that has connectors"
        Connector = Pool().get('ev.charger.connector')
        connector = Connector.__table__()
        cursor = Transaction().connection.cursor()
        highest = {}
        for sub in grouped_slice(list(charger_ids), 1000):
            cursor.execute(*connector.select(
                    connector.charger, Max(connector.number),
                    where=connector.charger.in_(list(sub)),
                    group_by=[connector.charger]))
            highest.update(cursor)
        return highest

    @classmethod
    def check_modification(cls, mode, commands, values=None, external=False):
        super().check_modification(
            mode, commands, values=values, external=external)
        if external and mode in {'write', 'delete'}:
            raise AccessError(gettext('ev_charger_iot.msg_command_readonly'))

    @classmethod
    def send(cls, identity, action, params=None):
        """Record a command to the charger `identity` (API entry point);
        raises ValidationError naming the bad field"""
        pool = Pool()
        Charger = pool.get('ev.charger')
        ModelAccess = pool.get('ir.model.access')
        # Who may not send learns nothing from the checks of the params
        ModelAccess.check(cls.__name__, 'create')
        chargers = Charger.search([('identity', '=', identity)], limit=1)
        if not chargers:
            raise ValidationError(gettext(
                    'ev_charger_iot.msg_charger_unknown', identity=identity))
        charger, = chargers
        # Before create: an unknown action is named here, not refused as a
        # value of the selection
        errors = check_params(action, params if params is not None else {},
            connectors=cls.highest_connectors([charger.id]).get(charger.id))
        if errors:
            raise InvalidCommand(errors)
        return cls.create([{
                    'charger': charger.id,
                    'action': action,
                    'params': params or {},
                    }])

    def api_status(self):
        "The JSON object of the REST API"
        def iso(value):
            return value.isoformat() + 'Z' if value else None
        return {'id': self.uuid, 'charger': self.charger.identity,
            'action': self.action, 'params': self.params or {},
            'state': self.state, 'detail': self.detail,
            'sent_by': self.sender.login if self.sender else None,
            'requested_at': iso(self.requested_at),
            'result_at': iso(self.result_at)}

    def payload(self):
        "The JSON object published on ev/<id>/cmd"
        return {'id': self.uuid, 'action': self.action,
            'params': self.params or {}}

    @classmethod
    def claim_pending(cls, limit=100):
        """Mark up to `limit` pending commands sent and return them. The
        caller publishes them before committing: a crash in between
        publishes them again (the charger deduplicates on the id)."""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id,
                where=table.state == 'pending',
                order_by=[table.id.asc], limit=limit))
        ids = [i for i, in cursor]
        if not ids:
            return []
        now = datetime.datetime.now()
        # The state condition again: a concurrent ingestion process that
        # claimed them first makes this update skip them (row lock).
        update = table.update(
            [table.state, table.sent_at, table.write_date],
            ['sent', now, CurrentTimestamp()],
            where=table.id.in_(ids) & (table.state == 'pending'))
        if backend.name == 'postgresql':
            update.returning = [table.id]
            cursor.execute(*update)
            claimed = [i for i, in cursor]
        else:
            # SQLite has one writer at a time and no qualified RETURNING
            cursor.execute(*update)
            cursor.execute(*table.select(table.id,
                    where=table.id.in_(ids) & (table.sent_at == now)))
            claimed = [i for i, in cursor]
        invalidate_cache(cls.__name__)
        # In the order they were requested: RETURNING follows the scan, and
        # a charger must get a firmware update before the reset sent after
        return cls.browse(sorted(claimed))

    @classmethod
    def apply_results(cls, results, now=None):
        """Store the cmd/result messages: `results` is a list of (identity,
        uuid, status, detail). Returns the (index, reason) of those that
        match no command of that charger."""
        pool = Pool()
        Charger = pool.get('ev.charger')
        now = now or datetime.datetime.now()
        table = cls.__table__()
        charger = Charger.__table__()
        cursor = Transaction().connection.cursor()
        uuids = list({r[1] for r in results})
        known = {}
        for sub in grouped_slice(uuids, 1000):
            cursor.execute(*table.join(charger,
                    condition=table.charger == charger.id).select(
                    table.uuid, charger.identity, table.state,
                    where=table.uuid.in_(list(sub))))
            known.update((u, (i, s)) for u, i, s in cursor)
        rejected = []
        for index, (identity, uuid_, status, detail) in enumerate(results):
            if uuid_ not in known:
                rejected.append((index, gettext(
                            'ev_charger_iot.msg_result_unknown_command',
                            id=uuid_)))
                continue
            if known[uuid_][0] != identity:
                rejected.append((index, gettext(
                            'ev_charger_iot.msg_result_other_charger',
                            id=uuid_, identity=known[uuid_][0])))
                continue
            # A late or repeated result changes nothing once settled
            cursor.execute(*table.update(
                    [table.state, table.detail, table.result_at,
                        table.write_date],
                    [RESULT_STATUSES[status], detail, now,
                        CurrentTimestamp()],
                    where=(table.uuid == uuid_)
                    & table.state.in_(['pending', 'sent'])))
        invalidate_cache(cls.__name__)
        return rejected

    @classmethod
    def time_out(cls, now=None):
        "Fail the commands without a result after the configured delay"
        now = now or datetime.datetime.now()
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update(
                [table.state, table.detail, table.result_at,
                    table.write_date],
                ['failed', gettext('ev_charger_iot.msg_command_timed_out'),
                    now, CurrentTimestamp()],
                where=table.state.in_(['pending', 'sent'])
                & (table.requested_at
                    < now - settings.seconds('command_timeout'))))
        invalidate_cache(cls.__name__)
