# This file is part of the EV operations suite.
import datetime
import logging
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import trytond.config as config
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.pyson import Bool, Eval
from trytond.sendmail import send_message
from trytond.transaction import Transaction, without_check_access

from .event_type import VISIBILITIES
from .immutable import ImmutableMixin
from .notification import user_in_group
from .outbox import OutboxMixin
from .exceptions import (
    EventTypeError, LogImmutableError, LogValidationError, StageError)
from .station import STAGE_ORDER, STAGES
from .timestamp import Timestamp

logger = logging.getLogger(__name__)

_READONLY_SAVED = {'readonly': Eval('id', -1) >= 0}



class Log(ImmutableMixin, ModelSQL, ModelView):
    "Station Event Log Entry"
    __name__ = 'ev.station.log'
    __string__ = "Station Log Entry"
    _rec_name = 'text'

    station = fields.Many2One(
        'ev.station', "Station", required=True, ondelete='RESTRICT',
        states=_READONLY_SAVED)
    event_type = fields.Many2One(
        'ev.station.event_type', "Event Type", required=True,
        ondelete='RESTRICT', states=_READONLY_SAVED)
    timestamp = Timestamp("Timestamp", readonly=True)
    author = fields.Many2One('res.user', "Author", readonly=True,
        ondelete='RESTRICT')
    text = fields.Text("Text", required=True, states=_READONLY_SAVED,
        help="What happened.")
    visibility = fields.Selection(
        VISIBILITIES, "Visibility", required=True, states=_READONLY_SAVED)
    visibility_proposed = fields.Function(fields.Selection(
            [(None, "")] + VISIBILITIES, "Proposed Visibility",
            help="The visibility the event type proposed: a visibility the "
            "user chose instead is kept when the event type changes."),
        'get_visibility_proposed')
    next_owner = fields.Many2One(
        'res.user', "Forwarded To", ondelete='RESTRICT',
        states=_READONLY_SAVED,
        help="Who takes over: a handover is created that they must accept.")
    next_action = fields.Char("Next Action", states=_READONLY_SAVED)
    work = fields.Char("Work", states=_READONLY_SAVED,
        help="The key of the work the handover asks for: the step that does "
        "it names the same key in Completes.")
    completes = fields.Char("Completes", states=_READONLY_SAVED,
        help="The key of the work this step did: the station's open "
        "handovers that asked for it are completed.")
    eta = fields.Date("ETA", states=_READONLY_SAVED)
    follow_up_date = fields.Date(
        "Follow-up Date",
        states={
            'readonly': Eval('id', -1) >= 0,
            'required': Bool(Eval('next_owner')),
            },
        help="When the forwarder checks on the next step.")
    corrects = fields.Many2One(
        'ev.station.log', "Corrects", ondelete='RESTRICT',
        domain=[
            ('station', '=', Eval('station', -1)),
            ('id', '!=', Eval('id', -1)),
            ],
        states=_READONLY_SAVED,
        help="The entry this one corrects; entries are never edited.")
    corrections = fields.One2Many(
        'ev.station.log', 'corrects', "Corrections", readonly=True)
    corrected = fields.Function(
        fields.Boolean("Corrected"), 'get_corrected')
    stage = fields.Selection(
        [(None, "")] + STAGES, "Stage", readonly=True,
        help="For an event of the life cycle, the station's stage after it.")
    stage_override = fields.Boolean(
        "Stage Override", readonly=True,
        help="This entry skipped stages of the life cycle.")
    override_by = fields.Many2One(
        'res.user', "Override Authorised By", ondelete='RESTRICT',
        states=_READONLY_SAVED)
    override_reason = fields.Text(
        "Override Reason", states=_READONLY_SAVED)
    stage_rule = fields.Many2One(
        'ev.station.stage_rule', "Stage Rule", readonly=True,
        ondelete='RESTRICT',
        help="The declared rule that let this entry skip stages.")
    emails = fields.One2Many(
        'ev.station.log.email', 'entry', "Emails", readonly=True)
    email_state = fields.Function(fields.Selection([
                (None, ""),
                ('pending', "Pending"),
                ('sent', "Sent"),
                ('failed', "Failed"),
                ], "Email State"), 'get_email_state')
    handovers = fields.One2Many(
        'ev.station.handover', 'entry', "Handovers", readonly=True)
    completed_handovers = fields.One2Many(
        'ev.station.handover', 'completed_entry', "Completed Handovers",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t,
                    (t.station, Index.Equality()),
                    (t.timestamp, Index.Range(order='DESC'))),
                Index(t, (t.author, Index.Equality())),
                Index(t, (t.corrects, Index.Equality()),
                    where=t.corrects != None),  # noqa: E711
                })
        # No index on the text for its rec_name: a B-tree cannot hold a long
        # entry and nobody searches the log by prefix of its text.
        cls._sql_indexes = {
            i for i in cls._sql_indexes
            if not any(getattr(e, 'name', None) == 'text'
                for e, _ in i.expressions)}
        cls._order = [('timestamp', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_visibility(cls):
        return 'internal'

    @classmethod
    def default_visibility_proposed(cls):
        return cls.default_visibility()

    @classmethod
    def default_author(cls):
        return Transaction().user or None

    @fields.depends('event_type', 'visibility', 'visibility_proposed')
    def on_change_event_type(self):
        # The event type's visibility is a proposal: it replaces the last
        # proposal, never a visibility the user chose
        if (self.event_type
                and self.visibility in {None, self.visibility_proposed}):
            self.visibility = self.event_type.default_visibility
            self.visibility_proposed = self.visibility

    def get_visibility_proposed(self, name):
        return None

    def get_rec_name(self, name):
        first_line = (self.text or '').strip().split('\n', 1)[0]
        return f'{self.event_type.rec_name}: {first_line[:60]}'

    @classmethod
    def get_corrected(cls, entries, name):
        return {e.id: bool(e.corrections) for e in entries}

    @classmethod
    def get_email_state(cls, entries, name):
        states = {}
        for entry in entries:
            states[entry.id] = entry.emails[-1].state if entry.emails else None
        return states

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            # Author and time are facts of the system, not of the input.
            values['author'] = Transaction().user or None
            values['timestamp'] = datetime.datetime.now()
        return values

    @classmethod
    def create(cls, vlist):
        pool = Pool()
        EventType = pool.get('ev.station.event_type')
        Station = pool.get('ev.station')
        vlist = [v.copy() for v in vlist]
        # A stage rule is applied by Station.record_event only
        if (not Transaction().context.get('_ev_station_log_door')
                and any(v.get('stage_rule') for v in vlist)):
            raise AccessError(gettext('ev_station.msg_stage_rule_door'))
        # The caller writes only the log of stations it may see
        Station.check_log_access(
            Station.browse({v['station'] for v in vlist if v.get('station')}))
        cls._check_completes(vlist)

        # Walk the entries in order, tracking each station's stage, so that
        # several entries of one call are checked against each other.
        # Only events of the life cycle need the stations' current stage.
        types = [EventType.get_values(v.get('event_type')) for v in vlist]
        stage_of = cls._current_stages(
            {v['station'] for v, t in zip(vlist, types)
                if v.get('station') and t and t['stage']})
        effects = []
        for values, type_ in zip(vlist, types):
            # Stage and override are the system's verdict, never input.
            values['stage'] = None
            values['stage_override'] = False
            if not (values.get('station') and type_ and values.get('text')):
                # The required-field and foreign key checks report it.
                effects.append(None)
                continue
            station_id = values['station']
            if type_['stage']:
                current = stage_of.get(station_id) or 'offer'
                values['stage'] = cls._next_stage(
                    station_id, type_, current, values)
                stage_of[station_id] = values['stage']
            else:
                current = None
                values['stage_rule'] = None
            values.setdefault('visibility', type_['default_visibility'])
            effects.append(cls._effects(type_, current, values))
        entries = super().create(vlist)
        # The effects belong to the entry: whoever may record an event moves
        # the station, even without write access on it.
        with without_check_access():
            cls._apply(entries, effects)
        return entries

    @classmethod
    def _check_completes(cls, vlist):
        """A user who writes the log completes only the handovers they may
        complete; a module's step (without access checks) acts as the
        system on behalf of its user"""
        pool = Pool()
        Handover = pool.get('ev.station.handover')
        transaction = Transaction()
        if not (transaction.user and transaction.check_access):
            return
        Handover.check_receiver(Handover.open_for_work(
                (v['station'], v['completes']) for v in vlist
                if v.get('station') and v.get('completes')))

    @classmethod
    def _current_stages(cls, station_ids):
        pool = Pool()
        Station = pool.get('ev.station')
        station = Station.__table__()
        cursor = Transaction().connection.cursor()
        stages = {}
        for sub_ids in grouped_slice(list(station_ids), count=1000):
            cursor.execute(*station.select(
                    station.id, station.stage,
                    where=fields.SQL_OPERATORS['in'](station.id, sub_ids)))
            stages.update(cursor)
        return stages

    @classmethod
    def _next_stage(cls, station_id, type_, current, values):
        pool = Pool()
        Station = pool.get('ev.station')
        EventType = pool.get('ev.station.event_type')
        StageRule = pool.get('ev.station.stage_rule')
        target = type_['stage']
        if not target:
            return current
        skipped = STAGES[STAGE_ORDER[current] + 1:STAGE_ORDER[target]]
        rule = values.get('stage_rule')
        if rule is not None:
            rule = StageRule(rule)
            if not (skipped and rule.allows(type_['id'], current)):
                # A rule is recorded only where it is what allows the skip
                values['stage_rule'] = rule = None
        if skipped:
            if not rule and not (values.get('override_by')
                    and (values.get('override_reason') or '').strip()):
                raise StageError(gettext(
                        'ev_station.msg_stage_skip',
                        station=Station(station_id).rec_name,
                        event=EventType(type_['id']).rec_name,
                        stages=', '.join(name for _, name in skipped)))
            if not rule:
                cls._check_override(station_id, values['override_by'])
            values['stage_override'] = True
        if STAGE_ORDER[target] < STAGE_ORDER[current]:
            # A late event (e.g. a payment after production started) is
            # recorded but does not move the station back.
            return current
        return target

    @classmethod
    def _check_override(cls, station_id, override_by):
        """The one who authorises an override is the user recording it, a
        member of the configuration's override group (root, the system
        itself, is not checked)"""
        pool = Pool()
        User = pool.get('res.user')
        Station = pool.get('ev.station')
        Configuration = pool.get('ev.station.configuration')
        Group = pool.get('res.group')
        user_id = Transaction().user
        if not user_id:
            return
        if int(override_by) != user_id:
            raise StageError(gettext('ev_station.msg_override_not_self',
                    user=User(user_id).rec_name,
                    named=User(int(override_by)).rec_name))
        group = Configuration(1).override_group or Group(
            Configuration.default_override_group())
        if not group or not user_in_group(group):
            raise StageError(gettext('ev_station.msg_override_not_allowed',
                    group=group.rec_name if group else '-',
                    station=Station(station_id).rec_name))

    @classmethod
    def _effects(cls, type_, previous_stage, values):
        "What the entry changes on its station"
        station_values = {}
        if values['stage'] and values['stage'] != previous_stage:
            station_values['stage'] = values['stage']
        if type_['stage'] and type_['stage'] == values['stage'] \
                and type_['sub_status']:
            station_values['sub_status'] = type_['sub_status']
        for name, station_name in [
                ('next_action', 'next_step'),
                ('follow_up_date', 'follow_up_date'),
                ('eta', 'eta'),
                ]:
            if values.get(name):
                station_values[station_name] = values[name]
        return station_values

    @classmethod
    def validate_fields(cls, entries, field_names):
        pool = Pool()
        EventType = pool.get('ev.station.event_type')
        super().validate_fields(entries, field_names)
        for entry in entries:
            type_ = EventType.get_values(entry.event_type.id)
            if type_ is None:
                raise EventTypeError(gettext(
                        'ev_station.msg_event_type_unknown',
                        code=entry.event_type.id))
            if entry.work and not entry.next_owner:
                raise LogValidationError(gettext(
                        'ev_station.msg_log_work_without_handover',
                        entry=entry.rec_name))
            if entry.next_owner and not entry.follow_up_date:
                raise LogValidationError(gettext(
                        'ev_station.msg_log_follow_up_required',
                        entry=entry.rec_name))
            if type_['requires_next_owner'] and not entry.next_owner:
                raise LogValidationError(gettext(
                        'ev_station.msg_log_next_owner_required',
                        event=entry.event_type.rec_name))
            if entry.corrects and entry.corrects.station != entry.station:
                raise LogValidationError(gettext(
                        'ev_station.msg_log_correction_station',
                        entry=entry.rec_name))
            if type_['requires_correction'] and not entry.corrects:
                raise LogValidationError(gettext(
                        'ev_station.msg_log_correction_required'))
            if (entry.visibility == 'client_email'
                    and not entry.station.customer.email):
                raise LogValidationError(gettext(
                        'ev_station.msg_log_customer_no_email',
                        customer=entry.station.customer.rec_name))
            if entry.stage == 'commissioned' \
                    and type_['stage'] == 'commissioned':
                if not any(p.kind == 'main' for p in entry.station.photos):
                    raise LogValidationError(gettext(
                            'ev_station.msg_log_commission_main_photo',
                            station=entry.station.rec_name))

    @classmethod
    def _apply(cls, entries, effects):
        "Move the stations and start the handovers and emails of new entries"
        pool = Pool()
        Station = pool.get('ev.station')
        Handover = pool.get('ev.station.handover')
        LogEmail = pool.get('ev.station.log.email')
        Configuration = pool.get('ev.station.configuration')
        context = Transaction().context
        # An entry of the system (a cron, user 0) hands over on behalf of
        # the single point of access, who stays responsible for it
        system_forwarder = None
        if not Transaction().user and any(e.next_owner for e in entries):
            system_forwarder = Configuration(1).escalation_user

        to_write = {}
        handovers, emails = [], []
        for entry, station_values in zip(entries, effects):
            if station_values:
                to_write.setdefault(
                    entry.station.id, {}).update(station_values)
            forwarder = entry.author or system_forwarder
            if entry.next_owner and forwarder:
                handovers.append(Handover(
                        station=entry.station,
                        entry=entry,
                        parent=context.get('ev_handover_parent'),
                        forwarder=forwarder,
                        receiver=entry.next_owner,
                        next_action=entry.next_action,
                        work=entry.work,
                        follow_up_date=entry.follow_up_date,
                        ))
            if entry.visibility == 'client_email':
                emails.append(LogEmail.from_entry(entry))
        args = []
        for station_id, values in to_write.items():
            args.extend(([Station(station_id)], values))
        if args:
            Station.write(*args)
        # The work done before the work asked: an entry never completes the
        # handover it starts
        Handover.complete_work([e for e in entries if e.completes])
        if handovers:
            Handover.save(handovers)
        if emails:
            LogEmail.enqueue(emails)


class LogEmail(OutboxMixin, ModelSQL, ModelView):
    "Customer email of a Client visible + Email entry, with its attempts"
    __name__ = 'ev.station.log.email'
    __string__ = "Customer Email"
    _outbox_max_attempts = ('ev_station', 'email_max_attempts', 5)
    _outbox_retry_delay = ('ev_station', 'email_retry_delay', 60)

    entry = fields.Many2One(
        'ev.station.log', "Log Entry", required=True, ondelete='RESTRICT',
        readonly=True)
    station = fields.Function(
        fields.Many2One('ev.station', "Station"), 'get_station',
        searcher='search_station')
    recipient = fields.Char("Recipient", readonly=True)
    language = fields.Char("Language", readonly=True)
    subject = fields.Char("Subject", readonly=True)
    body = fields.Text("Body", readonly=True)
    message_id = fields.Char("Message-ID", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'DESC')]

    @classmethod
    def __register__(cls, module):
        table_h = cls.__table_handler__(module)
        # Migration: the count of attempts was named "attempts"
        if (table_h.column_exist('attempts')
                and not table_h.column_exist('attempt_count')):
            table_h.column_rename('attempts', 'attempt_count')
        super().__register__(module)

    def get_station(self, name):
        return self.entry.station.id

    @classmethod
    def search_station(cls, name, clause):
        return [('entry.' + clause[0],) + tuple(clause[1:])]

    @classmethod
    def check_modification(cls, mode, emails, values=None, external=False):
        super().check_modification(
            mode, emails, values=values, external=external)
        if mode == 'delete':
            raise LogImmutableError(gettext(
                    'ev_station.msg_entry_immutable', model=cls.__string__))
        # What the customer was sent (or will be) is evidence: only the
        # outbox's own columns change, and nothing once it is sent
        if mode == 'write' and cls._content_fields & set(values) and (
                external or any(e.state == 'sent' for e in emails)):
            raise LogImmutableError(gettext(
                    'ev_station.msg_entry_immutable', model=cls.__string__))

    _content_fields = {
        'entry', 'recipient', 'language', 'subject', 'body', 'message_id'}

    @classmethod
    def from_entry(cls, entry):
        station = entry.station
        subject, body = entry.event_type.render_email(station, entry)
        return cls(
            entry=entry,
            recipient=formataddr(
                (station.customer.rec_name, station.customer.email)),
            language=station.language.code if station.language else None,
            subject=subject,
            body=body,
            )

    def get_message(self):
        msg = EmailMessage()
        msg['From'] = config.get('email', 'from')
        msg['To'] = self.recipient
        msg['Subject'] = self.subject
        # One Message-ID for every attempt: a receiver can drop a copy
        msg['Message-ID'] = self.message_id or make_msgid(domain='ev')
        msg['X-EV-Station'] = self.entry.station.number or ''
        msg['X-EV-Log-Entry'] = str(self.entry.id)
        msg.set_content(self.body or '')
        # After set_content, which drops the Content-* headers
        if self.language:
            msg['Content-Language'] = self.language.replace('_', '-')
        return msg

    def outbox_deliver(self):
        msg = self.get_message()
        send_message(msg, strict=True)
        return {'message_id': msg['Message-ID'], 'message': msg}

    def outbox_sent(self, result):
        "Archive the email on the station (Tryton's ir.email)"
        pool = Pool()
        Email = pool.get('ir.email')
        Email.from_message(
            result['message'], body=self.body,
            resource=self.entry.station).save()
