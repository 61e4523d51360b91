# This file is part of the EV operations suite.
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError


class EventTypeError(UserError):
    pass


class StageError(UserError):
    pass


class LogImmutableError(AccessError):
    pass


class LogValidationError(ValidationError):
    pass


class HandoverError(UserError):
    pass


class PhotoError(ValidationError):
    pass


class DisputeError(UserError):
    pass


class DisputeValidationError(ValidationError):
    pass
