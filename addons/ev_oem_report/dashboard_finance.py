# This file is part of the EV operations suite.
"""The Finance dashboard (with ev_payout): the teams' money not paid yet, now.

- the payout runs per state before paid: drafted, waiting for the team's
  sign-off, signed off (to post), posted (the payment pending), with their
  net (the counted lines: earned less deducted);
- the lines waiting for the team's next run;
- the holds active (parts kept without approval, ev_service).

It shows amounts: Finance, Management and the administrators read it,
Central Ops does not (dashboard.xml)."""
from sql import Literal, Null, Union
from sql.aggregate import Count, Sum
from sql.conditionals import Coalesce

from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.ev_payout.run import COUNTED
from trytond.pool import Pool
from trytond.transaction import Transaction

from .dashboard import company_literal

FINANCE_FIGURES = [
    ('runs_draft', "Payout Runs Drafted"),
    ('runs_sign_off', "Payout Runs Waiting for Sign-off"),
    ('runs_signed', "Payout Runs Signed Off (to Post)"),
    ('runs_posted', "Payout Runs Posted (Payment Pending)"),
    ('lines_pending', "Lines for the Next Runs"),
    ('holds_active', "Active Holds"),
    ]
RUN_STATES = ['draft', 'sign_off', 'signed', 'posted']


class FinanceFigure(ModelSQL, ModelView):
    "The money Finance follows, now"
    __name__ = 'ev.oem.dashboard.finance'
    __string__ = "Finance Dashboard"

    company = fields.Many2One('company.company', "Company", readonly=True)
    figure = fields.Selection(FINANCE_FIGURES, "Figure", readonly=True,
        sort=False)
    count = fields.Integer("Count", readonly=True)
    amount = fields.Numeric("Amount", digits=(16, 2), readonly=True,
        help="In the company's currency.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Run = pool.get('ev.payout.run')
        Line = pool.get('ev.payout.line')
        Hold = pool.get('ev.service.hold')
        run, line, hold = Run.__table__(), Line.__table__(), Hold.__table__()
        pending_line = Line.__table__()
        company = Transaction().context.get('company')
        index = {n: i for i, (n, _) in enumerate(FINANCE_FIGURES, 1)}

        def row(figure, count, amount, table, where):
            return table.select(
                cls.id.sql_cast(Literal(index[figure])).as_('id'),
                company_literal(cls),
                cls.figure.sql_cast(Literal(figure)).as_('figure'),
                count.as_('count'),
                cls.amount.sql_cast(Coalesce(amount, 0)).as_('amount'),
                where=where)
        # The net of each unpaid run
        nets = run.join(line, type_='LEFT',
            condition=(line.run == run.id) & line.state.in_(list(COUNTED))
            ).select(run.id, run.state, Sum(line.amount).as_('net'),
                where=(run.company == company)
                & run.state.in_(RUN_STATES),
                group_by=[run.id, run.state])
        rows = [row('runs_' + state,
                Count(nets.id), Sum(nets.net), nets,
                nets.state == state)
            for state in RUN_STATES]
        rows.append(row('lines_pending',
                Count(pending_line.id), Sum(pending_line.amount), pending_line,
                (pending_line.company == company)
                & (pending_line.run == Null)
                & pending_line.state.in_(list(COUNTED))))
        rows.append(row('holds_active',
                Count(hold.id), Sum(hold.amount), hold,
                (hold.company == company) & (hold.state == 'active')))
        return Union(*rows, all_=True)
