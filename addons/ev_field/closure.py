# This file is part of the EV operations suite.
"""From a reported installation to payable: commissioning, the closure
call, the QA audit of a sample and the team's cost summary"""
import datetime as dt
import random
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import ModelView, Workflow, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction
from trytond.modules.ev_station.timestamp import Timestamp

from .exceptions import FieldJobError
from .job import IS_INSTALLATION

QA_STATES = [
    (None, ""),
    ('pending', "Pending"),
    ('passed', "Passed"),
    ('failed', "Failed"),
    ]
_COMMISSIONING = {
    'invisible': ~IS_INSTALLATION,
    'readonly': Eval('state') != 'done',
    }


class Job(metaclass=PoolMeta):
    __name__ = 'ev.field.job'

    charger_identity = fields.Char("Charger Identity",
        states=_COMMISSIONING,
        help="The identity the charger is monitored under (OCPP id).")
    network_verified = fields.Boolean("Network Verified",
        states=_COMMISSIONING)
    app_paired = fields.Boolean("Customer App Paired", states=_COMMISSIONING)
    commissioned_at = Timestamp("Commissioned At", readonly=True)
    closure_call_at = Timestamp("Closure Call At", readonly=True)
    closure_call_note = fields.Text("Closure Call Note",
        states={'invisible': ~IS_INSTALLATION,
            'readonly': Eval('state') != 'commissioned'})
    qa_state = fields.Selection(QA_STATES, "QA Audit", readonly=True,
        states={'invisible': ~IS_INSTALLATION})
    qa_note = fields.Text("QA Note",
        states={'invisible': ~Bool(Eval('qa_state'))})
    qa_by = fields.Many2One('res.user', "Audited By", readonly=True)

    # Payable
    payable = fields.Boolean("Payable", readonly=True)
    payable_at = Timestamp("Payable Since", readonly=True)
    cost_materials = fields.Numeric("Materials", digits=(16, 2),
        readonly=True)
    cost_labour = fields.Numeric("Labour", digits=(16, 2), readonly=True)
    cost_logistics = fields.Numeric("Logistics", digits=(16, 2),
        readonly=True)
    cost_total = fields.Function(
        fields.Numeric("Total Cost", digits=(16, 2)), 'get_cost_total')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'commission': {
                    'invisible': (Eval('state') != 'done') | ~IS_INSTALLATION,
                    'depends': ['state', 'kind'],
                    },
                'closure_call': {
                    'invisible': (Eval('state') != 'commissioned')
                    | Bool(Eval('closure_call_at')),
                    'depends': ['state', 'closure_call_at'],
                    },
                'qa_pass': {
                    'invisible': ~Eval('qa_state').in_(['pending', 'failed']),
                    'depends': ['qa_state'],
                    },
                'qa_fail': {
                    'invisible': Eval('qa_state') != 'pending',
                    'depends': ['qa_state'],
                    },
                'close': {
                    'invisible': (Eval('state') != 'commissioned'),
                    'depends': ['state'],
                    },
                'mark_payable': {
                    'invisible': (Eval('state') != 'closed') | ~IS_INSTALLATION
                    | Bool(Eval('payable')),
                    'depends': ['state', 'kind', 'payable'],
                    },
                })

    @classmethod
    def copy(cls, jobs, default=None):
        default = default.copy() if default else {}
        for name in ['commissioned_at', 'closure_call_at', 'qa_state',
                'qa_by', 'payable', 'payable_at', 'cost_materials',
                'cost_labour', 'cost_logistics']:
            default.setdefault(name)
        return super().copy(jobs, default=default)

    def get_cost_total(self, name):
        if self.cost_materials is None:
            return None
        return sum((self.cost_materials or 0, self.cost_labour or 0,
                self.cost_logistics or 0), Decimal(0))

    # -- QA sample --------------------------------------------------------

    @classmethod
    def installations_reported(cls, jobs):
        super().installations_reported(jobs)
        cls.sample_qa(jobs)

    @classmethod
    def sample_qa(cls, jobs):
        "A random share of installations is audited before closure"
        Configuration = Pool().get('ev.field.configuration')
        share = float(Configuration(1).qa_share or 0)
        rng = random.SystemRandom()
        sampled = [j for j in jobs if rng.random() < share]
        if sampled:
            cls.write(sampled, {'qa_state': 'pending'})

    @classmethod
    @ModelView.button
    def qa_pass(cls, jobs):
        cls._qa(jobs, 'passed')

    @classmethod
    @ModelView.button
    def qa_fail(cls, jobs):
        for job in jobs:
            if not (job.qa_note or '').strip():
                raise FieldJobError(gettext(
                        'ev_field.msg_qa_note_required', job=job.rec_name))
        cls._qa(jobs, 'failed')

    @classmethod
    def _qa(cls, jobs, result):
        for job in jobs:
            if job.qa_state not in {'pending', 'failed'}:
                raise FieldJobError(gettext(
                        'ev_field.msg_qa_not_sampled', job=job.rec_name))
            if job.state not in {'done', 'commissioned'}:
                raise FieldJobError(gettext(
                        'ev_field.msg_qa_too_early', job=job.rec_name))
        cls.write(jobs, {'qa_state': result, 'qa_by': Transaction().user})
        for job in jobs:
            job.record('qa_audit', gettext(
                    f'ev_field.msg_log_qa_{result}', job=job.rec_name,
                    note=job.qa_note or '-'))

    # -- commissioning and closure ----------------------------------------

    def check_commissioning(self):
        missing = []
        if not (self.charger_identity or '').strip():
            missing.append(self.__class__.charger_identity.string)
        if not self.network_verified:
            missing.append(self.__class__.network_verified.string)
        if not self.app_paired:
            missing.append(self.__class__.app_paired.string)
        if missing:
            raise FieldJobError(gettext(
                    'ev_field.msg_commission_incomplete',
                    job=self.rec_name, fields=', '.join(missing)))

    @classmethod
    @ModelView.button
    @Workflow.transition('commissioned')
    def commission(cls, jobs):
        for job in jobs:
            job.check_commissioning()
        cls.write(jobs, {'commissioned_at': dt.datetime.now()})
        for job in jobs:
            job.record_stage_event('commissioned', gettext(
                    'ev_field.msg_log_commissioned', job=job.rec_name,
                    identity=job.charger_identity),
                completes=job.work_key('commission'),
                **job.handover_values(gettext(
                        'ev_field.msg_action_closure_call',
                        job=job.rec_name), 'closure_call'))

    @classmethod
    @ModelView.button
    def closure_call(cls, jobs):
        "Central Ops called the customer after commissioning"
        for job in jobs:
            if job.state != 'commissioned':
                raise FieldJobError(gettext(
                        'ev_field.msg_job_not_commissioned',
                        job=job.rec_name))
        cls.write(jobs, {'closure_call_at': dt.datetime.now()})
        for job in jobs:
            job.record('closure_call', gettext(
                    'ev_field.msg_log_closure_call', job=job.rec_name,
                    note=job.closure_call_note or '-'),
                completes=job.work_key('closure_call'))

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, jobs):
        for job in jobs:
            if not job.closure_call_at:
                raise FieldJobError(gettext(
                        'ev_field.msg_close_needs_call', job=job.rec_name))
            if job.qa_state in {'pending', 'failed'}:
                raise FieldJobError(gettext(
                        'ev_field.msg_close_needs_qa', job=job.rec_name,
                        qa=job.qa_state))
        for job in jobs:
            job.record('job_closed', gettext(
                    'ev_field.msg_log_job_closed', job=job.rec_name))

    # -- payable ----------------------------------------------------------

    @classmethod
    @ModelView.button
    def mark_payable(cls, jobs):
        "The team can be paid: the job's cost summary is frozen"
        Configuration = Pool().get('ev.field.configuration')
        config = Configuration(1)
        for job in jobs:
            if job.state != 'closed' or job.kind != 'installation':
                raise FieldJobError(gettext(
                        'ev_field.msg_payable_not_closed', job=job.rec_name))
            if job.payable:
                raise FieldJobError(gettext(
                        'ev_field.msg_payable_already', job=job.rec_name))
        for job in jobs:
            materials = sum((Decimal(str(m.quantity))
                    * (m.unit_price or 0) for m in job.consumption_moves),
                Decimal(0))
            procured = sum((p.amount or 0 for p in job.procurements
                    if p.state in {'approved', 'purchased', 'paid'}),
                Decimal(0))
            job.cost_materials = (materials + procured).quantize(
                Decimal('0.01'))
            job.cost_labour = job.team.labour_rate or Decimal(0)
            job.cost_logistics = config.logistics_cost or Decimal(0)
            job.payable = True
            job.payable_at = dt.datetime.now()
        cls.save(jobs)
        for job in jobs:
            job.record('job_payable', gettext(
                    'ev_field.msg_log_job_payable', job=job.rec_name,
                    team=job.team.rec_name,
                    materials=job.cost_materials, labour=job.cost_labour,
                    logistics=job.cost_logistics, total=job.cost_total))
