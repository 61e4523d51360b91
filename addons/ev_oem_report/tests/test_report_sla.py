# This file is part of the EV operations suite.
"""The report's SLA per transition is the leads' SLA clocks: a hand-built
March across weekends, where wall-clock hours and business hours (Mon-Fri
09:00-18:00 UTC) give opposite verdicts, read back from the XLSX.

    W-1  received Fri 6 Mar 17:00, contacted Mon 9 Mar 10:00: 65 wall
         hours, 2 business hours of 4 (met); survey scheduled Mon 16:00
         (6 of 9, met)
    W-2  received Thu 5 Mar 16:00, contacted Fri 6 Mar 15:00: 23 wall
         hours, 8 business hours (breached Fri 11:00); the survey never
         scheduled (breached by the cron on Mon 9 Mar 15:00)
    W-3  received Tue 31 Mar 16:00, not contacted (2 of 4: running)
    W-4  received Fri 27 Feb 17:00, contacted Mon 2 Mar 09:30 (1.5, met),
         cancelled Mon 2 Mar 17:30 (its clocks paused)
"""
import csv
import datetime as dt
import io
from unittest.mock import patch

import openpyxl

from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.modules.ev_oem_report import sla_lead
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_sla_lead import (
    create_calendar, create_lead, create_oem, create_targets)

T = dt.datetime
METRICS = ['lead_first_contact', 'lead_survey_scheduled',
    'lead_installation', 'lead_closure', 'lead_end_to_end']
START, END = dt.date(2026, 3, 1), dt.date(2026, 3, 31)
TRANSITIONS = ["Lead → First Contact", "First Contact → Survey Scheduled",
    "Survey → Installation", "Installation → Closure",
    "Lead → Closure (End to End)"]
# Transition: target, met, breached, running, paused, compliance, average
SUMMARY = [
    [4, 2, 1, 1, 0, 0.6667, 3.83],
    [9, 1, 1, 0, 1, 0.5, 6],
    [18, 0, 0, 0, 0, None, None],
    [9, 0, 0, 0, 0, None, None],
    [200, 0, 0, 3, 1, None, None],
    ]
# Lead: (verdict, business hours) per transition
DATA = {
    'W-1': [("Met", 2), ("Met", 6), (None, None), (None, None),
        ("Running", None)],
    'W-2': [("Breached", 8), ("Breached", None), (None, None), (None, None),
        ("Running", None)],
    'W-3': [("Running", None), (None, None), (None, None), (None, None),
        ("Running", None)],
    'W-4': [("Met", 1.5), ("Paused", None), (None, None), (None, None),
        ("Paused", None)],
    }


def set_contacted(lead, at):
    Lead = Pool().get('sale.opportunity')
    with patch.object(sla_lead, 'now', return_value=at):
        Lead.write([lead], {'contacted_at': at, 'state': 'contacted'})


def build_march():
    "The leads above, their clocks driven by the engine at their moments"
    pool = Pool()
    Lead = pool.get('sale.opportunity')
    Clock = pool.get('ev.sla.clock')
    Config = pool.get('ev.oem.report.config')
    company = create_company()
    with set_company(company):
        calendar = create_calendar()
        tata = create_oem("Tata Motors", 'TATA')
        create_targets('TATA', calendar, lead_first_contact=4,
            lead_survey_scheduled=9, lead_installation=18, lead_closure=9,
            lead_end_to_end=200)
        w1 = create_lead(company, tata, 'W-1', at=T(2026, 3, 6, 17))
        w2 = create_lead(company, tata, 'W-2', at=T(2026, 3, 5, 16))
        w3 = create_lead(company, tata, 'W-3', at=T(2026, 3, 31, 16))
        w4 = create_lead(company, tata, 'W-4', at=T(2026, 2, 27, 17))
        leads = [w1, w2, w3, w4]
        # The report's received is the lead's creation, the clocks' start
        lead = Lead.__table__()
        cursor = Transaction().connection.cursor()
        for record in leads:
            clock, = Clock.get_clocks([record], 'lead_first_contact')
            cursor.execute(*lead.update([lead.create_date],
                    [clock.started_at], where=lead.id == record.id))
        set_contacted(w4, T(2026, 3, 2, 9, 30))
        with patch.object(sla_lead, 'now', return_value=T(2026, 3, 2, 17, 30)):
            Lead.write([w4], {'state': 'cancelled'})
        set_contacted(w2, T(2026, 3, 6, 15))
        set_contacted(w1, T(2026, 3, 9, 10))
        # What the survey job's scheduling does (sla_lead.sla_follow_jobs)
        Clock.stop([w1], 'lead_survey_scheduled', at=T(2026, 3, 9, 16))
        Clock.check_due(now=T(2026, 4, 1))
        config, = Config.create([{
                    'name': "Tata Motors monthly",
                    'company': company.id,
                    'oem': tata.id,
                    'next_period_start': START,
                    'columns': ['number', 'oem_reference'] + [
                        f'{m}{p}' for m in METRICS for p in ['', '_hours']],
                    }])
    return company, config, leads


class ReportSlaTestCase(CompanyTestMixin, ModuleDBTestCase):
    "OEM reports: the SLA per transition from the leads' clocks"
    module = 'ev_oem_report'

    def generate(self, company, config, leads):
        Report = Pool().get('ev.oem.report')
        with set_company(company):
            report, = Report.create([{'config': config.id,
                        'period_start': START, 'period_end': END}])
            Report.generate([report])
        return Report(report.id)

    @with_transaction()
    def test_xlsx_clock_verdicts_across_weekends(self):
        "The XLSX gives the clocks' verdicts and business hours exactly"
        company, config, leads = build_march()
        report = self.generate(company, config, leads)
        self.assertEqual(report.lead_count, 4)
        book = openpyxl.load_workbook(io.BytesIO(report.file))

        summary = [list(r) for r in book["Summary"].iter_rows(
                values_only=True)]
        start = [r[0] for r in summary].index("Transition")
        self.assertEqual(summary[start][:8], ["Transition",
                "Target (business hours)", "Met", "Breached", "Running",
                "Paused", "Compliance", "Average (business hours)"])
        self.assertEqual([r[:8] for r in summary[start + 1:start + 6]],
            [[name] + figures for name, figures in zip(
                    TRANSITIONS, SUMMARY)])

        header, *rows = book["Data"].iter_rows(values_only=True)
        columns = [header.index(f"{p} {name}")
            for name in TRANSITIONS
            for p in ["SLA", "Business Hours"]]
        reference = header.index("OEM Reference")
        self.assertEqual({r[reference]: [r[i] for i in columns]
                for r in rows},
            {ref: [v for pair in cells for v in pair]
                for ref, cells in DATA.items()})

        # The API's figures are the same
        self.assertEqual(report.summary['transitions']['lead_first_contact'],
            {'target_hours': 4, 'met': 2, 'breached': 1, 'running': 1,
                'paused': 0, 'compliance': 0.6667,
                'average_business_hours': 3.83})

    @with_transaction()
    def test_report_and_sla_page_agree(self):
        "Each lead's verdicts in the report are its clocks' on the lead"
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        company, config, leads = build_march()
        report = self.generate(company, config, leads)
        book = openpyxl.load_workbook(io.BytesIO(report.file))
        header, *rows = book["Data"].iter_rows(values_only=True)
        reference = header.index("OEM Reference")
        first = header.index("SLA Lead → First Contact")
        hours = header.index("Business Hours Lead → First Contact")
        states = {'met': "Met", 'breached': "Breached",
            'running': "Running", 'paused': "Paused"}
        for lead in Lead.browse(leads):
            clock, = [c for c in lead.sla_clocks
                if c.metric == 'lead_first_contact']
            row, = [r for r in rows if r[reference] == lead.oem_reference]
            self.assertEqual((row[first], row[hours]), (
                    states[clock.state],
                    clock.business_hours if clock.stopped_at else None),
                lead.oem_reference)

    @with_transaction()
    def test_csv_clock_verdicts(self):
        "The CSV's SLA columns are the clocks' verdicts and hours"
        company, config, leads = build_march()
        config.file_format = 'csv'
        config.columns = ['oem_reference', 'lead_first_contact',
            'lead_first_contact_hours']
        config.save()
        report = self.generate(company, config, leads)
        rows = list(csv.reader(io.StringIO(report.file.decode('utf-8-sig'))))
        self.assertEqual(rows, [
                ["OEM Reference", "SLA Lead → First Contact",
                    "Business Hours Lead → First Contact"],
                ['W-1', 'Met', '2.00'],
                ['W-2', 'Breached', '8.00'],
                ['W-3', 'Running', ''],
                ['W-4', 'Met', '1.50'],
                ])
