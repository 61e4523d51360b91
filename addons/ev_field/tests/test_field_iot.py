# This file is part of the EV operations suite.
"""ev_field with ev_charger_iot: a field team sees the Station Records of
its own jobs and what hangs from them (log, photos, payments, shipments,
handovers, the chargers with their history and alerts, not the commands
of the IoT operators), and
nothing of the other stations; a commissioned installation puts its charger
under monitoring"""
import datetime as dt

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, drop_db, \
    with_transaction

from .test_field import FieldFlow
from .tools import create_user, our_station_and_another, setup_world


class FieldWithIotTestCase(FieldFlow, ModuleDBTestCase):
    module = 'ev_field'

    @classmethod
    def setUpClass(cls):
        drop_db()
        activate_module(['ev_field', 'ev_charger_iot'])

    @with_transaction()
    def test_field_team_sees_only_its_stations_and_chargers(self):
        pool = Pool()
        Station = pool.get('ev.station')
        Log = pool.get('ev.station.log')
        Photo = pool.get('ev.station.photo')
        Charger = pool.get('ev.charger')
        Connector = pool.get('ev.charger.connector')
        Heartbeat = pool.get('ev.charger.heartbeat')
        Command = pool.get('ev.charger.command')
        w = setup_world()
        with set_company(w.company):
            job, ours, theirs = our_station_and_another(w)
            theirs.record_event('note', "A station of no job of the team")
            Photo.create([{'station': s.id, 'name': f'{s.id}.png',
                        'image': b'\x89PNG', 'taken_by': w.crew.party.id}
                    for s in (ours, theirs)])
            chargers = Charger.create([{'identity': f'CP-{s.id}',
                        'station': s.id, 'power_class': 'l2',
                        'current_type': 'ac',
                        'connectors': [('create', [{'number': 1}])]}
                    for s in (ours, theirs)])
            our_charger, their_charger = chargers
            Heartbeat.create([{'charger': c.id, 'ts': job.slot_start}
                    for c in chargers])
            Command.create([{'charger': c.id, 'action': 'Reset',
                        'params': {}} for c in chargers])
            crew = create_user('crew-rules', 'ev_field.group_field_team',
                employee=w.crew)
            ops = create_user('ops-rules', 'ev_station.group_ev')

            with as_user(crew):
                self.assertEqual(Station.search([]), [ours])
                self.assertEqual({e.station for e in Log.search([])},
                    {ours})
                self.assertEqual([p.station for p in Photo.search([])],
                    [ours])
                self.assertEqual(Charger.search([]), [our_charger])
                self.assertEqual([c.charger for c in Connector.search([])],
                    [our_charger])
                self.assertEqual(
                    [h.charger for h in Heartbeat.search([])], [our_charger])
                # Commands are the IoT operators' only
                with self.assertRaises(AccessError):
                    Command.search([])
                for Model, record in [(Station, theirs),
                        (Charger, their_charger)]:
                    with self.assertRaises(AccessError):
                        Model.read([record.id], ['rec_name'])
                theirs_log = Log.search([('station', '=', theirs.id)])
                self.assertEqual(theirs_log, [])
                # Its own station: the team writes to its log
                Station(ours.id).record_event('note', "Reached the site")

            # Other users keep seeing everything
            with as_user(ops):
                self.assertEqual(set(Station.search([])), {ours, theirs})
                self.assertEqual(set(Charger.search([])), set(chargers))
            self.assertEqual(Log.search([('station', '=', ours.id),
                        ('text', '=', "Reached the site")], count=True), 1)

    def commission(self, w, job, identity):
        pool = Pool()
        Job = pool.get('ev.field.job')
        Photo = pool.get('ev.station.photo')
        job.charger_identity = identity
        job.network_verified = job.app_paired = True
        job.save()
        station = w.lead.stations[0]
        if not Photo.search([('station', '=', station.id),
                    ('kind', '=', 'main')]):
            Photo(station=station, name='final.jpg', image=b'jpeg',
                kind='main', taken_by=w.crew.party).save()
        Job.commission([job])

    @with_transaction()
    def test_commissioning_monitors_the_charger(self):
        "The commissioned charger is created, on its station, to monitor"
        pool = Pool()
        Charger = pool.get('ev.charger')
        StationConnector = pool.get('ev.station.connector')
        w = setup_world()
        with set_company(w.company):
            job = self.installation_done(w)
            station, = w.lead.stations
            StationConnector.create([{'station': station.id,
                        'type': 'ccs2', 'count': 2}])
            self.commission(w, job, ' EVB-000777 ')
            self.assertEqual(job.state, 'commissioned')
            charger, = Charger.search([('identity', '=', 'EVB-000777')])
            self.assertEqual(charger.station, station)
            self.assertEqual((charger.power_class, charger.current_type),
                ('l3', 'dc'))
            self.assertEqual(
                [(c.number, c.connector_type) for c in charger.connectors],
                [(1, 'ccs2'), (2, 'ccs2')])
            self.assertEqual(charger.serial, job.charger_lot.number)
            self.assertEqual(charger.commissioning_date, dt.date.today())
            self.assertEqual(charger.health, 'offline')  # not heard of yet

    @with_transaction()
    def test_commissioning_completes_a_registered_charger(self):
        """A charger registered beforehand under the identity is completed;
        one on another station refuses the commissioning"""
        pool = Pool()
        Charger = pool.get('ev.charger')
        Station = pool.get('ev.station')
        Party = pool.get('party.party')
        w = setup_world()
        with set_company(w.company):
            job = self.installation_done(w)
            station, = w.lead.stations
            other = Party(name="Other Customer")
            other.save()
            elsewhere, = Station.create([{'customer': other.id}])
            Charger.create([{'identity': 'EVB-ELSEWHERE',
                        'station': elsewhere.id, 'power_class': 'l2',
                        'current_type': 'ac'},
                    {'identity': 'EVB-REGISTERED', 'station': station.id,
                        'power_class': 'l2', 'current_type': 'ac',
                        'serial': 'FACTORY-1'}])
            with self.assertRaises(UserError) as cm:
                self.commission(w, job, 'EVB-ELSEWHERE')
            self.assertIn('EVB-ELSEWHERE', cm.exception.message)
            self.assertIn(elsewhere.rec_name, cm.exception.message)
            self.assertEqual(job.state, 'done')
            self.commission(w, job, 'EVB-REGISTERED')
            charger, = Charger.search([('identity', '=', 'EVB-REGISTERED')])
            self.assertEqual(charger.commissioning_date, dt.date.today())
            self.assertEqual(charger.serial, 'FACTORY-1')
            self.assertEqual(Charger.search([('station', '=', station.id)],
                    count=True), 1)
