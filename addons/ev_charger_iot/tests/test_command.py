# This file is part of the EV operations suite.
"Remote commands: validation, sender, results, timeout, firmware campaigns"
import datetime

from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.ev_charger_iot.command import check_params
from trytond.modules.ev_station.tests.tools import (
    ModuleDBTestCase, as_user, create_station, create_user)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from .test_health import create_charger


def operator(login):
    pool = Pool()
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    user = create_user(login)
    user.groups = [Group(ModelData.get_id(
                'ev_charger_iot', 'group_iot_operator'))]
    user.save()
    return user


class CommandTestCase(ModuleDBTestCase):
    module = 'ev_charger_iot'

    @with_transaction()
    def test_check_params(self):
        """Each bad parameter is named with the words of message.xml (the
        rules themselves: test_command_params)"""
        self.assertEqual(check_params('UpdateFirmware', {
                    'location': 'firmware.bin',
                    'retrieve_date': '2026-03-02T10:00:00',
                    'checksum': 'abc'}), {
                'params.location': '"location" must be an absolute URI '
                'with a scheme and a host (e.g. '
                'https://firmware.example.com/4.0.1.bin), of at most 512 '
                'characters',
                'params.retrieve_date': '"retrieve_date" must be a date and '
                'time with its time zone (RFC 3339, e.g. '
                '2026-03-02T10:00:00Z)',
                'params.checksum': '"checksum" is not a parameter of '
                'UpdateFirmware (its parameters: firmware, location, '
                'retrieve_date)',
                })
        self.assertEqual(check_params('RemoteStartTransaction', {
                    'id_tag': 'T' * 37, 'connector_id': 3}, connectors=2), {
                'params.id_tag': '"id_tag" must be an id tag of 1 to 36 '
                'printable ASCII characters',
                'params.connector_id': '"connector_id" must be a whole '
                'number from 1 to 2',
                })
        self.assertEqual(check_params('RemoteStopTransaction', {}), {
                'params.transaction_id':
                '"transaction_id" or "connector_id" is required'})

    @with_transaction()
    def test_send_records_sender(self):
        "A command from the back office is pending, with who sent it"
        pool = Pool()
        Command = pool.get('ev.charger.command')
        Charger = pool.get('ev.charger')
        charger = create_charger('CP-CMD-1')
        user = operator('op-cmd-1')
        with as_user(user):
            Charger.reset([Charger(charger.id)])
        command, = Command.search([('charger', '=', charger.id)])
        self.assertEqual((command.action, command.state, command.params,
                command.sender), ('Reset', 'pending', {'type': 'Soft'}, user))
        self.assertEqual(len(command.uuid), 36)
        with as_user(user):
            self.assertEqual(Command.search([('mine', '=', True)]),
                [command])
        self.assertEqual(Command.search([('mine', '=', True)]), [])
        self.assertEqual(command.payload(), {'id': command.uuid,
                'action': 'Reset', 'params': {'type': 'Soft'}})

    @with_transaction()
    def test_bad_commands_refused(self):
        "Unknown actions and wrong types: a clear error naming the field"
        Command = Pool().get('ev.charger.command')
        create_charger('CP-CMD-2')
        with self.assertRaises(ValidationError) as cm:
            Command.send('CP-CMD-2', 'SelfDestruct', {})
        self.assertIn('SelfDestruct', cm.exception.message)
        with self.assertRaises(ValidationError) as cm:
            Command.send('CP-CMD-2', 'UnlockConnector',
                {'connector_id': 'one'})
        self.assertEqual(cm.exception.message, 'The command is not valid: '
            '"connector_id" must be a whole number from 1 to 1')
        with self.assertRaises(ValidationError) as cm:
            Command.send('CP-NOBODY', 'Reset', {})
        self.assertIn('CP-NOBODY', cm.exception.message)
        self.assertEqual(Command.search([], count=True), 0)

    @with_transaction()
    def test_every_door_validates(self):
        """RPC send, a record created as the buttons and campaigns do: the
        same rules, the charger's own connectors as the range"""
        pool = Pool()
        Command = pool.get('ev.charger.command')
        two = create_charger('CP-CMD-7', connectors=2)
        create_charger('CP-CMD-8', connectors=0)
        with self.assertRaises(ValidationError) as cm:
            Command.send('CP-CMD-7', 'UnlockConnector', {'connector_id': 3})
        self.assertEqual(cm.exception.message, 'The command is not valid: '
            '"connector_id" must be a whole number from 1 to 2')
        with self.assertRaises(ValidationError) as cm:
            Command.send('CP-CMD-7', 'Reset', {'type': 'Soft', 'when': 'now'})
        self.assertEqual(cm.exception.message, 'The command is not valid: '
            '"when" is not a parameter of Reset (its parameters: type)')
        self.assertEqual(Command.search([], count=True), 0)
        # Connectors unknown: up to the contract's 100
        Command.send('CP-CMD-8', 'UnlockConnector', {'connector_id': 3})
        Command.send('CP-CMD-7', 'UnlockConnector', {'connector_id': 2})
        self.assertEqual(Command.search([], count=True), 2)
        # (the failed create is rolled back with the request, not here)
        with self.assertRaises(ValidationError) as cm:
            Command.create([{'charger': two.id, 'action': 'UpdateFirmware',
                        'params': {'location': 'ftp:/fw/4.0.1.bin',
                            'retrieve_date': '2026-03-02T10:00:00+05:30'}}])
        self.assertEqual(cm.exception.message, 'The command is not valid: '
            '"location" must be an absolute URI with a scheme and a host '
            '(e.g. https://firmware.example.com/4.0.1.bin), of at most 512 '
            'characters')

    @with_transaction()
    def test_campaign_refuses_bad_location(self):
        "A campaign keeps no location a charger could not download from"
        Campaign = Pool().get('ev.charger.firmware_campaign')
        with self.assertRaises(ValidationError) as cm:
            Campaign.create([{'name': "Bad", 'firmware': '4.0.1',
                        'location': 'firmware/4.0.1.bin'}])
        self.assertEqual(cm.exception.message, 'The firmware campaign "Bad" '
            'cannot be sent to chargers: "location" must be an absolute URI '
            'with a scheme and a host (e.g. '
            'https://firmware.example.com/4.0.1.bin), of at most 512 '
            'characters')

    @with_transaction()
    def test_only_operators_send(self):
        "A user without the IoT operator group cannot send commands"
        pool = Pool()
        Command = pool.get('ev.charger.command')
        create_charger('CP-CMD-3')
        sales = create_user('sales-cmd', 'group_sales')
        with as_user(sales):
            with self.assertRaises(AccessError):
                Command.send('CP-CMD-3', 'Reset', {})
        with as_user(operator('op-cmd-3')):
            command, = Command.send('CP-CMD-3', 'Reset', {})
            with self.assertRaises(AccessError):
                Command.write([command], {'action': 'UnlockConnector'})

    @with_transaction()
    def test_results_and_timeout(self):
        """A result settles its command once; a result of another charger
        or of an unknown command is refused; no result times out"""
        pool = Pool()
        Command = pool.get('ev.charger.command')
        create_charger('CP-CMD-4')
        create_charger('CP-CMD-5')
        accepted, = Command.send('CP-CMD-4', 'Reset', {})
        silent, = Command.send('CP-CMD-4', 'Reset', {})
        refused = Command.apply_results([
                ('CP-CMD-4', accepted.uuid, 'Accepted', "ok"),
                ('CP-CMD-5', silent.uuid, 'Accepted', "not mine"),
                ('CP-CMD-4', 'no-such-id', 'Accepted', None),
                ])
        self.assertEqual([i for i, _ in refused], [1, 2])
        self.assertEqual(Command(accepted.id).state, 'accepted')
        self.assertEqual(Command(silent.id).state, 'pending')

        # A late result does not change a settled command
        Command.apply_results([
                ('CP-CMD-4', accepted.uuid, 'Failed', "late")])
        self.assertEqual(Command(accepted.id).state, 'accepted')

        requested = Command(silent.id).requested_at
        Command.time_out(now=requested + datetime.timedelta(seconds=119))
        self.assertEqual(Command(silent.id).state, 'pending')
        Command.time_out(now=requested + datetime.timedelta(seconds=121))
        silent = Command(silent.id)
        self.assertEqual(silent.state, 'failed')
        self.assertIn('timeout', silent.detail)
        self.assertEqual(Command(accepted.id).state, 'accepted')

    @with_transaction()
    def test_claim_pending(self):
        "The outbox hands each pending command out once"
        Command = Pool().get('ev.charger.command')
        create_charger('CP-CMD-6')
        Command.send('CP-CMD-6', 'Reset', {})
        Command.send('CP-CMD-6', 'TriggerMessage',
            {'requested_message': 'Heartbeat'})
        claimed = Command.claim_pending(10)
        self.assertEqual(len(claimed), 2)
        self.assertEqual({c.state for c in claimed}, {'sent'})
        self.assertEqual(Command.claim_pending(10), [])

    @with_transaction()
    def test_claim_pending_in_order(self):
        "Commands are handed out in the order they were requested"
        Command = Pool().get('ev.charger.command')
        create_charger('CP-CMD-7')
        first, = Command.send('CP-CMD-7', 'UpdateFirmware',
            {'location': 'https://firmware.example.com/4.0.1.bin'})
        second, = Command.send('CP-CMD-7', 'Reset', {})
        third, = Command.send('CP-CMD-7', 'TriggerMessage',
            {'requested_message': 'Heartbeat'})
        # A later version of the first row: PostgreSQL stores it after the
        # others, and the claim's RETURNING follows that storage order
        Command.write([first], {'params': {
                    'location': 'https://firmware.example.com/4.0.2.bin'}})
        self.assertEqual(Command.claim_pending(10), [first, second, third])

    @with_transaction()
    def test_firmware_campaign_progress(self):
        "A campaign sends UpdateFirmware to each charger and follows it"
        pool = Pool()
        Campaign = pool.get('ev.charger.firmware_campaign')
        Command = pool.get('ev.charger.command')
        Charger = pool.get('ev.charger')
        station = create_station()
        chargers = [create_charger(f'CP-FW-{i}', station=station)
            for i in range(3)]
        campaign, = Campaign.create([{
                    'name': "Spring 2026", 'firmware': '4.0.1',
                    'location': 'https://firmware.example.com/4.0.1.bin',
                    'lines': [('create', [{'charger': c.id}
                                for c in chargers])],
                    }])
        self.assertEqual({l.progress for l in campaign.lines}, {'waiting'})
        Campaign.start([campaign])
        campaign = Campaign(campaign.id)
        self.assertEqual(campaign.state, 'running')
        commands = [l.command for l in campaign.lines]
        self.assertEqual({(c.action, c.params['firmware']) for c in commands},
            {('UpdateFirmware', '4.0.1')})
        first, second, third = campaign.lines
        Command.apply_results([
                (first.charger.identity, first.command.uuid, 'Accepted', ''),
                (second.charger.identity, second.command.uuid, 'Rejected',
                    'busy'),
                ])
        # The first reboots on the new firmware (a boot message)
        Charger.write([first.charger], {'firmware': '4.0.1'})
        campaign = Campaign(campaign.id)
        self.assertEqual([l.progress for l in campaign.lines],
            ['installed', 'rejected', 'pending'])
        self.assertEqual((campaign.installed, campaign.failed,
                campaign.total), (1, 1, 3))

