# This file is part of the EV operations suite.
"""Photos from the field: the crew adds the site and job photos of a job
from its form (on a phone the image chooser offers the camera); each is a
photo of the job's Station Record (ev_station's photo log), linked to the
job."""
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.modules.ev_station.photo import PHOTO_KINDS
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .exceptions import FieldJobError

# The jobs a crew is on (or reports about) and can add photos to
PHOTO_STATES = ['scheduled', 'confirmed', 'emergency', 'done', 'commissioned']


class Photo(metaclass=PoolMeta):
    __name__ = 'ev.station.photo'

    job = fields.Many2One('ev.field.job', "Field Job", ondelete='SET NULL',
        domain=[('lead.stations', '=', Eval('station', -1))],
        help="The job whose crew took the photo.")


class Job(metaclass=PoolMeta):
    __name__ = 'ev.field.job'

    photos = fields.One2Many('ev.station.photo', 'job', "Photos",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'add_photo': {
                    'invisible': ~Eval('state').in_(PHOTO_STATES),
                    'depends': ['state'],
                    },
                })

    @classmethod
    @ModelView.button_action('ev_field.wizard_add_photo')
    def add_photo(cls, jobs):
        pass


class AddPhotoStart(ModelView):
    __name__ = 'ev.field.job.add_photo.start'
    __string__ = "Add Photo"

    job = fields.Many2One('ev.field.job', "Job", readonly=True)
    stations = fields.Many2Many('ev.station', None, None, "Stations",
        readonly=True)
    station = fields.Many2One('ev.station', "Station", required=True,
        domain=[('id', 'in', Eval('stations', []))])
    image = fields.Binary("Photo", required=True, filename='name')
    name = fields.Char("Name", required=True)
    kind = fields.Selection(PHOTO_KINDS, "Kind", required=True, sort=False)
    taken_by = fields.Many2One('party.party', "Taken By", required=True)


class AddPhoto(Wizard):
    __name__ = 'ev.field.job.add_photo'
    start = StateView('ev.field.job.add_photo.start',
        'ev_field.job_add_photo_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Add", 'add', 'tryton-ok', default=True),
            ])
    add = StateTransition()

    def default_start(self, fields):
        User = Pool().get('res.user')
        job = self.record
        if not job.lead.stations:
            raise FieldJobError(gettext(
                    'ev_field.msg_photo_no_station', job=job.rec_name))
        user = User(Transaction().user)
        stations = [s.id for s in job.lead.stations]
        return {
            'job': job.id,
            'stations': stations,
            'station': stations[0],
            'kind': 'other',
            'taken_by': user.employee.party.id if user.employee else None,
            }

    def transition_add(self):
        pool = Pool()
        Photo = pool.get('ev.station.photo')
        Date = pool.get('ir.date')
        start = self.start
        Photo(station=start.station, job=self.record, name=start.name,
            image=start.image, kind=start.kind, taken_by=start.taken_by,
            taken_on=Date.today()).save()
        return 'end'
