# This file is part of the EV operations suite. Classes are registered in
# tryton.cfg (user.py registers the HTTP routes of the commands API).
# Nothing is imported here: the services (python -m ...ingest, gateway)
# read their configuration before trytond chooses its database backend.
