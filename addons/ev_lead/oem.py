# This file is part of the EV operations suite.
"""The lead as its OEM sees it: the intake, the status under the names the
API publishes and the milestones"""
from trytond.i18n import gettext
from trytond.modules.ev_station.notification import notify_summary
from trytond.pool import Pool, PoolMeta
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access

# The status names of the OEM API and webhooks, a published contract that
# predates the workflow's move onto Tryton's state
OEM_STATUS = {'lead': 'new', 'won': 'handed_over'}


class SaleOpportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__.update({
                'ev_oem_status': RPC(instantiate=0),
                })

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
