# This file is part of the EV operations suite.
"""The inbox's requests classified, routed by rules and corrected by agents;
the external classifier against a fake server of ours; the doors of the
corrections and of the classifier's token tried by those who may not"""
from trytond.model.exceptions import AccessError, ValidationError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_station.exceptions import LogImmutableError
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from .fake_classifier import FakeClassifier, result
from .tools import category, department, setup_helpdesk

REFUND = "₹500 कट गए लेकिन चार्जिंग शुरू नहीं हुई"
SPARKS = "Sparks and smoke from the charger at Hebbal, switch it off!"
RATES = "Whitefield station pe rate kya hai per kWh?"
LIFT = "The lift to the basement chargers at Orion mall is closed"


def request(w, text, **values):
    Request = Pool().get('ev.helpdesk.request')
    values.setdefault('company', w.company.id)
    values.setdefault('channel', 'whatsapp')
    request, = Request.create([dict(values, text=text)])
    return request


def route(name, sequence, department, **values):
    Route = Pool().get('ev.helpdesk.route')
    route = Route(name=name, sequence=sequence, department=department,
        **values)
    route.save()
    return route


def configure(**values):
    Configuration = Pool().get('ev.helpdesk.configuration')
    configuration = Configuration(1)
    for name, value in values.items():
        setattr(configuration, name, value)
    configuration.save()


class RequestClassificationTestCase(ModuleDBTestCase):
    module = 'ev_helpdesk'

    @with_transaction()
    def test_new_request_is_classified_and_routed(self):
        "Category, urgency and confidences set; routed by its category"
        w = setup_helpdesk()
        with set_company(w.company):
            r = request(w, REFUND)
            self.assertEqual((r.category, r.urgency, r.classified_by),
                (category('payment'), 'high', 'local'))
            self.assertTrue(0 < r.category_confidence <= 1)
            self.assertTrue(0 < r.urgency_confidence <= 1)
            self.assertIsNone(r.classifier_error)
            self.assertEqual(r.department, w.hotline)
            self.assertIsNone(r.routing_rule)

            s = request(w, SPARKS, channel='email')
            self.assertEqual((s.category, s.urgency),
                (category('fault'), 'critical'))
            self.assertEqual(s.department, w.technical)

    @with_transaction()
    def test_what_a_person_set_is_kept(self):
        "A category set by a person stays, without confidence"
        w = setup_helpdesk()
        with set_company(w.company):
            r = request(w, SPARKS, channel='manual',
                category=category('complaint').id)
            self.assertEqual((r.category, r.category_confidence),
                (category('complaint'), None))
            self.assertEqual(r.urgency, 'critical')
            self.assertIsNotNone(r.urgency_confidence)
            self.assertEqual(r.department, w.hotline)

    @with_transaction()
    def test_request_without_text_is_not_classified(self):
        w = setup_helpdesk()
        with set_company(w.company):
            r = request(w, None, subject="Call me back")
            self.assertEqual((r.category, r.urgency, r.classified_by),
                (None, None, None))

    @with_transaction()
    def test_routing_rules_first_match_wins(self):
        "Rules by sequence: the first that matches; inactive ones skipped"
        w = setup_helpdesk()
        with set_company(w.company):
            maintenance = department('maintenance')
            route("Critical faults to the technician", 10, w.technical,
                category=category('fault'), urgency='critical',
                agent=w.technician)
            whatsapp = route("WhatsApp to the hotline", 20, w.hotline,
                channel='whatsapp')
            route("Retired rule", 5, maintenance, active=False)
            route("Faults to maintenance", 30, maintenance,
                category=category('fault'))

            # Matches the first and the second rule: the first wins
            sparks = request(w, SPARKS)
            self.assertEqual(
                (sparks.department, sparks.agent, sparks.routing_rule.name),
                (w.technical, w.technician,
                    "Critical faults to the technician"))
            # Only the channel rule
            refund = request(w, REFUND)
            self.assertEqual((refund.department, refund.agent,
                    refund.routing_rule), (w.hotline, None, whatsapp))
            # A fault that is not critical, by email: the third rule
            fault = request(w, "Display scratched", channel='email',
                category=category('fault').id, urgency='low')
            self.assertEqual((fault.department, fault.routing_rule.name),
                (maintenance, "Faults to maintenance"))
            # No rule: the category's department
            inquiry = request(w, RATES, channel='email')
            self.assertEqual((inquiry.category, inquiry.department,
                    inquiry.routing_rule),
                (category('inquiry'), w.hotline, None))

    @with_transaction()
    def test_rule_agent_must_belong_to_its_department(self):
        Route = Pool().get('ev.helpdesk.route')
        w = setup_helpdesk()
        with set_company(w.company):
            with self.assertRaises(ValidationError) as cm:
                route("Wrong", 10, w.technical, agent=w.agent)
            self.assertIn('"Agent"', cm.exception.message)
            # Only managers and administrators write the rules (create, as
            # an RPC call does)
            values = {'name': "Mine", 'department': w.hotline.id,
                'agent': w.agent.id}
            for user in [w.agent, w.dispatcher]:
                with as_user(user), self.assertRaises(AccessError):
                    Route.create([values])
            with as_user(w.manager):
                mine, = Route.create([values])
                self.assertEqual(mine.agent, w.agent)

    @with_transaction()
    def test_agent_correction_is_kept_and_learnt(self):
        "The agent's correction: evidence, and a training row from then on"
        pool = Pool()
        Request = pool.get('ev.helpdesk.request')
        Correction = pool.get('ev.helpdesk.correction')
        w = setup_helpdesk()
        with set_company(w.company):
            r = request(w, LIFT, channel='email')
            guess = (r.category, r.urgency)
            self.assertNotEqual(guess, (category('complaint'), 'high'))
            old_confidence = r.category_confidence
            # Into the agent's department, where the agent corrects it
            r.department = w.hotline
            r.save()
            with as_user(w.agent):
                Request.write([Request(r.id)], {
                        'category': category('complaint').id,
                        'urgency': 'high'})
            r = Request(r.id)
            self.assertEqual(
                (r.category, r.category_confidence, r.urgency,
                    r.urgency_confidence),
                (category('complaint'), None, 'high', None))
            correction, = r.corrections
            self.assertEqual(
                (correction.text, correction.corrected_by,
                    correction.old_category, correction.new_category,
                    correction.old_urgency, correction.new_urgency,
                    correction.category_confidence),
                (LIFT, w.agent, guess[0], category('complaint'), guess[1],
                    'high', old_confidence))
            self.assertEqual(Correction.training_rows(),
                [(LIFT, 'complaint', 'high')])

            # The same message again is classified as corrected
            again = request(w, LIFT, channel='email')
            self.assertEqual((again.category, again.urgency),
                (category('complaint'), 'high'))

            # A second change of the same request: the latest one teaches
            with as_user(w.agent):
                Request.write([Request(r.id)], {'urgency': 'medium'})
            self.assertEqual(len(Request(r.id).corrections), 2)
            self.assertEqual(Correction.training_rows(),
                [(LIFT, 'complaint', 'medium')])

    @with_transaction()
    def test_change_of_unclassified_request_is_no_correction(self):
        Request = Pool().get('ev.helpdesk.request')
        w = setup_helpdesk()
        with set_company(w.company):
            r = request(w, "Please call me", channel='manual',
                category=category('inquiry').id, urgency='low')
            self.assertIsNone(r.classified_by)
            Request.write([r], {'urgency': 'medium'})
            self.assertEqual(Request(r.id).corrections, ())

    @with_transaction()
    def test_corrections_are_immutable_and_made_by_the_inbox_only(self):
        pool = Pool()
        Request = pool.get('ev.helpdesk.request')
        Correction = pool.get('ev.helpdesk.correction')
        w = setup_helpdesk()
        with set_company(w.company):
            r = request(w, REFUND)
            Request.write([r], {'urgency': 'critical'})
            correction, = Request(r.id).corrections
            for attempt in [
                    lambda: Correction.write([correction],
                        {'new_urgency': 'low'}),
                    lambda: Correction.delete([correction])]:
                with self.assertRaises(LogImmutableError) as cm:
                    attempt()
                self.assertEqual(cm.exception.message,
                    'Records of "Helpdesk Classifier Correction" are '
                    'evidence: they cannot be edited or deleted. Record a '
                    'correcting entry instead.')
            # The technical agent does not see the hotline's corrections
            with as_user(w.technician):
                self.assertEqual(Correction.search([]), [])
            with as_user(w.agent):
                self.assertEqual(Correction.search([]), [correction])
            # An agent forging a training row over RPC
            with as_user(w.agent):
                with self.assertRaises(AccessError):
                    Correction.create([{
                                'request': r.id, 'text': "anything",
                                'new_category': category('fault').id}])

    @with_transaction()
    def test_classify_button_keeps_what_a_person_set(self):
        Request = Pool().get('ev.helpdesk.request')
        w = setup_helpdesk()
        with set_company(w.company):
            r = request(w, SPARKS, category=category('complaint').id)
            with as_user(w.manager):
                Request.reclassify([Request(r.id)])
            r = Request(r.id)
            self.assertEqual((r.category, r.category_confidence, r.urgency),
                (category('complaint'), None, 'critical'))
            self.assertEqual(r.corrections, ())
            with as_user(w.installer):
                with self.assertRaises((AccessError, AccessButtonError)):
                    Request.reclassify([Request(r.id)])

    @with_transaction()
    def test_external_classifier(self):
        "Its answer when it works; the local one with the reason otherwise"
        w = setup_helpdesk()
        with set_company(w.company), FakeClassifier() as fake:
            configure(classifier_url=fake.url, classifier_token='tok-1',
                classifier_timeout=3)
            fake.body = {'results': [result('inquiry', 'low', 0.97, 0.8)]}
            r = request(w, REFUND)
            self.assertEqual(
                (r.category, r.category_confidence, r.urgency,
                    r.urgency_confidence, r.classified_by,
                    r.classifier_error),
                (category('inquiry'), 0.97, 'low', 0.8, 'external', None))
            (headers, body), = fake.requests
            self.assertEqual(body, {'texts': [REFUND]})
            self.assertEqual(headers['Authorization'], 'Bearer tok-1')

            # A category the helpdesk does not have: left to a person
            fake.body = {'results': [result('ev_sales', 'medium')]}
            r = request(w, RATES)
            self.assertEqual((r.category, r.urgency, r.classified_by),
                (None, 'medium', 'external'))
            self.assertEqual(r.department, w.hotline)  # the default one

            fake.status = 500
            r = request(w, REFUND)
            self.assertEqual(
                (r.category, r.urgency, r.classified_by, r.classifier_error),
                (category('payment'), 'high', 'local',
                    "classifier answered HTTP 500"))

    @with_transaction()
    def test_external_classifier_configuration(self):
        pool = Pool()
        Configuration = pool.get('ev.helpdesk.configuration')
        w = setup_helpdesk()
        with set_company(w.company):
            with self.assertRaises(ValidationError) as cm:
                configure(classifier_url='ftp://classifier.example/x')
            self.assertEqual(cm.exception.message,
                'The external classifier URL "ftp://classifier.example/x" '
                'must be an http or https address with a host.')
            configure(classifier_url='https://classifier.example/v1',
                classifier_token='tok-2')
            with as_user(w.manager):
                self.assertEqual(Configuration(1).classifier_token, 'tok-2')
            # Agents and dispatchers read the configuration, not the token
            for user in [w.agent, w.dispatcher]:
                with as_user(user):
                    with self.assertRaises(AccessError):
                        Configuration.read([1], ['classifier_token'])
                    self.assertEqual(
                        Configuration.read([1], ['classifier_url'])[0][
                            'classifier_url'],
                        'https://classifier.example/v1')
