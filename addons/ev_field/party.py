# This file is part of the EV operations suite.
"""A field team sees the contact data of its own jobs' customers only.

Tryton lets every user read every party; a field team is a contractor, so
its record rules (job.xml) keep it to the parties that are no customer at
all (suppliers, the company, employees) and to the customers and site
contacts of its own jobs' leads."""
from sql import Null, Union

from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

# The Station Record's fields naming a customer-side party
STATION_PARTIES = [
    'customer', 'contact',
    'location_contact', 'location_contact_backup',
    'installation_contact', 'installation_contact_backup',
    'service_contact', 'service_contact_backup',
    ]


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    ev_field_teams = fields.Function(fields.Many2Many(
            'ev.field.team', None, None, "Field Teams",
            help="The field teams that may see this party: every team for "
            "a party no lead names, else the teams with a job for it."),
        'get_ev_field_teams', searcher='search_ev_field_teams')

    @classmethod
    def _ev_customer_links(cls, teams=None):
        """A query of (party, team) for each customer-side party of a lead:
        the lead's party and its stations' customers and contacts, with
        the team of each of the lead's jobs (NULL without job); only the
        jobs of `teams` when given"""
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Station = pool.get('ev.station')
        Job = pool.get('ev.field.job')
        lead, station, job = Lead.__table__(), Station.__table__(), \
            Job.__table__()

        def with_jobs(table, lead_column):
            if teams is None:
                return table.join(job, 'LEFT',
                    condition=job.lead == lead_column)
            return table.join(job,
                condition=(job.lead == lead_column) & job.team.in_(teams))

        queries = [with_jobs(lead, lead.id).select(
                lead.party.as_('party'), job.team.as_('team'),
                where=lead.party != Null)]
        for name in STATION_PARTIES:
            column = getattr(station, name)
            queries.append(with_jobs(station, station.lead).select(
                    column.as_('party'), job.team.as_('team'),
                    where=column != Null))
        return Union(*queries, all_=True)

    @classmethod
    def get_ev_field_teams(cls, parties, name):
        Team = Pool().get('ev.field.team')
        cursor = Transaction().connection.cursor()
        links = cls._ev_customer_links()
        teams = {}
        for sub_ids in grouped_slice([p.id for p in parties], 1000):
            cursor.execute(*links.select(links.party, links.team,
                    where=links.party.in_(list(sub_ids))))
            for party, team in cursor:
                teams.setdefault(party, set())
                if team is not None:
                    teams[party].add(team)
        every_team = None
        result = {}
        for party in parties:
            if party.id in teams:
                result[party.id] = sorted(teams[party.id])
            else:
                if every_team is None:
                    with Transaction().set_context(_check_access=False):
                        every_team = [t.id for t in Team.search([])]
                result[party.id] = every_team
        return result

    @classmethod
    def search_ev_field_teams(cls, name, clause):
        """('ev_field_teams', 'in', teams): the parties a member of `teams`
        may see, those no lead names and the customers of the teams'
        jobs; 'not in' the others"""
        _, operator, teams = clause[:3]
        operator = {'=': 'in', '!=': 'not in'}.get(operator, operator)
        if operator not in {'in', 'not in'}:
            raise ValueError(operator)
        if not isinstance(teams, (list, tuple)):
            teams = [teams]
        teams = [t for t in teams if t is not None]
        every = cls._ev_customer_links()
        customers = every.select(every.party)
        if not teams:
            return [('id', 'not in' if operator == 'in' else 'in', customers)]
        ours = cls._ev_customer_links(teams)
        ours = ours.select(ours.party)
        if operator == 'in':
            return ['OR',
                ('id', 'not in', customers),
                ('id', 'in', ours),
                ]
        return [('id', 'in', customers), ('id', 'not in', ours)]
