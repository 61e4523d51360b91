# This file is part of the EV operations suite.
"Fixtures of the cross-module tests"
import os

import pytest

from iot_tools import DemoServer
from server import TrytonServer

# The files on the demo data set, in the order they run: the checks of the
# data as loaded first, then the browser tests that change it (a survey
# called, another scheduled, a procurement approved, a charger reset)
DEMO_FILES = ['test_demo_field.py', 'test_demo_service.py',
    'test_demo_helpdesk.py', 'test_demo_payout.py',
    'test_demo_oem_report.py', 'test_browser_oem_report.py',
    'test_browser_field.py',
    'test_browser_roles.py', 'test_browser_helpdesk.py']


@pytest.fixture(scope='session')
def server():
    """One real trytond for the session, on a database of its own (SQLite
    or PostgreSQL after TRYTOND_DATABASE__URI), removed at the end"""
    screenshots = os.environ.get('EV_SCREENSHOTS') == '1'
    with TrytonServer(demo=screenshots, data=not screenshots) as server:
        yield server


@pytest.fixture(scope='session')
def demo_server():
    """One trytond on the demo data set of `./ev run` for the session,
    shared by DEMO_FILES (loading the demo takes minutes)"""
    with DemoServer() as server:
        yield server


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    "DEMO_FILES in their order, where the last of them was collected"
    def demo_rank(item):
        name = os.path.basename(str(item.path))
        return DEMO_FILES.index(name) if name in DEMO_FILES else None
    demo = [item for item in items if demo_rank(item) is not None]
    if not demo:
        return
    position = max(items.index(item) for item in demo)
    others = [item for item in items if demo_rank(item) is None]
    before = sum(1 for item in items[:position] if demo_rank(item) is None)
    demo.sort(key=demo_rank)  # stable: each file keeps its own order
    items[:] = others[:before] + demo + others[before:]
