# This file is part of the EV operations suite.
"""Tickets opened by charger alerts (ev_charger_iot), and the recovery noted
on them.

An alert of ev_charger_iot is one episode: opened once the condition
outlasts its debounce delay, closed by the recovery (a set-based update of
the ingestion, no method to extend). Our cron opens one ticket per open
alert of a configured kind (a connector fault, an offline episode longer
than the configured minutes) and notes on the ticket when its alert closes,
each in one indexed query. The ticket names its alert and a unique
constraint keeps it to one ticket per episode even when two crons run at
once. It mirrors ev_service's alert.py, which opens service cases the same
way: the two differ in the record they open and its configuration, and the
query is ten lines, so there is no shared home to put it in."""
import datetime as dt

from sql import Null

from trytond.i18n import gettext
from trytond.model import Index, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval, If
from trytond.transaction import Transaction

from .category import PRIORITIES
from .configuration import xml_id


class Configuration(metaclass=PoolMeta):
    __name__ = 'ev.helpdesk.configuration'

    alert_category = fields.Many2One('ev.helpdesk.category',
        "Charger Alert Category",
        states={
            'required': (Bool(Eval('alert_fault_opens_ticket'))
                | (Eval('alert_offline_minutes', None) != None)),  # noqa: E711
            },
        help="The category of the tickets opened by charger alerts.")
    alert_fault_opens_ticket = fields.Boolean(
        "Connector Fault Opens a Ticket",
        help="A connector fault alert opens a ticket (one per episode).")
    alert_fault_priority = fields.Selection(PRIORITIES,
        "Connector Fault Priority", required=True, sort=False)
    alert_offline_minutes = fields.Integer("Offline Opens a Ticket After",
        domain=[If(Eval('alert_offline_minutes', None) != None,  # noqa: E711
                ('alert_offline_minutes', '>=', 0), ())],
        help="In minutes since the last heartbeat: an offline episode that "
        "lasts longer opens a ticket (one per episode). "
        "Empty: offline alerts open none.")
    alert_offline_priority = fields.Selection(PRIORITIES,
        "Offline Priority", required=True, sort=False)

    @classmethod
    def default_alert_category(cls):
        return xml_id('ev_helpdesk', 'category_fault')

    @classmethod
    def default_alert_fault_opens_ticket(cls):
        return False

    @classmethod
    def default_alert_fault_priority(cls):
        return 'high'

    @classmethod
    def default_alert_offline_priority(cls):
        return 'high'


class Ticket(metaclass=PoolMeta):
    __name__ = 'ev.helpdesk.ticket'

    alert = fields.Many2One('ev.charger.alert', "Charger Alert",
        readonly=True, ondelete='RESTRICT',
        states={'invisible': ~Eval('alert')},
        help="The alert episode that opened the ticket.")
    alert_recovered_at = fields.DateTime("Charger Recovered At",
        readonly=True, states={'invisible': ~Eval('alert')},
        help="When the alert's episode ended (noted on the ticket).")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('alert_unique', Unique(t, t.alert),
                'ev_helpdesk.msg_ticket_alert_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.alert, Index.Range()), where=t.alert != Null),
                # The tickets whose recovery is still to note
                Index(t, (t.alert, Index.Range()),
                    where=(t.alert != Null) & (t.alert_recovered_at == Null)),
                })

    @classmethod
    def copy(cls, tickets, default=None):
        default = default.copy() if default else {}
        default.setdefault('alert')
        default.setdefault('alert_recovered_at')
        return super().copy(tickets, default=default)

    @classmethod
    def check_modification(cls, mode, tickets, values=None, external=False):
        super().check_modification(
            mode, tickets, values=values, external=external)
        # Only the cron links a ticket to its alert: a client cannot claim
        # an episode (and so keep the cron from opening its ticket)
        if external and (
                (mode == 'create' and any(t.alert for t in tickets))
                or (mode == 'write' and (
                        {'alert', 'alert_recovered_at'} & set(values)))):
            raise AccessError(gettext('ev_helpdesk.msg_ticket_alert_readonly'))

    @classmethod
    def alerts_to_open(cls, now=None):
        """The ids of the open alerts of the configured kinds that have no
        ticket yet, in one indexed query"""
        pool = Pool()
        Alert = pool.get('ev.charger.alert')
        Configuration = pool.get('ev.helpdesk.configuration')
        config = Configuration(1)
        return Alert.open_without(cls.__table__(),
            config.alert_fault_opens_ticket, config.alert_offline_minutes,
            now=now)

    @classmethod
    def alert_ticket_values(cls, alert, company, now):
        "The values of the ticket `alert` opens"
        Configuration = Pool().get('ev.helpdesk.configuration')
        config = Configuration(1)
        station = alert.charger.station
        priority = (config.alert_fault_priority if alert.kind == 'fault'
            else config.alert_offline_priority)
        return {
            'company': company,
            'subject': gettext('ev_helpdesk.msg_alert_ticket_subject',
                alert=alert.rec_name),
            'description': gettext(
                'ev_helpdesk.msg_alert_ticket_description',
                alert=alert.rec_name, since=alert.since or '-',
                error_code=alert.error_code or '-'),
            'category': config.alert_category.id,
            'priority': priority,
            'station': station.id if station else None,
            'charger': alert.charger.id,
            'party': (station.customer.id
                if station and station.customer else None),
            'origin': str(alert),
            'alert': alert.id,
            'opened_at': now,
            }

    @classmethod
    def open_from_alerts(cls, now=None):
        "A ticket for each alert episode that calls for one"
        pool = Pool()
        Alert = pool.get('ev.charger.alert')
        Company = pool.get('company.company')
        Configuration = pool.get('ev.helpdesk.configuration')
        now = now or dt.datetime.now()
        company = Transaction().context.get('company')
        if not company:
            # A cron listing no company: the suite serves one, the first
            companies = Company.search([], order=[('id', 'ASC')], limit=1)
            if not companies:
                return []
            company = companies[0].id
        alerts = Alert.browse(cls.alerts_to_open(now=now))
        if alerts and not Configuration(1).alert_category:
            return []
        return cls.create([
                cls.alert_ticket_values(a, company, now) for a in alerts])

    @classmethod
    def note_recoveries(cls):
        """A note on each ticket whose alert closed since (the charger
        recovered), found in one indexed query"""
        pool = Pool()
        Alert = pool.get('ev.charger.alert')
        Note = pool.get('ev.helpdesk.ticket.note')
        ticket = cls.__table__()
        alert = Alert.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*ticket.join(alert,
                condition=ticket.alert == alert.id
                ).select(ticket.id,
                where=(ticket.alert != Null)
                & (ticket.alert_recovered_at == Null)
                & (alert.state == 'closed'),
                order_by=[ticket.id.asc]))
        tickets = cls.browse([i for i, in cursor])
        if not tickets:
            return []
        for ticket_ in tickets:
            ticket_.alert_recovered_at = (ticket_.alert.closed_at
                or dt.datetime.now())
        cls.save(tickets)
        return Note.create([{
                    'ticket': t.id,
                    'visibility': 'internal',
                    'text': gettext('ev_helpdesk.msg_alert_recovered_note',
                        charger=t.alert.charger.rec_name,
                        at=t.alert_recovered_at.strftime(
                            '%Y-%m-%d %H:%M:%S UTC')),
                    } for t in tickets])

    @classmethod
    def follow_alerts(cls, now=None):
        "Cron: open the tickets of new episodes, note the recoveries"
        tickets = cls.open_from_alerts(now=now)
        cls.note_recoveries()
        return tickets


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('ev.helpdesk.ticket|follow_alerts',
                "Open Helpdesk Tickets from Charger Alerts"))
