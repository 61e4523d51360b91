# This file is part of the EV operations suite.
# The models are registered in tryton.cfg; the import registers the
# WhatsApp webhook's HTTP routes.
from . import whatsapp_routes  # noqa: F401
