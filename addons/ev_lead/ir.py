# This file is part of the EV operations suite.
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('sale.opportunity|hold_unready_sites',
                    "Put Leads Waiting Too Long for Site Readiness on Hold"),
                ('ev.lead.webhook|deliver_due', "Retry OEM Webhooks"),
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

    @classmethod
    def ev_oem_open_models(cls):
        """The models an OEM's user may use besides OEM_OPEN_MODELS: other
        modules add theirs, kept to the OEM by their own record rules"""
        return set()

    @classmethod
    def domain_get(cls, model_name, mode='read'):
        domain = super().domain_get(model_name, mode=mode)
        if not Transaction().check_access:
            return domain
        oem = _user_oem()
        if oem is None:
            return domain
        # An OEM's user is an outsider: besides its own leads it sees no
        # business data (Tryton lets every user read parties, products...).
        restriction = _oem_restriction(model_name, oem)
        if restriction is None:
            return domain
        return ['AND', domain, restriction] if domain else restriction


class ModelAccess(metaclass=PoolMeta):
    __name__ = 'ir.model.access'

    @classmethod
    def get_access(cls, models):
        access = super().get_access(models)
        oem = _user_oem()
        if oem is None:
            return access
        # The models an OEM's user does not see (see Rule.domain_get) are
        # not readable at all: else a search of its own leads on a related
        # field (party.contact_mechanisms.value, ...) would probe them,
        # as Tryton does not apply their rules to such a search.
        closed = dict.fromkeys(['read', 'write', 'create', 'delete'], False)
        return {model: (closed if _oem_restriction(model, oem) == NOTHING
                else perms) for model, perms in access.items()}


def _user_oem():
    return Pool().get('res.user').get_ev_oem()


# Models an OEM's user may use: the client's metadata, reference data, its
# own leads (kept by their record rule) and its own user.
OEM_OPEN_PREFIXES = ('ir.', 'country.')
OEM_OPEN_MODELS = {
    'res.group', 'res.user.application', 'res.notification',
    'res.user.warning', 'res.user.login.attempt', 'res.user.device',
    'currency.currency', 'company.company', 'sale.opportunity',
    }


NOTHING = [('id', '=', -1)]


def _oem_restriction(model_name, oem):
    "None when the model is open to the OEM's user, else a domain"
    if model_name.startswith(OEM_OPEN_PREFIXES) \
            or model_name in OEM_OPEN_MODELS \
            or model_name in Pool().get('ir.rule').ev_oem_open_models():
        return None
    if model_name == 'res.user':
        return [('id', '=', Transaction().user)]
    if model_name == 'ev.lead.survey_slot':
        return [('lead.oem', '=', oem)]
    return NOTHING
