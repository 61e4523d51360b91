# This file is part of the EV operations suite.
"""What an OEM receives every week or month: the metrics of the summary,
the columns of the data sheet, the file format and who gets the email (the
targets of its transitions are the SLA Targets of its leads' clocks,
sla_lead.py). The cron (report.py) generates the
report of each period once the period is over."""
import datetime as dt

from dateutil.relativedelta import relativedelta

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, fields)
from trytond.modules.ev_station.timestamp import Timestamp
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .exceptions import ReportConfigError

FREQUENCIES = [
    ('weekly', "Weekly"),
    ('monthly', "Monthly"),
    ]
FORMATS = [
    ('xlsx', "Excel (XLSX)"),
    ('csv', "CSV"),
    ]
METRICS = [
    ('received', "Leads Received"),
    ('contacted', "Leads Contacted"),
    ('surveyed', "Leads Surveyed"),
    ('installed', "Leads Installed"),
    ('closed', "Leads Closed"),
    ('cancelled', "Leads Cancelled (with Reasons)"),
    ('sla_compliance', "SLA Compliance per Transition"),
    ('average_times', "Average Times"),
    ('open_issues', "Open Issues"),
    ]
COLUMNS = [
    ('number', "Lead"),
    ('oem_reference', "OEM Reference"),
    ('status', "Status"),
    ('received', "Received"),
    ('contacted', "Contacted"),
    ('surveyed', "Surveyed"),
    ('installed', "Installed"),
    ('closed', "Closed"),
    ('cancelled', "Cancelled"),
    ('cancellation_reason', "Cancellation Reason"),
    ('charger_model', "Charger Model"),
    ('charger_quantity', "Chargers"),
    ('site_type', "Site Type"),
    # The lead's SLA clocks (sla_lead.py): the verdict at the period's end
    # and the business hours counted once stopped
    ('lead_first_contact', "SLA Lead → First Contact"),
    ('lead_first_contact_hours', "Business Hours Lead → First Contact"),
    ('lead_survey_scheduled', "SLA First Contact → Survey Scheduled"),
    ('lead_survey_scheduled_hours',
        "Business Hours First Contact → Survey Scheduled"),
    ('lead_installation', "SLA Survey → Installation"),
    ('lead_installation_hours', "Business Hours Survey → Installation"),
    ('lead_closure', "SLA Installation → Closure"),
    ('lead_closure_hours', "Business Hours Installation → Closure"),
    ('lead_end_to_end', "SLA Lead → Closure (End to End)"),
    ('lead_end_to_end_hours', "Business Hours Lead → Closure (End to End)"),
    ]
SLA_COLUMNS = {c for c, _ in COLUMNS if c.startswith('lead_')}


def period_of(frequency, day):
    "The first and last day of the week (from Monday) or month of `day`"
    if frequency == 'weekly':
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=6)
    start = day.replace(day=1)
    return start, start + relativedelta(months=1, days=-1)


class ReportConfig(DeactivableMixin, ModelSQL, ModelView):
    "The periodic report of an OEM"
    __name__ = 'ev.oem.report.config'
    __string__ = "OEM Report Configuration"

    name = fields.Char("Name", required=True, translate=True)
    company = fields.Many2One('company.company', "Company", required=True)
    oem = fields.Many2One('party.party', "OEM", required=True,
        ondelete='RESTRICT', domain=[('ev_is_oem', '=', True)],
        context={'company': Eval('company', -1)}, depends={'company'})
    frequency = fields.Selection(FREQUENCIES, "Frequency", required=True)
    frequency_string = frequency.translated('frequency')
    file_format = fields.Selection(FORMATS, "Format", required=True)
    metrics = fields.MultiSelection(METRICS, "Metrics", sort=False,
        help="The figures of the summary sheet.")
    columns = fields.MultiSelection(COLUMNS, "Columns", sort=False,
        help="The columns of the data sheet, one row per lead with a "
        "milestone in the period.")
    email_to = fields.Char("Email To",
        help="Comma-separated addresses that receive each report; "
        "none sends no email.")
    next_period_start = fields.Date("Next Period Starts", required=True,
        help="The first day of the next period to report on.")
    next_run = fields.Date("Next Run", readonly=True,
        help="The day the cron generates the next report: the day after "
        "its period ends.")
    reports = fields.One2Many('ev.oem.report', 'config', "Reports",
        readonly=True)
    last_report_at = fields.Function(Timestamp("Last Report At"),
        'get_last_report_at')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # The cron's query: the active configurations due by today
        cls._sql_indexes.add(Index(t, (t.next_run, Index.Range()),
                where=t.active == True))  # noqa: E712
        cls._order = [('oem', 'ASC'), ('name', 'ASC'), ('id', 'ASC')]

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        table_h = cls.__table_handler__(module)
        # Migration: the wall-clock targets gave way to the SLA Targets of
        # the leads' clocks (one source of truth with the SLA screen)
        for name in ['contact_target', 'survey_target',
                'installation_target', 'closure_target']:
            if table_h.column_exist(name):
                table_h.drop_column(name)

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @classmethod
    def default_frequency(cls):
        return 'monthly'

    @classmethod
    def default_file_format(cls):
        return 'xlsx'

    @classmethod
    def default_metrics(cls):
        return [m for m, _ in METRICS]

    @classmethod
    def default_columns(cls):
        "The lead's columns; its SLA columns are chosen (10 cells a lead)"
        return [c for c, _ in COLUMNS if c not in SLA_COLUMNS]

    @classmethod
    def default_next_period_start(cls):
        "The period running today: its report comes once it is over"
        Date = Pool().get('ir.date')
        return period_of(cls.default_frequency(), Date.today())[0]

    @fields.depends('frequency', 'next_period_start')
    def on_change_frequency(self):
        if self.frequency and self.next_period_start:
            self.next_period_start = period_of(
                self.frequency, self.next_period_start)[0]

    @property
    def next_period(self):
        """The next period: from next_period_start to the end of its week or
        month (a first period started mid-way is short, the next ones are
        whole: they never overlap)"""
        return (self.next_period_start,
            period_of(self.frequency, self.next_period_start)[1])

    @property
    def recipients(self):
        return [a.strip() for a in (self.email_to or '').split(',')
            if a.strip()]

    def get_last_report_at(self, name):
        dates = [r.generated_at for r in self.reports if r.generated_at]
        return max(dates) if dates else None

    @classmethod
    def on_modification(cls, mode, configs, field_names=None):
        super().on_modification(mode, configs, field_names=field_names)
        if mode == 'delete':
            return
        to_write = []
        for config in configs:
            next_run = config.next_period[1] + dt.timedelta(days=1)
            if config.next_run != next_run:
                to_write.extend(([config], {'next_run': next_run}))
        if to_write:
            cls.write(*to_write)

    @classmethod
    def validate_fields(cls, configs, field_names):
        super().validate_fields(configs, field_names)
        if field_names & {'email_to'}:
            for config in configs:
                for address in config.recipients:
                    if '@' not in address or ' ' in address:
                        raise ReportConfigError(gettext(
                                'ev_oem_report.msg_config_email_invalid',
                                config=config.rec_name, address=address))

    @classmethod
    def copy(cls, configs, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('reports')
        default.setdefault('next_run')
        return super().copy(configs, default=default)
