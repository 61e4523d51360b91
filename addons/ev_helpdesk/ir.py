# This file is part of the EV operations suite.
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _get_cache_key(cls, model_names):
        Department = Pool().get('ev.helpdesk.department')
        return (*super()._get_cache_key(model_names),
            Transaction().user, tuple(Department.user_departments()))

    @classmethod
    def _get_context(cls, model_name):
        Department = Pool().get('ev.helpdesk.department')
        context = super()._get_context(model_name)
        # An agent sees the calls, tickets and requests of the departments
        # they belong to
        context['ev_helpdesk_departments'] = list(
            Department.user_departments())
        # Tryton's rules know the user's groups, not the user: the agent of
        # a ticket sees it
        context['ev_user'] = Transaction().user
        return context
