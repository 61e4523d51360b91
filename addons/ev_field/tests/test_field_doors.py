# This file is part of the EV operations suite.
"""A field team cannot write the log of another team's station through any
entry point (the log's door, a plain create, a photo, a payment, the chat),
and commissioning skips the factory stages by ev_field's declared stage
rule, not by an override in the crew's name."""
import datetime

from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_field import FieldFlow
from .tools import create_user, our_station_and_another, setup_world


class FieldDoorsTestCase(FieldFlow, ModuleDBTestCase):
    module = 'ev_field'

    @with_transaction()
    def test_cannot_write_another_teams_station_log(self):
        pool = Pool()
        Station = pool.get('ev.station')
        Log = pool.get('ev.station.log')
        Photo = pool.get('ev.station.photo')
        EventType = pool.get('ev.station.event_type')
        Channel = pool.get('ir.chat.channel')
        w = setup_world()
        with set_company(w.company):
            _, ours, theirs = our_station_and_another(w)
            crew = create_user('crew-doors', 'ev_field.group_field_team',
                employee=w.crew)
            before = Log.search([('station', '=', theirs.id)], count=True)
            note = EventType.from_code('note')

            with as_user(crew):
                attempts = {
                    'record_events (RPC)': lambda: Station.record_events(
                        [Station(theirs.id)], 'note', "Intruder", {}),
                    'record_event': lambda: Station(theirs.id).record_event(
                        'note', "Intruder"),
                    'log create': lambda: Log.create([{
                                'station': theirs.id, 'text': "Intruder",
                                'event_type': note.id}]),
                    'photo': lambda: Photo.create([{
                                'station': theirs.id, 'name': 'x.png',
                                'image': b'\x89PNG',
                                'taken_by': w.crew.party.id}]),
                    }
                for name, attempt in attempts.items():
                    with self.subTest(entry_point=name):
                        with self.assertRaises(AccessError):
                            attempt()
                # Their own station: the same doors open
                Station.record_events(
                    [Station(ours.id)], 'note', "On site", {})
            # The chat, as its RPC calls it (without access checks)
            with Transaction().set_user(crew.id):
                with self.assertRaises(AccessError):
                    Channel.post(str(theirs), "Intruder", 'internal')
                Channel.post(str(ours), "On site", 'internal')
            self.assertEqual(
                Log.search([('station', '=', theirs.id)], count=True), before)
            self.assertEqual(Log.search([('station', '=', ours.id),
                        ('text', '=', "On site")], count=True), 1)

    @with_transaction()
    def test_commissioning_uses_the_declared_stage_rule(self):
        pool = Pool()
        Job = pool.get('ev.field.job')
        Log = pool.get('ev.station.log')
        Photo = pool.get('ev.station.photo')
        ModelData = pool.get('ir.model.data')
        w = setup_world()
        with set_company(w.company):
            job = self.installation_done(w)
            station, = w.lead.stations
            Photo(station=station, name='final.jpg', image=b'jpeg',
                kind='main', taken_by=w.crew.party).save()
            job.charger_identity = 'EVB-RULE'
            job.network_verified = job.app_paired = True
            job.save()
            Job.commission([job])
            entries = Log.search([('station', '=', station.id),
                    ('event_type.code', 'in',
                        ['installation_completed', 'commissioned'])],
                order=[('id', 'ASC')])
            self.assertEqual(
                [(e.event_type.code, e.stage, e.stage_override,
                        e.override_by, e.stage_rule and e.stage_rule.id)
                    for e in entries],
                [('installation_completed', 'installation', True, None,
                        ModelData.get_id(
                            'ev_field', 'stage_rule_field_installation')),
                    ('commissioned', 'commissioned', False, None, None)])
            self.assertEqual(station.__class__(station.id).stage,
                'commissioned')

    @with_transaction()
    def test_reads_only_its_jobs_calls_and_site_photos(self):
        "A field team reads the call notes and site photos of its jobs only"
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Call = pool.get('ev.lead.call')
        SitePhoto = pool.get('ev.lead.site_photo')
        w = setup_world()
        with set_company(w.company):
            job, _, theirs = our_station_and_another(w)
            other = Lead(party=theirs.customer, lead_source='phone')
            other.save()
            now = datetime.datetime.now()
            calls = Call.create([{'lead': lead.id, 'date': now,
                        'outcome': 'reached', 'note': "Gate code 1234"}
                    for lead in [job.lead, other]])
            photos = SitePhoto.create([{'lead': lead.id, 'name': 'site.png',
                        'image': b'\x89PNG'} for lead in [job.lead, other]])
            crew = create_user('crew-reads', 'ev_field.group_field_team',
                employee=w.crew)
            with as_user(crew):
                self.assertEqual(Call.search([]), calls[:1])
                self.assertEqual(SitePhoto.search([]), photos[:1])
                for Model, record in [(Call, calls[1]),
                        (SitePhoto, photos[1])]:
                    with self.subTest(model=Model.__name__):
                        with self.assertRaises(AccessError):
                            Model.read([record.id], ['lead'])

    @with_transaction()
    def test_reads_only_its_jobs_customers_contact_data(self):
        """A field team reads the name, addresses, phones and emails of its
        jobs' customers and site contacts, none of another customer's,
        whether it reads, searches or probes through a related field"""
        pool = Pool()
        Party = pool.get('party.party')
        Address = pool.get('party.address')
        ContactMechanism = pool.get('party.contact_mechanism')
        Identifier = pool.get('party.identifier')
        Station = pool.get('ev.station')
        Job = pool.get('ev.field.job')
        w = setup_world()
        with set_company(w.company):
            job, ours, theirs = our_station_and_another(w)
            site_contact = Party(name="Site Guard",
                contact_mechanisms=[{'type': 'mobile',
                        'value': '+919876500001'}])
            site_contact.save()
            Station.write([ours], {'location_contact': site_contact.id})
            other = theirs.customer
            Party.write([other], {
                    'addresses': [('create', [{
                                    'street_unstructured': "7 Hidden Lane",
                                    'postal_code': '560099'}])],
                    'contact_mechanisms': [('create', [
                                {'type': 'mobile', 'value': '+919876599999'},
                                {'type': 'email',
                                    'value': 'someone@hidden.example'}])],
                    'identifiers': [('create', [{'code': 'ABCDE1234F'}])],
                    })
            supplier = Party(name="Cable Supplier")
            supplier.save()
            crew = create_user('crew-parties', 'ev_field.group_field_team',
                employee=w.crew)
            customer = job.lead.party

            with as_user(crew):
                visible = Party.search([])
                self.assertIn(customer, visible)
                self.assertIn(site_contact, visible)
                self.assertIn(supplier, visible)
                self.assertNotIn(other, visible)
                self.assertEqual(
                    Party.search([('name', '=', "Someone Else")]), [])
                self.assertEqual(Job.read([job.id], ['customer.rec_name']),
                    [{'id': job.id, 'customer.': {'id': customer.id,
                                'rec_name': customer.rec_name}}])
                self.assertEqual([c.value for c in ContactMechanism.search(
                            [('party', '=', site_contact.id)])],
                    ['+919876500001'])
                for Model, domain in [
                        (ContactMechanism, [('value', '=', '+919876599999')]),
                        (ContactMechanism,
                            [('value', 'ilike', '%hidden.example')]),
                        (ContactMechanism, [('party.name', '=', other.name)]),
                        (Address, [('street_unstructured', 'ilike', '%Hidden%')]),
                        (Address, [('party', '=', other.id)]),
                        (Identifier, [('code', '=', 'ABCDE1234F')]),
                        (Party, [('contact_mechanisms.value', '=',
                                    '+919876599999')]),
                        (Party, [('addresses.postal_code', '=', '560099')]),
                        ]:
                    with self.subTest(model=Model.__name__, domain=domain):
                        self.assertEqual(Model.search(domain), [])
                for Model, ids in [
                        (Party, [other.id]),
                        (Address, [a.id for a in other.addresses]),
                        (ContactMechanism,
                            [c.id for c in other.contact_mechanisms]),
                        (Identifier, [i.id for i in other.identifiers]),
                        ]:
                    with self.subTest(read=Model.__name__):
                        with self.assertRaises(AccessError):
                            Model.read(ids, ['rec_name'])
                with self.assertRaises(AccessError):
                    Party.write([other], {'name': "Renamed"})
            self.assertEqual(other.name, "Someone Else")
