# This file is part of the EV operations suite.
"The step that does the work asked of the dispatcher completes the handover"
from trytond.i18n import gettext
from trytond.modules.company.tests import set_company
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from .test_field import FieldFlow
from .tools import (
    create_employee, create_job, create_team, create_user, report_survey,
    setup_world, slot)


def handovers(job):
    "(next action, state) of the handovers of the job's stations"
    Handover = Pool().get('ev.station.handover')
    return {(h.next_action, h.state) for h in Handover.search(
            [('station', 'in', [s.id for s in job.lead.stations])])}


def station(job):
    "The job's station as stored now"
    Station = Pool().get('ev.station')
    return Station(job.lead.stations[0].id)


class FieldHandoverTestCase(FieldFlow, ModuleDBTestCase):
    module = 'ev_field'

    def reported_survey(self, w, **report):
        "A survey reported and handed over to its dispatcher for review"
        Job = Pool().get('ev.field.job')
        self.dispatcher = create_user(
            'ops-dispatch', 'ev_lead.group_central_ops')
        self.reviewer = create_user('ops-review', 'ev_lead.group_central_ops',
            employee=create_employee(w.company, "Reviewer"))
        survey = create_job(w, 'survey', dispatcher=self.dispatcher)
        Job.schedule([survey])
        Job.confirm_day([survey])
        report_survey(survey, **report)
        Job.submit_report([survey])
        self.review = gettext('ev_field.msg_action_review', job=survey.rec_name)
        self.assertEqual(handovers(survey), {(self.review, 'pending')})
        self.assertEqual(station(survey).next_step, self.review)
        return survey

    def press(self, button, job):
        "A colleague of the dispatcher presses the review button"
        Job = Pool().get('ev.field.job')
        with as_user(self.reviewer):
            getattr(Job, button)([Job(job.id)])

    def assert_completed_by_step(self, job, step_code):
        pool = Pool()
        Handover = pool.get('ev.station.handover')
        handover, = Handover.search([('next_action', '=', self.review)])
        self.assertEqual(handover.state, 'completed')
        self.assertEqual(handover.receiver, self.dispatcher)
        # The reviewer, not the receiver, did the work: the system completed
        # the handover on the reviewer's behalf and says by which step
        self.assertEqual(handover.completed_by, self.reviewer)
        self.assertEqual(handover.completed_entry.event_type.code, step_code)
        self.assertEqual(handover.completed_entry.author, self.reviewer)

    @with_transaction()
    def test_site_ready_completes_the_review(self):
        "Site Ready is the review: the dispatcher's task closes itself"
        w = setup_world()
        with set_company(w.company):
            survey = self.reported_survey(w)
            self.press('review_ready', survey)
            self.assert_completed_by_step(survey, 'site_ready')
            self.assertIsNone(station(survey).next_step)
            self.assertIsNone(station(survey).follow_up_date)

    @with_transaction()
    def test_site_not_ready_completes_the_review(self):
        "Site Not Ready is a review too"
        w = setup_world()
        with set_company(w.company):
            survey = self.reported_survey(w, earthing='missing',
                earthing_work_needed=True)
            self.press('review_not_ready', survey)
            self.assert_completed_by_step(survey, 'site_not_ready')
            self.assertIsNone(station(survey).next_step)

    @with_transaction()
    def test_other_work_stays_open(self):
        "A handover asking for other work is not the review's to close"
        pool = Pool()
        Date = pool.get('ir.date')
        w = setup_world()
        with set_company(w.company):
            survey = self.reported_survey(w)
            quote = "Send the quote for a second charger"
            with as_user(self.dispatcher):
                station(survey).record_event('note', "Customer asks",
                    next_owner=self.reviewer, next_action=quote,
                    follow_up_date=Date.today())
            self.press('review_ready', survey)
            self.assertEqual(handovers(survey), {
                    (self.review, 'completed'), (quote, 'pending')})
            # The station's next step is the work still open
            self.assertEqual(station(survey).next_step, quote)
            self.assertEqual(station(survey).follow_up_date, Date.today())

    @with_transaction()
    def test_commissioning_and_closure_call_answer_their_handovers(self):
        "Installed → commission → closure call: each step closes the last ask"
        pool = Pool()
        Job = pool.get('ev.field.job')
        Photo = pool.get('ev.station.photo')
        w = setup_world()
        with set_company(w.company):
            dispatcher = create_user('ops-dispatch', 'ev_lead.group_central_ops')
            job = self.installation_done(w, dispatcher=dispatcher.id)
            commission = gettext(
                'ev_field.msg_action_commission', job=job.rec_name)
            call = gettext('ev_field.msg_action_closure_call', job=job.rec_name)
            self.assertEqual(handovers(job), {(commission, 'pending')})
            self.assertEqual(station(job).next_step, commission)

            job.charger_identity = 'EVB-000123'
            job.network_verified = job.app_paired = True
            job.save()
            Photo(station=station(job), name='final.jpg', image=b'jpeg',
                kind='main', taken_by=w.crew.party).save()
            Job.commission([job])
            self.assertEqual(handovers(job), {
                    (commission, 'completed'), (call, 'pending')})
            self.assertEqual(station(job).next_step, call)

            job.closure_call_note = "Customer happy"
            job.save()
            Job.closure_call([job])
            self.assertEqual(handovers(job), {
                    (commission, 'completed'), (call, 'completed')})
            self.assertIsNone(station(job).next_step)

    @with_transaction()
    def test_backup_search_answered_by_reassignment(self):
        "Reassign to Backup is the search the dispatcher was asked for"
        Job = Pool().get('ev.field.job')
        w = setup_world()
        with set_company(w.company):
            dispatcher = create_user('ops-dispatch', 'ev_lead.group_central_ops')
            free = create_team(w.company, 'FREE', ['56*'])
            job = create_job(w, 'survey', dispatcher=dispatcher)
            Job.schedule([job])
            job.unavailable_reason = "Van broke down"
            job.save()
            Job.mark_unavailable([job])
            find = gettext('ev_field.msg_action_find_backup', job=job.rec_name)
            self.assertEqual(handovers(job), {(find, 'pending')})
            self.assertEqual(station(job).next_step, find)
            Job.reassign([job], free)
            self.assertEqual(handovers(job), {(find, 'completed')})
            self.assertIsNone(station(job).next_step)

    @with_transaction()
    def test_no_backup_then_rescheduled(self):
        "With no backup the search ends in the priority reschedule, which "
        "Schedule answers"
        Job = Pool().get('ev.field.job')
        w = setup_world()
        with set_company(w.company):
            dispatcher = create_user('ops-dispatch', 'ev_lead.group_central_ops')
            job = create_job(w, 'survey', dispatcher=dispatcher)
            Job.schedule([job])
            job.unavailable_reason = "Crew member ill"
            job.save()
            Job.mark_unavailable([job])
            find = gettext('ev_field.msg_action_find_backup', job=job.rec_name)
            again = gettext('ev_field.msg_action_reschedule', job=job.rec_name)
            self.assertEqual(handovers(job), {
                    (find, 'completed'), (again, 'pending')})
            self.assertEqual(station(job).next_step, again)
            job.team = w.alpha
            job.slot_start, job.slot_end = slot(10, day=1)
            job.save()
            Job.schedule([job])
            self.assertEqual(handovers(job), {
                    (find, 'completed'), (again, 'completed')})
            self.assertIsNone(station(job).next_step)

    @with_transaction()
    def test_procurement_answered_by_allocation(self):
        "The missing materials asked for are there once Check & Allocate "
        "moves everything to the van"
        Job = Pool().get('ev.field.job')
        w = setup_world()
        with set_company(w.company):
            job = self.short_breaker_job(w)
            dispatcher = create_user('ops-dispatch', 'ev_lead.group_central_ops')
            Job.write([job], {'dispatcher': dispatcher.id})
            Job.allocate_materials([job])  # still short, now handed over
            procure = gettext('ev_field.msg_action_procure', job=job.rec_name)
            self.assertIn((procure, 'pending'), handovers(job))
            self.move_stock(w, w.breaker, 1, 'supplier', 'storage')
            Job.allocate_materials([job])
            self.assertEqual(Job(job.id).allocation.state, 'done')
            self.assertNotIn((procure, 'pending'), handovers(job))
            self.assertIn((procure, 'completed'), handovers(job))
