# This file is part of the EV operations suite.
from trytond.exceptions import UserError
from trytond.model.exceptions import ValidationError


class PayoutError(UserError):
    pass


class PayoutValidationError(ValidationError):
    pass


class ScheduleError(ValidationError):
    pass
