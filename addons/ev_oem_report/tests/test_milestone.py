# This file is part of the EV operations suite.
"""The figures the Management dashboards read, stored on the lead
(milestone.py): they follow the field flow, the jobs cancelled, moved and
deleted, the site's address and its PIN code; a hand-written value does not
stick; the migration's code fills them for leads written by SQL."""
from trytond.modules.company.tests import CompanyTestMixin, set_company
from trytond.modules.ev_field.tests.test_field import FieldFlow
from trytond.modules.ev_field.tests.tools import create_job, setup_world
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

FIGURES = ['zone', 'surveyed_at', 'installed_at', 'survey_jobs',
    'surveys_reported', 'installations_ended', 'installations_reported']


def stored(lead):
    "The stored figures of the lead, as a new record reads them"
    Lead = Pool().get('sale.opportunity')
    lead = Lead(lead.id)
    return {name: getattr(lead, name) for name in FIGURES}


def expected(zone='560', surveyed_at=None, installed_at=None, survey_jobs=0,
        surveys_reported=0, installations_ended=0, installations_reported=0):
    return {'zone': zone, 'surveyed_at': surveyed_at,
        'installed_at': installed_at, 'survey_jobs': survey_jobs,
        'surveys_reported': surveys_reported,
        'installations_ended': installations_ended,
        'installations_reported': installations_reported}


def new_address(party, postal_code):
    Address = Pool().get('party.address')
    address = Address(party=party, street="4 Park Street",
        postal_code=postal_code)
    address.save()
    return address


class MilestoneTestCase(FieldFlow, CompanyTestMixin, ModuleDBTestCase):
    "The dashboards' figures stored on the lead follow the events"
    module = 'ev_oem_report'

    @with_transaction()
    def test_field_flow(self):
        """The survey and the installation reported through the field flow:
        their reports and counts show on the lead"""
        Job = Pool().get('ev.field.job')
        w = setup_world()
        with set_company(w.company):
            self.assertEqual(stored(w.lead), expected())
            installation = self.installation_done(w)
            survey, = Job.search([('kind', '=', 'survey')])
            self.assertTrue(survey.reported_at)
            self.assertTrue(installation.reported_at)
            self.assertEqual(stored(w.lead), expected(
                    surveyed_at=survey.reported_at,
                    installed_at=installation.reported_at,
                    survey_jobs=1, surveys_reported=1,
                    installations_ended=1, installations_reported=1))

    @with_transaction()
    def test_jobs_cancelled_moved_deleted(self):
        """A cancelled installation has ended; a job moved to another lead
        counts there; a deleted one nowhere"""
        pool = Pool()
        Job = pool.get('ev.field.job')
        Lead = pool.get('sale.opportunity')
        w = setup_world()
        with set_company(w.company):
            installation = create_job(w, 'installation')
            Job.cancel([installation])
            self.assertEqual(stored(w.lead), expected(installations_ended=1))

            other = Lead(party=w.customer, address=w.lead.address,
                charger_quantity=1, lead_source='phone')
            other.save()
            survey = create_job(w, 'survey')
            self.assertEqual(stored(w.lead), expected(survey_jobs=1,
                    installations_ended=1))
            Job.write([survey], {'lead': other.id})
            self.assertEqual(stored(w.lead), expected(installations_ended=1))
            self.assertEqual(stored(other), expected(survey_jobs=1))

            Job.delete([survey])
            self.assertEqual(stored(other), expected())

    @with_transaction()
    def test_zone_follows_the_address(self):
        """The zone follows the lead's address and the address's PIN code;
        none without an address or a PIN code"""
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Address = pool.get('party.address')
        w = setup_world()
        with set_company(w.company):
            self.assertEqual(stored(w.lead)['zone'], '560')
            delhi = new_address(w.customer, ' 110017 ')
            Lead.write([w.lead], {'address': delhi.id})
            self.assertEqual(stored(w.lead)['zone'], '110')
            Address.write([delhi], {'postal_code': '400001'})
            self.assertEqual(stored(w.lead)['zone'], '400')
            Address.write([delhi], {'postal_code': None})
            self.assertEqual(stored(w.lead)['zone'], None)
            Address.write([delhi], {'postal_code': '400001'})
            Address.delete([delhi])
            self.assertEqual(stored(w.lead)['zone'], None)

            lead = Lead(party=w.customer, address=new_address(
                    w.customer, '600028'), charger_quantity=1,
                lead_source='phone')
            lead.save()
            self.assertEqual(stored(lead)['zone'], '600')
            Lead.write([lead], {'address': None})
            self.assertEqual(stored(lead)['zone'], None)

    @with_transaction()
    def test_hand_written_figures_do_not_stick(self):
        """Writing the figures by hand (a user falsifying the dashboards)
        leaves the values the jobs and the address give"""
        Lead = Pool().get('sale.opportunity')
        w = setup_world()
        with set_company(w.company):
            create_job(w, 'survey')
            Lead.write([w.lead], {'zone': '999',
                    'surveyed_at': w.lead.create_date, 'survey_jobs': 40,
                    'surveys_reported': 40, 'installations_ended': 3,
                    'installations_reported': 3,
                    'installed_at': w.lead.create_date})
            self.assertEqual(stored(w.lead), expected(survey_jobs=1))

    @with_transaction()
    def test_migration_fills_leads_written_by_sql(self):
        """The migration's code computes the figures of leads and jobs
        written without the events (by SQL)"""
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Job = pool.get('ev.field.job')
        w = setup_world()
        with set_company(w.company):
            survey = self.survey_done(w)
            surveyed_at = Job(survey.id).reported_at
            figures = expected(surveyed_at=surveyed_at, survey_jobs=1,
                surveys_reported=1)
            self.assertEqual(stored(w.lead), figures)

            lead = Lead.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*lead.update(
                    [getattr(lead, n) for n in FIGURES],
                    [None, None, None, 0, 0, 0, 0]))
            Lead.update_dashboard_figures()
            self.assertEqual(stored(w.lead), figures)
