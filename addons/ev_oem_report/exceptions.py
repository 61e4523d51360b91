# This file is part of the EV operations suite.
from trytond.exceptions import UserError
from trytond.model.exceptions import ValidationError


class ClosurePackError(UserError):
    pass


class ClosureTemplateError(ValidationError):
    pass


class ReportPeriodError(ValidationError):
    pass


class ReportConfigError(ValidationError):
    pass
