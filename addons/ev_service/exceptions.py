# This file is part of the EV operations suite.
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError


class ServiceCaseError(UserError):
    pass


class ServiceAccessError(AccessError):
    pass


class PartReturnError(UserError):
    pass


class HoldError(ValidationError):
    pass


class WarrantyClaimError(UserError):
    pass


class WarrantyClaimValidationError(ValidationError):
    pass
