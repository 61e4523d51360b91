# This file is part of the EV operations suite.
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval, Id
from trytond.transaction import Transaction


def _xml_id(module, xml_id):
    try:
        return Pool().get('ir.model.data').get_id(module, xml_id)
    except KeyError:
        return None


def _company():
    return Transaction().context.get('company', -1)


class Configuration(ModelSingleton, ModelSQL, ModelView):
    __name__ = 'ev.payout.configuration'
    __string__ = "Payout Configuration"

    run_sequence = fields.Many2One('ir.sequence', "Run Sequence",
        required=True,
        domain=[
            ('company', 'in', [Eval('context', {}).get('company', -1), None]),
            ('sequence_type', '=', Id('ev_payout', 'sequence_type_run')),
            ])
    signoff_hours = fields.Integer("Sign-off Window (Hours)", required=True,
        domain=[('signoff_hours', '>', 0)],
        help="How long the team has to confirm or dispute the lines of a "
        "run sent to it; silence confirms them.")
    expense_account = fields.Many2One('account.account',
        "Field Work Expense Account",
        domain=[
            ('type.expense', '=', True),
            ('closed', '!=', True),
            ('company', '=', Eval('context', {}).get('company', -1)),
            ],
        help="Debited with the labour, visits and adjustments paid to teams.")
    hold_account = fields.Many2One('account.account', "Part Hold Account",
        domain=[
            ['OR', ('type.expense', '=', True), ('type.debt', '=', True)],
            ('closed', '!=', True),
            ('company', '=', Eval('context', {}).get('company', -1)),
            ],
        help="Credited with the cost of the parts held back from a payout "
        "(an expense recovered, or a debt of the contractor), debited when "
        "a released hold is paid back.")
    payment_journal = fields.Many2One('account.payment.journal',
        "Payment Journal",
        domain=[('company', '=', Eval('context', {}).get('company', -1))],
        help="The journal of the payments to the teams.")
    dispute_owner = fields.Many2One('res.user', "Dispute Owner",
        help="Who resolves the disputes of payout lines (the team's "
        "manager when empty).")

    @classmethod
    def default_run_sequence(cls):
        return _xml_id('ev_payout', 'sequence_run')

    @classmethod
    def default_signoff_hours(cls):
        return 72
