# This file is part of the EV operations suite.
from trytond.exceptions import UserError
from trytond.model.exceptions import ValidationError


class TicketError(UserError):
    pass


class TicketValidationError(ValidationError):
    pass


class RequestError(UserError):
    pass


class WhatsAppError(UserError):
    pass


class CallError(UserError):
    pass


class DashboardError(UserError):
    pass
