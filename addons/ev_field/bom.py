# This file is part of the EV operations suite.
"Bills of materials per charger model"
import math

from trytond.model import DeactivableMixin, ModelSQL, ModelView, Unique, fields


class BOM(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'ev.field.bom'
    __string__ = "Charger Bill of Materials"
    _rec_name = 'charger_model'

    charger_model = fields.Char("Charger Model", required=True,
        help="As written on the lead, e.g. \"Wallbox 7.4 kW\".")
    charger = fields.Many2One('product.product', "Charger", required=True,
        domain=[('type', '=', 'goods')],
        help="The charger product; its serials are stock lots.")
    lines = fields.One2Many('ev.field.bom.line', 'bom', "Lines",
        help="Cable, protection devices, mounting kit, ...")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('model_unique', Unique(t, t.charger_model),
                'ev_field.msg_bom_model_unique'),
            ]

    @classmethod
    def for_model(cls, charger_model):
        if not charger_model:
            return None
        boms = cls.search([('charger_model', 'ilike', charger_model.strip())],
            limit=1)
        return boms[0] if boms else None

    def explode(self, chargers, cable_run_m):
        """(product, quantity) for `chargers` chargers on a site whose
        survey measured `cable_run_m` metres of cable run"""
        result = [(self.charger, float(chargers))]
        for line in self.lines:
            if line.per_metre:
                # Cable is cut from the reel per charger, rounded up to
                # whole metres plus the line's allowance
                quantity = chargers * (math.ceil(float(cable_run_m))
                    + (line.quantity or 0))
            else:
                quantity = chargers * line.quantity
            result.append((line.product, float(quantity)))
        return result


class BOMLine(ModelSQL, ModelView):
    __name__ = 'ev.field.bom.line'
    __string__ = "Charger Bill of Materials Line"

    bom = fields.Many2One('ev.field.bom', "BOM", required=True,
        ondelete='CASCADE')
    product = fields.Many2One('product.product', "Product", required=True,
        domain=[('type', '=', 'goods')])
    per_metre = fields.Boolean("Per Metre of Cable Run",
        help="The quantity follows the survey's cable run length; "
        "the line's quantity is then the extra allowance in metres.")
    quantity = fields.Float("Quantity", required=True,
        domain=[('quantity', '>=', 0)],
        help="Per charger.")
    unit = fields.Function(fields.Many2One('product.uom', "Unit"),
        'on_change_with_unit')

    @fields.depends('product')
    def on_change_with_unit(self, name=None):
        return self.product.default_uom if self.product else None

    @classmethod
    def default_quantity(cls):
        return 1
