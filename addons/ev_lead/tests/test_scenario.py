# This file is part of the EV operations suite.
"Runs the scenario_*.rst doctests of the module under pytest"
import unittest

import pytest

from trytond.tests.test_tryton import load_doc_tests


def scenarios():
    suite = load_doc_tests(
        __name__, __file__, unittest.TestLoader(), unittest.TestSuite(), None)
    return list(suite)


@pytest.mark.parametrize('scenario', scenarios(), ids=lambda s: str(s))
def test_scenario(scenario):
    result = unittest.TestResult()
    scenario.run(result)
    problems = result.failures + result.errors
    assert not problems, '\n'.join(text for _, text in problems)
