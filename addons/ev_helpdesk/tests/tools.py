# This file is part of the EV operations suite.
"The helpdesk's test world: a company, a customer's station, the roles"
from types import SimpleNamespace

from trytond.modules.company.tests import create_company, set_company
from trytond.modules.ev_field.tests.tools import create_user
from trytond.pool import Pool


def department(code):
    Department = Pool().get('ev.helpdesk.department')
    department, = Department.search([('code', '=', code)])
    return department


def category(code):
    return Pool().get('ev.helpdesk.category').from_code(code)


def setup_helpdesk():
    """A company with a customer (phone +91 98450 12345), their station and
    charger, and a user of each role: a manager, a dispatcher, a hotline
    agent, a technical agent, an installer (field team) and a CPO"""
    pool = Pool()
    Party = pool.get('party.party')
    Station = pool.get('ev.station')
    Charger = pool.get('ev.charger')
    Department = pool.get('ev.helpdesk.department')
    w = SimpleNamespace()
    w.company = create_company()
    with set_company(w.company):
        w.customer = Party(name="Asha Rao", contact_mechanisms=[
                {'type': 'mobile', 'value': '+919845012345'}])
        w.customer.save()
        w.station = Station(customer=w.customer)
        w.station.save()
        w.charger = Charger(station=w.station, identity='CP-HD-1')
        w.charger.save()
        w.manager = create_user('hd-manager',
            'ev_helpdesk.group_helpdesk_manager')
        w.dispatcher = create_user('hd-dispatcher',
            'ev_helpdesk.group_helpdesk_dispatcher')
        w.agent = create_user('hd-agent', 'ev_helpdesk.group_helpdesk_agent')
        w.technician = create_user('hd-tech',
            'ev_helpdesk.group_helpdesk_agent')
        w.installer = create_user('hd-installer', 'ev_field.group_field_team')
        w.cpo = create_user('hd-cpo', 'ev_charger_iot.group_iot_operator')
        for user in [w.manager, w.dispatcher, w.agent, w.technician,
                w.installer, w.cpo]:
            user.companies = [w.company]
            user.company = w.company
            user.save()
        w.hotline = department('hotline')
        w.technical = department('technical')
        Department.write([w.hotline], {'members': [('add', [w.agent.id])],
                'supervisor': w.manager.id})
        Department.write([w.technical], {
                'members': [('add', [w.technician.id])],
                'supervisor': w.manager.id})
    return w
