# This file is part of the EV operations suite.
"The job's agreed extras: paid with its labour once the job is payable"
from trytond.i18n import gettext
from trytond.model import Index, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.transaction import without_check_access

from .exceptions import PayoutValidationError

_EXTRA = {
    'readonly': Bool(Eval('payable')),
    'invisible': Eval('kind') != 'installation',
    }


class Job(metaclass=PoolMeta):
    __name__ = 'ev.field.job'

    payout_extra = fields.Numeric("Agreed Extra", digits=(16, 2),
        domain=['OR', ('payout_extra', '=', None),
            ('payout_extra', '>=', 0)],
        states=_EXTRA,
        help="Paid to the team on top of its labour (e.g. extra cable "
        "run, civil work), agreed before the job is payable.")
    payout_extra_reason = fields.Char("Extra For",
        states={
            **_EXTRA,
            'required': Eval('payout_extra', 0) > 0,
            })

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.team, Index.Equality()),
                (t.payable_at, Index.Range()),
                where=t.payable == True))  # noqa: E712
        # The cost per installation selects the company's payable
        # installations by the date they became payable
        cls._sql_indexes.add(Index(t, (t.company, Index.Equality()),
                (t.payable_at, Index.Range()),
                where=(t.payable == True)  # noqa: E712
                & (t.kind == 'installation')))

    @classmethod
    def copy(cls, jobs, default=None):
        default = default.copy() if default else {}
        default.setdefault('payout_extra')
        default.setdefault('payout_extra_reason')
        return super().copy(jobs, default=default)

    @classmethod
    def mark_payable(cls, jobs):
        """A team paid per job gets its run at once, not at the next hourly
        cycle"""
        Run = Pool().get('ev.payout.run')
        super().mark_payable(jobs)
        teams = list({j.team for j in jobs if j.team
                and j.team.payout_frequency == 'job'})
        if teams:
            with without_check_access():
                Run.create_runs(teams=teams)

    @classmethod
    def validate_fields(cls, jobs, field_names):
        super().validate_fields(jobs, field_names)
        for job in jobs:
            reason = (job.payout_extra_reason or '').strip()
            if job.payout_extra and not reason:
                raise PayoutValidationError(gettext(
                        'ev_payout.msg_job_extra_reason', job=job.rec_name))
