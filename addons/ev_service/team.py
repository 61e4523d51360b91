# This file is part of the EV operations suite.
"The service side of a field team: the contractor who answers for its parts"
from trytond.model import fields
from trytond.pool import PoolMeta
from trytond.pyson import Eval


class Team(metaclass=PoolMeta):
    __name__ = 'ev.field.team'

    contractor = fields.Many2One('party.party', "Contractor",
        ondelete='RESTRICT',
        context={'company': Eval('company', -1)}, depends={'company'},
        help="The party that answers for the team's parts: holds on parts "
        "not returned are placed on it (the company's party when empty).")

    def responsible_party(self):
        return self.contractor or self.company.party
