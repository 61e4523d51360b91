# This file is part of the EV operations suite.
"""The service KPIs: cases walked through the workflow on a controlled
clock give exact hours per step, counts of non-returns and of cases whose
handover nobody accepted; field teams cannot read them"""
import datetime as dt
import types
from contextlib import contextmanager
from decimal import Decimal
from unittest.mock import patch

from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_field.tests.tools import create_user
from trytond.modules.ev_service import case as case_module
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_service import ServiceWorld

MARCH = dt.datetime(2026, 3, 2, 8, 0)


class Clock:
    "The case's steps stamp the time this clock shows"

    def __init__(self):
        self.now = None
        clock = self

        class datetime(dt.datetime):
            @classmethod
            def now(cls, tz=None):
                return clock.now
        self.module = types.SimpleNamespace(datetime=datetime, date=dt.date,
            timedelta=dt.timedelta)

    @contextmanager
    def at(self, when):
        self.now = when
        with patch.object(case_module, 'dt', self.module):
            yield


def hours(value):
    return dt.timedelta(hours=value)


@contextmanager
def kpi_context(from_date=dt.date(2026, 3, 1), to_date=dt.date(2026, 4, 30)):
    with Transaction().set_context(from_date=from_date, to_date=to_date):
        yield


class KPITestCase(ServiceWorld, ModuleDBTestCase):
    module = 'ev_service'

    def walk(self, w, clock, reported_at, steps, decision='part_replacement',
            chargeable=False, lot=None):
        """A case reported at `reported_at` that goes through `steps`, each
        a (button, hours after the previous step) pair"""
        pool = Pool()
        Case = pool.get('ev.service.case')
        Part = pool.get('ev.service.part')
        case = Case(station=w.station, company=w.company, team=w.alpha,
            description="Connector 1 faults", coordinator=w.manager,
            reported_at=reported_at, chargeable=chargeable)
        if chargeable:
            case.quoted_amount = Decimal(4500)
        case.save()
        Case.diagnose([case])
        case.decision = decision
        case.save()
        if decision == 'part_replacement':
            part = self.part(w, case, lot or w.lots[0])
        when = reported_at
        for button, after in steps:
            when += hours(after)
            if button == 'receive':
                Part.write(list(case.parts), {'returned_serial': 'OLD-1'})
                Part.receive(list(case.parts))
                continue
            with clock.at(when):
                getattr(Case, button)([case])
        return Case(case.id), part if decision == 'part_replacement' else None

    def march_cases(self, w):
        clock = Clock()
        full = [('decide', 4), ('request_approval', 1), ('approve', 23),
            ('ship_parts', 6), ('start_visit', 48),
            ('complete_replacement', 2), ('receive', 0),
            ('confirm_returns', 120)]
        first, _ = self.walk(w, clock, MARCH, full, chargeable=True)
        # No quote: shipped 2 hours after the decision
        second, part = self.walk(w, clock, dt.datetime(2026, 3, 2),
            [('decide', 10), ('ship_parts', 2)], lot=w.lots[1])
        self.walk(w, clock, dt.datetime(2026, 3, 4),
            [('decide', 1)], decision='remote_fix')
        # Decided in April
        self.walk(w, clock, dt.datetime(2026, 3, 31, 20),
            [('decide', 6)], decision='remote_fix')
        return first, second, part

    @with_transaction()
    def test_step_hours_per_month(self):
        "Average and median hours of each step, by month of the step's end"
        Step = Pool().get('ev.service.kpi.step')
        w = self.setup()
        with set_company(w.company):
            first, _, _ = self.march_cases(w)
            self.assertEqual(
                (first.decided_at, first.client_approved_at,
                    first.shipped_at, first.visited_at, first.replaced_at,
                    first.return_received_at),
                (MARCH + hours(4), MARCH + hours(28), MARCH + hours(34),
                    MARCH + hours(82), MARCH + hours(84),
                    MARCH + hours(204)))
            with kpi_context():
                rows = Step.search_read([], order=[
                        ('month', 'ASC'), ('step', 'ASC')],
                    fields_names=['month', 'step', 'cases', 'average_hours',
                        'median_hours', 'max_hours'])
            self.assertEqual([(r['month'], r['step'], r['cases'],
                        round(r['average_hours'], 6),
                        round(r['median_hours'], 6), round(r['max_hours'], 6))
                    for r in rows], [
                    (dt.date(2026, 3, 1), 'decision', 3, 5, 4, 10),
                    (dt.date(2026, 3, 1), 'approval', 1, 24, 24, 24),
                    # 6 hours after the approval, 2 after a decision alone
                    (dt.date(2026, 3, 1), 'shipment', 2, 4, 4, 6),
                    (dt.date(2026, 3, 1), 'visit', 1, 48, 48, 48),
                    (dt.date(2026, 3, 1), 'return', 1, 120, 120, 120),
                    (dt.date(2026, 4, 1), 'decision', 1, 6, 6, 6),
                    ])
            # The range is on the step's end
            with kpi_context(to_date=dt.date(2026, 3, 31)):
                self.assertEqual(
                    [(r.step, r.cases) for r in Step.search(
                            [('step', '=', 'decision')])],
                    [('decision', 3)])

    @with_transaction()
    def test_step_hours_rolled_up(self):
        "The cron stores complete months; the KPIs read them unchanged, " \
            "compute the others live and follow a step recorded late"
        pool = Pool()
        Case = pool.get('ev.service.case')
        Step = pool.get('ev.service.kpi.step')
        StepTeam = pool.get('ev.service.kpi.step.team')
        StepMonth = pool.get('ev.service.kpi.step.month')
        fields_names = ['month', 'step', 'cases', 'average_hours',
            'median_hours', 'max_hours']

        def rows(Model=Step, **dates):
            with kpi_context(**dates):
                return [(r['month'], r['step'], r['cases'],
                        round(r['average_hours'], 6),
                        round(r['median_hours'], 6),
                        round(r['max_hours'], 6), r['id'] % 2)
                    for r in Model.search_read([], order=[
                            ('month', 'ASC'), ('step', 'ASC')],
                        fields_names=fields_names)]
        w = self.setup()
        with set_company(w.company):
            self.march_cases(w)
            live = rows()
            # April is the current month: only March is stored
            StepMonth.roll_up(dt.date(2026, 4, 15))
            self.assertEqual(
                sorted({(m.month, m.per_team) for m in StepMonth.search([])}),
                [(dt.date(2026, 3, 1), False), (dt.date(2026, 3, 1), True)])
            march = [(m, s, c, a, md, mx, 0) for m, s, c, a, md, mx, _ in live
                if m == dt.date(2026, 3, 1)]
            april = [r for r in live if r[0] == dt.date(2026, 4, 1)]
            # Even ids: read from the store; odd: computed live
            self.assertEqual(rows(), march + april)
            self.assertEqual([r[:-1] for r in rows()], [r[:-1] for r in live])
            team, = [r for r in rows(StepTeam) if r[1] == 'decision'
                and r[0] == dt.date(2026, 3, 1)]
            self.assertEqual(team, (dt.date(2026, 3, 1), 'decision', 3,
                    5, 4, 10, 0))
            # A range starting within March computes March live
            self.assertEqual(
                [r for r in rows(from_date=dt.date(2026, 3, 3))
                    if r[1] == 'decision'],
                [(dt.date(2026, 3, 1), 'decision', 1, 1, 1, 1, 1),
                    (dt.date(2026, 4, 1), 'decision', 1, 6, 6, 6, 1)])
            # A decision of March recorded 3 hours later after the rollup
            third, = Case.search([('reported_at', '=', dt.datetime(
                            2026, 3, 4))])
            Case.write([third], {
                    'decided_at': dt.datetime(2026, 3, 4, 4)})
            StepMonth.roll_up(dt.date(2026, 5, 10))
            self.assertEqual(
                [r for r in rows() if r[1] == 'decision'],
                [(dt.date(2026, 3, 1), 'decision', 3, 6, 4, 10, 0),
                    (dt.date(2026, 4, 1), 'decision', 1, 6, 6, 6, 0)])
            # Each month once: the second run replaced March's rows
            self.assertEqual(len(StepMonth.search([
                            ('month', '=', dt.date(2026, 3, 1)),
                            ('per_team', '=', False)])), 5)

    @with_transaction()
    def test_step_hours_per_team(self):
        StepTeam = Pool().get('ev.service.kpi.step.team')
        w = self.setup()
        with set_company(w.company):
            self.march_cases(w)
            with kpi_context():
                row, = StepTeam.search([
                        ('step', '=', 'decision'),
                        ('month', '=', dt.date(2026, 3, 1))])
            self.assertEqual((row.team, row.cases, row.median_hours),
                (w.alpha, 3, 4))

    @with_transaction()
    def test_non_returns_and_unaccepted_handovers(self):
        "An overdue part counts once; its handover until the coordinator " \
            "accepts it"
        pool = Pool()
        Part = pool.get('ev.service.part')
        Handover = pool.get('ev.station.handover')
        Case = pool.get('ev.service.case')
        Overdue = pool.get('ev.service.kpi.overdue')
        Unaccepted = pool.get('ev.service.kpi.unaccepted')
        w = self.setup()
        with set_company(w.company):
            _, second, part = self.march_cases(w)
            # Each step handed its open case over to the coordinator
            open_cases = Case.search(
                [('state', 'not in', ['closed', 'cancelled'])])
            with kpi_context(from_date=None, to_date=None):
                self.assertEqual(Overdue.search([]), [])
                row, = Unaccepted.search([])
                self.assertEqual((row.coordinator, row.cases),
                    (w.manager, len(open_cases)))
            pending = Handover.search([('state', '=', 'pending')])
            # Each handover of a case's step names its case
            self.assertEqual(
                sorted(h.service_case.id for h in pending),
                sorted(c.id for c in open_cases))
            with as_user(w.manager):
                Handover.accept(Handover.browse(pending))
            with kpi_context(from_date=None, to_date=None):
                self.assertEqual(Unaccepted.search([]), [])
            Part.write([part], {
                    'return_due': dt.date.today() - dt.timedelta(days=1)})
            Part.mark_overdue()
            with kpi_context(from_date=None, to_date=None):
                row, = Overdue.search([])
                self.assertEqual((row.team, row.parts, row.oldest_due),
                    (w.alpha, 1, part.return_due))
                row, = Unaccepted.search([])
                self.assertEqual(
                    (row.coordinator, row.cases, row.oldest_follow_up),
                    (w.manager, 1, dt.date.today() + dt.timedelta(days=1)))
            handover, = Handover.search([('work', '=', f'{part}:return')])
            # The handover of the part's work names the part's case
            self.assertEqual(handover.service_case, part.case)
            with as_user(w.manager):
                Handover.accept([Handover(handover.id)])
            with kpi_context(from_date=None, to_date=None):
                self.assertEqual(Unaccepted.search([]), [])
                # Still not back
                self.assertEqual([r.parts for r in Overdue.search([])], [1])
            part.returned_serial = 'OLD-2'
            part.save()
            Part.receive([part])
            with kpi_context(from_date=None, to_date=None):
                self.assertEqual(Overdue.search([]), [])

    @with_transaction()
    def test_field_team_cannot_read_kpis(self):
        "A crew reads none of the KPIs; Finance reads them"
        pool = Pool()
        w = self.setup()
        with set_company(w.company):
            self.march_cases(w)
            crew_user = create_user('crew-alpha',
                'ev_field.group_field_team', employee=w.crew)
            finance = create_user('finance', 'ev_station.group_finance')
            names = ['ev.service.kpi.step', 'ev.service.kpi.step.team',
                'ev.service.kpi.overdue', 'ev.service.kpi.unaccepted']
            for name in names:
                Model = pool.get(name)
                with kpi_context(), as_user(crew_user):
                    with self.assertRaises(AccessError) as cm:
                        Model.search_read([], fields_names=['id'])
                    self.assertEqual(cm.exception.message,
                        f'You are not allowed to access "{Model.__string__}".')
                with kpi_context(), as_user(finance):
                    Model.search_read([], fields_names=['id'])
            # The rollups are read through the KPIs only
            StepMonth = pool.get('ev.service.kpi.step.month')
            StepMonth.roll_up(dt.date(2026, 5, 1))
            for user in [crew_user, finance]:
                with as_user(user), self.assertRaises(AccessError) as cm:
                    StepMonth.search_read([], fields_names=['id'])
                self.assertEqual(cm.exception.message,
                    'You are not allowed to access '
                    '"Service Step Times of a Month".')
            with kpi_context(), as_user(finance):
                self.assertEqual(len(pool.get('ev.service.kpi.step').search(
                            [])), 6)


del ModuleDBTestCase
