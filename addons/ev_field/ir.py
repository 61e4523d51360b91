# This file is part of the EV operations suite.
from trytond.pool import Pool, PoolMeta


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _get_cache_key(cls, model_names):
        Team = Pool().get('ev.field.team')
        return (*super()._get_cache_key(model_names), tuple(Team.user_teams()))

    @classmethod
    def _get_context(cls, model_name):
        Team = Pool().get('ev.field.team')
        context = super()._get_context(model_name)
        # The teams of the user's employees: field teams see their own jobs
        context['ev_field_teams'] = list(Team.user_teams())
        return context
