# This file is part of the EV operations suite.
"""The one door to the event log (Station.record_event and its RPC
record_events), tried as an attacker would: values that are the system's,
a stage rule smuggled in, stations the caller cannot see, the chat of a
record the caller cannot see."""
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import ModuleDBTestCase, as_user, create_station, create_user



class LogDoorTestCase(ModuleDBTestCase):

    def hide_station(self, station, group):
        "A record rule of `group`: its users see every station but this one"
        pool = Pool()
        RuleGroup = pool.get('ir.rule.group')
        RuleGroup.create([{
                    'name': "All stations but one",
                    'model': 'ev.station',
                    'global_p': False,
                    'groups': [('add', [group.id])],
                    'perm_read': True, 'perm_write': True,
                    'perm_create': True, 'perm_delete': True,
                    'rules': [('create', [{
                                    'domain': '[["id", "!=", %d]]'
                                    % station.id,
                                    }])],
                    }])

    def stage_rule(self):
        pool = Pool()
        StageRule = pool.get('ev.station.stage_rule')
        EventType = pool.get('ev.station.event_type')
        rule, = StageRule.create([{
                    'name': "Production confirmed from configuration",
                    'event_type': EventType.from_code(
                        'production_confirmed').id,
                    'from_stages': ['configuration'],
                    'reason': "The test declares it",
                    }])
        return rule

    @with_transaction()
    def test_values_of_the_system_are_refused(self):
        "Author, time, stage, stage rule cannot be given through the door"
        pool = Pool()
        Station = pool.get('ev.station')
        Log = pool.get('ev.station.log')
        station = create_station()
        user = create_user('support-door', 'group_support')
        for values in [{'author': 1}, {'timestamp': '2020-01-01'},
                {'stage': 'commissioned'}, {'stage_override': True},
                {'stage_rule': 1}, {'station': station.id}]:
            with self.subTest(values=values), as_user(user):
                with self.assertRaises(AccessError) as cm:
                    Station.record_events([station], 'note', "x", values)
                self.assertEqual(cm.exception.message,
                    "An event cannot be recorded with these values: "
                    f"{next(iter(values))}. Author, time, stage and the "
                    "stage rule are set by the system.")
        self.assertEqual(Log.search([('text', '=', "x")]), [])

    @with_transaction()
    def test_cannot_write_the_log_of_a_station_it_cannot_see(self):
        "Through record_event, the RPC record_events and a direct create"
        pool = Pool()
        Station = pool.get('ev.station')
        Log = pool.get('ev.station.log')
        EventType = pool.get('ev.station.event_type')
        Group = pool.get('res.group')
        ModelData = pool.get('ir.model.data')
        visible, hidden = create_station(), create_station()
        user = create_user('support-rules', 'group_support')
        self.hide_station(
            hidden, Group(ModelData.get_id('ev_station', 'group_support')))
        with as_user(user):
            self.assertEqual(Station.search([('id', 'in',
                            [visible.id, hidden.id])]), [visible])
            with self.assertRaises(AccessError) as cm:
                Station.record_events([Station(hidden.id)], 'note', "x", {})
            self.assertEqual(cm.exception.message,
                "You cannot write the event log of stations you do not "
                f"have access to (ids: {hidden.id}).")
            with self.assertRaises(AccessError):
                Station(hidden.id).record_event('note', "x")
            # Both at once: nothing is written, not even the visible one
            with self.assertRaises(AccessError):
                Station.record_events(
                    [Station(visible.id), Station(hidden.id)], 'note', "x",
                    {})
            with self.assertRaises(AccessError):
                Log.create([{'station': hidden.id, 'text': "x",
                            'event_type': EventType.from_code('note').id}])
            Station(visible.id).record_event('note', "allowed")
        self.assertEqual(
            [(e.station, e.text) for e in Log.search(
                    [('text', 'in', ["x", "allowed"])])],
            [(visible, "allowed")])

    @with_transaction()
    def test_chat_of_a_hidden_station_is_closed(self):
        "ir.chat checks only the model access; the record rules apply too"
        pool = Pool()
        Channel = pool.get('ir.chat.channel')
        Group = pool.get('res.group')
        ModelData = pool.get('ir.model.data')
        visible, hidden = create_station(), create_station()
        user = create_user('support-chat', 'group_support')
        self.hide_station(
            hidden, Group(ModelData.get_id('ev_station', 'group_support')))
        with Transaction().set_user(user.id):
            # As the RPC of ir.chat.channel (check_access=False) calls them
            with self.assertRaises(AccessError):
                Channel.post(str(hidden), "psst", 'internal')
            with self.assertRaises(AccessError):
                Channel.get(str(hidden))
            with self.assertRaises(AccessError):
                Channel.subscribe(str(hidden), 'support-chat')
            Channel.post(str(visible), "Customer called", 'internal')
            messages = Channel.get(str(visible))
        self.assertEqual([m['content'] for m in messages], ["Customer called"])

    @with_transaction()
    def test_stage_rule_only_through_the_door(self):
        """A declared rule lets an event skip stages; the entry names it.
        A user cannot give it to a new entry directly."""
        pool = Pool()
        Log = pool.get('ev.station.log')
        EventType = pool.get('ev.station.event_type')
        station = create_station()
        station.record_event('client_account_created', "Account")
        rule = self.stage_rule()
        # Not from the stage the rule names: refused as any skip
        with self.assertRaises(UserError) as cm:
            station.record_event('production_confirmed', "Go",
                stage_rule=rule)
        self.assertTrue(cm.exception.message.startswith(
                'Recording "Production confirmed" on station'),
            cm.exception.message)
        station.record_event('station_configuration_agreed', "Agreed")
        entry = station.record_event('production_confirmed', "Go",
            stage_rule=rule)
        self.assertEqual(entry.stage_rule, rule)
        self.assertEqual(entry.stage, 'production')
        self.assertTrue(entry.stage_override)
        self.assertIsNone(entry.override_by)
        self.assertEqual(station.__class__(station.id).stage, 'production')
        # A rule given with a plain create is refused, whoever gives it
        user = create_user('admin-door', 'group_ev_admin')
        with as_user(user):
            with self.assertRaises(AccessError) as cm:
                Log.create([{'station': station.id, 'text': "Sneaky",
                            'event_type': EventType.from_code('note').id,
                            'stage_rule': rule.id}])
        self.assertEqual(cm.exception.message,
            "A stage rule is applied only by the event log's own method "
            "(record_event), never given with a new entry.")
