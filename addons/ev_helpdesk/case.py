# This file is part of the EV operations suite.
from trytond.model import fields
from trytond.pool import PoolMeta


class Case(metaclass=PoolMeta):
    "A service case may be opened from a helpdesk ticket"
    __name__ = 'ev.service.case'

    tickets = fields.One2Many('ev.helpdesk.ticket', 'service_case',
        "Tickets", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        if ('ticket', "Helpdesk Ticket") not in cls.origin.selection:
            cls.origin.selection.append(('ticket', "Helpdesk Ticket"))
