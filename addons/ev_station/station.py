# This file is part of the EV operations suite.
from trytond.i18n import gettext
from trytond.ir.chat import ChatMixin
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, fields, sequence_ordered)
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.rpc import RPC
from trytond.transaction import Transaction

# The station's life cycle, section 5 of the lifecycle policy, in order.
# Each required event type (section 6) points at one of these stages.
STAGES = [
    ('offer', "Offer & Coordination"),
    ('account', "Customer Account"),
    ('configuration', "Configuration Agreed"),
    ('record', "Station Record Created"),
    ('payment', "Payment"),
    ('production', "Production"),
    ('components', "Components"),
    ('assembly', "Assembly"),
    ('testing', "Testing"),
    ('packaging', "Packaging & Carrier"),
    ('shipping', "Shipping"),
    ('installation', "Delivery & Installation"),
    ('commissioned', "Commissioned"),
    ]
STAGE_ORDER = {code: i for i, (code, _) in enumerate(STAGES)}

CONNECTOR_TYPES = [
    ('type1', "Type 1 (SAE J1772)"),
    ('type2', "Type 2 (IEC 62196-2)"),
    ('ccs1', "CCS1"),
    ('ccs2', "CCS2"),
    ('chademo', "CHAdeMO"),
    ('gbt', "GB/T"),
    ('iec60309', "IEC 60309 (industrial)"),
    ('domestic', "Domestic socket"),
    ]


class Station(ChatMixin, ModelSQL, ModelView):
    __name__ = 'ev.station'
    __string__ = "Station"
    _rec_name = 'number'

    number = fields.Char(
        "Number", readonly=True,
        help="The station ID, given by the sequence on creation.")
    customer = fields.Many2One(
        'party.party', "Customer", required=True, ondelete='RESTRICT')
    customer_account = fields.Char(
        "Customer Account",
        help="The customer's account in the charging platform.")
    country = fields.Many2One('country.country', "Country")
    language = fields.Many2One(
        'ir.lang', "Language",
        domain=[('translatable', '=', True)],
        help="The language of the customer's notifications.")
    owner = fields.Many2One(
        'res.user', "Owner",
        help="The person responsible for the station record.")

    # Configuration
    power_kw = fields.Numeric(
        "Power (kW)", digits=(16, 1),
        domain=[If(Eval('power_kw'), ('power_kw', '>', 0), ())])
    phases = fields.Selection([
            (None, ""),
            ('1', "Single phase"),
            ('3', "Three phase"),
            ], "Phases")
    connectors = fields.One2Many('ev.station.connector', 'station', "Connectors")
    dlm = fields.Boolean(
        "DLM", help="Dynamic load management is installed.")
    modem = fields.Selection([
            (None, ""),
            ('none', "None"),
            ('4g', "4G / LTE"),
            ('wifi', "Wi-Fi"),
            ('ethernet', "Ethernet"),
            ], "Modem")
    options = fields.Many2Many(
        'ev.station-ev.station.option', 'station', 'option', "Options")

    # Status
    stage = fields.Selection(STAGES, "Stage", readonly=True, sort=False,
        help="Moved by the event log: record an event to change it.")
    sub_status = fields.Char("Sub-status")

    # Follow-up
    contact = fields.Many2One(
        'party.party', "Current Contact Person", ondelete='RESTRICT')
    next_step = fields.Char("Next Step")
    eta = fields.Date("ETA")
    follow_up_date = fields.Date("Follow-up Date")
    follow_up_overdue = fields.Function(
        fields.Boolean("Follow-up Overdue"), 'get_follow_up_overdue',
        searcher='search_follow_up_overdue')

    # Contacts for location, installation and service, primary and backup
    location_contact = fields.Many2One(
        'party.party', "Location Contact", ondelete='RESTRICT')
    location_contact_backup = fields.Many2One(
        'party.party', "Location Contact (Backup)", ondelete='RESTRICT')
    installation_contact = fields.Many2One(
        'party.party', "Installation Contact", ondelete='RESTRICT')
    installation_contact_backup = fields.Many2One(
        'party.party', "Installation Contact (Backup)", ondelete='RESTRICT')
    service_contact = fields.Many2One(
        'party.party', "Service Contact", ondelete='RESTRICT')
    service_contact_backup = fields.Many2One(
        'party.party', "Service Contact (Backup)", ondelete='RESTRICT')

    events = fields.One2Many('ev.station.log', 'station', "Event Log")
    handovers = fields.One2Many('ev.station.handover', 'station', "Handovers")
    payments = fields.One2Many('ev.station.payment', 'station', "Payments")
    logistics = fields.One2Many('ev.station.logistics', 'station', "Logistics")
    photos = fields.One2Many('ev.station.photo', 'station', "Photos")
    photo_taker = fields.Many2One(
        'res.user', "Photographer",
        help="Who takes the site photos.")
    photo_uploader = fields.Many2One(
        'res.user', "Photo Uploader",
        help="Who uploads the site photos.")

    is_mine = fields.Function(
        fields.Boolean("Mine"), 'get_is_mine', searcher='search_is_mine')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('number_uniq', Unique(t, t.number), 'ev_station.msg_number_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.stage, Index.Equality())),
                Index(t, (t.owner, Index.Equality())),
                Index(t, (t.follow_up_date, Index.Range()),
                    where=t.stage != 'commissioned'),
                })
        cls._order = [('number', 'DESC'), ('id', 'DESC')]
        cls.__rpc__.update({
                'record_events': RPC(readonly=False, instantiate=0),
                })

    @classmethod
    def default_stage(cls):
        return 'offer'

    @classmethod
    def default_owner(cls):
        return Transaction().user or None

    @classmethod
    def default_country(cls):
        return Pool().get('ev.station.configuration')(1).get_default_country()

    @fields.depends('customer', 'language', 'country')
    def on_change_customer(self):
        if self.customer:
            if not self.language and self.customer.lang:
                self.language = self.customer.lang
            address = self.customer.address_get()
            if not self.country and address and address.country:
                self.country = address.country

    def get_rec_name(self, name):
        if self.customer:
            return f'{self.number or "/"} - {self.customer.rec_name}'
        return self.number or '/'

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('number', operator, value),
            ('customer.rec_name', operator, value),
            ('customer_account', operator, value),
            ]

    @property
    def stage_index(self):
        return STAGE_ORDER[self.stage or 'offer']

    def get_follow_up_overdue(self, name):
        today = Pool().get('ir.date').today()
        return bool(
            self.follow_up_date and self.follow_up_date < today
            and self.stage != 'commissioned')

    @classmethod
    def search_follow_up_overdue(cls, name, clause):
        today = Pool().get('ir.date').today()
        _, operator, value = clause
        overdue = [
            ('follow_up_date', '<', today),
            ('stage', '!=', 'commissioned'),
            ]
        if (operator == '=') == bool(value):
            return overdue
        return ['OR',
            ('follow_up_date', '=', None),
            ('follow_up_date', '>=', today),
            ('stage', '=', 'commissioned'),
            ]

    def get_is_mine(self, name):
        user = Transaction().user
        return bool(
            (self.owner and self.owner.id == user)
            or any(h.receiver.id == user and h.state in {'pending', 'accepted'}
                for h in self.handovers))

    @classmethod
    def search_is_mine(cls, name, clause):
        user = Transaction().user
        _, operator, value = clause
        mine = ['OR',
            ('owner', '=', user),
            [('handovers', 'where', [
                        ('receiver', '=', user),
                        ('state', 'in', ['pending', 'accepted']),
                        ])],
            ]
        if (operator == '=') == bool(value):
            return mine
        return ['NOT', mine]

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Configuration = pool.get('ev.station.configuration')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and not values.get('number'):
            values['number'] = Configuration(1).get_station_sequence().get()
        return values

    @classmethod
    def check_modification(cls, mode, stations, values=None, external=False):
        super().check_modification(
            mode, stations, values=values, external=external)
        # The stage is only ever moved by the event log.
        if (mode == 'write' and external
                and values.keys() & {'stage', 'number'}):
            raise AccessError(gettext('ev_station.msg_station_stage_readonly'))

    @classmethod
    def copy(cls, stations, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('number')
        default.setdefault('stage')
        for name in ['events', 'handovers', 'payments', 'logistics', 'photos']:
            default.setdefault(name)
        return super().copy(stations, default=default)

    # What a caller may say of an entry; author, time, stage are the system's
    _event_values = {
        'visibility', 'next_owner', 'next_action', 'eta', 'follow_up_date',
        'corrects', 'override_by', 'override_reason', 'work', 'completes',
        }

    def record_event(self, event_code, text, stage_rule=None, **values):
        """Append an entry to the station's event log.

        The one door through which every module writes the log: `event_code`
        is the code of an ev.station.event_type, `values` what the caller says
        of the entry (see _event_values: `work` keys the work a handover
        asks for, `completes` the work this step did, which completes the
        open handovers asking for it), `stage_rule` a declared
        ev.station.stage_rule (or its XML id) that lets the event skip
        stages."""
        entry, = self.log_event(
            [self], event_code, text, values, stage_rule=stage_rule)
        return entry

    @classmethod
    def log_event(cls, stations, event_code, text, values=None,
            stage_rule=None):
        "record_event for several stations: one entry each, in one go"
        values = dict(values or {})
        pool = Pool()
        Log = pool.get('ev.station.log')
        EventType = pool.get('ev.station.event_type')
        ModelData = pool.get('ir.model.data')
        unknown = set(values) - cls._event_values
        if unknown:
            raise AccessError(gettext('ev_station.msg_event_values_refused',
                    names=', '.join(sorted(unknown))))
        event_type = EventType.from_code(event_code)
        if isinstance(stage_rule, str):
            module, xml_id = stage_rule.split('.', 1)
            values['stage_rule'] = ModelData.get_id(module, xml_id)
        elif stage_rule:
            values['stage_rule'] = int(stage_rule)
        with Transaction().set_context(_ev_station_log_door=True):
            return Log.create([{
                        'station': s.id,
                        'event_type': event_type.id,
                        'text': text,
                        **values,
                        } for s in stations])

    @classmethod
    def check_log_access(cls, stations):
        """The caller may write the log of these stations: the access right
        to create log entries, and the record rules of the stations (a user
        writes only the log of a station it can see)"""
        pool = Pool()
        ModelAccess = pool.get('ir.model.access')
        Rule = pool.get('ir.rule')
        transaction = Transaction()
        if not (transaction.user and transaction.check_access):
            return
        ModelAccess.check('ev.station.log', 'create')
        if not Rule.domain_get(cls.__name__, mode='read'):
            # No record rule keeps this user from any station (the rules are
            # cached): no query on the hot path of the log
            return
        ids = {s.id for s in stations}
        visible = {s.id for s in cls.search([('id', 'in', list(ids))])}
        if ids - visible:
            raise AccessError(gettext('ev_station.msg_log_station_refused',
                    stations=', '.join(map(str, sorted(ids - visible)))))

    @classmethod
    def record_events(cls, stations, event_code, text, values=None):
        "RPC entry point of record_event; returns the ids of the new entries"
        return [e.id for e in cls.log_event(
                stations, event_code, text, values)]


class Connector(sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'ev.station.connector'
    __string__ = "Station Connector"

    station = fields.Many2One(
        'ev.station', "Station", required=True, ondelete='CASCADE')
    type = fields.Selection(CONNECTOR_TYPES, "Type", required=True)
    count = fields.Integer(
        "Count", required=True,
        domain=[('count', '>', 0)])
    power_kw = fields.Numeric("Power (kW)", digits=(16, 1))

    @classmethod
    def default_count(cls):
        return 1


class Option(ModelSQL, ModelView):
    __name__ = 'ev.station.option'
    __string__ = "Station Option"

    name = fields.Char("Name", required=True, translate=True)
    code = fields.Char("Code")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('code_uniq', Unique(t, t.code), 'ev_station.msg_option_code_unique'),
            ]


class StationOption(ModelSQL):
    __name__ = 'ev.station-ev.station.option'
    __string__ = "Station - Option"

    station = fields.Many2One(
        'ev.station', "Station", required=True, ondelete='CASCADE')
    option = fields.Many2One(
        'ev.station.option', "Option", required=True, ondelete='CASCADE')
