# This file is part of the EV operations suite.
from trytond.pool import PoolMeta

# The closure packs are open to the OEMs' users, kept to their own packs by
# the packs' record rules (closure.xml)
OEM_MODELS = {
    'ev.oem.closure.pack', 'ev.oem.closure.pack.item',
    'ev.oem.closure.pack.dispute.start',
    }


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def ev_oem_restriction(cls, model_name, oem):
        if model_name in OEM_MODELS:
            return None
        if model_name == 'ev.dispute':
            # The disputes of its own packs only
            return [('origin.oem', '=', oem, 'ev.oem.closure.pack')]
        return super().ev_oem_restriction(model_name, oem)
