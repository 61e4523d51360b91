# This file is part of the EV operations suite.
"""The parsers of a customer's phone and email, without a database: what the
intake and the contact form accept, and the form they keep"""
import unittest

import pytest

from trytond.modules.ev_lead.party import EMAIL, normalize_phone

pytestmark = pytest.mark.backend_independent


class PhoneTestCase(unittest.TestCase):
    "Phone numbers are kept in E.164"

    def test_national_number_read_in_region(self):
        self.assertEqual(normalize_phone('98450 12345', 'IN'), '+919845012345')
        self.assertEqual(normalize_phone('080 2222 3333', 'IN'),
            '+918022223333')
        self.assertEqual(normalize_phone('030 1234567', 'DE'),
            '+49301234567')

    def test_international_prefix_wins_over_region(self):
        self.assertEqual(normalize_phone('+91 98450-12345', 'DE'),
            '+919845012345')
        self.assertEqual(normalize_phone('+49 30 1234567', 'IN'),
            '+49301234567')

    def test_punctuation_ignored(self):
        self.assertEqual(normalize_phone('(+91) 98450.12345', 'IN'),
            '+919845012345')

    def test_invalid_numbers_refused(self):
        for value in ['12', '98450', 'call me', '+91 98450 12345 6789',
                '+999 1234567']:
            with self.subTest(value=value):
                self.assertIsNone(normalize_phone(value, 'IN'))

    def test_empty_is_none(self):
        self.assertIsNone(normalize_phone('', 'IN'))
        self.assertIsNone(normalize_phone(None, 'IN'))

    def test_a_national_number_of_another_region(self):
        "An Indian number without prefix is no number in France"
        self.assertIsNone(normalize_phone('98450 12345', 'FR'))
        self.assertIsNone(normalize_phone('080 2222 3333', 'SG'))


class EmailTestCase(unittest.TestCase):
    "The syntax of an email, never its deliverability"

    def test_valid(self):
        for value in ['meera@example.com', 'a.b+lead@mail.example.co.in']:
            with self.subTest(value=value):
                self.assertTrue(EMAIL.match(value))

    def test_invalid(self):
        for value in ['typo@example', 'no-at.example.com', 'a@b.c',
                'two words@example.com', 'a@@example.com', '@example.com']:
            with self.subTest(value=value):
                self.assertIsNone(EMAIL.match(value))
