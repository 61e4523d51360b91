# This file is part of the EV operations suite.
"Records that are evidence: created once, never written nor deleted"
from trytond import backend
from trytond.i18n import gettext
from trytond.transaction import Transaction

from .exceptions import LogImmutableError


class ImmutableMixin:
    "Entries that are evidence: created once, never written nor deleted"
    __slots__ = ()

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(
            mode, records, values=values, external=external)
        if mode in {'write', 'delete'}:
            raise LogImmutableError(gettext(
                    'ev_station.msg_entry_immutable',
                    model=cls.__string__))

    @classmethod
    def __register__(cls, module):
        super().__register__(module)
        _install_immutable_trigger(cls._table)


def _install_immutable_trigger(table):
    """Refuse UPDATE and DELETE in the database itself, so that not even SQL
    issued around the ORM can rewrite the evidence."""
    cursor = Transaction().connection.cursor()
    if backend.name == 'postgresql':
        cursor.execute(
            'CREATE OR REPLACE FUNCTION ev_refuse_modification() '
            'RETURNS trigger AS $$ BEGIN '
            "RAISE EXCEPTION 'ev: % of % refused: entries are immutable', "
            'TG_OP, TG_TABLE_NAME; END; $$ LANGUAGE plpgsql')
        for op in ['UPDATE', 'DELETE']:
            trigger = f'{table}_refuse_{op.lower()}'
            cursor.execute(f'DROP TRIGGER IF EXISTS "{trigger}" ON "{table}"')
            cursor.execute(
                f'CREATE TRIGGER "{trigger}" BEFORE {op} ON "{table}" '
                'FOR EACH ROW EXECUTE FUNCTION ev_refuse_modification()')
    elif backend.name == 'sqlite':
        for op in ['UPDATE', 'DELETE']:
            trigger = f'{table}_refuse_{op.lower()}'
            cursor.execute(f'DROP TRIGGER IF EXISTS "{trigger}"')
            cursor.execute(
                f'CREATE TRIGGER "{trigger}" BEFORE {op} ON "{table}" '
                "BEGIN SELECT RAISE(ABORT, "
                f"'ev: {op} of {table} refused: entries are immutable'); END")
