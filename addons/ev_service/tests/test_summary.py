# This file is part of the EV operations suite.
"""Call and meeting summaries of a case and the gate of complex cases:
reviewed by a person, then evidence; tried by who may and who may not"""
import datetime as dt

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_field.tests.tools import (
    create_employee, create_team, create_user)
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_service import ServiceWorld, events, service_events

HELD_AT = dt.datetime(2026, 12, 1, 10, 30)


def summary_values(case, kind='pre_service_call', **values):
    return {
        'case': case.id,
        'kind': kind,
        'held_at': HELD_AT,
        'participants': "Anil (L2), Ravi (Service), Meera (customer)",
        'decisions': "Replace the power board",
        'next_steps': "Ship the board to team Alpha",
        'open_issues': "Access to the basement after 6 pm",
        **values,
        }


class SummaryTestCase(ServiceWorld, ModuleDBTestCase):
    module = 'ev_service'

    def complex_case(self, w, decision='on_site_visit'):
        Category = Pool().get('ev.service.case.category')
        category, = Category.create([{'name': "Board failure",
                    'complex': True}])
        return self.case(w, decision=decision, category=category)

    @with_transaction()
    def test_complex_case_needs_reviewed_summaries(self):
        "No visit without the pre-service call, no close without the final"
        pool = Pool()
        Case = pool.get('ev.service.case')
        Summary = pool.get('ev.service.case.summary')
        Log = pool.get('ev.station.log')
        w = self.setup()
        with set_company(w.company):
            case = self.complex_case(w)
            logged = events(w.station)
            with self.assertRaises(UserError) as cm:
                Case.start_visit([case])
            self.assertEqual(cm.exception.message,
                f'Case "{case.number}" is of the complex category "Board '
                'failure": it needs a reviewed summary of kind Pre-service '
                'Call first.')
            self.assertEqual(Case(case.id).state, 'decided')
            self.assertEqual(events(w.station), logged)

            # Drafted by a tool: it does not count before a person reviews
            with as_user(w.manager):
                summary, = Summary.create([summary_values(
                            case, drafted_by_tool=True)])
            self.assertEqual(summary.state, 'draft')
            with self.assertRaises(UserError):
                Case.start_visit([Case(case.id)])
            with as_user(w.manager):
                Summary.review([Summary(summary.id)])
            summary = Summary(summary.id)
            self.assertEqual(
                (summary.state, summary.reviewed_by), ('reviewed', w.manager))
            self.assertIsNotNone(summary.reviewed_at)
            entry, = Log.search([('station', '=', w.station.id),
                    ('event_type.code', '=', 'service_summary')])
            self.assertEqual(entry.text,
                f'Pre-service Call summary of case {case.number} '
                f'({HELD_AT}), drafted by a tool, reviewed by Svc-Manager.\n'
                'Participants: Anil (L2), Ravi (Service), Meera (customer)\n'
                'Decisions: Replace the power board\n'
                'Next steps: Ship the board to team Alpha\n'
                'Open issues: Access to the basement after 6 pm')

            Case.start_visit([Case(case.id)])
            self.assertEqual(Case(case.id).state, 'visit')
            with self.assertRaises(UserError) as cm:
                Case.close([Case(case.id)])
            self.assertEqual(cm.exception.message,
                f'Case "{case.number}" is of the complex category "Board '
                'failure": it needs a reviewed summary of kind Final first.')
            with as_user(w.l2):
                final, = Summary.create([summary_values(case, 'final',
                            open_issues=None)])
                Summary.review([Summary(final.id)])
            Case.close([Case(case.id)])
            self.assertEqual(Case(case.id).state, 'closed')
            self.assertEqual(service_events(w.station)[-3:], [
                    'service_visit', 'service_summary',
                    'service_case_closed'])

    @with_transaction()
    def test_simple_case_needs_no_summary(self):
        "A category that is not complex, or none, is not gated"
        pool = Pool()
        Case = pool.get('ev.service.case')
        Category = pool.get('ev.service.case.category')
        w = self.setup()
        with set_company(w.company):
            simple, = Category.create([{'name': "Display"}])
            case = self.case(w, decision='remote_fix', category=simple)
            Case.close([case])
            self.assertEqual(case.state, 'closed')

    @with_transaction()
    def test_reviewed_summary_is_evidence(self):
        "Reviewed: never changed; no summary is ever deleted"
        Summary = Pool().get('ev.service.case.summary')
        w = self.setup()
        with set_company(w.company):
            case = self.complex_case(w)
            with as_user(w.manager):
                summary, draft = Summary.create([summary_values(case),
                        summary_values(case, 'call')])
                Summary.review([Summary(summary.id)])
                with self.assertRaises(AccessError) as cm:
                    Summary.write([Summary(summary.id)],
                        {'decisions': "Nothing was decided"})
                self.assertEqual(cm.exception.message,
                    f'Summary "{summary.rec_name}" was reviewed: it cannot '
                    'be changed. Add a new summary instead.')
                with self.assertRaises(AccessError):
                    Summary.delete([Summary(draft.id)])
            # Not even the administrator, past the access rights
            with self.assertRaises(AccessError) as cm:
                Summary.delete([Summary(summary.id)])
            self.assertEqual(cm.exception.message,
                f'Summary "{summary.rec_name}" is evidence of the case: it '
                'cannot be deleted.')
            with self.assertRaises(AccessError):
                Summary.write([Summary(summary.id)], {'state': 'draft'})
            self.assertEqual(Summary(summary.id).decisions,
                "Replace the power board")
            self.assertEqual(Summary.search([], count=True), 2)

    @with_transaction()
    def test_summary_bad_input_and_system_review(self):
        "Participants are required; the system cannot review"
        Summary = Pool().get('ev.service.case.summary')
        w = self.setup()
        with set_company(w.company):
            case = self.complex_case(w)
            with as_user(w.manager):
                with self.assertRaises(UserError) as cm:
                    Summary.create([summary_values(case, participants=None,
                                next_steps="  ")])
                self.assertEqual(cm.exception.message,
                    'A summary needs the participants, the decisions and '
                    'the next steps: Participants, Next Steps missing.')
                self.assertEqual(Summary.search([], count=True), 0)
                draft, = Summary.create([summary_values(case)])
                with self.assertRaises(UserError) as cm:
                    Summary.write([draft], {'decisions': ""})
                self.assertEqual(cm.exception.message,
                    'A summary needs the participants, the decisions and '
                    'the next steps: Decisions missing.')
            self.assertEqual(Summary(draft.id).decisions,
                "Replace the power board")
            summary, = Summary.create([summary_values(
                        case, drafted_by_tool=True)])
            with Transaction().set_user(0):
                with self.assertRaises(UserError) as cm:
                    Summary.review([summary])
            self.assertEqual(cm.exception.message,
                'A summary is reviewed by a person, not by the system.')
            summary = Summary(summary.id)
            self.assertEqual(summary.state, 'draft')
            self.assertIsNone(summary.reviewed_by)

    @with_transaction()
    def test_summary_doors(self):
        """A crew reads its own cases' summaries only and cannot write or
        review them; Finance sees none"""
        pool = Pool()
        Summary = pool.get('ev.service.case.summary')
        Category = pool.get('ev.service.case.category')
        w = self.setup()
        with set_company(w.company):
            beta = create_team(w.company, 'BETA', ['5600*'], service=True)
            beta_crew = create_employee(w.company, "Bala Beta")
            beta.members = [beta_crew]
            beta.save()
            ours = self.case(w)
            theirs = self.case(w, team=beta)
            our_summary, their_summary = Summary.create([
                    summary_values(ours), summary_values(theirs)])
            crew = create_user('crew-alpha',
                'ev_field.group_field_team', employee=w.crew)
            finance = create_user('finance', 'ev_station.group_finance')
            with as_user(crew):
                self.assertEqual(Summary.search([]), [our_summary])
                with self.assertRaises(AccessError):
                    Summary.read([their_summary.id], ['decisions'])
                with self.assertRaises(AccessError):
                    Summary.create([summary_values(ours, 'call')])
                with self.assertRaises(AccessError):
                    Summary.write([Summary(our_summary.id)],
                        {'decisions': "x"})
                with self.assertRaises(UserError):
                    Summary.review([Summary(our_summary.id)])
                # Nor make a case complex
                with self.assertRaises(AccessError):
                    Category.create([{'name': "Mine", 'complex': True}])
            with as_user(finance):
                with self.assertRaises(AccessError):
                    Summary.search([])
            category, = Category.create([{'name': "Display"}])
            with as_user(w.manager):
                self.assertEqual(Category.search([]), [category])
                with self.assertRaises(AccessError):
                    Category.write([Category(category.id)],
                        {'complex': True})
            self.assertFalse(Category(category.id).complex)
            self.assertEqual(Summary(our_summary.id).state, 'draft')
            self.assertEqual(Summary.search([], count=True), 2)


del ModuleDBTestCase
