# This file is part of the EV operations suite.
"The customer documents checklist of a lead: what the survey needs first"
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval, If

from .exceptions import LeadError
from .opportunity import CLOSED


class SaleOpportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    electricity_bill = fields.Binary(
        "Electricity Bill", filename='electricity_bill_name',
        file_id='electricity_bill_id', states=CLOSED)
    electricity_bill_name = fields.Char("Electricity Bill Name")
    electricity_bill_id = fields.Char("Electricity Bill ID", readonly=True)
    latitude = fields.Numeric(
        "Latitude", digits=(9, 6), states=CLOSED,
        domain=[If(Bool(Eval('latitude')),
                [('latitude', '>=', -90), ('latitude', '<=', 90)], [])])
    longitude = fields.Numeric(
        "Longitude", digits=(9, 6), states=CLOSED,
        domain=[If(Bool(Eval('longitude')),
                [('longitude', '>=', -180), ('longitude', '<=', 180)], [])])
    site_photos = fields.One2Many(
        'ev.lead.site_photo', 'lead', "Site Photos", states=CLOSED)
    electrician_name = fields.Char("Local Electrician", states=CLOSED)
    electrician_phone = fields.Char("Electrician Phone", states=CLOSED)
    missing_documents = fields.Function(
        fields.Text("Missing Documents"), 'get_missing_documents')
    documents_complete = fields.Function(
        fields.Boolean("Documents Complete"), 'get_documents_complete')

    def get_missing_documents(self, name):
        missing = []
        if not self.electricity_bill_id and not self.electricity_bill:
            missing.append(gettext('ev_lead.msg_missing_electricity_bill'))
        if not self.address:
            missing.append(gettext('ev_lead.msg_missing_address'))
        if self.latitude is None or self.longitude is None:
            missing.append(gettext('ev_lead.msg_missing_gps'))
        if not self.site_photos:
            missing.append(gettext('ev_lead.msg_missing_site_photos'))
        if not (self.electrician_name and self.electrician_phone):
            missing.append(gettext('ev_lead.msg_missing_electrician'))
        return '\n'.join(missing)

    def get_documents_complete(self, name):
        return not self.get_missing_documents(name)

    def check_documents(self):
        "Refuse a lead whose checklist is not complete"
        missing = self.get_missing_documents(None)
        if missing:
            raise LeadError(gettext(
                    'ev_lead.msg_documents_missing',
                    lead=self.rec_name, missing=missing))

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Party = pool.get('party.party')
        values = super().preprocess_values(mode, values)
        if values.get('electrician_phone'):
            phone = Party.normalize_phone(values['electrician_phone'])
            if phone:
                values['electrician_phone'] = phone
        return values

    @classmethod
    def validate_fields(cls, leads, field_names):
        pool = Pool()
        Party = pool.get('party.party')
        super().validate_fields(leads, field_names)
        for lead in leads:
            if (lead.electrician_phone
                    and not Party.normalize_phone(lead.electrician_phone)):
                raise LeadError(gettext(
                        'ev_lead.msg_invalid_phone',
                        phone=lead.electrician_phone))


class SitePhoto(ModelSQL, ModelView):
    "A photo of the site, shared by the customer"
    __name__ = 'ev.lead.site_photo'
    __string__ = "Site Photo"

    lead = fields.Many2One(
        'sale.opportunity', "Lead", required=True, ondelete='CASCADE')
    name = fields.Char("Name", required=True)
    image = fields.Binary(
        "Image", required=True, filename='name', file_id='image_id')
    image_id = fields.Char("Image ID", readonly=True)
