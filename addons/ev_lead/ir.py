# This file is part of the EV operations suite.
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('sale.opportunity|hold_unready_sites',
                    "Put Leads Waiting Too Long for Site Readiness on Hold"),
                ('ev.lead.webhook|send_due', "Retry OEM Webhooks"),
                ])


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _get_cache_key(cls, model_names):
        return (*super()._get_cache_key(model_names), _user_oem())

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        # The OEM of the user, for the rules that keep OEMs to their leads
        context['ev_oem'] = _user_oem()
        return context


def _user_oem():
    pool = Pool()
    User = pool.get('res.user')
    user_id = Transaction().user
    if not user_id:
        return None
    with without_check_access():
        user = User(user_id)
        return user.ev_oem.id if user.ev_oem else None
