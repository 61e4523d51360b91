# This file is part of the EV operations suite.
"""The team's reports: the survey and installation checklists, their
validation, and the post-survey review that decides whether the site is
ready for the installation"""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import ModelView, Workflow, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval, If
from trytond.transaction import Transaction, without_check_access
from trytond.modules.ev_station.timestamp import Timestamp

from .exceptions import FieldJobError
from .job import IS_INSTALLATION, IS_SURVEY, REPORT_READONLY

# The work a survey can find missing; each one keeps the site not ready
SITE_WORK = ['load_upgrade_needed', 'earthing_work_needed',
    'civil_work_needed']

_SURVEY_FIELD = {'invisible': ~IS_SURVEY, 'readonly': REPORT_READONLY}
_INSTALLATION_FIELD = {
    'invisible': ~IS_INSTALLATION, 'readonly': REPORT_READONLY}


class Job(metaclass=PoolMeta):
    __name__ = 'ev.field.job'

    # Survey report
    sanctioned_load_kw = fields.Numeric("Sanctioned Load (kW)",
        digits=(16, 2), domain=[If(Bool(Eval('sanctioned_load_kw')),
                ('sanctioned_load_kw', '>', 0), ())],
        states=_SURVEY_FIELD)
    earthing = fields.Selection([
            (None, ""),
            ('ok', "Adequate"),
            ('missing', "Missing or inadequate"),
            ], "Earthing", states=_SURVEY_FIELD)
    cable_run_m = fields.Numeric("Cable Run (m)", digits=(16, 1),
        domain=[If(Bool(Eval('cable_run_m')), ('cable_run_m', '>', 0), ())],
        states=_SURVEY_FIELD)
    mounting = fields.Selection([
            (None, ""),
            ('wall', "Wall"),
            ('pole', "Pole"),
            ('pedestal', "Pedestal"),
            ], "Mounting", states=_SURVEY_FIELD)
    load_upgrade_needed = fields.Boolean("Electrical Load Upgrade Needed",
        states=_SURVEY_FIELD)
    earthing_work_needed = fields.Boolean("Earthing Work Needed",
        states=_SURVEY_FIELD)
    civil_work_needed = fields.Boolean("Civil Work Needed",
        states=_SURVEY_FIELD)
    report_note = fields.Text("Report Notes",
        states={'readonly': REPORT_READONLY})
    reported_at = Timestamp("Reported At", readonly=True)
    review = fields.Selection([
            (None, ""),
            ('ready', "Site Ready"),
            ('not_ready', "Site Not Ready"),
            ], "Review", readonly=True,
        states={'invisible': ~IS_SURVEY})
    survey = fields.Function(
        fields.Many2One('ev.field.job', "Survey"), 'get_survey')

    # Installation report
    charger_lot = fields.Many2One('stock.lot', "Charger Serial",
        ondelete='RESTRICT', states=_INSTALLATION_FIELD,
        help="The serial of the installed charger, taken from the van.")
    cable_used_m = fields.Numeric("Cable Used (m)", digits=(16, 1),
        domain=[If(Bool(Eval('cable_used_m')), ('cable_used_m', '>', 0), ())],
        states=_INSTALLATION_FIELD)
    tests_done = fields.Boolean("Tests Done", states=_INSTALLATION_FIELD)
    demo_given = fields.Boolean("Demo Given", states=_INSTALLATION_FIELD)
    customer_signature = fields.Binary("Customer Signature",
        states=_INSTALLATION_FIELD)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'submit_report': {
                    'invisible': Eval('state') != 'confirmed',
                    'depends': ['state'],
                    },
                'review_ready': {
                    'invisible': (Eval('state') != 'done') | ~IS_SURVEY,
                    'depends': ['state', 'kind'],
                    },
                'review_not_ready': {
                    'invisible': (Eval('state') != 'done') | ~IS_SURVEY,
                    'depends': ['state', 'kind'],
                    },
                })

    @classmethod
    def copy(cls, jobs, default=None):
        default = default.copy() if default else {}
        for name in ['reported_at', 'review', 'charger_lot']:
            default.setdefault(name)
        return super().copy(jobs, default=default)

    def get_survey(self, name):
        "The closed survey of the lead an installation follows"
        if self.kind != 'installation' or not self.lead:
            return None
        surveys = self.search([
                ('lead', '=', self.lead.id),
                ('kind', '=', 'survey'),
                ('state', '=', 'closed'),
                ], order=[('id', 'DESC')], limit=1)
        return surveys[0].id if surveys else None

    # -- the report -------------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def submit_report(cls, jobs):
        for job in jobs:
            getattr(job, f'check_{job.kind}_report')()
        cls.write(jobs, {'reported_at': dt.datetime.now()})
        installations = [j for j in jobs if j.kind == 'installation']
        if installations:
            cls.installations_reported(installations)
        for job in jobs:
            if job.kind == 'survey':
                job.record('survey_reported', gettext(
                        'ev_field.msg_log_survey_reported',
                        job=job.rec_name, summary=job.survey_summary()),
                    **job.handover_values(gettext(
                            'ev_field.msg_action_review',
                            job=job.rec_name), 'review'))
            elif job.kind == 'installation':
                job.record_stage_event('installation_completed', gettext(
                        'ev_field.msg_log_installed', job=job.rec_name,
                        serial=job.charger_lot.number),
                    **job.handover_values(gettext(
                            'ev_field.msg_action_commission',
                            job=job.rec_name), 'commission'))

    @classmethod
    def installations_reported(cls, jobs):
        "The reported installations' materials and QA (material.py, closure.py)"

    def check_survey_report(self):
        missing = [self.__class__._fields[n].string for n in [
                'sanctioned_load_kw', 'earthing', 'cable_run_m', 'mounting']
            if getattr(self, n) is None]
        if missing:
            raise FieldJobError(gettext(
                    'ev_field.msg_report_incomplete', job=self.rec_name,
                    fields=', '.join(missing)))

    def check_installation_report(self):
        missing = [self.__class__._fields[n].string for n in [
                'charger_lot', 'cable_used_m', 'customer_signature',
                'tests_done', 'demo_given']
            if not getattr(self, n)]
        if missing:
            raise FieldJobError(gettext(
                    'ev_field.msg_report_incomplete', job=self.rec_name,
                    fields=', '.join(missing)))
        self.check_serial_in_van()

    def check_serial_in_van(self):
        "The installed charger must be one the team carries"
        pool = Pool()
        Product = pool.get('product.product')
        Date = pool.get('ir.date')
        lot = self.charger_lot
        van = self.team.location if self.team else None
        quantity = 0
        if van:
            with Transaction().set_context(
                    stock_date_end=Date.today(), company=self.company.id):
                pbl = Product.products_by_location(
                    [van.id], with_childs=True,
                    grouping=('product', 'lot'),
                    grouping_filter=([lot.product.id], [lot.id]))
            quantity = pbl.get((van.id, lot.product.id, lot.id), 0)
        if quantity < 1:
            raise FieldJobError(gettext(
                    'ev_field.msg_serial_not_in_van', serial=lot.number,
                    team=self.team.rec_name if self.team else '-',
                    van=van.rec_name if van else '-'))

    def survey_summary(self):
        return gettext('ev_field.msg_survey_summary',
            load=self.sanctioned_load_kw,
            earthing=dict(self.__class__.earthing.selection)[self.earthing],
            cable=self.cable_run_m,
            mounting=dict(self.__class__.mounting.selection)[self.mounting],
            work=self.site_work_text() or '-')

    def site_work_text(self):
        return '\n'.join('- ' + self.__class__._fields[n].string
            for n in SITE_WORK if getattr(self, n))

    # -- post-survey review -----------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def review_ready(cls, jobs):
        "Site ready: the lead goes to installation"
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        for job in jobs:
            if job.kind != 'survey':
                raise FieldJobError(gettext(
                        'ev_field.msg_job_not_survey', job=job.rec_name))
            if job.site_work_text():
                raise FieldJobError(gettext(
                        'ev_field.msg_site_work_found', job=job.rec_name,
                        work=job.site_work_text()))
        cls.write(jobs, {'review': 'ready'})
        with without_check_access():
            leads = Lead.browse(list({j.lead.id for j in jobs}))
            open_ = [l for l in leads if l.readiness_wait_since]
            if open_:
                Lead.site_ready(open_)
            to_hand_over = [l for l in leads if l.state != 'won']
            if to_hand_over:
                Lead.hand_over(to_hand_over)
        for job in jobs:
            job.record('site_ready', gettext(
                    'ev_field.msg_log_site_ready', job=job.rec_name),
                completes=job.work_key('review'))

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def review_not_ready(cls, jobs):
        """Site not ready: the customer gets the list of work to do and the
        lead waits for readiness under ev_lead's timeout"""
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        for job in jobs:
            if not job.site_work_text():
                raise FieldJobError(gettext(
                        'ev_field.msg_site_work_none', job=job.rec_name))
        cls.write(jobs, {'review': 'not_ready'})
        with without_check_access():
            for job in jobs:
                lead = Lead(job.lead.id)
                lead.site_work_required = job.site_work_text()
                lead.save()
                if not lead.readiness_wait_since:
                    Lead.wait_for_site([lead])
        for job in jobs:
            job.record('site_not_ready', gettext(
                    'ev_field.msg_log_site_not_ready', job=job.rec_name,
                    work=job.site_work_text()),
                completes=job.work_key('review'))
