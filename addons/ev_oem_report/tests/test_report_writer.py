# This file is part of the EV operations suite.
"""The data sheet's row writer against xlsxwriter's own cell writing.

DataSheet.row_writer puts a row into the sheet in one piece, past
write_string and write_number (report_writer.py says why). These tests
write the same cells both ways and compare the sheets' XML byte for byte,
with the strings that need xlsxwriter's escapes, then read the file back
with openpyxl. No database."""
import re
import tempfile
import unittest
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from openpyxl import load_workbook

from trytond.modules.ev_oem_report.report_writer import DataSheet

pytestmark = pytest.mark.backend_independent

# One string per case xlsxwriter escapes or marks
STRINGS = [
    "plain",
    "Tata & Sons <Pune>",
    ' leading space', 'trailing space ', '\ttab',
    'bell\x07and\x1fcontrol',
    'literal _x0041_ escape',
    'non-character \ufffe',
    'two\nlines',
    'quotes "and" apostrophes \'',
    'Ünïcödé ₹ 🔌 charger',
    'x' * 40000,             # past Excel's 32,767: truncated
    '🔌' * 20000,            # 40,000 UTF-16 units: truncated
    ]
NUMBERS = [0, 1, -3, 2.5, 45678.5416666667, 1e20, 123456789012, 0.25]


def columns_of(workbook):
    stamp = workbook.add_format({'num_format': 'yyyy-mm-dd hh:mm'})
    hours = workbook.add_format({'num_format': '0.00'})
    return [('string', None), ('number', stamp), ('number', None),
        ('string', hours), ('number', hours)]


def rows():
    "Rows of five cells, empty cells (None and '') among them"
    result = []
    for index, string in enumerate(STRINGS):
        number = NUMBERS[index % len(NUMBERS)]
        # Column B is formatted as a date: a serial day of 2025
        result.append([string, 45658 + index / 24,
                None if index % 3 else number,
                '' if index % 4 == 1 else string[:30], number])
    result.append([None, None, None, None, 7])
    return result


def build(path, fast):
    workbook = xlsxwriter.Workbook(path, {
            'constant_memory': True, 'strings_to_numbers': False,
            'strings_to_formulas': False, 'strings_to_urls': False})
    sheet = workbook.add_worksheet('Data', worksheet_class=DataSheet)
    columns = columns_of(workbook)
    heading = workbook.add_format({'bold': True})
    for position in range(len(columns)):
        sheet.write_string(0, position, f"Column {position}", heading)
    if fast:
        write = sheet.row_writer(columns)
    for number, values in enumerate(rows(), 1):
        if fast:
            write(number, values)
            continue
        for position, ((kind, cell_format), value) in enumerate(
                zip(columns, values)):
            if value is None or value == '':
                continue
            if kind == 'number':
                sheet.write_number(number, position, value, cell_format)
            else:
                sheet.write_string(number, position, value, cell_format)
    sheet.autofilter(0, 0, len(rows()), len(columns) - 1)
    workbook.close()


def excel_text(value):
    "A string cell's text as Excel shows it (openpyxl keeps _xHHHH_)"
    if not isinstance(value, str):
        return value
    return re.sub('_x([0-9A-F]{4})_', lambda m: chr(int(m.group(1), 16)),
        value)


def sheet_xml(path):
    with zipfile.ZipFile(path) as archive:
        return archive.read('xl/worksheets/sheet1.xml')


class RowWriterTestCase(unittest.TestCase):
    "The row writer writes what write_string and write_number write"

    def setUp(self):
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.directory = Path(directory.name)

    def test_same_xml_as_xlsxwriter(self):
        "Byte for byte the sheet xlsxwriter writes cell by cell"
        slow, fast = self.directory / 'slow.xlsx', self.directory / 'fast.xlsx'
        build(slow, fast=False)
        build(fast, fast=True)
        expected = sheet_xml(slow)
        # The cases are in the file: escaped, preserved, truncated
        for part in [b'Tata &amp; Sons &lt;Pune&gt;',
                b'<t xml:space="preserve"> leading space</t>',
                b'bell_x0007_and_x001F_control',
                b'literal _x005F_x0041_ escape',
                b'non-character _xFFFE_',
                b'<v>1E+20</v>',
                b'<dimension ref="A1:E15"/>']:
            self.assertIn(part, expected)
        self.assertEqual(sheet_xml(fast), expected)

    def test_read_back(self):
        "openpyxl reads the values back, truncated where Excel must"
        path = self.directory / 'fast.xlsx'
        build(path, fast=True)
        sheet = load_workbook(path, read_only=True)['Data']
        values = [tuple(map(excel_text, row))
            for row in sheet.iter_rows(values_only=True)]
        self.assertEqual(values[0], tuple(f"Column {i}" for i in range(5)))
        expected = rows()
        self.assertEqual(len(values), len(expected) + 1)
        for got, want in zip(values[1:-1], expected):
            self.assertEqual(got[2], want[2])
            self.assertEqual(got[4], want[4])
            self.assertEqual(got[3], want[3] or None)
        texts = [row[0] for row in values[1:-1]]
        self.assertEqual(texts[:11], STRINGS[:11])
        self.assertEqual(len(texts[11]), 32767)
        self.assertEqual(texts[12], '🔌' * 16383)
        self.assertEqual(values[-1], (None, None, None, None, 7))

    def test_rows_in_order(self):
        "A row before or at the last one written is refused"
        workbook = xlsxwriter.Workbook(
            str(self.directory / 'order.xlsx'), {'constant_memory': True})
        sheet = workbook.add_worksheet('Data', worksheet_class=DataSheet)
        write = sheet.row_writer([('string', None)])
        # xlsxwriter's write_string would take this for rich text
        write(3, ['<r>not rich text</r>'])
        with self.assertRaises(ValueError) as context:
            write(3, ['again'])
        self.assertEqual(str(context.exception),
            "row 3 is not after the rows written")
        workbook.close()
        sheet = load_workbook(self.directory / 'order.xlsx')['Data']
        self.assertEqual([c.value for c in sheet['A']],
            [None, None, None, '<r>not rich text</r>'])
