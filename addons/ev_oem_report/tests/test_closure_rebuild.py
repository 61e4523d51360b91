# This file is part of the EV operations suite.
"""Closure packs built after the closure (the OEM had no template then) and
rebuilt after the template changed: by Central Ops' buttons only, the
earlier items and verdicts kept in the station's log"""
from unittest.mock import patch

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_field.tests.test_field import FieldFlow
from trytond.modules.ev_field.tests.tools import create_user, setup_world
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from . import test_closure
from .closure_tools import rpc


def log_entries(station):
    Log = Pool().get('ev.station.log')
    return [(e.event_type.code, e.text) for e in Log.search(
            [('station', '=', station.id)], order=[('id', 'ASC')])]


class ClosureRebuildTestCase(FieldFlow, ModuleDBTestCase):
    "Closure packs: built later, rebuilt, and only by Central Ops"
    module = 'ev_oem_report'

    closed_installation = test_closure.ClosurePackTestCase.closed_installation
    upload_bill = test_closure.ClosurePackTestCase.upload_bill

    def closed_without_template(self, w):
        "The installation closed while its OEM had no template"
        Template = Pool().get('ev.oem.closure.template')
        with patch.object(Template, 'for_oem', return_value=None):
            job, packs = self.closed_installation(w, chargers=2)
        self.assertEqual(list(packs), [])
        return job

    @with_transaction()
    def test_build_later_once_the_template_exists(self):
        pool = Pool()
        Job = pool.get('ev.field.job')
        Template = pool.get('ev.oem.closure.template')
        w = setup_world()
        with set_company(w.company):
            job = self.closed_without_template(w)
            Template.write([w.template], {'active': False})
            with self.assertRaises(UserError) as cm:
                rpc(w.ops, Job, 'build_closure_packs', [job.id])
            self.assertEqual(cm.exception.message,
                f'No closure pack can be built for installation '
                f'"{job.rec_name}": OEM "VoltDrive" has no active closure '
                'pack template. Create the template first.')
            self.assertEqual(Job(job.id).closure_packs, ())

            Template.write([w.template], {'active': True})
            rpc(w.ops, Job, 'build_closure_packs', [job.id])
            packs = Job(job.id).closure_packs
            self.assertEqual(sorted(p.station.id for p in packs),
                sorted(s.id for s in w.lead.stations))
            self.assertEqual({p.state for p in packs}, {'draft'})
            self.assertIn('closure_pack_built',
                [c for c, _ in log_entries(w.station)])

            # Twice builds nothing twice: the pack is rebuilt instead
            with self.assertRaises(UserError) as cm:
                rpc(w.ops, Job, 'build_closure_packs', [job.id])
            self.assertEqual(cm.exception.message,
                f'Installation "{job.rec_name}" has its closure packs '
                f'already ({", ".join(p.rec_name for p in packs)}): use '
                '"Rebuild" on a pack to follow a changed template.')

    @with_transaction()
    def test_rebuild_follows_the_template_and_keeps_history(self):
        pool = Pool()
        Pack = pool.get('ev.oem.closure.pack')
        Item = pool.get('ev.oem.closure.pack.item')
        TemplateItem = pool.get('ev.oem.closure.template.item')
        w = setup_world()
        with set_company(w.company):
            job, pack = self.closed_installation(w)
            self.upload_bill(pack)
            rpc(w.ops, Pack, 'submit', [pack.id])
            before = log_entries(w.station)

            # The OEM wants a certificate now, and no video any more
            video, = [i for i in w.template.items if i.item_type == 'video']
            TemplateItem.delete([video])
            TemplateItem.create([{'template': w.template.id,
                        'sequence': 100, 'label': "Earthing certificate",
                        'item_type': 'document'}])
            rpc(w.ops, Pack, 'rebuild', [pack.id])

            pack = Pack(pack.id)
            self.assertEqual(pack.state, 'draft')
            self.assertEqual([i.label for i in pack.items], [
                    "Survey report", "Installation report",
                    "Main final-site photo", "Two photos of the earthing",
                    "Commissioning data", "Customer sign-off",
                    "Electricity bill", "Customer updates",
                    "Earthing certificate"])
            # What was put in an item of the same type and label stays
            bill, = [i for i in pack.items if i.label == "Electricity bill"]
            self.assertEqual((bill.verdict, bill.document_name),
                ('present', 'bill october.pdf'))
            self.assertEqual(pack.missing, "Earthing certificate")

            # The log keeps every entry, and says what the pack was
            after = log_entries(w.station)
            self.assertEqual(after[:len(before)], before)
            self.assertEqual(after[len(before):], [('closure_pack_rebuilt',
                        f'Closure pack {pack.number} rebuilt from template '
                        '"VoltDrive closure pack" (required items missing: '
                        'Earthing certificate). Before: template "VoltDrive '
                        'closure pack", Submitted; verdicts: Survey report: '
                        'Present; Installation report: Present; Main '
                        'final-site photo: Present; Two photos of the '
                        'earthing: Present (2 of 2); Commissioning data: '
                        'Present; Customer sign-off: Present; Electricity '
                        'bill: Present; Walk-through video: Missing (0 of '
                        '1); Customer updates: Present.')])
            self.assertEqual(
                Item.search([('pack', '=', pack.id)], count=True), 9)

            # An accepted pack is the OEM's: it is not rebuilt
            Item.write([i for i in pack.items
                    if i.label == "Earthing certificate"], {
                    'document': b'%PDF-1.4 certificate',
                    'document_name': 'certificate.pdf'})
            rpc(w.ops, Pack, 'submit', [pack.id])
            rpc(w.oem_user, Pack, 'accept', [pack.id])
            with self.assertRaises(UserError) as cm:
                rpc(w.ops, Pack, 'rebuild', [pack.id])
            self.assertEqual(cm.exception.message,
                f'Closure pack "{pack.number}" was accepted by the OEM: it '
                'cannot be rebuilt.')
            self.assertEqual(Pack(pack.id).state, 'accepted')

    @with_transaction()
    def test_rebuild_without_template(self):
        pool = Pool()
        Pack = pool.get('ev.oem.closure.pack')
        Template = pool.get('ev.oem.closure.template')
        w = setup_world()
        with set_company(w.company):
            job, pack = self.closed_installation(w)
            Template.write([w.template], {'active': False})
            with self.assertRaises(UserError) as cm:
                rpc(w.ops, Pack, 'rebuild', [pack.id])
            self.assertEqual(cm.exception.message,
                f'Closure pack "{pack.number}" cannot be rebuilt: OEM '
                '"VoltDrive" has no active closure pack template.')

    @with_transaction()
    def test_attack_field_team_and_oem_cannot_build_or_rebuild(self):
        "Only Central Ops press the buttons, even over RPC"
        pool = Pool()
        Pack = pool.get('ev.oem.closure.pack')
        Job = pool.get('ev.field.job')
        w = setup_world()
        with set_company(w.company):
            job, pack = self.closed_installation(w)
            crew = create_user('crew', 'ev_field.group_field_team',
                employee=w.crew)
            entries = log_entries(w.station)
            items = [i.id for i in pack.items]
            for user, Model, method, record, error in [
                    (crew, Job, 'build_closure_packs', job,
                        AccessButtonError),
                    (crew, Pack, 'rebuild', pack, AccessError),
                    (w.oem_user, Pack, 'rebuild', pack, AccessButtonError),
                    (w.oem_user, Job, 'build_closure_packs', job,
                        AccessError),
                    (w.other_user, Pack, 'rebuild', pack, AccessError),
                    ]:
                with self.subTest(user=user.login, method=method):
                    with self.assertRaises(error):
                        rpc(user, Model, method, [record.id])
            self.assertEqual([i.id for i in Pack(pack.id).items], items)
            self.assertEqual(log_entries(w.station), entries)
