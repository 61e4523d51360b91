# This file is part of the EV operations suite.
import datetime
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval, If
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .exceptions import LeadError

LEAD_STAGES = [
    ('new', "New"),
    ('contacted', "Contacted"),
    ('documents_complete', "Documents Complete"),
    ('ready_for_survey', "Ready for Survey"),
    ('handed_over', "Handed to Field Operations"),
    ('on_hold', "On Hold"),
    ('cancelled', "Cancelled"),
    ('lost', "Lost"),
    ]
OPEN_STAGES = ['new', 'contacted', 'documents_complete', 'ready_for_survey']
CLOSED_STAGES = ['handed_over', 'cancelled', 'lost']
LEAD_TRANSITIONS = {
    ('new', 'contacted'),
    ('contacted', 'documents_complete'),
    ('documents_complete', 'ready_for_survey'),
    ('ready_for_survey', 'handed_over'),
    } | {(s, 'on_hold') for s in OPEN_STAGES} \
    | {(s, 'cancelled') for s in OPEN_STAGES + ['on_hold']} \
    | {(s, 'lost') for s in OPEN_STAGES + ['on_hold']} \
    | {('on_hold', s) for s in OPEN_STAGES}

SOURCES = [
    ('oem', "OEM"),
    ('portal', "Customer portal"),
    ('phone', "Phone"),
    ('walk_in', "Walk-in"),
    ('other', "Other"),
    ]

_CLOSED = {'readonly': Eval('ev_stage').in_(CLOSED_STAGES)}


class SaleOpportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    ev_stage = fields.Selection(
        LEAD_STAGES, "Lead Stage", readonly=True, required=True, sort=False)
    stage_before_hold = fields.Selection(
        [(None, "")] + LEAD_STAGES, "Stage Before Hold", readonly=True)
    lead_source = fields.Selection(
        SOURCES, "Source", required=True, states=_CLOSED)
    oem = fields.Many2One(
        'party.party', "OEM", ondelete='RESTRICT',
        domain=[('ev_is_oem', '=', True)],
        context={'company': Eval('company', -1)}, depends={'company'},
        states={
            'required': Eval('lead_source') == 'oem',
            'readonly': _CLOSED['readonly'],
            })
    oem_reference = fields.Char(
        "OEM Reference",
        states={
            'required': Bool(Eval('oem')),
            'readonly': _CLOSED['readonly'],
            },
        help="The OEM's own reference of the lead, unique per OEM.")
    vehicle_model = fields.Char("Vehicle Model", states=_CLOSED)
    vehicle_vin = fields.Char("VIN", states=_CLOSED)
    site_type = fields.Selection([
            (None, ""),
            ('home', "Home"),
            ('business', "Business"),
            ], "Site Type", states=_CLOSED)
    charger_model = fields.Char("Charger Model", states=_CLOSED)
    charger_quantity = fields.Integer(
        "Chargers", required=True, states=_CLOSED,
        domain=[('charger_quantity', '>=', 1)],
        help="One Station Record is created per charger.")
    survey_slots = fields.One2Many(
        'ev.lead.survey_slot', 'lead', "Survey Slot Preferences",
        states=_CLOSED)

    # Customer documents
    electricity_bill = fields.Binary(
        "Electricity Bill", filename='electricity_bill_name',
        file_id='electricity_bill_id', states=_CLOSED)
    electricity_bill_name = fields.Char("Electricity Bill Name")
    electricity_bill_id = fields.Char("Electricity Bill ID", readonly=True)
    latitude = fields.Numeric(
        "Latitude", digits=(9, 6), states=_CLOSED,
        domain=[If(Bool(Eval('latitude')),
                [('latitude', '>=', -90), ('latitude', '<=', 90)], [])])
    longitude = fields.Numeric(
        "Longitude", digits=(9, 6), states=_CLOSED,
        domain=[If(Bool(Eval('longitude')),
                [('longitude', '>=', -180), ('longitude', '<=', 180)], [])])
    site_photos = fields.One2Many(
        'ev.lead.site_photo', 'lead', "Site Photos", states=_CLOSED)
    electrician_name = fields.Char("Local Electrician", states=_CLOSED)
    electrician_phone = fields.Char("Electrician Phone", states=_CLOSED)
    missing_documents = fields.Function(
        fields.Text("Missing Documents"), 'get_missing_documents')
    documents_complete = fields.Function(
        fields.Boolean("Documents Complete"), 'get_documents_complete')

    calls = fields.One2Many('ev.lead.call', 'lead', "Calls")
    needs_follow_up = fields.Boolean(
        "Needs Follow-up", readonly=True,
        help="The customer could not be reached: Central Ops follows up.")

    site_work_required = fields.Text(
        "Site Work Required", states=_CLOSED,
        help="Electrical or civil work the customer must do first.")
    readiness_wait_since = fields.Date(
        "Waiting for Site Since", readonly=True)

    cancellation_reason = fields.Text("Cancellation Reason", readonly=True)
    cancellation_fee = fields.Numeric(
        "Cancellation Fee", digits=(16, 2), readonly=True)
    materials_absorbed_by = fields.Selection([
            (None, ""),
            ('company', "Company"),
            ('customer', "Customer"),
            ('oem', "OEM"),
            ], "Materials Absorbed By", readonly=True)

    stations = fields.One2Many('ev.station', 'lead', "Stations", readonly=True)
    contacted_at = fields.Timestamp("Contacted At", readonly=True)
    closed_at = fields.Timestamp("Closed At", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('oem_reference_unique', Unique(t, t.oem, t.oem_reference),
                'ev_lead.msg_oem_reference_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.ev_stage, Index.Equality(cardinality='low'))),
                Index(t, (t.readiness_wait_since, Index.Range()),
                    where=t.readiness_wait_since != None),  # noqa: E711
                })
        cls.__rpc__.update({
                'ev_oem_status': RPC(instantiate=0),
                })
        open_ = Eval('ev_stage').in_(OPEN_STAGES)
        cls._buttons.update({
                'mark_contacted': {
                    'invisible': Eval('ev_stage') != 'new',
                    'depends': ['ev_stage'],
                    },
                'confirm_documents': {
                    'invisible': Eval('ev_stage') != 'contacted',
                    'depends': ['ev_stage'],
                    },
                'ready_for_survey': {
                    'invisible': Eval('ev_stage') != 'documents_complete',
                    'depends': ['ev_stage'],
                    },
                'hand_over': {
                    'invisible': Eval('ev_stage') != 'ready_for_survey',
                    'depends': ['ev_stage'],
                    },
                'hold': {
                    'invisible': ~open_,
                    'depends': ['ev_stage'],
                    },
                'resume': {
                    'invisible': Eval('ev_stage') != 'on_hold',
                    'depends': ['ev_stage'],
                    },
                'wait_for_site': {
                    'invisible': ~open_ | Bool(Eval('readiness_wait_since')),
                    'depends': ['ev_stage', 'readiness_wait_since'],
                    },
                'site_ready': {
                    'invisible': ~Bool(Eval('readiness_wait_since')),
                    'depends': ['readiness_wait_since'],
                    },
                'ev_cancel': {
                    'invisible': ~(open_ | (Eval('ev_stage') == 'on_hold')),
                    'depends': ['ev_stage'],
                    },
                })

    @classmethod
    def default_ev_stage(cls):
        return 'new'

    @classmethod
    def default_lead_source(cls):
        return 'phone'

    @classmethod
    def default_charger_quantity(cls):
        return 1

    @fields.depends('lead_source', 'oem')
    def on_change_lead_source(self):
        if self.lead_source != 'oem':
            self.oem = None

    # Documents

    def get_missing_documents(self, name):
        missing = []
        if not self.electricity_bill_id and not self.electricity_bill:
            missing.append(gettext('ev_lead.msg_missing_electricity_bill'))
        if not self.address:
            missing.append(gettext('ev_lead.msg_missing_address'))
        if self.latitude is None or self.longitude is None:
            missing.append(gettext('ev_lead.msg_missing_gps'))
        if not self.site_photos:
            missing.append(gettext('ev_lead.msg_missing_site_photos'))
        if not (self.electrician_name and self.electrician_phone):
            missing.append(gettext('ev_lead.msg_missing_electrician'))
        return '\n'.join(missing)

    def get_documents_complete(self, name):
        return not self.get_missing_documents(name)

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Party = pool.get('party.party')
        values = super().preprocess_values(mode, values)
        if values.get('electrician_phone'):
            phone = Party.normalize_phone(values['electrician_phone'])
            if phone:
                values['electrician_phone'] = phone
        return values

    @classmethod
    def validate_fields(cls, leads, field_names):
        pool = Pool()
        Party = pool.get('party.party')
        super().validate_fields(leads, field_names)
        for lead in leads:
            if (lead.electrician_phone
                    and not Party.normalize_phone(lead.electrician_phone)):
                raise LeadError(gettext(
                        'ev_lead.msg_invalid_phone',
                        phone=lead.electrician_phone))

    @classmethod
    def copy(cls, leads, default=None):
        default = default.copy() if default is not None else {}
        for name in ['oem_reference', 'calls', 'stations',
                'readiness_wait_since', 'cancellation_reason',
                'cancellation_fee', 'materials_absorbed_by',
                'needs_follow_up', 'stage_before_hold', 'contacted_at',
                'closed_at']:
            default.setdefault(name)
        default.setdefault('ev_stage', 'new')
        return super().copy(leads, default=default)

    # Stages

    @classmethod
    def _move(cls, leads, stage, text=None):
        "Move leads along the pipeline, refusing what the rules forbid"
        moved = []
        for lead in leads:
            if lead.ev_stage == stage:
                continue
            if (lead.ev_stage, stage) not in LEAD_TRANSITIONS:
                raise LeadError(gettext(
                        'ev_lead.msg_stage_transition',
                        lead=lead.rec_name,
                        from_=lead.ev_stage_string,
                        to=dict(LEAD_STAGES)[stage]))
            moved.append(lead)
        if not moved:
            return []
        previous = {l.id: l.ev_stage_string for l in moved}
        values = {'ev_stage': stage}
        now = datetime.datetime.now()
        if stage == 'contacted':
            cls.write([l for l in moved if not l.contacted_at],
                {'contacted_at': now})
        if stage in {'cancelled', 'lost'}:
            values['closed_at'] = now
        cls.write(moved, values)
        for lead in moved:
            lead.log_stage_change(previous[lead.id], text)
        cls._stage_changed(moved)
        return moved

    ev_stage_string = ev_stage.translated('ev_stage')

    def log_stage_change(self, previous, text=None):
        """Record the stage change where people look: the Station Records'
        logs once they exist, the lead's chat before"""
        pool = Pool()
        Channel = pool.get('ir.chat.channel')
        message = gettext('ev_lead.msg_stage_changed',
            lead=self.rec_name, from_=previous, to=self.ev_stage_string)
        if text:
            message += '\n' + text
        with without_check_access():
            if self.stations:
                for station in self.stations:
                    station.record_event('note', message)
            else:
                Channel.post(self, message)

    @classmethod
    def _stage_changed(cls, leads):
        "What follows a stage change: the OEM's users and webhook hear"
        Webhook = Pool().get('ev.lead.webhook')
        cls.notify_oem(leads)
        with without_check_access():
            Webhook.enqueue_for(leads)

    @classmethod
    def notify_oem(cls, leads):
        "Tell the OEM's users about their leads' new stage"
        pool = Pool()
        User = pool.get('res.user')
        Notification = pool.get('res.notification')
        oem_leads = [l for l in leads if l.oem]
        if not oem_leads:
            return
        notifications = []
        with without_check_access():
            users = User.search(
                [('ev_oem', 'in', list({l.oem.id for l in oem_leads}))])
            for lead in oem_leads:
                for user in users:
                    if user.ev_oem != lead.oem:
                        continue
                    notifications.append(Notification(
                            user=user,
                            label=gettext('ev_lead.msg_oem_notification',
                                reference=lead.oem_reference or lead.number,
                                stage=lead.ev_stage_string),
                            model=cls.__name__,
                            records=f'[{lead.id}]'))
            Notification.save(notifications)

    @classmethod
    @ModelView.button
    def mark_contacted(cls, leads):
        cls._move(leads, 'contacted')

    @classmethod
    @ModelView.button
    def confirm_documents(cls, leads):
        for lead in leads:
            missing = lead.get_missing_documents(None)
            if missing:
                raise LeadError(gettext(
                        'ev_lead.msg_documents_missing',
                        lead=lead.rec_name, missing=missing))
        cls._move(leads, 'documents_complete')

    @classmethod
    @ModelView.button
    def ready_for_survey(cls, leads):
        for lead in leads:
            if lead.readiness_wait_since:
                raise LeadError(gettext(
                        'ev_lead.msg_site_not_ready', lead=lead.rec_name))
        cls._move(leads, 'ready_for_survey')

    @classmethod
    @ModelView.button
    def hand_over(cls, leads):
        "Won: one Station Record per charger, then field operations"
        for lead in leads:
            if not lead.party:
                raise LeadError(gettext(
                        'ev_lead.msg_hand_over_party', lead=lead.rec_name))
        cls.create_stations(leads)
        cls._move(leads, 'handed_over')

    @classmethod
    def create_stations(cls, leads):
        pool = Pool()
        Station = pool.get('ev.station')
        created = []
        with without_check_access():
            for lead in leads:
                if lead.stations:
                    continue
                country = (lead.address.country
                    if lead.address and lead.address.country else None)
                stations = [Station(
                        customer=lead.party,
                        lead=lead,
                        country=country,
                        language=lead.party.lang,
                        contact=lead.party,
                        location_contact=lead.party,
                        ) for _ in range(lead.charger_quantity)]
                Station.save(stations)
                for i, station in enumerate(stations, 1):
                    station.record_event('note', gettext(
                            'ev_lead.msg_station_from_lead',
                            lead=lead.rec_name, index=i,
                            count=len(stations),
                            charger=lead.charger_model or '-',
                            oem=lead.oem.rec_name if lead.oem else '-',
                            reference=lead.oem_reference or '-'))
                created.extend(stations)
        return created

    @classmethod
    @ModelView.button
    def hold(cls, leads):
        for lead in leads:
            if lead.ev_stage in OPEN_STAGES:
                lead.stage_before_hold = lead.ev_stage
        cls.save(leads)
        cls._move(leads, 'on_hold')

    @classmethod
    @ModelView.button
    def resume(cls, leads):
        for lead in leads:
            cls._move([lead], lead.stage_before_hold or 'new')
        cls.write(list(leads), {'stage_before_hold': None})

    @classmethod
    @ModelView.button
    def wait_for_site(cls, leads):
        "The customer must do electrical or civil work first"
        today = Pool().get('ir.date').today()
        for lead in leads:
            if not lead.site_work_required:
                raise LeadError(gettext(
                        'ev_lead.msg_site_work_required',
                        lead=lead.rec_name))
        cls.write(list(leads), {'readiness_wait_since': today})
        for lead in leads:
            lead.log_stage_change(lead.ev_stage_string, gettext(
                    'ev_lead.msg_waiting_for_site',
                    work=lead.site_work_required))

    @classmethod
    @ModelView.button
    def site_ready(cls, leads):
        cls.write(list(leads), {'readiness_wait_since': None})
        for lead in leads:
            if lead.ev_stage == 'on_hold':
                cls.resume([lead])

    @classmethod
    def hold_unready_sites(cls):
        "Cron: leads waiting past the readiness timeout go on hold"
        pool = Pool()
        Configuration = pool.get('ev.lead.configuration')
        Date = pool.get('ir.date')
        configuration = Configuration(1)
        limit = Date.today() - datetime.timedelta(
            days=configuration.readiness_timeout)
        leads = cls.search([
                ('readiness_wait_since', '<', limit),
                ('ev_stage', 'in', OPEN_STAGES),
                ])
        if leads:
            cls.hold(leads)
            cls.notify_central_ops(leads, 'ev_lead.msg_readiness_timeout')
        return leads

    @classmethod
    def notify_central_ops(cls, leads, message):
        pool = Pool()
        Configuration = pool.get('ev.lead.configuration')
        Notification = pool.get('res.notification')
        group = Configuration(1).central_ops_group
        if not group:
            return []
        notifications = [Notification(
                user=user,
                label=gettext(message, lead=lead.rec_name),
                model=cls.__name__,
                records=f'[{lead.id}]')
            for lead in leads for user in group.users]
        with without_check_access():
            Notification.save(notifications)
        return notifications

    @classmethod
    def calls_logged(cls, leads):
        "A reached customer is contacted; repeated failures need follow-up"
        pool = Pool()
        Configuration = pool.get('ev.lead.configuration')
        limit = Configuration(1).failed_call_limit
        to_contact, to_follow = [], []
        for lead in leads:
            calls = sorted(lead.calls, key=lambda c: (c.date, c.id))
            if calls and calls[-1].outcome == 'reached':
                if lead.ev_stage == 'new':
                    to_contact.append(lead)
                continue
            failed = 0
            for call in reversed(calls):
                if call.outcome == 'reached':
                    break
                if call.failed:
                    failed += 1
            if failed >= limit and not lead.needs_follow_up:
                to_follow.append(lead)
        with without_check_access():
            if to_contact:
                cls._move(to_contact, 'contacted')
            if to_follow:
                cls.write(to_follow, {'needs_follow_up': True})
                cls.notify_central_ops(
                    to_follow, 'ev_lead.msg_failed_calls')

    @classmethod
    @ModelView.button_action('ev_lead.wizard_cancel')
    def ev_cancel(cls, leads):
        pass

    @classmethod
    def cancel_leads(cls, leads, reason):
        "Cancel with the stage's policy: fee and who absorbs materials"
        pool = Pool()
        Policy = pool.get('ev.lead.cancellation.policy')
        if not (reason or '').strip():
            raise LeadError(gettext('ev_lead.msg_cancel_reason'))
        for lead in leads:
            stage = (lead.stage_before_hold if lead.ev_stage == 'on_hold'
                else lead.ev_stage)
            policy = Policy.for_stage(stage)
            lead.cancellation_reason = reason
            lead.cancellation_fee = policy.fee if policy else Decimal(0)
            lead.materials_absorbed_by = (
                policy.materials_absorbed_by if policy else 'company')
        cls.save(leads)
        cls._move(leads, 'cancelled', reason)
        tryton_open = [l for l in leads if l.state in {'lead', 'opportunity'}]
        if tryton_open:
            with Transaction().set_context(_check_access=False):
                cls.cancel(tryton_open)


    # The OEM API

    @classmethod
    def create_from_api(cls, oem, values):
        """A lead from the OEM's intake, linked to the existing customer when
        the phone or email is known"""
        pool = Pool()
        Party = pool.get('party.party')
        Address = pool.get('party.address')
        ContactMechanism = pool.get('party.contact_mechanism')
        Company = pool.get('company.company')
        User = pool.get('res.user')
        user = User(Transaction().user)
        company = user.company or (Company.search([], limit=1) or [None])[0]
        customer_values = values['customer']
        with without_check_access(), \
                Transaction().set_context(
                    company=company.id if company else None):
            customer = Party.find_customer(
                phone=customer_values['phone'],
                email=customer_values['email'])
            if not customer:
                customer = Party(name=customer_values['name'])
                customer.save()
            mechanisms = []
            known = {(m.type, m.value_compact or m.value)
                for m in customer.contact_mechanisms}
            if ('mobile', customer_values['phone']) not in known \
                    and ('phone', customer_values['phone']) not in known:
                mechanisms.append(ContactMechanism(
                        party=customer, type='mobile',
                        value=customer_values['phone']))
            if customer_values['email'] and (
                    'email', customer_values['email']) not in known:
                mechanisms.append(ContactMechanism(
                        party=customer, type='email',
                        value=customer_values['email']))
            ContactMechanism.save(mechanisms)
            address = Address(
                party=customer,
                street=customer_values['street'],
                city=customer_values['city'],
                postal_code=customer_values['postal_code'],
                country=customer_values['country'])
            if customer_values['state'] and customer_values['country']:
                subdivisions = customer_values['country'].subdivisions
                matches = [s for s in subdivisions
                    if s.name.lower() == customer_values['state'].lower()
                    or (s.code or '').lower()
                    == customer_values['state'].lower()]
                if matches:
                    address.subdivision = matches[0]
            address.save()
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
        return lead

    def api_summary(self):
        return {
            'id': self.id,
            'reference': self.number,
            'oem_reference': self.oem_reference,
            'status': self.ev_stage,
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
            'status': self.ev_stage,
            'milestones': self.api_milestones(),
            }


class SurveySlot(ModelSQL, ModelView):
    "When the customer prefers the survey"
    __name__ = 'ev.lead.survey_slot'
    __string__ = "Survey Slot Preference"

    lead = fields.Many2One(
        'sale.opportunity', "Lead", required=True, ondelete='CASCADE')
    start = fields.DateTime("Start", required=True)
    end = fields.DateTime(
        "End", required=True,
        domain=[If(Bool(Eval('start')), ('end', '>', Eval('start')), ())])
    note = fields.Char("Note")


class SitePhoto(ModelSQL, ModelView):
    "A photo of the site, shared by the customer"
    __name__ = 'ev.lead.site_photo'
    __string__ = "Site Photo"

    lead = fields.Many2One(
        'sale.opportunity', "Lead", required=True, ondelete='CASCADE')
    name = fields.Char("Name", required=True)
    image = fields.Binary(
        "Image", required=True, filename='name', file_id='image_id')
    image_id = fields.Char("Image ID", readonly=True)


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
        pool = Pool()
        Policy = pool.get('ev.lead.cancellation.policy')
        values = {}
        if len(self.records) == 1:
            lead, = self.records
            stage = (lead.stage_before_hold if lead.ev_stage == 'on_hold'
                else lead.ev_stage)
            policy = Policy.for_stage(stage)
            if policy:
                values['fee'] = policy.fee
                values['materials_absorbed_by'] = (
                    policy.materials_absorbed_by_string)
        return values

    def transition_cancel(self):
        self.model.cancel_leads(self.records, self.start.reason)
        return 'end'
