# This file is part of the EV operations suite.
"""The SLA of the leads' transitions: a weekend counted exactly, the
warning to Central Ops, the escalation to the supervisors and their aging
list, the field jobs moving the clocks, the targets' bad input, and the
OEMs and field teams kept from other leads' clocks."""
import datetime as dt
from unittest.mock import patch

from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.modules.ev_oem_report import sla_lead
from trytond.modules.ev_field.tests.tools import create_team
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

T = dt.datetime
FRIDAY_17 = T(2026, 3, 6, 17)


def monday(hour, minute=0):
    return T(2026, 3, 9, hour, minute)


def create_user(login, *groups, oem=None, company=None):
    pool = Pool()
    User = pool.get('res.user')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    user = User(login=login, name=login.title(), ev_oem=oem,
        groups=[Group(ModelData.get_id(*g.split('.'))) for g in groups])
    if company:
        user.companies = [company]
        user.company = company
    user.save()
    return user


def create_calendar():
    "Monday to Friday 09:00-18:00 UTC, no public holidays"
    Calendar = Pool().get('ev.business.calendar')
    calendar, = Calendar.create([{
                'name': "Mon-Fri 9-18 UTC",
                'timezone': 'UTC',
                'holiday_country': None,
                'hours': [('create', [{
                                'weekday': str(d),
                                'start': dt.time(9),
                                'end': dt.time(18),
                                } for d in range(5)])],
                }])
    return calendar


def create_oem(name, code):
    Party = Pool().get('party.party')
    oem = Party(name=name, code=code, ev_is_oem=True)
    oem.save()
    return oem


def create_targets(code, calendar, **hours):
    Target = Pool().get('ev.sla.target')
    return Target.create([{
                'kind': 'ev_lead.lead',
                'level': code,
                'metric': metric,
                'duration': dt.timedelta(hours=value),
                'warning_percent': 80,
                'calendar': calendar.id,
                } for metric, value in hours.items()])


def create_lead(company, oem, reference, at=FRIDAY_17):
    "A lead received at `at`"
    Lead = Pool().get('sale.opportunity')
    with patch.object(sla_lead, 'now', return_value=at):
        lead = Lead(company=company, lead_source='oem', oem=oem,
            oem_reference=reference, charger_model="7.4 kW AC",
            charger_quantity=1, site_type='home')
        lead.save()
    return lead


def clock_of(lead, metric):
    Clock = Pool().get('ev.sla.clock')
    clock, = Clock.get_clocks([lead], metric)
    return clock


def check_due(at):
    "The engine's cron at `at`, the lists read at the same moment"
    Clock = Pool().get('ev.sla.clock')
    Clock.check_due(now=at)


def notifications(user):
    Notification = Pool().get('res.notification')
    return [(n.label, n.model, n.records) for n in Notification.search(
            [('user', '=', user.id)], order=[('id', 'ASC')])]


class SlaLeadTestCase(CompanyTestMixin, ModuleDBTestCase):
    "SLA per lead transition: compliance, warning, escalation, access"
    module = 'ev_oem_report'

    def setup(self):
        company = create_company()
        with set_company(company):
            calendar = create_calendar()
            tata = create_oem("Tata Motors", 'TATA')
            mg = create_oem("MG Motor", 'MG')
            for code in ['TATA', 'MG']:
                create_targets(code, calendar, lead_first_contact=4,
                    lead_survey_scheduled=9, lead_installation=18,
                    lead_closure=9, lead_end_to_end=45)
            ops = create_user('ops', 'ev_lead.group_central_ops',
                company=company)
            boss = create_user('boss', 'ev_oem_report.group_sla_supervisor',
                company=company)
        return company, calendar, tata, mg, ops, boss

    @with_transaction()
    def test_weekend_met_and_breached_exactly(self):
        """Friday 17:00 with 4 business hours (Mon-Fri 9-18): due Monday
        12:00; contacted at 11:00 is met, at 13:00 breached at 12:00"""
        Lead = Pool().get('sale.opportunity')
        company, calendar, tata, _, _, _ = self.setup()
        with set_company(company):
            met, late = (create_lead(company, tata, r) for r in ['T-1', 'T-2'])
            for lead in [met, late]:
                clock = clock_of(lead, 'lead_first_contact')
                self.assertEqual(clock.started_at, FRIDAY_17)
                self.assertEqual(clock.due_at, monday(12))
                # 80 %: 3 h 12 min, 1 h on Friday
                self.assertEqual(clock.warn_at, monday(11, 12))
                self.assertEqual(clock.calendar, calendar)

            Lead.write([met], {'contacted_at': monday(11),
                    'state': 'contacted'})
            check_due(monday(12, 30))
            Lead.write([late], {'contacted_at': monday(13),
                    'state': 'contacted'})

            clock = clock_of(met, 'lead_first_contact')
            self.assertEqual(clock.state, 'met')
            self.assertEqual(clock.stopped_at, monday(11))
            self.assertEqual(clock.business_hours, 3.0)
            # The next transition runs from the contact
            survey = clock_of(met, 'lead_survey_scheduled')
            self.assertEqual(
                (survey.state, survey.started_at, survey.due_at),
                ('running', monday(11), T(2026, 3, 10, 11)))

            clock = clock_of(late, 'lead_first_contact')
            self.assertEqual(clock.state, 'breached')
            self.assertEqual(clock.breached_at, monday(12))
            self.assertEqual(clock.stopped_at, monday(13))
            self.assertEqual(clock.business_hours, 5.0)

            self.assertEqual(Lead(met.id).sla_breaches, 0)
            self.assertEqual(Lead(late.id).sla_breaches, 1)
            self.assertEqual(
                [c.metric for c in Lead(late.id).sla_clocks],
                ['lead_first_contact', 'lead_survey_scheduled',
                    'lead_end_to_end'])

    @with_transaction()
    def test_warning_then_escalation(self):
        """Nearing the target tells Central Ops; the breach tells the
        supervisors and lists the lead, oldest first, until acted on"""
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Escalation = pool.get('ev.oem.sla.escalation')
        company, _, tata, _, ops, boss = self.setup()
        with set_company(company):
            older = create_lead(company, tata, 'T-1')
            newer = create_lead(company, tata, 'T-2',
                at=T(2026, 3, 6, 17, 30))

            check_due(monday(11))
            self.assertEqual(notifications(ops), [])
            check_due(monday(11, 30))
            self.assertEqual(notifications(ops), [(
                        f'Lead {older.rec_name} nears its SLA target '
                        '"Lead → First Contact": due 2026-03-09 12:00.',
                        'sale.opportunity', f'[{older.id}]')])
            self.assertEqual(notifications(boss), [])
            with as_user(boss), patch.object(
                    sla_lead, 'now', return_value=monday(11, 30)):
                escalation, = Escalation.search([])
                self.assertEqual(
                    (escalation.lead, escalation.metric, escalation.state,
                        escalation.age, escalation.overdue),
                    (older, 'lead_first_contact', 'running', 3.5, 0))

            check_due(monday(12, 45))
            self.assertEqual(notifications(boss), [(
                        f'Escalation: lead {ref} missed its SLA target '
                        '"Lead → First Contact" (due 2026-03-09 '
                        f'{due}) and nobody has acted on it yet.',
                        'sale.opportunity', f'[{lead.id}]')
                    for lead, ref, due in [
                        (older, older.rec_name, '12:00'),
                        (newer, newer.rec_name, '12:30')]])
            # The newer one went over its target between two runs: breached
            # without a warning first
            self.assertEqual(len(notifications(ops)), 1)

            with as_user(boss), patch.object(
                    sla_lead, 'now', return_value=monday(13)):
                escalations = Escalation.search([])
                self.assertEqual(
                    [(e.lead, e.state, e.age, e.overdue, e.breached_at)
                        for e in escalations],
                    [(older, 'breached', 5.0, 1.0, monday(12)),
                        (newer, 'breached', 4.5, 0.5, monday(12, 30))])
                self.assertEqual(Escalation.search(
                        [('metric', '=', 'lead_end_to_end')]), [])
                self.assertEqual(Escalation.search(
                        [('oem', '=', tata.id)]), escalations)

            # Acted on: off the list, the breach stays on the lead
            Lead.write([older], {'contacted_at': monday(13),
                    'state': 'contacted'})
            with as_user(boss):
                self.assertEqual(
                    [e.lead for e in Escalation.search([])], [newer])
            # A cancelled lead is nobody's escalation: its clocks pause
            with patch.object(sla_lead, 'now', return_value=monday(13)):
                Lead.write([newer], {'state': 'cancelled'})
            with as_user(boss):
                self.assertEqual(Escalation.search([]), [])
            clock = clock_of(newer, 'lead_end_to_end')
            self.assertEqual((clock.state, clock.business_hours),
                ('paused', 4.5))

    @with_transaction()
    def test_field_jobs_move_the_clocks(self):
        """The survey scheduled, the survey and installation reported and
        the closure call stop and start the transitions"""
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Job = pool.get('ev.field.job')
        company, _, tata, _, _, _ = self.setup()
        with set_company(company):
            lead = create_lead(company, tata, 'T-1')
            Lead.write([lead], {'contacted_at': monday(10),
                    'state': 'contacted'})
            survey, installation = Job.create([{
                        'kind': kind, 'company': company.id,
                        'lead': lead.id} for kind in [
                        'survey', 'installation']])
            team = create_team(company, 'S1', ['4'], van=False)
            with patch.object(sla_lead, 'now', return_value=monday(15)):
                Job.write([survey], {'team': team.id,
                        'slot_start': T(2026, 3, 10, 10),
                        'slot_end': T(2026, 3, 10, 12),
                        'state': 'scheduled'})
            Job.write([survey], {'reported_at': T(2026, 3, 10, 10)})
            Job.write([installation], {'reported_at': T(2026, 3, 11, 10)})
            Job.write([installation],
                {'closure_call_at': T(2026, 3, 20, 10)})

            self.assertEqual(
                {c.metric: (c.state, c.started_at, c.stopped_at,
                        c.business_hours)
                    for c in Lead(lead.id).sla_clocks}, {
                    'lead_first_contact': (
                        'met', FRIDAY_17, monday(10), 2.0),
                    'lead_survey_scheduled': (
                        'met', monday(10), monday(15), 5.0),
                    'lead_installation': ('met', T(2026, 3, 10, 10),
                        T(2026, 3, 11, 10), 9.0),
                    'lead_closure': ('breached', T(2026, 3, 11, 10),
                        T(2026, 3, 20, 10), 63.0),
                    'lead_end_to_end': ('breached', FRIDAY_17,
                        T(2026, 3, 20, 10), 83.0),
                    })

    @with_transaction()
    def test_on_hold_does_not_count(self):
        "The time a lead is on hold does not count against its targets"
        Lead = Pool().get('sale.opportunity')
        company, _, tata, _, _, _ = self.setup()
        with set_company(company):
            lead = create_lead(company, tata, 'T-1')
            with patch.object(sla_lead, 'now', return_value=monday(10)):
                Lead.write([lead], {'state': 'on_hold'})
            clock = clock_of(lead, 'lead_first_contact')
            self.assertEqual((clock.state, clock.business_hours),
                ('paused', 2.0))
            with patch.object(sla_lead, 'now', return_value=monday(14)):
                Lead.write([lead], {'state': 'lead'})
            clock = clock_of(lead, 'lead_first_contact')
            # 2 hours spent before the hold, 2 left from 14:00
            self.assertEqual((clock.state, clock.due_at),
                ('running', monday(16)))

    @with_transaction()
    def test_default_target_when_oem_has_none(self):
        "A lead of an OEM without its own targets runs on the defaults"
        company, _, _, _, _, _ = self.setup()
        with set_company(company):
            other = create_oem("BYD", 'BYD')
            lead = create_lead(company, other, 'B-1')
            clock = clock_of(lead, 'lead_first_contact')
            self.assertEqual(clock.target_seconds, 4 * 3600)
            self.assertEqual(clock.calendar.timezone, 'Asia/Kolkata')
            self.assertEqual(
                clock_of(lead, 'lead_end_to_end').target_seconds,
                270 * 3600)

    @with_transaction()
    def test_target_duration_positive(self):
        "A target of no or negative time says so"
        Target = Pool().get('ev.sla.target')
        company, calendar, _, _, _, _ = self.setup()
        with set_company(company):
            for level, hours, text in [('KIA', 0, '0'), ('BYD', -2, '-2')]:
                with self.assertRaises(ValidationError) as cm:
                    create_targets(level, calendar, lead_closure=hours)
                self.assertEqual(cm.exception.message,
                    f'The SLA target "{level} / Installation → Closure" '
                    f'must be a positive business time, not {text} hours.')
            target, = Target.search([
                    ('level', '=', 'TATA'), ('metric', '=', 'lead_closure')])
            with self.assertRaises(ValidationError):
                Target.write([target], {'duration': dt.timedelta(0)})

    @with_transaction()
    def test_oem_reads_only_its_own_clocks_and_escalations(self):
        """An OEM's user reads its leads' clocks and escalations, not
        another OEM's, and writes none"""
        pool = Pool()
        Clock = pool.get('ev.sla.clock')
        Escalation = pool.get('ev.oem.sla.escalation')
        company, calendar, tata, mg, _, _ = self.setup()
        with set_company(company):
            own = create_lead(company, tata, 'T-1')
            other = create_lead(company, mg, 'M-1')
            check_due(monday(13))
            user = create_user('tata-sla', 'ev_lead.group_oem', oem=tata,
                company=company)
        own_clock = clock_of(own, 'lead_first_contact')
        other_clock = clock_of(other, 'lead_first_contact')
        with as_user(user):
            self.assertEqual(
                {c.record_id for c in Clock.search([])}, {own.id})
            self.assertEqual(
                [e.lead.id for e in Escalation.search([])], [own.id])
            # Its lead's SLA page
            with patch.object(sla_lead, 'now', return_value=monday(13)):
                self.assertEqual(Clock.read([own_clock.id],
                        ['metric', 'state', 'business_hours', 'due_at']), [{
                            'id': own_clock.id,
                            'metric': 'lead_first_contact',
                            'state': 'breached', 'business_hours': 5.0,
                            'due_at': monday(12)}])
            with self.assertRaises(AccessError):
                Clock.read([other_clock.id], ['state'])
            with self.assertRaises(AccessError):
                Escalation.read([other_clock.id], ['state'])
            with self.assertRaises(AccessError):
                Clock.write([own_clock], {'state': 'met'})
            with self.assertRaises(AccessError):
                Clock.delete([own_clock])
            with self.assertRaises(AccessError):
                Clock.create([{
                            'record_model': 'sale.opportunity',
                            'record_id': own.id,
                            'metric': 'lead_closure',
                            'calendar': calendar.id,
                            'state': 'met', 'started_at': monday(9),
                            'target_seconds': 1, 'warning_percent': 50}])

    @with_transaction()
    def test_field_team_reads_no_other_leads_clocks(self):
        """A field team member reads no clock of a lead it has no job on,
        and no escalation at all"""
        pool = Pool()
        Clock = pool.get('ev.sla.clock')
        Escalation = pool.get('ev.oem.sla.escalation')
        company, _, tata, _, _, boss = self.setup()
        with set_company(company):
            lead = create_lead(company, tata, 'T-1')
            check_due(monday(13))
            crew = create_user('crew', 'ev_field.group_field_team',
                company=company)
        clock = clock_of(lead, 'lead_first_contact')
        with as_user(crew):
            self.assertEqual(
                Clock.search([('record_model', '=', 'sale.opportunity')]),
                [])
            with self.assertRaises(AccessError):
                Clock.read([clock.id], ['state'])
            with self.assertRaises(AccessError):
                Escalation.search([])
            with self.assertRaises(AccessError):
                Clock.write([clock], {'state': 'met'})
        # The supervisor reads them, and writes no clock either
        with as_user(boss):
            escalation, = Escalation.search([])
            self.assertEqual(
                Escalation.read([escalation.id], ['lead.rec_name'])[0][
                    'lead.']['rec_name'], lead.rec_name)
            with self.assertRaises(AccessError):
                Clock.write([clock], {'state': 'met'})
