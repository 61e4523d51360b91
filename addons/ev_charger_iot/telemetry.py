# This file is part of the EV operations suite.
"""What the chargers report over MQTT: boots, heartbeats, connector statuses
and meter values. Written in bulk by the ingestion service (`store_batch`
of each model: the history, then what the message does to its charger or
connector); each table has a natural unique key so that a redelivered
message is stored once."""
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.modules.ev_station.timestamp import Timestamp

from .bulk import insert_history
from .charger import CONNECTOR_STATUSES


class TelemetryMixin:
    __slots__ = ()
    charger = fields.Many2One(
        'ev.charger', "Charger", required=True, readonly=True,
        ondelete='CASCADE')
    ts = Timestamp(
        "Timestamp", required=True, readonly=True,
        help="When the charger says it happened.")
    received_at = Timestamp("Received At", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('message_unique', Unique(t, *cls.unique_columns(t)),
                'ev_charger_iot.msg_telemetry_unique'),
            ]
        cls._order = [('ts', 'DESC'), ('id', 'DESC')]

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(
            mode, records, values=values, external=external)
        if external and mode in {'create', 'write', 'delete'}:
            raise AccessError(gettext(
                    'ev_charger_iot.msg_telemetry_readonly',
                    model=cls.__string__))

    @classmethod
    def unique_columns(cls, table):
        "The columns of the key that makes a redelivery a no-op"
        return [table.charger, table.ts]

    # The columns of a message kept in the history (beside the charger and
    # the reception time), with their SQL types
    RECORDED = [('ts', 'TIMESTAMP')]

    @classmethod
    def store_batch(cls, messages, now):
        """Keep `messages`, (charger id, parsed values, received at) in
        order of arrival, in the history, then apply to their charger or
        connector what they say (a copy of a stored message changes
        nothing: its timestamp is not later than the stored one's, see
        Connector.STATUS for the one exception)"""
        names = [n for n, _ in cls.RECORDED]
        stored = insert_history(cls, ['charger', 'received_at'] + names,
            ['INTEGER', 'TIMESTAMP'] + [t for _, t in cls.RECORDED],
            [(c, r, *(v[n] for n in names)) for c, v, r in messages])
        cls.apply([(c, *values) for c, _, *values in stored], now)

    @classmethod
    def apply(cls, messages, now):
        "What `messages`, (charger id, RECORDED...), do to their charger"
        raise NotImplementedError


class Boot(TelemetryMixin, ModelSQL, ModelView):
    __name__ = 'ev.charger.boot'
    __string__ = "Charger Boot"

    vendor = fields.Char("Vendor", readonly=True)
    model = fields.Char("Model", readonly=True)
    serial = fields.Char("Serial Number", readonly=True)
    firmware = fields.Char("Firmware Version", readonly=True)

    RECORDED = [('ts', 'TIMESTAMP'), ('vendor', 'VARCHAR'),
        ('model', 'VARCHAR'), ('serial', 'VARCHAR'), ('firmware', 'VARCHAR')]

    @classmethod
    def apply(cls, boots, now):
        Pool().get('ev.charger').apply_boots(
            [(c, ts) for c, ts, *_ in boots], now)



class Heartbeat(TelemetryMixin, ModelSQL, ModelView):
    __name__ = 'ev.charger.heartbeat'
    __string__ = "Charger Heartbeat"

    rssi = fields.Integer("Signal Strength (dBm)", readonly=True)

    RECORDED = [('ts', 'TIMESTAMP'), ('rssi', 'INTEGER')]

    @classmethod
    def apply(cls, heartbeats, now):
        Pool().get('ev.charger').apply_heartbeats(heartbeats, now)



class Status(TelemetryMixin, ModelSQL, ModelView):
    __name__ = 'ev.charger.status'
    __string__ = "Connector Status"

    connector = fields.Integer("Connector", required=True, readonly=True)
    status = fields.Selection(
        CONNECTOR_STATUSES, "Status", required=True, readonly=True)
    error_code = fields.Char("Error Code", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.status, Index.Equality())))

    @classmethod
    def unique_columns(cls, table):
        # Two statuses of one connector may share a second
        return [table.charger, table.connector, table.ts, table.status]

    RECORDED = [('connector', 'INTEGER'), ('ts', 'TIMESTAMP'),
        ('status', 'VARCHAR'), ('error_code', 'VARCHAR')]

    @classmethod
    def apply(cls, statuses, now):
        Pool().get('ev.charger.connector').apply_statuses(statuses)



class Meter(TelemetryMixin, ModelSQL, ModelView):
    __name__ = 'ev.charger.meter'
    __string__ = "Meter Value"

    connector = fields.Integer("Connector", required=True, readonly=True)
    energy_wh = fields.Float("Energy (Wh)", readonly=True)
    power_w = fields.Float("Power (W)", readonly=True)

    @classmethod
    def unique_columns(cls, table):
        return [table.charger, table.connector, table.ts]

    RECORDED = [('connector', 'INTEGER'), ('ts', 'TIMESTAMP'),
        ('energy_wh', 'FLOAT'), ('power_w', 'FLOAT')]

    @classmethod
    def apply(cls, meters, now):
        Pool().get('ev.charger.connector').apply_meters(meters)

