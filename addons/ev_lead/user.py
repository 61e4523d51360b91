# This file is part of the EV operations suite.
from trytond.model import fields
from trytond.pool import PoolMeta
from trytond.pyson import Eval


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    ev_oem = fields.Many2One(
        'party.party', "OEM", domain=[('ev_is_oem', '=', True)],
        context={'company': Eval('company', -1)}, depends={'company'},
        help="The OEM this user works for: it sees only that OEM's leads.")



class UserApplication(metaclass=PoolMeta):
    __name__ = 'res.user.application'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.application.selection.append(('ev_oem', "EV OEM API"))
