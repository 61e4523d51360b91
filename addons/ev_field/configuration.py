# This file is part of the EV operations suite.
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Id

from .exceptions import FieldJobError


class Configuration(ModelSingleton, ModelSQL, ModelView):
    __name__ = 'ev.field.configuration'
    __string__ = "Field Operations Configuration"

    survey_sequence = fields.Many2One('ir.sequence', "Survey Sequence",
        required=True,
        domain=[('sequence_type', '=', Id('ev_field', 'sequence_type_job'))])
    installation_sequence = fields.Many2One('ir.sequence',
        "Installation Sequence", required=True,
        domain=[('sequence_type', '=', Id('ev_field', 'sequence_type_job'))])
    warehouse = fields.Many2One('stock.location', "Warehouse",
        domain=[('type', '=', 'warehouse')],
        help="Where field materials are taken from and returned to. "
        "Empty: the company's first warehouse.")
    approval_threshold = fields.Numeric("Approval Threshold",
        digits=(16, 2), required=True,
        domain=[('approval_threshold', '>=', 0)],
        help="Local purchases below this amount (INR) are approved "
        "automatically; from it on Finance approves.")
    qa_share = fields.Numeric("QA Audit Share", digits=(4, 2), required=True,
        domain=[('qa_share', '>=', 0), ('qa_share', '<=', 1)],
        help="The share of installations sampled for a QA audit "
        "(0.10 = 10 %).")
    logistics_cost = fields.Numeric("Logistics Cost per Job",
        digits=(16, 2), required=True,
        domain=[('logistics_cost', '>=', 0)])

    @classmethod
    def default_survey_sequence(cls):
        return Pool().get('ir.model.data').get_id('ev_field', 'sequence_survey')

    @classmethod
    def default_installation_sequence(cls):
        return Pool().get('ir.model.data').get_id(
            'ev_field', 'sequence_installation')

    @classmethod
    def default_approval_threshold(cls):
        return Decimal(5000)

    @classmethod
    def default_qa_share(cls):
        return Decimal('0.10')

    @classmethod
    def default_logistics_cost(cls):
        return Decimal(0)

    def get_job_sequence(self, kind):
        return getattr(self, f'{kind}_sequence')

    def get_warehouse(self, company):
        Location = Pool().get('stock.location')
        if self.warehouse:
            return self.warehouse
        warehouses = Location.search([('type', '=', 'warehouse')],
            order=[('id', 'ASC')], limit=1)
        if not warehouses:
            raise FieldJobError(gettext('ev_field.msg_no_warehouse'))
        return warehouses[0]
