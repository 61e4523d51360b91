# This file is part of the EV operations suite.
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Id


class Configuration(ModelSingleton, ModelSQL, ModelView):
    __name__ = 'ev.station.configuration'
    __string__ = "EV Station Configuration"

    station_sequence = fields.Many2One(
        'ir.sequence', "Station Sequence", required=True,
        domain=[
            ('sequence_type', '=', Id('ev_station', 'sequence_type_station')),
            ])
    dispute_sequence = fields.Many2One(
        'ir.sequence', "Dispute Sequence", required=True,
        domain=[
            ('sequence_type', '=', Id('ev_station', 'sequence_type_dispute')),
            ])
    escalation_user = fields.Many2One(
        'res.user', "Escalation User",
        help="The single point of access: notified of overdue handovers.")
    escalation_group = fields.Many2One(
        'res.group', "Escalation Group",
        help="Every member is notified of overdue handovers.")
    default_country = fields.Many2One('country.country', "Default Country")
    override_group = fields.Many2One(
        'res.group', "Stage Override Group",
        help="Only its members may record an event that skips stages, "
        "as the one who authorises it (empty: EV Stage Override).")

    @classmethod
    def default_station_sequence(cls):
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        try:
            return ModelData.get_id('ev_station', 'sequence_station')
        except KeyError:
            return None

    @classmethod
    def default_dispute_sequence(cls):
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        try:
            return ModelData.get_id('ev_station', 'sequence_dispute')
        except KeyError:
            return None

    @classmethod
    def default_override_group(cls):
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        try:
            return ModelData.get_id('ev_station', 'group_stage_override')
        except KeyError:
            return None

    def get_station_sequence(self):
        return self.station_sequence

    def get_dispute_sequence(self):
        return self.dispute_sequence

    def get_default_country(self):
        return self.default_country.id if self.default_country else None

    def get_escalation_users(self):
        "The users of the single point of access"
        users = set()
        if self.escalation_user:
            users.add(self.escalation_user)
        if self.escalation_group:
            users.update(self.escalation_group.users)
        return users
