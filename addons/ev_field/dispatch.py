# This file is part of the EV operations suite.
"""Dispatch: booking a team, the day call, and the emergency path (backup
teams proposed, reassignment, or a priority reschedule)"""
import datetime as dt
import hashlib

from sql import Select

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.modules.ev_station.notification import notify
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard
from trytond.modules.ev_station.timestamp import Timestamp

from .exceptions import FieldJobError
from .team import BOOKED_STATES, company_timezone, to_local

# The advisory lock keys of the teams' bookings: a namespace of our own in
# the high bits, above Tryton's cron keys (below 10**8), the team id below
TEAM_LOCK = int(hashlib.sha256(b'ev.field.job,team').hexdigest()[:7], 16) << 32
BOOKING_FIELDS = {'team', 'slot_start', 'slot_end'}


class Job(metaclass=PoolMeta):
    __name__ = 'ev.field.job'

    priority = fields.Boolean("Priority", readonly=True,
        help="Rescheduled after an emergency: heads the next-available list.")
    priority_since = Timestamp("Priority Since", readonly=True)
    day_call_at = Timestamp("Day Call At", readonly=True)
    day_call_note = fields.Text("Day Call Note",
        states={'readonly': ~Eval('state').in_(['scheduled'])})
    unavailable_reason = fields.Text("Unavailability Reason",
        states={'readonly': ~Eval('state').in_(['scheduled', 'confirmed'])})
    unavailable_team = fields.Many2One(
        'ev.field.team', "Unavailable Team", readonly=True)
    backup_teams = fields.Function(
        fields.Many2Many('ev.field.team', None, None, "Backup Teams",
            help="Teams with the capability, covering the zone and free "
            "in the slot, least loaded first."),
        'get_backup_teams')
    reassignments = fields.One2Many(
        'ev.field.job.reassignment', 'job', "Reassignments", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'schedule': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'unschedule': {
                    'invisible': Eval('state') != 'scheduled',
                    'depends': ['state'],
                    },
                'confirm_day': {
                    'invisible': Eval('state') != 'scheduled',
                    'depends': ['state'],
                    },
                'mark_unavailable': {
                    'invisible': ~Eval('state').in_(
                        ['scheduled', 'confirmed']),
                    'depends': ['state'],
                    },
                'reassign_wizard': {
                    'invisible': Eval('state') != 'emergency',
                    'depends': ['state'],
                    },
                'priority_reschedule': {
                    'invisible': Eval('state') != 'emergency',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def copy(cls, jobs, default=None):
        default = default.copy() if default else {}
        for name in ['day_call_at', 'unavailable_team', 'reassignments',
                'priority', 'priority_since']:
            default.setdefault(name)
        return super().copy(jobs, default=default)

    @classmethod
    def get_backup_teams(cls, jobs, name):
        result = {}
        for job in jobs:
            result[job.id] = [t for t, _ in job.propose_backups()] \
                if job.state == 'emergency' else []
        return result

    # -- booking checks ---------------------------------------------------

    @classmethod
    def create(cls, vlist):
        cls.lock_teams(v.get('team') for v in vlist if v.get('slot_start'))
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        teams = []
        actions = iter(args)
        for jobs, values in zip(actions, actions):
            if BOOKING_FIELDS & values.keys():
                booking = jobs
            elif values.get('state') in BOOKED_STATES:
                # Entering the constraint: a booking too
                booking = [j for j in jobs if j.state not in BOOKED_STATES]
            else:
                continue
            teams.extend(j.team.id for j in booking if j.team)
            teams.append(values.get('team'))
        cls.lock_teams(teams)
        super().write(*args)

    @classmethod
    def lock_teams(cls, team_ids):
        """Book a team one transaction at a time (PostgreSQL).

        Two transactions inserting overlapping slots of a team at once can
        deadlock in the exclusion check of team_no_overlap, each waiting for
        the other's row. Here the second waits for the first to commit, and
        the constraint then refuses it with its message. The locks are taken
        in team order and held until the transaction ends."""
        team_ids = sorted({int(t) for t in team_ids if t is not None})
        transaction = Transaction()
        database = transaction.database
        if not team_ids or not database.has_select_for():
            return
        cursor = transaction.connection.cursor()
        for team_id in team_ids:
            cursor.execute(*Select([
                        database.lock_id(TEAM_LOCK + team_id, timeout=True)]))

    @classmethod
    def validate(cls, jobs):
        super().validate(jobs)
        for job in jobs:
            if job.state in BOOKED_STATES and job.team:
                job.check_overlap()

    def check_overlap(self):
        "A clear message before the database constraint refuses the slot"
        others = self.search([
                ('id', '!=', self.id),
                ('team', '=', self.team.id),
                ('state', 'in', BOOKED_STATES),
                ('slot_start', '<', self.slot_end),
                ('slot_end', '>', self.slot_start),
                ], limit=1)
        if others:
            other, = others
            raise FieldJobError(gettext(
                    'ev_field.msg_job_team_overlap',
                    job=self.rec_name, team=self.team.rec_name,
                    other=other.rec_name, slot=other.slot_text()))

    def check_schedulable(self):
        if not self.team or not self.slot_start or not self.slot_end:
            raise FieldJobError(gettext(
                    'ev_field.msg_job_schedule_missing', job=self.rec_name))
        if self.slot_end <= self.slot_start:
            raise FieldJobError(gettext(
                    'ev_field.msg_job_slot_order_detail', job=self.rec_name))
        if not self.team.can(self.kind):
            raise FieldJobError(gettext(
                    'ev_field.msg_team_capability', team=self.team.rec_name,
                    kind=self.kind_string))
        if not self.team.covers(self.postal_code):
            raise FieldJobError(gettext(
                    'ev_field.msg_team_zone', team=self.team.rec_name,
                    postal_code=self.postal_code or '-'))
        tz = company_timezone()
        start, end = to_local(self.slot_start, tz), to_local(self.slot_end, tz)
        if (start.date() != end.date() or not self.team.works_on(start.date())
                or start.time() < self.team.work_start
                or end.time() > self.team.work_end):
            raise FieldJobError(gettext(
                    'ev_field.msg_team_not_working', team=self.team.rec_name,
                    slot=self.slot_text()))
        if self.kind == 'survey':
            if self.lead.state not in {'ready_for_survey', 'won'}:
                raise FieldJobError(gettext(
                        'ev_field.msg_survey_lead_not_ready',
                        lead=self.lead.rec_name,
                        stage=self.lead.state_string))
        elif self.kind == 'installation':
            if (self.lead.state != 'won'
                    or not self.survey or self.survey.review != 'ready'):
                raise FieldJobError(gettext(
                        'ev_field.msg_installation_needs_survey',
                        lead=self.lead.rec_name))
        self.check_overlap()

    # -- scheduling -------------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('scheduled')
    def schedule(cls, jobs):
        for job in jobs:
            job.check_schedulable()
        cls.create_lead_stations(jobs)
        cls.write(jobs, {'priority': False, 'priority_since': None})
        for job in jobs:
            job.record(f'{job.kind}_scheduled', job.scheduled_text(),
                completes=job.work_key('reschedule'))

    def scheduled_text(self):
        "The log text of the booking (a module adding a kind adds its text)"
        return gettext(f'ev_field.msg_log_{self.kind}_scheduled',
            job=self.rec_name, team=self.team.rec_name,
            slot=self.slot_text())

    @classmethod
    def create_lead_stations(cls, jobs):
        """The first booked job of a lead creates its Station Records:
        every later step of the job is logged on them"""
        Lead = Pool().get('sale.opportunity')
        with without_check_access():
            Lead.create_stations(Lead.browse(sorted({j.lead.id for j in jobs})))

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def unschedule(cls, jobs):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('confirmed')
    def confirm_day(cls, jobs):
        "The team called the customer on the day: the visit is on"
        pool = Pool()
        Date = pool.get('ir.date')
        now = dt.datetime.now()
        for job in jobs:
            if to_local(job.slot_start).date() != Date.today():
                raise FieldJobError(gettext(
                        'ev_field.msg_job_day_call_not_today',
                        job=job.rec_name, slot=job.slot_text()))
        cls.write(jobs, {'day_call_at': now, 'customer_confirmed': True})
        for job in jobs:
            job.record('field_day_call', gettext(
                    'ev_field.msg_log_day_call', job=job.rec_name,
                    team=job.team.rec_name,
                    note=job.day_call_note or '-'))

    # -- emergencies ------------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('emergency')
    def mark_unavailable(cls, jobs):
        """The team cannot come: Central Ops hears at once, the customer is
        told of the delay, and backup teams are proposed. With no backup the
        job is rescheduled with priority."""
        for job in jobs:
            if not (job.unavailable_reason or '').strip():
                raise FieldJobError(gettext(
                        'ev_field.msg_job_unavailable_reason',
                        job=job.rec_name))
        for job in jobs:
            job.unavailable_team = job.team
            job.team = None
            job.state = 'emergency'
        cls.save(jobs)
        cls.notify_central_ops(jobs)
        no_backup = []
        for job in jobs:
            job.record('team_unavailable', gettext(
                    'ev_field.msg_log_team_unavailable', job=job.rec_name,
                    team=job.unavailable_team.rec_name,
                    reason=job.unavailable_reason),
                **job.handover_values(gettext(
                        'ev_field.msg_action_find_backup',
                        job=job.rec_name), 'find_backup'))
            job.record('job_delayed', gettext(
                    'ev_field.msg_log_job_delayed', job=job.rec_name,
                    kind=job.kind_string))
            if not job.propose_backups():
                no_backup.append(job)
        if no_backup:
            cls.priority_reschedule(no_backup)

    @classmethod
    def notify_central_ops(cls, jobs):
        "A Tryton notification to every Central Ops user, at once"
        Configuration = Pool().get('ev.lead.configuration')
        notify(Configuration(1).get_central_ops_users(), jobs,
            lambda job: gettext('ev_field.msg_notify_unavailable',
                job=job.rec_name,
                team=job.unavailable_team.rec_name
                if job.unavailable_team else '-'),
            lambda job: job.unavailable_reason)

    def propose_backups(self, limit=10):
        "(team id, jobs that day) of the teams that can step in, best first"
        Team = Pool().get('ev.field.team')
        if not (self.slot_start and self.slot_end):
            return []
        with without_check_access():
            candidates = Team.propose_backups(
                self.kind, self.postal_code, self.slot_start, self.slot_end,
                exclude=[self.unavailable_team.id]
                if self.unavailable_team else None, limit=limit)
        return candidates

    @classmethod
    @ModelView.button_action('ev_field.wizard_reassign')
    def reassign_wizard(cls, jobs):
        pass

    @classmethod
    def reassign(cls, jobs, team):
        "Emergency reassignment to a backup team"
        pool = Pool()
        Reassignment = pool.get('ev.field.job.reassignment')
        for job in jobs:
            if job.state != 'emergency':
                raise FieldJobError(gettext(
                        'ev_field.msg_job_not_emergency', job=job.rec_name))
            if team.id not in [t for t, _ in job.propose_backups(limit=None)]:
                raise FieldJobError(gettext(
                        'ev_field.msg_job_backup_not_free', job=job.rec_name,
                        team=team.rec_name))
        Reassignment.save([Reassignment(
                    job=job, from_team=job.unavailable_team, to_team=team,
                    kind='emergency', reason=job.unavailable_reason)
                for job in jobs])
        cls.write(jobs, {'team': team.id})
        cls._emergency_scheduled(jobs)
        for job in jobs:
            job.record('emergency_reassigned', gettext(
                    'ev_field.msg_log_emergency_reassigned',
                    job=job.rec_name, team=team.rec_name,
                    slot=job.slot_text()),
                completes=job.work_key('find_backup'))

    @classmethod
    @Workflow.transition('scheduled')
    def _emergency_scheduled(cls, jobs):
        for job in jobs:
            job.check_schedulable()

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def priority_reschedule(cls, jobs):
        "No backup: the job waits at the head of the next-available list"
        cls.write(jobs, {
                'priority': True,
                'priority_since': dt.datetime.now(),
                'customer_confirmed': False,
                })
        for job in jobs:
            job.record('priority_rescheduled', gettext(
                    'ev_field.msg_log_priority_rescheduled',
                    job=job.rec_name, kind=job.kind_string),
                # No backup: the search for one ends here
                completes=job.work_key('find_backup'),
                **job.handover_values(gettext(
                        'ev_field.msg_action_reschedule', job=job.rec_name),
                    'reschedule'))

    @classmethod
    def next_available(cls, kind=None):
        "Jobs to schedule, priority ones first (oldest emergency first)"
        domain = [('state', '=', 'draft')]
        if kind:
            domain.append(('kind', '=', kind))
        return cls.search(domain, order=[
                ('priority', 'DESC'), ('priority_since', 'ASC NULLS LAST'),
                ('id', 'ASC')])


class Reassignment(ModelSQL, ModelView):
    __name__ = 'ev.field.job.reassignment'
    __string__ = "Job Reassignment"

    job = fields.Many2One('ev.field.job', "Job", required=True,
        ondelete='CASCADE', readonly=True)
    from_team = fields.Many2One('ev.field.team', "From Team", readonly=True)
    to_team = fields.Many2One('ev.field.team', "To Team", readonly=True)
    kind = fields.Selection([
            ('emergency', "Emergency"),
            ('planned', "Planned"),
            ], "Kind", readonly=True)
    reason = fields.Text("Reason", readonly=True)
    create_uid_name = fields.Function(
        fields.Char("By"), 'get_create_uid_name')

    def get_create_uid_name(self, name):
        return self.create_uid.rec_name if self.create_uid else None


class ReassignStart(ModelView):
    __name__ = 'ev.field.job.reassign.start'
    __string__ = "Emergency Reassignment"

    job = fields.Many2One('ev.field.job', "Job", readonly=True)
    candidates = fields.Many2Many('ev.field.team', None, None, "Candidates",
        readonly=True)
    team = fields.Many2One('ev.field.team', "Backup Team", required=True,
        domain=[('id', 'in', Eval('candidates', []))])


class Reassign(Wizard):
    __name__ = 'ev.field.job.reassign'
    start = StateView('ev.field.job.reassign.start',
        'ev_field.job_reassign_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Reassign", 'reassign', 'tryton-ok', default=True),
            ])
    reassign = StateTransition()

    def default_start(self, fields):
        candidates = [t for t, _ in self.record.propose_backups()]
        return {
            'job': self.record.id,
            'candidates': candidates,
            'team': candidates[0] if candidates else None,
            }

    def transition_reassign(self):
        self.model.reassign([self.record], self.start.team)
        return 'end'
