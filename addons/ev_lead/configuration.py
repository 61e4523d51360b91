# This file is part of the EV operations suite.
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.modules.ev_station.notification import group_users


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
        help="Notified of leads that need a follow-up and of field "
        "emergencies; empty: the EV Central Ops group.")
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

    def get_central_ops_users(self):
        "The one way every module finds the Central Ops users to notify"
        return group_users(
            self.central_ops_group or 'ev_lead.group_central_ops')
