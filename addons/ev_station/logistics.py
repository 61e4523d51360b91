# This file is part of the EV operations suite.
import datetime

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval

from .timestamp import Timestamp

_DRAFT = {'readonly': Eval('state') != 'draft'}


class Logistics(Workflow, ModelSQL, ModelView):
    "Logistics log: a shipment of the station to its site"
    __name__ = 'ev.station.logistics'
    __string__ = "Shipment"

    station = fields.Many2One(
        'ev.station', "Station", required=True, ondelete='RESTRICT',
        states=_DRAFT)
    carrier = fields.Char("Carrier", required=True, states=_DRAFT)
    tracking_number = fields.Char(
        "Tracking Number",
        states={
            'readonly': Eval('state') != 'draft',
            })
    note = fields.Text("Note")
    shipped_at = Timestamp("Shipped At", readonly=True)
    arrived_at = Timestamp("Arrived At", readonly=True)
    state = fields.Selection([
            ('draft', "Draft"),
            ('shipped', "Shipped"),
            ('arrived', "Arrived"),
            ], "State", readonly=True, required=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.station, Index.Equality())))
        cls._order = [('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'shipped'),
            ('shipped', 'arrived'),
            }
        cls._buttons.update({
                'ship': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'arrive': {
                    'invisible': Eval('state') != 'shipped',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    def get_rec_name(self, name):
        return ' '.join(filter(None, [self.carrier, self.tracking_number]))

    @classmethod
    def check_modification(cls, mode, shipments, values=None, external=False):
        super().check_modification(
            mode, shipments, values=values, external=external)
        if mode == 'delete' and any(s.state != 'draft' for s in shipments):
            raise AccessError(gettext(
                    'ev_station.msg_logistics_delete_shipped'))

    @classmethod
    def _record_events(cls, shipments, event_code, message):
        pool = Pool()
        Station = pool.get('ev.station')
        for shipment in shipments:
            Station(shipment.station.id).record_event(
                event_code,
                gettext(message,
                    carrier=shipment.carrier,
                    tracking=shipment.tracking_number or '-'),
                visibility='client')

    @classmethod
    @ModelView.button
    @Workflow.transition('shipped')
    def ship(cls, shipments):
        cls.write(shipments, {'shipped_at': datetime.datetime.now()})
        cls._record_events(shipments, 'shipped', 'ev_station.msg_text_shipped')

    @classmethod
    @ModelView.button
    @Workflow.transition('arrived')
    def arrive(cls, shipments):
        cls.write(shipments, {'arrived_at': datetime.datetime.now()})
        cls._record_events(
            shipments, 'arrived_to_site', 'ev_station.msg_text_arrived')
