# This file is part of the EV operations suite.
"""Sending on WhatsApp from the back office: the "Send WhatsApp" wizard of
a ticket or a request (free text within the customer-service window, a
template outside it), and the alerts to the support teams when a critical
or charger-fault ticket opens, and when a ticket first becomes critical
later (once: lowered and raised again, it does not alert again)."""
import datetime as dt

from sql import Null

from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .exceptions import WhatsAppError
from .whatsapp import split_numbers


class SendStart(ModelView):
    __name__ = 'ev.helpdesk.whatsapp.send.start'
    __string__ = "Send WhatsApp"

    phone = fields.Char("Phone", required=True)
    window_open = fields.Boolean("Within the Window", readonly=True,
        help="The customer wrote within the customer-service window: free "
        "text may be sent. Outside it only a template.")
    text = fields.Text("Text",
        states={
            'invisible': ~Eval('window_open'),
            'required': Bool(Eval('window_open')),
            })
    template = fields.Char("Template",
        states={
            'invisible': Bool(Eval('window_open')),
            'required': ~Eval('window_open'),
            })
    language = fields.Char("Language",
        states={'invisible': Bool(Eval('window_open'))})

    @fields.depends('phone')
    def on_change_with_window_open(self):
        Message = Pool().get('ev.helpdesk.whatsapp.message')
        try:
            _, wa_id = Message.wa_id_of(self.phone)
        except WhatsAppError:
            return False
        with without_check_access():
            return Message.window_open(wa_id)


class Send(Wizard):
    "Send a WhatsApp message to the customer of a ticket or a request"
    __name__ = 'ev.helpdesk.whatsapp.send'
    start = StateView('ev.helpdesk.whatsapp.send.start',
        'ev_helpdesk.whatsapp_send_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Send", 'send', 'tryton-ok', default=True),
            ])
    send = StateTransition()

    def links(self):
        if self.model and self.model.__name__ == 'ev.helpdesk.ticket':
            return {'ticket': self.record,
                'request': self.record.whatsapp_request()}
        if self.model and self.model.__name__ == 'ev.helpdesk.request':
            return {'request': self.record, 'ticket': self.record.ticket}
        return {}

    def default_start(self, fields):
        Configuration = Pool().get('ev.helpdesk.configuration')
        config = Configuration(1)
        links = self.links()
        record = links.get('ticket') or links.get('request')
        phone = None
        if record is not None:
            phone = getattr(record, 'phone', None) or getattr(
                record, 'sender', None)
            if not phone and record.party:
                phone = record.party.get_contact_mechanism('mobile')
        values = {
            'phone': phone,
            'template': config.whatsapp_template,
            'language': config.whatsapp_template_language,
            }
        start = self.start.__class__(**values)
        values['window_open'] = start.on_change_with_window_open()
        return values

    def transition_send(self):
        Message = Pool().get('ev.helpdesk.whatsapp.message')
        links = self.links()
        if Message.window_open(Message.wa_id_of(self.start.phone)[1]):
            Message.send_text(self.start.phone, self.start.text, **links)
        else:
            Message.send_template(self.start.phone, self.start.template,
                self.start.language, **links)
        return 'end'


class Ticket(metaclass=PoolMeta):
    __name__ = 'ev.helpdesk.ticket'

    whatsapp_messages = fields.One2Many('ev.helpdesk.whatsapp.message',
        'ticket', "WhatsApp Messages", readonly=True,
        order=[('timestamp', 'ASC'), ('id', 'ASC')])
    became_critical_at = fields.DateTime("Became Critical At",
        readonly=True,
        help="When the ticket first became critical: the support team is "
        "alerted on WhatsApp then, once.")

    def whatsapp_request(self):
        "The request the ticket came from, if any"
        Request = Pool().get('ev.helpdesk.request')
        if isinstance(self.origin, Request):
            return self.origin
        return None

    def whatsapp_alerted(self):
        "Whether the support team is alerted on WhatsApp of this ticket"
        return (self.priority == 'critical'
            or (self.category and self.category.code == 'fault'))

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if (mode == 'create' and values.get('priority') == 'critical'
                and not values.get('became_critical_at')):
            values['became_critical_at'] = dt.datetime.now()
        return values

    @classmethod
    def create(cls, vlist):
        tickets = super().create(vlist)
        cls.whatsapp_alert([t for t in tickets if t.whatsapp_alerted()])
        return tickets

    @classmethod
    def copy(cls, tickets, default=None):
        default = default.copy() if default else {}
        default.setdefault('became_critical_at')
        return super().copy(tickets, default=default)

    @classmethod
    def on_write(cls, tickets, values):
        callback = super().on_write(tickets, values)
        if values.get('priority') != 'critical':
            return callback
        # Read before the write, from the table: the records given may
        # carry the new priority already (save)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        raised = []
        for sub_ids in grouped_slice([t.id for t in tickets], 1000):
            cursor.execute(*table.select(table.id,
                    where=fields.SQL_OPERATORS['in'](table.id, sub_ids)
                    & (table.priority != 'critical')
                    & (table.became_critical_at == Null)))
            raised.extend(i for i, in cursor)
        if raised:
            callback.append(lambda: cls._became_critical(raised))
        return callback

    @classmethod
    def _became_critical(cls, ids):
        "Mark the tickets critical from now and alert their teams"
        tickets = cls.browse(ids)
        cls.write(tickets, {'became_critical_at': dt.datetime.now()})
        cls.whatsapp_alert(tickets)

    @classmethod
    def whatsapp_alert(cls, tickets):
        """The alert template to the numbers of each ticket's department
        (or the configured ones), through the outbox"""
        pool = Pool()
        Configuration = pool.get('ev.helpdesk.configuration')
        Message = pool.get('ev.helpdesk.whatsapp.message')
        config = Configuration(1)
        if not tickets or not config.whatsapp_alert_template \
                or not config.whatsapp_phone_number_id:
            return []
        messages = []
        with without_check_access():
            for ticket in tickets:
                numbers = split_numbers(
                    (ticket.department
                        and ticket.department.whatsapp_alert_numbers)
                    or config.whatsapp_alert_numbers)
                for number in numbers:
                    try:
                        message = Message._outbound(number, ticket=ticket,
                            party=None, type='template',
                            template=config.whatsapp_alert_template,
                            template_language=(
                                config.whatsapp_template_language or 'en'),
                            template_parameters=Message.parameters_json([
                                    ticket.number, ticket.priority_string,
                                    ticket.subject]))
                    except WhatsAppError:
                        continue
                    # To the team, not the customer's conversation
                    message.party = None
                    messages.append(message)
            return Message.send(messages)


class Request(metaclass=PoolMeta):
    __name__ = 'ev.helpdesk.request'

    whatsapp_messages = fields.One2Many('ev.helpdesk.whatsapp.message',
        'request', "WhatsApp Messages", readonly=True,
        order=[('timestamp', 'ASC'), ('id', 'ASC')])
