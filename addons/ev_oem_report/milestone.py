# This file is part of the EV operations suite.
"""What the Management dashboards read of a lead, stored on it (issue 16:
each dashboard in at most 200 ms on 100,000 leads): its zone, the first
report of its survey and installation jobs, and the count of its jobs per
outcome. Before, each read of a dashboard joined the period's leads with
their addresses and grouped all their jobs.

They are never entered: each event that changes them recomputes them from
the jobs and the address, for the leads it touches and set-based, here in
one place (the job created, reported, cancelled, moved to another lead or
deleted; the lead's address set or changed; the address's PIN code
changed); the migration fills them for the existing leads (__register__).
A write of them by hand is recomputed away.

Milestones as in the OEM reports (report.py): surveyed and installed are
the first report (reported_at) of the lead's survey and installation
jobs. The zone is the first three digits of the site's PIN code
(the sorting district; none without an address or a PIN code)."""
from sql import Null
from sql.aggregate import Count, Min
from sql.conditionals import Case, NullIf
from sql.functions import Substring, Trim

from trytond.model import Index, fields
from trytond.modules.ev_station.bulk import invalidate_cache
from trytond.modules.ev_station.timestamp import Timestamp
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .dashboard_feedback import ZONE_DIGITS

# The job's fields whose change moves its lead's stored figures
JOB_FIELDS = {'lead', 'company', 'kind', 'state', 'reported_at'}


def zone_of(address):
    "The zone of a party.address table: its PIN code's sorting district"
    return NullIf(Substring(Trim(address.postal_code), 1, ZONE_DIGITS), '')


class Lead(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    zone = fields.Char("Zone", readonly=True,
        help="The first three digits of the site's PIN code.")
    surveyed_at = Timestamp("Surveyed At", readonly=True,
        help="The first report of the lead's survey jobs.")
    installed_at = Timestamp("Installed At", readonly=True,
        help="The first report of the lead's installation jobs.")
    survey_jobs = fields.Integer("Survey Jobs", readonly=True,
        help="The lead's survey jobs, cancelled ones included.")
    surveys_reported = fields.Integer("Surveys Reported", readonly=True)
    installations_ended = fields.Integer("Installations Ended",
        readonly=True, help="The installation jobs reported or cancelled.")
    installations_reported = fields.Integer("Installations Reported",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # The Management dashboards read a company's leads of a period:
        # from the index alone when the period is a part of the leads
        # (PostgreSQL's index-only scan; for all of them, as in the bench,
        # it scans the table)
        cls._sql_indexes.add(
            Index(t, (t.company, Index.Equality()),
                (t.create_date, Index.Range()),
                include=[t.id, t.contacted_at] + [
                    getattr(t, n) for n in cls._dashboard_fields()]))

    @classmethod
    def _dashboard_fields(cls):
        "The fields computed here, in the order of _dashboard_values"
        return ['zone', 'surveyed_at', 'installed_at', 'survey_jobs',
            'surveys_reported', 'installations_ended',
            'installations_reported']

    @classmethod
    def __register__(cls, module_name):
        table_h = cls.__table_handler__(module_name)
        # Migration: the figures of the dashboards stored on the lead
        fill = not table_h.column_exist('installations_reported')
        super().__register__(module_name)
        if fill:
            cls.update_dashboard_figures()

    @classmethod
    def default_survey_jobs(cls):
        return 0

    @classmethod
    def default_surveys_reported(cls):
        return 0

    @classmethod
    def default_installations_ended(cls):
        return 0

    @classmethod
    def default_installations_reported(cls):
        return 0

    @classmethod
    def copy(cls, leads, default=None):
        default = default.copy() if default is not None else {}
        for name in cls._dashboard_fields():
            default.setdefault(name)
        return super().copy(leads, default=default)

    @classmethod
    def on_modification(cls, mode, leads, field_names=None):
        super().on_modification(mode, leads, field_names=field_names)
        if mode == 'create' or (mode == 'write' and field_names & (
                    {'address', 'company'} | set(cls._dashboard_fields()))):
            cls.update_dashboard_figures([l.id for l in leads])

    @classmethod
    def _dashboard_values(cls, lead):
        """The values of _dashboard_fields for the rows of `lead` (a table),
        as subqueries on its jobs and address"""
        pool = Pool()
        Job = pool.get('ev.field.job')
        Address = pool.get('party.address')
        job, address = Job.__table__(), Address.__table__()
        survey = job.kind == 'survey'
        installation = job.kind == 'installation'
        # A job is reported once its report has a time (reported_at is
        # set with the move to done, and no state leads back)
        has_report = job.reported_at != Null

        def jobs(expression):
            return job.select(expression,
                where=(job.lead == lead.id) & (job.company == lead.company))

        def first(kind):
            return jobs(Min(Case((job.kind == kind, job.reported_at))))

        def count(condition):
            return jobs(Count(Case((condition, job.id))))

        return [
            address.select(zone_of(address),
                where=address.id == lead.address),
            first('survey'),
            first('installation'),
            count(survey),
            count(survey & has_report),
            count(installation & (has_report | (job.state == 'cancelled'))),
            count(installation & has_report),
            ]

    @classmethod
    def update_dashboard_figures(cls, ids=None):
        """Recompute the stored figures of the leads `ids` (all when None)
        from their jobs and address, set-based"""
        cursor = Transaction().connection.cursor()
        lead = cls.__table__()
        columns = [getattr(lead, n) for n in cls._dashboard_fields()]
        values = cls._dashboard_values(lead)
        # Not a write: the lead's write date and history stay the user's
        # (a job reported is no edit of the lead's form)
        if ids is None:
            cursor.execute(*lead.update(columns, values))
            ids = []
        for sub_ids in grouped_slice(sorted(set(ids)), 1000):
            cursor.execute(*lead.update(columns, values,
                    where=fields.SQL_OPERATORS['in'](lead.id, sub_ids)))
        # The records already read are stale
        invalidate_cache(cls.__name__)


class Job(metaclass=PoolMeta):
    __name__ = 'ev.field.job'

    @classmethod
    def on_modification(cls, mode, jobs, field_names=None):
        super().on_modification(mode, jobs, field_names=field_names)
        if mode == 'create':
            cls._update_leads(jobs)

    @classmethod
    def on_write(cls, jobs, values):
        callbacks = super().on_write(jobs, values)
        if JOB_FIELDS & set(values):
            # The leads before the write too: a job moved leaves one
            before = {j.lead.id for j in jobs if j.lead}
            callbacks.append(lambda: cls._update_leads(
                    cls.browse(jobs), before))
        return callbacks

    @classmethod
    def on_delete(cls, jobs):
        callbacks = super().on_delete(jobs)
        leads = {j.lead.id for j in jobs if j.lead}
        if leads:
            callbacks.append(lambda: cls._update_leads([], leads))
        return callbacks

    @classmethod
    def _update_leads(cls, jobs, lead_ids=()):
        Lead = Pool().get('sale.opportunity')
        ids = set(lead_ids) | {j.lead.id for j in jobs if j.lead}
        if ids:
            Lead.update_dashboard_figures(list(ids))


class Address(metaclass=PoolMeta):
    __name__ = 'party.address'

    @classmethod
    def on_modification(cls, mode, addresses, field_names=None):
        super().on_modification(mode, addresses, field_names=field_names)
        if mode == 'write' and 'postal_code' in field_names:
            pool = Pool()
            Lead = pool.get('sale.opportunity')
            lead = Lead.__table__()
            cursor = Transaction().connection.cursor()
            ids = []
            for sub_ids in grouped_slice([a.id for a in addresses], 1000):
                cursor.execute(*lead.select(lead.id,
                        where=fields.SQL_OPERATORS['in'](
                            lead.address, sub_ids)))
                ids.extend(i for i, in cursor)
            if ids:
                Lead.update_dashboard_figures(ids)
