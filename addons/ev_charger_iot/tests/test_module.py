# This file is part of the EV operations suite.
from trytond.tests.test_tryton import ModuleTestCase


class EvChargerIotTestCase(ModuleTestCase):
    "Tryton's own checks of the module: views, depends, access, messages"
    module = 'ev_charger_iot'


del ModuleTestCase
