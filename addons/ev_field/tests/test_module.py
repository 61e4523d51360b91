# This file is part of the EV operations suite.
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class EvFieldTestCase(CompanyTestMixin, ModuleTestCase):
    "Tryton's own checks of the module: views, depends, access, messages"
    module = 'ev_field'


class EvFieldIotTestCase(CompanyTestMixin, ModuleTestCase):
    "The same checks with ev_charger_iot, whose chargers have rules here"
    module = 'ev_field'
    extras = ['ev_charger_iot']


del ModuleTestCase
