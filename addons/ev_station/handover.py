# This file is part of the EV operations suite.
import datetime

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .notification import notify
from .exceptions import HandoverError, LogImmutableError
from .timestamp import Timestamp

OPEN_STATES = ['pending', 'accepted']


class Handover(Workflow, ModelSQL, ModelView):
    """Chain of control: a task forwarded from one person to the next

    The forwarder stays responsible until the receiver marks it accepted,
    completed or forwarded."""
    __name__ = 'ev.station.handover'
    __string__ = "Handover"

    station = fields.Many2One(
        'ev.station', "Station", required=True, ondelete='RESTRICT',
        readonly=True)
    entry = fields.Many2One(
        'ev.station.log', "Log Entry", ondelete='RESTRICT', readonly=True,
        help="The entry that forwarded the task.")
    parent = fields.Many2One(
        'ev.station.handover', "Forwarded From", ondelete='RESTRICT',
        readonly=True)
    children = fields.One2Many(
        'ev.station.handover', 'parent', "Forwarded To", readonly=True)
    forwarder = fields.Many2One(
        'res.user', "Forwarder", required=True, readonly=True,
        ondelete='RESTRICT')
    receiver = fields.Many2One(
        'res.user', "Receiver", required=True, readonly=True,
        ondelete='RESTRICT')
    next_action = fields.Char("Next Action", readonly=True)
    work = fields.Char("Work", readonly=True,
        help="The key of the work asked for: the step that does it, naming "
        "the same key, completes the handover.")
    follow_up_date = fields.Date(
        "Follow-up Date", required=True, readonly=True)
    state = fields.Selection([
            ('pending', "Pending"),
            ('accepted', "Accepted"),
            ('completed', "Completed"),
            ('forwarded', "Forwarded"),
            ], "State", readonly=True, required=True, sort=False)
    accepted_at = Timestamp("Accepted At", readonly=True)
    closed_at = Timestamp("Closed At", readonly=True)
    completed_by = fields.Many2One(
        'res.user', "Completed By", readonly=True, ondelete='RESTRICT')
    completed_entry = fields.Many2One(
        'ev.station.log', "Completed By Step", readonly=True,
        ondelete='RESTRICT',
        help="The entry of the step that did the work: the system completed "
        "the handover on behalf of the user who did it.")
    escalated_at = Timestamp(
        "Escalated At", readonly=True,
        help="When the overdue follow-up was notified.")
    overdue = fields.Function(
        fields.Boolean("Overdue"), 'get_overdue', searcher='search_overdue')
    responsible = fields.Function(
        fields.Many2One('res.user', "Responsible",
            help="Who must act: the forwarder until the receiver confirms."),
        'get_responsible')
    my_open = fields.Function(
        fields.Boolean("My Open Handover"), 'get_my_open',
        searcher='search_my_open')
    my_task = fields.Function(
        fields.Boolean("My Task"), 'get_my_task', searcher='search_my_task')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.station, Index.Equality())),
                Index(t, (t.forwarder, Index.Equality()),
                    where=t.state == 'pending'),
                Index(t, (t.receiver, Index.Equality()),
                    where=t.state.in_(OPEN_STATES)),
                Index(t, (t.follow_up_date, Index.Range()),
                    where=t.state.in_(OPEN_STATES)),
                Index(t, (t.work, Index.Equality()),
                    where=t.state.in_(OPEN_STATES)),
                })
        cls._order = [('follow_up_date', 'ASC'), ('id', 'ASC')]
        cls._transitions |= {
            ('pending', 'accepted'),
            ('pending', 'completed'),
            ('accepted', 'completed'),
            ('pending', 'forwarded'),
            ('accepted', 'forwarded'),
            }
        cls._buttons.update({
                'accept': {
                    'invisible': Eval('state') != 'pending',
                    'depends': ['state'],
                    },
                'complete': {
                    'invisible': ~Eval('state').in_(OPEN_STATES),
                    'depends': ['state'],
                    },
                'forward': {
                    'invisible': ~Eval('state').in_(OPEN_STATES),
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'pending'

    def get_rec_name(self, name):
        return f'{self.station.rec_name}: {self.receiver.rec_name}'

    def get_overdue(self, name):
        today = Pool().get('ir.date').today()
        return self.state in OPEN_STATES and self.follow_up_date < today

    @classmethod
    def search_overdue(cls, name, clause):
        today = Pool().get('ir.date').today()
        _, operator, value = clause
        overdue = [
            ('state', 'in', OPEN_STATES),
            ('follow_up_date', '<', today),
            ]
        if (operator == '=') == bool(value):
            return overdue
        return ['OR',
            ('state', 'not in', OPEN_STATES),
            ('follow_up_date', '>=', today),
            ]

    def get_responsible(self, name):
        if self.state == 'pending':
            return self.forwarder.id
        elif self.state == 'accepted':
            return self.receiver.id

    def get_my_open(self, name):
        return (self.state == 'pending'
            and self.forwarder.id == Transaction().user)

    @classmethod
    def search_my_open(cls, name, clause):
        _, operator, value = clause
        domain = [
            ('state', '=', 'pending'),
            ('forwarder', '=', Transaction().user),
            ]
        return domain if (operator == '=') == bool(value) else ['NOT', domain]

    def get_my_task(self, name):
        return (self.state in OPEN_STATES
            and self.receiver.id == Transaction().user)

    @classmethod
    def search_my_task(cls, name, clause):
        _, operator, value = clause
        domain = [
            ('state', 'in', OPEN_STATES),
            ('receiver', '=', Transaction().user),
            ]
        return domain if (operator == '=') == bool(value) else ['NOT', domain]

    @classmethod
    def check_modification(cls, mode, handovers, values=None, external=False):
        super().check_modification(
            mode, handovers, values=values, external=external)
        if mode == 'delete':
            raise LogImmutableError(gettext(
                    'ev_station.msg_entry_immutable', model=cls.__string__))
        if mode == 'write' and external:
            # Only the buttons change a handover.
            raise AccessError(gettext('ev_station.msg_handover_readonly'))

    @classmethod
    def validate_fields(cls, handovers, field_names):
        super().validate_fields(handovers, field_names)
        for handover in handovers:
            if handover.receiver == handover.forwarder:
                raise HandoverError(gettext(
                        'ev_station.msg_handover_to_self',
                        user=handover.receiver.rec_name))

    @classmethod
    def check_receiver(cls, handovers):
        "Only the receiver, or the single point of access, confirms"
        pool = Pool()
        Configuration = pool.get('ev.station.configuration')
        user = Transaction().user
        if not user:
            return
        escalation = {u.id for u in Configuration(1).get_escalation_users()}
        for handover in handovers:
            if handover.receiver.id != user and user not in escalation:
                raise AccessError(gettext(
                        'ev_station.msg_handover_not_receiver',
                        handover=handover.rec_name,
                        receiver=handover.receiver.rec_name))

    @classmethod
    def _log_transition(cls, handovers, event_code, text_message):
        for handover in handovers:
            handover.station.record_event(event_code,
                gettext(text_message,
                    receiver=handover.receiver.rec_name,
                    forwarder=handover.forwarder.rec_name,
                    action=handover.next_action or ''),
                visibility='internal')

    @classmethod
    @ModelView.button
    @Workflow.transition('accepted')
    def accept(cls, handovers):
        cls.check_receiver(handovers)
        cls.write(handovers, {'accepted_at': datetime.datetime.now()})
        cls._log_transition(
            handovers, 'handover_accepted', 'ev_station.msg_text_accepted')

    @classmethod
    @ModelView.button
    @Workflow.transition('completed')
    def complete(cls, handovers):
        cls.check_receiver(handovers)
        cls.write(handovers, {
                'closed_at': datetime.datetime.now(),
                'completed_by': Transaction().user or None,
                })
        cls._log_transition(
            handovers, 'handover_completed', 'ev_station.msg_text_completed')
        cls._release_next_step(handovers)

    @classmethod
    def open_for_work(cls, station_works):
        """The open handovers asking for the work of `station_works`, pairs
        of station id and work key"""
        station_works = {(int(s), w) for s, w in station_works if w}
        if not station_works:
            return []
        with without_check_access():
            handovers = cls.search([
                    ('state', 'in', OPEN_STATES),
                    ('work', 'in', list({w for _, w in station_works})),
                    ('station', 'in', list({s for s, _ in station_works})),
                    ])
        return [h for h in handovers
            if (h.station.id, h.work) in station_works]

    @classmethod
    def complete_work(cls, entries):
        """The steps of `entries` did the work their `completes` names: the
        open handovers that asked for it are completed by the system, on
        behalf of each entry's author (whoever the receiver is), and say so
        in the log"""
        by_work = {}
        for handover in cls.open_for_work(
                (e.station.id, e.completes) for e in entries):
            by_work.setdefault(
                (handover.station.id, handover.work), []).append(handover)
        completed = []
        for entry in entries:
            handovers = by_work.pop((entry.station.id, entry.completes), [])
            if handovers:
                cls._completed_by_step(handovers, entry)
                completed.extend(handovers)
        cls._release_next_step(completed)
        return completed

    @classmethod
    @Workflow.transition('completed')
    def _completed_by_step(cls, handovers, entry):
        cls.write(handovers, {
                'closed_at': datetime.datetime.now(),
                'completed_by': entry.author.id if entry.author else None,
                'completed_entry': entry.id,
                })
        for handover in handovers:
            handover.station.record_event('handover_completed',
                gettext('ev_station.msg_text_completed_by_step',
                    receiver=handover.receiver.rec_name,
                    forwarder=handover.forwarder.rec_name,
                    action=handover.next_action or '',
                    step=entry.rec_name),
                visibility='internal')

    @classmethod
    def _release_next_step(cls, handovers):
        """A station whose next step was the work of completed handovers
        moves on to its next open handover, or has no next step"""
        pool = Pool()
        Station = pool.get('ev.station')
        done = {}
        for handover in handovers:
            done.setdefault(
                handover.station.id, set()).add(handover.next_action)
        args = []
        for station in Station.browse(list(done)):
            actions = done[station.id]
            if not station.next_step or station.next_step not in actions:
                # A later entry already set another next step
                continue
            with without_check_access():
                # The transition writes the state after its method
                remaining = cls.search([
                        ('station', '=', station.id),
                        ('state', 'in', OPEN_STATES),
                        ('id', 'not in', [h.id for h in handovers]),
                        ], limit=1)
            if remaining:
                values = {
                    'next_step': remaining[0].next_action,
                    'follow_up_date': remaining[0].follow_up_date,
                    }
            else:
                values = {'next_step': None, 'follow_up_date': None}
            args.extend(([station], values))
        if args:
            with without_check_access():
                Station.write(*args)

    @classmethod
    @ModelView.button_action('ev_station.wizard_handover_forward')
    def forward(cls, handovers):
        pass

    @classmethod
    def forward_to(cls, handovers, receiver, follow_up_date,
            next_action=None, text=None):
        """Pass the task on: a new handover from the current receiver

        Returns the new handovers."""
        if not receiver:
            raise HandoverError(gettext('ev_station.msg_handover_no_receiver'))
        cls.check_receiver(handovers)
        with without_check_access():
            return cls._forward_to(
                handovers, receiver, follow_up_date, next_action, text)

    @classmethod
    def _forward_to(cls, handovers, receiver, follow_up_date, next_action,
            text):
        new = []
        for handover in handovers:
            if handover.state not in OPEN_STATES:
                raise HandoverError(gettext(
                        'ev_station.msg_handover_closed',
                        handover=handover.rec_name))
            with Transaction().set_context(ev_handover_parent=handover.id):
                entry = handover.station.record_event('handover_forwarded',
                    text or gettext('ev_station.msg_text_forwarded',
                        receiver=receiver.rec_name,
                        action=next_action or ''),
                    visibility='internal',
                    next_owner=receiver,
                    next_action=next_action,
                    work=handover.work,
                    follow_up_date=follow_up_date)
            new.extend(entry.handovers)
        cls._forwarded(handovers)
        return new

    @classmethod
    @Workflow.transition('forwarded')
    def _forwarded(cls, handovers):
        cls.write(handovers, {'closed_at': datetime.datetime.now()})

    @classmethod
    def notify_overdue(cls):
        """Cron: tell the forwarder and the single point of access about
        handovers past their follow-up date, once per handover"""
        pool = Pool()
        Configuration = pool.get('ev.station.configuration')
        handovers = cls.search([
                ('overdue', '=', True),
                ('escalated_at', '=', None),
                ])
        if not handovers:
            return []
        escalation = Configuration(1).get_escalation_users()
        for handover in handovers:
            users = [handover.forwarder, *escalation]
            if handover.state == 'accepted':
                users.append(handover.receiver)
            description = gettext(
                'ev_station.msg_notification_overdue_description',
                receiver=handover.receiver.rec_name,
                date=handover.follow_up_date,
                action=handover.next_action or '')
            notify(users, [handover],
                gettext('ev_station.msg_notification_overdue',
                    station=handover.station.rec_name),
                description)
            handover.station.record_event('follow_up_overdue', description,
                visibility='internal')
        cls.write(handovers, {'escalated_at': datetime.datetime.now()})
        return handovers


class ForwardStart(ModelView):
    "Forward Handover"
    __name__ = 'ev.station.handover.forward.start'
    __string__ = "Forward Handover"

    receiver = fields.Many2One(
        'res.user', "Receiver", required=True,
        domain=[('id', '!=', Eval('current_user', -1))])
    next_action = fields.Char("Next Action", required=True)
    follow_up_date = fields.Date(
        "Follow-up Date", required=True,
        domain=[If(Eval('today'),
                ('follow_up_date', '>=', Eval('today')), ())])
    text = fields.Text("Note")
    current_user = fields.Many2One('res.user', "Current User", readonly=True)
    today = fields.Date("Today", readonly=True)


class Forward(Wizard):
    "Forward Handover"
    __name__ = 'ev.station.handover.forward'
    __string__ = "Forward Handover"

    start = StateView(
        'ev.station.handover.forward.start',
        'ev_station.handover_forward_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Forward", 'forward', 'tryton-forward', default=True),
            ])
    forward = StateTransition()

    def default_start(self, fields):
        return {
            'current_user': Transaction().user,
            'today': Pool().get('ir.date').today(),
            }

    def transition_forward(self):
        self.model.forward_to(
            self.records, self.start.receiver, self.start.follow_up_date,
            next_action=self.start.next_action, text=self.start.text)
        return 'end'
