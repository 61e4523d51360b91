# This file is part of the EV operations suite.
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .exceptions import PhotoError

PHOTO_KINDS = [
    ('main', "Main final-site photo"),
    ('technical', "Internal technical photo"),
    ('other', "Other"),
    ]


class Photo(ModelSQL, ModelView):
    "Photo log"
    __name__ = 'ev.station.photo'
    __string__ = "Photo"

    station = fields.Many2One(
        'ev.station', "Station", required=True, ondelete='CASCADE')
    name = fields.Char("Name", required=True)
    image = fields.Binary(
        "Image", required=True, file_id='image_id', filename='name')
    image_id = fields.Char("Image ID", readonly=True)
    kind = fields.Selection(PHOTO_KINDS, "Kind", required=True, sort=False)
    kind_string = kind.translated('kind')
    taken_by = fields.Many2One(
        'party.party', "Taken By", required=True, ondelete='RESTRICT',
        help="Who took the photo.")
    uploaded_by = fields.Many2One(
        'res.user', "Uploaded By", readonly=True)
    taken_on = fields.Date("Taken On")
    client_visible = fields.Function(
        fields.Boolean("Client Visible"), 'on_change_with_client_visible')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.station, Index.Equality())))
        cls._order = [('kind', 'ASC'), ('id', 'DESC')]
        cls._buttons.update({
                'set_main': {
                    'invisible': Eval('kind') == 'main',
                    'depends': ['kind'],
                    },
                })

    @classmethod
    def default_kind(cls):
        return 'other'

    @fields.depends('kind')
    def on_change_with_client_visible(self, name=None):
        # The internal technical photo is never shown to the customer.
        return self.kind != 'technical'

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            values['uploaded_by'] = Transaction().user or None
        return values

    @classmethod
    def validate_fields(cls, photos, field_names):
        super().validate_fields(photos, field_names)
        if field_names and not field_names & {'kind', 'station'}:
            return
        stations = {p.station for p in photos}
        for kind, message in [
                ('main', 'ev_station.msg_photo_one_main'),
                ('technical', 'ev_station.msg_photo_one_technical'),
                ]:
            for station in stations:
                count = cls.search([
                        ('station', '=', station.id),
                        ('kind', '=', kind),
                        ], count=True)
                if count > 1:
                    raise PhotoError(gettext(
                            message, station=station.rec_name))

    @classmethod
    def create(cls, vlist):
        photos = super().create(vlist)
        cls._record_events(photos, 'ev_station.msg_text_photo_added')
        return photos

    @classmethod
    def _record_events(cls, photos, message):
        for photo in photos:
            photo.station.record_event('photo_added',
                gettext(message, name=photo.name, kind=photo.kind_string,
                    taken_by=photo.taken_by.rec_name),
                visibility='internal')

    @classmethod
    @ModelView.button
    def set_main(cls, photos):
        "Make the photo the main final-site one; the former main one stays"
        if len({p.station for p in photos}) != len(photos):
            raise PhotoError(gettext('ev_station.msg_photo_one_main',
                    station=photos[0].station.rec_name))
        previous = cls.search([
                ('station', 'in', [p.station.id for p in photos]),
                ('kind', '=', 'main'),
                ])
        cls.write(previous, {'kind': 'other'})
        cls.write(photos, {'kind': 'main'})
        cls._record_events(photos, 'ev_station.msg_text_photo_main')
