# This file is part of the EV operations suite. Classes are registered in
# tryton.cfg.
