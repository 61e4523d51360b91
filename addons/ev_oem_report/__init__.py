# This file is part of the EV operations suite. Classes are registered in
# tryton.cfg; the import registers the report routes of the OEM API.
from . import report_routes

__all__ = [report_routes]
