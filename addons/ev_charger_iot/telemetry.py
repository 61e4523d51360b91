# This file is part of the EV operations suite.
"""What the chargers report over MQTT: boots, heartbeats, connector statuses
and meter values. Written in bulk by the ingestion service; each table has a
natural unique key so that a redelivered message is stored once."""
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError

from .charger import CONNECTOR_STATUSES


class TelemetryMixin:
    __slots__ = ()
    charger = fields.Many2One(
        'ev.charger', "Charger", required=True, readonly=True,
        ondelete='CASCADE')
    ts = fields.Timestamp(
        "Timestamp", required=True, readonly=True,
        help="When the charger says it happened.")
    received_at = fields.Timestamp("Received At", readonly=True)

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


class Boot(TelemetryMixin, ModelSQL, ModelView):
    __name__ = 'ev.charger.boot'
    __string__ = "Charger Boot"

    vendor = fields.Char("Vendor", readonly=True)
    model = fields.Char("Model", readonly=True)
    serial = fields.Char("Serial Number", readonly=True)
    firmware = fields.Char("Firmware Version", readonly=True)


class Heartbeat(TelemetryMixin, ModelSQL, ModelView):
    __name__ = 'ev.charger.heartbeat'
    __string__ = "Charger Heartbeat"

    rssi = fields.Integer("Signal Strength (dBm)", readonly=True)


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


class Meter(TelemetryMixin, ModelSQL, ModelView):
    __name__ = 'ev.charger.meter'
    __string__ = "Meter Value"

    connector = fields.Integer("Connector", required=True, readonly=True)
    energy_wh = fields.Float("Energy (Wh)", readonly=True)
    power_w = fields.Float("Power (W)", readonly=True)

    @classmethod
    def unique_columns(cls, table):
        return [table.charger, table.connector, table.ts]
