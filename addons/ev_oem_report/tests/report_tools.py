# This file is part of the EV operations suite.
"""The hand-built month of the report tests: the leads of two OEMs with
their milestones set to the second, and the figures they must give."""
import datetime as dt

from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.transaction import Transaction

D, T = dt.date, dt.datetime
START, END = D(2026, 3, 1), D(2026, 3, 31)

# reference: (received, contacted, surveyed, installed, closure call,
#   cancelled, cancellation reason, installation job state)
LEADS = {
    'T-1': (T(2026, 3, 2, 10), T(2026, 3, 2, 20), T(2026, 3, 4, 20),
        T(2026, 3, 10, 20), T(2026, 3, 12, 20), None, None, 'closed'),
    'T-2': (T(2026, 3, 5, 9), T(2026, 3, 7, 9), T(2026, 3, 12, 9),
        None, None, None, None, 'scheduled'),
    'T-3': (T(2026, 3, 10, 8), T(2026, 3, 10, 12), None, None, None,
        T(2026, 3, 11, 8), "Customer moved house\nto Pune, no site", None),
    'T-4': (T(2026, 3, 20, 8), None, None, None, None,
        T(2026, 3, 21, 8), "Customer moved house", None),
    'T-5': (T(2026, 3, 25, 8), None, None, None, None,
        T(2026, 3, 26, 8), "Price too high", None),
    # received and contacted before the month, surveyed and installed in it
    'T-6': (T(2026, 2, 20, 10), T(2026, 2, 21, 10), T(2026, 3, 1, 10),
        T(2026, 3, 5, 10), None, None, None, 'done'),
    # nothing in the month
    'T-7': (T(2026, 2, 1, 8), T(2026, 2, 2, 8), None, None, None, None,
        None, None),
    # the next month
    'T-8': (T(2026, 4, 1), None, None, None, None, None, None, None),
    # the month's last second
    'T-10': (T(2026, 3, 31, 23, 59, 59), None, None, None, None, None, None,
        None),
    }
OTHER_LEADS = {
    'M-1': (T(2026, 3, 3, 9), T(2026, 3, 3, 10), None, None, None, None,
        None, None),
    }
# The data sheet: the leads with a milestone in March, in order
ROWS = ['T-1', 'T-2', 'T-3', 'T-4', 'T-5', 'T-6', 'T-10']
COUNTS = {'received': 6, 'contacted': 3, 'surveyed': 3, 'installed': 2,
    'closed': 1, 'cancelled': 3}
REASONS = {"Customer moved house": 2, "Price too high": 1}
# The SLA per transition is the leads' clocks (test_report_sla.py): these
# leads' clocks started when the test made them, after March, so none has
# a verdict in March; the targets are the module's defaults
TRANSITIONS = {
    'lead_first_contact': 4, 'lead_survey_scheduled': 48,
    'lead_installation': 120, 'lead_closure': 48, 'lead_end_to_end': 270,
    }


def create_oem(name):
    Party = Pool().get('party.party')
    oem = Party(name=name, ev_is_oem=True)
    oem.save()
    return oem


def create_leads(company, oem, leads):
    """The leads with their milestones, in the order given; their field jobs
    written as the field flow leaves them (by SQL: the milestones are
    the point here, not the flow)"""
    pool = Pool()
    Lead = pool.get('sale.opportunity')
    Job = pool.get('ev.field.job')
    cursor = Transaction().connection.cursor()
    lead_table, job_table = Lead.__table__(), Job.__table__()
    result = {}
    for reference, values in leads.items():
        (received, contacted, surveyed, installed, closure, cancelled,
            reason, installation_state) = values
        lead = Lead(company=company, lead_source='oem', oem=oem,
            oem_reference=reference, charger_model="7.4 kW AC",
            charger_quantity=1, site_type='home')
        lead.save()
        state = 'cancelled' if cancelled else (
            'won' if surveyed else 'contacted' if contacted else 'lead')
        cursor.execute(*lead_table.update(
                [lead_table.create_date, lead_table.contacted_at,
                    lead_table.closed_at, lead_table.state,
                    lead_table.cancellation_reason],
                [received, contacted, cancelled, state, reason],
                where=lead_table.id == lead.id))
        jobs = []
        if surveyed:
            jobs.append(('survey', 'done', surveyed, None))
        if installation_state:
            jobs.append(('installation', installation_state, installed,
                    closure))
        for kind, job_state, reported_at, closure_call_at in jobs:
            cursor.execute(*job_table.insert(
                    [job_table.kind, job_table.company, job_table.lead,
                        job_table.state, job_table.reported_at,
                        job_table.closure_call_at, job_table.create_uid,
                        job_table.create_date],
                    [[kind, company.id, lead.id, job_state, reported_at,
                            closure_call_at, 0, received]]))
        result[reference] = lead
    return result


def setup_month():
    """A company, two OEMs (Tata Motors with the month above, MG Motor with
    a lead of its own) and a monthly XLSX configuration of each"""
    pool = Pool()
    Config = pool.get('ev.oem.report.config')
    company = create_company()
    with set_company(company):
        tata, mg = create_oem("Tata Motors"), create_oem("MG Motor")
        leads = create_leads(company, tata, LEADS)
        leads.update(create_leads(company, mg, OTHER_LEADS))
        configs = Config.create([{
                    'name': f"{oem.name} monthly",
                    'company': company.id,
                    'oem': oem.id,
                    'next_period_start': START,
                    'email_to': f'reports@{oem.name.split()[0].lower()}.'
                    'example.com',
                    } for oem in [tata, mg]])
    return company, tata, mg, configs, leads


def as_cron(database_name, function):
    """Call function() in a committed transaction of root, as trytond-cron
    does"""
    with Transaction().start(database_name, 0) as transaction:
        result = function()
        transaction.commit()
    return result
