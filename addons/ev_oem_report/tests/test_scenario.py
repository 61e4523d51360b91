# This file is part of the EV operations suite.
"Runs the scenario_*.rst doctests of the module under pytest"
from trytond.modules.ev_station.tests.tools import scenario_test

test_scenario = scenario_test(__name__, __file__)
