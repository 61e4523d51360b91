# This file is part of the EV operations suite.
"""Routing rules of the inbox: after classification, the first active rule
(by sequence) whose category, urgency and channel match a request sends it
to its department and, if the rule names one, its agent. A criterion left
empty matches anything. A request no rule matches goes to its category's
department (or the configuration's default one)."""
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval

from .category import PRIORITIES
from .request import CHANNELS


class Route(sequence_ordered(), DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'ev.helpdesk.route'
    __string__ = "Helpdesk Routing Rule"

    name = fields.Char("Name", required=True, translate=True)
    category = fields.Many2One('ev.helpdesk.category', "Category",
        help="Empty: any category.")
    urgency = fields.Selection([(None, "")] + PRIORITIES, "Urgency",
        sort=False, help="Empty: any urgency.")
    channel = fields.Selection([(None, "")] + CHANNELS, "Channel",
        help="Empty: any channel.")
    department = fields.Many2One('ev.helpdesk.department', "Department",
        required=True, ondelete='RESTRICT')
    agent = fields.Many2One('res.user', "Agent",
        domain=[('id', 'in', Eval('department_members', []))],
        help="Empty: the department's queue.")
    department_members = fields.Function(fields.Many2Many(
            'res.user', None, None, "Department Members"),
        'on_change_with_department_members')

    @fields.depends('department')
    def on_change_with_department_members(self, name=None):
        if self.department:
            return [u.id for u in self.department.members]
        return []

    @fields.depends('department', 'agent')
    def on_change_department(self):
        if self.agent and (not self.department
                or self.agent not in self.department.members):
            self.agent = None

    def match(self, request):
        "Whether the request meets the rule's criteria"
        return ((not self.category or self.category == request.category)
            and (not self.urgency or self.urgency == request.urgency)
            and (not self.channel or self.channel == request.channel))

    @classmethod
    def first_match(cls, request, routes=None):
        "The first active rule, by sequence, that `request` meets, or None"
        if routes is None:
            routes = cls.search([])
        for route in routes:
            if route.match(request):
                return route


class Request(metaclass=PoolMeta):
    __name__ = 'ev.helpdesk.request'

    routing_rule = fields.Many2One('ev.helpdesk.route', "Routing Rule",
        readonly=True, ondelete='SET NULL',
        help="The rule that chose the department and the agent.")

    @classmethod
    def route(cls, requests):
        Route = Pool().get('ev.helpdesk.route')
        todo = [r for r in requests
            if r.state == 'new' and not r.department and not r.agent]
        routes = Route.search([]) if todo else []
        for request in todo:
            rule = Route.first_match(request, routes)
            if rule:
                request.department = rule.department
                request.agent = rule.agent
                request.routing_rule = rule
        # request.py's routing saves them and sends the others to their
        # category's department
        super().route(requests)
