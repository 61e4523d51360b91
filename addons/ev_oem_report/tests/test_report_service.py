# This file is part of the EV operations suite.
"""The open issues of an OEM report, with ev_service: the open service cases
on the stations of the OEM's leads."""
import datetime as dt
import io

import openpyxl

from trytond.modules.company.tests import set_company
from trytond.modules.ev_station.tests.tools import (
    ModuleDBTestCase, create_station)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_report import generate
from .report_tools import setup_month


def add_cases(station, states):
    """Service cases of the station in these states, by SQL: their flow is
    ev_service's, their state is the point here"""
    Case = Pool().get('ev.service.case')
    table = Case.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.insert(
            [table.company, table.station, table.origin, table.description,
                table.reported_at, table.state, table.create_uid,
                table.create_date],
            [[Transaction().context['company'], station.id, 'manual',
                    "Charger offline", dt.datetime(2026, 3, 15), state, 0,
                    dt.datetime(2026, 3, 15)]
                for state in states]))


class ReportServiceTestCase(ModuleDBTestCase):
    "OEM reports with ev_service activated"
    module = ['ev_oem_report', 'ev_service']

    @with_transaction()
    def test_open_issues(self):
        "Open cases on the OEM's stations count; closed ones, others' don't"
        company, tata, mg, (config, _), leads = setup_month()
        with set_company(company):
            add_cases(create_station(lead=leads['T-1']),
                ['reported', 'diagnosis', 'closed', 'cancelled'])
            add_cases(create_station(lead=leads['T-2']), ['visit'])
            add_cases(create_station(lead=leads['M-1']), ['reported'])
            report = generate(config)
        self.assertEqual(report.summary['open_issues'], 3)
        book = openpyxl.load_workbook(io.BytesIO(report.file))
        by_label = {row[0]: row[1] for row in
            book["Summary"].iter_rows(values_only=True) if row[0]}
        self.assertEqual(by_label["Open Issues"], 3)
