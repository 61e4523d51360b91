# This file is part of the EV operations suite.
from trytond.model import fields
from trytond.pool import PoolMeta


class Station(metaclass=PoolMeta):
    __name__ = 'ev.station'

    lead = fields.Many2One(
        'sale.opportunity', "Lead", readonly=True, ondelete='RESTRICT',
        help="The lead the station was sold from.")
