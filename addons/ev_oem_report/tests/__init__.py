# This file is part of the EV operations suite.
