# This file is part of the EV operations suite.
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields

from .opportunity import LEAD_STAGES

ABSORBERS = [
    ('company', "Company"),
    ('customer', "Customer"),
    ('oem', "OEM"),
    ]


class Configuration(ModelSingleton, ModelSQL, ModelView):
    __name__ = 'ev.lead.configuration'
    __string__ = "Lead Configuration"

    readiness_timeout = fields.Integer(
        "Site Readiness Timeout (days)", required=True,
        domain=[('readiness_timeout', '>', 0)],
        help="A lead waiting longer for the customer's site work goes on "
        "hold and Central Ops is notified.")
    failed_call_limit = fields.Integer(
        "Failed Calls Before Follow-up", required=True,
        domain=[('failed_call_limit', '>', 0)])
    central_ops_group = fields.Many2One(
        'res.group', "Central Ops",
        help="Notified of leads that need a follow-up.")
    phone_region = fields.Char(
        "Default Phone Region", size=2,
        help="ISO country code used for numbers without an international "
        "prefix.")

    @classmethod
    def default_readiness_timeout(cls):
        return 30

    @classmethod
    def default_failed_call_limit(cls):
        return 3

    @classmethod
    def default_phone_region(cls):
        return 'IN'


class CancellationPolicy(ModelSQL, ModelView):
    "What a cancellation costs at each stage of a lead"
    __name__ = 'ev.lead.cancellation.policy'
    __string__ = "Cancellation Policy"

    stage = fields.Selection(
        [s for s in LEAD_STAGES
            if s[0] not in {'cancelled', 'lost', 'on_hold'}],
        "Stage", required=True)
    fee = fields.Numeric(
        "Cancellation Fee", digits=(16, 2), required=True,
        domain=[('fee', '>=', 0)])
    materials_absorbed_by = fields.Selection(
        ABSORBERS, "Procured Materials Absorbed By", required=True)
    materials_absorbed_by_string = materials_absorbed_by.translated(
        'materials_absorbed_by')
    note = fields.Text("Note", translate=True)

    @classmethod
    def default_fee(cls):
        return 0

    @classmethod
    def default_materials_absorbed_by(cls):
        return 'company'

    @classmethod
    def for_stage(cls, stage):
        policies = cls.search([('stage', '=', stage)], limit=1)
        return policies[0] if policies else None
