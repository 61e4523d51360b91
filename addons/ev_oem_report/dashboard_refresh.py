# This file is part of the EV operations suite.
"""The dashboards refresh on their own: when a transaction changes what a
dashboard shows (a lead, a field job, a customer feedback, a payout run or
line, a hold), it publishes one message on Tryton's bus, channel
`ev.dashboard`, when it commits:

    {'type': 'ev.dashboard', 'models': ['ev.oem.dashboard.ops', ...]}

and sao (sao/custom.js) reloads the open dashboards of these models.

- Once per transaction: the first change joins a `DashboardChanges` to the
  transaction (Transaction.join keeps one per transaction), the others add
  their dashboards to it, and its commit publishes them all. Bus.publish is
  PostgreSQL's NOTIFY in the transaction's own connection: delivered when
  the transaction commits, never when it rolls back.
- Model names only: any logged-in user may subscribe to the channel (the
  bus refuses only others' `user:` channels), so the message carries no
  record, figure nor company; each client reads the figures again with its
  own access rights.
- A write counts when it writes a field the dashboards read (the
  `_refresh_fields` of each source): a crew's note on a job reloads no
  dashboard. Creations and deletions always count.

SQLite has no channels (Bus.publish would only log): nothing is published
there, and sao falls back to reloading the visible dashboards every minute.
Subscribing needs `[bus] allow_subscribe = True` (tryton.conf; `./ev run`
sets it on PostgreSQL)."""
from trytond.bus import Bus
from trytond.pool import PoolMeta
from trytond.transaction import Transaction

CHANNEL = 'ev.dashboard'
OPS = 'ev.oem.dashboard.ops'
FUNNEL = 'ev.oem.dashboard.funnel'
ZONE = 'ev.oem.dashboard.zone'
SATISFACTION = 'ev.oem.dashboard.satisfaction'
FINANCE = 'ev.oem.dashboard.finance'


class DashboardChanges:
    """The dashboards a transaction changed, published on the bus in its
    commit (a data manager of trytond's two-phase commit)"""

    def __init__(self):
        self.models = set()

    # Transaction.join keeps one data manager per transaction: an equal one
    def __eq__(self, other):
        return isinstance(other, DashboardChanges)

    def __hash__(self):
        return hash(DashboardChanges)

    def message(self):
        return {'type': CHANNEL, 'models': sorted(self.models)}

    def tpc_begin(self, transaction):
        pass

    def commit(self, transaction):
        # Before the connection commits: the NOTIFY is part of it
        if self.models and transaction.database.has_channel():
            Bus.publish(CHANNEL, self.message())

    def tpc_vote(self, transaction):
        pass

    def tpc_finish(self, transaction):
        # A transaction may commit more than once (the cron's)
        self.models.clear()

    def tpc_abort(self, transaction):
        self.models.clear()


def dashboards_changed(models):
    "Publish `models` (dashboard model names) when the transaction commits"
    if models:
        changes = Transaction().join(DashboardChanges())
        changes.models.update(models)


class DashboardSource:
    """A model whose records a dashboard reads: its changes publish the
    dashboards in `_dashboards`; a write only when it writes one of
    `_refresh_fields`"""
    __slots__ = ()
    _dashboards = ()
    _refresh_fields = frozenset()

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        if (mode != 'write'
                or cls._refresh_fields & set(field_names or ())):
            dashboards_changed(cls._dashboards)


class Lead(DashboardSource, metaclass=PoolMeta):
    __name__ = 'sale.opportunity'
    _dashboards = (OPS, FUNNEL, ZONE)
    _refresh_fields = frozenset(
        ['company', 'state', 'contacted_at', 'address'])


class Job(DashboardSource, metaclass=PoolMeta):
    __name__ = 'ev.field.job'
    _dashboards = (OPS, FUNNEL, ZONE)
    _refresh_fields = frozenset(
        ['company', 'lead', 'kind', 'state', 'slot_start', 'reported_at'])


class Address(DashboardSource, metaclass=PoolMeta):
    "The zone of a lead is its address's PIN code"
    __name__ = 'party.address'
    _dashboards = (ZONE,)
    _refresh_fields = frozenset(['postal_code'])


# The Finance dashboard's sources, with ev_payout (dashboard_finance.py)

class PayoutRun(DashboardSource, metaclass=PoolMeta):
    __name__ = 'ev.payout.run'
    _dashboards = (FINANCE,)
    _refresh_fields = frozenset(['company', 'state'])


class PayoutLine(DashboardSource, metaclass=PoolMeta):
    __name__ = 'ev.payout.line'
    _dashboards = (FINANCE,)
    _refresh_fields = frozenset(
        ['company', 'run', 'state', 'amount'])


class Hold(DashboardSource, metaclass=PoolMeta):
    __name__ = 'ev.service.hold'
    _dashboards = (FINANCE,)
    _refresh_fields = frozenset(['company', 'state', 'amount'])
