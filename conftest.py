# This file is part of the EV operations suite.
"""What pytest does for every test of the suite (addons/*/tests and tests/).

`./ev test` runs the suite twice, once per database backend (EV_BACKEND is
`sqlite` or `postgresql`). A test that cannot behave differently on the two
(a pure parser, REST validation that never reaches SQL specifics, the
browser test) is marked `@pytest.mark.backend_independent`, or with
`pytestmark = pytest.mark.backend_independent` for a whole file, and runs in
the SQLite pass only: running it again on PostgreSQL is pure cost. Without
EV_BACKEND (pytest run by hand) every test runs."""
import os


BACKEND_INDEPENDENT = 'backend_independent'
# The pass that runs the backend-independent tests
BACKEND_INDEPENDENT_PASS = 'sqlite'


def pytest_configure(config):
    config.addinivalue_line('markers', f"{BACKEND_INDEPENDENT}: the test "
        "does not depend on the database backend; ./ev test runs it in the "
        f"{BACKEND_INDEPENDENT_PASS} pass only")


def pytest_collection_modifyitems(config, items):
    backend = os.environ.get('EV_BACKEND')
    if not backend or backend == BACKEND_INDEPENDENT_PASS:
        return
    kept, deselected = [], []
    for item in items:
        if item.get_closest_marker(BACKEND_INDEPENDENT):
            deselected.append(item)
        else:
            kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
