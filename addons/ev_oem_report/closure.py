# This file is part of the EV operations suite.
"""The closure pack of an installation, per station: built when the job
closes, completed and submitted by Central Ops, accepted or disputed by the
OEM. Its items follow the OEM's template (template.py); its PDF and ZIP are
rendered from plain data (closure_render.py) when it is submitted."""
import datetime as dt
import json
import re

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access
from trytond.modules.ev_station.timestamp import Timestamp
from trytond.wizard import Button, StateTransition, StateView, Wizard

from . import closure_render
from .exceptions import ClosurePackError

STATES = [
    ('draft', "Draft"),
    ('submitted', "Submitted"),
    ('disputed', "Disputed"),
    ('accepted', "Accepted"),
    ]
EDITABLE = ['draft', 'disputed']
# What an OEM's user gets, whichever view it asks for: no field of the
# models closed to it (station, job, party...)
OEM_VIEWS = {'tree': 'closure_pack_view_list_oem',
    'form': 'closure_pack_view_form_oem'}


def safe_name(name):
    return re.sub(r'[^A-Za-z0-9._-]+', '_', name or 'file').strip('_')


class ClosurePack(Workflow, ModelSQL, ModelView):
    "Closure Pack"
    __name__ = 'ev.oem.closure.pack'
    __string__ = "Closure Pack"
    _rec_name = 'number'

    number = fields.Char("Number", readonly=True)
    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    job = fields.Many2One('ev.field.job', "Installation", required=True,
        readonly=True, ondelete='RESTRICT',
        domain=[('kind', '=', 'installation')])
    station = fields.Many2One('ev.station', "Station", required=True,
        readonly=True, ondelete='RESTRICT')
    oem = fields.Many2One('party.party', "OEM", required=True, readonly=True,
        ondelete='RESTRICT',
        context={'company': Eval('company', -1)}, depends={'company'})
    template = fields.Many2One('ev.oem.closure.template', "Template",
        required=True, readonly=True, ondelete='RESTRICT')
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)
    state_string = state.translated('state')
    items = fields.One2Many('ev.oem.closure.pack.item', 'pack', "Items",
        states={'readonly': ~Eval('state').in_(EDITABLE)})
    missing = fields.Function(fields.Char("Missing Items"), 'get_missing')
    submitted_at = Timestamp("Submitted At", readonly=True)
    submitted_by = fields.Many2One('res.user', "Submitted By", readonly=True)
    submission_count = fields.Integer("Submissions", readonly=True)
    accepted_at = Timestamp("Accepted At", readonly=True)
    accepted_by = fields.Many2One('res.user', "Accepted By", readonly=True)
    pdf = fields.Binary("PDF", readonly=True, file_id='pdf_id',
        filename='pdf_name')
    pdf_id = fields.Char("PDF ID", readonly=True)
    pdf_name = fields.Char("PDF Name", readonly=True)
    archive = fields.Binary("ZIP", readonly=True, file_id='archive_id',
        filename='archive_name')
    archive_id = fields.Char("ZIP ID", readonly=True)
    archive_name = fields.Char("ZIP Name", readonly=True)
    manifest = fields.Text("Manifest", readonly=True,
        help="The files of the ZIP with their SHA-256 (JSON).")
    disputes = fields.One2Many('ev.dispute', 'origin', "Disputes",
        readonly=True)
    # What the OEM's views show instead of the records closed to it
    oem_name = fields.Function(fields.Char("OEM"), 'get_display')
    station_name = fields.Function(fields.Char("Station"), 'get_display')
    customer_name = fields.Function(fields.Char("Customer"), 'get_display')
    job_number = fields.Function(fields.Char("Installation"), 'get_display')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.job, Index.Equality()),
                    (t.station, Index.Equality())),
                Index(t, (t.oem, Index.Equality()),
                    (t.state, Index.Equality(cardinality='low'))),
                })
        cls._order = [('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'submitted'),
            ('disputed', 'submitted'),
            ('submitted', 'accepted'),
            ('submitted', 'disputed'),
            }
        cls._buttons.update({
                'submit': {
                    'invisible': ~Eval('state').in_(EDITABLE),
                    'depends': ['state'],
                    },
                'accept': {
                    'invisible': Eval('state') != 'submitted',
                    'depends': ['state'],
                    },
                'dispute': {
                    'invisible': Eval('state') != 'submitted',
                    'depends': ['state'],
                    },
                # Shown on an accepted pack too: pressed, it says why not
                'rebuild': {
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_submission_count(cls):
        return 0

    @classmethod
    def fields_view_get(cls, view_id=None, view_type='form', level=None):
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        User = pool.get('res.user')
        if view_type in OEM_VIEWS and User.get_ev_oem() is not None:
            view_id = ModelData.get_id('ev_oem_report', OEM_VIEWS[view_type])
        return super().fields_view_get(
            view_id=view_id, view_type=view_type, level=level)

    @classmethod
    def get_display(cls, packs, names):
        # The pack's own record rules applied when it was read
        result = {name: {} for name in names}
        with without_check_access():
            for pack in cls.browse(packs):
                values = {
                    'oem_name': pack.oem.rec_name,
                    'station_name': pack.station.number,
                    'customer_name': pack.station.customer.rec_name,
                    'job_number': pack.job.number,
                    }
                for name in names:
                    result[name][pack.id] = values[name]
        return result

    def get_rec_name(self, name):
        return self.number or str(self.id)

    @classmethod
    def get_missing(cls, packs, name):
        with without_check_access():
            return {p.id: ', '.join(i.label for i in cls(p.id).items
                    if i.required and i.verdict != 'present') or None
                for p in packs}

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Sequence = pool.get('ir.sequence')
        ModelData = pool.get('ir.model.data')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and not values.get('number'):
            with without_check_access():
                values['number'] = Sequence(ModelData.get_id(
                        'ev_oem_report', 'sequence_closure_pack')).get()
        return values

    @classmethod
    def check_modification(cls, mode, packs, values=None, external=False):
        super().check_modification(
            mode, packs, values=values, external=external)
        # The state, the files and who did what are the buttons' to write:
        # a client changes only the items, and only of a pack in progress
        if mode == 'write' and external:
            if fixed := values.keys() - {'items'}:
                raise AccessError(gettext(
                        'ev_oem_report.msg_pack_fields_readonly',
                        fields=', '.join(
                            cls._fields[f].string for f in sorted(fixed))))
            for pack in packs:
                if pack.state not in EDITABLE:
                    raise AccessError(gettext(
                            'ev_oem_report.msg_pack_readonly',
                            pack=pack.rec_name, state=pack.state_string))

    @classmethod
    def copy(cls, packs, default=None):
        default = default.copy() if default is not None else {}
        for name in ['number', 'submitted_at', 'submitted_by', 'accepted_at',
                'accepted_by', 'pdf', 'pdf_name', 'archive', 'archive_name',
                'manifest', 'disputes']:
            default.setdefault(name)
        default.setdefault('state', 'draft')
        default.setdefault('submission_count', 0)
        return super().copy(packs, default=default)

    # -- building ---------------------------------------------------------

    @classmethod
    def build(cls, jobs):
        """A pack per station of each closed installation of an OEM's lead
        that has a template (the job and station once)"""
        pool = Pool()
        Template = pool.get('ev.oem.closure.template')
        Item = pool.get('ev.oem.closure.pack.item')
        packs = []
        with without_check_access():
            existing = {(p.job.id, p.station.id) for p in cls.search([
                        ('job', 'in', [j.id for j in jobs])])}
            for job in jobs:
                oem = job.lead.oem
                if job.kind != 'installation' or not oem:
                    continue
                template = Template.for_oem(oem)
                if not template:
                    continue
                for station in job.lead.stations:
                    if (job.id, station.id) in existing:
                        continue
                    packs.append(cls(company=job.company, job=job,
                            station=station, oem=oem, template=template,
                            items=[Item.from_template(t, station)
                                for t in template.items]))
            cls.save(packs)
            for pack in packs:
                pack.record('closure_pack_built', gettext(
                        'ev_oem_report.msg_log_pack_built', pack=pack.number,
                        oem=pack.oem.rec_name, missing=pack.missing or '-'))
        return packs

    @classmethod
    @ModelView.button
    def rebuild(cls, packs):
        """Build the packs again from their OEM's template as it is now
        (changed since, or made after the job closed): a draft whose items
        keep what was put in the items of the same type and label. The
        earlier items and their verdicts go into the station's log, which
        keeps them; an accepted pack is the OEM's and stays as it is."""
        pool = Pool()
        Template = pool.get('ev.oem.closure.template')
        Item = pool.get('ev.oem.closure.pack.item')
        verdict_names = dict(Item.fields_get(
                ['verdict'])['verdict']['selection'])
        with without_check_access():
            packs = cls.browse(packs)
            templates = {}
            for pack in packs:
                if pack.state == 'accepted':
                    raise ClosurePackError(gettext(
                            'ev_oem_report.msg_pack_rebuild_accepted',
                            pack=pack.rec_name))
                templates[pack.id] = Template.for_oem(pack.oem)
                if not templates[pack.id]:
                    raise ClosurePackError(gettext(
                            'ev_oem_report.msg_pack_rebuild_no_template',
                            pack=pack.rec_name, oem=pack.oem.rec_name))
            earlier = {pack.id: (pack.template.rec_name,
                    pack.state_string, '; '.join(
                        f'{i.label}: {verdict_names[i.verdict]}'
                        + (f' ({i.detail})' if i.detail else '')
                        + (f' ({i.rejection_reason})' if i.rejected else '')
                        for i in pack.items))
                for pack in packs}
            old_items = [i.id for p in packs for i in p.items]
            cls.write(list(packs), {'state': 'draft'})
            new_items = []
            for pack in cls.browse(packs):
                new_items.extend(pack._items_from(templates[pack.id]))
            Item.delete(Item.browse(old_items))
            Item.save(new_items)
            for pack in packs:
                cls.write([pack], {'template': templates[pack.id].id})
            for pack in cls.browse(packs):
                previous, state, verdicts = earlier[pack.id]
                pack.record('closure_pack_rebuilt', gettext(
                        'ev_oem_report.msg_log_pack_rebuilt',
                        pack=pack.number, template=pack.template.rec_name,
                        previous=previous, state=state,
                        verdicts=verdicts or '-',
                        missing=pack.missing or '-'))

    def _items_from(self, template):
        """The items of the template for the pack's station, with what the
        pack's items of the same type and label held"""
        Item = Pool().get('ev.oem.closure.pack.item')
        held = {(i.item_type, i.label): i for i in self.items}
        items = []
        for template_item in template.items:
            item = Item.from_template(template_item, self.station)
            item.pack = self.id
            before = held.get((item.item_type, item.label))
            if before:
                if before.photos:
                    item.photos = list(before.photos)
                item.links = before.links
                item.document = before.document
                item.document_name = before.document_name
                item.rejected = before.rejected
                item.rejection_reason = before.rejection_reason
            items.append(item)
        return items

    def record(self, event_code, text):
        "The step goes into the station's event log, whoever takes it"
        with without_check_access():
            return self.station.record_event(event_code, text)

    # -- submission -------------------------------------------------------

    def check_complete(self):
        missing = [i.label for i in self.items
            if i.required and i.verdict == 'missing']
        if missing:
            raise ClosurePackError(gettext(
                    'ev_oem_report.msg_pack_items_missing',
                    pack=self.rec_name, items=', '.join(missing)))
        rejected = [f'{i.label} ({i.rejection_reason})' for i in self.items
            if i.required and i.verdict == 'rejected']
        if rejected:
            raise ClosurePackError(gettext(
                    'ev_oem_report.msg_pack_items_rejected',
                    pack=self.rec_name, items=', '.join(rejected)))

    @classmethod
    @ModelView.button
    @Workflow.transition('submitted')
    def submit(cls, packs):
        for pack in packs:
            pack.check_complete()
        resubmitted = {p for p in packs if p.submission_count}
        for pack in packs:
            pack.render()
            pack.submitted_at = dt.datetime.now()
            pack.submitted_by = Transaction().user or None
            pack.submission_count = (pack.submission_count or 0) + 1
        cls.save(packs)
        for pack in packs:
            if pack in resubmitted:
                pack.record('closure_pack_resubmitted', gettext(
                        'ev_oem_report.msg_log_pack_resubmitted',
                        pack=pack.number, count=pack.submission_count))
            else:
                pack.record('closure_pack_submitted', gettext(
                        'ev_oem_report.msg_log_pack_submitted',
                        pack=pack.number, oem=pack.oem.rec_name))

    def render(self):
        "Render the PDF and the ZIP from the pack's plain data"
        data, files = self.get_render_data()
        pdf = closure_render.render_pdf(data, files)
        self.pdf, self.pdf_name = pdf, f'{safe_name(self.number)}.pdf'
        self.archive, manifest = closure_render.build_zip(
            self.pdf_name, pdf, files, data['pack'])
        self.archive_name = f'{safe_name(self.number)}.zip'
        self.manifest = json.dumps(manifest, indent=2)

    def get_render_data(self):
        """The template's data (dicts and strings) and the files ({name:
        bytes}) of the pack, read without access checks: the button's
        groups and the pack's rules were checked"""
        pool = Pool()
        Lang = pool.get('ir.lang')
        lang = Lang.get()
        with without_check_access():
            pack = self.__class__(self.id) if self.id else self
            job = pack.job
            files = {}
            items = []
            for position, item in enumerate(pack.items, 1):
                items.append(item.get_render_data(position, files, lang))
            closed = job.write_date or job.create_date
            data = {
                'pack': {
                    'number': pack.number,
                    'oem': pack.oem.rec_name,
                    'template': pack.template.rec_name,
                    'station': pack.station.number,
                    'customer': pack.station.customer.rec_name,
                    'job': job.number,
                    'closed': lang.strftime(closed) if closed else '',
                    'site_address': job.site_address or '',
                    },
                'items': items,
                }
        return data, files

    # -- the OEM's answer -------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('accepted')
    def accept(cls, packs):
        cls.write(packs, {
                'accepted_at': dt.datetime.now(),
                'accepted_by': Transaction().user or None,
                })
        for pack in packs:
            pack.record('closure_pack_accepted', gettext(
                    'ev_oem_report.msg_log_pack_accepted', pack=pack.number,
                    oem=pack.oem.rec_name))

    @classmethod
    @ModelView.button_action('ev_oem_report.wizard_closure_pack_dispute')
    def dispute(cls, packs):
        pass

    def open_dispute(self, reason):
        "The OEM contests the submitted pack (ev_station's dispute)"
        Dispute = Pool().get('ev.dispute')
        if self.state != 'submitted':
            raise ClosurePackError(gettext(
                    'ev_oem_report.msg_pack_dispute_state',
                    pack=self.rec_name))
        if not (reason or '').strip():
            raise ClosurePackError(gettext(
                    'ev_oem_report.msg_pack_dispute_reason',
                    pack=self.rec_name))
        with without_check_access():
            dispute = Dispute(company=self.company, origin=self,
                party=self.oem, reason=reason,
                currency=self.company.currency)
            dispute.save()
        return dispute

    @classmethod
    @Workflow.transition('disputed')
    def _disputed(cls, packs):
        pass

    def dispute_opened(self, dispute):
        self._disputed([self])
        self.record('closure_pack_disputed', gettext(
                'ev_oem_report.msg_log_pack_disputed', pack=self.number,
                dispute=dispute.rec_name, reason=dispute.reason))

    def dispute_resolved(self, dispute):
        self.record('closure_pack_dispute_resolved', gettext(
                f'ev_oem_report.msg_log_pack_dispute_{dispute.state}',
                pack=self.number, dispute=dispute.rec_name,
                resolution=dispute.resolution or '-'))


class DisputeStart(ModelView):
    __name__ = 'ev.oem.closure.pack.dispute.start'
    __string__ = "Dispute a Closure Pack"

    pack = fields.Many2One('ev.oem.closure.pack', "Pack", readonly=True)
    reason = fields.Text("Reason", required=True,
        help="What is wrong with the pack: the items and why.")


class Dispute(Wizard):
    __name__ = 'ev.oem.closure.pack.dispute'
    __string__ = "Dispute a Closure Pack"

    start = StateView('ev.oem.closure.pack.dispute.start',
        'ev_oem_report.closure_pack_dispute_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Dispute", 'dispute', 'tryton-ok', default=True),
            ])
    dispute = StateTransition()

    def default_start(self, fields):
        return {'pack': self.record.id}

    def transition_dispute(self):
        # The wizard runs as the OEM's user: the pack's record rules are
        # checked again before the dispute is opened without them
        Pack = Pool().get('ev.oem.closure.pack')
        Pack.read([self.record.id], ['id'])
        self.record.open_dispute(self.start.reason)
        return 'end'
