# This file is part of the EV operations suite.
"Chargers, their connectors, their health and the live overview"
import datetime
import hashlib
import hmac
import os

from sql import Column, Literal, Null
from sql.aggregate import Count, Max, Min, Sum
from sql.conditionals import Case, Coalesce
from sql.operators import Exists

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.ev_station.timestamp import Timestamp
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access
from trytond.modules.ev_station.station import CONNECTOR_TYPES

from . import settings
from .bulk import (
    Field, Latest, among, invalidate_cache, row_source, tune_for_bulk,
    update_latest, upsert_latest)
from .contract import EPOCH

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


def date_fields(cls, module, fields, register):
    """Run `register` (the model's __register__); the new columns of
    `fields` (timestamp of a value: (value, timestamp it is known since))
    start with the timestamp for the values stored before them"""
    new = [n for n in fields
        if not cls.__table_handler__(module).column_exist(n)]
    register()
    table = cls.__table__()
    for name in new:
        value, since = fields[name]
        Transaction().connection.cursor().execute(*table.update(
                [Column(table, name)], [Column(table, since)],
                where=Column(table, value) != Null))


_UNKNOWN_HASH = []
# The passwords this process verified, per (identity, stored hash), as an
# HMAC under a key of the process: never the password itself
_VERIFIED = {}
_VERIFIED_KEY = os.urandom(32)
VERIFIED_MAX = 100_000


def _unknown_hash():
    "A hash of no password, verified in place of a charger's missing one"
    if not _UNKNOWN_HASH:
        User = Pool().get('res.user')
        _UNKNOWN_HASH.append(User.hash_password(os.urandom(24).hex()))
    return _UNKNOWN_HASH[0]


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
    # Write-only: nobody reads nor searches the hash over RPC
    # (ir.model.field.access), so lazy: a client reading every field does
    # not ask for it; an operator types a new password in ocpp_password
    ocpp_password_hash = fields.Char(
        "OCPP Password Hash", strip=False, readonly=True, loading='lazy')
    ocpp_password = fields.Function(fields.Char(
            "OCPP Password", strip=False,
            help="The HTTP Basic password of the charger at the OCPP gateway "
            "(security profiles 1 and 2), 16 to 40 characters. It is stored "
            "hashed and never shown again: type a new one to replace it."),
        'get_ocpp_password', setter='set_ocpp_password')
    has_ocpp_password = fields.Function(fields.Boolean(
            "Has OCPP Password",
            help="Without a password the gateway refuses the charger."),
        'get_has_ocpp_password')

    health = fields.Selection(
        HEALTH, "Health", required=True, readonly=True, sort=False,
        help="Set by the health rules from the heartbeats, the connector "
        "statuses and the signal strength.")
    health_since = Timestamp("Health Since", readonly=True)
    last_heartbeat = Timestamp("Last Heartbeat", readonly=True)
    rssi = fields.Integer(
        "Signal Strength (dBm)", readonly=True,
        help="The RSSI of the last heartbeat that carried one.")
    rssi_at = Timestamp(
        "Signal Strength At", readonly=True,
        help="When the charger measured the signal strength.")
    last_boot = Timestamp("Last Boot", readonly=True)

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
    def __register__(cls, module):
        date_fields(cls, module, {'rssi_at': ('rssi', 'last_heartbeat')},
            lambda: super(Charger, cls).__register__(module))

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
    def copy(cls, chargers, default=None):
        default = default.copy() if default is not None else {}
        # A password is one charger's: a copy gets its own
        default.setdefault('ocpp_password_hash', None)
        return super().copy(chargers, default=default)

    def get_ocpp_password(self, name):
        return None

    @classmethod
    def set_ocpp_password(cls, chargers, name, value):
        """Store the salted hash of a new password (the hasher of Tryton's
        own user passwords), one of its own per charger"""
        if not value:
            return
        # OCPP 1.6 security whitepaper and 2.0.1 BasicAuthPassword
        if not (16 <= len(value) <= 40) or not all(
                '!' <= c <= '~' for c in value):
            raise ValidationError(gettext(
                    'ev_charger_iot.msg_charger_ocpp_password_invalid',
                    charger=', '.join(c.rec_name for c in chargers)))
        User = Pool().get('res.user')
        with without_check_access():
            cls.write(*sum(([[c], {
                                'ocpp_password_hash': User.hash_password(value),
                                }] for c in chargers), []))

    @classmethod
    def get_has_ocpp_password(cls, chargers, name):
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        result = {c.id: False for c in chargers}
        for sub_ids in grouped_slice([c.id for c in chargers], 1000):
            cursor.execute(*table.select(table.id,
                    where=table.id.in_(list(sub_ids))
                    & (table.ocpp_password_hash != Null)))
            result.update((charger_id, True) for charger_id, in cursor)
        return result

    @classmethod
    def check_ocpp_password(cls, identity, password):
        """Whether `password` is the OCPP password of the charger
        `identity`; an unknown identity or a charger without password takes
        the time of a verification too (no hint of which it was)"""
        User = Pool().get('res.user')
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.ocpp_password_hash,
                where=table.identity == identity))
        row = cursor.fetchone()
        stored = row[0] if row else None
        # A charger reconnecting with the password verified before (for the
        # hash still stored) is not hashed again: a gateway's chargers
        # reconnect often and a verification takes a good part of a second
        key = (identity, stored)
        digest = hmac.new(_VERIFIED_KEY, password.encode('utf-8'),
            hashlib.sha256).digest()
        if stored and hmac.compare_digest(
                _VERIFIED.get(key, b''), digest):
            return True
        valid, _ = User.check_password(password, stored or _unknown_hash())
        if stored and valid:
            if len(_VERIFIED) >= VERIFIED_MAX:
                _VERIFIED.clear()
            _VERIFIED[key] = digest
        return bool(stored) and valid

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

    # -- what the telemetry does to a charger (see telemetry.py) ----------

    # Each field holds the value of the latest message that carried it,
    # whatever the batching and the order of arrival (bulk.Latest)
    HEARD = [
        # A charger's clock ahead of ours must not keep it online: the
        # callers give min(ts, now)
        Field('last_heartbeat'),
        Field('rssi_at', ['rssi'], ['INTEGER']),
        ]
    BOOTED = [Field('last_boot'), Field('last_heartbeat')]
    # What a boot tells of the charger; a boot may leave any out
    IDENTIFICATION = ['vendor', 'model', 'serial', 'firmware']

    @classmethod
    def apply_heartbeats(cls, heartbeats, now):
        "`heartbeats`: (charger id, ts, rssi or None), in order of arrival"
        latest = Latest(['INTEGER'], cls.HEARD)
        for charger, ts, rssi in heartbeats:
            latest.add((charger,), 'last_heartbeat', min(ts, now))
            if rssi is not None:
                latest.add((charger,), 'rssi_at', ts, [rssi])
        update_latest(cls.__table__(), latest)

    @classmethod
    def apply_boots(cls, boots, now):
        """`boots`: (charger id, ts) of boots just stored in the history,
        where the identification of each is read back: per field, the one
        of the latest boot that carried it (boots are few)"""
        pool = Pool()
        Boot = pool.get('ev.charger.boot')
        latest = Latest(['INTEGER'], cls.BOOTED)
        for charger, ts in boots:
            latest.add((charger,), 'last_boot', ts)
            # A boot is a sign of life like a heartbeat
            latest.add((charger,), 'last_heartbeat', min(ts, now))
        charger = cls.__table__()
        update_latest(charger, latest)

        def latest_carried(name):
            boot = Boot.__table__()
            value = Column(boot, name)
            return Coalesce(boot.select(value,
                    where=(boot.charger == charger.id) & (value != Null),
                    order_by=[boot.ts.desc], limit=1),
                Column(charger, name))
        Transaction().connection.cursor().execute(*charger.update(
                [Column(charger, n) for n in cls.IDENTIFICATION],
                [latest_carried(n) for n in cls.IDENTIFICATION],
                where=among(charger.id, sorted({c for c, _ in boots}))))

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
    status_at = Timestamp("Status At", readonly=True)
    fault_since = Timestamp(
        "Faulted Since", readonly=True,
        states={'invisible': Eval('status') != 'Faulted'})
    energy_wh = fields.Float("Energy (Wh)", readonly=True)
    power_w = fields.Float("Power (W)", readonly=True)
    meter_at = Timestamp("Meter At", readonly=True)
    energy_at = Timestamp("Energy At", readonly=True)
    power_at = Timestamp("Power At", readonly=True)

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

    @classmethod
    def __register__(cls, module):
        date_fields(cls, module, {
                'energy_at': ('energy_wh', 'meter_at'),
                'power_at': ('power_w', 'meter_at'),
                }, lambda: super(Connector, cls).__register__(module))

    def get_rec_name(self, name):
        return f'{self.charger.rec_name} #{self.number}'

    # -- what the telemetry does to a connector (see telemetry.py) --------

    KEY = ['charger', 'number']
    # Two statuses of one second are both in the history: the later one to
    # arrive is the latest (so a redelivered copy of the first one, after a
    # crash, would take the place of the second)
    STATUS = [Field('status_at', ['status', 'error_code'],
            ['VARCHAR', 'VARCHAR'], ties=True)]
    METER = [
        Field('meter_at'),
        Field('energy_at', ['energy_wh'], ['FLOAT']),
        Field('power_at', ['power_w'], ['FLOAT']),
        ]

    @classmethod
    def apply_statuses(cls, statuses):
        """`statuses`: (charger id, connector, ts, status, error code) of
        the history just stored, in order of arrival; a connector not
        registered is created"""
        latest = Latest(['INTEGER', 'INTEGER'], cls.STATUS)
        for charger, number, ts, status, error_code in statuses:
            latest.add((charger, number), 'status_at', ts,
                [status, error_code])
        upsert_latest(cls.__table__(), cls.KEY, latest)
        cls.set_fault_start(sorted(latest.values))

    @classmethod
    def set_fault_start(cls, keys):
        """The start of the fault of the `keys` (charger id, number) that
        are Faulted: the first Faulted status since the last other status,
        read in the history, whichever order the statuses came in"""
        Status = Pool().get('ev.charger.status')
        connector = cls.__table__()
        status, other = Status.__table__(), Status.__table__()

        def of_connector(table):
            return ((table.charger == connector.charger)
                & (table.connector == connector.number))
        last_other = other.select(Max(other.ts),
            where=of_connector(other) & (other.status != 'Faulted'))
        start = status.select(Min(status.ts),
            where=of_connector(status) & (status.status == 'Faulted')
            & (status.ts >= Coalesce(last_other, EPOCH)))
        source, (charger_id, number) = row_source(keys,
            ['INTEGER', 'INTEGER'])
        Transaction().connection.cursor().execute(*connector.update(
                [connector.fault_since],
                [Case((connector.status == 'Faulted', start), else_=Null)],
                from_=[source],
                where=(connector.charger == charger_id)
                & (connector.number == number)
                & ((connector.status == 'Faulted')
                    | (connector.fault_since != Null))))

    @classmethod
    def apply_meters(cls, meters):
        """`meters`: (charger id, connector, ts, energy Wh, power W) of the
        history just stored; either value may be None (not carried)"""
        latest = Latest(['INTEGER', 'INTEGER'], cls.METER)
        for charger, number, ts, energy_wh, power_w in meters:
            key = (charger, number)
            latest.add(key, 'meter_at', ts)
            if energy_wh is not None:
                latest.add(key, 'energy_at', ts, [energy_wh])
            if power_w is not None:
                latest.add(key, 'power_at', ts, [power_w])
        upsert_latest(cls.__table__(), cls.KEY, latest)


# The list's footer shows two sums per column (sao's): say which
SUM_HELP = ("The chargers %s. Below the list: the sum of the selected rows, "
    "then of all rows.")


class Overview(ModelSQL, ModelView):
    "Live counts of chargers per health bucket, split L2 / L3"
    __name__ = 'ev.charger.overview'
    __string__ = "Charger Overview"

    power_class = fields.Selection(POWER_CLASSES, "Power Class")
    available = fields.Integer("Available", help=SUM_HELP % "available")
    charging = fields.Integer("Charging", help=SUM_HELP % "charging")
    weak_signal = fields.Integer("Weak Signal",
        help=SUM_HELP % "with a weak signal")
    offline = fields.Integer("Offline", help=SUM_HELP % "offline")
    faulted = fields.Integer("Faulted", help=SUM_HELP % "faulted")
    total = fields.Integer("Total", help=SUM_HELP % "in all")

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
