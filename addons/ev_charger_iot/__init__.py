# This file is part of the EV operations suite. Classes are registered in
# tryton.cfg; the import registers the HTTP routes of the commands API.
from . import routes

__all__ = [routes]
