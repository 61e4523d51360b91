# This file is part of the EV operations suite.
from trytond.cache import Cache
from trytond.model import fields
from trytond.pool import PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    ev_oem = fields.Many2One(
        'party.party', "OEM", domain=[('ev_is_oem', '=', True)],
        context={'company': Eval('company', -1)}, depends={'company'},
        help="The OEM this user works for: it sees only that OEM's leads.")
    # Read by the record rules of every request: cached per user
    _ev_oem_cache = Cache('res_user.get_ev_oem', context=False)

    @classmethod
    def get_ev_oem(cls):
        "The id of the OEM the current user works for, or None"
        user_id = Transaction().user
        if not user_id:
            return None
        oem = cls._ev_oem_cache.get(user_id, -1)
        if oem != -1:
            return oem
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.ev_oem, where=table.id == user_id))
        row = cursor.fetchone()
        oem = row[0] if row else None
        cls._ev_oem_cache.set(user_id, oem)
        return oem

    @classmethod
    def on_modification(cls, mode, users, field_names=None):
        super().on_modification(mode, users, field_names=field_names)
        if mode != 'create':
            cls._ev_oem_cache.clear()



class UserApplication(metaclass=PoolMeta):
    __name__ = 'res.user.application'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.application.selection.append(('ev_oem', "EV OEM API"))
