# This file is part of the EV operations suite.
"Fixtures of the cross-module tests"
import os

import pytest

from server import TrytonServer


@pytest.fixture(scope='session')
def server():
    """One real trytond for the session, on a database of its own (SQLite
    or PostgreSQL after TRYTOND_DATABASE__URI), removed at the end"""
    screenshots = os.environ.get('EV_SCREENSHOTS') == '1'
    with TrytonServer(demo=screenshots, data=not screenshots) as server:
        yield server
