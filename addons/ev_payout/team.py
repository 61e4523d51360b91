# This file is part of the EV operations suite.
"The team as a payee: its schedule and where its money goes"
import datetime as dt
import re

from trytond.i18n import gettext
from trytond.model import fields
from trytond.modules.ev_field.upi import valid_vpa
from trytond.pool import Pool, PoolMeta

from .exceptions import PayoutError, PayoutValidationError
from .period import FREQUENCIES, period_from

# Indian Financial System Code: 4 letters of the bank, 0, 6 of the branch
IFSC = re.compile(r'^[A-Z]{4}0[A-Z0-9]{6}$')
BANK_ACCOUNT = re.compile(r'^[0-9]{9,18}$')


class Team(metaclass=PoolMeta):
    __name__ = 'ev.field.team'

    payout_schedules = fields.One2Many('ev.payout.schedule', 'team',
        "Payment Schedules", readonly=True,
        help="Every schedule the team had, the latest first.")
    payout_frequency = fields.Function(fields.Selection(
            [(None, "")] + FREQUENCIES, "Paid"),
        'get_payout_frequency')
    payout_vpa = fields.Char("UPI ID (VPA)",
        help="Where the team's payouts go by UPI.")
    payout_bank_account = fields.Char("Bank Account Number")
    payout_ifsc = fields.Char("IFSC",
        help="The bank branch code of the account (e.g. HDFC0001234).")
    payout_drafted_until = fields.Date("Payouts Drafted Until",
        readonly=True,
        help="The end of the last pay period the payout cycle drafted "
        "(with or without a run): schedules apply after it.")
    visit_rate = fields.Numeric("Pay per Service Visit", digits=(16, 2),
        domain=['OR', ('visit_rate', '=', None), ('visit_rate', '>=', 0)],
        help="What the team is paid per reported service visit.")

    def get_payout_frequency(self, name):
        Schedule = Pool().get('ev.payout.schedule')
        history = Schedule.history([self.id])[self.id]
        frequency, _ = period_from(history, dt.date.today())
        return frequency

    @classmethod
    def copy(cls, teams, default=None):
        default = default.copy() if default else {}
        default.setdefault('payout_drafted_until')
        return super().copy(teams, default=default)

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        for name in ['payout_vpa', 'payout_bank_account', 'payout_ifsc']:
            if values.get(name):
                values[name] = values[name].strip()
        if values.get('payout_ifsc'):
            values['payout_ifsc'] = values['payout_ifsc'].upper()
        return values

    @classmethod
    def validate_fields(cls, teams, field_names):
        super().validate_fields(teams, field_names)
        for team in teams:
            if team.payout_vpa and not valid_vpa(team.payout_vpa):
                raise PayoutValidationError(gettext(
                        'ev_payout.msg_team_vpa_invalid',
                        team=team.rec_name, value=team.payout_vpa))
            if (team.payout_bank_account
                    and not BANK_ACCOUNT.match(team.payout_bank_account)):
                raise PayoutValidationError(gettext(
                        'ev_payout.msg_team_bank_account_invalid',
                        team=team.rec_name, value=team.payout_bank_account))
            if team.payout_ifsc and not IFSC.match(team.payout_ifsc):
                raise PayoutValidationError(gettext(
                        'ev_payout.msg_team_ifsc_invalid',
                        team=team.rec_name, value=team.payout_ifsc))
            if bool(team.payout_bank_account) != bool(team.payout_ifsc):
                raise PayoutValidationError(gettext(
                        'ev_payout.msg_team_bank_incomplete',
                        team=team.rec_name))

    def check_payee(self):
        "The team can be paid: a contractor and a UPI ID or a bank account"
        if not self.contractor:
            raise PayoutError(gettext('ev_payout.msg_team_no_contractor',
                    team=self.rec_name))
        if not self.contractor.address_get(type='invoice'):
            raise PayoutError(gettext('ev_payout.msg_team_no_address',
                    team=self.rec_name, party=self.contractor.rec_name))
        if not (self.payout_vpa
                or (self.payout_bank_account and self.payout_ifsc)):
            raise PayoutError(gettext('ev_payout.msg_team_no_payment_details',
                    team=self.rec_name))

    def payee_text(self):
        if self.payout_vpa:
            return f'UPI {self.payout_vpa}'
        return f'A/c {self.payout_bank_account} IFSC {self.payout_ifsc}'
