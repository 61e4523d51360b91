# This file is part of the EV operations suite. Classes are registered in
# tryton.cfg; the import registers the OEM API's HTTP routes.
from . import routes

__all__ = [routes]
