# This file is part of the EV operations suite.
"""The lead: Tryton's sale.opportunity whose one workflow, its `state`, walks
the EV stages. The documents checklist, the calls, the site readiness and the
cancellation extend it from files of their own."""
import datetime
from functools import wraps

from sql.conditionals import Case

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, Workflow, fields
from trytond.model.fields.selection import TranslatedSelection
from trytond.modules.ev_station.notification import notify
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval, If
from trytond.transaction import Transaction, without_check_access
from trytond.modules.ev_station.timestamp import Timestamp

from .exceptions import LeadError

# Tryton's lead is the new lead and its won the lead handed to field
# operations; its opportunity and converted states are left out: a lead
# never becomes a sale order, field jobs follow it instead.
STATES = [
    ('lead', "New"),
    ('contacted', "Contacted"),
    ('documents_complete', "Documents Complete"),
    ('ready_for_survey', "Ready for Survey"),
    ('won', "Handed to Field Operations"),
    ('on_hold', "On Hold"),
    ('cancelled', "Cancelled"),
    ('lost', "Lost"),
    ]
OPEN_STATES = ['lead', 'contacted', 'documents_complete', 'ready_for_survey']
CLOSED_STATES = ['won', 'cancelled', 'lost']
TRANSITIONS = {
    ('lead', 'contacted'),
    ('contacted', 'documents_complete'),
    ('documents_complete', 'ready_for_survey'),
    ('ready_for_survey', 'won'),
    } | {(s, 'on_hold') for s in OPEN_STATES} \
    | {('on_hold', s) for s in OPEN_STATES} \
    | {(s, 'cancelled') for s in OPEN_STATES + ['on_hold']} \
    | {(s, 'lost') for s in OPEN_STATES + ['on_hold']}
# The stage column of before the move, for the migration
OLD_STAGES = {'new': 'lead', 'handed_over': 'won'}

SOURCES = [
    ('oem', "OEM"),
    ('portal', "Customer portal"),
    ('phone', "Phone"),
    ('walk_in', "Walk-in"),
    ('other', "Other"),
    ]

CLOSED = {'readonly': Eval('state').in_(CLOSED_STATES)}


def stage(state):
    """Workflow.transition to a stage of the lead. A move the workflow does
    not allow is refused with its reason (Tryton skips such a record
    silently); every lead moved is logged and announced."""
    def decorator(func):
        transition = Workflow.transition(state)(func)

        @wraps(func)
        def wrapper(cls, leads, *args, **kwargs):
            previous = {}
            for lead in leads:
                if lead.state == state:
                    continue
                if (lead.state, state) not in cls._transitions:
                    raise LeadError(gettext(
                            'ev_lead.msg_stage_transition',
                            lead=lead.rec_name, from_=lead.state_string,
                            to=dict(STATES)[state]))
                previous[lead.id] = lead.state_string
            result = transition(cls, leads, *args, **kwargs)
            if previous:
                cls.stage_changed(cls.browse(list(previous)), previous)
            return result
        wrapper.lead_stage = state
        return wrapper
    return decorator


def _back_to(state):
    "The return from hold to `state`"
    @stage(state)
    def back(cls, leads):
        cls.write(list(leads), {'stage_before_hold': None})
    return back


BACK_FROM_HOLD = {s: _back_to(s) for s in OPEN_STATES}


def renamed_stage(column):
    "The SQL value of a column of EV stages under the state's names"
    return Case(*((column == old, new) for old, new in OLD_STAGES.items()),
        else_=column)


class SaleOpportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    stage_before_hold = fields.Selection(
        [(None, "")] + [s for s in STATES if s[0] in OPEN_STATES],
        "Stage Before Hold", readonly=True)
    lead_source = fields.Selection(
        SOURCES, "Source", required=True, states=CLOSED)
    oem = fields.Many2One(
        'party.party', "OEM", ondelete='RESTRICT',
        domain=[('ev_is_oem', '=', True)],
        context={'company': Eval('company', -1)}, depends={'company'},
        states={
            'required': Eval('lead_source') == 'oem',
            'readonly': CLOSED['readonly'],
            })
    oem_reference = fields.Char(
        "OEM Reference",
        states={
            'required': Bool(Eval('oem')),
            'readonly': CLOSED['readonly'],
            },
        help="The OEM's own reference of the lead, unique per OEM.")
    city = fields.Function(fields.Char("City",
            help="The city of the site address, else of the customer."),
        'get_city', searcher='search_city')
    vehicle_model = fields.Char("Vehicle Model", states=CLOSED)
    vehicle_vin = fields.Char("VIN", states=CLOSED)
    site_type = fields.Selection([
            (None, ""),
            ('home', "Home"),
            ('business', "Business"),
            ], "Site Type", states=CLOSED)
    charger_model = fields.Char("Charger Model", states=CLOSED)
    charger_quantity = fields.Integer(
        "Chargers", required=True, states=CLOSED,
        domain=[('charger_quantity', '>=', 1)],
        help="One Station Record is created per charger.")
    survey_slots = fields.One2Many(
        'ev.lead.survey_slot', 'lead', "Survey Slot Preferences",
        states=CLOSED)
    stations = fields.One2Many('ev.station', 'lead', "Stations", readonly=True)
    contacted_at = Timestamp("Contacted At", readonly=True)
    closed_at = Timestamp("Closed At", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('oem_reference_unique', Unique(t, t.oem, t.oem_reference),
                'ev_lead.msg_oem_reference_unique'),
            ]
        cls._sql_indexes.add(
            Index(t, (t.state, Index.Equality(cardinality='low')),
                where=t.state.in_(OPEN_STATES + ['on_hold'])))
        cls.state.selection = list(STATES)
        cls._transitions = set(TRANSITIONS)
        # A lead from an OEM has no salesman; its customer is needed by the
        # hand-over only (which says so: see hand_over)
        cls.employee.states = {'readonly': CLOSED['readonly']}
        cls.party.states = {
            'readonly': CLOSED['readonly'],
            'required': Eval('state') == 'won',
            }

        open_ = Eval('state').in_(OPEN_STATES)
        # The one button bar: Tryton's lead, opportunity and convert belong to
        # the sale order flow; its cancel is the Cancel Lead wizard's
        # transition (the stage's policy applies).
        for name in ['lead', 'opportunity', 'convert', 'cancel']:
            cls._buttons[name] = {'invisible': True}
        cls._buttons.update({
                'mark_contacted': {
                    'invisible': Eval('state') != 'lead',
                    'depends': ['state'],
                    },
                'confirm_documents': {
                    'invisible': Eval('state') != 'contacted',
                    'depends': ['state'],
                    },
                'ready_for_survey': {
                    'invisible': Eval('state') != 'documents_complete',
                    'depends': ['state'],
                    },
                'hand_over': {
                    'invisible': Eval('state') != 'ready_for_survey',
                    'depends': ['state'],
                    },
                'hold': {
                    'invisible': ~open_,
                    'depends': ['state'],
                    },
                'resume': {
                    'invisible': Eval('state') != 'on_hold',
                    'depends': ['state'],
                    },
                'lost': {
                    'invisible': ~(open_ | (Eval('state') == 'on_hold')),
                    'depends': ['state'],
                    },
                'ev_cancel': {
                    'invisible': ~(open_ | (Eval('state') == 'on_hold')),
                    'depends': ['state'],
                    },
                'wait_for_site': {
                    'invisible': ~open_ | Bool(Eval('readiness_wait_since')),
                    'depends': ['state', 'readiness_wait_since'],
                    },
                'site_ready': {
                    'invisible': ~Bool(Eval('readiness_wait_since')),
                    'depends': ['readiness_wait_since'],
                    },
                })

    @classmethod
    def __register__(cls, module_name):
        cursor = Transaction().connection.cursor()
        table_h = cls.__table_handler__(module_name)
        history_h = cls.__table_handler__(module_name, history=True)
        # Migration from the second workflow field: the EV stage column
        # becomes the state, Tryton's own
        migrate = table_h.column_exist('ev_stage')
        super().__register__(module_name)
        if migrate:
            for handler, table in [
                    (table_h, cls.__table__()),
                    (history_h, cls.__table_history__())]:
                if not handler.column_exist('ev_stage'):
                    continue
                cursor.execute(*table.update(
                        [table.state], [renamed_stage(table.ev_stage)],
                        where=table.ev_stage != None))  # noqa: E711
                cursor.execute(*table.update(
                        [table.stage_before_hold],
                        [renamed_stage(table.stage_before_hold)],
                        where=table.stage_before_hold.in_(list(OLD_STAGES))))
                handler.drop_column('ev_stage')

    def get_city(self, name):
        if self.address and self.address.city:
            return self.address.city
        if self.party:
            for address in self.party.addresses:
                if address.city:
                    return address.city

    @classmethod
    def search_city(cls, name, clause):
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            return [('address.city', operator, operand, *extra)]
        return ['OR',
            ('address.city', operator, operand, *extra),
            [('address', '=', None),
                ('party.addresses.city', operator, operand, *extra)],
            ]

    def get_rec_name(self, name):
        "Who and which: 'Kavya Nair — TM-24-0200' (the OEM's reference)"
        which = self.oem_reference or self.reference or self.number or '/'
        if Pool().get('res.user').get_ev_oem() is None:
            customer = self.party.rec_name if self.party else None
        else:
            # An OEM's user reads its own lead's customer (it sent it), though
            # parties are otherwise closed to it (ev_lead/ir.py)
            with without_check_access():
                lead = self.__class__(self.id)
                customer = lead.party.rec_name if lead.party else None
        if customer:
            return f'{customer} — {which}'
        return super().get_rec_name(name)

    @classmethod
    def search_rec_name(cls, name, clause):
        """A lead is found by its number, references, customer's name or the
        customer's phone or email (as typed: +91 98450 12345 or 9845012345)"""
        User = Pool().get('res.user')
        domain = super().search_rec_name(name, clause)
        _, operator, operand, *extra = clause
        bool_op = domain[0]
        domain.append(('oem_reference', operator, operand, *extra))
        if User.get_ev_oem() is not None:
            # An OEM's user searches its leads by their references only:
            # parties are closed to it (ev_lead/ir.py)
            return [bool_op, *domain[1:]]
        domain.append(('party.name', operator, operand, *extra))
        if isinstance(operand, str) and operand.strip('%'):
            compact = ''.join(operand.split())
            domain.append(
                ('party.contact_mechanisms.value_compact', operator,
                    compact, *extra))
        return [bool_op, *domain[1:]]

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

    @classmethod
    def copy(cls, leads, default=None):
        default = default.copy() if default is not None else {}
        for name in ['oem_reference', 'stations', 'stage_before_hold',
                'contacted_at', 'closed_at']:
            default.setdefault(name)
        return super().copy(leads, default=default)

    state_string = TranslatedSelection('state')

    # The workflow

    @classmethod
    @ModelView.button
    @stage('contacted')
    def mark_contacted(cls, leads):
        cls.write([l for l in leads if not l.contacted_at],
            {'contacted_at': datetime.datetime.now()})

    @classmethod
    @ModelView.button
    @stage('documents_complete')
    def confirm_documents(cls, leads):
        for lead in leads:
            lead.check_documents()

    @classmethod
    @ModelView.button
    @stage('ready_for_survey')
    def ready_for_survey(cls, leads):
        for lead in leads:
            lead.check_site_ready()

    @classmethod
    @ModelView.button
    @stage('won')
    def hand_over(cls, leads):
        "Won: one Station Record per charger, then field operations"
        for lead in leads:
            if not lead.party:
                raise LeadError(gettext(
                        'ev_lead.msg_hand_over_party', lead=lead.rec_name))
        cls.create_stations(leads)
        cls.won(leads)

    @classmethod
    @ModelView.button
    @stage('on_hold')
    def hold(cls, leads):
        for lead in leads:
            lead.stage_before_hold = lead.state
        cls.save(leads)

    @classmethod
    @ModelView.button
    def resume(cls, leads):
        "Back to the stage the lead was held at"
        for state, back in BACK_FROM_HOLD.items():
            held = [l for l in leads
                if (l.stage_before_hold or 'lead') == state]
            if held:
                back(cls, held)

    @classmethod
    @ModelView.button
    @stage('lost')
    def lost(cls, leads):
        super().lost(leads)
        cls.write(list(leads), {'closed_at': datetime.datetime.now()})

    @classmethod
    @ModelView.button
    @stage('cancelled')
    def cancel(cls, leads):
        super().cancel(leads)
        cls.write(list(leads), {'closed_at': datetime.datetime.now()})

    @classmethod
    def stage_changed(cls, leads, previous):
        """What follows a stage change: the log, the OEM's users and its
        webhook hear"""
        Webhook = Pool().get('ev.lead.webhook')
        for lead in leads:
            lead.log_stage_change(previous[lead.id])
        cls.notify_oem(leads)
        with without_check_access():
            Webhook.enqueue_for(leads)

    def log_stage_change(self, previous, text=None):
        """Record the stage change where people look: the Station Records'
        logs once they exist, the lead's chat before"""
        pool = Pool()
        Channel = pool.get('ir.chat.channel')
        message = gettext('ev_lead.msg_stage_changed',
            lead=self.rec_name, from_=previous, to=self.state_string)
        text = text or {
            'cancelled': self.cancellation_reason,
            'lost': self.lost_reason,
            }.get(self.state)
        if text:
            message += '\n' + text
        with without_check_access():
            if self.stations:
                for station in self.stations:
                    station.record_event('note', message)
            else:
                Channel.post(self, message)

    @classmethod
    def notify_oem(cls, leads):
        "Tell the OEM's users about their leads' new stage"
        User = Pool().get('res.user')
        oem_leads = [l for l in leads if l.oem]
        if not oem_leads:
            return
        with without_check_access():
            users = User.search(
                [('ev_oem', 'in', list({l.oem.id for l in oem_leads}))])
        for lead in oem_leads:
            notify([u for u in users if u.ev_oem == lead.oem], [lead],
                gettext('ev_lead.msg_oem_notification',
                    reference=lead.oem_reference or lead.number,
                    stage=lead.state_string))

    @classmethod
    def notify_central_ops(cls, leads, message):
        Configuration = Pool().get('ev.lead.configuration')
        return notify(Configuration(1).get_central_ops_users(), leads,
            lambda lead: gettext(message, lead=lead.rec_name))

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
