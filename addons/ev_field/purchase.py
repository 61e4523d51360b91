# This file is part of the EV operations suite.
from trytond.pool import PoolMeta


class PurchaseRequest(metaclass=PoolMeta):
    __name__ = 'purchase.request'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() | {'ev.field.job'}
