# This file is part of the EV operations suite.
import pytest

from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase

# Tryton's checks of the models, views and access data: the same on every
# backend, so run in the SQLite pass only (./ev test)
pytestmark = pytest.mark.backend_independent


class EvOemReportTestCase(CompanyTestMixin, ModuleTestCase):
    "Tryton's own checks of the module: views, depends, access, messages"
    module = 'ev_oem_report'
    extras = ['ev_payout', 'ev_service']


del ModuleTestCase
