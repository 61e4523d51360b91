# This file is part of the EV operations suite.
"Chargers, their connectors, their health and the live overview"
import datetime

from sql import Literal, Null
from sql.aggregate import Count, Min, Sum
from sql.conditionals import Case
from sql.operators import Any, Exists

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.modules.ev_station.station import CONNECTOR_TYPES

from . import settings

HEALTH = [
    ('available', "Available"),
    ('charging', "Charging"),
    ('weak_signal', "Weak Signal"),
    ('offline', "Offline"),
    ('faulted', "Faulted"),
    ]
POWER_CLASSES = [
    ('l2', "L2 (AC)"),
    ('l3', "L3 (DC fast)"),
    ]
# OCPP 1.6 StatusNotification statuses (ChargePointStatus)
CONNECTOR_STATUSES = [
    (None, ""),
    ('Available', "Available"),
    ('Preparing', "Preparing"),
    ('Charging', "Charging"),
    ('SuspendedEVSE', "Suspended by the EVSE"),
    ('SuspendedEV', "Suspended by the EV"),
    ('Finishing', "Finishing"),
    ('Reserved', "Reserved"),
    ('Unavailable', "Unavailable"),
    ('Faulted', "Faulted"),
    ]
# Statuses during which a vehicle is plugged in a session
SESSION_STATUSES = ('Charging', 'SuspendedEV', 'SuspendedEVSE')


def tune_for_bulk():
    """PostgreSQL settings of this transaction for the set-based statements:
    no JIT (it compiles a statement over thousands of rows for longer than
    it runs, 300 ms) and no generic plan (psycopg prepares a statement run
    five times; the generic plan of `id = ANY(array)` scans every charger)"""
    from trytond import backend
    if backend.name == 'postgresql':
        cursor = Transaction().connection.cursor()
        cursor.execute('SET LOCAL jit = off')
        cursor.execute('SET LOCAL plan_cache_mode = force_custom_plan')


def among(column, ids):
    """`column IN ids`; on PostgreSQL `= ANY(array)`: one parameter for the
    thousand chargers of an ingestion batch"""
    from trytond import backend
    if backend.name == 'postgresql':
        return column == Any(list(ids))
    return column.in_(list(ids))


def invalidate_cache(*model_names):
    """Forget the records of the models cached by the transaction after a
    set-based SQL write (as ModelSQL does after its own writes)"""
    transaction = Transaction()
    transaction.counter += 1
    for cache in transaction.cache.values():
        for name in model_names:
            cache.pop(name, None)


class Charger(ModelSQL, ModelView):
    __name__ = 'ev.charger'
    __string__ = "Charger"
    _rec_name = 'identity'

    identity = fields.Char(
        "Identity", required=True, strip=True,
        help="The OCPP charge-point id; also <id> in the MQTT topics.")
    station = fields.Many2One(
        'ev.station', "Station", required=True, ondelete='RESTRICT')
    vendor = fields.Char("Vendor")
    model = fields.Char("Model")
    serial = fields.Char("Serial Number")
    firmware = fields.Char("Firmware Version")
    current_type = fields.Selection([
            ('ac', "AC"),
            ('dc', "DC"),
            ], "AC/DC", required=True)
    power_class = fields.Selection(POWER_CLASSES, "Power Class", required=True)
    connectors = fields.One2Many(
        'ev.charger.connector', 'charger', "Connectors")
    commissioning_date = fields.Date("Commissioning Date")

    health = fields.Selection(
        HEALTH, "Health", required=True, readonly=True, sort=False,
        help="Set by the health rules from the heartbeats, the connector "
        "statuses and the signal strength.")
    health_since = fields.Timestamp("Health Since", readonly=True)
    last_heartbeat = fields.Timestamp("Last Heartbeat", readonly=True)
    rssi = fields.Integer(
        "Signal Strength (dBm)", readonly=True,
        help="The RSSI of the last heartbeat that carried one.")
    last_boot = fields.Timestamp("Last Boot", readonly=True)

    alerts = fields.One2Many(
        'ev.charger.alert', 'charger', "Alerts", readonly=True)
    commands = fields.One2Many(
        'ev.charger.command', 'charger', "Commands", readonly=True)
    status_history = fields.One2Many(
        'ev.charger.status', 'charger', "Status History", readonly=True)
    heartbeats = fields.One2Many(
        'ev.charger.heartbeat', 'charger', "Heartbeats", readonly=True)
    meter_values = fields.One2Many(
        'ev.charger.meter', 'charger', "Meter Values", readonly=True)
    boots = fields.One2Many(
        'ev.charger.boot', 'charger', "Boots", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('identity_unique', Unique(t, t.identity),
                'ev_charger_iot.msg_charger_identity_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.health, Index.Equality())),
                Index(t, (t.station, Index.Equality())),
                })
        cls._order = [('identity', 'ASC'), ('id', 'ASC')]
        cls._buttons.update({
                'reset': {},
                'remote_start': {},
                'remote_stop': {},
                'unlock_connector': {},
                'trigger_status': {},
                })

    @classmethod
    def default_health(cls):
        return 'offline'

    @classmethod
    def default_current_type(cls):
        return 'ac'

    @classmethod
    def default_power_class(cls):
        return 'l2'

    @classmethod
    def validate_fields(cls, chargers, field_names):
        super().validate_fields(chargers, field_names)
        if field_names and 'identity' not in field_names:
            return
        for charger in chargers:
            # The identity is a level of an MQTT topic and an URL path
            if (not charger.identity
                    or any(c in charger.identity for c in '/+#$ ')):
                raise ValidationError(gettext(
                        'ev_charger_iot.msg_charger_identity_invalid',
                        identity=charger.identity))

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause[:3]
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('identity', operator, value),
            ('serial', operator, value),
            ]

    @classmethod
    def evaluate_health(cls, now=None, chargers=None):
        """Set the health bucket of the chargers (all by default) from their
        heartbeats, connectors and signal, then open and close alerts.
        Set-based: one UPDATE over the chargers whatever their number."""
        pool = Pool()
        Connector = pool.get('ev.charger.connector')
        Alert = pool.get('ev.charger.alert')
        now = now or datetime.datetime.now()
        if chargers is not None:
            charger_ids = [int(c) for c in chargers]
            if not charger_ids:
                return
        else:
            charger_ids = None
        tune_for_bulk()
        cursor = Transaction().connection.cursor()
        charger = cls.__table__()
        connector = Connector.__table__()
        health = cls.health_expression(charger, connector, now)
        where = (charger.health == Null) | (charger.health != health)
        if charger_ids is not None:
            where &= among(charger.id, charger_ids)
        cursor.execute(*charger.update(
                [charger.health, charger.health_since],
                [health, now], where=where))
        invalidate_cache(cls.__name__)
        Alert.synchronise(now, charger_ids)

    @classmethod
    def health_expression(cls, charger, connector, now):
        "The SQL expression of the health rules, in order of precedence"
        offline_before = now - settings.offline_after()

        def any_connector(condition):
            return Exists(connector.select(Literal(1),
                    where=(connector.charger == charger.id) & condition))
        return Case(
            ((charger.last_heartbeat == Null)
                | (charger.last_heartbeat < offline_before), 'offline'),
            (any_connector(connector.status == 'Faulted'), 'faulted'),
            (charger.rssi < settings.get('weak_rssi'), 'weak_signal'),
            (any_connector(connector.status.in_(SESSION_STATUSES)),
                'charging'),
            else_='available')

    @classmethod
    def send_command(cls, chargers, action, params=None):
        "Record a command per charger; the ingestion service publishes it"
        Command = Pool().get('ev.charger.command')
        return Command.create([{
                    'charger': c.id,
                    'action': action,
                    'params': params or {},
                    } for c in chargers])

    @classmethod
    @ModelView.button
    def reset(cls, chargers):
        cls.send_command(chargers, 'Reset', {'type': 'Soft'})

    @classmethod
    @ModelView.button
    def remote_start(cls, chargers):
        cls.send_command(chargers, 'RemoteStartTransaction',
            {'connector_id': 1, 'id_tag': 'BACKOFFICE'})

    @classmethod
    @ModelView.button
    def remote_stop(cls, chargers):
        cls.send_command(
            chargers, 'RemoteStopTransaction', {'connector_id': 1})

    @classmethod
    @ModelView.button
    def unlock_connector(cls, chargers):
        cls.send_command(chargers, 'UnlockConnector', {'connector_id': 1})

    @classmethod
    @ModelView.button
    def trigger_status(cls, chargers):
        cls.send_command(chargers, 'TriggerMessage',
            {'requested_message': 'StatusNotification'})


class Connector(ModelSQL, ModelView):
    __name__ = 'ev.charger.connector'
    __string__ = "Charger Connector"

    charger = fields.Many2One(
        'ev.charger', "Charger", required=True, ondelete='CASCADE')
    number = fields.Integer(
        "Number", required=True,
        domain=[('number', '>=', 0)],
        help="The OCPP connector id (0 is the charger as a whole).")
    connector_type = fields.Selection(
        [(None, "")] + CONNECTOR_TYPES, "Type")
    status = fields.Selection(
        CONNECTOR_STATUSES, "Status", readonly=True, sort=False)
    error_code = fields.Char("Error Code", readonly=True)
    status_at = fields.Timestamp("Status At", readonly=True)
    fault_since = fields.Timestamp(
        "Faulted Since", readonly=True,
        states={'invisible': Eval('status') != 'Faulted'})
    energy_wh = fields.Float("Energy (Wh)", readonly=True)
    power_w = fields.Float("Power (W)", readonly=True)
    meter_at = fields.Timestamp("Meter At", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('charger_number_unique', Unique(t, t.charger, t.number),
                'ev_charger_iot.msg_connector_number_unique'),
            ]
        # No index on status: the health rules read the connectors of each
        # charger (the unique index), and an unindexed status lets
        # PostgreSQL update a connector in place (HOT) at every message
        cls._order = [('charger', 'ASC'), ('number', 'ASC'), ('id', 'ASC')]

    def get_rec_name(self, name):
        return f'{self.charger.rec_name} #{self.number}'


class Overview(ModelSQL, ModelView):
    "Live counts of chargers per health bucket, split L2 / L3"
    __name__ = 'ev.charger.overview'
    __string__ = "Charger Overview"

    power_class = fields.Selection(POWER_CLASSES, "Power Class")
    available = fields.Integer("Available")
    charging = fields.Integer("Charging")
    weak_signal = fields.Integer("Weak Signal")
    offline = fields.Integer("Offline")
    faulted = fields.Integer("Faulted")
    total = fields.Integer("Total")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('power_class', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        charger = Pool().get('ev.charger').__table__()

        def bucket(code):
            return Sum(Case((charger.health == code, 1), else_=0))
        return charger.select(
            Min(charger.id).as_('id'),
            charger.power_class.as_('power_class'),
            bucket('available').as_('available'),
            bucket('charging').as_('charging'),
            bucket('weak_signal').as_('weak_signal'),
            bucket('offline').as_('offline'),
            bucket('faulted').as_('faulted'),
            Count(charger.id).as_('total'),
            group_by=[charger.power_class])
