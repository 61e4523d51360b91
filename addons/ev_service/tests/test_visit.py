# This file is part of the EV operations suite.
"""The service visit as a field job of kind service: booked by ev_field's
rules (capability, zone, no double booking), seen by its own team only"""
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_field.tests.tools import (
    create_employee, create_job, create_team, create_user, slot)
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_service import ServiceWorld, service_events


class VisitWorld(ServiceWorld):
    "The service world whose station was sold from the field world's lead"

    def setup(self):
        Lead = Pool().get('sale.opportunity')
        w = super().setup()
        with set_company(w.company):
            w.station, = Lead.create_stations([w.lead])
            w.dispatcher = create_user('dispatcher',
                'ev_lead.group_central_ops')
        return w

    def planned(self, w, decision='on_site_visit', **values):
        "A decided case whose visit job the Service Manager planned"
        Case = Pool().get('ev.service.case')
        case = self.case(w, decision=decision, **values)
        with as_user(w.manager):
            Case.plan_visit([Case(case.id)])
        return Case(case.id)

    def book(self, job, when=None):
        "The dispatcher books the job like any field job"
        Job = Pool().get('ev.field.job')
        job.slot_start, job.slot_end = when or slot(10)
        job.save()
        Job.schedule([job])


class VisitTestCase(VisitWorld, ModuleDBTestCase):
    module = 'ev_service'

    @with_transaction()
    def test_visit_job_from_plan_to_close(self):
        "Plan Visit → booked → day call → reported → the case closes"
        pool = Pool()
        Case = pool.get('ev.service.case')
        Job = pool.get('ev.field.job')
        w = self.setup()
        with set_company(w.company):
            case = self.planned(w)
            job = case.visit_job
            self.assertRegex(job.number, r'^SVJ-\d{6}$')
            self.assertEqual(
                (job.kind, job.state, job.team, job.lead, job.dispatcher),
                ('service', 'draft', w.alpha, w.lead, w.manager))
            self.assertEqual(job.service_case, case)
            self.assertEqual(case.visit_job_state, 'draft')
            # The visit waits for the booking
            with self.assertRaises(UserError) as cm:
                Case.start_visit([case])
            self.assertEqual(cm.exception.message,
                f'The visit of case "{case.number}" starts once its job '
                f'"{job.number}" is scheduled (it is To Schedule).')
            self.assertEqual(Case(case.id).state, 'decided')
            with as_user(w.dispatcher):
                self.book(Job(job.id))
            Case.start_visit([case])
            # The case waits for the team's report
            with self.assertRaises(UserError) as cm:
                Case.close([case])
            self.assertEqual(cm.exception.message,
                f'The visit job "{job.number}" of case "{case.number}" is '
                'Scheduled: the team must report it first.')
            self.assertEqual(Case(case.id).state, 'visit')
            job = Job(job.id)
            Job.confirm_day([job])
            Job.submit_report([job])
            self.assertEqual(job.state, 'done')
            Case.close([case])
            self.assertEqual(case.state, 'closed')
            self.assertEqual(service_events(w.station), [
                    'service_case_opened', 'service_diagnosis',
                    'service_decision', 'service_visit_planned',
                    'service_scheduled', 'service_visit',
                    'service_visit_reported', 'service_case_closed'])

    @with_transaction()
    def test_team_without_service_capability_refused(self):
        "A team that does no service is refused, with ev_field's message"
        pool = Pool()
        Job = pool.get('ev.field.job')
        Log = pool.get('ev.station.log')
        w = self.setup()
        with set_company(w.company):
            case = self.planned(w)
            job = case.visit_job
            # The team lost its service capability since the plan
            w.alpha.service = False
            w.alpha.save()
            logged = Log.search([], count=True)
            with as_user(w.dispatcher):
                with self.assertRaises(UserError) as cm:
                    self.book(Job(job.id))
            self.assertEqual(cm.exception.message,
                'Team "[ALPHA] Team ALPHA" does not do jobs of kind Service.')
            self.assertEqual(Job(job.id).state, 'draft')
            self.assertEqual(Log.search([], count=True), logged)
            # Nor can a survey-only team be set on a service job
            survey_only = create_team(w.company, 'SURV', ['5600*'],
                installation=False)
            with self.assertRaises(UserError) as cm:
                Job.write([Job(job.id)], {'team': survey_only.id})
            self.assertEqual(cm.exception.message,
                f'The value "[SURV] Team SURV" for field "Team" in record '
                f'"{job.number}" of "Field Job" is not valid according to '
                'its domain.')

    @with_transaction()
    def test_double_booking_refused(self):
        "The team's survey in the same slot: the visit cannot overlap it"
        Job = Pool().get('ev.field.job')
        w = self.setup()
        with set_company(w.company):
            survey = create_job(w, 'survey', when=slot(10))
            Job.schedule([survey])
            case = self.planned(w)
            job = case.visit_job
            with as_user(w.dispatcher):
                with self.assertRaises(UserError) as cm:
                    self.book(Job(job.id), slot(11))
            self.assertEqual(cm.exception.message,
                f'Team "[ALPHA] Team ALPHA" is already booked for job '
                f'"{survey.number}" ({survey.slot_text()}): job '
                f'"{job.number}" cannot overlap it.')
            self.assertEqual(Job(job.id).state, 'draft')
            # Right after the survey it fits
            with as_user(w.dispatcher):
                self.book(Job(job.id), slot(12))
            self.assertEqual(Job(job.id).state, 'scheduled')

    @with_transaction()
    def test_other_team_cannot_read_the_visit_job(self):
        "Alpha's crew reads its service job; Beta's crew cannot"
        Job = Pool().get('ev.field.job')
        w = self.setup()
        with set_company(w.company):
            case = self.planned(w)
            job = case.visit_job
            beta = create_team(w.company, 'BETA', ['5600*'], service=True)
            beta_crew = create_employee(w.company, "Bala Beta")
            beta.members = [beta_crew]
            beta.save()
            alpha_user = create_user('crew-alpha',
                'ev_field.group_field_team', employee=w.crew)
            beta_user = create_user('crew-beta',
                'ev_field.group_field_team', employee=beta_crew)
            with as_user(alpha_user):
                self.assertEqual(Job.search([('kind', '=', 'service')]),
                    [job])
            with as_user(beta_user):
                self.assertEqual(Job.search([('kind', '=', 'service')]), [])
                with self.assertRaises(AccessError):
                    Job.read([job.id], ['number'])

    @with_transaction()
    def test_plan_visit_doors(self):
        "Only the Service Manager plans; never before L2 decided nor twice"
        pool = Pool()
        Case = pool.get('ev.service.case')
        Job = pool.get('ev.field.job')
        w = self.setup()
        with set_company(w.company):
            case = self.case(w, decision='on_site_visit')
            jobs = Job.search([], count=True)
            with as_user(w.l2):
                with self.assertRaises(UserError):
                    Case.plan_visit([Case(case.id)])
            crew_user = create_user('crew-alpha',
                'ev_field.group_field_team', employee=w.crew)
            with as_user(crew_user):
                with self.assertRaises(UserError):
                    Case.plan_visit([Case(case.id)])
            self.assertEqual(Job.search([], count=True), jobs)
            self.assertIsNone(Case(case.id).visit_job)

            reported = Case(station=w.station, company=w.company,
                description="Display dark", team=w.alpha)
            reported.save()
            with Transaction().set_user(w.manager.id):
                with self.assertRaises(UserError) as cm:
                    Case.plan_visit([Case(reported.id)])
            self.assertEqual(cm.exception.message,
                f'Case "{reported.number}" is Reported: a visit is planned '
                'once L2 has decided and before the visit starts.')
            self.assertEqual(Job.search([], count=True), jobs)

            with as_user(w.manager):
                Case.plan_visit([Case(case.id)])
                # Planned once: the button is gone
                with self.assertRaises(UserError):
                    Case.plan_visit([Case(case.id)])
            self.assertEqual(Job.search([], count=True), jobs + 1)

    @with_transaction()
    def test_plan_visit_needs_a_lead(self):
        "A station sold without a lead cannot get a field job"
        pool = Pool()
        Case = pool.get('ev.service.case')
        Station = pool.get('ev.station')
        Job = pool.get('ev.field.job')
        w = self.setup()
        with set_company(w.company):
            w.station = Station(customer=w.customer)
            w.station.save()
            case = self.case(w, decision='on_site_visit')
            with self.assertRaises(UserError) as cm:
                Case.plan_visit([case])
            self.assertEqual(cm.exception.message,
                f'Station "{w.station.rec_name}" of case "{case.number}" '
                'has no lead: a field job needs one.')
            self.assertEqual(Job.search([], count=True), 0)
            self.assertIsNone(Case(case.id).visit_job)


del ModuleDBTestCase
