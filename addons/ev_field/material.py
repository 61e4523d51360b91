# This file is part of the EV operations suite.
"""An installation's materials on Tryton stock: the bill of materials of the
lead's charger model exploded for the site, Check & Allocate (reserved and
moved to the team's van, or requested when short), consumption at the
customer's and the return of what a cancelled job took"""
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction

from .exceptions import FieldJobError
from .job import IS_INSTALLATION


class Job(metaclass=PoolMeta):
    __name__ = 'ev.field.job'

    materials = fields.One2Many('ev.field.job.material', 'job', "Materials",
        states={
            'invisible': ~IS_INSTALLATION,
            'readonly': ~Eval('state').in_(['draft', 'scheduled']),
            })
    allocation = fields.Many2One('stock.shipment.internal', "Allocation",
        readonly=True, states={'invisible': ~IS_INSTALLATION})
    procurements = fields.One2Many(
        'ev.field.procurement', 'job', "Local Procurements",
        states={'invisible': ~IS_INSTALLATION})
    consumption_moves = fields.One2Many('stock.move', 'origin',
        "Consumed Materials", readonly=True,
        states={'invisible': ~IS_INSTALLATION})

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'plan_materials': {
                    'invisible': ~IS_INSTALLATION
                    | ~Eval('state').in_(['draft', 'scheduled'])
                    | Bool(Eval('allocation')),
                    'depends': ['state', 'kind', 'allocation'],
                    },
                'allocate_materials': {
                    'invisible': ~IS_INSTALLATION
                    | ~Eval('state').in_(['draft', 'scheduled', 'confirmed'])
                    | ~Eval('materials', []),
                    'depends': ['state', 'kind', 'materials'],
                    },
                })

    @classmethod
    def copy(cls, jobs, default=None):
        default = default.copy() if default else {}
        for name in ['allocation', 'procurements', 'consumption_moves']:
            default.setdefault(name)
        return super().copy(jobs, default=default)

    # -- planning and allocation ------------------------------------------

    @classmethod
    @ModelView.button
    def plan_materials(cls, jobs):
        "The bill of materials of the lead's charger model, for this site"
        pool = Pool()
        BOM = pool.get('ev.field.bom')
        Material = pool.get('ev.field.job.material')
        to_save, to_delete = [], []
        for job in jobs:
            if job.allocation:
                raise FieldJobError(gettext(
                        'ev_field.msg_materials_allocated', job=job.rec_name))
            bom = BOM.for_model(job.lead.charger_model)
            if not bom:
                raise FieldJobError(gettext(
                        'ev_field.msg_bom_missing', job=job.rec_name,
                        model=job.lead.charger_model or '-'))
            if not job.survey or not job.survey.cable_run_m:
                raise FieldJobError(gettext(
                        'ev_field.msg_bom_needs_survey', job=job.rec_name))
            to_delete.extend(job.materials)
            for product, quantity in bom.explode(
                    job.lead.charger_quantity, job.survey.cable_run_m):
                to_save.append(Material(job=job, product=product,
                        quantity=quantity, unit=product.default_uom,
                        state='planned'))
        Material.delete(to_delete)
        Material.save(to_save)

    @classmethod
    @ModelView.button
    def allocate_materials(cls, jobs):
        """Check availability in the warehouse: what is there is reserved
        and moved to the team's van; what is missing is requested"""
        for job in jobs:
            job._allocate_materials()

    def _allocate_materials(self):
        pool = Pool()
        Material = pool.get('ev.field.job.material')
        Shipment = pool.get('stock.shipment.internal')
        Date = pool.get('ir.date')
        Configuration = pool.get('ev.field.configuration')
        config = Configuration(1)
        if not self.team or not self.team.location:
            raise FieldJobError(gettext(
                    'ev_field.msg_team_no_van', job=self.rec_name,
                    team=self.team.rec_name if self.team else '-'))
        warehouse = config.get_warehouse(self.company)
        storage = warehouse.storage_location
        pending = [m for m in self.materials if m.state in {'planned', 'short'}]
        if not pending:
            return
        available = self.available_quantities(
            storage, [m.product for m in pending])
        short = [m for m in pending
            if available.get(m.product.id, 0) < m.quantity]
        if short:
            self._request_short_materials(short, available, warehouse)
            return
        # Everything is there: one internal shipment to the van, reserved
        # then done; lot-tracked products travel with their serials.
        moves = []
        for material in pending:
            moves.extend(self._material_moves(material, storage))
        shipment = Shipment(company=self.company, from_location=storage,
            to_location=self.team.location, moves=moves,
            planned_date=Date.today(), planned_start_date=Date.today(),
            effective_date=Date.today())
        shipment.save()
        Shipment.wait([shipment])
        Shipment.assign_try([shipment])
        if Shipment(shipment.id).state != 'assigned':
            Shipment.cancel([shipment])
            raise FieldJobError(gettext(
                    'ev_field.msg_materials_reservation_failed',
                    job=self.rec_name))
        Shipment.do([shipment])
        self.allocation = shipment
        self.save()
        Material.write(pending, {'state': 'allocated'})
        self.record('materials_allocated', gettext(
                'ev_field.msg_log_materials_allocated', job=self.rec_name,
                shipment=shipment.rec_name, van=self.team.location.rec_name),
            completes=self.work_key('procure'))

    def _request_short_materials(self, short, available, warehouse):
        "A purchase request for what the warehouse is missing"
        pool = Pool()
        Material = pool.get('ev.field.job.material')
        Request = pool.get('purchase.request')
        Date = pool.get('ir.date')
        today = Date.today()
        requests = []
        for material in short:
            if material.request:
                continue
            missing = material.quantity - max(
                available.get(material.product.id, 0), 0)
            requests.append(Request(
                    product=material.product,
                    description=material.product.rec_name,
                    quantity=missing, unit=material.unit,
                    computed_quantity=missing,
                    computed_unit=material.unit,
                    warehouse=warehouse, company=self.company,
                    purchase_date=today, supply_date=today,
                    origin=self, state='draft'))
            material.request = requests[-1]
        Request.save(requests)
        for material in short:
            material.state = 'short'
        Material.save(short)
        self.record('materials_short', gettext(
                'ev_field.msg_log_materials_short', job=self.rec_name,
                materials=', '.join(
                    f'{m.product.rec_name} × {m.quantity}' for m in short)),
            **self.handover_values(gettext(
                    'ev_field.msg_action_procure', job=self.rec_name),
                'procure'))

    def _material_moves(self, material, storage):
        pool = Pool()
        Move = pool.get('stock.move')
        Product = pool.get('product.product')
        Date = pool.get('ir.date')
        base = dict(product=material.product, unit=material.unit,
            from_location=storage, to_location=self.team.location,
            company=self.company, origin=material)
        if not material.product.lot_is_required(storage, self.team.location):
            return [Move(quantity=material.quantity, **base)]
        # Serialized: one move per lot available in the warehouse
        with Transaction().set_context(
                stock_date_end=Date.today(), company=self.company.id):
            pbl = Product.products_by_location([storage.id],
                with_childs=True, grouping=('product', 'lot'),
                grouping_filter=([material.product.id],))
        moves, needed = [], material.quantity
        for (_, _, lot), quantity in sorted(pbl.items(),
                key=lambda i: (i[0][2] is None, i[0][2] or 0)):
            if lot is None or quantity <= 0 or needed <= 0:
                continue
            take = min(quantity, needed)
            moves.append(Move(quantity=take, lot=lot, **base))
            needed -= take
        if needed > 0:
            raise FieldJobError(gettext(
                    'ev_field.msg_serials_missing',
                    product=material.product.rec_name, job=self.rec_name))
        return moves

    def available_quantities(self, location, products):
        pool = Pool()
        Product = pool.get('product.product')
        Date = pool.get('ir.date')
        with Transaction().set_context(
                stock_date_end=Date.today(), company=self.company.id):
            pbl = Product.products_by_location([location.id],
                with_childs=True,
                grouping_filter=([p.id for p in products],))
        return {product: quantity for (_, product), quantity in pbl.items()}

    # -- consumption ------------------------------------------------------

    @classmethod
    def installations_reported(cls, jobs):
        super().installations_reported(jobs)
        cls.consume_materials(jobs)

    @classmethod
    def consume_materials(cls, jobs):
        """Moves from the van to the customer: the installed serial, the
        cable used and the rest of the kit"""
        pool = Pool()
        Move = pool.get('stock.move')
        Location = pool.get('stock.location')
        ModelData = pool.get('ir.model.data')
        customer = Location(ModelData.get_id('stock', 'location_customer'))
        length = ModelData.get_id('product', 'uom_cat_length')
        moves = []
        for job in jobs:
            van = job.team.location
            charger = job.charger_lot.product
            for material in job.materials:
                if material.state != 'allocated':
                    continue
                product = material.product
                if product == charger:
                    quantity, lot = 1, job.charger_lot
                elif product.default_uom.category.id == length:
                    quantity, lot = float(job.cable_used_m), None
                else:
                    quantity, lot = material.quantity, None
                moves.append(Move(product=product, unit=material.unit,
                        quantity=quantity, lot=lot, from_location=van,
                        to_location=customer, company=job.company,
                        origin=job, unit_price=product.cost_price,
                        currency=job.company.currency))
        Move.save(moves)
        Move.do(moves)

    # -- cancellation -----------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, jobs):
        "A cancelled job gives its materials back to the warehouse"
        for job in jobs:
            job.return_materials()
        super().cancel(jobs)

    def return_materials(self):
        pool = Pool()
        Shipment = pool.get('stock.shipment.internal')
        Move = pool.get('stock.move')
        Material = pool.get('ev.field.job.material')
        Request = pool.get('purchase.request')
        Date = pool.get('ir.date')
        allocated = [m for m in self.materials if m.state == 'allocated']
        shipment = self.allocation
        if shipment and shipment.state == 'done':
            back = Shipment(company=self.company,
                from_location=shipment.to_location,
                to_location=shipment.from_location,
                planned_date=Date.today(), planned_start_date=Date.today(),
                effective_date=Date.today(),
                moves=[Move(product=m.product, unit=m.unit,
                        quantity=m.quantity, lot=m.lot,
                        from_location=shipment.to_location,
                        to_location=shipment.from_location,
                        company=self.company, origin=m.origin)
                    for m in shipment.moves if m.state == 'done'])
            back.save()
            Shipment.wait([back])
            Shipment.assign_try([back])
            if Shipment(back.id).state != 'assigned':
                raise FieldJobError(gettext(
                        'ev_field.msg_materials_not_in_van',
                        job=self.rec_name))
            Shipment.do([back])
            returned = back.rec_name
        elif shipment and shipment.state not in {'done', 'cancelled'}:
            Shipment.cancel([shipment])
            returned = shipment.rec_name
        else:
            returned = None
        requests = [m.request for m in self.materials
            if m.request and m.request.state == 'draft']
        if requests:
            Request.delete(requests)
        if self.materials:
            Material.write(list(self.materials), {'state': 'returned'})
        if returned:
            self.record('materials_returned', gettext(
                    'ev_field.msg_log_materials_returned', job=self.rec_name,
                    shipment=returned,
                    materials=', '.join(f'{m.product.rec_name} × '
                        f'{m.quantity}' for m in allocated)))


class JobMaterial(ModelSQL, ModelView):
    __name__ = 'ev.field.job.material'
    __string__ = "Job Material"

    job = fields.Many2One('ev.field.job', "Job", required=True,
        ondelete='CASCADE')
    product = fields.Many2One('product.product', "Product", required=True,
        domain=[('type', '=', 'goods')])
    quantity = fields.Float("Quantity", required=True,
        digits='unit', domain=[('quantity', '>', 0)])
    unit = fields.Many2One('product.uom', "Unit", required=True)
    state = fields.Selection([
            ('planned', "Planned"),
            ('short', "Short: to procure"),
            ('allocated', "Allocated to the van"),
            ('returned', "Returned"),
            ], "State", readonly=True, required=True)
    request = fields.Many2One('purchase.request', "Purchase Request",
        readonly=True, ondelete='SET NULL')

    @classmethod
    def default_state(cls):
        return 'planned'
