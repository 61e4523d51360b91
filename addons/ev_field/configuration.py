# This file is part of the EV operations suite.
from decimal import Decimal

from trytond import backend
from trytond.i18n import gettext
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.modules.company.model import (
    CompanyMultiValueMixin, CompanyValueMixin)
from trytond.pool import Pool
from trytond.pyson import Eval, Id
from trytond.transaction import Transaction

from .exceptions import FieldJobError

SEQUENCES = ['survey_sequence', 'installation_sequence']


def job_sequence(string, company):
    "A sequence of field job numbers of `company` or of every company"
    return fields.Many2One('ir.sequence', string, required=True,
        domain=[
            ('company', 'in', [company, None]),
            ('sequence_type', '=', Id('ev_field', 'sequence_type_job')),
            ])


class Configuration(
        ModelSingleton, ModelSQL, ModelView, CompanyMultiValueMixin):
    __name__ = 'ev.field.configuration'
    __string__ = "Field Operations Configuration"

    survey_sequence = fields.MultiValue(job_sequence("Survey Sequence",
            Eval('context', {}).get('company', -1)))
    installation_sequence = fields.MultiValue(job_sequence(
            "Installation Sequence", Eval('context', {}).get('company', -1)))
    warehouse = fields.Many2One('stock.location', "Warehouse",
        domain=[('type', '=', 'warehouse')],
        help="Where field materials are taken from and returned to. "
        "Empty: the company's first warehouse.")
    approval_threshold = fields.Numeric("Approval Threshold",
        digits=(16, 2), required=True,
        domain=[('approval_threshold', '>=', 0)],
        help="Local purchases below this amount (in the company's currency) "
        "are approved automatically; from it on Finance approves.")
    qa_share = fields.Numeric("QA Audit Share (%)", digits=(4, 2), required=True,
        domain=[('qa_share', '>=', 0), ('qa_share', '<=', 1)],
        help="The share of installations sampled for a QA audit "
        "(0.10 = 10 %).")
    logistics_cost = fields.Numeric("Logistics Cost per Job",
        digits=(16, 2), required=True,
        domain=[('logistics_cost', '>=', 0)])

    @classmethod
    def multivalue_model(cls, field):
        if field in SEQUENCES:
            return Pool().get('ev.field.configuration.sequence')
        return super().multivalue_model(field)

    @classmethod
    def default_survey_sequence(cls, **pattern):
        return cls.multivalue_model(
            'survey_sequence').default_survey_sequence()

    @classmethod
    def default_installation_sequence(cls, **pattern):
        return cls.multivalue_model(
            'installation_sequence').default_installation_sequence()

    @classmethod
    def default_approval_threshold(cls):
        return Decimal(5000)

    @classmethod
    def default_qa_share(cls):
        return Decimal('0.10')

    @classmethod
    def default_logistics_cost(cls):
        return Decimal(0)

    def get_job_sequence(self, kind, company=None):
        "The numbering of the jobs of `kind` for `company` (the context's)"
        pattern = {'company': company} if company else {}
        return self.get_multivalue(f'{kind}_sequence', **pattern)

    def get_warehouse(self, company):
        Location = Pool().get('stock.location')
        if self.warehouse:
            return self.warehouse
        warehouses = Location.search([('type', '=', 'warehouse')],
            order=[('id', 'ASC')], limit=1)
        if not warehouses:
            raise FieldJobError(gettext('ev_field.msg_no_warehouse'))
        return warehouses[0]


class ConfigurationSequence(ModelSQL, CompanyValueMixin):
    __name__ = 'ev.field.configuration.sequence'
    __string__ = "Field Operations Configuration Sequence"

    survey_sequence = job_sequence("Survey Sequence", Eval('company', -1))
    installation_sequence = job_sequence(
        "Installation Sequence", Eval('company', -1))

    @classmethod
    def __register__(cls, module_name):
        exist = backend.TableHandler.table_exist(cls._table)
        super().__register__(module_name)
        if not exist:
            cls._migrate_sequences()

    @classmethod
    def _migrate_sequences(cls):
        "Migration: the sequences were columns of the configuration"
        Configuration = Pool().get('ev.field.configuration')
        configuration = Configuration.__table_handler__()
        if not all(configuration.column_exist(c) for c in SEQUENCES):
            return
        config = Configuration.__table__()
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.insert(
                [table.survey_sequence, table.installation_sequence],
                config.select(config.survey_sequence,
                    config.installation_sequence,
                    where=(config.survey_sequence != None)  # noqa: E711
                    & (config.installation_sequence != None))))  # noqa: E711
        for column in SEQUENCES:
            configuration.not_null_action(column, 'remove')

    @classmethod
    def default_survey_sequence(cls):
        return cls._default_sequence('sequence_survey')

    @classmethod
    def default_installation_sequence(cls):
        return cls._default_sequence('sequence_installation')

    @staticmethod
    def _default_sequence(xml_id):
        try:
            return Pool().get('ir.model.data').get_id('ev_field', xml_id)
        except KeyError:
            return None
