# This file is part of the EV operations suite.
"""An item of a closure pack: what the OEM's template asks for, what the
pack holds for it and the verdict (present, missing, rejected)"""
from trytond.i18n import gettext
from trytond.model.exceptions import AccessError
from trytond.model import ModelSQL, ModelView, fields, sequence_ordered
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, In
from trytond.transaction import without_check_access

from .template import COUNTED_TYPES, ITEM_TYPES

VERDICTS = [
    ('present', "Present"),
    ('missing', "Missing"),
    ('rejected', "Rejected"),
    ]
CLIENT_VISIBLE = ['client', 'client_email']
_EDITABLE = {'readonly': ~Eval('pack_state').in_(['draft', 'disputed'])}


class ClosurePackItem(sequence_ordered(), ModelSQL, ModelView):
    "Closure Pack Item"
    __name__ = 'ev.oem.closure.pack.item'
    __string__ = "Closure Pack Item"

    pack = fields.Many2One('ev.oem.closure.pack', "Pack", required=True,
        ondelete='CASCADE', readonly=True)
    pack_state = fields.Function(fields.Selection('get_pack_states',
            "Pack State"), 'on_change_with_pack_state')
    station = fields.Function(fields.Many2One('ev.station', "Station"),
        'on_change_with_station')
    label = fields.Char("Label", required=True, readonly=True)
    item_type = fields.Selection(ITEM_TYPES, "Type", required=True,
        readonly=True)
    required = fields.Boolean("Required", readonly=True)
    quantity = fields.Integer("Quantity", readonly=True)
    description = fields.Text("Description", readonly=True)
    photos = fields.Many2Many('ev.oem.closure.pack.item-ev.station.photo',
        'item', 'photo', "Photos",
        domain=[('station', '=', Eval('station', -1))],
        states={
            'readonly': _EDITABLE['readonly'],
            'invisible': ~In(Eval('item_type'), ['photo', 'main_photo']),
            })
    links = fields.Text("Links",
        states={
            'readonly': _EDITABLE['readonly'],
            'invisible': Eval('item_type') != 'video',
            },
        help="One link a line (the videos are not copied).")
    document = fields.Binary("Document", filename='document_name',
        file_id='document_id',
        states={
            'readonly': _EDITABLE['readonly'],
            'invisible': Eval('item_type') != 'document',
            })
    document_id = fields.Char("Document ID", readonly=True)
    document_name = fields.Char("Document Name",
        states={
            'readonly': _EDITABLE['readonly'],
            'invisible': Eval('item_type') != 'document',
            'required': Bool(Eval('document')),
            })
    rejected = fields.Boolean("Rejected", states=_EDITABLE,
        help="The item is there but not acceptable.")
    rejection_reason = fields.Text("Rejection Reason",
        states={
            'readonly': _EDITABLE['readonly'],
            'invisible': ~Eval('rejected'),
            'required': Bool(Eval('rejected')),
            })
    verdict = fields.Function(fields.Selection(VERDICTS, "Verdict"),
        'get_verdict')
    detail = fields.Function(fields.Char("Detail"), 'get_verdict')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('pack')

    @classmethod
    def check_modification(cls, mode, items, values=None, external=False):
        super().check_modification(
            mode, items, values=values, external=external)
        # What was submitted is what the OEM got: the items change only
        # while the pack is a draft or disputed
        for item in items:
            if item.pack.state not in {'draft', 'disputed'}:
                raise AccessError(gettext(
                        'ev_oem_report.msg_item_readonly',
                        item=item.label, pack=item.pack.rec_name,
                        state=item.pack.state_string))

    @classmethod
    def get_pack_states(cls):
        return Pool().get('ev.oem.closure.pack').fields_get(
            ['state'])['state']['selection']

    @fields.depends('pack', '_parent_pack.state')
    def on_change_with_pack_state(self, name=None):
        return self.pack.state if self.pack else None

    @fields.depends('pack', '_parent_pack.station')
    def on_change_with_station(self, name=None):
        return self.pack.station if self.pack else None

    @classmethod
    def from_template(cls, template_item, station):
        "The item of a new pack, with the station's photos it asks for"
        item = cls(sequence=template_item.sequence,
            label=template_item.label, item_type=template_item.item_type,
            required=template_item.required,
            quantity=template_item.quantity or 1,
            description=template_item.description)
        if item.item_type == 'main_photo':
            item.photos = [p for p in station.photos if p.kind == 'main']
        elif item.item_type == 'photo':
            keyword = (template_item.photo_keyword or '').lower()
            item.photos = [p for p in station.photos
                if p.kind != 'technical' and keyword in p.name.lower()]
        return item

    def link_list(self):
        return [link.strip() for link in (self.links or '').splitlines()
            if link.strip()]

    def client_entries(self):
        Log = Pool().get('ev.station.log')
        return Log.search([
                ('station', '=', self.pack.station.id),
                ('visibility', 'in', CLIENT_VISIBLE),
                ], order=[('timestamp', 'ASC'), ('id', 'ASC')])

    def content_count(self):
        "How much of what the item asks for the pack holds"
        job = self.pack.job
        count = {
            'survey_report': lambda: int(bool(job.survey)),
            'installation_report': lambda: int(bool(
                    job.reported_at and job.charger_lot)),
            'commissioning': lambda: int(bool(job.commissioned_at
                    and job.charger_identity and job.network_verified)),
            'signature': lambda: int(bool(job.customer_signature)),
            'main_photo': lambda: len(self.photos),
            'photo': lambda: len(self.photos),
            'video': lambda: len(self.link_list()),
            'document': lambda: int(bool(self.document_id or self.document)),
            'event_log': lambda: int(bool(self.client_entries())),
            }[self.item_type]
        return count()

    @property
    def wanted(self):
        return (self.quantity or 1) if self.item_type in COUNTED_TYPES else 1

    @classmethod
    def get_verdict(cls, items, names):
        result = {name: {} for name in names}
        with without_check_access():
            for item in cls.browse(items):
                if item.rejected:
                    verdict, detail = 'rejected', item.rejection_reason
                else:
                    count = item.content_count()
                    verdict = 'present' if count >= item.wanted else 'missing'
                    detail = (gettext('ev_oem_report.msg_item_count',
                            count=count, wanted=item.wanted)
                        if item.item_type in COUNTED_TYPES else None)
                if 'verdict' in names:
                    result['verdict'][item.id] = verdict
                if 'detail' in names:
                    result['detail'][item.id] = detail
        return result

    # -- rendering (plain data) -------------------------------------------

    def get_render_data(self, position, files, lang):
        """The item for the template, its files added to `files`; called
        without access checks"""
        verdicts = dict(VERDICTS)
        verdict = self.verdict
        data = {
            'position': position,
            'label': self.label,
            'type': self.item_type,
            'required': bool(self.required),
            'description': self.description or '',
            'verdict': verdict,
            'verdict_string': verdicts[verdict],
            'reason': (self.rejection_reason if verdict == 'rejected'
                else self.detail) or '',
            'rows': [], 'links': [], 'documents': [], 'entries': [],
            'photos': [],
            }
        job = self.pack.job
        prefix = f'{position:02d}'
        getattr(self, f'_render_{self.item_type}')(
            data, job, files, prefix, lang)
        return data

    def _job_rows(self, job, names):
        rows = []
        for name in names:
            field = job.__class__._fields[name]
            value = getattr(job, name)
            if field._type == 'selection':
                value = dict(field.selection).get(value)
            elif field._type == 'boolean':
                value = gettext('ev_oem_report.msg_yes' if value
                    else 'ev_oem_report.msg_no')
            elif field._type == 'many2one':
                value = value.rec_name if value else None
            rows.append((field.string, '' if value is None else str(value)))
        return rows

    def _render_survey_report(self, data, job, files, prefix, lang):
        survey = job.survey
        if survey:
            data['rows'] = [(job.__class__.survey.string, survey.number)] \
                + self._job_rows(survey, [
                    'sanctioned_load_kw', 'earthing', 'cable_run_m',
                    'mounting', 'load_upgrade_needed',
                    'earthing_work_needed', 'civil_work_needed',
                    'report_note', 'reported_at'])

    def _render_installation_report(self, data, job, files, prefix, lang):
        if job.reported_at:
            data['rows'] = self._job_rows(job, [
                    'charger_lot', 'cable_used_m', 'tests_done',
                    'demo_given', 'report_note', 'reported_at'])

    def _render_commissioning(self, data, job, files, prefix, lang):
        if job.commissioned_at:
            data['rows'] = self._job_rows(job, [
                    'charger_identity', 'charger_lot', 'network_verified',
                    'app_paired', 'commissioned_at'])

    def _render_signature(self, data, job, files, prefix, lang):
        if job.customer_signature:
            name = f'{prefix}-customer-signature.png'
            files[name] = bytes(job.customer_signature)
            data['photos'] = [{'file': name, 'name': self.label,
                    'caption': ''}]

    def _render_photos(self, data, files, prefix, lang):
        from .closure import safe_name
        for photo in self.photos:
            name = f'{prefix}-{photo.id}-{safe_name(photo.name)}'
            files[name] = bytes(photo.image)
            caption = ', '.join(filter(None, [
                        photo.taken_by.rec_name,
                        lang.strftime(photo.taken_on)
                        if photo.taken_on else None]))
            data['photos'].append(
                {'file': name, 'name': photo.name, 'caption': caption})

    def _render_main_photo(self, data, job, files, prefix, lang):
        self._render_photos(data, files, prefix, lang)

    def _render_photo(self, data, job, files, prefix, lang):
        self._render_photos(data, files, prefix, lang)

    def _render_video(self, data, job, files, prefix, lang):
        data['links'] = self.link_list()

    def _render_document(self, data, job, files, prefix, lang):
        from .closure import safe_name
        if self.document:
            name = f'{prefix}-{safe_name(self.document_name)}'
            files[name] = bytes(self.document)
            data['documents'] = [name]

    def _render_event_log(self, data, job, files, prefix, lang):
        data['entries'] = [{
                'date': lang.strftime(e.timestamp) if e.timestamp else '',
                'event': e.event_type.rec_name,
                'text': e.text,
                } for e in self.client_entries()]


class ClosurePackItemPhoto(ModelSQL):
    "Closure Pack Item - Photo"
    __name__ = 'ev.oem.closure.pack.item-ev.station.photo'
    __string__ = "Closure Pack Item - Photo"

    item = fields.Many2One('ev.oem.closure.pack.item', "Item",
        required=True, ondelete='CASCADE')
    photo = fields.Many2One('ev.station.photo', "Photo", required=True,
        ondelete='RESTRICT')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('item')
