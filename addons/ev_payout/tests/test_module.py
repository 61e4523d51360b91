# This file is part of the EV operations suite.
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class EvPayoutTestCase(CompanyTestMixin, ModuleTestCase):
    "Tryton's own checks of the module: views, depends, access, messages"
    module = 'ev_payout'


del ModuleTestCase
