# This file is part of the EV operations suite.
import datetime
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessButtonError, AccessError
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.modules.ev_lead.opportunity import OPEN_STATES
from trytond.pool import Pool
from trytond.pyson import PYSONDecoder, PYSONEncoder
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction


def create_user(login, *groups, oem=None, company=None):
    pool = Pool()
    User = pool.get('res.user')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    user = User(login=login, name=login.title(), ev_oem=oem,
        groups=[Group(ModelData.get_id(*g.split('.'))) for g in groups])
    if company:
        user.companies = [company]
        user.company = company
    user.save()
    return user


def create_oem(name):
    Party = Pool().get('party.party')
    oem = Party(name=name, ev_is_oem=True)
    oem.save()
    return oem


class LeadTestCase(CompanyTestMixin, ModuleDBTestCase):
    "Leads from OEMs and customers, up to the hand-over to field operations"
    module = 'ev_lead'

    def create_lead(self, **values):
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        customer = values.pop('party', None) or Party(
            name="Meera Iyer",
            contact_mechanisms=[
                {'type': 'mobile', 'value': '98450 12345'},
                {'type': 'email', 'value': 'meera@example.com'},
                ])
        customer.save()
        lead = Lead(party=customer, **values)
        lead.save()
        return lead

    def complete_documents(self, lead):
        pool = Pool()
        Address = pool.get('party.address')
        Photo = pool.get('ev.lead.site_photo')
        address = Address(party=lead.party, street="12 MG Road",
            city="Bengaluru")
        address.save()
        lead.address = address
        lead.electricity_bill = b'%PDF bill'
        lead.electricity_bill_name = 'bill.pdf'
        lead.latitude = Decimal('12.971599')
        lead.longitude = Decimal('77.594566')
        lead.electrician_name = "Ravi"
        lead.electrician_phone = '080 2222 3333'
        lead.save()
        Photo(lead=lead, name='site.jpg', image=b'jpeg').save()

    def log_call(self, lead, outcome, **values):
        Call = Pool().get('ev.lead.call')
        Call(lead=lead, outcome=outcome, **values).save()

    @with_transaction()
    def test_intake_to_ready_for_survey(self):
        "A lead walks new → contacted → documents complete → ready"
        Lead = Pool().get('sale.opportunity')
        company = create_company()
        with set_company(company):
            lead = self.create_lead(charger_quantity=2, site_type='home')
            self.assertEqual(lead.state, 'lead')
            self.log_call(lead, 'reached', note="Explained the process")
            lead = Lead(lead.id)
            self.assertEqual(lead.state, 'contacted')

            with self.assertRaisesRegex(UserError, 'Electricity bill'):
                Lead.confirm_documents([lead])
            self.assertFalse(lead.documents_complete)
            self.complete_documents(lead)
            lead = Lead(lead.id)
            self.assertTrue(lead.documents_complete)
            self.assertEqual(lead.electrician_phone, '+918022223333')
            Lead.confirm_documents([lead])
            Lead.ready_for_survey([lead])
            self.assertEqual(lead.state, 'ready_for_survey')

            Lead.hand_over([lead])
            self.assertEqual(lead.state, 'won')
            self.assertEqual(len(lead.stations), 2)
            station = lead.stations[0]
            self.assertEqual(station.customer, lead.party)
            texts = [e.text for e in station.events]
            self.assertTrue(any('Created from lead' in t for t in texts))
            self.assertTrue(any('Handed to Field Operations' in t
                    for t in texts))

    @with_transaction()
    def test_every_stage_is_reachable(self):
        "From a new lead the transitions reach every stage of the selection"
        Lead = Pool().get('sale.opportunity')
        states = {s for s, _ in Lead.state.selection}
        start = Lead.default_state()
        reached, todo = {start}, [start]
        while todo:
            current = todo.pop()
            for from_, to in Lead._transitions:
                if from_ == current and to not in reached:
                    reached.add(to)
                    todo.append(to)
        self.assertEqual(reached, states)
        self.assertEqual({to for _, to in Lead._transitions}, states)
        self.assertEqual(
            {f for f, _ in Lead._transitions} | {'won', 'cancelled', 'lost'},
            states)

    @with_transaction()
    def test_every_transition_has_its_button(self):
        """Each move of the workflow is a button shown at the stage it leaves;
        the closed stages show none"""
        Lead = Pool().get('sale.opportunity')
        # The stage each button moves to (a wizard or resume: several)
        doors = {name: {getattr(getattr(Lead, name), 'lead_stage', None)}
            for name in Lead._buttons}
        doors['resume'] = set(OPEN_STATES)
        doors['ev_cancel'] = {'cancelled'}

        def shown(state):
            names = set()
            for name, states in Lead._buttons.items():
                invisible = PYSONDecoder({
                        'state': state, 'readiness_wait_since': None,
                        }).decode(PYSONEncoder().encode(
                            states.get('invisible', False)))
                if not invisible:
                    names.add(name)
            return names

        for from_, to in sorted(Lead._transitions):
            with self.subTest(transition=(from_, to)):
                self.assertTrue(
                    any(to in doors[n] for n in shown(from_)),
                    f"no button moves {from_} to {to}")
        for state in ['won', 'cancelled', 'lost']:
            self.assertEqual(shown(state) - {'site_ready'}, set())
        # Tryton's own buttons of the sale order flow are hidden everywhere
        for state, _ in Lead.state.selection:
            self.assertFalse(
                shown(state) & {'lead', 'opportunity', 'convert', 'cancel'})

    @with_transaction()
    def test_lost_from_hold(self):
        "A lead on hold is lost with its reason, and stays lost"
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Message = pool.get('ir.chat.message')
        company = create_company()
        with set_company(company):
            lead = self.create_lead()
            Lead.mark_contacted([lead])
            Lead.hold([lead])
            lead.lost_reason = "Bought a charger elsewhere"
            lead.save()
            Lead.lost([lead])
            lead = Lead(lead.id)
            self.assertEqual(lead.state, 'lost')
            self.assertTrue(lead.closed_at)
            self.assertEqual(lead.api_status()['status'], 'lost')
            self.assertIn(
                "On Hold → Lost\nBought a charger elsewhere",
                [m.content.split(': ', 1)[1] for m in Message.search([])])
            with self.assertRaisesRegex(UserError,
                    'cannot go from "Lost" to "Contacted"'):
                Lead.mark_contacted([lead])

    @with_transaction()
    def test_tryton_buttons_cannot_bypass_the_workflow(self):
        """Central Ops cannot cancel without the policy, reopen, jump a held
        lead or convert it to a sale through Tryton's own buttons"""
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        company = create_company()
        ops = create_user('ops', 'ev_lead.group_central_ops',
            'sale.group_sale', company=company)
        with set_company(company):
            lead = self.create_lead()
            Lead.mark_contacted([lead])
            Lead.hold([lead])
            with as_user(ops), \
                    Transaction().set_context(company=company.id):
                for button in ['cancel', 'lead', 'opportunity', 'convert']:
                    with self.subTest(button=button), \
                            self.assertRaisesRegex(AccessButtonError,
                                f'You can not call "{button}"'):
                        getattr(Lead, button)([Lead(lead.id)])
                self.assertEqual(Lead(lead.id).state, 'on_hold')
                Lead.resume([Lead(lead.id)])
            self.assertEqual(Lead(lead.id).state, 'contacted')

    @with_transaction()
    def test_old_stage_column_migrated(self):
        "The stage column of the second workflow becomes the state"
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Policy = pool.get('ev.lead.cancellation.policy')
        cursor = Transaction().connection.cursor()
        company = create_company()
        with set_company(company):
            handed, held, called = [self.create_lead() for _ in range(3)]
        table = Lead.__table__()
        table_h = Lead.__table_handler__('ev_lead')
        table_h.add_column('ev_stage', 'VARCHAR')
        for lead, stage, before in [
                (handed, 'handed_over', None),
                (held, 'on_hold', 'new'),
                (called, 'contacted', None)]:
            cursor.execute(*table.update(
                    [table.ev_stage, table.stage_before_hold],
                    [stage, before], where=table.id == lead.id))
        policy = Policy.__table__()
        cursor.execute(*policy.update(
                [policy.stage], ['new'], where=policy.stage == 'lead'))

        Lead.__register__('ev_lead')
        Policy.__register__('ev_lead')

        cursor.execute(*table.select(
                table.id, table.state, table.stage_before_hold,
                where=table.id.in_([handed.id, held.id, called.id]),
                order_by=[table.id]))
        self.assertEqual(cursor.fetchall(), [
                (handed.id, 'won', None),
                (held.id, 'on_hold', 'lead'),
                (called.id, 'contacted', None),
                ])
        self.assertFalse(
            Lead.__table_handler__('ev_lead').column_exist('ev_stage'))
        self.assertEqual(
            sorted(p.stage for p in Policy.search([])),
            ['lead', 'ready_for_survey'])

    @with_transaction()
    def test_stage_changes_before_stations_go_to_chat(self):
        "Without stations the lead's chat keeps the stage changes"
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Message = pool.get('ir.chat.message')
        company = create_company()
        with set_company(company):
            lead = self.create_lead()
            Lead.mark_contacted([lead])
            messages = Message.search([])
            self.assertTrue(any('New → Contacted' in m.content
                    for m in messages))

    @with_transaction()
    def test_skipping_a_stage_is_refused(self):
        Lead = Pool().get('sale.opportunity')
        company = create_company()
        with set_company(company):
            lead = self.create_lead()
            with self.assertRaisesRegex(UserError, 'cannot go from'):
                Lead.ready_for_survey([lead])
            self.assertEqual(lead.state, 'lead')

    @with_transaction()
    def test_three_failed_calls_need_follow_up(self):
        "Three unanswered calls raise a follow-up for Central Ops"
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Configuration = pool.get('ev.lead.configuration')
        Notification = pool.get('res.notification')
        Group = pool.get('res.group')
        ModelData = pool.get('ir.model.data')
        ops = create_user('ops', 'ev_lead.group_central_ops')
        configuration = Configuration(1)
        configuration.central_ops_group = Group(
            ModelData.get_id('ev_lead', 'group_central_ops'))
        configuration.save()
        company = create_company()
        with set_company(company):
            lead = self.create_lead()
            self.log_call(lead, 'no_answer')
            self.log_call(lead, 'call_back', call_back_at=datetime.datetime.now())
            self.log_call(lead, 'wrong_number')
            self.assertFalse(Lead(lead.id).needs_follow_up)
            self.log_call(lead, 'no_answer')
            lead = Lead(lead.id)
            self.assertTrue(lead.needs_follow_up)
            self.assertEqual(lead.state, 'lead')
            notified = Notification.search([('user', '=', ops.id)])
            self.assertEqual(len(notified), 1)
            self.assertIn('could not be reached', notified[0].label)

    @with_transaction()
    def test_cancellation_applies_stage_policy(self):
        "Cancelling at any stage records the reason, fee and who pays"
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Notification = pool.get('res.notification')
        company = create_company()
        with set_company(company):
            oem = create_oem("Tata Motors")
            oem_user = create_user('tata', 'ev_lead.group_oem', oem=oem)
            lead = self.create_lead(
                lead_source='oem', oem=oem, oem_reference='TM-1')
            Lead.mark_contacted([lead])
            self.complete_documents(lead)
            Lead.confirm_documents([lead])
            Lead.ready_for_survey([lead])
            Lead.hold([lead])
            with self.assertRaisesRegex(UserError, 'needs its reason'):
                Lead.cancel_leads([lead], '  ')
            Lead.cancel_leads([lead], "Customer moved house")
            lead = Lead(lead.id)
            self.assertEqual(lead.state, 'cancelled')
            self.assertEqual(lead.cancellation_fee, Decimal(500))
            self.assertEqual(lead.materials_absorbed_by, 'customer')
            self.assertEqual(lead.cancellation_reason, "Customer moved house")
            labels = [n.label for n in Notification.search(
                    [('user', '=', oem_user.id)])]
            self.assertIn('Lead TM-1 is now "Cancelled"', labels)
            with self.assertRaises(UserError):
                Lead.mark_contacted([lead])

    @with_transaction()
    def test_readiness_timeout_puts_lead_on_hold(self):
        "Past the readiness timeout the cron holds the lead, then resumes"
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        company = create_company()
        with set_company(company):
            lead = self.create_lead()
            Lead.mark_contacted([lead])
            with self.assertRaisesRegex(UserError, 'site work'):
                Lead.wait_for_site([lead])
            lead.site_work_required = "Earthing and a 32 A line"
            lead.save()
            Lead.wait_for_site([lead])
            self.assertEqual(Lead.hold_unready_sites(), [])
            Lead.write([lead], {
                    'readiness_wait_since': datetime.date.today()
                    - datetime.timedelta(days=31)})
            held = Lead.hold_unready_sites()
            self.assertEqual(held, [lead])
            lead = Lead(lead.id)
            self.assertEqual(lead.state, 'on_hold')
            self.assertEqual(lead.stage_before_hold, 'contacted')
            Lead.site_ready([lead])
            lead = Lead(lead.id)
            self.assertEqual(lead.state, 'contacted')
            self.assertIsNone(lead.readiness_wait_since)

    @with_transaction()
    def test_phone_normalised_and_customer_found(self):
        "Phones are kept in E.164; a known phone or email finds the customer"
        pool = Pool()
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            lead = self.create_lead()
            mobile, = [m for m in lead.party.contact_mechanisms
                if m.type == 'mobile']
            self.assertEqual(mobile.value, '+919845012345')
            self.assertEqual(
                Party.find_customer(phone=Party.normalize_phone(
                        '+91 98450-12345')), lead.party)
            self.assertEqual(
                Party.find_customer(email='MEERA@example.com'), lead.party)
            self.assertIsNone(Party.find_customer(phone='+919999999999'))
            self.assertIsNone(Party.normalize_phone('12'))
            with self.assertRaisesRegex(UserError, 'not a valid email'):
                Party(name="Typo", contact_mechanisms=[
                        {'type': 'email', 'value': 'typo@example'}]).save()
            with self.assertRaisesRegex(UserError, 'phone number'):
                Party(name="Typo", contact_mechanisms=[
                        {'type': 'mobile', 'value': '12'}]).save()

    @with_transaction()
    def test_oem_reference_unique_per_oem(self):
        company = create_company()
        with set_company(company):
            tata = create_oem("Tata Motors")
            mg = create_oem("MG Motor")
            self.create_lead(lead_source='oem', oem=tata, oem_reference='X1')
            self.create_lead(lead_source='oem', oem=mg, oem_reference='X1')
            with self.assertRaises(UserError):
                self.create_lead(
                    lead_source='oem', oem=tata, oem_reference='X1')

    @with_transaction()
    def test_lead_named_and_found_by_customer(self):
        """A lead reads 'customer — reference' and is found by its customer's
        name, phone (as typed) or email, and by the OEM's reference; an OEM's
        user finds its own leads by reference and reads their names"""
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            tata = create_oem("Tata Motors")
            kavya = self.create_lead(lead_source='oem', oem=tata,
                oem_reference='TM-24-0200', party=Party(name="Kavya Nair",
                    contact_mechanisms=[
                        {'type': 'mobile', 'value': '+91 98450 77777'},
                        {'type': 'email', 'value': 'kavya@example.com'}]))
            meera = self.create_lead()
            direct = Lead(lead_source='phone')
            direct.save()
            self.assertEqual(kavya.rec_name, "Kavya Nair — TM-24-0200")
            self.assertEqual(meera.rec_name, f"Meera Iyer — {meera.number}")
            self.assertEqual(direct.rec_name, direct.number)
            for text, found in [
                    ('Kavya', [kavya]),
                    ('TM-24-0200', [kavya]),
                    ('98450 77777', [kavya]),
                    ('+919845077777', [kavya]),
                    ('kavya@example', [kavya]),
                    ('Meera', [meera]),
                    ]:
                with self.subTest(text=text):
                    self.assertEqual(Lead.search(
                            [('rec_name', 'ilike', f'%{text}%')]), found)
            self.assertEqual(
                Lead.search([('rec_name', '=', meera.number)]), [meera])
            tata_user = create_user(
                'tata-names', 'ev_lead.group_oem', oem=tata, company=company)
            with as_user(tata_user), \
                    Transaction().set_context(company=company.id):
                self.assertEqual(Lead.search(
                        [('rec_name', 'ilike', '%0200%')]), [kavya])
                self.assertEqual(Lead.search(
                        [('rec_name', 'ilike', '%Meera%')]), [])
                self.assertEqual(Lead.read([kavya.id], ['rec_name']),
                    [{'id': kavya.id, 'rec_name': "Kavya Nair — TM-24-0200"}])

    @with_transaction()
    def test_oem_user_sees_only_its_leads(self):
        "Record rules keep an OEM's users to that OEM's leads, read-only"
        pool = Pool()
        Lead = pool.get('sale.opportunity')
        company = create_company()
        with set_company(company):
            tata = create_oem("Tata Motors")
            mg = create_oem("MG Motor")
            own = self.create_lead(
                lead_source='oem', oem=tata, oem_reference='T1')
            other = self.create_lead(
                lead_source='oem', oem=mg, oem_reference='M1')
            self.create_lead()
            tata_user = create_user(
                'tata', 'ev_lead.group_oem', oem=tata, company=company)
            with as_user(tata_user), \
                    Transaction().set_context(company=company.id):
                self.assertEqual(Lead.search([]), [own])
                with self.assertRaises(AccessError):
                    Lead.read([other.id], ['oem_reference'])
                with self.assertRaises(AccessError):
                    Lead.write([Lead(own.id)], {'vehicle_model': "Nexon"})
