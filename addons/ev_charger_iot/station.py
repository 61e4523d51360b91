# This file is part of the EV operations suite.
from trytond.model import fields
from trytond.pool import PoolMeta


class Station(metaclass=PoolMeta):
    __name__ = 'ev.station'

    chargers = fields.One2Many(
        'ev.charger', 'station', "Chargers",
        help="The chargers of the station, monitored over MQTT / OCPP.")
