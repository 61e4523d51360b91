# This file is part of the EV operations suite.
"""The parameters of the remote commands (contract.COMMANDS): plain unit
tests, no database. Each error is the message id of message.xml and its
variables; the test also checks that message.xml words each of them."""
import json
import os
import re
import unittest
import xml.etree.ElementTree as ET

import pytest

from trytond.modules.ev_charger_iot.contract import (
    COMMANDS, Message, command_errors, parse)

pytestmark = pytest.mark.backend_independent

MESSAGES = {
    record.get('id'): record.find("field[@name='text']").text
    for record in ET.parse(os.path.join(os.path.dirname(__file__), '..',
            'message.xml')).iter('record')}
ACTIONS = ('Reset, RemoteStartTransaction, RemoteStopTransaction, '
    'UnlockConnector, UpdateFirmware, TriggerMessage')
TRIGGERS_16 = ('BootNotification, DiagnosticsStatusNotification, '
    'FirmwareStatusNotification, Heartbeat, MeterValues, StatusNotification')
TRIGGERS_201 = ('BootNotification, FirmwareStatusNotification, Heartbeat, '
    'LogStatusNotification, MeterValues, PublishFirmwareStatusNotification, '
    'SignChargingStationCertificate, SignCombinedCertificate, '
    'SignV2GCertificate, StatusNotification, TransactionEvent')


def uri_error(name='location'):
    return ('msg_command_param_uri', {'name': name, 'size': 512})


def datetime_error(name='retrieve_date'):
    return ('msg_command_param_datetime', {'name': name})


class CommandParamsTestCase(unittest.TestCase):

    def assertErrors(self, action, params, expected, **scope):
        errors = command_errors(action, params, **scope)
        self.assertEqual(errors, expected)
        for message, variables in errors.values():
            # message.xml words it with these variables, no more
            self.assertIn(message, MESSAGES)
            self.assertLessEqual(
                set(re.findall(r'%\((\w+)\)s', MESSAGES[message])),
                set(variables))

    def test_valid_commands(self):
        "The commands of the buttons, the campaigns and the API examples"
        for action, params in [
                ('Reset', {}),
                ('Reset', {'type': 'Hard'}),
                ('RemoteStartTransaction', {'id_tag': 'BACKOFFICE',
                        'connector_id': 1}),
                ('RemoteStartTransaction', {'id_tag': 'A' * 36}),
                ('RemoteStopTransaction', {'transaction_id': 0}),
                ('RemoteStopTransaction', {'connector_id': 2}),
                ('UnlockConnector', {'connector_id': 100}),
                ('UpdateFirmware', {'location': 'https://fw.example.com/4.bin',
                        'retrieve_date': '2026-03-02T10:00:00Z',
                        'firmware': '4.0.1'}),
                ('UpdateFirmware', {
                        'location': 'ftp://user@10.0.0.5:2121/fw/4.bin',
                        'retrieve_date': '2026-03-02T15:30:00.25+05:30'}),
                ('UpdateFirmware', {'location':
                        'https://fw.example.com/4.bin?sig=a%20b&x=1'}),
                ('TriggerMessage', {'requested_message': 'StatusNotification',
                        'connector_id': 1}),
                ('RemoteStartTransaction', {'id_tag': 'TAG',
                        'connector_id': None}),
                ]:
            with self.subTest(action=action, params=params):
                self.assertErrors(action, params, {})

    def test_action_and_params(self):
        "Unknown or missing actions, params that are not an object"
        self.assertErrors('SelfDestruct', {}, {'action': (
                    'msg_command_action_unknown',
                    {'action': 'SelfDestruct', 'actions': ', '.join(
                            sorted(ACTIONS.split(', ')))})})
        self.assertEqual(set(command_errors(['Reset'], {})), {'action'})
        self.assertEqual(set(command_errors(42, {})), {'action'})
        self.assertErrors(None, {}, {'action': (
                    'msg_command_param_required', {'name': 'action'})})
        self.assertErrors('Reset', [1], {'params': (
                    'msg_command_params_object', {})})
        self.assertErrors('Reset', 'Hard', {'params': (
                    'msg_command_params_object', {})})
        self.assertEqual(set(COMMANDS), set(ACTIONS.split(', ')))

    def test_unknown_params(self):
        "A parameter the action does not have is refused, never ignored"
        self.assertErrors('Reset', {'type': 'Soft', 'delay': 5}, {
                'params.delay': ('msg_command_param_unknown', {
                        'name': 'delay', 'action': 'Reset',
                        'names': 'type'})})
        self.assertErrors('UpdateFirmware', {
                'location': 'https://fw.example.com/4.bin', 'retries': 3,
                7: 'x'}, {
                'params.retries': ('msg_command_param_unknown', {
                        'name': 'retries', 'action': 'UpdateFirmware',
                        'names': 'firmware, location, retrieve_date'}),
                'params.7': ('msg_command_param_unknown', {
                        'name': '7', 'action': 'UpdateFirmware',
                        'names': 'firmware, location, retrieve_date'})})

    def test_required(self):
        self.assertErrors('RemoteStartTransaction', {'connector_id': 1}, {
                'params.id_tag': ('msg_command_param_required',
                    {'name': 'id_tag'})})
        self.assertErrors('UnlockConnector', {}, {
                'params.connector_id': ('msg_command_param_required',
                    {'name': 'connector_id'})})
        self.assertErrors('UpdateFirmware', {'location': None}, {
                'params.location': ('msg_command_param_required',
                    {'name': 'location'})})
        self.assertErrors('RemoteStopTransaction', {}, {
                'params.transaction_id': ('msg_command_param_one_of',
                    {'names': '"transaction_id" or "connector_id"'})})

    def test_location(self):
        "An absolute URI: a scheme and a host, no blanks, 512 at most"
        for location in ['firmware.bin', '/srv/fw/4.bin', 'fw.example.com/4',
                'https://', 'http://:80/4.bin', 'file:///etc/passwd',
                'javascript:alert(1)', 'https://fw.example.com/4 .bin',
                ' https://fw.example.com/4.bin', 'https://[::1/4.bin',
                'https://fw.example.com/\n4.bin', '1http://fw.example.com/',
                'https://fw.example.com/' + 'a' * 490, '', 42,
                ['https://fw.example.com/4.bin']]:
            with self.subTest(location=location):
                self.assertErrors('UpdateFirmware', {'location': location},
                    {'params.location': uri_error()})
        self.assertErrors('UpdateFirmware', {
                'location': 'https://fw.example.com/' + 'a' * 489}, {})

    def test_retrieve_date(self):
        "RFC 3339 with its time zone, a real day, years 2000 to 2100"
        for value in ['2026-03-02T10:00:00', '2026-03-02', 'soon',
                '2026-03-02 10:00:00Z', '2026-02-30T10:00:00Z',
                '2026-03-02T10:00:00+0530', '20260302T100000Z',
                '1999-12-31T23:59:59Z', '2026-03-02T25:00:00Z',
                1772445600, '']:
            with self.subTest(retrieve_date=value):
                self.assertErrors('UpdateFirmware', {
                        'location': 'https://fw.example.com/4.bin',
                        'retrieve_date': value},
                    {'params.retrieve_date': datetime_error()})

    def test_id_tag(self):
        """1.6 idTag is at most 20 characters, 2.0.1 IdToken 36: the back
        office (version unknown) accepts 36, the gateway its version's"""
        tag_21 = {'id_tag': 'T' * 21}
        self.assertErrors('RemoteStartTransaction', tag_21, {})
        self.assertErrors('RemoteStartTransaction', tag_21, {},
            protocol='2.0.1')
        self.assertErrors('RemoteStartTransaction', tag_21, {
                'params.id_tag': ('msg_command_param_id_tag',
                    {'name': 'id_tag', 'size': 20})}, protocol='1.6')
        for tag in ['T' * 37, '', 'TAG\n', 'TÄG', 42]:
            with self.subTest(id_tag=tag):
                self.assertErrors('RemoteStartTransaction', {'id_tag': tag},
                    {'params.id_tag': ('msg_command_param_id_tag',
                            {'name': 'id_tag', 'size': 36})})

    def test_connector_ids(self):
        "Whole numbers from 1 to the charger's highest connector when known"
        def error(maximum):
            return {'params.connector_id': ('msg_command_param_integer',
                    {'name': 'connector_id', 'minimum': 1,
                        'maximum': maximum})}
        for value in [0, -1, 101, '1', 1.0, True]:
            with self.subTest(connector_id=value):
                self.assertErrors('UnlockConnector',
                    {'connector_id': value}, error(100))
        self.assertErrors('UnlockConnector', {'connector_id': 2}, {},
            connectors=2)
        self.assertErrors('UnlockConnector', {'connector_id': 3}, error(2),
            connectors=2)
        self.assertErrors('RemoteStartTransaction', {'id_tag': 'TAG',
                'connector_id': 3}, error(2), connectors=2)
        self.assertErrors('TriggerMessage', {
                'requested_message': 'MeterValues', 'connector_id': 0},
            error(100))
        self.assertErrors('RemoteStopTransaction', {
                'transaction_id': 2 ** 31}, {'params.transaction_id': (
                    'msg_command_param_integer', {'name': 'transaction_id',
                        'minimum': 0, 'maximum': 2 ** 31 - 1})})

    def test_choices(self):
        "Reset types; the messages a version can trigger"
        self.assertErrors('Reset', {'type': 'Kick'}, {'params.type': (
                    'msg_command_param_choice',
                    {'name': 'type', 'choices': 'Hard, Soft'})})
        diagnostics = {'requested_message': 'DiagnosticsStatusNotification'}
        self.assertErrors('TriggerMessage', diagnostics, {})
        self.assertErrors('TriggerMessage', diagnostics, {}, protocol='1.6')
        self.assertErrors('TriggerMessage', diagnostics, {
                'params.requested_message': ('msg_command_param_choice', {
                        'name': 'requested_message',
                        'choices': TRIGGERS_201})}, protocol='2.0.1')
        self.assertErrors('TriggerMessage',
            {'requested_message': 'TransactionEvent'}, {
                'params.requested_message': ('msg_command_param_choice', {
                        'name': 'requested_message',
                        'choices': TRIGGERS_16})}, protocol='1.6')
        self.assertEqual(set(command_errors('TriggerMessage',
                    {'requested_message': 'Coffee'})),
            {'params.requested_message'})

    def test_firmware_text(self):
        self.assertErrors('UpdateFirmware', {
                'location': 'https://fw.example.com/4.bin',
                'firmware': 'x' * 257}, {'params.firmware': (
                    'msg_command_param_text',
                    {'name': 'firmware', 'size': 256})})

    def test_results_still_parse(self):
        "The command checks live beside the parsers and leave them alone"
        self.assertEqual(parse('ev/CP-1/cmd/result', json.dumps({
                        'id': 'c-1', 'status': 'Failed',
                        'detail': "CALLERROR InternalError: busy"})),
            Message('cmd/result', 'CP-1', {'id': 'c-1', 'status': 'Failed',
                    'detail': "CALLERROR InternalError: busy"}))
