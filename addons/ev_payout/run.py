# This file is part of the EV operations suite.
"""A payout run: what one team is paid for one period (or one job).

The cron drafts a run when a team's period ends (per-job teams: when a job
becomes payable); Central Ops sends it to the team, whose users confirm or
dispute its lines within the sign-off window (silence confirms); Finance
posts it: a supplier invoice on the team's contractor and a payment of it
(accounting.py). A disputed line leaves the run; the rest is paid."""
import datetime as dt
from decimal import Decimal

from sql import Literal
from sql.aggregate import Sum
from sql.conditionals import Case

from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import AccessError
from trytond.modules.ev_station.notification import group_users, notify
from trytond.modules.ev_station.timestamp import Timestamp
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .exceptions import PayoutError
from .period import FREQUENCIES, ONE_DAY, ended_periods

STATES = [
    ('draft', "Draft"),
    ('sign_off', "Waiting for Sign-off"),
    ('signed', "Signed Off"),
    ('posted', "Posted"),
    ('paid', "Paid"),
    ('cancelled', "Cancelled"),
    ]
# The line states counted in a run's amounts (a disputed line left it)
COUNTED = ('proposed', 'confirmed')


class Run(Workflow, ModelSQL, ModelView):
    __name__ = 'ev.payout.run'
    __string__ = "Payout Run"
    _rec_name = 'number'
    _history = True

    number = fields.Char("Number", readonly=True)
    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    team = fields.Many2One('ev.field.team', "Team", required=True,
        readonly=True, ondelete='RESTRICT')
    frequency = fields.Selection(FREQUENCIES, "Schedule", required=True,
        readonly=True)
    period_start = fields.Date("From", required=True, readonly=True)
    period_end = fields.Date("To", required=True, readonly=True,
        domain=[('period_end', '>=', Eval('period_start'))])
    job = fields.Many2One('ev.field.job', "Job", readonly=True,
        ondelete='RESTRICT',
        states={'invisible': Eval('frequency') != 'job'},
        help="The job a per-job run pays.")
    key = fields.Char("Key", readonly=True,
        help="The period or job the run pays: one run each.")
    currency = fields.Many2One('currency.currency', "Currency", required=True,
        readonly=True)
    lines = fields.One2Many('ev.payout.line', 'run', "Lines", readonly=True)
    gross = fields.Function(fields.Numeric("Earned", digits=(16, 2),
            help="Labour, extras, visits, adjustments and released holds."),
        'get_amounts')
    deductions = fields.Function(fields.Numeric("Deducted", digits=(16, 2),
            help="Active holds on parts not returned."), 'get_amounts')
    disputed = fields.Function(fields.Numeric("Disputed", digits=(16, 2),
            help="Lines the team disputed: they left the run."),
        'get_amounts')
    net = fields.Function(fields.Numeric("Net", digits=(16, 2)),
        'get_amounts')
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)
    sent_at = Timestamp("Sent to Team At", readonly=True)
    signoff_deadline = fields.DateTime("Sign-off Until", readonly=True)
    signed_at = Timestamp("Signed Off At", readonly=True)
    posted_at = Timestamp("Posted At", readonly=True)
    posted_by = fields.Many2One('res.user', "Posted By", readonly=True)
    payee = fields.Char("Paid To", readonly=True,
        help="The team's UPI ID or bank account when the run was posted.")
    invoice = fields.Many2One('account.invoice', "Supplier Invoice",
        readonly=True, ondelete='RESTRICT')
    payment = fields.Many2One('account.payment', "Payment", readonly=True,
        ondelete='RESTRICT')
    utr = fields.Function(fields.Char("UTR"), 'get_utr')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('key_unique', Unique(t, t.team, t.key),
                'ev_payout.msg_run_key_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.team, Index.Equality()),
                    (t.period_end, Index.Range())),
                Index(t, (t.state, Index.Equality(cardinality='low')),
                    where=t.state.in_(['draft', 'sign_off', 'signed',
                            'posted'])),
                })
        cls._order = [('period_end', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'sign_off'),
            ('sign_off', 'signed'),
            ('signed', 'posted'),
            ('posted', 'paid'),
            ('draft', 'cancelled'),
            }
        cls._buttons.update({
                'send': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'confirm_all': {
                    'invisible': Eval('state') != 'sign_off',
                    'depends': ['state'],
                    },
                'post': {
                    'invisible': Eval('state') != 'signed',
                    'depends': ['state'],
                    },
                'pay': {
                    'invisible': Eval('state') != 'posted',
                    'depends': ['state'],
                    },
                'cancel': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    def get_rec_name(self, name):
        return f'{self.number} ({self.team.code})'

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        bool_op = 'AND' if operator.startswith('!') or operator.startswith(
            'not ') else 'OR'
        return [bool_op,
            ('number', operator, operand, *extra),
            ('team.rec_name', operator, operand, *extra),
            ]

    @classmethod
    def get_amounts(cls, runs, names):
        "The run's totals in one query"
        Line = Pool().get('ev.payout.line')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        zero = Decimal(0)
        result = {n: {r.id: zero for r in runs} for n in names}
        counted = line.state.in_(COUNTED)
        for sub_ids in grouped_slice([r.id for r in runs], 1000):
            cursor.execute(*line.select(line.run,
                    Sum(Case((counted & (line.amount > 0), line.amount),
                            else_=Literal(0))),
                    Sum(Case((counted & (line.amount < 0), line.amount),
                            else_=Literal(0))),
                    Sum(Case((line.state == 'disputed', line.amount),
                            else_=Literal(0))),
                    where=line.run.in_(list(sub_ids)),
                    group_by=[line.run]))
            for run_id, gross, deductions, disputed in cursor:
                values = {
                    'gross': Decimal(str(gross or 0)),
                    'deductions': Decimal(str(deductions or 0)),
                    'disputed': Decimal(str(disputed or 0)),
                    }
                values['net'] = values['gross'] + values['deductions']
                for name in names:
                    result[name][run_id] = values[name].quantize(
                        Decimal('0.01'))
        return result

    def get_utr(self, name):
        return self.payment.ev_utr if self.payment else None

    @classmethod
    def check_modification(cls, mode, runs, values=None, external=False):
        super().check_modification(
            mode, runs, values=values, external=external)
        # Only the cycle's own empty drafts go (see _create_team_runs)
        if mode == 'delete' and any(r.state != 'draft' or r.lines
                for r in runs):
            raise AccessError(gettext('ev_payout.msg_run_delete'))

    @classmethod
    def copy(cls, runs, default=None):
        "A copy is a new draft of the team, without lines or key"
        default = default.copy() if default else {}
        for name in ['number', 'key', 'job', 'lines', 'sent_at',
                'signoff_deadline', 'signed_at', 'posted_at', 'posted_by',
                'payee', 'invoice', 'payment']:
            default.setdefault(name)
        default.setdefault('state', 'draft')
        return super().copy(runs, default=default)

    # -- drafting ----------------------------------------------------------

    @classmethod
    def create_runs(cls, today=None, teams=None):
        """Draft the runs of every period that ended and of every job that
        became payable under a per-job schedule. Idempotent: a period or
        job has one run (the teams are locked while drafting and a unique
        key backs it), so running it twice, or twice at once, creates one."""
        pool = Pool()
        Team = pool.get('ev.field.team')
        Schedule = pool.get('ev.payout.schedule')
        today = today or pool.get('ir.date').today()
        schedule = Schedule.__table__()
        cursor = Transaction().connection.cursor()
        where = schedule.valid_from <= today
        if teams is not None:
            where &= schedule.team.in_([t.id for t in teams] or [-1])
        cursor.execute(*schedule.select(schedule.team,
                where=where, group_by=[schedule.team]))
        team_ids = sorted(t for t, in cursor)
        # All at once: Tryton 8 takes the locks by starting the transaction
        # again, once
        Team.lock(Team.browse(team_ids))
        runs = []
        for sub_ids in grouped_slice(team_ids, 200):
            with without_check_access():
                teams = Team.browse(list(sub_ids))
                runs.extend(cls._create_team_runs(teams, today))
        return runs

    @classmethod
    def _create_team_runs(cls, teams, today):
        pool = Pool()
        Team = pool.get('ev.field.team')
        Schedule = pool.get('ev.payout.schedule')
        Line = pool.get('ev.payout.line')
        history = Schedule.history([t.id for t in teams])
        to_create, drafted = [], {}
        for team in teams:
            schedules = history[team.id]
            if not schedules:
                continue
            until = team.payout_drafted_until
            start = until + ONE_DAY if until else schedules[0][0]
            for period_start, period_end, frequency in ended_periods(
                    schedules, start, today):
                to_create.append(cls._new(team, frequency, period_start,
                        period_end, str(period_start)))
                drafted[team] = period_end
        for team, job, date in Line.per_job_payable(teams, history):
            to_create.append(cls._new(team, 'job', date, date,
                    f'job-{job}', job=job))
        if not to_create:
            return []
        runs = cls.create(to_create)
        Line.gather(runs)
        # A period with nothing to pay leaves no run, only the watermark
        filled = cls._with_lines(runs)
        empty = [r for r in runs if r.id not in filled]
        cls.delete(empty)
        by_end = {}
        for team, period_end in drafted.items():
            by_end.setdefault(period_end, []).append(team)
        for period_end, ended in by_end.items():
            Team.write(ended, {'payout_drafted_until': period_end})
        return [r for r in runs if r.id in filled]

    @classmethod
    def _with_lines(cls, runs, state=None):
        "The ids of the runs with lines (in `state`), in one query"
        Line = Pool().get('ev.payout.line')
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        found = set()
        where = Literal(True)
        if state:
            where &= line.state == state
        for sub_ids in grouped_slice([r.id for r in runs], 1000):
            cursor.execute(*line.select(line.run,
                    where=where & line.run.in_(list(sub_ids)),
                    group_by=[line.run]))
            found.update(r for r, in cursor)
        return found

    @classmethod
    def _new(cls, team, frequency, start, end, key, job=None):
        return {
            'company': team.company.id,
            'team': team.id,
            'frequency': frequency,
            'period_start': start,
            'period_end': end,
            'key': key,
            'job': job,
            'currency': team.company.currency.id,
            }

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Configuration = pool.get('ev.payout.configuration')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and not values.get('number'):
            values['number'] = Configuration(1).run_sequence.get()
        return values

    # -- sign-off ----------------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('sign_off')
    def send(cls, runs):
        "Central Ops sends the run to the team for sign-off"
        Configuration = Pool().get('ev.payout.configuration')
        hours = Configuration(1).signoff_hours
        now = dt.datetime.now()
        filled = cls._with_lines(runs)
        for run in runs:
            if run.id not in filled:
                raise PayoutError(gettext('ev_payout.msg_run_empty',
                        run=run.rec_name))
        cls.write(runs, {
                'sent_at': now,
                'signoff_deadline': now + dt.timedelta(hours=hours),
                })
        for run in runs:
            notify(run.team_users(), [run],
                lambda r: gettext('ev_payout.msg_notify_signoff',
                    run=r.rec_name, net=r.net, currency=r.currency.code,
                    deadline=r.signoff_deadline.strftime('%Y-%m-%d %H:%M')))

    def team_users(self):
        User = Pool().get('res.user')
        employees = [e.id for e in self.team.members]
        if not employees:
            return []
        with without_check_access():
            return User.search(['OR',
                    ('employees', 'in', employees),
                    ('employee', 'in', employees),
                    ])

    @classmethod
    @ModelView.button
    def confirm_all(cls, runs):
        "The team confirms every line it has not disputed"
        Line = Pool().get('ev.payout.line')
        lines = [l for r in runs for l in r.lines if l.state == 'proposed']
        for run in runs:
            if run.state != 'sign_off':
                raise PayoutError(gettext('ev_payout.msg_run_not_sign_off',
                        run=run.rec_name))
        Line.confirm(lines)

    @classmethod
    def check_signed(cls, runs):
        "A run none of whose lines waits for the team is signed off"
        waiting = cls._with_lines(runs, state='proposed')
        done = [r for r in runs if r.state == 'sign_off'
            and r.id not in waiting]
        if done:
            # The team's last answer signs the run off: its users may not
            # write runs, the line's button was their door
            with without_check_access():
                cls.sign(cls.browse(done))

    @classmethod
    @Workflow.transition('signed')
    def sign(cls, runs):
        cls.write(runs, {'signed_at': dt.datetime.now()})
        notify(group_users('ev_station.group_finance'), runs,
            lambda r: gettext('ev_payout.msg_notify_signed',
                run=r.rec_name, net=r.net, currency=r.currency.code))

    @classmethod
    def close_signoff(cls, now=None):
        """Past the window, silence confirms: the lines still proposed are
        confirmed and the run is signed off"""
        Line = Pool().get('ev.payout.line')
        now = now or dt.datetime.now()
        with without_check_access():
            runs = cls.search([
                    ('state', '=', 'sign_off'),
                    ('signoff_deadline', '<=', now),
                    ])
            Line.confirm_silence(runs)
            cls.check_signed(runs)
        return runs

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, runs):
        "The lines go back to pending; the period may be drafted again"
        Line = Pool().get('ev.payout.line')
        Line.release([l for r in runs for l in r.lines])
        cls.write(runs, {'key': None})

    # -- cron --------------------------------------------------------------

    @classmethod
    def run_cycle(cls):
        "The cron: draft the runs that are due, close the sign-offs"
        cls.create_runs()
        cls.close_signoff()
