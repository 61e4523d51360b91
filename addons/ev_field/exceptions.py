# This file is part of the EV operations suite.
from trytond.exceptions import UserError
from trytond.model.exceptions import ValidationError


class FieldJobError(UserError):
    pass


class ProcurementError(UserError):
    pass


class UPIError(ValidationError):
    pass
