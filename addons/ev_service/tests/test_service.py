# This file is part of the EV operations suite.
"""Service cases: the L2 decision, parts out and back, the overdue control
and the financial holds, each tried as the user who may and who may not"""
import datetime as dt
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import set_company
from trytond.modules.ev_field.tests.tools import (
    create_job, create_team, create_user, quantity, setup_world)
from trytond.modules.ev_station.tests.tools import ModuleDBTestCase, as_user
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction


def events(station):
    "The event codes of the station's log, oldest first"
    Log = Pool().get('ev.station.log')
    return [e.event_type.code for e in Log.search(
            [('station', '=', station.id)], order=[('id', 'ASC')])]


def service_events(station):
    return [c for c in events(station) if c.startswith('service_')]


class ServiceWorld:
    "A station of the field world's customer, a case and its parts"

    def setup(self):
        pool = Pool()
        Station = pool.get('ev.station')
        Party = pool.get('party.party')
        w = setup_world()
        with set_company(w.company):
            w.station = Station(customer=w.customer)
            w.station.save()
            w.contractor = Party(name="Alpha Contractors")
            w.contractor.save()
            w.alpha.service = True
            w.alpha.contractor = w.contractor
            w.alpha.save()
            w.manager = create_user('svc-manager',
                'ev_service.group_service_manager')
            w.l2 = create_user('svc-l2',
                'ev_service.group_service_l2')
        return w

    def case(self, w, decision='part_replacement', team=None, **values):
        "A case decided by L2 (as root: the access tests try the doors)"
        Case = Pool().get('ev.service.case')
        case = Case(station=w.station, company=w.company,
            description="Connector 1 faults on every session",
            team=team or w.alpha, coordinator=w.manager, **values)
        case.save()
        Case.diagnose([case])
        case.decision = decision
        case.decision_note = "Replace the charger"
        case.save()
        Case.decide([case])
        return case

    def box(self, w, number='BOX-1'):
        pool = Pool()
        Package = pool.get('stock.package')
        PackageType = pool.get('stock.package.type')
        types = PackageType.search([('name', '=', "Return box")])
        if not types:
            types = PackageType.create([{'name': "Return box"}])
        package = Package(company=w.company, type=types[0])
        package.save()
        return package

    def part(self, w, case, lot, label='RL-1', **values):
        Part = Pool().get('ev.service.part')
        part = Part(case=case, product=w.charger, lot=lot,
            return_box=self.box(w), return_label=label, **values)
        part.save()
        return part

    def shipped_part(self, w, lot=None):
        Case = Pool().get('ev.service.case')
        case = self.case(w)
        part = self.part(w, case, lot or w.lots[0])
        Case.ship_parts([case])
        return case, part


class ServiceTestCase(ServiceWorld, ModuleDBTestCase):
    module = 'ev_service'

    @with_transaction()
    def test_happy_path(self):
        "Fault → diagnosis → L2 → client approval → parts → visit → returned"
        pool = Pool()
        Case = pool.get('ev.service.case')
        Part = pool.get('ev.service.part')
        w = self.setup()
        with set_company(w.company):
            van = w.alpha.location
            case = self.case(w, chargeable=True)
            self.assertRegex(case.number, r'^SVC-\d{6}$')
            self.assertEqual(case.state, 'decided')
            self.assertIsNotNone(case.decided_at)
            case.quoted_amount = Decimal(4500)
            case.save()
            Case.request_approval([case])
            self.assertEqual(case.state, 'client_approval')
            with self.assertRaises(UserError) as cm:
                Case.ship_parts([case])
            self.assertEqual(cm.exception.message,
                f'Case "{case.number}" is chargeable: the client must '
                'approve the quote first.')
            Case.approve([case])
            part = self.part(w, case, w.lots[0])
            self.assertEqual(part.cost, Decimal(30000))
            self.assertEqual(part.company, w.company)

            Case.ship_parts([case])
            self.assertEqual(case.state, 'parts_shipped')
            self.assertEqual(part.return_state, 'pending')
            self.assertEqual(part.shipment.state, 'done')
            self.assertEqual(part.return_due,
                dt.date.today() + dt.timedelta(days=14))
            self.assertEqual(quantity(w.charger, van, w.lots[0]), 1)
            self.assertEqual(quantity(w.charger, w.storage), 2)

            case.visit_date = dt.date.today()
            case.save()
            Case.start_visit([case])
            case.visit_note = "Charger replaced, 3 sessions tested"
            case.save()
            Case.complete_replacement([case])
            self.assertEqual(case.state, 'replaced')
            self.assertEqual(quantity(w.charger, van, w.lots[0]), 0)

            with self.assertRaises(UserError) as cm:
                Case.confirm_returns([case])
            self.assertEqual(cm.exception.message,
                f'The returns of case "{case.number}" are not verified: '
                f'still expected {part.rec_name}.')
            part.condition = "Complete, burnt relay"
            part.returned_serial = 'OLD-1'
            part.save()
            Part.receive([part])
            self.assertEqual(part.return_state, 'complete')
            Case.confirm_returns([case])
            Case.close([case])
            self.assertEqual(case.state, 'closed')
            self.assertEqual(w.station.service_cases, (case,))
            self.assertEqual(service_events(w.station), [
                    'service_case_opened', 'service_diagnosis',
                    'service_decision', 'service_approval_requested',
                    'service_client_approved', 'service_part_shipped',
                    'service_visit', 'service_replaced',
                    'service_return_received', 'service_returns_verified',
                    'service_case_closed',
                    ])

    @with_transaction()
    def test_every_step_is_handed_over(self):
        """Each step completes the case's open handover and hands the next
        one over: the decision to the L2 engineer, the rest to the
        coordinator; the close leaves nothing open"""
        pool = Pool()
        Case = pool.get('ev.service.case')
        Part = pool.get('ev.service.part')
        Handover = pool.get('ev.station.handover')
        w = self.setup()

        def handovers(case):
            return [(h.receiver.login, h.next_action, h.state)
                for h in Handover.search(
                    [('work', '=', f'{case}:step')], order=[('id', 'ASC')])]

        with set_company(w.company):
            case = self.case(w, chargeable=True, l2_engineer=w.l2)
            number = case.number
            case.quoted_amount = Decimal(4500)
            case.save()
            Case.request_approval([case])
            Case.approve([case])
            part = self.part(w, case, w.lots[0])
            Case.ship_parts([case])
            Case.start_visit([case])
            Case.complete_replacement([case])
            part.returned_serial = 'OLD-1'
            part.save()
            Part.receive([part])
            Case.confirm_returns([case])
            self.assertEqual(handovers(case)[-1], ('svc-manager',
                    f'Close case {number}.', 'pending'))
            Case.close([case])

            self.assertEqual(handovers(case), [
                    ('svc-l2', f'Diagnose case {number} and make the L2 '
                        'decision.', 'completed'),
                    ('svc-manager', "Get the client's approval of the quote "
                        f'of case {number}.', 'completed'),
                    ('svc-manager', "Get the client's approval of the quote "
                        f'of case {number}.', 'completed'),
                    ('svc-manager', f'Ship the parts of case {number} with '
                        'their return boxes and labels.', 'completed'),
                    ('svc-manager', 'Send the service team to case '
                        f'{number}.', 'completed'),
                    ('svc-manager', 'See the replacement of case '
                        f'{number} completed and tested.', 'completed'),
                    ('svc-manager', 'Get the old parts of case '
                        f'{number} back and verify the returns.',
                        'completed'),
                    ('svc-manager', f'Close case {number}.', 'completed'),
                    ])

    @with_transaction()
    def test_delete_only_cancelled_and_never_handed_over(self):
        "A case leaves only cancelled, and only if nobody was handed it"
        Case = Pool().get('ev.service.case')
        w = self.setup()
        with set_company(w.company):
            handed = self.case(w)  # its steps were handed to w.manager
            alone = Case(station=w.station, company=w.company,
                description="Reported twice")
            alone.save()
            with self.assertRaises(UserError) as cm:
                Case.delete([alone])
            self.assertEqual(cm.exception.message,
                f'Service case "{alone.number}" can only be deleted once '
                'cancelled; its steps are in the station log.')
            Case.cancel([handed, alone])
            with self.assertRaises(UserError) as cm:
                Case.delete([handed])
            self.assertEqual(cm.exception.message,
                f'Service case "{handed.number}" was handed over in the '
                'chain of control: it stays, cancelled, with its handovers.')
            Case.delete([alone])
            self.assertEqual(Case.search([]), [handed])

    @with_transaction()
    def test_remote_fix_closes_after_decision(self):
        "A remote fix needs no parts and no visit"
        Case = Pool().get('ev.service.case')
        w = self.setup()
        with set_company(w.company):
            case = self.case(w, decision='remote_fix')
            Case.close([case])
            self.assertEqual(case.state, 'closed')

    @with_transaction()
    def test_only_l2_decides(self):
        "A Service Manager cannot decide: refused, nothing written"
        Case = Pool().get('ev.service.case')
        w = self.setup()
        with set_company(w.company):
            case = Case(station=w.station, company=w.company,
                description="No display")
            case.save()
            Case.diagnose([case])
            Case.write([case], {'decision': 'station_replacement'})
            logged = events(w.station)
            # Through the client: the button is L2's
            with as_user(w.manager):
                with self.assertRaises(UserError):
                    Case.decide([Case(case.id)])
            # Past the button (a server-side call): the method refuses too
            with Transaction().set_user(w.manager.id):
                with self.assertRaises(AccessError) as cm:
                    Case.decide([Case(case.id)])
            self.assertEqual(cm.exception.message,
                "Only L2 makes the technical decision of a service case.")
            case = Case(case.id)
            self.assertEqual(case.state, 'diagnosis')
            self.assertIsNone(case.decided_by)
            self.assertIsNone(case.decided_at)
            self.assertEqual(events(w.station), logged)
            # L2 may
            with as_user(w.l2):
                Case.decide([Case(case.id)])
            case = Case(case.id)
            self.assertEqual(case.state, 'decided')
            self.assertEqual(case.decided_by, w.l2)

    @with_transaction()
    def test_return_of_part_never_shipped(self):
        "Receiving the return of a part that never left: refused"
        Part = Pool().get('ev.service.part')
        w = self.setup()
        with set_company(w.company):
            case = self.case(w)
            part = self.part(w, case, w.lots[0])
            logged = events(w.station)
            with self.assertRaises(UserError) as cm:
                Part.receive([part])
            self.assertEqual(cm.exception.message,
                f'Part "{part.rec_name}" never shipped: there is no return '
                'to receive.')
            part = Part(part.id)
            self.assertEqual(part.return_state, 'to_ship')
            self.assertIsNone(part.received_at)
            self.assertEqual(events(w.station), logged)

    @with_transaction()
    def test_shipping_needs_box_and_label(self):
        Case = Pool().get('ev.service.case')
        w = self.setup()
        with set_company(w.company):
            case = self.case(w)
            part = self.part(w, case, w.lots[0], label=None)
            with self.assertRaises(UserError) as cm:
                Case.ship_parts([case])
            self.assertEqual(cm.exception.message,
                f'Part "{part.rec_name}" needs a return box and a return '
                'label before it ships.')

    @with_transaction()
    def test_hold_in_foreign_currency_refused(self):
        pool = Pool()
        Hold = pool.get('ev.service.hold')
        Currency = pool.get('currency.currency')
        w = self.setup()
        with set_company(w.company):
            usd = Currency(name="US Dollar", code='USD', symbol='$')
            usd.save()
            _, part = self.shipped_part(w)
            with self.assertRaises(UserError) as cm:
                Hold.create([{
                            'part': part.id, 'company': w.company.id,
                            'party': w.contractor.id,
                            'amount': Decimal(360), 'currency': usd.id,
                            }])
            self.assertEqual(cm.exception.message,
                "A financial hold is in the company currency INR, not in "
                "USD.")
            self.assertEqual(Hold.search([]), [])

    @with_transaction()
    def test_overdue_places_hold_and_return_releases_it(self):
        "Day 15 without the old part: overdue, hold = cost; return releases"
        pool = Pool()
        Part = pool.get('ev.service.part')
        Hold = pool.get('ev.service.hold')
        Handover = pool.get('ev.station.handover')
        Notification = pool.get('res.notification')
        w = self.setup()
        with set_company(w.company):
            _, part = self.shipped_part(w)
            # Nothing is overdue on the day it is due
            Part.write([part], {'return_due': dt.date.today()})
            self.assertEqual(Part.mark_overdue(), [])
            # Shipped 15 days ago, due 14 days after
            Part.write([part], {
                    'return_due': dt.date.today() - dt.timedelta(days=1)})
            overdue = Part.mark_overdue()
            self.assertEqual(overdue, [part])
            part = Part(part.id)
            self.assertTrue(part.overdue)
            self.assertEqual(Part.search([('overdue', '=', True)]), [part])
            hold, = Hold.search([])
            self.assertEqual(
                (hold.state, hold.amount, hold.currency, hold.party),
                ('active', Decimal(30000), w.inr, w.contractor))
            handover, = Handover.search([('work', '=', f'{part}:return')])
            self.assertEqual(handover.receiver, w.manager)
            self.assertTrue(Notification.search(
                    [('user', '=', w.manager.id)]))
            # A second run finds nothing new
            self.assertEqual(Part.mark_overdue(), [])
            self.assertEqual(len(Hold.search([])), 1)

            Part.write([part], {'returned_serial': 'OLD-1'})
            Part.receive([part])
            hold = Hold(hold.id)
            self.assertEqual(hold.state, 'released')
            self.assertIsNotNone(hold.released_at)
            self.assertEqual(Handover(handover.id).state, 'completed')
            self.assertFalse(Part(part.id).overdue)
            self.assertEqual(service_events(w.station)[-4:], [
                    'service_return_overdue', 'service_hold_placed',
                    'service_return_received', 'service_hold_released'])

    @with_transaction()
    def test_hold_never_changes(self):
        Part = Pool().get('ev.service.part')
        Hold = Pool().get('ev.service.hold')
        w = self.setup()
        with set_company(w.company):
            _, part = self.shipped_part(w)
            Part.mark_missing([part])
            hold, = Hold.search([])
            with self.assertRaises(AccessError) as cm:
                Hold.write([hold], {'amount': Decimal(1)})
            self.assertEqual(cm.exception.message,
                "A financial hold never changes once placed (amount): "
                "release it and place a new one.")
            with self.assertRaises(AccessError):
                Hold.delete([hold])
            self.assertEqual(Hold(hold.id).amount, Decimal(30000))

    @with_transaction()
    def test_spare_retained_by_approver_with_reason(self):
        "Only the approver retains a part as spare, and says why"
        pool = Pool()
        Part = pool.get('ev.service.part')
        Hold = pool.get('ev.service.hold')
        w = self.setup()
        with set_company(w.company):
            crew_user = create_user('crew-alpha',
                'ev_field.group_field_team', employee=w.crew)
            _, part = self.shipped_part(w)
            Part.mark_missing([part])
            Part.write([part], {'retained_reason': "Kept in the van"})
            with Transaction().set_user(crew_user.id):
                with self.assertRaises(AccessError) as cm:
                    Part.retain([Part(part.id)])
            self.assertEqual(cm.exception.message, "Only the configured "
                "spare approver may retain a part as an approved spare.")
            self.assertEqual(Part(part.id).return_state, 'missing')

            Part.write([part], {'retained_reason': None})
            with as_user(w.manager):
                with self.assertRaises(UserError) as cm:
                    Part.retain([Part(part.id)])
                self.assertEqual(cm.exception.message,
                    f'Say why part "{part.rec_name}" is retained as a '
                    'spare.')
            Part.write([part], {'retained_reason': "Spare for the region"})
            with as_user(w.manager):
                Part.retain([Part(part.id)])
            part = Part(part.id)
            self.assertEqual(
                (part.return_state, part.retained_by),
                ('retained', w.manager))
            hold, = Hold.search([])
            self.assertEqual(hold.state, 'released')

    @with_transaction()
    def test_field_team_sees_only_its_cases(self):
        "A crew reads the cases of its team, not another team's"
        Case = Pool().get('ev.service.case')
        Part = Pool().get('ev.service.part')
        w = self.setup()
        with set_company(w.company):
            beta = create_team(w.company, 'BETA', ['5600*'], service=True)
            ours = self.case(w)
            theirs = self.case(w, team=beta)
            theirs_part = self.part(w, theirs, w.lots[1])
            crew_user = create_user('crew-alpha',
                'ev_field.group_field_team', employee=w.crew)
            with as_user(crew_user):
                self.assertEqual(Case.search([]), [ours])
                with self.assertRaises(AccessError):
                    Case.read([theirs.id], ['number'])
                self.assertEqual(Part.search([]), [])
                with self.assertRaises(AccessError):
                    Part.read([theirs_part.id], ['return_label'])
                # Nor change its own
                with self.assertRaises(AccessError):
                    Case.write([Case(ours.id)], {'description': "x"})


    @with_transaction()
    def test_rework_same_team_returns(self):
        "Rework of an installation: the team of the installation goes back"
        Case = Pool().get('ev.service.case')
        w = self.setup()
        with set_company(w.company):
            installation = create_job(w, 'installation')
            case, = Case.create([{
                        'station': w.station.id,
                        'company': w.company.id,
                        'origin': 'rework',
                        'rework_job': installation.id,
                        'same_team_returns': True,
                        'description': "Cable gland leaks",
                        }])
            self.assertEqual(case.team, w.alpha)
            self.assertEqual(case.rework_job, installation)

    @with_transaction()
    def test_roles(self):
        "L2 cannot open a case; Finance reads holds, not cases"
        pool = Pool()
        Case = pool.get('ev.service.case')
        Hold = pool.get('ev.service.hold')
        Part = pool.get('ev.service.part')
        w = self.setup()
        with set_company(w.company):
            finance = create_user('finance',
                'ev_station.group_finance')
            _, part = self.shipped_part(w)
            Part.mark_missing([part])
            with as_user(w.l2):
                with self.assertRaises(AccessError):
                    Case.create([{'station': w.station.id,
                                'company': w.company.id,
                                'description': "By L2"}])
            with as_user(finance):
                self.assertEqual(len(Hold.search([])), 1)
                with self.assertRaises(AccessError):
                    Case.search([])
                with self.assertRaises(AccessError):
                    Hold.write(Hold.search([]), {'reason': "x"})
            with as_user(w.manager):
                self.assertEqual(len(Case.search([])), 1)


class ServiceReturnTestCase(ServiceWorld, ModuleDBTestCase):
    "The old parts land in the returns location; the warehouse receives"
    module = 'ev_service'

    def returns(self):
        Configuration = Pool().get('ev.service.configuration')
        return Configuration(1).returns_location

    def customer_location(self):
        pool = Pool()
        Location = pool.get('stock.location')
        ModelData = pool.get('ir.model.data')
        return Location(ModelData.get_id('stock', 'location_customer'))

    def old_lot(self, w, number='OLD-1'):
        Lot = Pool().get('stock.lot')
        lot, = Lot.search([('number', '=', number)])
        return lot

    @with_transaction()
    def test_return_lands_in_returns_location(self):
        "Out to the van, into the station, the old one back for inspection"
        pool = Pool()
        Case = pool.get('ev.service.case')
        Part = pool.get('ev.service.part')
        w = self.setup()
        with set_company(w.company):
            returns, customer = self.returns(), self.customer_location()
            self.assertEqual((returns.code, returns.parent), ('RET', w.warehouse))
            case, part = self.shipped_part(w)
            van = w.alpha.location
            self.assertEqual(
                (quantity(w.charger, w.storage), quantity(w.charger, van),
                    quantity(w.charger, customer),
                    quantity(w.charger, returns)),
                (2, 1, 0, 0))
            Case.start_visit([case])
            Case.complete_replacement([case])
            self.assertEqual(
                (quantity(w.charger, van), quantity(w.charger, customer)),
                (0, 1))

            part.condition = "Complete, relay burnt"
            part.save()
            with self.assertRaises(UserError) as cm:
                Part.receive([part])
            self.assertEqual(cm.exception.message,
                f'Enter the serial read on the old part of "{part.rec_name}" '
                'before receiving it.')
            part = Part(part.id)
            self.assertEqual(
                (part.return_state, part.received_at, part.return_move),
                ('pending', None, None))
            self.assertEqual(quantity(w.charger, returns), 0)

            part.returned_serial = 'OLD-1'
            part.save()
            Part.receive([part])
            old = self.old_lot(w)
            self.assertEqual(part.return_move.state, 'done')
            self.assertEqual(
                (part.return_move.from_location, part.return_move.to_location,
                    part.return_move.lot, part.return_move.origin),
                (customer, returns, old, part))
            self.assertEqual(quantity(w.charger, returns, old), 1)
            self.assertEqual(quantity(w.charger, w.storage), 2)
            # The new charger stays in the station
            self.assertEqual(quantity(w.charger, customer, w.lots[0]), 1)

    @with_transaction()
    def test_incomplete_return_keeps_the_rest_open(self):
        "The part lands once; the missing cable later adds no stock"
        Part = Pool().get('ev.service.part')
        w = self.setup()
        with set_company(w.company):
            returns = self.returns()
            _, part = self.shipped_part(w)
            Part.write([part], {'returned_serial': 'OLD-1',
                    'condition': "Charger back, cable missing"})
            Part.receive_incomplete([part])
            self.assertEqual(part.return_state, 'incomplete')
            self.assertIn(part, Part.search(
                    [('return_state', 'in', ['pending', 'missing',
                                'incomplete'])]))
            move = part.return_move
            self.assertEqual(quantity(w.charger, returns), 1)
            Part.write([part], {'condition': "Cable came in a second box"})
            Part.receive([part])
            self.assertEqual(
                (part.return_state, part.return_move), ('complete', move))
            self.assertEqual(quantity(w.charger, returns), 1)

    @with_transaction()
    def test_retained_spare_moves_nothing_back(self):
        Part = Pool().get('ev.service.part')
        w = self.setup()
        with set_company(w.company):
            returns = self.returns()
            _, part = self.shipped_part(w)
            Part.mark_missing([part])
            Part.write([part], {'retained_reason': "Kept as van spare"})
            with as_user(w.manager):
                Part.retain([Part(part.id)])
            part = Part(part.id)
            self.assertEqual(
                (part.return_state, part.return_move), ('retained', None))
            self.assertEqual([h.state for h in part.holds], ['released'])
            self.assertEqual(quantity(w.charger, returns), 0)

    @with_transaction()
    def test_overdue_control_as_the_cron(self):
        """The cron runs as the system: the hold is placed, and the part is
        handed over to the coordinator by the single point of access, once
        one is configured"""
        pool = Pool()
        Part = pool.get('ev.service.part')
        Hold = pool.get('ev.service.hold')
        Handover = pool.get('ev.station.handover')
        Configuration = pool.get('ev.station.configuration')
        w = self.setup()
        with set_company(w.company):
            spoc = create_user('svc-spoc', 'ev_station.group_installation')
            _, part = self.shipped_part(w)
            _, later = self.shipped_part(w, lot=w.lots[1])
            yesterday = dt.date.today() - dt.timedelta(days=1)
            Part.write([part], {'return_due': yesterday})
            with Transaction().set_user(0):
                self.assertEqual(Part.mark_overdue(), [part])
            self.assertEqual(
                [(h.part, h.state) for h in Hold.search([])],
                [(part, 'active')])
            # Nobody to stay responsible: no handover, the log says it
            self.assertEqual(
                Handover.search([('work', '=', f'{part}:return')]), [])
            self.assertEqual(service_events(w.station)[-2:],
                ['service_return_overdue', 'service_hold_placed'])

            Configuration.write([Configuration(1)], {'escalation_user': spoc})
            Part.write([later], {'return_due': yesterday})
            with Transaction().set_user(0):
                self.assertEqual(Part.mark_overdue(), [later])
            handover, = Handover.search([('work', '=', f'{later}:return')])
            self.assertEqual(
                (handover.forwarder, handover.receiver, handover.state),
                (spoc, later.case.coordinator, 'pending'))

    @with_transaction()
    def test_warehouse_receives_only(self):
        """The warehouse receives and inspects; it neither decides nor
        approves a spare, and a field team cannot receive"""
        pool = Pool()
        Case = pool.get('ev.service.case')
        Part = pool.get('ev.service.part')
        w = self.setup()
        with set_company(w.company):
            warehouse = create_user('svc-warehouse',
                'ev_station.group_warehouse')
            crew = create_user('svc-crew',
                'ev_field.group_field_team', employee=w.crew)
            _, part = self.shipped_part(w)
            _, kept = self.shipped_part(w, lot=w.lots[1])
            Part.write([kept], {'retained_reason': "Van spare"})
            open_case = Case(station=w.station, company=w.company,
                description="Screen flickers", decision='remote_fix')
            open_case.save()
            Case.diagnose([open_case])

            with as_user(crew):
                with self.assertRaises(AccessButtonError) as cm:
                    Part.receive([Part(part.id)])
                self.assertEqual(cm.exception.message,
                    'Calling button "receive on "Service Part" is not '
                    'allowed.')
            self.assertEqual(Part(part.id).return_state, 'pending')

            with as_user(warehouse):
                with self.assertRaises(AccessButtonError) as cm:
                    Case.decide([Case(open_case.id)])
                self.assertEqual(cm.exception.message,
                    'Calling button "decide on "Service Case" is not '
                    'allowed.')
                with self.assertRaises(AccessError) as cm:
                    Part.retain([Part(kept.id)])
                self.assertEqual(cm.exception.message,
                    'Only the configured spare approver may retain a part '
                    'as an approved spare.')
                with self.assertRaises(AccessError):
                    Case.write([Case(open_case.id)], {'description': "x"})
                Part.write([Part(part.id)], {
                        'condition': "Complete", 'returned_serial': 'OLD-7'})
                Part.receive([Part(part.id)])
            self.assertEqual(Case(open_case.id).state, 'diagnosis')
            self.assertEqual(Part(kept.id).return_state, 'pending')
            part = Part(part.id)
            self.assertEqual(
                (part.return_state, part.return_move.lot.number),
                ('complete', 'OLD-7'))


del ModuleDBTestCase
