# This file is part of the EV operations suite.
"""Payout runs: drafting per schedule, sign-off, disputes, posting on the
books and paying; each door tried as the team, another team and Finance"""
import datetime as dt
from decimal import Decimal

from sql import Column

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from trytond.modules.ev_field.tests.tools import create_user

from .tools import (
    PayoutWorld, payable_job, place_hold, release_hold, set_schedule)

D = dt.date
YEAR = dt.date.today().year - 1


def amounts(run):
    return (run.gross, run.deductions, run.disputed, run.net)


class PayoutTestCase(PayoutWorld, ModuleDBTestCase):
    module = 'ev_payout'

    def runs(self, team):
        Run = Pool().get('ev.payout.run')
        return Run.search([('team', '=', team.id)],
            order=[('period_start', 'ASC'), ('id', 'ASC')])

    @with_transaction()
    def test_fortnight_runs_and_idempotent_cron(self):
        "A fortnight's run holds its jobs; running the cron again adds none"
        Run = Pool().get('ev.payout.run')
        w = self.setup()
        with w.set_company(w.company):
            set_schedule(w.alpha, 'fortnight', D(YEAR, 8, 1))
            j1 = payable_job(w, w.alpha, D(YEAR, 8, 3))
            j2 = payable_job(w, w.alpha, D(YEAR, 8, 15),
                extra=Decimal(500), extra_reason="Extra 20 m cable run")
            j3 = payable_job(w, w.alpha, D(YEAR, 8, 16))
            Run.create_runs(today=D(YEAR, 8, 16))
            run, = self.runs(w.alpha)
            self.assertEqual((run.period_start, run.period_end,
                    run.frequency, run.state),
                (D(YEAR, 8, 1), D(YEAR, 8, 15), 'fortnight', 'draft'))
            self.assertEqual(
                sorted((l.kind, l.origin, l.amount) for l in run.lines),
                sorted([('labour', j1, Decimal(2500)),
                        ('labour', j2, Decimal(2500)),
                        ('extra', j2, Decimal(500))]))
            self.assertEqual(amounts(run), (Decimal(5500), 0, 0,
                    Decimal(5500)))
            # Again, and on a later day: nothing new for that fortnight
            Run.create_runs(today=D(YEAR, 8, 16))
            self.assertEqual(len(self.runs(w.alpha)), 1)
            Run.create_runs(today=D(YEAR, 9, 1))
            first, second = self.runs(w.alpha)
            self.assertEqual(first, run)
            self.assertEqual([l.origin for l in second.lines], [j3])
            self.assertEqual(second.period_end, D(YEAR, 8, 31))
            Run.create_runs(today=D(YEAR, 9, 1))
            self.assertEqual(len(self.runs(w.alpha)), 2)

    @with_transaction()
    def test_schedule_change_mid_fortnight(self):
        "Monthly from the 10th: the fortnight is cut on the 9th"
        Run = Pool().get('ev.payout.run')
        w = self.setup()
        with w.set_company(w.company):
            set_schedule(w.alpha, 'fortnight', D(YEAR, 8, 1))
            set_schedule(w.alpha, 'month', D(YEAR, 8, 10),
                reason="New contract")
            payable_job(w, w.alpha, D(YEAR, 8, 5))
            payable_job(w, w.alpha, D(YEAR, 8, 12))
            Run.create_runs(today=D(YEAR, 9, 2))
            first, second = self.runs(w.alpha)
            self.assertEqual(
                [(r.period_start, r.period_end, r.frequency, len(r.lines))
                    for r in [first, second]],
                [(D(YEAR, 8, 1), D(YEAR, 8, 9), 'fortnight', 1),
                    (D(YEAR, 8, 10), D(YEAR, 8, 31), 'month', 1)])

    @with_transaction()
    def test_schedule_never_recuts_a_run(self):
        Schedule = Pool().get('ev.payout.schedule')
        Run = Pool().get('ev.payout.run')
        w = self.setup()
        with w.set_company(w.company):
            schedule = set_schedule(w.alpha, 'fortnight', D(YEAR, 8, 1))
            payable_job(w, w.alpha, D(YEAR, 8, 5))
            run, = Run.create_runs(today=D(YEAR, 8, 20))
            with self.assertRaises(UserError) as cm:
                set_schedule(w.alpha, 'month', D(YEAR, 8, 10))
            self.assertEqual(cm.exception.message,
                f'The schedule of team "[ALPHA] Team ALPHA" cannot apply '
                f'from {YEAR}-08-10: its payouts are drafted until '
                f'{YEAR}-08-15. Choose a day after it.')
            self.assertEqual(Schedule.search([]), [schedule])
            with self.assertRaises(AccessError) as cm:
                Schedule.write([schedule], {'frequency': 'month'})
            self.assertEqual(cm.exception.message,
                "A payment schedule is never changed or deleted: set a new "
                "one from the day it should apply.")

    @with_transaction()
    def test_per_job_team(self):
        "A per-job team gets one run per payable job, once"
        Run = Pool().get('ev.payout.run')
        w = self.setup()
        with w.set_company(w.company):
            set_schedule(w.beta, 'job', D(YEAR, 8, 1))
            job = payable_job(w, w.beta, D(YEAR, 8, 3))
            runs = Run.create_runs(today=D(YEAR, 8, 4))
            run, = runs
            self.assertEqual((run.job, run.frequency, run.net, run.key),
                (job, 'job', Decimal(2000), f'job-{job.id}'))
            self.assertEqual(Run.create_runs(today=D(YEAR, 8, 5)), [])

    def signed_run(self, w, team=None, on=None):
        Run = Pool().get('ev.payout.run')
        team = team or w.alpha
        set_schedule(team, 'month', D(YEAR, 7, 1))
        payable_job(w, team, on or D(YEAR, 7, 10))
        payable_job(w, team, on or D(YEAR, 7, 12))
        run, = Run.create_runs(today=D(YEAR, 8, 1))
        Run.send([run])
        return Run(run.id)

    @with_transaction()
    def test_sign_off_dispute_and_post(self):
        "The team disputes one line: frozen, the rest is posted and paid"
        pool = Pool()
        Run = pool.get('ev.payout.run')
        Line = pool.get('ev.payout.line')
        Dispute = pool.get('ev.dispute')
        Payment = pool.get('account.payment')
        w = self.setup()
        with w.set_company(w.company):
            run = self.signed_run(w)
            self.assertEqual(run.state, 'sign_off')
            first, second = run.lines
            with as_user(w.alpha_user):
                dispute = Line(first.id).open_dispute(
                    "The job needed two visits", Decimal(3500))
                Line.confirm([Line(second.id)])
            run = Run(run.id)
            self.assertEqual(run.state, 'signed')
            self.assertEqual(amounts(run), (Decimal(2500), 0,
                    Decimal(2500), Decimal(2500)))
            self.assertEqual((dispute.origin, dispute.claimed_amount,
                    dispute.state), (Line(first.id), Decimal(3500), 'open'))
            with as_user(w.finance):
                Run.post([Run(run.id)])
            run = Run(run.id)
            self.assertEqual(run.state, 'posted')
            self.assertEqual(run.invoice.total_amount, Decimal(2500))
            self.assertEqual(run.invoice.state, 'posted')
            self.assertEqual(run.payee, 'UPI alpha.crew@okaxis')
            self.assertEqual(
                sorted((l.account, l.debit, l.credit, l.party)
                    for l in run.invoice.move.lines),
                sorted([(w.expense, Decimal(2500), 0, None),
                        (w.contractor.account_payable_used, 0,
                            Decimal(2500), w.contractor)]))
            self.assertEqual((run.payment.state, run.payment.amount,
                    run.payment.party), ('submitted', Decimal(2500),
                    w.contractor))
            with as_user(w.finance):
                Payment.approve([Payment(run.payment.id)])
            # The accepted dispute pays the agreed amount in the next run
            with as_user(w.finance):
                dispute.owner = w.finance
                dispute.agreed_amount = Decimal(3000)
                dispute.resolution = "Second visit confirmed"
                dispute.save()
                Dispute.accept([dispute])
            settlement, = Line.search([('kind', '=', 'settlement')])
            self.assertEqual((settlement.amount, settlement.run,
                    settlement.origin), (Decimal(3000), None, dispute))

    @with_transaction()
    def test_month_with_hold_placed_then_released(self):
        "A hold is deducted in its month and paid back once released"
        Run = Pool().get('ev.payout.run')
        w = self.setup()
        with w.set_company(w.company):
            set_schedule(w.alpha, 'month', D(YEAR, 7, 1))
            payable_job(w, w.alpha, D(YEAR, 7, 10))
            hold = place_hold(w, self, 1200, D(YEAR, 7, 20))
            july, = Run.create_runs(today=D(YEAR, 8, 1))
            self.assertEqual(amounts(july), (Decimal(2500),
                    Decimal(-1200), 0, Decimal(1300)))
            release_hold(hold, D(YEAR, 8, 5))
            payable_job(w, w.alpha, D(YEAR, 8, 10))
            august, = Run.create_runs(today=D(YEAR, 9, 1))
            self.assertEqual(
                sorted((l.kind, l.amount) for l in august.lines),
                [('hold_release', Decimal(1200)),
                    ('labour', Decimal(2500))])
            self.assertEqual(Run.create_runs(today=D(YEAR, 10, 1)), [])

    @with_transaction()
    def test_periods_drafted_together_and_line_history(self):
        """Two fortnights drafted at once (the cron was down): each job in
        its own fortnight, a hold and a pending adjustment in the first run
        covering their date, a hold of a contractor shared by two teams
        deducted once; every line's history starts with its run and shows
        the confirmation by silence"""
        pool = Pool()
        Run = pool.get('ev.payout.run')
        Line = pool.get('ev.payout.line')
        w = self.setup()
        with w.set_company(w.company):
            set_schedule(w.alpha, 'fortnight', D(YEAR, 8, 1))
            set_schedule(w.beta, 'fortnight', D(YEAR, 8, 1))
            w.beta.contractor = w.contractor
            w.beta.save()
            j1 = payable_job(w, w.alpha, D(YEAR, 8, 14))
            j2 = payable_job(w, w.alpha, D(YEAR, 8, 20))
            j3 = payable_job(w, w.beta, D(YEAR, 8, 2))
            hold = place_hold(w, self, 700, D(YEAR, 8, 10))
            adjustment, = Line.create([{
                        'team': w.alpha.id, 'kind': 'adjustment',
                        'date': D(YEAR, 8, 25), 'amount': Decimal(150),
                        'description': "Toll refund"}])
            runs = Run.create_runs(today=D(YEAR, 9, 2))
            first, second = self.runs(w.alpha)
            beta, = self.runs(w.beta)
            self.assertEqual(sorted(runs), sorted([first, second, beta]))
            self.assertEqual([(r.period_start, r.period_end)
                    for r in [first, second]],
                [(D(YEAR, 8, 1), D(YEAR, 8, 15)),
                    (D(YEAR, 8, 16), D(YEAR, 8, 31))])

            def content(run):
                return sorted((l.kind, l.origin, l.amount)
                    for l in Run(run.id).lines)
            # The hold of the shared contractor goes to the first new run
            # covering its day: Alpha's first fortnight (drafted first)
            self.assertEqual(content(first), sorted([
                        ('labour', j1, Decimal(2500)),
                        ('hold', hold, Decimal(-700))]))
            self.assertEqual(content(second), sorted([
                        ('labour', j2, Decimal(2500)),
                        ('adjustment', None, Decimal(150))]))
            self.assertEqual(Line(adjustment.id).run, second)
            self.assertEqual(content(beta), [('labour', j3, Decimal(2000))])

            Run.send([first])
            Run.close_signoff(now=dt.datetime.now() + dt.timedelta(
                    hours=1000))
            self.assertEqual(Run(first.id).state, 'signed')
            self.assertEqual(Run(second.id).state, 'draft')
            line = Line.__table__()
            history = Line.__table_history__()
            cursor = Transaction().connection.cursor()
            for l in Run(first.id).lines:
                cursor.execute(*history.select(history.run, history.state,
                        history.silent,
                        where=history.id == l.id,
                        order_by=[Column(history, '__id').asc]))
                self.assertEqual([(r, s, bool(q)) for r, s, q in cursor], [
                        (first.id, 'proposed', False),
                        (first.id, 'confirmed', True)],
                    msg=l.description)
            cursor.execute(*line.select(line.state, line.silent,
                    line.confirmed_by, where=line.run == first.id))
            self.assertEqual({(s, bool(q), u) for s, q, u in cursor},
                {('confirmed', True, None)})

    @with_transaction()
    def test_team_sees_only_its_runs_and_cannot_change_amounts(self):
        pool = Pool()
        Run = pool.get('ev.payout.run')
        Line = pool.get('ev.payout.line')
        w = self.setup()
        with w.set_company(w.company):
            alpha_run = self.signed_run(w)
            beta_run = self.signed_run(w, w.beta)
            with as_user(w.beta_user):
                self.assertEqual(Run.search([]), [Run(beta_run.id)])
                self.assertEqual({l.run for l in Line.search([])},
                    {Run(beta_run.id)})
                # Another team's line: neither confirmed nor disputed
                line = alpha_run.lines[0]
                with self.assertRaises(AccessError):
                    Line.confirm_line([Line(line.id)])
                self.assertEqual(Line(line.id).state, 'proposed')
                with self.assertRaises(AccessError):
                    Run.read([alpha_run.id], ['net'])
            with as_user(w.alpha_user):
                with self.assertRaises(AccessError):
                    Line.write([Line(alpha_run.lines[0].id)],
                        {'amount': Decimal(9999)})
                with self.assertRaises(AccessButtonError):
                    Run.post([Run(alpha_run.id)])
            self.assertEqual(Line(alpha_run.lines[0].id).amount,
                Decimal(2500))
            self.assertEqual(Run(alpha_run.id).state, 'sign_off')

    @with_transaction()
    def test_only_finance_posts(self):
        Run = Pool().get('ev.payout.run')
        w = self.setup()
        with w.set_company(w.company):
            run = self.signed_run(w)
            Run.close_signoff(now=dt.datetime.now() + dt.timedelta(days=4))
            run = Run(run.id)
            self.assertEqual(run.state, 'signed')
            self.assertTrue(all(l.silent for l in run.lines))
            with as_user(w.ops):
                with self.assertRaises(AccessButtonError):
                    Run.post([Run(run.id)])
            self.assertEqual(Run(run.id).state, 'signed')
            self.assertIsNone(Run(run.id).invoice)

    @with_transaction()
    def test_bad_input(self):
        "Clear messages and nothing written"
        pool = Pool()
        Run = pool.get('ev.payout.run')
        Line = pool.get('ev.payout.line')
        Invoice = pool.get('account.invoice')
        Payment = pool.get('account.payment')
        w = self.setup()
        with w.set_company(w.company):
            run = self.signed_run(w)
            labour = run.lines[0]
            # A negative adjustment beyond the line it corrects
            with self.assertRaises(UserError) as cm:
                Line.create([{'team': w.alpha.id, 'kind': 'adjustment',
                            'description': "Damaged wall plate",
                            'amount': Decimal(-3000),
                            'adjusts': labour.id}])
            self.assertEqual(cm.exception.message,
                'An adjustment of -3000.00 goes beyond line "'
                f'{labour.rec_name}", which pays 2500.00.')
            self.assertEqual(Line.search([('kind', '=', 'adjustment')]), [])
            # A payment to a team without bank or UPI details
            Run.close_signoff(now=dt.datetime.now() + dt.timedelta(days=4))
            w.alpha.payout_vpa = None
            w.alpha.save()
            with as_user(w.finance):
                with self.assertRaises(UserError) as cm:
                    Run.post([Run(run.id)])
            self.assertEqual(cm.exception.message,
                'Team "[ALPHA] Team ALPHA" cannot be paid: it has neither a '
                'UPI ID nor a bank account with IFSC.')
            self.assertEqual((Invoice.search([]), Payment.search([]),
                    Run(run.id).state), ([], [], 'signed'))
            # A dispute on a posted line
            w.alpha.payout_vpa = 'alpha.crew@okaxis'
            w.alpha.save()
            with as_user(w.finance):
                Run.post([Run(run.id)])
            with as_user(w.alpha_user):
                with self.assertRaises(UserError) as cm:
                    Line(labour.id).open_dispute("Too low")
            self.assertEqual(cm.exception.message,
                f'Payout line "{labour.rec_name}" of run "{run.rec_name}" '
                'is not waiting for the team: only lines of a run in '
                'sign-off can be confirmed or disputed.')
            self.assertEqual(pool.get('ev.dispute').search([]), [])
            # Bad payee details
            with self.assertRaises(UserError) as cm:
                w.beta.payout_ifsc = 'HDFC1234'
                w.beta.save()
            self.assertEqual(cm.exception.message,
                'The IFSC "HDFC1234" of team "[BETA] Team BETA" is not '
                'valid (4 letters, 0, then 6 letters or digits, e.g. '
                'HDFC0001234).')

    @with_transaction()
    def test_record_payment_with_utr(self):
        pool = Pool()
        Run = pool.get('ev.payout.run')
        Payment = pool.get('account.payment')
        Pay = pool.get('ev.payout.run.pay', type='wizard')
        w = self.setup()
        with w.set_company(w.company):
            run = self.signed_run(w)
            Run.close_signoff(now=dt.datetime.now() + dt.timedelta(days=4))
            with as_user(w.finance):
                Run.post([Run(run.id)])
                run = Run(run.id)
                with self.assertRaises(UserError) as cm:
                    self.pay(Pay, run, 'HDFCN52026081512345')
                self.assertEqual(cm.exception.message,
                    f'Payment "{run.payment.rec_name}" of run '
                    f'"{run.rec_name}" is Submitted: Finance must approve '
                    'it before it is paid.')
                Payment.approve([run.payment])
                self.pay(Pay, Run(run.id), 'HDFCN52026081512345')
            run = Run(run.id)
            self.assertEqual((run.state, run.utr, run.payment.state),
                ('paid', 'HDFCN52026081512345', 'succeeded'))
            # The statement finds the payment by its UTR
            self.assertEqual(
                Payment.search([('rec_name', '=', 'HDFCN52026081512345')]),
                [run.payment])

    @with_transaction()
    def test_dispute_rejected_pays_the_line_as_it_was(self):
        "Rejected with a reason: the original amount goes to the next run"
        pool = Pool()
        Line = pool.get('ev.payout.line')
        Dispute = pool.get('ev.dispute')
        Run = pool.get('ev.payout.run')
        w = self.setup()
        with w.set_company(w.company):
            run = self.signed_run(w)
            line = run.lines[0]
            with as_user(w.alpha_user):
                dispute = Line(line.id).open_dispute("Paid too little")
                # The crew reads its own dispute, not another team's
                self.assertEqual(Dispute.search([]), [dispute])
            with as_user(w.beta_user):
                self.assertEqual(Dispute.search([]), [])
            with as_user(w.finance):
                dispute = Dispute(dispute.id)
                dispute.owner = w.finance
                dispute.resolution = "The rate card says 2,500"
                dispute.save()
                Dispute.reject([dispute])
            settlement, = Line.search([('kind', '=', 'settlement')])
            self.assertEqual((settlement.amount, settlement.origin,
                    settlement.description), (Decimal(2500), dispute,
                    f'"{line.description}" paid as it was (dispute '
                    f'{dispute.number} rejected)'))
            # It joins the team's next run
            today = dt.date.today()
            month_later = today.replace(day=28) + dt.timedelta(days=4)
            next_month = month_later.replace(day=1)
            runs = Run.create_runs(today=next_month)
            self.assertEqual([l.origin for r in runs for l in r.lines],
                [dispute])
            self.assertEqual(Line(line.id).state, 'disputed')

    @with_transaction()
    def test_dispute_wizard_refuses_another_teams_line(self):
        pool = Pool()
        Line = pool.get('ev.payout.line')
        Dispute = pool.get('ev.dispute')
        Wizard = pool.get('ev.payout.line.dispute', type='wizard')
        w = self.setup()
        with w.set_company(w.company):
            run = self.signed_run(w)
            line = run.lines[0]
            with as_user(w.beta_user):
                session_id, _, _ = Wizard.create()
                with Transaction().set_context(
                        active_model='ev.payout.line', active_id=line.id,
                        active_ids=[line.id]):
                    with self.assertRaises(AccessError):
                        Wizard.execute(session_id, {'start': {
                                    'reason': "Not ours but we try",
                                    'claimed_amount': None,
                                    'line': line.id, 'amount': None}},
                            'dispute')
            self.assertEqual(Dispute.search([]), [])
            self.assertEqual(Line(line.id).state, 'proposed')

    @with_transaction()
    def test_marked_payable_per_job_team_gets_its_run_at_once(self):
        pool = Pool()
        Job = pool.get('ev.field.job')
        Run = pool.get('ev.payout.run')
        w = self.setup()
        with w.set_company(w.company):
            set_schedule(w.beta, 'job', dt.date.today() - dt.timedelta(
                    days=30))
            job = payable_job(w, w.beta, dt.date.today())
            Job.write([job], {'payable': False, 'payable_at': None})
            Job.mark_payable([Job(job.id)])
            run, = Run.search([('team', '=', w.beta.id)])
            self.assertEqual((run.job, run.frequency, run.state),
                (Job(job.id), 'job', 'draft'))

    @with_transaction()
    def test_doors_closed_to_outsiders_and_the_wrong_roles(self):
        "Outsider: nothing; team: no schedules, no adjustments; Ops: no pay"
        pool = Pool()
        Run = pool.get('ev.payout.run')
        Line = pool.get('ev.payout.line')
        Schedule = pool.get('ev.payout.schedule')
        Configuration = pool.get('ev.payout.configuration')
        Pay = pool.get('ev.payout.run.pay', type='wizard')
        w = self.setup()
        with w.set_company(w.company):
            run = self.signed_run(w)
            outsider = create_user('outsider')
            with as_user(outsider):
                for Model in [Run, Line, Schedule, Configuration]:
                    with self.assertRaises(AccessError):
                        Model.search([])
            with as_user(w.alpha_user):
                # (as RPC does: save() is the server's, unchecked)
                with self.assertRaises(AccessError):
                    Schedule.create([{'team': w.alpha.id, 'frequency': 'job',
                                'valid_from': D(YEAR + 1, 1, 1)}])
                with self.assertRaises(AccessError):
                    Line.create([{'team': w.alpha.id,
                                'description': "Bonus we give ourselves",
                                'amount': Decimal(10000)}])
                with self.assertRaises(AccessError):
                    Configuration.write([Configuration(1)],
                        {'signoff_hours': 1})
            Run.close_signoff(now=dt.datetime.now() + dt.timedelta(days=4))
            with as_user(w.finance):
                Run.post([Run(run.id)])
            with as_user(w.ops):
                with self.assertRaises(AccessError):
                    self.pay(Pay, Run(run.id), 'HDFCN52026081512345')
            self.assertEqual(Run(run.id).state, 'posted')
            self.assertEqual(Schedule.search([('team', '=', w.alpha.id)],
                    count=True), 1)
            self.assertEqual(Line.search([('kind', '=', 'adjustment')]), [])

    def pay(self, Pay, run, utr):
        "The Record Payment wizard, executed as a client would"
        session_id, _, _ = Pay.create()
        with Transaction().set_context(active_model='ev.payout.run',
                active_id=run.id, active_ids=[run.id]):
            Pay.execute(session_id, {'start': {'utr': utr, 'run': run.id,
                        'amount': None, 'payee': None}}, 'pay')


del ModuleDBTestCase
