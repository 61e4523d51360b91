# This file is part of the EV operations suite.
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.modules.ev_station.notification import user_in_group
from trytond.pool import Pool
from trytond.pyson import Eval, Id, If
from trytond.transaction import Transaction


def _xml_id(module, xml_id):
    try:
        return Pool().get('ir.model.data').get_id(module, xml_id)
    except KeyError:
        return None


class Configuration(ModelSingleton, ModelSQL, ModelView):
    __name__ = 'ev.service.configuration'
    __string__ = "Service Configuration"

    case_sequence = fields.Many2One('ir.sequence', "Case Sequence",
        required=True,
        domain=[
            ('company', 'in', [Eval('context', {}).get('company', -1), None]),
            ('sequence_type', '=', Id('ev_service', 'sequence_type_case')),
            ])
    return_days = fields.Integer("Return Within (Days)", required=True,
        domain=[('return_days', '>', 0)],
        help="Days after shipment within which the old part must be back; "
        "later it is overdue and a hold is placed.")
    spare_approver = fields.Many2One('res.user', "Spare Approver",
        help="The person who may approve that a part is retained as a "
        "spare.")
    spare_approver_group = fields.Many2One('res.group',
        "Spare Approver Group",
        help="The members of this group may approve that a part is "
        "retained as a spare.")
    claim_alert_spots = fields.Integer("Claim Alert Spots", required=True,
        domain=[('claim_alert_spots', '>', 0)],
        help="Warranty claims of one error type on this many charging spots "
        "within the window raise an alert.")
    claim_alert_hours = fields.Integer("Claim Alert Window (Hours)",
        required=True, domain=[('claim_alert_hours', '>', 0)])
    claim_meter_tolerance = fields.Float("Claim Meter Tolerance (%)",
        required=True, domain=[('claim_meter_tolerance', '>=', 0)],
        help="A claimed energy further than this from our meter values "
        "contradicts the meter.")
    claim_sla_hours = fields.Integer("Claim SLA (Hours)", required=True,
        domain=[('claim_sla_hours', '>', 0)],
        help="A warranty claim should be approved or rejected within this "
        "many hours of its submission (the claim KPIs count the share "
        "decided in time).")
    returns_location = fields.Many2One('stock.location', "Returns Location",
        required=True, domain=[('type', '=', 'storage')],
        help="Where the warehouse receives the old parts and inspects "
        "them: kept apart from the storage the parts are shipped from.")
    visit_job_sequence = fields.Many2One('ir.sequence', "Visit Job Sequence",
        required=True,
        domain=[
            ('company', 'in', [Eval('context', {}).get('company', -1), None]),
            ('sequence_type', '=', Id('ev_field', 'sequence_type_job')),
            ],
        help="The numbering of the field jobs of kind service.")
    alert_fault_opens_case = fields.Boolean("Connector Fault Opens a Case",
        help="A connector fault alert opens a service case (one per "
        "episode).")
    alert_offline_minutes = fields.Integer("Offline Opens a Case After",
        domain=[If(Eval('alert_offline_minutes', None) != None,  # noqa: E711
                ('alert_offline_minutes', '>=', 0), ())],
        help="In minutes since the last heartbeat: an offline episode "
        "that lasts longer opens a service case (one per episode). "
        "Empty: offline alerts open none.")

    @classmethod
    def default_case_sequence(cls):
        return _xml_id('ev_service', 'sequence_case')

    @classmethod
    def default_visit_job_sequence(cls):
        return _xml_id('ev_service', 'sequence_visit_job')

    @classmethod
    def default_return_days(cls):
        return 14

    @classmethod
    def default_returns_location(cls):
        return _xml_id('ev_service', 'location_returns')

    @classmethod
    def default_spare_approver_group(cls):
        return _xml_id('ev_service', 'group_service_manager')

    def may_approve_spare(self):
        "The user is the configured approver or a member of its group"
        user_id = Transaction().user
        if self.spare_approver and self.spare_approver.id == user_id:
            return True
        return bool(self.spare_approver_group
            and user_in_group(self.spare_approver_group))

    @classmethod
    def default_claim_alert_spots(cls):
        return 3

    @classmethod
    def default_claim_alert_hours(cls):
        return 24

    @classmethod
    def default_claim_meter_tolerance(cls):
        return 5.0

    @classmethod
    def default_claim_sla_hours(cls):
        return 72
