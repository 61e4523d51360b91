# This file is part of the EV operations suite.
"""Closure packs: built when an OEM's installation closes, not submitted
while a required item is missing, rendered to a PDF with the photos and a
ZIP whose manifest holds the files' digests; each OEM sees and answers only
its own packs"""
import hashlib
import io
import json
import unittest
import zipfile
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_oem_report import closure_render
from trytond.modules.ev_field.tests.test_field import FieldFlow
from trytond.modules.ev_field.tests.tools import create_user, setup_world
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import without_check_access

from .closure_tools import (
    add_photos, create_oem, create_oem_user, create_template, dispute_as,
    image, rpc)


def sha256(content):
    return hashlib.sha256(content).hexdigest()


def pdf_images(pdf):
    "(filter, width, height, raw stream) of each image of the PDF, once"
    from pypdf import PdfReader
    reader = PdfReader(io.BytesIO(pdf))
    images = {}
    for page in reader.pages:
        for name, ref in (page['/Resources'].get('/XObject') or {}).items():
            xobject = ref.get_object()
            if xobject.get('/Subtype') == '/Image':
                images[ref.idnum] = (xobject.get('/Filter'),
                    xobject['/Width'], xobject['/Height'], xobject._data)
    return list(images.values())


def log_codes(station):
    Log = Pool().get('ev.station.log')
    return [e.event_type.code for e in Log.search(
            [('station', '=', station.id)], order=[('id', 'ASC')])]


class ClosurePackTestCase(FieldFlow, ModuleDBTestCase):
    module = 'ev_oem_report'

    def closed_installation(self, w, chargers=1):
        """An installation of a VoltDrive lead closed with its photos (the
        main one, two of the earthing, on the first station; the main one
        only on the others) and a real signature image"""
        pool = Pool()
        Job = pool.get('ev.field.job')
        Lead = pool.get('sale.opportunity')
        w.oem = create_oem("VoltDrive")
        w.other_oem = create_oem("AmpWorks")
        w.template = create_template(w.oem)
        Lead.write([w.lead], {'oem': w.oem.id, 'oem_reference': 'VD-2041'})
        self.configure(qa_share=Decimal(0))
        job = self.installation_done(w)
        if chargers > 1:
            # ev_field reports one serial a job: the lead's other chargers'
            # stations, as a lead of several chargers has them
            pool.get('ev.station').create([{
                        'customer': w.lead.party.id, 'lead': w.lead.id,
                        }] * (chargers - 1))
        w.signature = image(120, 40, 'PNG', seed=99)
        Job.write([job], {'customer_signature': w.signature,
                'charger_identity': 'EVB-000123',
                'network_verified': True, 'app_paired': True})
        w.station, *others = w.lead.stations
        w.photos = add_photos(w.station, w.crew.party,
            ['final-site.jpg', 'earthing-pit.jpg', 'earthing-bar.jpg',
                'driveway.jpg'])
        for station in others:
            add_photos(station, w.crew.party, ['final-site.jpg'])
        Job.commission([job])
        job.closure_call_note = "Charging works"
        job.save()
        Job.closure_call([job])
        Job.close([job])
        w.ops = create_user('ops', 'ev_lead.group_central_ops')
        w.oem_user = create_oem_user('voltdrive', w.oem, w.company)
        w.other_user = create_oem_user('ampworks', w.other_oem, w.company)
        if chargers > 1:
            return job, job.closure_packs
        pack, = job.closure_packs
        return job, pack

    def upload_bill(self, pack):
        Item = Pool().get('ev.oem.closure.pack.item')
        bill, = [i for i in pack.items if i.label == "Electricity bill"]
        Item.write([bill], {'document': b'%PDF-1.4 bill of October',
                'document_name': 'bill october.pdf'})

    @with_transaction()
    def test_missing_required_item_blocks_submission(self):
        "The pack shows a verdict per item; the missing one is named"
        pool = Pool()
        Pack = pool.get('ev.oem.closure.pack')
        Item = pool.get('ev.oem.closure.pack.item')
        w = setup_world()
        with set_company(w.company):
            job, pack = self.closed_installation(w)
            self.assertEqual(
                [(i.label, i.verdict, i.detail) for i in pack.items], [
                    ("Survey report", 'present', None),
                    ("Installation report", 'present', None),
                    ("Main final-site photo", 'present', None),
                    ("Two photos of the earthing", 'present', "2 of 2"),
                    ("Commissioning data", 'present', None),
                    ("Customer sign-off", 'present', None),
                    ("Electricity bill", 'missing', None),
                    ("Walk-through video", 'missing', "0 of 1"),
                    ("Customer updates", 'present', None),
                    ])
            self.assertEqual((pack.state, pack.oem, pack.station),
                ('draft', w.oem, w.station))
            self.assertIn('closure_pack_built', log_codes(w.station))

            with self.assertRaises(UserError) as cm:
                rpc(w.ops, Pack, 'submit', [pack.id])
            self.assertEqual(cm.exception.message,
                f'Closure pack "{pack.number}" cannot be submitted: '
                'required items missing: Electricity bill.')

            # A rejected item blocks it too, with its reason
            self.upload_bill(pack)
            earthing, = [i for i in pack.items if i.item_type == 'photo']
            Item.write([earthing], {'rejected': True,
                    'rejection_reason': "Earthing bar not visible"})
            with self.assertRaises(UserError) as cm:
                rpc(w.ops, Pack, 'submit', [pack.id])
            self.assertEqual(cm.exception.message,
                f'Closure pack "{pack.number}" cannot be submitted: '
                'required items rejected: Two photos of the earthing '
                '(Earthing bar not visible).')
            self.assertEqual(Item(earthing.id).verdict, 'rejected')

            Item.write([earthing], {'rejected': False})
            rpc(w.ops, Pack, 'submit', [pack.id])
            self.assertEqual(Pack(pack.id).state, 'submitted')
            # What was submitted stays as it was
            with self.assertRaises(AccessError):
                Item.write([earthing], {'rejected': True,
                        'rejection_reason': "Too late"})

    @with_transaction()
    def test_a_pack_per_station_of_a_multi_charger_lead(self):
        w = setup_world()
        with set_company(w.company):
            job, packs = self.closed_installation(w, chargers=2)
            self.assertEqual(
                sorted(p.station.id for p in packs),
                sorted(s.id for s in w.lead.stations))

            def verdicts(pack):
                return {i.label: i.verdict for i in pack.items
                    if i.item_type in {'main_photo', 'photo'}}
            first, = [p for p in packs if p.station == w.station]
            second, = [p for p in packs if p.station != w.station]
            self.assertEqual(verdicts(first), {
                    "Main final-site photo": 'present',
                    "Two photos of the earthing": 'present'})
            # Each station's own photos: the second has no earthing photo
            self.assertEqual(verdicts(second), {
                    "Main final-site photo": 'present',
                    "Two photos of the earthing": 'missing'})
            self.assertEqual(second.missing,
                "Two photos of the earthing, Electricity bill")
            # Closing again builds nothing twice
            Pool().get('ev.oem.closure.pack').build([job])
            self.assertEqual(len(job.closure_packs), 2)

    @with_transaction()
    def test_pdf_embeds_the_photos_and_zip_manifest(self):
        pool = Pool()
        Pack = pool.get('ev.oem.closure.pack')
        w = setup_world()
        with set_company(w.company):
            job, pack = self.closed_installation(w)
            self.upload_bill(pack)
            Pack.submit([pack])
            pack = Pack(pack.id)
            self.assertEqual(pack.pdf_name, f'{pack.number}.pdf')

            # The three photos of the pack, byte for byte (JPEG is embedded
            # as it is), and the signature at its size
            originals = {sha256(p.image) for p in w.photos[:3]}
            images = pdf_images(pack.pdf)
            jpegs = {sha256(raw) for f, _, _, raw in images
                if f == '/DCTDecode'}
            self.assertEqual(jpegs, originals)
            self.assertIn((64, 48), {(wd, h) for f, wd, h, _ in images
                    if f == '/DCTDecode'})
            self.assertIn((120, 40), {(wd, h) for f, wd, h, _ in images
                    if f != '/DCTDecode'})
            # The photo not asked for stays out
            self.assertNotIn(sha256(w.photos[3].image), jpegs)

            archive = zipfile.ZipFile(io.BytesIO(pack.archive))
            manifest = json.loads(archive.read('manifest.json'))
            self.assertEqual(json.loads(pack.manifest), manifest)
            self.assertEqual(manifest['pack']['number'], pack.number)
            names = [f['name'] for f in manifest['files']]
            self.assertEqual(sorted(archive.namelist()),
                sorted(names + ['manifest.json']))
            for entry in manifest['files']:
                content = archive.read(entry['name'])
                self.assertEqual(
                    (entry['sha256'], entry['size']),
                    (sha256(content), len(content)), entry['name'])
            self.assertEqual(archive.read(pack.pdf_name), pack.pdf)
            contents = {sha256(archive.read(n)) for n in names}
            self.assertTrue(originals <= contents)
            self.assertIn(sha256(w.signature), contents)
            self.assertIn(sha256(b'%PDF-1.4 bill of October'), contents)
            self.assertIn('07-bill_october.pdf', names)

    @with_transaction()
    def test_unknown_item_type(self):
        Template = Pool().get('ev.oem.closure.template')
        w = setup_world()
        with set_company(w.company):
            oem = create_oem("VoltDrive")
            with self.assertRaises(ValidationError) as cm:
                Template.create([{'name': "VoltDrive", 'oem': oem.id,
                            'items': [('create', [{
                                            'label': "Drone footage",
                                            'item_type': 'drone_video',
                                            }])]}])
            self.assertEqual(cm.exception.message,
                'Item "Drone footage" of the closure pack template has the '
                'unknown type "drone_video": use one of survey_report, '
                'installation_report, main_photo, photo, video, signature, '
                'commissioning, event_log, document.')

    @with_transaction()
    def test_other_oem_cannot_read_accept_or_dispute(self):
        pool = Pool()
        Pack = pool.get('ev.oem.closure.pack')
        Item = pool.get('ev.oem.closure.pack.item')
        Dispute = pool.get('ev.dispute')
        w = setup_world()
        with set_company(w.company):
            job, pack = self.closed_installation(w)
            self.upload_bill(pack)
            Pack.submit([pack])
            item_ids = [i.id for i in pack.items]

            other = w.other_user
            attacks = {
                'read': lambda: rpc(other, Pack, 'read', [pack.id],
                    ['number', 'pdf']),
                'read items': lambda: rpc(other, Item, 'read', item_ids,
                    ['label']),
                'accept': lambda: rpc(other, Pack, 'accept', [pack.id]),
                'dispute button': lambda: rpc(
                    other, Pack, 'dispute', [pack.id]),
                'dispute wizard': lambda: dispute_as(
                    other, pack, "Not ours but let us try"),
                'write': lambda: rpc(other, Pack, 'write', [pack.id],
                    {'state': 'accepted'}),
                }
            for name, attack in attacks.items():
                with self.subTest(attack=name):
                    with self.assertRaises(AccessError):
                        attack()
            self.assertEqual(rpc(other, Pack, 'search', []), [])
            self.assertEqual(Pack(pack.id).state, 'submitted')
            self.assertEqual(Dispute.search([]), [])

            # Its own OEM reads it, with the safe fields of its view
            own = w.oem_user
            self.assertEqual(rpc(own, Pack, 'search', []), [pack.id])
            values, = rpc(own, Pack, 'read', [pack.id],
                ['number', 'station_name', 'customer_name', 'state'])
            self.assertEqual(
                (values['station_name'], values['customer_name']),
                (w.station.number, "Meera Iyer"))
            # ...but not the records behind it
            with self.assertRaises(AccessError):
                rpc(own, Pack, 'read', [pack.id], ['station.customer'])

    @with_transaction()
    def test_field_team_cannot_submit(self):
        pool = Pool()
        Pack = pool.get('ev.oem.closure.pack')
        w = setup_world()
        with set_company(w.company):
            job, pack = self.closed_installation(w)
            self.upload_bill(pack)
            crew = create_user('crew', 'ev_field.group_field_team',
                employee=w.crew)
            for method, args in [('submit', [[pack.id]]),
                    ('read', [[pack.id], ['number']])]:
                with self.subTest(method=method):
                    with self.assertRaises(AccessError):
                        rpc(crew, Pack, method, *args)
            # The crew's job form does not show the packs
            Job = pool.get('ev.field.job')
            view = rpc(crew, Job, 'fields_view_get', None, 'form')
            self.assertNotIn('closure_packs', view['fields'])
            values, = rpc(crew, Job, 'read', [job.id], ['number', 'state'])
            self.assertEqual(values['state'], 'closed')
            # Central Ops move a pack by its buttons only
            with self.assertRaises(AccessError) as cm:
                rpc(w.ops, Pack, 'write', [pack.id], {'state': 'accepted'})
            self.assertEqual(cm.exception.message,
                'These fields of a closure pack are set by its steps and '
                'cannot be written: State.')
            # Nor the OEM: submitting is Central Ops'
            with self.assertRaises(AccessButtonError):
                rpc(w.oem_user, Pack, 'submit', [pack.id])
            self.assertEqual(Pack(pack.id).state, 'draft')

    @with_transaction()
    def test_dispute_resubmission_and_acceptance_are_logged(self):
        pool = Pool()
        Pack = pool.get('ev.oem.closure.pack')
        Item = pool.get('ev.oem.closure.pack.item')
        Dispute = pool.get('ev.dispute')
        w = setup_world()
        with set_company(w.company):
            job, pack = self.closed_installation(w)
            self.upload_bill(pack)
            rpc(w.ops, Pack, 'submit', [pack.id])

            dispute_as(w.oem_user, pack, "The bill is from last year")
            pack = Pack(pack.id)
            dispute, = pack.disputes
            self.assertEqual(
                (pack.state, dispute.party, dispute.reason, dispute.state),
                ('disputed', w.oem, "The bill is from last year", 'open'))
            # The OEM reads its dispute, the other OEM does not
            self.assertEqual(
                rpc(w.oem_user, Dispute, 'search', []), [dispute.id])
            self.assertEqual(rpc(w.other_user, Dispute, 'search', []), [])
            # Not twice
            with self.assertRaises(UserError):
                dispute_as(w.oem_user, pack, "Again")

            bill, = [i for i in pack.items if i.label == "Electricity bill"]
            rpc(w.ops, Item, 'write', [bill.id], {
                    'document': b'%PDF-1.4 bill of November',
                    'document_name': 'bill november.pdf'})
            rpc(w.ops, Pack, 'submit', [pack.id])
            pack = Pack(pack.id)
            self.assertEqual((pack.state, pack.submission_count),
                ('submitted', 2))
            archive = zipfile.ZipFile(io.BytesIO(pack.archive))
            self.assertEqual(archive.read('07-bill_november.pdf'),
                b'%PDF-1.4 bill of November')

            # Central Ops close the dispute: the new bill was sent
            rpc(w.ops, Dispute, 'write', [dispute.id], {
                    'owner': w.ops.id, 'agreed_amount': Decimal(0),
                    'resolution': "November bill sent"})
            rpc(w.ops, Dispute, 'accept', [dispute.id])
            rpc(w.oem_user, Pack, 'accept', [pack.id])
            pack = Pack(pack.id)
            self.assertEqual((pack.state, pack.accepted_by),
                ('accepted', w.oem_user))
            codes = log_codes(w.station)
            pack_codes = [c for c in codes if c.startswith('closure_pack')]
            self.assertEqual(pack_codes, [
                    'closure_pack_built', 'closure_pack_submitted',
                    'closure_pack_disputed', 'closure_pack_resubmitted',
                    'closure_pack_dispute_resolved',
                    'closure_pack_accepted'])
            with without_check_access():
                Log = pool.get('ev.station.log')
                entry, = Log.search([('station', '=', w.station.id),
                        ('event_type.code', '=', 'closure_pack_disputed')])
            self.assertEqual(entry.text,
                f'Closure pack {pack.number} disputed by the OEM '
                f'({dispute.number}): The bill is from last year')
            self.assertEqual(entry.author, w.oem_user)


class ClosureRenderTestCase(unittest.TestCase):
    "The PDF's fetcher serves the pack's files and nothing else"

    def test_fetcher_refuses_other_urls(self):
        fetcher = closure_render.file_fetcher({'01-a.jpg': b'jpeg'})
        response = fetcher.fetch('ev-file:01-a.jpg')
        self.assertEqual((response.read(), response.content_type),
            (b'jpeg', 'image/jpeg'))
        for url in ['file:///etc/passwd', 'http://169.254.169.254/',
                'ev-file:02-other.jpg']:
            with self.subTest(url=url):
                with self.assertRaises(ValueError):
                    fetcher.fetch(url)
