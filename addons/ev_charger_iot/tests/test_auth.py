# This file is part of the EV operations suite.
"""Who a charger is and who may charge: the OCPP password of a charger
(stored hashed, write-only) and the authorisation list of id tags"""
import datetime

from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.ev_station.tests.tools import (
    ModuleDBTestCase, as_user, create_station, create_user)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from .test_command import operator
from .test_health import create_charger

PASSWORD = 'Charger-Secret-0042'


class AuthTestCase(ModuleDBTestCase):
    module = 'ev_charger_iot'

    @with_transaction()
    def test_password_stored_hashed_and_write_only(self):
        """An IoT operator sets a charger's password; it is kept as a salted
        hash that nobody reads back, and only that password matches"""
        Charger = Pool().get('ev.charger')
        station = create_station()
        first = create_charger('CP-AUTH-1', station=station)
        second = create_charger('CP-AUTH-2', station=station)
        noc = operator('noc')
        with as_user(noc):
            Charger.write([first, second], {'ocpp_password': PASSWORD})
            # The attack: read the hash (to crack it offline), guess it
            # through searches, or plant one
            with self.assertRaises(AccessError) as read:
                Charger.read([first.id], ['ocpp_password_hash'])
            with self.assertRaises(AccessError) as search:
                Charger.search([('ocpp_password_hash', 'like', '$argon2%')])
            with self.assertRaises(AccessError) as write:
                Charger.write([first], {'ocpp_password_hash': 'known'})
            values, = Charger.read([first.id],
                ['ocpp_password', 'has_ocpp_password'])
        for refused in [read, search, write]:
            self.assertEqual(refused.exception.message,
                'You are not allowed to access '
                '"Charger.OCPP Password Hash".')
        self.assertEqual((values['ocpp_password'],
                values['has_ocpp_password']), (None, True))
        hashes = Charger.read([first.id, second.id], ['ocpp_password_hash'])
        first_hash, second_hash = (h['ocpp_password_hash'] for h in hashes)
        self.assertTrue(first_hash.startswith('$argon2'))
        self.assertNotIn(PASSWORD, first_hash)
        self.assertNotEqual(first_hash, second_hash)  # salted per charger
        self.assertTrue(Charger.check_ocpp_password('CP-AUTH-1', PASSWORD))
        self.assertFalse(Charger.check_ocpp_password('CP-AUTH-1',
                PASSWORD + 'x'))
        self.assertFalse(Charger.check_ocpp_password('CP-UNKNOWN', PASSWORD))

    @with_transaction()
    def test_new_password_ends_the_old_one(self):
        """A password verified before (and remembered by the process) stops
        matching once the operator sets a new one"""
        Charger = Pool().get('ev.charger')
        charger = create_charger('CP-AUTH-3', station=create_station())
        Charger.write([charger], {'ocpp_password': PASSWORD})
        for _ in range(2):  # the second time from what the process kept
            self.assertTrue(
                Charger.check_ocpp_password('CP-AUTH-3', PASSWORD))
            self.assertFalse(
                Charger.check_ocpp_password('CP-AUTH-3', PASSWORD[:-1]))
        Charger.write([charger], {'ocpp_password': PASSWORD + '-new'})
        self.assertFalse(Charger.check_ocpp_password('CP-AUTH-3', PASSWORD))
        self.assertTrue(
            Charger.check_ocpp_password('CP-AUTH-3', PASSWORD + '-new'))

    @with_transaction()
    def test_charger_without_password(self):
        "A charger without a password matches no password, not even empty"
        Charger = Pool().get('ev.charger')
        charger = create_charger('CP-AUTH-3')
        self.assertFalse(charger.has_ocpp_password)
        self.assertFalse(Charger.check_ocpp_password('CP-AUTH-3', ''))
        self.assertFalse(Charger.check_ocpp_password('CP-AUTH-3', PASSWORD))

    @with_transaction()
    def test_password_length(self):
        "OCPP passwords have 16 to 40 printable characters"
        Charger = Pool().get('ev.charger')
        charger = create_charger('CP-AUTH-4')
        for password in ['short-password', 'x' * 41, 'with a space 123456']:
            with self.assertRaises(ValidationError) as raised:
                Charger.write([charger], {'ocpp_password': password})
            self.assertEqual(raised.exception.message,
                'The OCPP password of "CP-AUTH-4" must have 16 to 40 '
                'printable ASCII characters without spaces (OCPP security '
                'profiles 1 and 2).')
        self.assertFalse(Charger(charger.id).has_ocpp_password)

    @with_transaction()
    def test_copy_leaves_the_password(self):
        Charger = Pool().get('ev.charger')
        charger = create_charger('CP-AUTH-5')
        Charger.write([charger], {'ocpp_password': PASSWORD})
        copy, = Charger.copy([charger], {'identity': 'CP-AUTH-6'})
        self.assertFalse(copy.has_ocpp_password)

    @with_transaction()
    def test_authorization_list(self):
        """Accepted for a known tag (whatever its case), Blocked, Expired,
        and Invalid for an unknown or archived one"""
        IdTag = Pool().get('ev.charger.id_tag')
        now = datetime.datetime(2026, 3, 2, 10, 0)
        later = now + datetime.timedelta(days=30)
        IdTag.create([
                {'tag': 'rfid-0001', 'expires': later},
                {'tag': 'RFID-LOST', 'blocked': True},
                {'tag': 'RFID-OLD', 'expires': now},
                {'tag': 'RFID-GONE', 'active': False},
                ])
        self.assertEqual(
            {tag: IdTag.authorize(tag, now) for tag in [
                    'RFID-0001', 'Rfid-0001', 'RFID-LOST', 'RFID-OLD',
                    'RFID-GONE', 'RFID-NEVER', 'BACKOFFICE']}, {
                'RFID-0001': ('Accepted', later),
                'Rfid-0001': ('Accepted', later),
                'RFID-LOST': ('Blocked', None),
                'RFID-OLD': ('Expired', now),
                'RFID-GONE': ('Invalid', None),
                'RFID-NEVER': ('Invalid', None),
                'BACKOFFICE': ('Accepted', None),  # the Remote Start button's
                })
        with self.assertRaises(ValidationError) as spaced:
            IdTag.create([{'tag': 'RFID 2'}])
        self.assertEqual(spaced.exception.message,
            'The id tag "RFID 2" is not valid: it has printable ASCII '
            'characters only, without spaces.')
        # Last: a failed INSERT ends the transaction
        with self.assertRaises(ValidationError) as twice:
            IdTag.create([{'tag': 'Rfid-0001'}])
        self.assertEqual(twice.exception.message,
            'An id tag can be only once in the authorisation list (tags '
            'are case-insensitive).')

    @with_transaction()
    def test_authorization_list_access(self):
        """IoT operators keep the list; other EV staff neither read nor add
        a tag (the attack: give oneself a card that charges)"""
        IdTag = Pool().get('ev.charger.id_tag')
        noc = operator('noc2')
        staff = create_user('support', 'group_ev')
        with as_user(noc):
            IdTag.create([{'tag': 'RFID-NOC'}])
        with as_user(staff):
            with self.assertRaises(AccessError) as create:
                IdTag.create([{'tag': 'RFID-MINE'}])
            with self.assertRaises(AccessError) as read:
                IdTag.search([])
        for refused in [create, read]:
            self.assertEqual(refused.exception.message,
                'You are not allowed to access "Id Tag".')
        self.assertEqual(IdTag.authorize('RFID-MINE')[0], 'Invalid')


del ModuleDBTestCase
