# This file is part of the EV operations suite.
"""The report of one OEM for one period: generated from the leads by one
streamed SQL query (report_writer.py writes the file as the rows come),
stored in Tryton's filestore, emailed through the outbox, downloaded by the
OEM's users and over the OEM API (report_routes.py).

Milestones, from what the lead and its field jobs hold: received is the
lead's creation, contacted its contacted_at, surveyed and installed the
first report (reported_at) of its survey and installation jobs, closed the
closure call (closure_call_at) of its closed installation job, cancelled
the closed_at of a cancelled lead.

The SLA per transition is the lead's clocks on ev_station's engine
(sla_lead.py), joined in the same query: the verdict each clock had at the
period's end, the business time it counted when it stopped, against the
SLA Targets of the OEM (else the default ones), so that the report and the
lead's SLA page say the same (see report_writer.py for what counts in the
period). The rows are the leads with a milestone or an SLA verdict (a
clock met or breached) in the period."""
import datetime as dt
import os
import tempfile

from sql import Column, Literal, Null
from sql.aggregate import Max, Min
from sql.conditionals import Case

from trytond import backend
from trytond.filestore import filestore
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.modules.ev_lead.oem import OEM_STATUS
from trytond.modules.ev_station.timestamp import Timestamp
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .exceptions import ReportPeriodError
from .report_writer import (
    TRANSITIONS, Summary, normalize, write_csv, write_xlsx)
from .report_config import COLUMNS, FORMATS
from .sla_lead import DEFAULT_LEVEL, KIND, LEAD_MODEL

STATES = [
    ('draft', "Draft"),
    ('done', "Generated"),
    ]
MIME_TYPES = {
    'xlsx': 'application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.sheet',
    'csv': 'text/csv',
    }
# Job states in which a job's report (reported_at) stands
REPORTED_STATES = ['done', 'commissioned', 'closed']
# Rows fetched from the database at a time
FETCH_SIZE = 2000


class Report(ModelSQL, ModelView):
    "OEM Report"
    __name__ = 'ev.oem.report'
    __string__ = "OEM Report"

    config = fields.Many2One('ev.oem.report.config', "Configuration",
        required=True, ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'draft'})
    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    oem = fields.Many2One('party.party', "OEM", required=True,
        ondelete='RESTRICT', readonly=True,
        context={'company': Eval('company', -1)}, depends={'company'})
    period_start = fields.Date("Period Start", required=True,
        states={'readonly': Eval('state') != 'draft'})
    period_end = fields.Date("Period End", required=True,
        states={'readonly': Eval('state') != 'draft'})
    file_format = fields.Selection(FORMATS, "Format", readonly=True)
    state = fields.Selection(STATES, "State", required=True, readonly=True)
    file = fields.Binary("File", filename='file_name', file_id='file_id',
        readonly=True)
    file_id = fields.Char("File ID", readonly=True)
    file_name = fields.Char("File Name", readonly=True)
    file_size = fields.Integer("Size (bytes)", readonly=True)
    generated_at = Timestamp("Generated At", readonly=True)
    lead_count = fields.Integer("Leads", readonly=True,
        help="The rows of the data sheet.")
    summary = fields.Dict(None, "Summary", readonly=True)
    emails = fields.One2Many('ev.oem.report.email', 'report', "Emails",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('config_period_unique',
                Unique(t, t.config, t.period_start, t.period_end),
                'ev_oem_report.msg_report_period_unique'),
            ]
        cls._sql_indexes.add(Index(t,
                (t.oem, Index.Equality()), (t.period_start, Index.Range())))
        cls._order = [('period_start', 'DESC'), ('id', 'DESC')]
        cls._buttons.update({
                'generate': {
                    'depends': ['state'],
                    },
                'send': {
                    'invisible': Eval('state') != 'done',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @fields.depends('config', 'period_start')
    def on_change_config(self):
        if self.config:
            self.oem = self.config.oem
            self.company = self.config.company
            self.file_format = self.config.file_format
            if not self.period_start:
                self.period_start, self.period_end = self.config.next_period

    def get_rec_name(self, name):
        return gettext('ev_oem_report.msg_report_rec_name',
            config=self.config.rec_name, start=self.period_start,
            end=self.period_end)

    @classmethod
    def preprocess_values(cls, mode, values):
        "The OEM, company and format are the configuration's"
        values = super().preprocess_values(mode, values)
        if values.get('config'):
            Config = Pool().get('ev.oem.report.config')
            config = Config(values['config'])
            values = values.copy()
            values.update(oem=config.oem.id, company=config.company.id,
                file_format=config.file_format)
        return values

    @classmethod
    def validate_fields(cls, reports, field_names):
        super().validate_fields(reports, field_names)
        if field_names & {'period_start', 'period_end'}:
            for report in reports:
                if report.period_end < report.period_start:
                    raise ReportPeriodError(gettext(
                            'ev_oem_report.msg_report_period_order',
                            start=report.period_start,
                            end=report.period_end))

    @classmethod
    def copy(cls, reports, default=None):
        default = default.copy() if default is not None else {}
        for name in ['file', 'file_id', 'file_name', 'file_size',
                'generated_at', 'lead_count', 'summary', 'emails']:
            default.setdefault(name)
        default.setdefault('state', 'draft')
        return super().copy(reports, default=default)

    # -- generation ----------------------------------------------------------

    @classmethod
    @ModelView.button
    def generate(cls, reports):
        "Generate (again) the file of the reports from the leads"
        with without_check_access():
            for report in cls.browse(reports):
                report._generate()

    @classmethod
    @ModelView.button
    def send(cls, reports):
        "Email the reports to the configuration's recipients"
        Email = Pool().get('ev.oem.report.email')
        emails = []
        with without_check_access():
            for report in cls.browse(reports):
                emails.extend(Email.for_report(report))
            Email.enqueue(emails)

    def _generate(self):
        config = self.config
        language = self.oem.lang.code if self.oem.lang else None
        with Transaction().set_context(language=language):
            labels, texts = self._labels()
        summary = Summary(self.period_start, self.period_end,
            self.sla_targets(), other_reason=texts['other_reason'])
        open_issues = (self.open_issue_count()
            if 'open_issues' in config.metrics else None)
        # In the order of the list (the field keeps its values sorted)
        columns = [c for c, _ in COLUMNS if c in (config.columns or [])]
        fd, path = tempfile.mkstemp(
            prefix='ev-oem-report-', suffix=f'.{self.file_format}')
        os.close(fd)
        try:
            rows = self._lead_records()
            if self.file_format == 'csv':
                write_csv(path, columns, labels, rows, summary,
                    verdicts=texts['verdicts'])
            else:
                write_xlsx(path, columns, labels, rows, summary,
                    self._header(texts), texts, open_issues=open_issues)
            with open(path, 'rb') as fp:
                data = fp.read()
        finally:
            os.unlink(path)
        self.__class__.write([self], {
                'file': data,
                'file_name': self.make_file_name(),
                'file_size': len(data),
                'generated_at': dt.datetime.now(),
                'lead_count': summary.rows,
                'summary': summary.as_dict(open_issues),
                'state': 'done',
                })

    def sla_targets(self):
        """The business hours of the SLA Targets of the OEM's leads per
        transition (the OEM's own, else the default; None without any)"""
        Target = Pool().get('ev.sla.target')
        code = self.oem.code
        targets = {}
        with without_check_access():
            for metric in TRANSITIONS:
                target = ((code and Target.find(KIND, code, metric))
                    or Target.find(KIND, DEFAULT_LEVEL, metric))
                targets[metric] = (
                    round(target.seconds / 3600, 2) if target else None)
        return targets

    def make_file_name(self):
        oem = ''.join(c if c.isalnum() else '-'
            for c in self.oem.rec_name).strip('-').lower()
        return (f'{oem}-{self.config.frequency}-{self.period_start:%Y%m%d}-'
            f'{self.period_end:%Y%m%d}.{self.file_format}')

    def _labels(self):
        "The translated column labels and texts of the file"
        Config = Pool().get('ev.oem.report.config')
        definitions = Config.fields_get(['columns', 'metrics'])
        labels = dict(definitions['columns']['selection'])
        metric_names = dict(definitions['metrics']['selection'])
        metrics = {m: metric_names[m] for m, _ in
            definitions['metrics']['selection'] if m in self.config.metrics}
        texts = {name: gettext(f'ev_oem_report.msg_text_{name}')
            for name in ['summary_sheet', 'data_sheet', 'metric', 'value',
                'transition', 'target_hours', 'leads',
                'compliance', 'average_hours', 'cancellation_reason',
                'no_reason', 'other_reason', 'title', 'oem', 'period_start',
                'period_end', 'generated_at']}
        texts['metrics'] = metrics
        # The clocks' own names and states, as the lead's SLA page says
        pool = Pool()
        metric_names = dict(pool.get('ev.sla.target').fields_get(
                ['metric'])['metric']['selection'])
        texts['transitions'] = {name: metric_names[name]
            for name in TRANSITIONS}
        texts['verdicts'] = dict(pool.get('ev.sla.clock').fields_get(
                ['state'])['state']['selection'])
        return labels, texts

    def _header(self, texts):
        return [
            texts['title'] % {'name': self.config.rec_name},
            (texts['oem'], self.oem.rec_name),
            (texts['period_start'], self.period_start),
            (texts['period_end'], self.period_end),
            (texts['generated_at'],
                dt.datetime.now().replace(microsecond=0)),
            ]

    def _lead_query(self):
        """The leads with a milestone or an SLA verdict in the period and
        their clocks, ROW_FIELDS in order"""
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Job = pool.get('ev.field.job')
        Clock = pool.get('ev.sla.clock')
        lead, job_lead = Lead.__table__(), Lead.__table__()
        job = Job.__table__()
        start = dt.datetime.combine(self.period_start, dt.time())
        end = dt.datetime.combine(
            self.period_end + dt.timedelta(days=1), dt.time())
        reported = job.state.in_(REPORTED_STATES)

        def first(condition, column):
            return Min(Case((condition, column), else_=Null))

        def in_period(column):
            return (column >= start) & (column < end)

        jobs = job.join(job_lead, condition=job.lead == job_lead.id).select(
            job.lead.as_('lead'),
            first((job.kind == 'survey') & reported,
                job.reported_at).as_('surveyed'),
            first((job.kind == 'installation') & reported,
                job.reported_at).as_('installed'),
            first((job.kind == 'installation') & (job.state == 'closed'),
                job.closure_call_at).as_('closed'),
            where=job_lead.oem == self.oem.id,
            group_by=[job.lead])
        cancelled = Case((lead.state == 'cancelled', lead.closed_at),
            else_=Null)
        status = Case(*((lead.state == s, n) for s, n in OEM_STATUS.items()),
            else_=lead.state)

        # The clocks of the OEM's leads, a row a lead and a column a
        # transition's figure: one scan of the clocks, one join
        clock, clock_lead = Clock.__table__(), Lead.__table__()
        figures = []
        for metric in TRANSITIONS:
            figures.extend(Max(Case((clock.metric == metric, column),
                        else_=Null)).as_(f'{metric}{part}')
                for column, part in zip(self._clock_columns(clock, end),
                    ['', '_hours', '_settled']))
        clocks = clock.join(clock_lead,
            condition=clock.record_id == clock_lead.id).select(
            clock.record_id.as_('lead'), *figures,
            where=(clock.record_model == LEAD_MODEL)
            & clock.metric.in_(TRANSITIONS)
            & (clock_lead.oem == self.oem.id),
            group_by=[clock.record_id])
        from_ = lead.join(jobs, 'LEFT', condition=jobs.lead == lead.id
            ).join(clocks, 'LEFT', condition=clocks.lead == lead.id)
        sla_columns = [Column(clocks, f'{metric}{part}')
            for metric in TRANSITIONS
            for part in ['', '_hours', '_settled']]
        # A verdict in the period: reached (settled) in it
        settled = Literal(False)
        for metric in TRANSITIONS:
            settled |= in_period(Column(clocks, f'{metric}_settled'))
        return from_.select(
            lead.number, lead.oem_reference, status, lead.create_date,
            lead.contacted_at, jobs.surveyed, jobs.installed, jobs.closed,
            cancelled, lead.cancellation_reason, lead.charger_model,
            lead.charger_quantity, lead.site_type, *sla_columns,
            where=(lead.oem == self.oem.id) & (
                in_period(lead.create_date) | in_period(lead.contacted_at)
                | in_period(jobs.surveyed) | in_period(jobs.installed)
                | in_period(jobs.closed)
                | ((lead.state == 'cancelled') & in_period(lead.closed_at))
                | settled),
            order_by=[lead.id.asc])

    @staticmethod
    def _clock_columns(clock, end):
        """The verdict of a clock at `end` (None: not started by then), the
        business seconds it counted if it stopped by then, and when its
        verdict was reached (met: the stop, breached: the breach)"""
        verdict = Case(
            ((clock.id == Null) | (clock.started_at >= end), Null),
            (clock.stopped_at < end, clock.state),
            (clock.breached_at < end, Literal('breached')),
            ((clock.state == 'paused') & (clock.paused_since < end),
                Literal('paused')),
            else_=Literal('running'))
        seconds = Case((clock.stopped_at < end, clock.elapsed_seconds),
            else_=Null)
        settled = Case(
            (clock.breached_at < end, clock.breached_at),
            ((clock.state == 'met') & (clock.stopped_at < end),
                clock.stopped_at),
            else_=Null)
        return [verdict, seconds, settled]

    def _lead_records(self):
        """The rows of _lead_query as dictionaries, fetched FETCH_SIZE at a
        time (on PostgreSQL from a server-side cursor: the database keeps
        the result, not this process)"""
        transaction = Transaction()
        connection = transaction.connection
        if backend.name == 'postgresql':
            cursor = connection.cursor(name=f'ev_oem_report_{self.id}')
            cursor.itersize = FETCH_SIZE
        else:
            cursor = connection.cursor()
        try:
            cursor.execute(*self._lead_query())
            while True:
                rows = cursor.fetchmany(FETCH_SIZE)
                if not rows:
                    break
                for row in rows:
                    yield normalize(row)
        finally:
            cursor.close()

    def open_issue_count(self):
        "The OEM's open issues (ev_service's cases: see report_service.py)"
        return None

    def file_path(self):
        """The path of the file in Tryton's filestore, to stream it; None
        when the filestore keeps no files of its own (another class)"""
        if not self.file_id or not hasattr(filestore, '_filename'):
            return None
        prefix = self.__class__.file.store_prefix
        if prefix is None:
            prefix = Transaction().database.name
        path = filestore._filename(self.file_id, prefix)
        return path if os.path.exists(path) else None

    def api_summary(self):
        "The report as the OEM API lists it"
        return {
            'id': self.id,
            'name': self.config.rec_name,
            'frequency': self.config.frequency,
            'period_start': self.period_start.isoformat(),
            'period_end': self.period_end.isoformat(),
            'format': self.file_format,
            'file_name': self.file_name,
            'size': self.file_size,
            'generated_at': (self.generated_at.replace(microsecond=0)
                .isoformat() if self.generated_at else None),
            'leads': self.lead_count,
            'summary': self.summary,
            }

    # -- schedule ------------------------------------------------------------

    @classmethod
    def generate_due(cls):
        """Cron: the report of every period that is over, once per
        configuration and period, generated and sent"""
        pool = Pool()
        Config = pool.get('ev.oem.report.config')
        Date = pool.get('ir.date')
        today = Date.today()
        transaction = Transaction()
        database = transaction.database
        cursor = transaction.connection.cursor()
        table = Config.__table__()
        # The index on next_run of the active configurations answers this;
        # a concurrent run skips the configurations this one holds
        query = table.select(table.id,
            where=(table.active == True) & (table.next_run <= today),  # noqa
            order_by=[table.next_run.asc, table.id.asc])
        if database.has_select_for():
            For = database.get_select_for_skip_locked()
            query.for_ = For('UPDATE')
        cursor.execute(*query)
        created = []
        for config_id, in cursor.fetchall():
            config = Config(config_id)
            while config.next_run and config.next_run <= today:
                start, end = config.next_period
                if not cls.search([
                            ('config', '=', config.id),
                            ('period_start', '=', start),
                            ('period_end', '=', end),
                            ], limit=1):
                    report, = cls.create([{
                                'config': config.id,
                                'period_start': start,
                                'period_end': end,
                                }])
                    created.append(report)
                    cls.generate([report])
                    cls.send([report])
                Config.write([config], {
                        'next_period_start': end + dt.timedelta(days=1)})
                config = Config(config_id)
        return created
