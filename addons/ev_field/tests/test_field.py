# This file is part of the EV operations suite.
"Field operations from a ready lead to a payable installation"
import datetime as dt
import zoneinfo
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import (
    create_job, create_team, create_user, quantity, report_survey,
    setup_world, slot)


def events(job):
    "(event code, visibility) of the log entries of the job's stations"
    Log = Pool().get('ev.station.log')
    entries = Log.search([('station', 'in', [s.id for s in job.lead.stations])],
        order=[('id', 'ASC')])
    return [(e.event_type.code, e.visibility) for e in entries]


class FieldFlow:
    "Steps of the flow shared by the test cases"

    def configure(self, **values):
        Configuration = Pool().get('ev.field.configuration')
        config = Configuration(1)
        for name, value in values.items():
            setattr(config, name, value)
        config.save()

    def survey_done(self, w, **report):
        "A survey scheduled, called, reported and reviewed as site ready"
        Job = Pool().get('ev.field.job')
        survey = create_job(w, 'survey')
        Job.schedule([survey])
        Job.confirm_day([survey])
        report_survey(survey, **report)
        Job.submit_report([survey])
        Job.review_ready([survey])
        return survey

    def installation_ready(self, w, when=None):
        "An installation scheduled with its materials in the van"
        Job = Pool().get('ev.field.job')
        self.survey_done(w)
        job = create_job(w, 'installation', when=when or slot(13))
        Job.schedule([job])
        Job.plan_materials([job])
        Job.allocate_materials([job])
        return job

    def installation_done(self, w, **values):
        "An installation reported with the charger serial from the van"
        Job = Pool().get('ev.field.job')
        job = self.installation_ready(w)
        if values:
            Job.write([job], values)
        Job.confirm_day([job])
        job.charger_lot, = [m.lot for m in job.allocation.moves if m.lot]
        job.cable_used_m = Decimal(14)
        job.tests_done = job.demo_given = True
        job.customer_signature = b'\x89PNG signature'
        job.save()
        Job.submit_report([job])
        return job

    def move_stock(self, w, product, quantity, from_type, to_type):
        "Move `quantity` of `product` between the storage and a party"
        pool = Pool()
        Move = pool.get('stock.move')
        Location = pool.get('stock.location')

        def location(type_):
            if type_ == 'storage':
                return w.storage
            return Location.search([('type', '=', type_)], limit=1)[0]
        move = Move(product=product, quantity=quantity,
            unit=product.default_uom, from_location=location(from_type),
            to_location=location(to_type), company=w.company,
            unit_price=product.cost_price, currency=w.inr)
        move.save()
        with Transaction().set_context(_skip_warnings=True):
            Move.do([move])

    def short_breaker_job(self, w):
        "An installation whose breakers are all used elsewhere"
        Job = Pool().get('ev.field.job')
        self.move_stock(w, w.breaker, 5, 'storage', 'customer')
        self.survey_done(w)
        job = create_job(w, 'installation', when=slot(13))
        Job.schedule([job])
        Job.plan_materials([job])
        Job.allocate_materials([job])
        return job


class FieldTestCase(FieldFlow, ModuleDBTestCase):
    module = 'ev_field'

    @with_transaction()
    def test_happy_path_to_payable(self):
        "Ready lead → survey → site ready → materials → install → payable"
        pool = Pool()
        Job = pool.get('ev.field.job')
        Handover = pool.get('ev.station.handover')
        w = setup_world()
        with set_company(w.company):
            self.configure(qa_share=Decimal(1), logistics_cost=Decimal(800))
            dispatcher = create_user('ops-dispatch', 'ev_lead.group_central_ops')
            survey = create_job(w, 'survey', dispatcher=dispatcher)
            self.assertTrue(survey.number.startswith('SRV-'))
            self.assertEqual(survey.postal_code, '560001')
            Job.schedule([survey])
            self.assertEqual(len(w.lead.stations), 1)
            self.assertEqual(w.lead.api_milestones()['survey_scheduled'],
                survey.slot_start.isoformat())
            Job.confirm_day([survey])
            self.assertTrue(survey.customer_confirmed)
            report_survey(survey)
            Job.submit_report([survey])
            # The review is handed over to the dispatcher
            handovers = Handover.search([('receiver', '=', dispatcher.id)])
            self.assertEqual(len(handovers), 1)
            Job.review_ready([survey])
            self.assertEqual(survey.state, 'closed')
            self.assertEqual(survey.review, 'ready')
            self.assertEqual(w.lead.state, 'won')

            job = create_job(w, 'installation', when=slot(13))
            self.assertTrue(job.number.startswith('INS-'))
            Job.schedule([job])
            Job.plan_materials([job])
            planned = {(m.product, m.quantity) for m in job.materials}
            # 12.5 m of run → 13 m + 2 m allowance
            self.assertEqual(planned, {(w.charger, 1), (w.cable, 15),
                    (w.breaker, 1), (w.kit, 1)})
            Job.allocate_materials([job])
            van = w.alpha.location
            self.assertEqual(job.allocation.state, 'done')
            self.assertEqual(quantity(w.cable, van), 15)
            self.assertEqual(quantity(w.cable, w.storage), 85)
            self.assertEqual(quantity(w.charger, van), 1)
            self.assertEqual(quantity(w.charger, w.storage), 2)
            serial, = [m.lot for m in job.allocation.moves
                if m.product == w.charger]

            Job.confirm_day([job])
            job.charger_lot = serial
            job.cable_used_m = Decimal(14)
            job.tests_done = job.demo_given = True
            job.customer_signature = b'\x89PNG signature'
            job.save()
            Job.submit_report([job])
            self.assertEqual(job.state, 'done')
            self.assertEqual(quantity(w.charger, van), 0)
            self.assertEqual(quantity(w.cable, van), 1)
            self.assertEqual(job.qa_state, 'pending')

            job.charger_identity = 'EVB-000123'
            job.network_verified = job.app_paired = True
            job.save()
            with self.assertRaises(UserError):
                Job.commission([job])  # ev_station wants the site photo
            Photo = pool.get('ev.station.photo')
            Photo(station=w.lead.stations[0], name='final.jpg',
                image=b'jpeg', kind='main', taken_by=w.crew.party).save()
            Job.commission([job])
            self.assertEqual(w.lead.stations[0].stage, 'commissioned')
            with self.assertRaises(UserError):
                Job.close([job])  # no closure call yet
            job.closure_call_note = "Customer happy, charging works"
            job.save()
            Job.closure_call([job])
            with self.assertRaises(UserError):
                Job.close([job])  # sampled for QA, not audited yet
            job.qa_note = "Cable routing and earthing checked on site"
            job.save()
            Job.qa_pass([job])
            Job.close([job])
            Job.mark_payable([job])
            self.assertTrue(job.payable)
            # charger 30000 + 14 m × 150 + breaker 600 + kit 400
            self.assertEqual(job.cost_materials, Decimal('33100.00'))
            self.assertEqual(job.cost_labour, Decimal(2500))
            self.assertEqual(job.cost_logistics, Decimal(800))
            self.assertEqual(job.cost_total, Decimal('36400.00'))
            with self.assertRaises(UserError):
                Job.mark_payable([job])

            logged = events(job)
            for code, visibility in [
                    ('survey_scheduled', 'client_email'),
                    ('field_day_call', 'internal'),
                    ('survey_reported', 'internal'),
                    ('site_ready', 'client_email'),
                    ('installation_scheduled', 'client_email'),
                    ('materials_allocated', 'internal'),
                    ('installation_completed', 'client_email'),
                    ('commissioned', 'client_email'),
                    ('closure_call', 'client'),
                    ('qa_audit', 'internal'),
                    ('job_closed', 'internal'),
                    ('job_payable', 'internal'),
                    ]:
                self.assertIn((code, visibility), logged)
            milestones = w.lead.api_milestones()
            self.assertIsNotNone(milestones['survey_done'])
            self.assertIsNotNone(milestones['installed'])

    @with_transaction()
    def test_no_qa_sample_at_zero_share(self):
        Job = Pool().get('ev.field.job')
        w = setup_world()
        with set_company(w.company):
            self.configure(qa_share=Decimal(0))
            job = self.installation_ready(w)
            Job.confirm_day([job])
            job.charger_lot = [m.lot for m in job.allocation.moves
                if m.lot][0]
            job.cable_used_m = Decimal(12)
            job.tests_done = job.demo_given = True
            job.customer_signature = b'sig'
            job.save()
            Job.submit_report([job])
            self.assertIsNone(job.qa_state)

    @with_transaction()
    def test_emergency_with_backup(self):
        "The team drops out: Central Ops hears, the customer is told, the "
        "least loaded free team takes over"
        pool = Pool()
        Job = pool.get('ev.field.job')
        Notification = pool.get('res.notification')
        w = setup_world()
        with set_company(w.company):
            ops = create_user('ops', 'ev_lead.group_central_ops')
            busy = create_team(w.company, 'BUSY', ['560001'])
            free = create_team(w.company, 'FREE', ['56*'])
            create_team(w.company, 'FAR', ['4000*'])
            create_team(w.company, 'NOSURVEY', ['5600*'], survey=False)
            create_team(w.company, 'OFF', ['5600*'],
                days_off=[{'date': dt.date.today()}])
            # BUSY has another job today (later), FREE has none
            Job.write([create_job(w, team=busy, when=slot(15))],
                {'state': 'scheduled'})
            job = create_job(w, 'survey')
            Job.schedule([job])
            with self.assertRaises(UserError):
                Job.mark_unavailable([job])  # a reason is needed
            job.unavailable_reason = "Van broke down"
            job.save()
            Job.mark_unavailable([job])
            self.assertEqual(job.state, 'emergency')
            self.assertEqual(job.unavailable_team, w.alpha)
            self.assertEqual(job.backup_teams, (free, busy))
            self.assertEqual(
                job.propose_backups(), [(free.id, 0), (busy.id, 1)])
            notified = Notification.search([('user', '=', ops.id)])
            self.assertEqual(len(notified), 1)
            logged = events(job)
            self.assertIn(('team_unavailable', 'internal'), logged)
            self.assertIn(('job_delayed', 'client_email'), logged)

            Job.reassign([job], free)
            self.assertEqual(job.state, 'scheduled')
            self.assertEqual(job.team, free)
            reassignment, = job.reassignments
            self.assertEqual((reassignment.from_team, reassignment.to_team,
                    reassignment.kind), (w.alpha, free, 'emergency'))
            self.assertIn(('emergency_reassigned', 'client_email'),
                events(job))

    @with_transaction()
    def test_emergency_without_backup(self):
        "No team can step in: priority reschedule, first of the list"
        Job = Pool().get('ev.field.job')
        w = setup_world()
        with set_company(w.company):
            waiting = create_job(w, 'survey', team=None, when=(None, None))
            job = create_job(w, 'survey')
            Job.schedule([job])
            job.unavailable_reason = "Crew member ill"
            job.save()
            Job.mark_unavailable([job])
            self.assertEqual(job.state, 'draft')
            self.assertTrue(job.priority)
            self.assertIsNone(job.team)
            self.assertEqual(Job.next_available(), [job, waiting])
            self.assertIn(('priority_rescheduled', 'client_email'),
                events(job))
            # Rescheduling clears the priority
            job.team = w.alpha
            job.slot_start, job.slot_end = slot(10, day=1)
            job.save()
            Job.schedule([job])
            self.assertFalse(job.priority)

    @with_transaction()
    def test_site_not_ready(self):
        "The survey finds work to do: the customer gets the list and the "
        "lead waits under ev_lead's readiness timeout"
        pool = Pool()
        Job = pool.get('ev.field.job')
        Lead = pool.get('sale.opportunity')
        w = setup_world()
        with set_company(w.company):
            survey = create_job(w, 'survey')
            Job.schedule([survey])
            Job.confirm_day([survey])
            report_survey(survey, earthing='missing',
                earthing_work_needed=True, load_upgrade_needed=True)
            Job.submit_report([survey])
            with self.assertRaises(UserError):
                Job.review_ready([survey])
            Job.review_not_ready([survey])
            self.assertEqual(survey.review, 'not_ready')
            lead = Lead(w.lead.id)
            self.assertEqual(lead.state, 'ready_for_survey')
            self.assertIsNotNone(lead.readiness_wait_since)
            self.assertIn("Earthing Work Needed", lead.site_work_required)
            self.assertIn("Electrical Load Upgrade Needed",
                lead.site_work_required)
            self.assertIn(('site_not_ready', 'client_email'), events(survey))
            # No installation before a survey finds the site ready
            job = create_job(w, 'installation', when=slot(13))
            with self.assertRaises(UserError):
                Job.schedule([job])
            # The timeout puts the waiting lead on hold
            Lead.write([lead], {'readiness_wait_since':
                    dt.date.today() - dt.timedelta(days=365)})
            Lead.hold_unready_sites()
            self.assertEqual(Lead(lead.id).state, 'on_hold')

    def procurement(self, w, job, upi, unit_price):
        pool = Pool()
        Procurement = pool.get('ev.field.procurement')
        Party = pool.get('party.party')
        vendor = Party(name="Sharma Electricals",
            addresses=[{'city': "Bengaluru"}])
        vendor.save()
        procurement = Procurement(job=job, company=w.company, vendor=vendor,
            upi_link=upi, lines=[{
                    'product': w.breaker.id, 'quantity': 2,
                    'unit': w.breaker.default_uom.id,
                    'unit_price': unit_price}])
        procurement.save()
        return procurement

    @with_transaction()
    def test_local_procurement_below_threshold(self):
        pool = Pool()
        Procurement = pool.get('ev.field.procurement')
        w = setup_world()
        with set_company(w.company):
            job = self.short_breaker_job(w)
            short = [m for m in job.materials if m.state == 'short']
            self.assertEqual([m.product for m in short], [w.breaker])
            proposal = Procurement(job=job)
            proposal.on_change_job()
            self.assertEqual([(l.product, l.quantity) for l in proposal.lines],
                [(w.breaker, 1)])
            self.assertEqual(short[0].request.quantity, 1)
            self.assertIsNone(job.allocation)
            self.assertIn(('materials_short', 'internal'), events(job))

            procurement = self.procurement(w, job,
                'upi://pay?pa=sharma.elec@okaxis&pn=Sharma%20Electricals'
                '&am=1200.00&cu=INR', Decimal(600))
            self.assertEqual(procurement.vpa, 'sharma.elec@okaxis')
            self.assertEqual(procurement.payee_name, "Sharma Electricals")
            self.assertEqual(procurement.amount, Decimal('1200.00'))
            Procurement.submit([procurement])
            self.assertEqual(procurement.state, 'approved')
            self.assertTrue(procurement.auto_approved)
            Procurement.buy([procurement])
            self.assertEqual(procurement.state, 'purchased')
            self.assertEqual(procurement.purchase.state, 'processing')
            self.assertEqual(procurement.invoice.type, 'in')
            self.assertEqual(procurement.invoice.total_amount,
                Decimal('1200.00'))
            self.assertEqual(short[0].request.state, 'purchased')
            with self.assertRaises(UserError):
                Procurement.pay([procurement])  # no payment reference
            procurement.payment_reference = 'UPI-412233445566'
            procurement.save()
            Procurement.pay([procurement])
            self.assertEqual(procurement.state, 'paid')
            self.assertIn(('vendor_paid', 'internal'), events(job))

    @with_transaction()
    def test_local_procurement_above_threshold(self):
        pool = Pool()
        Procurement = pool.get('ev.field.procurement')
        Notification = pool.get('res.notification')
        w = setup_world()
        with set_company(w.company):
            finance = create_user('finance', 'ev_station.group_finance')
            crew = create_user('crew', 'ev_field.group_field_team',
                employee=w.crew)
            job = self.short_breaker_job(w)
            procurement = self.procurement(w, job,
                'upi://pay?pa=sharma.elec@okaxis&am=7500&cu=INR',
                Decimal(3750))
            Procurement.submit([procurement])
            self.assertEqual(procurement.state, 'waiting')
            self.assertFalse(procurement.auto_approved)
            self.assertEqual(
                len(Notification.search([('user', '=', finance.id)])), 1)
            Procurement.buy([procurement])  # not before approval
            self.assertEqual(procurement.state, 'waiting')
            self.assertIsNone(procurement.purchase)
            with as_user(crew), self.assertRaises(AccessButtonError):
                Procurement.approve([Procurement(procurement.id)])
            with as_user(finance):
                Procurement.approve([Procurement(procurement.id)])
            procurement = Procurement(procurement.id)
            self.assertEqual(procurement.state, 'approved')
            self.assertEqual(procurement.approved_by, finance)

    @with_transaction()
    def test_threshold_is_configurable(self):
        Procurement = Pool().get('ev.field.procurement')
        w = setup_world()
        with set_company(w.company):
            self.configure(approval_threshold=Decimal(1000))
            job = self.short_breaker_job(w)
            procurement = self.procurement(w, job,
                'upi://pay?pa=sharma.elec@okaxis&am=1200&cu=INR',
                Decimal(600))
            Procurement.submit([procurement])
            self.assertEqual(procurement.state, 'waiting')

    @with_transaction()
    def test_cancelled_job_returns_materials(self):
        Job = Pool().get('ev.field.job')
        w = setup_world()
        with set_company(w.company):
            job = self.installation_ready(w)
            van = w.alpha.location
            self.assertEqual(quantity(w.kit, van), 1)
            self.assertEqual(quantity(w.charger, w.storage), 2)
            Job.cancel([job])
            self.assertEqual(job.state, 'cancelled')
            for product, stock in [(w.charger, 3), (w.cable, 100),
                    (w.breaker, 5), (w.kit, 5)]:
                self.assertEqual(quantity(product, van), 0)
                self.assertEqual(quantity(product, w.storage), stock)
            for lot in w.lots:
                self.assertEqual(quantity(w.charger, w.storage, lot), 1)
            self.assertEqual({m.state for m in job.materials}, {'returned'})
            self.assertIn(('materials_returned', 'internal'), events(job))
            self.assertIn(('job_cancelled', 'client_email'), events(job))

    @with_transaction()
    def test_double_booking_refused(self):
        Job = Pool().get('ev.field.job')
        w = setup_world()
        with set_company(w.company):
            first = create_job(w, 'survey', when=slot(10, 2))
            Job.schedule([first])
            overlapping = create_job(w, 'survey', when=slot(11, 2))
            with self.assertRaises(UserError) as cm:
                Job.schedule([overlapping])
            self.assertIn(first.number, cm.exception.message)
            self.assertEqual(Job(overlapping.id).state, 'draft')
            # Back to back is fine; so is another team at the same time
            after = create_job(w, 'survey', when=slot(12, 2))
            Job.schedule([after])
            beta = create_team(w.company, 'BETA', ['5600*'])
            same_time = create_job(w, 'survey', team=beta, when=slot(10, 2))
            Job.schedule([same_time])
            self.assertEqual({after.state, same_time.state}, {'scheduled'})

    @with_transaction()
    def test_bad_slot(self):
        "A slot ending before it starts is refused (by the domain on SQLite,"
        " the check constraint on PostgreSQL, which aborts the transaction)"
        w = setup_world()
        with set_company(w.company):
            start, end = slot(12)
            with self.assertRaises(ValidationError) as cm:
                create_job(w, 'survey', when=(end, start))
            self.assertRegex(cm.exception.message, r"(?i)\bends?\b")

    @with_transaction()
    def test_bad_input(self):
        "Clear messages, nothing written"
        pool = Pool()
        Job = pool.get('ev.field.job')
        Zone = pool.get('ev.field.team.zone')
        w = setup_world()
        with set_company(w.company):
            with self.assertRaises(ValidationError):
                Zone.create([{'team': w.alpha.id, 'pattern': "56%00'"}])

            job = self.installation_ready(w)
            for link, part in [
                    ('upi://pay?pa=not-a-vpa&am=100&cu=INR', 'UPI ID'),
                    ('upi://pay?pa=a@b&am=100&cu=INR', 'UPI ID'),
                    ('upi://pay?pa=shop@okaxis&am=-5&cu=INR', 'amount'),
                    ('upi://pay?pa=shop@okaxis&am=12.345&cu=INR', 'amount'),
                    ('upi://pay?pa=shop@okaxis&am=abc&cu=INR', 'amount'),
                    ('upi://pay?pa=shop@okaxis&am=10&cu=USD', 'currency'),
                    ('https://pay?pa=shop@okaxis', 'UPI payment link'),
                    ]:
                with self.subTest(link=link):
                    with self.assertRaises(ValidationError) as cm:
                        self.procurement(w, job, link, Decimal(50))
                    self.assertIn(part, cm.exception.message)

            # A serial that is not in the team's van
            Job.confirm_day([job])
            stranger = [l for l in w.lots
                if l not in {m.lot for m in job.allocation.moves}][0]
            job.charger_lot = stranger
            job.cable_used_m = Decimal(12)
            job.tests_done = job.demo_given = True
            job.customer_signature = b'sig'
            job.save()
            with self.assertRaises(UserError) as cm:
                Job.submit_report([job])
            self.assertIn(stranger.number, cm.exception.message)
            self.assertEqual(Job(job.id).state, 'confirmed')
            self.assertEqual(quantity(w.charger, w.alpha.location), 1)

            # A report with missing checklist items
            survey = create_job(w, 'survey', when=slot(16))
            Job.schedule([survey])
            Job.confirm_day([survey])
            with self.assertRaises(UserError) as cm:
                Job.submit_report([survey])
            self.assertIn("Cable Run", cm.exception.message)

    @with_transaction()
    def test_today_is_the_company_day(self):
        """The Today tab's jobs start between midnight and midnight in the
        company's time zone, not in UTC"""
        Job = Pool().get('ev.field.job')
        w = setup_world()
        w.company.timezone = 'Asia/Kolkata'
        w.company.save()
        india = zoneinfo.ZoneInfo('Asia/Kolkata')
        midnight = dt.datetime.combine(dt.datetime.now(india).date(),
            dt.time(), tzinfo=india).astimezone(dt.timezone.utc).replace(
            tzinfo=None)
        with set_company(w.company):
            jobs = {}
            for name, hours in [('yesterday', -1), ('early', 1),
                    ('late', 23), ('tomorrow', 25)]:
                job = create_job(w, 'survey')
                start = midnight + dt.timedelta(hours=hours)
                Job.write([job], {'slot_start': start,
                        'slot_end': start + dt.timedelta(minutes=30)})
                jobs[name] = job
            self.assertEqual(set(Job.search([('today', '=', True)])),
                {jobs['early'], jobs['late']})
            self.assertEqual(
                set(Job.search([('today', '=', False)])) & set(jobs.values()),
                {jobs['yesterday'], jobs['tomorrow']})
            self.assertEqual([j.today for j in jobs.values()],
                [False, True, True, False])

    @with_transaction()
    def test_team_found_by_code_or_name(self):
        "A dispatcher picks a team by its code as well as by its name"
        Team = Pool().get('ev.field.team')
        w = setup_world()
        beta = create_team(w.company, 'BETA', ['5600*'], name="Koramangala")
        self.assertEqual(beta.rec_name, "[BETA] Koramangala")
        for text in ['BETA', 'beta', 'Koram']:
            with self.subTest(text=text):
                self.assertEqual(
                    Team.search([('rec_name', 'ilike', f'%{text}%')]), [beta])
        self.assertNotIn(beta,
            Team.search([('rec_name', 'not ilike', '%BETA%')]))

    @with_transaction()
    def test_field_team_sees_only_its_jobs(self):
        "Record rules: a team cannot see or change another team's jobs"
        pool = Pool()
        Job = pool.get('ev.field.job')
        Team = pool.get('ev.field.team')
        w = setup_world()
        with set_company(w.company):
            beta = create_team(w.company, 'BETA', ['5600*'])
            ours = create_job(w, 'survey')
            theirs = create_job(w, 'survey', team=beta)
            Job.schedule([ours, theirs])
            crew = create_user('crew-alpha', 'ev_field.group_field_team',
                employee=w.crew)
            ops = create_user('ops', 'ev_lead.group_central_ops')
            with as_user(crew):
                self.assertEqual(Job.search([]), [ours])
                self.assertEqual(Team.search([]), [w.alpha])
                with self.assertRaises(AccessError):
                    Job.read([theirs.id], ['number'])
                with self.assertRaises(AccessError):
                    Job.write([Job(theirs.id)], {'day_call_note': "x"})
                with self.assertRaises(AccessError):
                    Job.confirm_day([Job(theirs.id)])
                # Their own job: the day call, not the dispatcher's buttons
                Job.write([Job(ours.id)], {'day_call_note': "On our way"})
                Job.confirm_day([Job(ours.id)])
                with self.assertRaises(AccessButtonError):
                    Job.cancel([Job(ours.id)])
                with self.assertRaises(AccessError):
                    Job.create([{'kind': 'survey', 'lead': w.lead.id,
                                'company': w.company.id}])
            self.assertEqual(Job(ours.id).state, 'confirmed')
            self.assertEqual(Job(theirs.id).state, 'scheduled')
            with as_user(ops):
                self.assertEqual(set(Job.search([])), {ours, theirs})
