# This file is part of the EV operations suite.
from trytond.model.exceptions import ValidationError


class ReportPeriodError(ValidationError):
    pass


class ReportConfigError(ValidationError):
    pass
