# This file is part of the EV operations suite.
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval, Id


def xml_id(module, xml_id):
    try:
        return Pool().get('ir.model.data').get_id(module, xml_id)
    except KeyError:
        return None


class Configuration(ModelSingleton, ModelSQL, ModelView):
    __name__ = 'ev.helpdesk.configuration'
    __string__ = "Helpdesk Configuration"

    ticket_sequence = fields.Many2One('ir.sequence', "Ticket Sequence",
        required=True,
        domain=[
            ('company', 'in', [Eval('context', {}).get('company', -1), None]),
            ('sequence_type', '=',
                Id('ev_helpdesk', 'sequence_type_ticket')),
            ])
    reopen_hours = fields.Integer("Reopen Within (Hours)", required=True,
        domain=[('reopen_hours', '>=', 0)],
        help="A customer's reply within this many hours of the resolution "
        "reopens the ticket; a later one opens a new ticket.")
    default_department = fields.Many2One('ev.helpdesk.department',
        "Default Department",
        help="The department of a ticket or request whose category names "
        "none.")

    @classmethod
    def default_ticket_sequence(cls):
        return xml_id('ev_helpdesk', 'sequence_ticket')

    @classmethod
    def default_reopen_hours(cls):
        return 72

    @classmethod
    def default_default_department(cls):
        return xml_id('ev_helpdesk', 'department_hotline')
