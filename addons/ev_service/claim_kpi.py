# This file is part of the EV operations suite.
"""What the claim KPIs (kpi_claim.py) keep of the warranty claims so that
they read stored figures instead of computing them on each request:

- the zone teams of a claim, matched when it is submitted (routed): the
  teams whose zones cover the postal code of the station's customer, as
  ev_field's Team.covers() matches them (spaces and case ignored);
- a claim whose submission or decision changes makes the claim KPIs
  forget the rollup of its month, which they then compute live until the
  daily cron rolls it up again (a claim of March decided in April)."""
from sql import Null
from sql.aggregate import Min
from sql.functions import CurrentTimestamp

from trytond.model import Index, ModelSQL, fields
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

# The claim's fields the monthly rollup is made of
ROLLED_UP = {'company', 'submitted_at', 'decided_at'}


class ClaimTeam(ModelSQL):
    """A team whose zones cover the postal code of a claim's station, or
    none (no team: no zone covers it), stored at the submission"""
    __name__ = 'ev.service.claim.zone_team'
    __string__ = "Warranty Claim Zone Team"

    claim = fields.Many2One('ev.service.claim', "Claim", required=True,
        ondelete='CASCADE', readonly=True)
    team = fields.Many2One('ev.field.team', "Team", ondelete='SET NULL',
        readonly=True,
        help="Empty: no zone of a team covers the postal code.")
    # The claim's, which never change once it is submitted: the claims by
    # zone count these rows alone, from their index
    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    submitted_at = fields.DateTime("Submitted At", required=True,
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.claim, Index.Range())),
                Index(t, (t.team, Index.Range())),
                Index(t,
                    (t.company, Index.Equality()),
                    (t.submitted_at, Index.Range()),
                    include=[t.team]),
                })

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        # The claims submitted before the zone teams were stored
        cls.assign(cls._unassigned())

    @classmethod
    def _unassigned(cls):
        "Ids of the submitted claims without their zone teams"
        Claim = Pool().get('ev.service.claim')
        claim = Claim.__table__()
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*claim.select(claim.id,
                where=(claim.submitted_at != Null)
                & ~claim.id.in_(table.select(table.claim))))
        return [i for i, in cursor]

    @classmethod
    def postal_codes(cls, claim_ids):
        """{claim id: (company, submitted at, postal code)} of the claims:
        the code of the station customer's first active address, as
        entered (or None)"""
        pool = Pool()
        Claim = pool.get('ev.service.claim')
        Charger = pool.get('ev.charger')
        Station = pool.get('ev.station')
        Address = pool.get('party.address')
        cursor = Transaction().connection.cursor()
        codes = {}
        for sub_ids in grouped_slice(claim_ids, 1000):
            claim = Claim.__table__()
            charger = Charger.__table__()
            station = Station.__table__()
            address = Address.__table__()
            first = Address.__table__()
            first_address = first.select(Min(first.id),
                where=(first.party == station.customer) & first.active)
            cursor.execute(*claim
                .join(charger, condition=claim.charger == charger.id)
                .join(station, condition=charger.station == station.id)
                .join(address, 'LEFT',
                    condition=address.id == first_address)
                .select(claim.id, claim.company, claim.submitted_at,
                    address.postal_code,
                    where=claim.id.in_(list(sub_ids))
                    & (claim.submitted_at != Null)))
            codes.update((c, rest) for c, *rest in cursor)
        return codes

    @classmethod
    def assign(cls, claim_ids):
        """Store the zone teams of the claims (again): one row per team
        covering the postal code, one without team when none does"""
        pool = Pool()
        Team = pool.get('ev.field.team')
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        if not claim_ids:
            return
        claims = cls.postal_codes(claim_ids)
        # Every team with zones, as the zones match (inactive teams too)
        with without_check_access(), transaction.set_context(
                active_test=False):
            teams = [t for t in Team.search([]) if t.zones]
        covering = {}
        for _, _, code in claims.values():
            if code not in covering:
                covering[code] = [
                    t.id for t in teams if t.covers(code)] or [None]
        for sub_ids in grouped_slice(claim_ids, 1000):
            sub_ids = list(sub_ids)
            cursor.execute(*table.delete(where=table.claim.in_(sub_ids)))
            values = [[c, team, company, submitted_at, transaction.user,
                    CurrentTimestamp()]
                for c in sub_ids if c in claims
                for company, submitted_at, code in [claims[c]]
                for team in covering[code]]
            if values:
                cursor.execute(*table.insert(
                        [table.claim, table.team, table.company,
                            table.submitted_at, table.create_uid,
                            table.create_date], values))


class Claim(metaclass=PoolMeta):
    __name__ = 'ev.service.claim'

    @classmethod
    def submit(cls, claims):
        super().submit(claims)
        # Routed: the zone teams of the station's postal code now
        with without_check_access():
            Pool().get('ev.service.claim.zone_team').assign(
                [c.id for c in claims])

    @classmethod
    def _rolled_up_months(cls, claims):
        return {(c.company.id, c.submitted_at.date().replace(day=1))
            for c in claims if c.submitted_at and c.company}

    @classmethod
    def on_write(cls, records, values):
        callbacks = super().on_write(records, values)
        if ROLLED_UP & values.keys():
            ClaimMonth = Pool().get('ev.service.kpi.claim.month')
            before = cls._rolled_up_months(records)

            def forget():
                ClaimMonth.forget(
                    before | cls._rolled_up_months(
                        cls.browse([r.id for r in records])))
            callbacks.append(forget)
        return callbacks

    @classmethod
    def on_modification(cls, mode, claims, field_names=None):
        super().on_modification(mode, claims, field_names=field_names)
        if mode == 'create':
            # Created submitted (an import): its month is not complete
            # any more in the rollup
            Pool().get('ev.service.kpi.claim.month').forget(
                cls._rolled_up_months(claims))
