# This file is part of the EV operations suite.
"""What an OEM wants in the closure pack of an installation: its items, in
its order, under its labels, required or optional"""
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.pyson import Eval, In

from .exceptions import ClosureTemplateError

# What a pack can hold, and where each item takes its content from
ITEM_TYPES = [
    ('survey_report', "Survey report"),
    ('installation_report', "Installation report"),
    ('main_photo', "Main final-site photo"),
    ('photo', "Site photos"),
    ('video', "Video (link)"),
    ('signature', "Customer sign-off"),
    ('commissioning', "Commissioning data"),
    ('event_log', "Event log (client-visible entries)"),
    ('document', "Document (uploaded file)"),
    ]
# The items counted in photos or links: a template may ask for several
COUNTED_TYPES = ['photo', 'video']


class Template(DeactivableMixin, ModelSQL, ModelView):
    "OEM Closure Pack Template"
    __name__ = 'ev.oem.closure.template'
    __string__ = "Closure Pack Template"

    name = fields.Char("Name", required=True)
    oem = fields.Many2One('party.party', "OEM", required=True,
        ondelete='RESTRICT', domain=[('ev_is_oem', '=', True)],
        help="The packs of this OEM's installations follow the template.")
    items = fields.One2Many(
        'ev.oem.closure.template.item', 'template', "Items")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('oem', 'ASC'), ('id', 'DESC')]

    @classmethod
    def validate_fields(cls, templates, field_names):
        super().validate_fields(templates, field_names)
        if field_names and not field_names & {'oem', 'active'}:
            return
        for template in templates:
            if not template.active:
                continue
            others = cls.search([
                    ('oem', '=', template.oem.id),
                    ('id', '!=', template.id),
                    ], limit=1)
            if others:
                raise ClosureTemplateError(gettext(
                        'ev_oem_report.msg_template_one_per_oem',
                        oem=template.oem.rec_name,
                        template=others[0].rec_name))

    @classmethod
    def for_oem(cls, oem):
        "The OEM's active template, or None"
        templates = cls.search([('oem', '=', oem.id)], limit=1)
        return templates[0] if templates else None


class TemplateItem(sequence_ordered(), ModelSQL, ModelView):
    "OEM Closure Pack Template Item"
    __name__ = 'ev.oem.closure.template.item'
    __string__ = "Closure Pack Template Item"

    template = fields.Many2One('ev.oem.closure.template', "Template",
        required=True, ondelete='CASCADE')
    label = fields.Char("Label", required=True,
        help="The OEM's name for the item, as the pack shows it.")
    item_type = fields.Selection(ITEM_TYPES, "Type", required=True)
    required = fields.Boolean("Required",
        help="A pack without it cannot be submitted.")
    quantity = fields.Integer("Quantity",
        domain=[('quantity', '>=', 1)],
        states={'invisible': ~In(Eval('item_type'), COUNTED_TYPES)},
        help="How many files or links the OEM wants.")
    photo_keyword = fields.Char("Photo Keyword",
        states={'invisible': Eval('item_type') != 'photo'},
        help="The station's photos whose name holds it fill the item "
        "(e.g. \"earthing\"); empty: any site photo.")
    description = fields.Text("Description",
        help="What the OEM asks for, shown in the pack.")

    @classmethod
    def default_required(cls):
        return True

    @classmethod
    def default_quantity(cls):
        return 1

    @classmethod
    def _validate(cls, items, field_names=None):
        # Before Tryton's check of the selection: say which type is unknown
        # and what the types are
        known = dict(ITEM_TYPES)
        for item in items:
            if item.item_type not in known:
                raise ClosureTemplateError(gettext(
                        'ev_oem_report.msg_template_item_type_unknown',
                        type=item.item_type, label=item.label,
                        types=', '.join(known)))
        super()._validate(items, field_names=field_names)
