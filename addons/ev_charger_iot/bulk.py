# This file is part of the EV operations suite.
"""The set-based SQL of the ingestion: multi-row inserts, the history
insert that makes a redelivery a no-op, and the merge of the latest values
of each field (the rule of every topic's storing, see telemetry.py).

Nothing here knows a topic: the models say which columns hold what."""
import datetime

from sql import Cast, Column, Conflict, Literal, Null, Select, Table, Values
from sql.conditionals import Case
from sql.functions import CurrentTimestamp, Function
from sql.operators import Any

from trytond.modules.ev_station.bulk import invalidate_cache  # noqa: F401
from trytond.transaction import Transaction

# Rows per INSERT statement on SQLite (PostgreSQL takes one array per
# column whatever the number of rows)
INSERT_CHUNK = 500


class _Excluded(Table):
    """The row proposed to ON CONFLICT DO UPDATE, named in lower case:
    python-sql quotes "EXCLUDED", which PostgreSQL does not recognise"""

    def __init__(self):
        super().__init__('excluded')

    @property
    def alias(self):
        return 'excluded'

    @property
    def has_alias(self):
        return False


Excluded = _Excluded()


class Unnest(Function):
    __slots__ = ()
    _function = 'UNNEST'


def on_postgresql():
    from trytond import backend
    return backend.name == 'postgresql'


def tune_for_bulk():
    """PostgreSQL settings of this transaction for the set-based statements:
    no JIT (it compiles a statement over thousands of rows for longer than
    it runs, 300 ms) and no generic plan (psycopg prepares a statement run
    five times; the generic plan of `id = ANY(array)` scans every charger)"""
    if on_postgresql():
        cursor = Transaction().connection.cursor()
        cursor.execute('SET LOCAL jit = off')
        cursor.execute('SET LOCAL plan_cache_mode = force_custom_plan')


def among(column, ids):
    """`column IN ids`; on PostgreSQL `= ANY(array)`: one parameter for the
    thousand chargers of an ingestion batch"""
    if on_postgresql():
        return column == Any(list(ids))
    return column.in_(list(ids))


def row_source(rows, types):
    """A table of `rows` for INSERT ... SELECT and UPDATE ... FROM, and its
    columns. On PostgreSQL one array parameter per column, unnested: a
    statement of a few parameters whatever the number of rows (psycopg and
    the server parse thousands of placeholders slowly). On SQLite a VALUES
    list (its CAST to TIMESTAMP would make a number of a date)."""
    if on_postgresql():
        arrays = list(zip(*rows)) if rows else [()] * len(types)
        table = Select([Unnest(Cast(Literal(array_literal(a)), f'{t}[]'))
                .as_(f'column{i + 1}')
                for i, (a, t) in enumerate(zip(arrays, types))])
    else:
        table = Values([list(r) for r in rows])
    return table, [Column(table, f'column{i + 1}') for i in range(len(types))]


def _array_element(value):
    if value is None:
        return 'NULL'
    if isinstance(value, str):
        return '"%s"' % value.replace('\\', '\\\\').replace('"', '\\"')
    if isinstance(value, datetime.datetime):
        return '"%s"' % value.isoformat(' ')
    return repr(value)  # int, float


def array_literal(values):
    """The text of a PostgreSQL array of `values`: building it here costs a
    tenth of what psycopg's per-element array dumper costs"""
    return '{%s}' % ','.join(map(_array_element, values))


def insert_rows(table, columns, types, rows, on_conflict=None):
    "INSERT of `rows` in `columns` of the table, with create_date and _uid"
    cursor = Transaction().connection.cursor()
    columns = columns + [table.create_date, table.create_uid]
    if on_postgresql():
        source, values = row_source(rows, types)
        cursor.execute(*table.insert(columns,
                source.select(*values, CurrentTimestamp(), Literal(0)),
                on_conflict=on_conflict))
        return
    for i in range(0, len(rows), INSERT_CHUNK):
        cursor.execute(*table.insert(columns,
                [list(r) + [CurrentTimestamp(), 0]
                    for r in rows[i:i + INSERT_CHUNK]],
                on_conflict=on_conflict))


def insert_history(Model, columns, types, rows):
    """Multi-row INSERT ... ON CONFLICT DO NOTHING on the model's unique key
    (see TelemetryMixin.unique_columns); returns the rows of distinct keys,
    in their order: a batch may hold a message and its redelivery, and the
    first one is the one stored"""
    table = Model.__table__()
    key = Model.unique_columns(table)
    positions = [columns.index(c.name) for c in key]
    seen, unique_rows = set(), []
    for row in rows:
        k = tuple(row[i] for i in positions)
        if k not in seen:
            seen.add(k)
            unique_rows.append(row)
    insert_rows(table, [Column(table, c) for c in columns], types,
        unique_rows, on_conflict=Conflict(table, indexed_columns=key))
    return unique_rows


class Field:
    """A group of columns of a record that one message sets together, with
    the column of the timestamp of the message that set them last. Without
    columns, the timestamp is the value (the latest heartbeat). `ties`:
    whether a message of the same timestamp arriving later wins (when the
    history stores both, as two statuses of one second) or is a redelivery
    of the stored one (when the history key is the timestamp)."""

    def __init__(self, at, columns=(), types=(), ties=False):
        self.at = at
        self.columns = list(columns)
        self.types = list(types)
        self.ties = ties


class Latest:
    """The latest values of each Field per record key, gathered from the
    messages of a batch in their order of arrival: the value of a field is
    the one of the latest message (by its timestamp, ties by arrival) that
    carried it, so that one batch or several give the same state"""

    def __init__(self, key_types, fields):
        self.key_types = list(key_types)
        self.fields = fields
        self.values = {}

    def add(self, key, field, at, values=()):
        """A message of timestamp `at` that carried the `values` of the
        field (named by its timestamp column) of record `key`"""
        held = self.values.setdefault(key, {})
        # A later arrival wins a tie: the history key told them apart
        if field not in held or held[field][0] <= at:
            held[field] = (at, list(values))

    def rows(self):
        "(key..., at, columns... per field) per record, sorted by key"
        for key, held in sorted(self.values.items()):
            row = list(key)
            for field in self.fields:
                at, carried = held.get(field.at,
                    (None, [None] * len(field.columns)))
                row.extend([at] + carried)
            yield row

    def columns(self):
        names, types = [], []
        for field in self.fields:
            names += [field.at] + field.columns
            types += ['TIMESTAMP'] + field.types
        return names, self.key_types + types

    def __bool__(self):
        return bool(self.values)


class _Named:
    "The columns of a row source (column1, column2, ...) by their names"

    def __init__(self, source, names):
        self.columns = {n: Column(source, f'column{i + 1}')
            for i, n in enumerate(names)}


def _column(table, name):
    if isinstance(table, _Named):
        return table.columns[name]
    return Column(table, name)


def _newer(field, stored, proposed):
    "The condition that a proposed value of `field` replaces the stored one"
    stored_at = _column(stored, field.at)
    proposed_at = _column(proposed, field.at)
    later = (stored_at <= proposed_at) if field.ties else (
        stored_at < proposed_at)
    return (proposed_at != Null) & ((stored_at == Null) | later)


def _assignments(latest, stored, proposed):
    columns, values, conditions = [], [], []
    for field in latest.fields:
        newer = _newer(field, stored, proposed)
        conditions.append(newer)
        for name in [field.at] + field.columns:
            columns.append(Column(stored, name))
            values.append(Case((newer, _column(proposed, name)),
                    else_=Column(stored, name)))
    any_newer = conditions[0]
    for condition in conditions[1:]:
        any_newer |= condition
    return columns, values, any_newer


def upsert_latest(table, key, latest):
    """Insert the records of `latest` (keyed by the `key` column names) or
    merge them into the stored ones: each field replaced only by a later
    value (INSERT ... ON CONFLICT DO UPDATE)"""
    if not latest:
        return
    names, types = latest.columns()
    columns, values, any_newer = _assignments(latest, table, Excluded)
    insert_rows(table, [Column(table, c) for c in key + names], types,
        list(latest.rows()),
        on_conflict=Conflict(table,
            indexed_columns=[Column(table, c) for c in key],
            columns=columns + [table.write_date],
            values=values + [CurrentTimestamp()],
            where=any_newer))


def update_latest(table, latest):
    """Merge `latest` (keyed by record id) into the existing records: each
    field replaced only by a later value (UPDATE ... FROM)"""
    if not latest:
        return
    names, types = latest.columns()
    source, source_columns = row_source(list(latest.rows()), types)
    proposed = _Named(source, ['id'] + names)
    columns, values, any_newer = _assignments(latest, table, proposed)
    Transaction().connection.cursor().execute(*table.update(
            columns, values, from_=[source],
            where=(table.id == source_columns[0]) & any_newer))
