# This file is part of the EV operations suite.
"""Payout lines: what a team earned or owes, one line per source.

A source (a payable job's labour or extras, a reported service visit, a
hold placed or released, a settled dispute) gives at most one line of each
kind, ever: a unique key on (kind, origin) makes paying twice impossible.
Lines without a run are pending (manual adjustments, dispute settlements)
and join the team's next run. The team confirms or disputes a line; it
never changes an amount."""
import datetime as dt
from decimal import Decimal

from sql import Cast, Literal, Null
from sql.functions import CurrentTimestamp
from sql.operators import Concat, Exists

from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import AccessError
from trytond.modules.ev_station.bulk import invalidate_cache, sql_update
from trytond.modules.ev_station.notification import notify
from trytond.modules.ev_station.timestamp import Timestamp
from trytond.pool import Pool
from trytond.pyson import Bool, Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .exceptions import PayoutError, PayoutValidationError
from .period import period_from

KINDS = [
    ('labour', "Labour"),
    ('extra', "Agreed Extra"),
    ('visit', "Service Visit"),
    ('adjustment', "Adjustment"),
    ('hold', "Hold Deducted"),
    ('hold_release', "Hold Paid Back"),
    ('settlement', "Dispute Settlement"),
    ]
# The order of the lines of a run's invoice
COUNTED_KINDS_ORDER = [k for k, _ in KINDS]
STATES = [
    ('proposed', "Proposed"),
    ('confirmed', "Confirmed"),
    ('disputed', "Disputed"),
    ]


class Line(Workflow, ModelSQL, ModelView):
    __name__ = 'ev.payout.line'
    __string__ = "Payout Line"
    _history = True

    run = fields.Many2One('ev.payout.run', "Run", readonly=True,
        ondelete='RESTRICT',
        domain=[('team', '=', Eval('team', -1))],
        help="Empty while the line waits for the team's next run.")
    team = fields.Many2One('ev.field.team', "Team", required=True,
        ondelete='RESTRICT',
        states={'readonly': Eval('id', -1) >= 0})
    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    currency = fields.Many2One('currency.currency', "Currency",
        required=True, readonly=True)
    kind = fields.Selection(KINDS, "Kind", required=True, readonly=True)
    origin = fields.Reference("Origin", selection='get_origins',
        readonly=True)
    date = fields.Date("Date", required=True,
        states={'readonly': Eval('id', -1) >= 0},
        help="When the work was payable or the hold changed.")
    description = fields.Char("Description", required=True,
        states={'readonly': Eval('id', -1) >= 0})
    amount = fields.Numeric("Amount", digits=(16, 2), required=True,
        states={'readonly': Eval('id', -1) >= 0},
        help="Paid to the team; negative when deducted.")
    adjusts = fields.Many2One('ev.payout.line', "Adjusts",
        ondelete='RESTRICT',
        domain=[
            ('team', '=', Eval('team', -1)),
            ('kind', '!=', 'adjustment'),
            ],
        states={
            'readonly': Eval('id', -1) >= 0,
            'invisible': Eval('kind') != 'adjustment',
            'required': (Eval('kind') == 'adjustment')
            & (Eval('amount', 0) < 0),
            },
        help="The line a negative adjustment corrects.")
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)
    dispute = fields.Many2One('ev.dispute', "Dispute", readonly=True,
        ondelete='RESTRICT')
    confirmed_by = fields.Many2One('res.user', "Confirmed By",
        readonly=True)
    confirmed_at = Timestamp("Confirmed At", readonly=True)
    silent = fields.Boolean("Confirmed by Silence", readonly=True,
        states={'invisible': ~Bool(Eval('silent'))})

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('origin_unique', Unique(t, t.kind, t.origin),
                'ev_payout.msg_line_origin_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.run, Index.Range())),
                Index(t, (t.origin, Index.Equality())),
                Index(t, (t.team, Index.Equality()),
                    where=t.run == Null),
                })
        cls._order = [('date', 'ASC'), ('id', 'ASC')]
        cls._transitions |= {
            ('proposed', 'confirmed'),
            ('proposed', 'disputed'),
            }
        cls._buttons.update({
                'confirm_line': {
                    'invisible': Eval('state') != 'proposed',
                    'depends': ['state'],
                    },
                'dispute_line': {
                    'invisible': Eval('state') != 'proposed',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'proposed'

    @classmethod
    def default_kind(cls):
        return 'adjustment'

    @classmethod
    def default_date(cls):
        return Pool().get('ir.date').today()

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_currency(cls):
        Company = Pool().get('company.company')
        company = Transaction().context.get('company')
        if company is not None and company >= 0:
            return Company(company).currency.id

    @classmethod
    def get_origins(cls):
        IrModel = Pool().get('ir.model')
        models = cls._get_origin()
        return [(None, '')] + [(m, IrModel.get_name(m)) for m in models]

    @classmethod
    def _get_origin(cls):
        return ['ev.field.job', 'ev.service.hold', 'ev.dispute']

    def get_rec_name(self, name):
        return f'{self.description} ({self.amount:.2f})'

    # -- rules -------------------------------------------------------------

    @classmethod
    def check_adjustment(cls, values):
        """A negative adjustment corrects a line and takes at most all of
        it: checked on the values, before anything is written"""
        if values.get('kind', 'adjustment') != 'adjustment':
            return
        description = values.get('description') or ''
        amount = values.get('amount')
        if amount is None:
            return
        if amount == 0:
            raise PayoutValidationError(gettext(
                    'ev_payout.msg_adjustment_zero', line=description))
        if amount < 0:
            if not values.get('adjusts'):
                raise PayoutValidationError(gettext(
                        'ev_payout.msg_adjustment_needs_line',
                        line=description))
            adjusts = cls(values['adjusts'])
            if -amount > adjusts.amount:
                raise PayoutValidationError(gettext(
                        'ev_payout.msg_adjustment_beyond_line',
                        amount=f'{-amount:.2f}', line=adjusts.rec_name,
                        line_amount=f'{adjusts.amount:.2f}'))

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create' and values.get('kind', 'adjustment') == (
                'adjustment'):
            Run = Pool().get('ev.payout.run')
            if values.get('run') and Run(values['run']).state != 'draft':
                raise PayoutError(gettext('ev_payout.msg_adjustment_run_state',
                        run=Run(values['run']).rec_name))
            if not (values.get('description') or '').strip():
                raise PayoutValidationError(gettext(
                        'ev_payout.msg_adjustment_reason'))
            cls.check_adjustment(values)
        return values

    @classmethod
    def check_modification(cls, mode, lines, values=None, external=False):
        super().check_modification(
            mode, lines, values=values, external=external)
        if mode == 'delete':
            for line in lines:
                if line.kind != 'adjustment' or line.run:
                    raise AccessError(gettext('ev_payout.msg_line_delete',
                            line=line.rec_name))
        if mode == 'write' and external and {
                'amount', 'team', 'date', 'adjusts'} & set(values):
            for line in lines:
                if line.kind != 'adjustment' or line.run:
                    raise AccessError(gettext(
                            'ev_payout.msg_line_amount_fixed',
                            line=line.rec_name))

    # -- gathering ---------------------------------------------------------

    @classmethod
    def per_job_payable(cls, teams, history):
        """(team, job id, date) of the payable jobs not yet paid whose team
        was on a per-job schedule that day"""
        Job = Pool().get('ev.field.job')
        job = Job.__table__()
        line = cls.__table__()
        cursor = Transaction().connection.cursor()
        per_job = [t for t in teams
            if any(f == 'job' for _, f in history[t.id])]
        if not per_job:
            return []
        by_id = {t.id: t for t in per_job}
        paid = line.select(line.id, where=(line.kind == 'labour')
            & (line.origin == _reference('ev.field.job', job.id)))
        cursor.execute(*job.select(job.id, job.team, job.payable_at,
                where=job.team.in_(list(by_id))
                & (job.payable == Literal(True)) & ~Exists(paid),
                order_by=[job.payable_at, job.id]))
        result = []
        for job_id, team_id, payable_at in cursor:
            date = payable_at.date()
            frequency, _ = period_from(history[team_id], date)
            if frequency == 'job':
                result.append((by_id[team_id], job_id, date))
        return result

    @classmethod
    def gather(cls, runs):
        """Fill new runs, set-based: one statement per kind of line for all
        the runs. Each source (a payable job's labour and extras, a service
        visit, a hold placed or released, a pending line) goes to the first
        new run of its team that covers it: a period ending on or after its
        date, or the per-job run of its job (holds and pending lines: any
        per-job run)."""
        line = cls.__table__()
        cursor = Transaction().connection.cursor()
        if not runs:
            return
        run_ids = sorted(r.id for r in runs)
        team_ids = sorted({r.team.id for r in runs})
        for query in cls._gather_queries(run_ids, team_ids):
            cursor.execute(*query)
        # Pending lines (adjustments, settlements): a few per team
        cursor.execute(*line.select(line.id, line.team, line.date,
                where=(line.run == Null) & line.team.in_(team_ids)))
        pending = cursor.fetchall()
        if pending:
            by_team = {}
            for r in sorted(runs, key=lambda r: r.id):
                by_team.setdefault(r.team.id, []).append(r)
            moves = {}
            for line_id, team_id, date in pending:
                if isinstance(date, str):
                    date = dt.date.fromisoformat(date)
                for r in by_team[team_id]:
                    if r.job or r.period_end >= date:
                        moves.setdefault(r.id, []).append(line_id)
                        break
            for run_id, line_ids in moves.items():
                cursor.execute(*line.update([line.run], [run_id],
                        where=line.id.in_(line_ids)))
        # The history of the lines starts with their run (ModelSQL.create
        # would have written it)
        cursor.execute(*line.select(line.id, where=line.run.in_(run_ids)))
        line_ids = [i for i, in cursor]
        for sub_ids in grouped_slice(line_ids, 1000):
            cls._insert_history(list(sub_ids))
        invalidate_cache(cls.__name__)

    @classmethod
    def _gather_queries(cls, run_ids, team_ids):
        pool = Pool()
        Job = pool.get('ev.field.job')
        Hold = pool.get('ev.service.hold')
        Run = pool.get('ev.payout.run')
        Team = pool.get('ev.field.team')
        line = cls.__table__()
        job = Job.__table__()
        hold = Hold.__table__()
        user = Transaction().user
        columns = [line.run, line.team, line.company, line.currency,
            line.kind, line.origin, line.date, line.description, line.amount,
            line.state, line.create_uid, line.create_date]

        def first_run(team_where, date, job_id=None, any_job=False,
                periods=True):
            """The first new run of the team(s) covering `date` (or the
            job's own run)"""
            run = Run.__table__()
            team = Team.__table__()
            covers = Literal(False)
            if periods:
                covers |= (run.job == Null) & (run.period_end >= date)
            if job_id is not None:
                covers |= run.job == job_id
            if any_job:
                covers |= run.job != Null
            return run.join(team, condition=run.team == team.id).select(
                run.id, where=run.id.in_(run_ids) & team_where(team)
                & covers, order_by=[run.id.asc], limit=1)

        def insert(kind, source, origin_model, date, description, amount,
                where, team_where, **covers):
            "INSERT the lines of `kind` from the rows of `source`"
            target = source.select(source.id.as_('source'),
                first_run(team_where, date, **covers).as_('run'),
                date.as_('date'), description.as_('description'),
                amount.as_('amount'),
                where=where & ~Exists(line.select(line.id,
                        where=(line.kind == kind)
                        & (line.origin == _reference(
                                origin_model, source.id)))))
            run = Run.__table__()
            return line.insert(columns, target.join(run,
                    condition=run.id == target.run).select(
                    run.id, run.team, run.company, run.currency,
                    Literal(kind), _reference(origin_model, target.source),
                    target.date, target.description, target.amount,
                    Literal('proposed'), Literal(user), CurrentTimestamp()))

        def job_team(team):
            return team.id == job.team

        payable = (job.team.in_(team_ids) & (job.payable == Literal(True))
            & (job.payable_at != Null))
        payable_on = to_date(job.payable_at)
        prefix = gettext('ev_payout.msg_line_labour')
        yield insert('labour', job, 'ev.field.job', payable_on,
            Concat(prefix + ' ', job.number), job.cost_labour,
            payable & (job.cost_labour > 0), job_team, job_id=job.id)
        prefix = gettext('ev_payout.msg_line_extra')
        yield insert('extra', job, 'ev.field.job', payable_on,
            Concat(Concat(Concat(prefix + ' ', job.number), ': '),
                job.payout_extra_reason),
            job.payout_extra,
            payable & (job.payout_extra > 0), job_team, job_id=job.id)
        # Service visits: teams with a rate, in their period runs
        team = Team.__table__()
        rated = team.select(team.id, where=team.id.in_(team_ids)
            & (team.visit_rate > 0))
        prefix = gettext('ev_payout.msg_line_visit')
        rate = team.select(team.visit_rate, where=team.id == job.team)
        yield insert('visit', job, 'ev.field.job', to_date(job.reported_at),
            Concat(prefix + ' ', job.number), rate,
            job.team.in_(rated) & (job.kind == 'service')
            & (job.reported_at != Null)
            & job.state.in_(['done', 'commissioned', 'closed']), job_team)

        # Holds are on the contractor of the team(s)
        team = Team.__table__()
        contractors = team.select(team.contractor,
            where=team.id.in_(team_ids) & (team.contractor != Null))

        def hold_team(team):
            return team.contractor == hold.party
        prefix = gettext('ev_payout.msg_line_hold')
        yield insert('hold', hold, 'ev.service.hold', to_date(hold.placed_at),
            Concat(prefix + ' ', hold.reason), -hold.amount,
            hold.party.in_(contractors) & (hold.state == 'active')
            & (hold.amount > 0), hold_team, any_job=True)
        prefix = gettext('ev_payout.msg_line_hold_release')
        deducted = Exists(line.select(line.id,
                where=(line.kind == 'hold')
                & (line.origin == _reference('ev.service.hold', hold.id))
                & (line.state != 'disputed')))
        yield insert('hold_release', hold, 'ev.service.hold',
            to_date(hold.released_at),
            Concat(prefix + ' ', hold.release_reason), hold.amount,
            hold.party.in_(contractors) & (hold.state == 'released')
            & (hold.released_at != Null) & deducted, hold_team,
            any_job=True)

    # -- sign-off ----------------------------------------------------------

    @classmethod
    @ModelView.button
    def confirm_line(cls, lines):
        cls.confirm(lines)

    @classmethod
    @ModelView.button_action('ev_payout.wizard_dispute')
    def dispute_line(cls, lines):
        pass

    @classmethod
    def check_sign_off(cls, lines):
        for line in lines:
            if (line.state != 'proposed' or not line.run
                    or line.run.state != 'sign_off'):
                raise PayoutError(gettext('ev_payout.msg_line_not_open',
                        line=line.rec_name,
                        run=line.run.rec_name if line.run else '-'))

    @classmethod
    def confirm(cls, lines, silent=False):
        """The team accepts the lines (or let the window pass). The button
        is the door: the team's users may not write lines, so the write is
        done here after the button checked their record rules."""
        Run = Pool().get('ev.payout.run')
        if not lines:
            return
        cls.check_sign_off(lines)
        with without_check_access():
            cls._confirm(lines, silent)
        Run.check_signed(list({l.run for l in lines}))

    @classmethod
    def confirm_silence(cls, runs):
        """The window closed: every line of the runs still proposed is
        confirmed by silence, in one statement (a cycle confirms tens of
        thousands), with its history row as the workflow would write it"""
        line = cls.__table__()
        cursor = Transaction().connection.cursor()
        ids = []
        for sub_ids in grouped_slice([r.id for r in runs], 1000):
            cursor.execute(*line.select(line.id,
                    where=line.run.in_(list(sub_ids))
                    & (line.state == 'proposed')))
            ids.extend(i for i, in cursor)
        sql_update(cls, ids, {
                line.state: 'confirmed',
                line.confirmed_by: None,
                line.confirmed_at: dt.datetime.now(),
                line.silent: Literal(True),
                }, where=lambda t: t.state == 'proposed')

    @classmethod
    @Workflow.transition('confirmed')
    def _confirm(cls, lines, silent):
        cls.write(lines, {
                'confirmed_by': None if silent else Transaction().user,
                'confirmed_at': dt.datetime.now(),
                'silent': silent,
                })

    @classmethod
    @Workflow.transition('disputed')
    def _freeze(cls, lines):
        pass

    def open_dispute(self, reason, claimed_amount=None):
        """Freeze the line and open its dispute; the rest of the run goes
        on without it"""
        pool = Pool()
        Dispute = pool.get('ev.dispute')
        Run = pool.get('ev.payout.run')
        Configuration = pool.get('ev.payout.configuration')
        self.check_sign_off([self])
        if not (reason or '').strip():
            raise PayoutValidationError(gettext(
                    'ev_payout.msg_dispute_reason', line=self.rec_name))
        if claimed_amount is not None and claimed_amount < 0:
            raise PayoutValidationError(gettext(
                    'ev_payout.msg_dispute_claimed_negative',
                    line=self.rec_name))
        config = Configuration(1)
        owner = config.dispute_owner or self.team.manager
        with without_check_access():
            dispute, = Dispute.create([{
                        'company': self.company.id,
                        'origin': str(self),
                        'party': self.team.contractor.id
                        if self.team.contractor else None,
                        'owner': owner.id if owner else None,
                        'reason': reason.strip(),
                        'claimed_amount': claimed_amount,
                        'currency': self.currency.id,
                        }])
            self.__class__._freeze([self])
            self.__class__.write([self], {'dispute': dispute.id})
        if owner:
            notify([owner], [dispute],
                lambda d: gettext('ev_payout.msg_notify_dispute',
                    line=self.rec_name, run=self.run.rec_name,
                    team=self.team.rec_name, reason=d.reason))
        Run.check_signed([self.run])
        return dispute

    def dispute_resolved(self, dispute):
        """The dispute's outcome is a settlement line in the team's next
        run: the agreed amount when accepted, the original when rejected"""
        if dispute.state == 'accepted':
            amount = dispute.agreed_amount or Decimal(0)
            text = gettext('ev_payout.msg_line_settlement_accepted',
                line=self.description, dispute=dispute.rec_name)
        else:
            amount = self.amount
            text = gettext('ev_payout.msg_line_settlement_rejected',
                line=self.description, dispute=dispute.rec_name)
        if not amount:
            return
        with without_check_access():
            self.__class__.create([{
                        'team': self.team.id,
                        'company': self.company.id,
                        'currency': self.currency.id,
                        'kind': 'settlement',
                        'origin': str(dispute),
                        'date': Pool().get('ir.date').today(),
                        'description': text,
                        'amount': amount,
                        }])

    @classmethod
    def release(cls, lines):
        "Lines of a cancelled run wait for the next one"
        with without_check_access():
            cls.write(lines, {'run': None})


def to_date(column):
    "The (UTC) day of a timestamp column, on every backend"
    return Line.date.sql_cast(column)


def _reference(model, column):
    "The value of a Reference field pointing at `column` of `model`"
    return Concat(model + ',', Cast(column, 'VARCHAR'))


class DisputeStart(ModelView):
    __name__ = 'ev.payout.line.dispute.start'
    __string__ = "Dispute a Payout Line"

    line = fields.Many2One('ev.payout.line', "Line", readonly=True)
    amount = fields.Numeric("Amount on the Line", digits=(16, 2),
        readonly=True)
    claimed_amount = fields.Numeric("Amount You Claim", digits=(16, 2),
        domain=['OR', ('claimed_amount', '=', None),
            ('claimed_amount', '>=', 0)])
    reason = fields.Text("Reason", required=True)


class Dispute(Wizard):
    __name__ = 'ev.payout.line.dispute'
    __string__ = "Dispute a Payout Line"

    start = StateView('ev.payout.line.dispute.start',
        'ev_payout.line_dispute_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Dispute", 'dispute', 'tryton-ok', default=True),
            ])
    dispute = StateTransition()

    def default_start(self, fields):
        return {
            'line': self.record.id,
            'amount': self.record.amount,
            }

    def transition_dispute(self):
        # The wizard runs for the line's team: its record rules were
        # checked when the record was read, check them again here
        Line = Pool().get('ev.payout.line')
        Line.read([self.record.id], ['id'])
        self.record.open_dispute(self.start.reason,
            self.start.claimed_amount)
        return 'end'
