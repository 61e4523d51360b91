# This file is part of the EV operations suite.
"""The inbox: every incoming customer request in one queue.

A request comes from a channel (WhatsApp, an email to the support address,
the customer portal, a person typing it in), is classified (category and
urgency, with the classifier's confidence), routed to a department or an
agent, and becomes a ticket — or is answered or dismissed. The channels
create requests through `Request.receive`; the classifier and the routing
rules fill in the rest."""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .category import PRIORITIES
from .exceptions import RequestError

CHANNELS = [
    ('whatsapp', "WhatsApp"),
    ('email', "Email"),
    ('portal', "Customer Portal"),
    ('manual', "Manual"),
    ]
_done = Eval('state') != 'new'


class Request(Workflow, ModelSQL, ModelView):
    __name__ = 'ev.helpdesk.request'
    __string__ = "Helpdesk Request"

    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    channel = fields.Selection(CHANNELS, "Channel", required=True,
        readonly=True)
    channel_string = channel.translated('channel')
    received_at = fields.DateTime("Received At", required=True,
        readonly=True)
    sender = fields.Char("Sender", readonly=True,
        help="The phone number (E.164) or the email address it came from.")
    party = fields.Many2One('party.party', "Customer",
        states={'readonly': _done},
        context={'company': Eval('company', -1)}, depends={'company'})
    subject = fields.Char("Subject", states={'readonly': _done})
    text = fields.Text("Text",
        states={'readonly': _done | (Eval('channel') != 'manual')},
        help="What the customer asked; typed in only for a manual "
        "request, the channels bring their own.")
    category = fields.Many2One('ev.helpdesk.category', "Category",
        states={'readonly': _done})
    urgency = fields.Selection([(None, '')] + PRIORITIES, "Urgency",
        sort=False, states={'readonly': _done})
    category_confidence = fields.Float("Category Confidence",
        digits=(1, 2), readonly=True,
        help="How sure the classifier was of the category (0 to 1); "
        "empty when a person set it.")
    urgency_confidence = fields.Float("Urgency Confidence",
        digits=(1, 2), readonly=True)
    department = fields.Many2One('ev.helpdesk.department', "Department",
        states={'readonly': _done})
    agent = fields.Many2One('res.user', "Agent",
        states={'readonly': _done})
    ticket = fields.Many2One('ev.helpdesk.ticket', "Ticket", readonly=True)
    state = fields.Selection([
            ('new', "New"),
            ('ticket', "Ticket"),
            ('done', "Done"),
            ], "State", readonly=True, required=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.state, Index.Equality()),
                    (t.received_at, Index.Range()),
                    where=t.state == 'new'),
                Index(t, (t.agent, Index.Range()),
                    where=t.state == 'new'),
                Index(t, (t.department, Index.Range()),
                    where=t.state == 'new'),
                Index(t, (t.party, Index.Range())),
                })
        cls._order = [('received_at', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('new', 'ticket'),
            ('new', 'done'),
            ('done', 'new'),
            }
        cls._buttons.update({
                'create_ticket': {
                    'invisible': Eval('state') != 'new',
                    'depends': ['state'],
                    },
                'done': {
                    'invisible': Eval('state') != 'new',
                    'depends': ['state'],
                    },
                'renew': {
                    'invisible': Eval('state') != 'done',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_state(cls):
        return 'new'

    @classmethod
    def default_channel(cls):
        return 'manual'

    @classmethod
    def default_received_at(cls):
        return dt.datetime.now()

    def get_rec_name(self, name):
        text = self.subject or (self.text or '').strip().split('\n')[0]
        return f'{self.channel_string}: {text[:60]}'

    @classmethod
    def check_modification(cls, mode, requests, values=None,
            external=False):
        super().check_modification(
            mode, requests, values=values, external=external)
        if mode == 'delete':
            raise RequestError(gettext('ev_helpdesk.msg_request_delete'))

    @classmethod
    def receive(cls, vlist):
        """The door of the channels: create the requests and classify and
        route them (`classify` and `route`, which other files extend)"""
        requests = cls.create(vlist)
        cls.classify(requests)
        cls.route(requests)
        return requests

    @classmethod
    def classify(cls, requests):
        "Set the category and the urgency of the requests (see classifier)"

    @classmethod
    def route(cls, requests):
        "Set the department of the requests from their category"
        Configuration = Pool().get('ev.helpdesk.configuration')
        default = Configuration(1).default_department
        for request in requests:
            if request.department or request.agent:
                continue
            if request.category and request.category.department:
                request.department = request.category.department
            else:
                request.department = default
        cls.save(requests)

    def ticket_values(self):
        "The values of the ticket the request becomes"
        Category = Pool().get('ev.helpdesk.category')
        category = self.category or Category.from_code('inquiry')
        if not category:
            raise RequestError(gettext(
                    'ev_helpdesk.msg_request_category_required',
                    request=self.rec_name))
        text = (self.text or '').strip()
        values = {
            'company': self.company.id,
            'subject': (self.subject or text.split('\n')[0][:80]
                or category.name),
            'description': text,
            'category': category.id,
            'origin': str(self),
            'party': self.party and self.party.id,
            'phone': self.sender if self.channel == 'whatsapp' else None,
            'opened_at': self.received_at,
            }
        if self.urgency:
            values['priority'] = self.urgency
        if self.department:
            values['department'] = self.department.id
        if self.agent:
            values['agent'] = self.agent.id
        return values

    @classmethod
    @ModelView.button
    @Workflow.transition('ticket')
    def create_ticket(cls, requests):
        Ticket = Pool().get('ev.helpdesk.ticket')
        tickets = Ticket.create([r.ticket_values() for r in requests])
        for request, ticket in zip(requests, tickets):
            request.ticket = ticket
        cls.save(requests)

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def done(cls, requests):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('new')
    def renew(cls, requests):
        pass
