# This file is part of the EV operations suite.
"""The bridges of the closure pack: an installation's packs are built when
it closes, and a pack is a record the OEM can dispute"""
from trytond.model import fields
from trytond.pool import Pool, PoolMeta


class Job(metaclass=PoolMeta):
    __name__ = 'ev.field.job'

    closure_packs = fields.One2Many('ev.oem.closure.pack', 'job',
        "Closure Packs", readonly=True)

    @classmethod
    def close(cls, jobs):
        super().close(jobs)
        Pack = Pool().get('ev.oem.closure.pack')
        Pack.build(cls.browse([j.id for j in jobs
                    if j.kind == 'installation']))

    @classmethod
    def copy(cls, jobs, default=None):
        default = default.copy() if default else {}
        default.setdefault('closure_packs')
        return super().copy(jobs, default=default)


class Dispute(metaclass=PoolMeta):
    __name__ = 'ev.dispute'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['ev.oem.closure.pack']
