# This file is part of the EV operations suite.
"""The rules a warranty claim is judged by: its error types, the warranty
terms of each charger model and the routes to the group that approves it"""
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields, sequence_ordered

from .exceptions import WarrantyClaimError

SEVERITIES = [
    ('low', "Low"),
    ('medium', "Medium"),
    ('high', "High"),
    ]
# What telemetry tells whether a claim of the error type holds
EVIDENCE_KINDS = [
    ('status', "Connector Statuses and Commands"),
    ('meter', "Meter Values"),
    ]


class ErrorType(ModelSQL, ModelView):
    __name__ = 'ev.service.claim.error_type'
    __string__ = "Claim Error Type"

    name = fields.Char("Name", required=True, translate=True)
    code = fields.Char("Code", required=True)
    evidence = fields.Selection(EVIDENCE_KINDS, "Evidence", required=True,
        help="The telemetry that confirms or contradicts the claim.")
    severity = fields.Selection(SEVERITIES, "Default Severity",
        required=True)
    active = fields.Boolean("Active")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('code_unique', Unique(t, t.code),
                'ev_service.msg_claim_error_type_code_unique'),
            ]

    @classmethod
    def default_active(cls):
        return True

    @classmethod
    def default_evidence(cls):
        return 'status'

    @classmethod
    def default_severity(cls):
        return 'medium'


class WarrantyTerm(ModelSQL, ModelView):
    __name__ = 'ev.service.warranty_term'
    __string__ = "Warranty Term"
    _rec_name = 'charger_model'

    charger_model = fields.Char("Charger Model", required=True, strip=True,
        help="The model the chargers report (Charger › Model).")
    months = fields.Integer("Months", required=True,
        domain=[('months', '>', 0)],
        help="Months of warranty from the commissioning date.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('model_unique', Unique(t, t.charger_model),
                'ev_service.msg_warranty_term_unique'),
            ]

    @classmethod
    def months_of(cls, charger_model):
        "The months of warranty of the model (None: no terms)"
        terms = cls.search([('charger_model', '=', charger_model)], limit=1)
        return terms[0].months if terms else None


class Route(sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'ev.service.claim.route'
    __string__ = "Claim Route"

    error_type = fields.Many2One('ev.service.claim.error_type',
        "Error Type", ondelete='CASCADE', help="Empty for any error type.")
    severity = fields.Selection([(None, "")] + SEVERITIES, "Severity",
        help="Empty for any severity.")
    approver_group = fields.Many2One('res.group', "Approved By",
        required=True, ondelete='RESTRICT')
    escalation_group = fields.Many2One('res.group', "Escalated To",
        required=True, ondelete='RESTRICT')

    def match(self, claim):
        return ((not self.error_type or self.error_type == claim.error_type)
            and (not self.severity or self.severity == claim.severity))

    @classmethod
    def route(cls, claim):
        "The first route matching the claim"
        for route in cls.search([]):
            if route.match(claim):
                return route
        raise WarrantyClaimError(gettext(
                'ev_service.msg_claim_no_route', claim=claim.rec_name,
                error_type=claim.error_type.rec_name,
                severity=claim.severity_string))
