# This file is part of the EV operations suite.
"""The cancellation of a lead: what it costs at each stage (the policies) and
the Cancel Lead wizard that applies them"""
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .exceptions import LeadError
from .opportunity import OLD_STAGES, STATES, renamed_stage

ABSORBERS = [
    ('company', "Company"),
    ('customer', "Customer"),
    ('oem', "OEM"),
    ]


class CancellationPolicy(ModelSQL, ModelView):
    "What a cancellation costs at each stage of a lead"
    __name__ = 'ev.lead.cancellation.policy'
    __string__ = "Cancellation Policy"

    stage = fields.Selection(
        [s for s in STATES if s[0] not in {'cancelled', 'lost', 'on_hold'}],
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
    def __register__(cls, module_name):
        super().__register__(module_name)
        # Migration: the stages take the names of the lead's state
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        cursor.execute(*table.update(
                [table.stage], [renamed_stage(table.stage)],
                where=table.stage.in_(list(OLD_STAGES))))

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


class SaleOpportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    cancellation_reason = fields.Text("Cancellation Reason", readonly=True)
    cancellation_fee = fields.Numeric(
        "Cancellation Fee", digits=(16, 2), readonly=True)
    materials_absorbed_by = fields.Selection(
        [(None, "")] + ABSORBERS, "Materials Absorbed By", readonly=True)

    @classmethod
    def copy(cls, leads, default=None):
        default = default.copy() if default is not None else {}
        for name in ['cancellation_reason', 'cancellation_fee',
                'materials_absorbed_by']:
            default.setdefault(name)
        return super().copy(leads, default=default)

    @property
    def cancellation_policy(self):
        "The policy of the stage the lead is at, or was at before its hold"
        Policy = Pool().get('ev.lead.cancellation.policy')
        return Policy.for_stage(self.stage_before_hold
            if self.state == 'on_hold' else self.state)

    @classmethod
    @ModelView.button_action('ev_lead.wizard_cancel')
    def ev_cancel(cls, leads):
        pass

    @classmethod
    def cancel_leads(cls, leads, reason):
        "Cancel with the stage's policy: fee and who absorbs materials"
        if not (reason or '').strip():
            raise LeadError(gettext('ev_lead.msg_cancel_reason'))
        for lead in leads:
            policy = lead.cancellation_policy
            lead.cancellation_reason = reason
            lead.cancellation_fee = policy.fee if policy else Decimal(0)
            lead.materials_absorbed_by = (
                policy.materials_absorbed_by if policy else 'company')
        cls.save(leads)
        # Tryton's cancel button is hidden: the wizard is its door
        with without_check_access():
            cls.cancel(leads)


class CancelStart(ModelView):
    "Cancel Lead"
    __name__ = 'ev.lead.cancel.start'

    reason = fields.Text("Reason", required=True)
    fee = fields.Numeric("Cancellation Fee", digits=(16, 2), readonly=True)
    materials_absorbed_by = fields.Char(
        "Materials Absorbed By", readonly=True)


class Cancel(Wizard):
    "Cancel Lead"
    __name__ = 'ev.lead.cancel'

    start = StateView(
        'ev.lead.cancel.start', 'ev_lead.cancel_start_view_form', [
            Button("Back", 'end', 'tryton-cancel'),
            Button("Cancel Lead", 'cancel', 'tryton-ok', default=True),
            ])
    cancel = StateTransition()

    def default_start(self, fields):
        values = {}
        if len(self.records) == 1:
            lead, = self.records
            policy = lead.cancellation_policy
            if policy:
                values['fee'] = policy.fee
                values['materials_absorbed_by'] = (
                    policy.materials_absorbed_by_string)
        return values

    def transition_cancel(self):
        self.model.cancel_leads(self.records, self.start.reason)
        return 'end'
