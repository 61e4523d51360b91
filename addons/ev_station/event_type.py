# This file is part of the EV operations suite.
from genshi.template import NewTextTemplate

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields, sequence_ordered)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.transaction import Transaction

from .exceptions import EventTypeError
from .station import STAGES

VISIBILITIES = [
    ('internal', "Internal only"),
    ('client', "Client visible"),
    ('client_email', "Client visible + Email"),
    ]


class EventType(
        DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "What an entry of the event log records"
    __name__ = 'ev.station.event_type'
    __string__ = "Event Type"

    code = fields.Char("Code", required=True, readonly=False)
    name = fields.Char("Name", required=True, translate=True)
    stage = fields.Selection([(None, "")] + STAGES, "Stage",
        help="Recording this event moves the station to this stage.")
    sub_status = fields.Char(
        "Sub-status", translate=True,
        help="The station's sub-status after this event.")
    default_visibility = fields.Selection(
        VISIBILITIES, "Default Visibility", required=True)
    requires_next_owner = fields.Boolean(
        "Requires Next Owner",
        help="An entry of this type hands the task over to someone.")
    requires_correction = fields.Boolean(
        "Requires Corrected Entry",
        help="An entry of this type must name the entry it corrects.")
    email_subject = fields.Char(
        "Email Subject", translate=True,
        help="Genshi text template ({% if %}...{% end %}, ${...}); see "
        "the body for the values available.")
    email_body = fields.Text(
        "Email Body", translate=True,
        help="Genshi text template ({% if %}...{% end %}, ${...}) with "
        "plain values: station.number, station.customer.name, "
        "station.stage, entry.text, entry.event, entry.next_action, "
        "entry.eta, entry.follow_up_date, entry.date.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('code_uniq', Unique(t, t.code),
                'ev_station.msg_event_type_code_unique'),
            ]

    # What a past entry shows of its type: changed, it would rewrite it
    _shown_fields = {'code', 'name', 'stage'}

    @classmethod
    def check_modification(cls, mode, types, values=None, external=False):
        super().check_modification(
            mode, types, values=values, external=external)
        if mode == 'write' and cls._shown_fields & set(values):
            Log = Pool().get('ev.station.log')
            used = Log.search([('event_type', 'in', [t.id for t in types])],
                limit=1)
            if used:
                raise EventTypeError(gettext(
                        'ev_station.msg_event_type_used',
                        event_type=used[0].event_type.rec_name))

    _values_cache = Cache('ev.station.event_type.get_values', context=False)

    @classmethod
    def get_values(cls, type_id):
        """The rules of an event type, cached: it is configuration, read on
        every log entry. None for an id that does not exist."""
        if not isinstance(type_id, int) or type_id < 0:
            return None
        values = cls._values_cache.get(type_id, -1)
        if values != -1:
            return values
        # The database language, whoever asks first: the cache is shared.
        with Transaction().set_context(language=None):
            types = cls.search([('id', '=', type_id)])
        if types:
            type_, = types
            values = {
                'id': type_.id,
                'code': type_.code,
                'stage': type_.stage,
                'sub_status': type_.sub_status,
                'default_visibility': type_.default_visibility,
                'requires_next_owner': bool(type_.requires_next_owner),
                'requires_correction': bool(type_.requires_correction),
                }
        else:
            values = None
        cls._values_cache.set(type_id, values)
        return values

    @classmethod
    def on_modification(cls, mode, types, field_names=None):
        super().on_modification(mode, types, field_names=field_names)
        cls._values_cache.clear()

    @classmethod
    def default_default_visibility(cls):
        return 'internal'

    def get_rec_name(self, name):
        return self.name

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause
        bool_op = 'AND' if operator.startswith(('!', 'not ')) else 'OR'
        return [bool_op,
            ('name', operator, value),
            ('code', operator, value),
            ]

    @classmethod
    def from_code(cls, code):
        types = cls.search([('code', '=', code)], limit=1)
        if not types:
            raise EventTypeError(gettext(
                    'ev_station.msg_event_type_unknown', code=code))
        return types[0]

    @classmethod
    def validate_fields(cls, types, field_names):
        super().validate_fields(types, field_names)
        if field_names and not field_names & {'email_subject', 'email_body'}:
            return
        for type_ in types:
            for template in (type_.email_subject, type_.email_body):
                if not template:
                    continue
                if '__' in template:
                    # Templates get plain values; no way back to objects
                    raise ValidationError(gettext(
                            'ev_station.msg_event_type_template_dunder',
                            type=type_.rec_name))
                try:
                    NewTextTemplate(template)
                except Exception as exception:
                    raise ValidationError(gettext(
                            'ev_station.msg_event_type_invalid_template',
                            type=type_.rec_name,
                            exception=exception)) from exception

    def render_email(self, station, entry):
        """Return subject and body in the station's language

        Falls back to the event's text when the type has no template. The
        templates see plain values (email_values), never records."""
        pool = Pool()
        EventType = pool.get('ev.station.event_type')
        language = (station.language.code if station.language
            else Transaction().language)
        with Transaction().set_context(language=language):
            localised = EventType(self.id)
            subject_template = localised.email_subject
            body_template = localised.email_body
            name = localised.name
            values = self.email_values(station, entry, name)
        if subject_template:
            subject = NewTextTemplate(subject_template).generate(
                **values).render().strip()
        else:
            subject = f'{station.number}: {name}'
        if body_template:
            body = NewTextTemplate(body_template).generate(
                **values).render()
        else:
            with Transaction().set_context(language=language):
                body = self.fallback_email_body(values)
        return subject, body

    @classmethod
    def fallback_email_body(cls, values):
        "The email of a type without template: greeting, text, next step"
        entry = values['entry']
        lines = [
            gettext('ev_station.msg_email_greeting',
                name=values['station']['customer']['name']),
            '', entry['text'], '']
        if entry['next_action']:
            lines.append(gettext('ev_station.msg_email_next_step',
                    action=entry['next_action']))
        if entry['eta']:
            lines.append(gettext('ev_station.msg_email_expected',
                    eta=entry['eta']))
        if entry['next_action'] or entry['eta']:
            lines.append('')
        lines += [
            gettext('ev_station.msg_email_station',
                number=values['station']['number']),
            '', gettext('ev_station.msg_email_signature'), '']
        return '\n'.join(lines)

    @classmethod
    def email_values(cls, station, entry, event_name):
        "What a template may show, as plain text, dates in the language"
        pool = Pool()
        Lang = pool.get('ir.lang')
        lang = Lang.get()

        def date(value):
            return lang.strftime(value) if value else ''
        stages = dict(station.__class__.fields_get(
                ['stage'])['stage']['selection'])
        return {
            'station': {
                'number': station.number or '',
                'customer': {'name': station.customer.name or ''},
                'stage': stages.get(station.stage) or '',
                },
            'entry': {
                'text': entry.text or '',
                'event': event_name or '',
                'next_action': entry.next_action or '',
                'eta': date(entry.eta),
                'follow_up_date': date(entry.follow_up_date),
                'date': date(entry.timestamp.date()
                    if entry.timestamp else None),
                },
            }
