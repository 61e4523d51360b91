# This file is part of the EV operations suite.
"""Summaries of the calls and meetings of a service case, and the gate of
the complex cases.

A call or a meeting on a case adds value once it is documented: who took
part, what was decided, the next steps and the open issues. A summary may
be drafted by a tool; it counts only once a person reviewed it. Reviewed,
it is evidence: written into the station's event log, never changed and
never deleted. A case of a complex category cannot go past the L2
decision without a reviewed pre-service call summary, nor close without a
reviewed final summary as well."""
import datetime as dt

from sql import Null

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Workflow, fields)
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .exceptions import ServiceAccessError, ServiceCaseError

KINDS = [
    ('pre_service_call', "Pre-service Call"),
    ('call', "Call"),
    ('meeting', "Meeting"),
    ('final', "Final"),
    ]
STATES = [
    ('draft', "Draft"),
    ('reviewed', "Reviewed"),
    ]
# What a complex case needs before it goes past the L2 decision, and
# before it closes
PAST_DECISION = ['pre_service_call']
TO_CLOSE = ['pre_service_call', 'final']
_DRAFT = {'readonly': Eval('state') != 'draft'}
# Blank text is no summary: checked before anything is written
REQUIRED_TEXTS = ['participants', 'decisions', 'next_steps']


class Category(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'ev.service.case.category'
    __string__ = "Service Case Category"

    name = fields.Char("Name", required=True, translate=True)
    complex = fields.Boolean("Complex",
        help="Cases of this category need a reviewed pre-service call "
        "summary past the L2 decision, and a reviewed final summary to "
        "close.")

    @classmethod
    def default_complex(cls):
        return False


class Summary(Workflow, ModelSQL, ModelView):
    __name__ = 'ev.service.case.summary'
    __string__ = "Service Case Summary"

    case = fields.Many2One('ev.service.case', "Case", required=True,
        ondelete='RESTRICT', states=_DRAFT)
    kind = fields.Selection(KINDS, "Kind", required=True, sort=False,
        states=_DRAFT)
    held_at = fields.DateTime("Held At", required=True, states=_DRAFT,
        help="When the call or meeting took place.")
    participants = fields.Text("Participants", required=True, states=_DRAFT)
    decisions = fields.Text("Decisions", required=True, states=_DRAFT)
    next_steps = fields.Text("Next Steps", required=True, states=_DRAFT)
    open_issues = fields.Text("Open Issues", states=_DRAFT)
    drafted_by_tool = fields.Boolean("Drafted by a Tool", states=_DRAFT,
        help="The text was drafted by a tool (an AI summary): it counts "
        "once a person reviewed it.")
    reviewed_by = fields.Many2One('res.user', "Reviewed By", readonly=True)
    reviewed_at = fields.DateTime("Reviewed At", readonly=True)
    state = fields.Selection(STATES, "State", required=True, readonly=True,
        sort=False)
    kind_string = kind.translated('kind')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.case, Index.Range())),
                # The cases without a final summary (kpi_claim.py)
                Index(t, (t.case, Index.Range()),
                    where=(t.kind == 'final') & (t.state == 'reviewed')),
                })
        cls._order = [('held_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {('draft', 'reviewed')}
        cls._buttons.update({
                'review': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_held_at(cls):
        return dt.datetime.now()

    @classmethod
    def default_drafted_by_tool(cls):
        return False

    def get_rec_name(self, name):
        return f'{self.case.rec_name} {self.kind_string} {self.held_at}'

    @classmethod
    def preprocess_values(cls, mode, values):
        "A summary says who took part, what was decided and what comes next"
        values = super().preprocess_values(mode, values)
        names = [n for n in REQUIRED_TEXTS
            if (mode == 'create' or n in values)
            and not (values.get(n) or '').strip()]
        if names:
            raise ServiceCaseError(gettext(
                    'ev_service.msg_summary_incomplete',
                    fields=', '.join(cls._fields[n].string for n in names)))
        return values

    @classmethod
    def copy(cls, summaries, default=None):
        default = default.copy() if default else {}
        for name in ['reviewed_by', 'reviewed_at']:
            default.setdefault(name)
        default.setdefault('state', 'draft')
        return super().copy(summaries, default=default)

    @classmethod
    def check_modification(cls, mode, summaries, values=None,
            external=False):
        super().check_modification(
            mode, summaries, values=values, external=external)
        if mode == 'delete':
            raise ServiceAccessError(gettext(
                    'ev_service.msg_summary_delete',
                    summary=summaries[0].rec_name))
        if mode == 'write':
            for summary in summaries:
                if summary.state == 'reviewed':
                    raise ServiceAccessError(gettext(
                            'ev_service.msg_summary_reviewed',
                            summary=summary.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('reviewed')
    def review(cls, summaries):
        "A person read it and vouches for it: it counts and is logged"
        user = Transaction().user
        if not user:
            raise ServiceCaseError(gettext('ev_service.msg_summary_reviewer'))
        for summary in summaries:
            if summary.case.state in {'closed', 'cancelled'}:
                raise ServiceCaseError(gettext(
                        'ev_service.msg_summary_case_done',
                        case=summary.case.rec_name))
        cls.write(summaries, {
                'reviewed_by': user,
                'reviewed_at': dt.datetime.now(),
                })
        User = Pool().get('res.user')
        reviewer = User(user).rec_name
        for summary in summaries:
            summary.case.record('service_summary', gettext(
                    'ev_service.msg_log_summary', case=summary.case.rec_name,
                    kind=summary.kind_string, held_at=summary.held_at,
                    participants=summary.participants,
                    decisions=summary.decisions,
                    next_steps=summary.next_steps,
                    open_issues=summary.open_issues or '-',
                    origin=gettext('ev_service.msg_summary_by_tool'
                        if summary.drafted_by_tool
                        else 'ev_service.msg_summary_by_person'),
                    reviewer=reviewer))


class Case(metaclass=PoolMeta):
    __name__ = 'ev.service.case'

    category = fields.Many2One('ev.service.case.category', "Category",
        ondelete='RESTRICT',
        states={'readonly': ~Eval('state').in_(['reported', 'diagnosis'])},
        help="A complex category asks for reviewed call summaries.")
    summaries = fields.One2Many('ev.service.case.summary', 'case',
        "Summaries", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # The no-summary KPI starts from the cases of a category
        cls._sql_indexes.add(
            Index(t, (t.category, Index.Range()), where=t.category != Null))

    @classmethod
    def copy(cls, cases, default=None):
        default = default.copy() if default else {}
        default.setdefault('summaries')
        return super().copy(cases, default=default)

    def check_summaries(self, kinds):
        "A complex case has a reviewed summary of each of the kinds"
        if not (self.category and self.category.complex):
            return
        Summary = Pool().get('ev.service.case.summary')
        reviewed = {s.kind for s in self.summaries if s.state == 'reviewed'}
        missing = [k for k in kinds if k not in reviewed]
        if missing:
            names = dict(Summary.fields_get(['kind'])['kind']['selection'])
            raise ServiceCaseError(gettext(
                    'ev_service.msg_case_summary_missing',
                    case=self.rec_name, category=self.category.rec_name,
                    kinds=', '.join(names[k] for k in missing)))

    @classmethod
    def request_approval(cls, cases):
        for case in cases:
            case.check_summaries(PAST_DECISION)
        super().request_approval(cases)

    @classmethod
    def ship_parts(cls, cases):
        for case in cases:
            case.check_summaries(PAST_DECISION)
        super().ship_parts(cases)

    @classmethod
    def start_visit(cls, cases):
        for case in cases:
            case.check_summaries(PAST_DECISION)
        super().start_visit(cases)

    @classmethod
    def close(cls, cases):
        for case in cases:
            case.check_summaries(TO_CLOSE)
        super().close(cases)
