# This file is part of the EV operations suite.
"""The bridges of the closure pack: an installation's packs are built when
it closes (or later, by Central Ops' "Build Closure Pack" once the OEM has
a template), and a pack is a record the OEM can dispute"""
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import without_check_access

from .exceptions import ClosurePackError


class Job(metaclass=PoolMeta):
    __name__ = 'ev.field.job'

    closure_packs = fields.One2Many('ev.oem.closure.pack', 'job',
        "Closure Packs", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'build_closure_packs': {
                    'invisible': ((Eval('kind') != 'installation')
                        | (Eval('state') != 'closed')),
                    'depends': ['kind', 'state'],
                    },
                })

    @classmethod
    @ModelView.button
    def build_closure_packs(cls, jobs):
        """The packs the closure did not build: the OEM had no template
        then (a pack built already is rebuilt from the pack)"""
        pool = Pool()
        Pack = pool.get('ev.oem.closure.pack')
        Template = pool.get('ev.oem.closure.template')
        with without_check_access():
            jobs = cls.browse(jobs)
            for job in jobs:
                if job.kind != 'installation' or job.state != 'closed':
                    raise ClosurePackError(gettext(
                            'ev_oem_report.msg_pack_build_not_closed',
                            job=job.rec_name))
                oem = job.lead and job.lead.oem
                if not oem:
                    raise ClosurePackError(gettext(
                            'ev_oem_report.msg_pack_build_no_oem',
                            job=job.rec_name))
                if not Template.for_oem(oem):
                    raise ClosurePackError(gettext(
                            'ev_oem_report.msg_pack_build_no_template',
                            job=job.rec_name, oem=oem.rec_name))
            built = Pack.build(jobs)
            if not built:
                raise ClosurePackError(gettext(
                        'ev_oem_report.msg_pack_build_exists',
                        jobs=', '.join(j.rec_name for j in jobs),
                        packs=', '.join(p.rec_name
                            for j in jobs for p in j.closure_packs)))


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
