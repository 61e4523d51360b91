# This file is part of the EV operations suite.
"""The lead as its OEM sees it: the intake, the status under the names the
API publishes and the milestones"""
import datetime

from trytond.i18n import gettext
from trytond.model import fields
from trytond.modules.ev_station.notification import notify_summary
from trytond.modules.ev_station.timestamp import Timestamp
from trytond.pool import Pool, PoolMeta
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access

# The status names of the OEM API and webhooks, a published contract that
# predates the workflow's move onto Tryton's state
OEM_STATUS = {'lead': 'new', 'won': 'handed_over'}
# The milestones of the API (api_milestones), as fields milestone_<key>
MILESTONES = ['received', 'contacted', 'survey_scheduled', 'survey_done',
    'installation_scheduled', 'installed', 'closed']
# The views an OEM's user gets for leads, whichever it asks for: they show
# no field of another model closed to it (party, address, contact...)
OEM_VIEWS = {'tree': 'lead_view_list_oem', 'form': 'lead_view_form_oem'}


class SaleOpportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    oem_customer = fields.Function(fields.Char("Customer"),
        'get_oem_view_fields')
    milestone_received = fields.Function(
        Timestamp("Received"), 'get_oem_view_fields')
    milestone_contacted = fields.Function(
        Timestamp("Contacted"), 'get_oem_view_fields')
    milestone_survey_scheduled = fields.Function(
        Timestamp("Survey Scheduled"), 'get_oem_view_fields')
    milestone_survey_done = fields.Function(
        Timestamp("Survey Done"), 'get_oem_view_fields')
    milestone_installation_scheduled = fields.Function(
        Timestamp("Installation Scheduled"), 'get_oem_view_fields')
    milestone_installed = fields.Function(
        Timestamp("Installed"), 'get_oem_view_fields')
    milestone_closed = fields.Function(
        Timestamp("Closed"), 'get_oem_view_fields')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__.update({
                'ev_oem_status': RPC(instantiate=0),
                })

    @classmethod
    def fields_view_get(cls, view_id=None, view_type='form', level=None):
        ModelData = Pool().get('ir.model.data')
        User = Pool().get('res.user')
        if view_type in OEM_VIEWS and User.get_ev_oem() is not None:
            view_id = ModelData.get_id('ev_lead', OEM_VIEWS[view_type])
        return super().fields_view_get(
            view_id=view_id, view_type=view_type, level=level)

    @classmethod
    def get_oem_view_fields(cls, leads, names):
        """The customer's name and the milestones: what an OEM's user reads
        of its leads (the leads' record rules have applied; the customer
        and the jobs behind are closed to it)"""
        result = {name: {} for name in names}
        with without_check_access():
            for lead in cls.browse(leads):
                if 'oem_customer' in names:
                    result['oem_customer'][lead.id] = (
                        lead.party.rec_name if lead.party else None)
                milestones = lead.api_milestones()
                for key in MILESTONES:
                    name = f'milestone_{key}'
                    if name in names:
                        value = milestones.get(key)
                        # to the second, as the API gives them
                        result[name][lead.id] = (
                            datetime.datetime.fromisoformat(value).replace(
                                microsecond=0) if value else None)
        return result

    @classmethod
    def create_from_api(cls, oem, values):
        """A lead from the OEM's intake, linked to the existing customer when
        the phone or email is known"""
        pool = Pool()
        Party = pool.get('party.party')
        Company = pool.get('company.company')
        User = pool.get('res.user')
        user = User(Transaction().user)
        company = user.company or (Company.search([], limit=1) or [None])[0]
        with without_check_access(), \
                Transaction().set_context(
                    company=company.id if company else None):
            customer, address, duplicates = Party.customer_from_intake(
                values['customer'], oem)
            lead = cls(
                company=company,
                party=customer,
                address=address,
                lead_source='oem',
                oem=oem,
                oem_reference=values['oem_reference'],
                vehicle_model=values['vehicle_model'],
                vehicle_vin=values['vehicle_vin'],
                charger_model=values['charger_model'],
                charger_quantity=values['charger_quantity'],
                site_type=values['site_type'],
                comment=values['notes'],
                description=values['vehicle_model'])
            lead.save()
            lead.log_stage_change('-', gettext(
                    'ev_lead.msg_received_from_oem', oem=oem.rec_name,
                    reference=values['oem_reference']))
            if duplicates:
                cls.notify_possible_duplicate(lead, duplicates)
        return lead

    @classmethod
    def notify_possible_duplicate(cls, lead, parties):
        """Tell Central Ops that the new customer of an OEM's lead has the
        phone or email of other parties (merged by hand with Party ›
        Replace when they are the same person)"""
        Configuration = Pool().get('ev.lead.configuration')
        # It opens the parties, where Party › Replace merges them
        return notify_summary(Configuration(1).get_central_ops_users(),
            [lead.party] + list(parties),
            gettext('ev_lead.msg_possible_duplicate', lead=lead.rec_name),
            gettext('ev_lead.msg_possible_duplicate_description',
                customer=lead.party.rec_name, oem=lead.oem.rec_name,
                parties=', '.join(p.rec_name for p in parties)))

    @property
    def oem_status(self):
        "The lead's stage under the name the OEM API publishes"
        return OEM_STATUS.get(self.state, self.state)

    def api_summary(self):
        return {
            'id': self.id,
            'reference': self.number,
            'oem_reference': self.oem_reference,
            'status': self.oem_status,
            }

    def api_milestones(self):
        "Dates of the lead's milestones; the field modules fill the rest"
        def iso(value):
            return value.isoformat() if value else None
        return {
            'received': iso(self.create_date),
            'contacted': iso(self.contacted_at),
            'survey_scheduled': None,
            'survey_done': None,
            'installation_scheduled': None,
            'installed': None,
            'closed': iso(self.closed_at),
            }

    @classmethod
    def ev_oem_status(cls, leads):
        """Status and milestones of leads, for the OEM's integration over
        XML-RPC: `model.sale.opportunity.ev_oem_status(ids, {})`"""
        # The caller's record rules decide which leads it may see
        cls.read([l.id for l in leads], ['id'])
        with without_check_access():
            return [cls(l.id).api_status() for l in leads]

    def api_status(self):
        return {
            'reference': self.number,
            'oem_reference': self.oem_reference,
            'status': self.oem_status,
            'milestones': self.api_milestones(),
            }
