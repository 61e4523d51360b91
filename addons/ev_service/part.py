# This file is part of the EV operations suite.
"""Parts out and back: each replacement part leaves the warehouse with its
serial, a return box and a return label, and the old part is expected back
within the configured days. Overdue or missing parts place a financial hold
on the responsible contractor (hold.py)."""
import datetime as dt

from sql import Null

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .exceptions import PartReturnError, ServiceCaseError
from .overdue import OverdueControl

RETURN_STATES = [
    ('to_ship', "Not Shipped"),
    ('pending', "Return Pending"),
    ('complete', "Returned Complete"),
    ('incomplete', "Returned Incomplete"),
    ('missing', "Missing"),
    ('retained', "Retained as Approved Spare"),
    ]
# The old part is still expected back in these states
EXPECTED_STATES = ['pending', 'missing', 'incomplete']
DESTINATIONS = [
    ('van', "Team's Van"),
    ('customer', "Customer"),
    ]


class Part(OverdueControl, Workflow, ModelSQL, ModelView):
    __name__ = 'ev.service.part'
    __string__ = "Service Part"
    _transition_state = 'return_state'

    case = fields.Many2One('ev.service.case', "Case", required=True,
        ondelete='CASCADE',
        states={'readonly': Eval('return_state') != 'to_ship'})
    company = fields.Many2One('company.company', "Company", required=True,
        states={'readonly': Eval('return_state') != 'to_ship'})
    product = fields.Many2One('product.product', "Product", required=True,
        domain=[('type', '=', 'goods')],
        context={'company': Eval('company', -1)}, depends={'company'},
        states={'readonly': Eval('return_state') != 'to_ship'})
    lot = fields.Many2One('stock.lot', "Serial",
        domain=[('product', '=', Eval('product', -1))],
        states={'readonly': Eval('return_state') != 'to_ship'})
    quantity = fields.Float("Quantity", required=True, readonly=True,
        help="One part per line: each has its own serial and return.")
    cost = fields.Numeric("Cost", digits=(16, 2), readonly=True,
        help="The product's cost price when the part was added, in the "
        "company's currency: the amount of a hold.")
    currency = fields.Function(fields.Many2One(
            'currency.currency', "Currency"), 'on_change_with_currency')
    destination = fields.Selection(DESTINATIONS, "Ship To", required=True,
        states={'readonly': Eval('return_state') != 'to_ship'})
    shipment = fields.Many2One('stock.shipment.internal', "Shipment",
        readonly=True)
    outgoing_move = fields.Many2One('stock.move', "Outgoing Move",
        readonly=True)
    install_move = fields.Many2One('stock.move', "Installed Move",
        readonly=True,
        help="The move of the part from the van into the station.")
    return_box = fields.Many2One('stock.package', "Return Box",
        ondelete='RESTRICT',
        states={
            'readonly': Eval('return_state') != 'to_ship',
            },
        help="The returnable box that goes out with the part.")
    return_label = fields.Char("Return Label",
        states={'readonly': Eval('return_state') != 'to_ship'},
        help="The carrier's return label ID, required before shipping.")
    shipped_at = fields.DateTime("Shipped At", readonly=True)
    return_due = fields.Date("Return Due",
        states={
            'readonly': Eval('return_state') != 'pending',
            'required': Eval('return_state') != 'to_ship',
            },
        help="Set on shipping from the configured days; the coordinator "
        "may agree another date while the return is pending.")
    return_state = fields.Selection(RETURN_STATES, "Return", readonly=True,
        required=True, sort=False)
    overdue_since = fields.DateTime("Overdue Since", readonly=True)
    overdue_team = fields.Many2One('ev.field.team', "Overdue With",
        readonly=True, ondelete='RESTRICT',
        help="The team of the case when the part became overdue.")
    overdue = fields.Function(fields.Boolean("Overdue"),
        'get_overdue', searcher='search_overdue')
    received_at = fields.DateTime("Received At", readonly=True)
    condition = fields.Text("Condition",
        states={'readonly': ~Eval('return_state').in_(
                ['pending', 'missing', 'incomplete'])},
        help="What the inspection of the returned part found.")
    retained_reason = fields.Text("Reason to Retain",
        states={'readonly': ~Eval('return_state').in_(EXPECTED_STATES)})
    retained_by = fields.Many2One('res.user', "Retained By", readonly=True)
    returned_serial = fields.Char("Returned Serial",
        states={'readonly': ~Eval('return_state').in_(
                ['pending', 'missing'])},
        help="The serial on the old part that came back.")
    return_move = fields.Many2One('stock.move', "Return Move", readonly=True,
        help="The old part into the returns location, for inspection.")
    holds = fields.One2Many('ev.service.hold', 'part', "Holds",
        readonly=True)

    @classmethod
    def __register__(cls, module):
        pool = Pool()
        Case = pool.get('ev.service.case')
        cursor = Transaction().connection.cursor()
        table_h = cls.__table_handler__(module)
        fill_team = not table_h.column_exist('overdue_team')
        super().__register__(module)
        # Migration: the parts overdue before the team was stored answer
        # for the case's team
        if fill_team:
            part, case = cls.__table__(), Case.__table__()
            cursor.execute(*part.update([part.overdue_team],
                    [case.select(case.team, where=case.id == part.case)],
                    where=part.overdue_since != Null))

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.case, Index.Equality())),
                # The overdue control reads pending parts by due date
                Index(t,
                    (t.return_state, Index.Equality(cardinality='low')),
                    (t.return_due, Index.Range())),
                # The Overdue tab: its domain (search_overdue) and order
                Index(t,
                    (t.return_due, Index.Range(order='ASC NULLS LAST')),
                    (t.id, Index.Range()),
                    where=(t.overdue_since != Null)
                    & t.return_state.in_(['pending', 'missing'])),
                # The non-returns KPI (kpi.py) reads them by shipment date
                Index(t,
                    (t.company, Index.Equality()),
                    (t.shipped_at, Index.Range()),
                    include=[t.overdue_team, t.return_due],
                    where=(t.overdue_since != Null)
                    & t.return_state.in_(['pending', 'missing'])),
                })
        cls._order = [('return_due', 'ASC NULLS LAST'), ('id', 'ASC')]
        cls._transitions |= {
            ('to_ship', 'pending'),
            ('pending', 'complete'),
            ('pending', 'incomplete'),
            ('pending', 'missing'),
            ('pending', 'retained'),
            ('missing', 'complete'),
            ('missing', 'incomplete'),
            ('missing', 'retained'),
            ('incomplete', 'complete'),
            ('incomplete', 'retained'),
            }
        cls._buttons.update({
                'receive': {
                    'invisible': ~Eval('return_state').in_(EXPECTED_STATES),
                    'depends': ['return_state'],
                    },
                'receive_incomplete': {
                    'invisible': ~Eval('return_state').in_(
                        ['pending', 'missing']),
                    'depends': ['return_state'],
                    },
                'mark_missing': {
                    'invisible': Eval('return_state') != 'pending',
                    'depends': ['return_state'],
                    },
                'retain': {
                    'invisible': ~Eval('return_state').in_(EXPECTED_STATES),
                    'depends': ['return_state'],
                    },
                })

    @classmethod
    def default_return_state(cls):
        return 'to_ship'

    @classmethod
    def default_quantity(cls):
        return 1

    @classmethod
    def default_destination(cls):
        return 'van'

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @fields.depends('company')
    def on_change_with_currency(self, name=None):
        return self.company.currency if self.company else None

    @fields.depends('case', '_parent_case.company')
    def on_change_case(self):
        if self.case and self.case.company:
            self.company = self.case.company

    def get_overdue(self, name):
        return bool(self.overdue_since
            and self.return_state in {'pending', 'missing'})

    @classmethod
    def search_overdue(cls, name, clause):
        _, operator, value = clause[:3]
        overdue = [('overdue_since', '!=', None),
            ('return_state', 'in', ['pending', 'missing'])]
        if (operator == '=') == bool(value):
            return overdue
        return ['OR', ('overdue_since', '=', None),
            ('return_state', 'not in', ['pending', 'missing'])]

    def get_rec_name(self, name):
        serial = f' {self.lot.number}' if self.lot else ''
        return f'{self.case.rec_name}: {self.product.rec_name}{serial}'

    return_state_string = return_state.translated('return_state')

    @classmethod
    def preprocess_values(cls, mode, values):
        "The cost of the part is the product's cost price when added"
        pool = Pool()
        Product = pool.get('product.product')
        Case = pool.get('ev.service.case')
        Company = pool.get('company.company')
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            values['quantity'] = 1
            if values.get('case') and not values.get('company'):
                values['company'] = Case(values['case']).company.id
            if values.get('product') and values.get('cost') is None:
                with without_check_access():
                    cost = Product(values['product']).cost_price
                    if cost is not None and values.get('company'):
                        cost = Company(values['company']).currency.round(
                            cost)
                    values['cost'] = cost
        return values

    @classmethod
    def check_modification(cls, mode, parts, values=None, external=False):
        super().check_modification(
            mode, parts, values=values, external=external)
        if mode == 'delete':
            for part in parts:
                if part.return_state != 'to_ship':
                    raise AccessError(gettext(
                            'ev_service.msg_part_delete', part=part.rec_name))

    @classmethod
    def copy(cls, parts, default=None):
        default = default.copy() if default else {}
        for name in ['shipment', 'outgoing_move', 'install_move',
                'shipped_at', 'return_due', 'overdue_since', 'received_at',
                'retained_by', 'holds', 'return_box', 'return_label',
                'returned_serial', 'return_move']:
            default.setdefault(name)
        default.setdefault('return_state', 'to_ship')
        return super().copy(parts, default=default)

    def work_key(self, work):
        return f'{self}:{work}'

    def responsible_party(self):
        "Who answers for the part: the contractor of the case's team"
        if self.case.team:
            return self.case.team.responsible_party()
        return self.company.party

    # -- out ---------------------------------------------------------------

    @classmethod
    @Workflow.transition('pending')
    def ship(cls, parts):
        """Each part leaves the warehouse storage with its serial: to the
        team's van on an internal shipment, or straight to the customer"""
        pool = Pool()
        Configuration = pool.get('ev.service.configuration')
        FieldConfiguration = pool.get('ev.field.configuration')
        Date = pool.get('ir.date')
        config = Configuration(1)
        for part in parts:
            if not part.return_label or not part.return_box:
                raise ServiceCaseError(gettext(
                        'ev_service.msg_part_return_packaging',
                        part=part.rec_name))
            if part.destination == 'van' and not (
                    part.case.team and part.case.team.location):
                raise ServiceCaseError(gettext(
                        'ev_service.msg_part_no_van', part=part.rec_name,
                        team=part.case.team.rec_name
                        if part.case.team else '-'))
        now = dt.datetime.now()
        today = Date.today()
        due = today + dt.timedelta(days=config.return_days)
        with without_check_access():
            by_case = {}
            for part in parts:
                by_case.setdefault(part.case, []).append(part)
            for case, case_parts in by_case.items():
                storage = FieldConfiguration(1).get_warehouse(
                    case.company).storage_location
                to_van = [p for p in case_parts if p.destination == 'van']
                to_customer = [p for p in case_parts
                    if p.destination == 'customer']
                if to_van:
                    cls._ship_to_van(case, to_van, storage, today)
                if to_customer:
                    cls._ship_to_customer(case, to_customer, storage, today)
        cls.write(parts, {'shipped_at': now, 'return_due': due})
        # The last part of a case out is the case's step in the chain
        last = {p.case: p for p in parts}
        for part in parts:
            step = {}
            if last[part.case] == part:
                step = part.case.step_values(
                    part.case.next_work_action('parts_shipped'))
            part.case.record('service_part_shipped', gettext(
                    'ev_service.msg_log_part_shipped', part=part.rec_name,
                    box=part.return_box.rec_name, label=part.return_label,
                    due=due), **step)

    @classmethod
    def _move(cls, part, from_location, to_location, today):
        Move = Pool().get('stock.move')
        move = Move(product=part.product, unit=part.product.default_uom,
            quantity=part.quantity, lot=part.lot,
            from_location=from_location, to_location=to_location,
            company=part.company, origin=part, effective_date=today,
            planned_date=today)
        if 'customer' in {from_location.type, to_location.type}:
            # The part leaves (or comes back to) the company at its cost
            move.unit_price = part.cost or 0
            move.currency = part.company.currency
        return move

    @classmethod
    def _ship_to_van(cls, case, parts, storage, today):
        Shipment = Pool().get('stock.shipment.internal')
        van = case.team.location
        moves = [cls._move(p, storage, van, today) for p in parts]
        shipment = Shipment(company=case.company, from_location=storage,
            to_location=van, moves=moves, planned_date=today,
            planned_start_date=today, effective_date=today)
        shipment.save()
        Shipment.wait([shipment])
        Shipment.assign_try([shipment])
        if Shipment(shipment.id).state != 'assigned':
            raise ServiceCaseError(gettext(
                    'ev_service.msg_part_not_in_stock', case=case.rec_name,
                    location=storage.rec_name))
        Shipment.do([shipment])
        for part, move in zip(parts, shipment.moves):
            part.shipment = shipment
            part.outgoing_move = move
        cls.save(parts)

    @classmethod
    def _ship_to_customer(cls, case, parts, storage, today):
        pool = Pool()
        Move = pool.get('stock.move')
        Location = pool.get('stock.location')
        ModelData = pool.get('ir.model.data')
        customer = Location(ModelData.get_id('stock', 'location_customer'))
        moves = [cls._move(p, storage, customer, today) for p in parts]
        Move.save(moves)
        if not Move.assign_try(moves):
            raise ServiceCaseError(gettext(
                    'ev_service.msg_part_not_in_stock', case=case.rec_name,
                    location=storage.rec_name))
        Move.do(moves)
        for part, move in zip(parts, moves):
            part.outgoing_move = move
        cls.save(parts)

    @classmethod
    def install(cls, parts):
        "The parts carried in the van go into the station at the customer's"
        pool = Pool()
        Move = pool.get('stock.move')
        Location = pool.get('stock.location')
        ModelData = pool.get('ir.model.data')
        Date = pool.get('ir.date')
        parts = [p for p in parts
            if p.destination == 'van' and p.shipment and not p.install_move]
        if not parts:
            return
        today = Date.today()
        with without_check_access():
            customer = Location(
                ModelData.get_id('stock', 'location_customer'))
            moves = [cls._move(p, p.shipment.to_location, customer, today)
                for p in parts]
            Move.save(moves)
            Move.do(moves)
            for part, move in zip(parts, moves):
                part.install_move = move
            cls.save(parts)

    # -- back --------------------------------------------------------------

    @classmethod
    def check_expected(cls, parts):
        "Only a part that went out and is not back yet can come back"
        for part in parts:
            if part.return_state == 'to_ship':
                raise PartReturnError(gettext(
                        'ev_service.msg_part_never_shipped',
                        part=part.rec_name))
            if part.return_state not in EXPECTED_STATES:
                raise PartReturnError(gettext(
                        'ev_service.msg_part_already_back',
                        part=part.rec_name,
                        state=part.return_state_string))

    @classmethod
    @ModelView.button
    def receive(cls, parts):
        "The old part is back, complete: its holds are released"
        cls.check_expected(parts)
        cls.check_returned_serial(parts)
        cls._receive_complete(parts)

    @classmethod
    @Workflow.transition('complete')
    def _receive_complete(cls, parts):
        Hold = Pool().get('ev.service.hold')
        cls.write(parts, {'received_at': dt.datetime.now()})
        cls._return_to_stock(parts)
        for part in parts:
            part.case.record('service_return_received', gettext(
                    'ev_service.msg_log_return_received', part=part.rec_name,
                    condition=part.condition or '-'),
                completes=part.work_key('return'))
        Hold.release_for(parts, gettext('ev_service.msg_hold_reason_returned'))

    @classmethod
    @ModelView.button
    def receive_incomplete(cls, parts):
        """Some of the part came back: what is missing stays open (and a
        hold, if one was placed, stays active)"""
        cls.check_expected(parts)
        for part in parts:
            if not part.condition:
                raise PartReturnError(gettext(
                        'ev_service.msg_part_condition_required',
                        part=part.rec_name))
        cls.check_returned_serial(parts)
        cls._receive_incomplete(parts)

    @classmethod
    @Workflow.transition('incomplete')
    def _receive_incomplete(cls, parts):
        cls.write(parts, {'received_at': dt.datetime.now()})
        cls._return_to_stock(parts)
        for part in parts:
            part.case.record('service_return_incomplete', gettext(
                    'ev_service.msg_log_return_incomplete',
                    part=part.rec_name, condition=part.condition))

    @classmethod
    def _return_locations(cls):
        "The old part comes out of the station into the returns location"
        pool = Pool()
        Configuration = pool.get('ev.service.configuration')
        Location = pool.get('stock.location')
        ModelData = pool.get('ir.model.data')
        with without_check_access():
            return (Location(ModelData.get_id('stock', 'location_customer')),
                Configuration(1).returns_location)

    @classmethod
    def check_returned_serial(cls, parts):
        "A serialised product comes back with the serial read on it"
        customer, returns = cls._return_locations()
        for part in parts:
            if (not part.return_move and not part.returned_serial
                    and part.product.lot_is_required(customer, returns)):
                raise PartReturnError(gettext(
                        'ev_service.msg_part_returned_serial_required',
                        part=part.rec_name))

    @classmethod
    def _return_to_stock(cls, parts):
        """The old part lands in the returns location with its serial, once:
        what comes later to complete an incomplete return adds no stock"""
        pool = Pool()
        Move = pool.get('stock.move')
        Lot = pool.get('stock.lot')
        Date = pool.get('ir.date')
        parts = [p for p in parts if not p.return_move]
        if not parts:
            return
        customer, returns = cls._return_locations()
        today = Date.today()
        moves = []
        with without_check_access():
            for part in parts:
                move = cls._move(part, customer, returns, today)
                move.lot = None
                if part.returned_serial:
                    move.lot, = Lot.search([
                            ('product', '=', part.product.id),
                            ('number', '=', part.returned_serial),
                            ], limit=1) or [Lot(product=part.product,
                            number=part.returned_serial)]
                    move.lot.save()
                moves.append(move)
            Move.save(moves)
            Move.do(moves)
            for part, move in zip(parts, moves):
                part.return_move = move
            cls.save(parts)

    @classmethod
    @ModelView.button
    @Workflow.transition('missing')
    def mark_missing(cls, parts):
        "The part will not come back: a hold equal to its cost is placed"
        Hold = Pool().get('ev.service.hold')
        for part in parts:
            part.case.record('service_part_missing', gettext(
                    'ev_service.msg_log_part_missing', part=part.rec_name))
        Hold.place(parts, gettext('ev_service.msg_hold_reason_missing'))

    @classmethod
    @ModelView.button
    def retain(cls, parts):
        """The contractor keeps the part as an approved spare: only the
        configured approver may say so, with a reason"""
        Configuration = Pool().get('ev.service.configuration')
        cls.check_expected(parts)
        with without_check_access():
            may_approve = Configuration(1).may_approve_spare()
        if Transaction().user and not may_approve:
            raise AccessError(gettext('ev_service.msg_spare_approver_only'))
        for part in parts:
            if not part.retained_reason:
                raise PartReturnError(gettext(
                        'ev_service.msg_spare_reason_required',
                        part=part.rec_name))
        # The approver need not be a Service Manager: the approval is theirs,
        # the write is the module's
        with without_check_access():
            cls._retain(parts)

    @classmethod
    @Workflow.transition('retained')
    def _retain(cls, parts):
        Hold = Pool().get('ev.service.hold')
        cls.write(parts, {'retained_by': Transaction().user or None})
        for part in parts:
            part.case.record('service_spare_retained', gettext(
                    'ev_service.msg_log_spare_retained', part=part.rec_name,
                    reason=part.retained_reason),
                completes=part.work_key('return'))
        Hold.release_for(parts, gettext('ev_service.msg_hold_reason_spare'))
