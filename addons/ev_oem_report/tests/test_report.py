# This file is part of the EV operations suite.
"""OEM reports on a hand-built month: the XLSX read back with openpyxl (its
summary and data sheets), the CSV, the cron's one report per OEM and
period, the email, and an OEM's user kept to its own reports."""
import csv
import datetime as dt
import email
import email.policy
import io

import openpyxl

from trytond.model.exceptions import AccessError, ValidationError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import CompanyTestMixin, set_company
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from .report_tools import (
    COUNTS, END, LEADS, REASONS, ROWS, START, TRANSITIONS, setup_month)

LABELS = {
    'received': "Leads Received", 'contacted': "Leads Contacted",
    'surveyed': "Leads Surveyed", 'installed': "Leads Installed",
    'closed': "Leads Closed", 'cancelled': "Leads Cancelled (with Reasons)",
    }
TRANSITION_LABELS = {
    'lead_first_contact': "Lead → First Contact",
    'lead_survey_scheduled': "First Contact → Survey Scheduled",
    'lead_installation': "Survey → Installation",
    'lead_closure': "Installation → Closure",
    'lead_end_to_end': "Lead → Closure (End to End)",
    }
HEADER = ["Lead", "OEM Reference", "Status", "Received", "Contacted",
    "Surveyed", "Installed", "Closed", "Cancelled", "Cancellation Reason",
    "Charger Model", "Chargers", "Site Type"]


def create_user(login, *groups, oem=None, company=None):
    pool = Pool()
    User = pool.get('res.user')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    user = User(login=login, name=login.title(), ev_oem=oem,
        groups=[Group(ModelData.get_id(*g.split('.'))) for g in groups])
    if company:
        user.companies = [company]
        user.company = company
    user.save()
    return user


def generate(config, start=START, end=END):
    Report = Pool().get('ev.oem.report')
    report, = Report.create([{
                'config': config.id, 'period_start': start,
                'period_end': end}])
    Report.generate([report])
    return Report(report.id)


def expected_row(reference, leads):
    "The data row of a lead of report_tools.LEADS, as openpyxl reads it"
    (received, contacted, surveyed, installed, closure, cancelled,
        reason, _) = LEADS[reference]
    lead = leads[reference]
    status = ('cancelled' if cancelled else 'handed_over' if surveyed
        else 'contacted' if contacted else 'new')
    return [lead.number, reference, status, received, contacted, surveyed,
        installed, closure, cancelled,
        reason.splitlines()[0] if reason else None, "7.4 kW AC", 1, 'home']


class ReportTestCase(CompanyTestMixin, ModuleDBTestCase):
    "OEM reports: figures, files, schedule, email and access"
    module = 'ev_oem_report'

    @with_transaction()
    def test_xlsx_figures(self):
        "The XLSX's summary and data sheets give the month's figures"
        company, tata, mg, (config, _), leads = setup_month()
        with set_company(company):
            report = generate(config)
        self.assertEqual(report.state, 'done')
        self.assertEqual(report.lead_count, len(ROWS))
        self.assertEqual(report.file_name,
            'tata-motors-monthly-20260301-20260331.xlsx')
        book = openpyxl.load_workbook(io.BytesIO(report.file))
        self.assertEqual(book.sheetnames, ["Summary", "Data"])

        data = list(book["Data"].iter_rows(values_only=True))
        self.assertEqual(list(data[0]), HEADER)
        self.assertEqual([list(r) for r in data[1:]],
            [expected_row(r, leads) for r in ROWS])

        summary = list(book["Summary"].iter_rows(values_only=True))
        self.assertEqual(summary[0][0], "OEM report: Tata Motors monthly")
        by_label = {row[0]: row[1:] for row in summary if row[0]}
        self.assertEqual(by_label["OEM"][0], "Tata Motors")
        self.assertEqual(by_label["Period start"][0], dt.datetime(2026, 3, 1))
        self.assertEqual(by_label["Period end"][0], dt.datetime(2026, 3, 31))
        for name, count in COUNTS.items():
            self.assertEqual(by_label[LABELS[name]][0], count, name)
        self.assertEqual(by_label["Open Issues"][0], None)
        self.assertEqual(list(by_label["Transition"][:7]), [
                "Target (business hours)", "Met", "Breached", "Running",
                "Paused", "Compliance", "Average (business hours)"])
        for name, target in TRANSITIONS.items():
            self.assertEqual(list(by_label[TRANSITION_LABELS[name]][:7]),
                [target, 0, 0, 0, 0, None, None], name)
        self.assertEqual(list(by_label["Cancellation reason"][:1]),
            ["Leads"])
        for reason, count in REASONS.items():
            self.assertEqual(by_label[reason][0], count, reason)
        # The same figures for the API
        self.assertEqual(report.summary['received'], 6)
        self.assertEqual(
            report.summary['transitions']['lead_survey_scheduled'], {
                'target_hours': 48, 'met': 0, 'breached': 0, 'running': 0,
                'paused': 0, 'compliance': None,
                'average_business_hours': None})
        self.assertEqual(report.summary['cancellation_reasons'], REASONS)

    @with_transaction()
    def test_xlsx_chosen_metrics_and_columns(self):
        "Only the configuration's metrics and columns, in the list's order"
        company, tata, mg, (config, _), leads = setup_month()
        config.metrics = ['installed', 'sla_compliance']
        config.columns = ['oem_reference', 'installed']
        config.save()
        with set_company(company):
            report = generate(config)
        book = openpyxl.load_workbook(io.BytesIO(report.file))
        data = [list(r) for r in book["Data"].iter_rows(values_only=True)]
        self.assertEqual(data, [["OEM Reference", "Installed"]] + [
                [r, LEADS[r][3]] for r in ROWS])
        summary = [r[0] for r in book["Summary"].iter_rows(values_only=True)
            if r[0]]
        self.assertEqual(summary[5:], ["Metric", "Leads Installed",
                "Transition"] + list(TRANSITION_LABELS.values()))

    @with_transaction()
    def test_csv_figures(self):
        "The CSV is the data sheet; the summary is the report's"
        company, tata, mg, (config, _), leads = setup_month()
        config.file_format = 'csv'
        config.save()
        with set_company(company):
            report = generate(config)
        self.assertEqual(report.file_name,
            'tata-motors-monthly-20260301-20260331.csv')
        rows = list(csv.reader(io.StringIO(report.file.decode('utf-8-sig'))))
        self.assertEqual(rows[0], HEADER)

        def text(value):
            if value is None:
                return ''
            if isinstance(value, dt.datetime):
                return value.isoformat(sep=' ')
            return str(value)
        self.assertEqual(rows[1:], [[text(v) for v in expected_row(r, leads)]
                for r in ROWS])
        self.assertEqual({k: report.summary[k] for k in COUNTS}, COUNTS)

    @with_transaction()
    def test_period_end_before_start(self):
        "A period that ends before it starts is refused, saying so"
        pool = Pool()
        Report = pool.get('ev.oem.report')
        company, tata, mg, (config, _), leads = setup_month()
        with self.assertRaises(ValidationError) as cm:
            Report.create([{'config': config.id,
                        'period_start': dt.date(2026, 3, 31),
                        'period_end': dt.date(2026, 3, 1)}])
        self.assertEqual(cm.exception.message,
            "The report period cannot end (2026-03-01) before it starts "
            "(2026-03-31).")

    @with_transaction()
    def test_one_report_per_period(self):
        "The same configuration and period twice is refused"
        company, tata, mg, (config, _), leads = setup_month()
        generate(config)
        with self.assertRaises(Exception) as cm:
            generate(config)
        self.assertEqual(cm.exception.message,
            "This configuration has a report for that period already.")

    @with_transaction()
    def test_cron_twice_one_report_per_oem_and_period(self):
        "The cron run twice gives one report per OEM and ended period"
        pool = Pool()
        Report = pool.get('ev.oem.report')
        Config = pool.get('ev.oem.report.config')
        Email = pool.get('ev.oem.report.email')
        Date = pool.get('ir.date')
        company, tata, mg, configs, leads = setup_month()
        today = Date.today()
        last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(
            day=1)
        Config.write(configs, {'next_period_start': last_month})
        self.assertEqual({c.next_run for c in Config.browse(configs)},
            {today.replace(day=1)})
        with set_company(company):
            first = Report.generate_due()
            second = Report.generate_due()
        self.assertEqual(len(first), 2)
        self.assertEqual(second, [])
        reports = Report.search([])
        self.assertEqual(sorted((r.oem.name, r.period_start, r.period_end)
                for r in reports), sorted((oem, last_month,
                    today.replace(day=1) - dt.timedelta(days=1))
                for oem in ["Tata Motors", "MG Motor"]))
        self.assertEqual({r.state for r in reports}, {'done'})
        for config in Config.browse(configs):
            self.assertEqual(config.next_period_start, today.replace(day=1))
        # One email per report, to the configuration's address
        emails = Email.search([])
        self.assertEqual(sorted(e.recipient for e in emails),
            ['reports@mg.example.com', 'reports@tata.example.com'])

    @with_transaction()
    def test_cron_weekly_from_mid_week(self):
        "A weekly report from mid-week: a short first week, then whole ones"
        pool = Pool()
        Report = pool.get('ev.oem.report')
        Config = pool.get('ev.oem.report.config')
        Date = pool.get('ir.date')
        company, tata, mg, (config, other), leads = setup_month()
        today = Date.today()
        start = today - dt.timedelta(days=17)
        if start.weekday() == 0:
            start += dt.timedelta(days=1)
        Config.write([config], {'frequency': 'weekly',
                'next_period_start': start})
        Config.write([other], {'active': False})
        with set_company(company):
            Report.generate_due()
            self.assertEqual(Report.generate_due(), [])
        periods = [(r.period_start, r.period_end) for r in Report.search(
                [], order=[('period_start', 'ASC')])]
        self.assertEqual(periods[0][0], start)
        for period_start, period_end in periods:
            self.assertEqual(period_end.weekday(), 6)
        for (_, end), (next_start, _) in zip(periods, periods[1:]):
            self.assertEqual(next_start, end + dt.timedelta(days=1))
        self.assertLess(periods[-1][1], today)
        self.assertGreaterEqual(periods[-1][1], today - dt.timedelta(days=7))

    @with_transaction()
    def test_email_attaches_the_file(self):
        "The email says what it is and carries the file as generated"
        pool = Pool()
        Report = pool.get('ev.oem.report')
        Email = pool.get('ev.oem.report.email')
        company, tata, mg, (config, _), leads = setup_month()
        with set_company(company):
            report = generate(config)
            Report.send([report])
        email_, = Email.search([('report', '=', report.id)])
        message = email.message_from_bytes(bytes(email_.get_message()),
            policy=email.policy.default)
        self.assertEqual(message['To'], 'reports@tata.example.com')
        self.assertEqual(message['Subject'],
            "Tata Motors monthly: 2026-03-01 to 2026-03-31")
        body, attachment = [p for p in message.walk()
            if not p.is_multipart()]
        self.assertEqual(body.get_content().strip(), (
                "Hello,\n\nAttached is the report \"Tata Motors monthly\" "
                "for Tata Motors, from 2026-03-01 to 2026-03-31 (7 leads)."
                "\n\nEV Operations"))
        self.assertEqual(attachment.get_filename(),
            'tata-motors-monthly-20260301-20260331.xlsx')
        book = openpyxl.load_workbook(
            io.BytesIO(attachment.get_payload(decode=True)))
        self.assertEqual(book["Data"].max_row, len(ROWS) + 1)
        self.assertEqual(Email(email_.id).state, 'pending')

    @with_transaction()
    def test_oem_user_reads_only_its_own(self):
        "An OEM's user reads its own reports and nothing of another OEM's"
        pool = Pool()
        Report = pool.get('ev.oem.report')
        Config = pool.get('ev.oem.report.config')
        company, tata, mg, (tata_config, mg_config), leads = setup_month()
        with set_company(company):
            own, other = generate(tata_config), generate(mg_config)
            user = create_user('tata-reports', 'ev_lead.group_oem',
                oem=tata, company=company)
        with as_user(user):
            self.assertEqual(Report.search([]), [own])
            self.assertEqual(Config.search([]), [tata_config])
            file, = Report.read([own.id], ['file', 'file_name'])
            self.assertEqual(file['file'], own.file)
            for Model, record in [(Report, other), (Config, mg_config)]:
                with self.assertRaises(AccessError):
                    Model.read([record.id], ['id'])
            with self.assertRaises(AccessError):
                Report.read([own.id], ['oem'])
            for method, args in [
                    ('write', ([own], {'period_end': END})),
                    ('delete', ([own],)),
                    ('create', ([{'config': tata_config.id,
                                    'period_start': START,
                                    'period_end': START}],)),
                    ]:
                with self.assertRaises(AccessError):
                    getattr(Report, method)(*args)
            with self.assertRaises(AccessError):
                Config.write([tata_config], {'email_to': 'x@example.com'})
            # nor make the report again, nor send it
            for button in ['generate', 'send']:
                with self.assertRaises(AccessButtonError):
                    getattr(Report, button)([own])
