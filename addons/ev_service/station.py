# This file is part of the EV operations suite.
"A Station Record's service cases"
from trytond.model import fields
from trytond.pool import PoolMeta


class Station(metaclass=PoolMeta):
    __name__ = 'ev.station'

    service_cases = fields.One2Many(
        'ev.service.case', 'station', "Service Cases", readonly=True)
