# This file is part of the EV operations suite.
"""The service visit: a field job of kind *service* (ev_field's job).

The job is booked with ev_field's own rules: the team must have the
*service* capability and cover the job's postal code, it is never in two
places at once, and its crew sees its own jobs only (ev_field's record
rules). The case waits for the job: a replacement is completed, or an
on-site case closed, only once the visit job is reported."""
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval, If
from trytond.transaction import without_check_access

from .exceptions import ServiceCaseError

# The job states in which the visit happened
VISIT_DONE_STATES = {'done', 'commissioned', 'closed'}
VISIT_BOOKED_STATES = {'scheduled', 'confirmed'} | VISIT_DONE_STATES


class Job(metaclass=PoolMeta):
    __name__ = 'ev.field.job'

    service_case = fields.Function(
        fields.Many2One('ev.service.case', "Service Case",
            states={'invisible': Eval('kind') != 'service'}),
        'get_service_case')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        if ('service', "Service") not in cls.kind.selection:
            cls.kind.selection = cls.kind.selection + [
                ('service', "Service")]
        # A service job needs a team that does service
        domain, = cls.team.domain
        cls.team.domain = [If(Eval('kind') == 'service',
                ('service', '=', True), domain)]

    @classmethod
    def get_service_case(cls, jobs, name):
        Case = Pool().get('ev.service.case')
        result = dict.fromkeys((j.id for j in jobs), None)
        service = [j.id for j in jobs if j.kind == 'service']
        if service:
            with without_check_access():
                for case in Case.search([('visit_job', 'in', service)]):
                    result[case.visit_job.id] = case.id
        return result

    def record(self, event_code, text, **values):
        "A service job logs on the station of its case, not on every station"
        if self.kind == 'service':
            Case = Pool().get('ev.service.case')
            with without_check_access():
                cases = Case.search([('visit_job', '=', self.id)], limit=1)
            if cases:
                case, = cases
                return [case.record(event_code, text, **values)]
        return super().record(event_code, text, **values)

    def scheduled_text(self):
        if self.kind == 'service':
            return gettext('ev_service.msg_log_visit_scheduled',
                job=self.rec_name, team=self.team.rec_name,
                slot=self.slot_text())
        return super().scheduled_text()

    def check_service_report(self):
        "The visit report is the case's: nothing more on the job"

    @classmethod
    def submit_report(cls, jobs):
        super().submit_report(jobs)
        for job in jobs:
            if job.kind == 'service' and job.state == 'done':
                job.record('service_visit_reported', gettext(
                        'ev_service.msg_log_visit_reported',
                        job=job.rec_name, team=job.team.rec_name))


class FieldConfiguration(metaclass=PoolMeta):
    __name__ = 'ev.field.configuration'

    def get_job_sequence(self, kind, company=None):
        if kind == 'service':
            Configuration = Pool().get('ev.service.configuration')
            return Configuration(1).visit_job_sequence
        return super().get_job_sequence(kind, company=company)


class Case(metaclass=PoolMeta):
    __name__ = 'ev.service.case'

    visit_job = fields.Many2One('ev.field.job', "Visit Job", readonly=True,
        ondelete='RESTRICT', domain=[('kind', '=', 'service')],
        help="The field job of the service visit: its team, slot and "
        "report.")
    visit_job_state = fields.Function(fields.Selection(
            'get_visit_job_states', "Visit Job State"),
        'on_change_with_visit_job_state')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'plan_visit': {
                    'invisible': Bool(Eval('visit_job'))
                    | ~Eval('state').in_(
                        ['decided', 'client_approval', 'parts_shipped']),
                    'readonly': ~Eval('team'),
                    'depends': ['visit_job', 'state', 'team'],
                    },
                })

    @classmethod
    def get_visit_job_states(cls):
        Job = Pool().get('ev.field.job')
        return [(None, "")] + Job.fields_get(['state'])['state']['selection']

    @fields.depends('visit_job')
    def on_change_with_visit_job_state(self, name=None):
        return self.visit_job.state if self.visit_job else None

    @classmethod
    def copy(cls, cases, default=None):
        default = default.copy() if default else {}
        default.setdefault('visit_job')
        return super().copy(cases, default=default)

    @classmethod
    @ModelView.button
    def plan_visit(cls, cases):
        """A service job for the case's station and team, to be booked by
        the dispatcher like any field job"""
        Job = Pool().get('ev.field.job')
        jobs = []
        for case in cases:
            if case.visit_job:
                continue
            if case.state not in {
                    'decided', 'client_approval', 'parts_shipped'}:
                raise ServiceCaseError(gettext(
                        'ev_service.msg_visit_plan_state',
                        case=case.rec_name, state=case.state_string))
            if not case.team:
                raise ServiceCaseError(gettext(
                        'ev_service.msg_case_team_missing',
                        case=case.rec_name))
            if not case.station.lead:
                raise ServiceCaseError(gettext(
                        'ev_service.msg_visit_no_lead',
                        case=case.rec_name, station=case.station.rec_name))
            jobs.append((case, Job(kind='service', company=case.company,
                        lead=case.station.lead, team=case.team,
                        dispatcher=case.coordinator)))
        # The case's button is the door: its group plans the visit
        with without_check_access():
            Job.save([j for _, j in jobs])
        for case, job in jobs:
            case.visit_job = job
        cls.save([c for c, _ in jobs])
        for case, job in jobs:
            case.record('service_visit_planned', gettext(
                    'ev_service.msg_log_visit_planned', case=case.rec_name,
                    job=job.rec_name, team=case.team.rec_name))

    def check_visit_job(self, states, message):
        if self.visit_job and self.visit_job.state not in states:
            raise ServiceCaseError(gettext(message, case=self.rec_name,
                    job=self.visit_job.rec_name,
                    state=self.visit_job.state_string))

    @classmethod
    def start_visit(cls, cases):
        for case in cases:
            case.check_visit_job(VISIT_BOOKED_STATES,
                'ev_service.msg_visit_job_not_booked')
        super().start_visit(cases)

    @classmethod
    def complete_replacement(cls, cases):
        for case in cases:
            case.check_visit_job(VISIT_DONE_STATES,
                'ev_service.msg_visit_job_not_done')
        super().complete_replacement(cases)

    @classmethod
    def close(cls, cases):
        for case in cases:
            if case.state == 'visit':
                case.check_visit_job(VISIT_DONE_STATES,
                    'ev_service.msg_visit_job_not_done')
        super().close(cases)
