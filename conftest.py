# This file is part of the EV operations suite.
"""What pytest does for every test of the suite (addons/*/tests and tests/).

`./ev test` runs the suite twice, once per database backend (EV_BACKEND is
`sqlite` or `postgresql`). A test that cannot behave differently on the two
(a pure parser, REST validation that never reaches SQL specifics, the
browser test) is marked `@pytest.mark.backend_independent`, or with
`pytestmark = pytest.mark.backend_independent` for a whole file, and runs in
the SQLite pass only: running it again on PostgreSQL is pure cost. Without
EV_BACKEND (pytest run by hand) every test runs.

Module databases are built one on another. Tryton's test framework keeps a
database per set of activated modules in DB_CACHE and builds each from
nothing: ev_service's would install ev_station, ev_lead and ev_field again
after their own tests did. Here a missing cache is built from the cache of
the largest set it contains (ev_field on ev_lead on ev_station), activating
only the modules that are new. On PostgreSQL, DB_CACHE=postgresql://... keeps
the caches as template databases named after DB_NAME, copied in a second
where pg_restore takes three."""
import configparser
import glob
import hashlib
import os


BACKEND_INDEPENDENT = 'backend_independent'
# The pass that runs the backend-independent tests
BACKEND_INDEPENDENT_PASS = 'sqlite'
ADDONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'addons')


def pytest_configure(config):
    config.addinivalue_line('markers', f"{BACKEND_INDEPENDENT}: the test "
        "does not depend on the database backend; ./ev test runs it in the "
        f"{BACKEND_INDEPENDENT_PASS} pass only")
    if os.environ.get('DB_CACHE'):
        build_module_databases_on_each_other()


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


def ev_dependencies():
    "{module: the ev_* modules it needs, itself included} from tryton.cfg"
    direct = {}
    for path in glob.glob(os.path.join(ADDONS, '*', 'tryton.cfg')):
        parser = configparser.ConfigParser()
        parser.read(path)
        depends = parser.get('tryton', 'depends', fallback='').split()
        direct[os.path.basename(os.path.dirname(path))] = {
            d for d in depends if d.startswith('ev_')}

    def closure(module, seen=()):
        result = {module}
        for dependency in direct.get(module, ()):
            if dependency not in seen:
                result |= closure(dependency, seen + (module,))
        return result
    return {module: closure(module) for module in direct}


def build_module_databases_on_each_other():
    """Make test_tryton's restore_db_cache build a missing cache on the
    cache of the largest module set it contains (see the docstring)"""
    from trytond.tests import test_tryton, tools

    closures = ev_dependencies()
    restore = test_tryton.restore_db_cache
    db_cache_file = test_tryton._db_cache_file
    # Cache names (module sets) this process restored or built
    known = set()

    def modules_of(name):
        modules = name.split('-')
        if '--' in name or not all(m in closures for m in modules):
            return None  # a language or a scenario set-up: not ours
        return modules

    def needs(modules):
        return set().union(*(closures[m] for m in modules))

    def base_of(name):
        """The cache of the largest module set within `name`'s: one built
        already (it may hold the same modules under another name) or one
        of a module, built on its own base"""
        wanted = needs(modules_of(name))
        candidates = [k for k in known if k != name
            and needs(modules_of(k)) <= wanted]
        candidates += [k for k in closures if k != name
            and closures[k] <= wanted]
        return max(candidates, key=lambda k: len(needs(modules_of(k))),
            default=None)

    def restore_db_cache(name):
        # Tryton's restore drops DB_NAME without closing this process's
        # connections to it (a pool loaded by a previous restore): close
        # them first, or PostgreSQL refuses the DROP
        test_tryton.drop_db()
        if restore(name):
            known.add(name)
            return True
        if not modules_of(name):
            return False
        base = base_of(name)
        if base is None:
            return False
        # The base restored (or built, through this same function) into
        # DB_NAME; activate_module then activates only what is new there
        # and keeps the result as `name`'s cache
        test_tryton.drop_db()
        if not restore_db_cache(base):
            test_tryton.activate_module(modules_of(base))
            known.add(base)
        test_tryton.activate_module(modules_of(name))
        known.add(name)
        return True

    def _db_cache_file(path, name):
        # Template databases named after this run's DB_NAME: a stale
        # template of another run (other code) is never taken
        if test_tryton.DB_CACHE.startswith('postgresql://'):
            hash_name = hashlib.shake_128(
                name.encode('utf8')).hexdigest(40 // 2)
            return f"{test_tryton.DB_CACHE}/{test_tryton.DB_NAME}-{hash_name}"
        return db_cache_file(path, name)

    test_tryton.restore_db_cache = tools.restore_db_cache = restore_db_cache
    test_tryton._db_cache_file = _db_cache_file
