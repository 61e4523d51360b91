# This file is part of the EV operations suite.
from trytond.pool import PoolMeta

from . import routes

__all__ = ['UserApplication', 'routes']


class UserApplication(metaclass=PoolMeta):
    __name__ = 'res.user.application'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.application.selection.append(('ev_iot', "EV Charger Commands API"))
