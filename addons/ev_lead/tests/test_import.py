# This file is part of the EV operations suite.
import csv
import io

import xlsxwriter

from trytond.exceptions import UserError
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

HEADER = ['oem_reference', 'customer_name', 'phone', 'email', 'street',
    'city', 'postal_code', 'state', 'country', 'vehicle_model', 'vin',
    'charger_model', 'quantity', 'site_type', 'notes']
GOOD = [
    ['MG-1', "Asha Rao", "98450 10001", "asha@example.com", "1 Hill Road",
        "Mysuru", "570001", "Karnataka", "IN", "ZS EV", "", "7.4 kW", "1",
        "home", ""],
    ['MG-2', "Ravi Iyer", "+91 98450 10002", "", "2 Lake View", "Pune",
        "411001", "", "IN", "Windsor", "", "", "2", "business", "Gate 3"],
    ]


def as_csv(rows, header=HEADER):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def as_xlsx(rows, header=HEADER):
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {'in_memory': True})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, header)
    for i, row in enumerate(rows, 1):
        # Quantities as numbers, as spreadsheets store them
        sheet.write_row(i, 0, [
                int(v) if h == 'quantity' and v.isdigit() else v
                for h, v in zip(header, row)])
    workbook.close()
    return out.getvalue()


class ImportTestCase(CompanyTestMixin, ModuleDBTestCase):
    "Spreadsheet import of an OEM's leads: all rows or none"
    module = 'ev_lead'

    def setup_oem(self):
        pool = Pool()
        Party = pool.get('party.party')
        Country = pool.get('country.country')
        Country(name="India", code='IN', code3='IND').save()
        oem = Party(name="MG Motor", ev_is_oem=True)
        oem.save()
        return oem

    def leads(self, oem):
        Lead = Pool().get('sale.opportunity')
        return Lead.search([('oem', '=', oem.id)], order=[('id', 'ASC')])

    def run_import(self, oem, data, filename):
        from trytond.modules.ev_lead.lead_import import import_leads
        return import_leads(oem, data, filename)

    @with_transaction()
    def test_import_csv_and_xlsx(self):
        company = create_company()
        with set_company(company):
            oem = self.setup_oem()
            created, skipped = self.run_import(oem, as_csv(GOOD), 'l.csv')
            self.assertEqual(len(created), 2)
            self.assertEqual(skipped, [])
            first, second = self.leads(oem)
            self.assertEqual(first.oem_reference, 'MG-1')
            self.assertEqual(second.charger_quantity, 2)
            self.assertEqual(second.site_type, 'business')
            mobile, = [m for m in first.party.contact_mechanisms
                if m.type == 'mobile']
            self.assertEqual(mobile.value, '+919845010001')

            # The same leads again, from XLSX, plus a new one
            rows = GOOD + [['MG-3', "Neha Jain", "98450 10003", "",
                    "3 Fort Road", "Jaipur", "302001", "", "IN", "Comet",
                    "", "", "1", "home", ""]]
            created, skipped = self.run_import(
                oem, as_xlsx(rows), 'leads.xlsx')
            self.assertEqual([l.oem_reference for l in created], ['MG-3'])
            self.assertEqual(sorted(skipped), ['MG-1', 'MG-2'])
            self.assertEqual(len(self.leads(oem)), 3)

    @with_transaction()
    def test_bad_rows_import_nothing_and_are_all_listed(self):
        company = create_company()
        with set_company(company):
            oem = self.setup_oem()
            bad = [list(r) for r in GOOD] + [
                ['MG-9', "", "12", "x@", "", "Pune", "411001", "", "ZZ",
                    "Nexon", "", "", "0", "castle", ""],
                list(GOOD[0]),
                ]
            for data, name in [(as_csv(bad), 'bad.csv'),
                    (as_xlsx(bad), 'bad.xlsx')]:
                with self.assertRaises(UserError) as context:
                    self.run_import(oem, data, name)
                message = context.exception.message
                self.assertIn('2 rows are wrong', message)
                self.assertIn('Row 4:', message)
                for reason in ['name is required', 'phone is not a valid',
                        'email is not a valid', 'street is required',
                        'country is not an ISO', 'quantity must be',
                        "site_type must be"]:
                    self.assertIn(reason, message)
                self.assertIn('Row 5: oem_reference is already on row 2',
                    message)
                self.assertEqual(self.leads(oem), [])

    @with_transaction()
    def test_missing_columns_and_unreadable_files(self):
        company = create_company()
        with set_company(company):
            oem = self.setup_oem()
            with self.assertRaisesRegex(UserError, 'lacks the columns: phone'):
                self.run_import(oem, as_csv(
                        [r[:2] + r[3:] for r in GOOD],
                        HEADER[:2] + HEADER[3:]), 'l.csv')
            with self.assertRaisesRegex(UserError, 'cannot be read'):
                self.run_import(oem, b'PK\x03\x04 broken', 'l.xlsx')
            with self.assertRaisesRegex(UserError, 'no lead to import'):
                self.run_import(oem, as_csv([]), 'l.csv')
            self.assertEqual(self.leads(oem), [])
