# This file is part of the EV operations suite.
"""Departments and categories of the helpdesk.

The departments are the capabilities of seed 004's team (Hotline, Service,
Maintenance, Technical): an agent belongs to one or more and sees the
calls, tickets and requests of those (record rules). A category (Payment
Issues, Charger Faults, General Inquiry, Complaints; configurable) sorts
calls, tickets and inbox requests and names the department that handles
them and the priority a ticket starts with."""
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields, sequence_ordered)
from trytond.pool import Pool
from trytond.transaction import Transaction

PRIORITIES = [
    ('critical', "Critical"),
    ('high', "High"),
    ('medium', "Medium"),
    ('low', "Low"),
    ]


class Department(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'ev.helpdesk.department'
    __string__ = "Helpdesk Department"

    name = fields.Char("Name", required=True, translate=True)
    code = fields.Char("Code", required=True)
    members = fields.Many2Many('ev.helpdesk.department-res.user',
        'department', 'user', "Members",
        help="The agents who handle the department's calls and tickets.")
    supervisor = fields.Many2One('res.user', "Supervisor",
        help="Who is told when the department's tickets near or breach "
        "their SLA.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'ev_helpdesk.msg_department_code_unique'),
            ]
        cls._order = [('name', 'ASC'), ('id', 'ASC')]

    @classmethod
    def user_departments(cls, user_id=None):
        "The ids of the departments `user_id` (the user) belongs to"
        Member = Pool().get('ev.helpdesk.department-res.user')
        if user_id is None:
            user_id = Transaction().user
        member = Member.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*member.select(member.department,
                where=member.user == user_id))
        return sorted(d for d, in cursor)


class DepartmentMember(ModelSQL):
    __name__ = 'ev.helpdesk.department-res.user'
    __string__ = "Helpdesk Department Member"

    department = fields.Many2One('ev.helpdesk.department', "Department",
        required=True, ondelete='CASCADE')
    user = fields.Many2One('res.user', "User", required=True,
        ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('member_unique', Unique(t, t.department, t.user),
                'ev_helpdesk.msg_department_member_unique'),
            ]


class Category(sequence_ordered(), DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'ev.helpdesk.category'
    __string__ = "Helpdesk Category"

    name = fields.Char("Name", required=True, translate=True)
    code = fields.Char("Code", required=True,
        help="The key the classifier and the integrations use.")
    department = fields.Many2One('ev.helpdesk.department', "Department",
        help="The department that handles this category.")
    priority = fields.Selection(PRIORITIES, "Default Priority",
        required=True, sort=False,
        help="The priority a ticket of this category starts with.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'ev_helpdesk.msg_category_code_unique'),
            ]

    @classmethod
    def default_priority(cls):
        return 'medium'

    @classmethod
    def from_code(cls, code):
        "The active category of `code`, or None"
        categories = cls.search([('code', '=', code)], limit=1)
        return categories[0] if categories else None
