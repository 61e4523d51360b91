# This file is part of the EV operations suite.
"""Set-based writes beside the ORM, done as the ORM does them.

A cycle that changes tens of thousands of rows (a payout sign-off, an SLA
sweep, a telemetry batch) writes them in one UPDATE; these helpers keep
what ModelSQL.write would have kept:

    sql_update(Line, ids, {line.state: 'confirmed'})  # write_uid/_date,
                                    # the history rows, the stale cache
    invalidate_cache('ev.charger')   # after any other set-based SQL
    lock_together((Run, runs), (Sequence, sequences))

`lock_together` asks for every lock at once: Tryton 8 takes a lock by
starting the transaction again with it, so locks asked one after the other
start it once per lock, and a lock asked after the work throws the work
away."""
from sql.functions import CurrentTimestamp

from trytond.model import fields
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, TransactionError


def invalidate_cache(*model_names):
    """Forget the records of the models cached by the transaction after a
    set-based SQL write (as ModelSQL does after its own writes)"""
    transaction = Transaction()
    transaction.counter += 1
    for cache in transaction.cache.values():
        for name in model_names:
            cache.pop(name, None)


def sql_update(Model, ids, values, where=None, history=True):
    """UPDATE the rows of `ids` of Model's table with {column: value}
    (columns of Model.__table__()), stamping write_uid and write_date, then
    add their history rows (models with _history) and forget the cached
    records. No access check, no validation: for the caller's own columns,
    checked by the caller. `where(table)`, a condition on the table, guards
    against a concurrent change: the rows it excludes are left alone (and
    get a history row of what they are)."""
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    ids = list(ids)
    if not ids:
        return
    # The table of the columns given: values computed from its columns
    # (a CASE on another column) must name the table being updated
    table = next(iter(values)).table if values else Model.__table__()
    columns = [table.write_uid, table.write_date]
    row = [transaction.user, CurrentTimestamp()]
    for column, value in values.items():
        columns.append(getattr(table, column.name))
        row.append(value)
    for sub_ids in grouped_slice(ids, 1000):
        condition = fields.SQL_OPERATORS['in'](table.id, list(sub_ids))
        if where is not None:
            condition &= where(table)
        cursor.execute(*table.update(columns, row, where=condition))
    if history and Model._history:
        for sub_ids in grouped_slice(ids, 1000):
            Model._insert_history(list(sub_ids))
    invalidate_cache(Model.__name__)


class LocksError(TransactionError):
    "Several locks the transaction must be started again with"

    def __init__(self, errors):
        super().__init__()
        self.errors = errors

    def fix(self, extras):
        super().fix(extras)
        for error in self.errors:
            error.fix(extras)


def lock_together(*models_records):
    """Lock records of several models ((Model, records or None for the
    table), ...) with one restart of the transaction at most"""
    errors = []
    for Model, records in models_records:
        try:
            Model.lock(records)
        except TransactionError as error:
            errors.append(error)
    if errors:
        raise LocksError(errors)
