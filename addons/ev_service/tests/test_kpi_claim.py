# This file is part of the EV operations suite.
"""The warranty claim KPIs from claims decided on a controlled clock: exact
hours, shares and counts; the cases without a final summary; field teams
cannot read them"""
import datetime as dt
from contextlib import contextmanager
from unittest.mock import patch

from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_charger_iot.tests.test_health import create_charger
from trytond.modules.ev_field.tests.tools import create_team, create_user
from trytond.modules.ev_service import claim as claim_module
from trytond.modules.ev_station.tests.tools import (
    ModuleDBTestCase, as_user, create_station)
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from .test_claim import ClaimWorld, at
from .test_kpi import Clock, hours, kpi_context
from .test_service import ServiceWorld
from . import test_summary
from .test_summary import summary_values

MARCH = dt.datetime(2026, 3, 2, 8, 0)
KPIS = ['ev.service.kpi.claim', 'ev.service.kpi.claim.hour',
    'ev.service.kpi.claim.zone', 'ev.service.kpi.no_summary']


@contextmanager
def claim_clock(when):
    "The claim's transitions stamp `when`"
    clock = Clock()
    clock.now = when
    with patch.object(claim_module, 'dt', clock.module):
        yield


class ClaimKPITestCase(ClaimWorld, ModuleDBTestCase):
    module = 'ev_service'

    def walked(self, submitted_at, decided_after=None, start=None,
            closed_after=None, charger=None):
        """A claim submitted at `submitted_at` and rejected by the manager
        `decided_after` hours later, closed `closed_after` hours after"""
        Claim = Pool().get('ev.service.claim')
        end = start + hours(1) if start else None
        claim = self.claim('other', start=start, end=end, charger=charger)
        with claim_clock(submitted_at), as_user(self.manager):
            Claim.submit([Claim(claim.id)])
        if decided_after is not None:
            decided_at = submitted_at + hours(decided_after)
            with claim_clock(decided_at), as_user(self.manager):
                Claim.reject([Claim(claim.id)])
            if closed_after is not None:
                with claim_clock(decided_at + hours(closed_after)), \
                        as_user(self.manager):
                    Claim.close([Claim(claim.id)])
        return Claim(claim.id)

    @with_transaction()
    def test_transitions_stamp_times(self):
        "Submission, decision and closing are stamped at the transitions"
        self.setup()
        with set_company(self.company):
            claim = self.walked(MARCH, decided_after=10, closed_after=5)
            self.assertEqual(
                (claim.state, claim.submitted_at, claim.decided_at,
                    claim.closed_at, claim.decided_by),
                ('closed', MARCH, MARCH + hours(10), MARCH + hours(15),
                    self.manager))

    @with_transaction()
    def test_claims_per_month(self):
        "Decided, hours to decision, share within the SLA, undecided"
        pool = Pool()
        Claim = pool.get('ev.service.kpi.claim')
        Configuration = pool.get('ev.service.configuration')
        self.setup()
        with set_company(self.company):
            self.assertEqual(Configuration(1).claim_sla_hours, 72)
            self.walked(MARCH, decided_after=10, closed_after=20)
            # Beyond the SLA
            self.walked(dt.datetime(2026, 3, 3), decided_after=100)
            # At the SLA exactly, but decided in April
            self.walked(dt.datetime(2026, 3, 30, 12), decided_after=72)
            self.walked(dt.datetime(2026, 3, 31))
            self.walked(dt.datetime(2026, 4, 5))
            # Outside the dates
            self.walked(dt.datetime(2026, 5, 1), decided_after=1)
            with kpi_context():
                rows = Claim.search_read([], fields_names=['month',
                        'submitted', 'decided', 'average_hours',
                        'within_sla', 'undecided'])
            self.assertEqual(
                [(r['month'], r['submitted'], r['decided'],
                        r['average_hours'] and round(r['average_hours'], 2),
                        r['within_sla'] and round(r['within_sla'], 2),
                        r['undecided']) for r in rows],
                [(dt.date(2026, 4, 1), 1, 0, None, None, 1),
                    (dt.date(2026, 3, 1), 4, 3, 60.67, 66.67, 2)])

            # A shorter SLA leaves only the 10 hours' claim in time
            config = Configuration(1)
            config.claim_sla_hours = 24
            config.save()
            with kpi_context(to_date=dt.date(2026, 3, 31)):
                row, = Claim.search_read([], fields_names=['within_sla'])
            self.assertEqual(round(row['within_sla'], 2), 33.33)

    @with_transaction()
    def test_claims_per_hour_on_company_clock(self):
        "The window's start read on the company's clock (UTC+05:30)"
        ClaimHour = Pool().get('ev.service.kpi.claim.hour')
        self.setup()
        self.company.timezone = 'Asia/Kolkata'
        self.company.save()
        with set_company(self.company):
            for start in [at(2, 40), at(14), at(14, 20), at(20)]:
                self.walked(MARCH, start=start)
            with kpi_context():
                rows = ClaimHour.search_read([],
                    fields_names=['hour', 'claims'])
        # 08:10, 19:30, 19:50 and 01:30 the next day
        self.assertEqual([(r['hour'], r['claims']) for r in rows],
            [(1, 1), (8, 1), (19, 2)])

    def charger_at(self, identity, postal_code):
        "A charger in warranty at a station of a customer at `postal_code`"
        Address = Pool().get('party.address')
        station = create_station()
        if postal_code:
            Address.create([{'party': station.customer.id,
                        'postal_code': postal_code}])
        charger = create_charger(identity, station=station, connectors=2)
        charger.model = self.charger.model
        charger.commissioning_date = self.charger.commissioning_date
        charger.save()
        return charger

    @with_transaction()
    def test_claims_per_zone(self):
        "The station's postal code in the zones of the teams"
        ClaimZone = Pool().get('ev.service.kpi.claim.zone')
        self.setup()
        with set_company(self.company):
            north = create_team(self.company, 'N', ['5600*'])
            south = create_team(self.company, 'S', ['5601*', '560002'])
            for identity, postal_code, claims in [
                    ('CP-Z-1', '560011', 2), ('CP-Z-2', '560105', 1),
                    # In the zones of both teams
                    ('CP-Z-3', '560002', 1), ('CP-Z-4', None, 1)]:
                charger = self.charger_at(identity, postal_code)
                for _ in range(claims):
                    self.walked(MARCH, charger=charger)
            with kpi_context():
                rows = ClaimZone.search_read([],
                    fields_names=['team', 'claims'])
        self.assertEqual([(r['team'], r['claims']) for r in rows],
            [(north.id, 3), (south.id, 2), (None, 1)])

    @with_transaction()
    def test_claims_per_month_rolled_up(self):
        "The cron stores complete months as the live computation gives " \
            "them; the current month, a month with a claim decided since " \
            "and a changed SLA are computed live"
        pool = Pool()
        Claim = pool.get('ev.service.claim')
        ClaimKPI = pool.get('ev.service.kpi.claim')
        ClaimMonth = pool.get('ev.service.kpi.claim.month')
        ClaimQuarter = pool.get('ev.service.kpi.claim.quarter')
        ClaimHour = pool.get('ev.service.kpi.claim.hour')
        Configuration = pool.get('ev.service.configuration')

        def hours():
            with kpi_context():
                return [(r['hour'], r['claims']) for r in
                    ClaimHour.search_read([], fields_names=[
                            'hour', 'claims'])]

        def rows():
            with kpi_context():
                return [(r['month'], r['submitted'], r['decided'],
                        r['average_hours'] and round(r['average_hours'], 6),
                        r['within_sla'] and round(r['within_sla'], 6),
                        r['undecided'], r['id'] % 2)
                    for r in ClaimKPI.search_read([], fields_names=[
                            'month', 'submitted', 'decided', 'average_hours',
                            'within_sla', 'undecided'])]
        self.setup()
        with set_company(self.company):
            self.walked(MARCH, decided_after=10, closed_after=20)
            self.walked(dt.datetime(2026, 3, 3), decided_after=100)
            self.walked(dt.datetime(2026, 3, 30, 12), decided_after=72)
            undecided = self.walked(dt.datetime(2026, 3, 31))
            self.walked(dt.datetime(2026, 4, 5), decided_after=3)
            live = rows()
            self.assertEqual([r[-1] for r in live], [1, 1])
            live_hours = hours()
            self.assertEqual(sum(c for _, c in live_hours), 5)

            # April is the current month: March only is stored
            ClaimMonth.roll_up(dt.date(2026, 4, 15))
            # The hours of day read March's quarters: the same figures
            self.assertEqual(
                sum(q.claims for q in ClaimQuarter.search(
                        [('month', '=', dt.date(2026, 3, 1))])), 4)
            self.assertEqual(hours(), live_hours)
            stored, = ClaimMonth.search([])
            self.assertEqual(
                (stored.month, stored.sla_hours, stored.submitted,
                    stored.decided, stored.in_sla, stored.undecided),
                (dt.date(2026, 3, 1), 72, 4, 3, 2, 2))
            self.assertEqual(rows(), [live[0], live[1][:-1] + (0,)])

            # The claim of March decided in April: March is live again,
            # with it
            with claim_clock(dt.datetime(2026, 4, 2)), \
                    as_user(self.manager):
                Claim.reject([Claim(undecided.id)])
            self.assertEqual(ClaimMonth.search([]), [])
            self.assertEqual(ClaimQuarter.search([]), [])
            self.assertEqual(hours(), live_hours)
            april, march = rows()
            self.assertEqual(march, (dt.date(2026, 3, 1), 4, 4,
                    round((10 + 100 + 72 + 48) / 4, 6), 75.0, 2, 1))
            self.assertEqual(april, live[0])

            # Both complete in May; the same figures read from the store
            ClaimMonth.roll_up(dt.date(2026, 5, 10))
            self.assertEqual(
                sorted(m.month for m in ClaimMonth.search([])),
                [dt.date(2026, 3, 1), dt.date(2026, 4, 1)])
            self.assertEqual(rows(), [april[:-1] + (0,), march[:-1] + (0,)])

            # Another SLA: the stored months do not count it, live does
            config = Configuration(1)
            config.claim_sla_hours = 24
            config.save()
            april, march = rows()
            self.assertEqual((march[4], march[-1]), (25.0, 1))
            ClaimMonth.roll_up(dt.date(2026, 5, 10))
            self.assertEqual(rows(), [april[:-1] + (0,), march[:-1] + (0,)])

            # A range starting within March computes March live
            with kpi_context(from_date=dt.date(2026, 3, 3)):
                rows_cut = ClaimKPI.search_read([], fields_names=[
                        'month', 'submitted'])
            self.assertEqual(
                [(r['month'], r['submitted'], r['id'] % 2)
                    for r in rows_cut],
                [(dt.date(2026, 4, 1), 1, 0), (dt.date(2026, 3, 1), 3, 1)])

    @with_transaction()
    def test_zone_teams_stored_at_submission(self):
        "The zone teams of the postal code (spaces and case ignored, as " \
            "ev_field matches them) are stored when the claim is submitted"
        pool = Pool()
        Claim = pool.get('ev.service.claim')
        ClaimTeam = pool.get('ev.service.claim.zone_team')
        ClaimZone = pool.get('ev.service.kpi.claim.zone')
        Zone = pool.get('ev.field.team.zone')
        self.setup()
        with set_company(self.company):
            north = create_team(self.company, 'N', ['5600*'])
            south = create_team(self.company, 'S', ['ka-56*'])
            spaced = self.charger_at('CP-Z-1', '5600 11')
            lower = self.charger_at('CP-Z-2', 'Ka-5601 05')
            draft = self.claim('other', charger=spaced)
            self.assertEqual(ClaimTeam.search([]), [])
            first = self.walked(MARCH, charger=spaced)
            second = self.walked(MARCH, charger=lower)

            def teams(claim):
                return sorted((t.team.id if t.team else None)
                    for t in ClaimTeam.search([('claim', '=', claim.id)]))
            self.assertEqual(
                (teams(first), teams(second), teams(draft)),
                ([north.id], [south.id], []))
            self.assertEqual(north.covers('5600 11'), True)

            # The zones of the day of submission: a zone added later
            # does not move the claims (until they are assigned again)
            Zone.create([{'team': south.id, 'pattern': '56001?'}])
            with kpi_context():
                self.assertEqual(
                    [(r['team'], r['claims']) for r in ClaimZone.search_read(
                            [], fields_names=['team', 'claims'])],
                    [(north.id, 1), (south.id, 1)])

            # The migration: claims submitted without their zone teams
            ClaimTeam.delete(ClaimTeam.search([]))
            self.assertEqual(sorted(ClaimTeam._unassigned()),
                sorted([first.id, second.id]))
            ClaimTeam.assign(ClaimTeam._unassigned())
            self.assertEqual((teams(first), teams(second)),
                ([north.id, south.id], [south.id]))
            self.assertEqual(ClaimTeam._unassigned(), [])
            with kpi_context():
                self.assertEqual(
                    sorted((r['team'], r['claims'])
                        for r in ClaimZone.search_read(
                            [], fields_names=['team', 'claims'])),
                    sorted([(north.id, 1), (south.id, 2)]))
            with as_user(self.manager), \
                    self.assertRaises(AccessError) as cm:
                ClaimTeam.search_read([], fields_names=['team'])
            self.assertEqual(cm.exception.message,
                'You are not allowed to access "Warranty Claim Zone Team".')
            self.assertEqual(Claim(draft.id).state, 'draft')

    @with_transaction()
    def test_field_team_cannot_read_claim_kpis(self):
        "A crew reads none of these KPIs; Finance reads them"
        pool = Pool()
        self.setup()
        with set_company(self.company):
            self.walked(MARCH, decided_after=10)
            finance = create_user('w-finance', 'ev_station.group_finance')
            for name in KPIS:
                Model = pool.get(name)
                with kpi_context(), as_user(self.field):
                    with self.assertRaises(AccessError) as cm:
                        Model.search_read([], fields_names=['id'])
                    self.assertEqual(cm.exception.message,
                        f'You are not allowed to access "{Model.__string__}".')
                with kpi_context(), as_user(finance):
                    Model.search_read([], fields_names=['id'])
            with kpi_context(), as_user(finance):
                self.assertEqual(
                    len(pool.get('ev.service.kpi.claim').search([])), 1)


class NoSummaryTestCase(ServiceWorld, ModuleDBTestCase):
    module = 'ev_service'
    complex_case = test_summary.SummaryTestCase.complex_case

    @with_transaction()
    def test_cases_without_final_summary(self):
        "Complex cases without a reviewed final summary, per coordinator"
        pool = Pool()
        Summary = pool.get('ev.service.case.summary')
        NoSummary = pool.get('ev.service.kpi.no_summary')
        w = self.setup()
        today = dt.date.today()
        with set_company(w.company):
            # Simple: no summary asked
            self.case(w)
            self.complex_case(w)
            drafted = self.complex_case(w)
            done = self.complex_case(w)
            with as_user(w.manager):
                Summary.create([summary_values(drafted, kind='final')])
                final, = Summary.create([summary_values(done, kind='final')])
                Summary.review([final])
            other = create_user('svc-manager-2',
                'ev_service.group_service_manager')
            other_case = self.complex_case(w)
            other_case.coordinator = other
            other_case.save()
            with kpi_context(today, today):
                rows = NoSummary.search_read([], fields_names=[
                        'coordinator', 'open_cases', 'closed_cases'])
            self.assertEqual(
                sorted((r['coordinator'], r['open_cases'], r['closed_cases'])
                    for r in rows),
                [(w.manager.id, 2, 0), (other.id, 1, 0)])
            # Reported before the dates: not counted
            with kpi_context(today + dt.timedelta(days=1), None):
                self.assertEqual(NoSummary.search([]), [])
