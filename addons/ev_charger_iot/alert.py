# This file is part of the EV operations suite.
"""Alerts of offline and faulted chargers: debounced, one per episode,
closed by the recovery, kept as history, notified to the IoT operators."""
import datetime as dt
import logging
from collections import namedtuple
from email.message import EmailMessage

from sql import Cast, Conflict, Literal, Null
from sql.functions import CurrentTimestamp
from sql.operators import Concat, Exists

import trytond.config as config
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.modules.ev_station.timestamp import Timestamp
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.modules.ev_station.notification import (
    group_users, notify, notify_summary)
from trytond.modules.ev_station.outbox import OutboxMixin
from trytond.sendmail import send_message
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from . import settings
from .charger import among, invalidate_cache

logger = logging.getLogger(__name__)

NewAlert = namedtuple('NewAlert', ['id', 'text', 'station', 'since'])

# Above this many new alerts in one evaluation, each operator gets one
# summary notification instead of one per alert (a network outage).
NOTIFY_ONE_BY_ONE = 20


class Alert(ModelSQL, ModelView):
    __name__ = 'ev.charger.alert'
    __string__ = "Charger Alert"

    charger = fields.Many2One(
        'ev.charger', "Charger", required=True, readonly=True,
        ondelete='CASCADE')
    station = fields.Function(
        fields.Many2One('ev.station', "Station"), 'get_station',
        searcher='search_station')
    power_class = fields.Function(
        fields.Selection('get_power_classes', "Power Class"),
        'get_power_class')
    kind = fields.Selection([
            ('offline', "Offline"),
            ('fault', "Connector Fault"),
            ], "Kind", required=True, readonly=True)
    kind_string = kind.translated('kind')
    connector = fields.Integer(
        "Connector", readonly=True,
        states={'invisible': Eval('kind') != 'fault'})
    error_code = fields.Char(
        "Error Code", readonly=True,
        states={'invisible': Eval('kind') != 'fault'})
    state = fields.Selection([
            ('open', "Open"),
            ('closed', "Closed"),
            ], "State", required=True, readonly=True, sort=False)
    since = Timestamp(
        "Since", readonly=True,
        help="Offline: the last heartbeat; fault: when the connector "
        "reported Faulted.")
    opened_at = Timestamp("Opened At", readonly=True)
    closed_at = Timestamp("Closed At", readonly=True)
    notified = fields.Boolean("Notified", readonly=True)
    notice = fields.Many2One(
        'ev.charger.alert.notice', "Notice", readonly=True,
        ondelete='RESTRICT')
    # Set while open ("offline" or "fault:<connector>"), cleared when
    # closed: unique per charger so that an episode has one open alert even
    # when the cron and the ingestion service evaluate at the same time.
    open_key = fields.Char("Open Key", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('charger_open_key_unique', Unique(t, t.charger, t.open_key),
                'ev_charger_iot.msg_alert_open_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.state, Index.Equality()),
                    (t.kind, Index.Equality())),
                Index(t, (t.notified, Index.Equality())),
                })
        cls._order = [('opened_at', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_state(cls):
        return 'open'

    @classmethod
    def default_notified(cls):
        return False

    def get_station(self, name):
        return self.charger.station.id

    @classmethod
    def search_station(cls, name, clause):
        return [('charger.' + clause[0],) + tuple(clause[1:])]

    @classmethod
    def get_power_classes(cls):
        Charger = Pool().get('ev.charger')
        return Charger.fields_get(['power_class'])['power_class']['selection']

    def get_power_class(self, name):
        return self.charger.power_class

    @classmethod
    def open_without(cls, table, fault, offline_minutes, now=None):
        """The ids of the open episodes that call for a record and have none
        in `table` (a table whose `alert` column names the episode): the
        connector faults when `fault`, the offline episodes older than
        `offline_minutes` (None: none). One indexed query; ev_service opens
        its cases and ev_helpdesk its tickets with it."""
        alert = cls.__table__()
        now = now or dt.datetime.now()
        kinds = Literal(False)
        if fault:
            kinds |= alert.kind == 'fault'
        if offline_minutes is not None:
            long_ago = now - dt.timedelta(minutes=offline_minutes)
            kinds |= (alert.kind == 'offline') & (alert.since <= long_ago)
        cursor = Transaction().connection.cursor()
        cursor.execute(*alert.select(alert.id,
                where=(alert.state == 'open') & kinds
                & ~Exists(table.select(Literal(1),
                        where=table.alert == alert.id)),
                order_by=[alert.id.asc]))
        return [i for i, in cursor]

    def get_rec_name(self, name):
        kind = self.kind_string
        if self.kind == 'fault':
            return f'{self.charger.rec_name} #{self.connector}: {kind}'
        return f'{self.charger.rec_name}: {kind}'

    @classmethod
    def check_modification(cls, mode, alerts, values=None, external=False):
        super().check_modification(
            mode, alerts, values=values, external=external)
        if external and mode in {'create', 'write', 'delete'}:
            raise AccessError(gettext('ev_charger_iot.msg_alert_readonly'))

    @classmethod
    def synchronise(cls, now, charger_ids=None):
        """Close the alerts of recovered chargers and open those whose
        condition lasted longer than its delay. Set-based; `charger_ids`
        restricts it to some chargers (the ingestion service's batch)."""
        pool = Pool()
        Charger = pool.get('ev.charger')
        Connector = pool.get('ev.charger.connector')
        cursor = Transaction().connection.cursor()
        alert = cls.__table__()
        charger = Charger.__table__()
        connector = Connector.__table__()
        user = Transaction().user

        def restrict(column):
            if charger_ids is None:
                return Literal(True)
            return among(column, charger_ids)

        # Recovery closes the alert and keeps it as history
        still_offline = charger.select(charger.id,
            where=charger.health == 'offline')
        still_faulted = connector.select(connector.id,
            where=(connector.charger == alert.charger)
            & (connector.number == alert.connector)
            & (connector.status == 'Faulted'))
        cursor.execute(*alert.update(
                [alert.state, alert.closed_at, alert.open_key,
                    alert.write_date, alert.write_uid],
                ['closed', now, Null, CurrentTimestamp(), user],
                where=(alert.state == 'open') & restrict(alert.charger)
                & (((alert.kind == 'offline')
                        & ~alert.charger.in_(still_offline))
                    | ((alert.kind == 'fault') & ~Exists(still_faulted)))))

        common = [alert.kind, alert.state, alert.since, alert.opened_at,
            alert.notified, alert.open_key, alert.create_date,
            alert.create_uid]
        # Offline: only chargers that were ever heard of, once the offline
        # threshold and then the debounce delay have passed
        offline_alert_before = (now - settings.offline_after()
            - settings.seconds('offline_alert_delay'))
        open_offline = alert.select(Literal(1),
            where=(alert.charger == charger.id)
            & (alert.open_key == 'offline'))
        cursor.execute(*alert.insert([alert.charger] + common,
                charger.select(
                    charger.id, Literal('offline'),
                    Literal('open'), charger.last_heartbeat, Literal(now),
                    Literal(False), Literal('offline'), CurrentTimestamp(),
                    Literal(user),
                    where=(charger.health == 'offline')
                    & (charger.last_heartbeat != Null)
                    & (charger.last_heartbeat <= offline_alert_before)
                    & ~Exists(open_offline)
                    & restrict(charger.id)),
                on_conflict=Conflict(alert)))

        fault_alert_before = now - settings.seconds('fault_alert_delay')
        fault_key = Concat('fault:', Cast(connector.number, 'VARCHAR'))
        open_fault = alert.select(Literal(1),
            where=(alert.charger == connector.charger)
            & (alert.open_key == fault_key))
        cursor.execute(*alert.insert(
                [alert.charger, alert.connector, alert.error_code] + common,
                connector.select(
                    connector.charger, connector.number,
                    connector.error_code, Literal('fault'), Literal('open'),
                    connector.fault_since, Literal(now), Literal(False),
                    fault_key, CurrentTimestamp(), Literal(user),
                    where=(connector.status == 'Faulted')
                    & (connector.fault_since != Null)
                    & (connector.fault_since <= fault_alert_before)
                    & ~Exists(open_fault)
                    & restrict(connector.charger)),
                on_conflict=Conflict(alert)))
        invalidate_cache(cls.__name__)
        cls.notify_new()

    @classmethod
    def notify_new(cls):
        """Hand the alerts not yet notified to the outbox: one notice per
        evaluation, delivered (notifications and email) after the commit,
        outside the transaction that found them"""
        pool = Pool()
        Notice = pool.get('ev.charger.alert.notice')
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id,
                where=table.notified == Literal(False),
                order_by=[table.id.asc]))
        ids = [i for i, in cursor]
        if not ids:
            return None
        notice, = Notice.enqueue([Notice()])
        # Bulk update without the ORM's checks: the fields are read-only
        for sub_ids in grouped_slice(ids, 1000):
            cursor.execute(*table.update(
                    [table.notified, table.notice], [True, notice.id],
                    where=among(table.id, sub_ids)))
        invalidate_cache(cls.__name__)
        return notice

    @classmethod
    def new_alerts(cls, notice_id):
        """The alerts of a notice, with what a notification says, read in
        one query: there may be thousands after an outage"""
        pool = Pool()
        Charger = pool.get('ev.charger')
        Station = pool.get('ev.station')
        alert = cls.__table__()
        charger = Charger.__table__()
        station = Station.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*alert
            .join(charger, condition=alert.charger == charger.id)
            .join(station, condition=charger.station == station.id)
            .select(alert.id, alert.kind, alert.connector, alert.error_code,
                alert.since, charger.identity, station.number,
                where=alert.notice == notice_id,
                order_by=[alert.id.asc]))
        kinds = dict(cls.fields_get(['kind'])['kind']['selection'])
        alerts = []
        for id_, kind, connector, error_code, since, identity, number \
                in cursor:
            text = f'{identity}: {kinds[kind]}'
            if kind == 'fault':
                text = f'{identity} #{connector}: {kinds[kind]}'
                if error_code:
                    text += f' ({error_code})'
            alerts.append(NewAlert(id_, text, number or '', since))
        return alerts

    @classmethod
    def operators(cls):
        "The active users of the IoT operator group"
        return group_users('ev_charger_iot.group_iot_operator')

    @classmethod
    def email(cls, alerts, users):
        "One email for the alerts of one evaluation"
        to = sorted({u.email for u in users if u.email})
        if not to:
            return
        lines = [f'{a.text} — {a.station}' for a in alerts[:100]]
        if len(alerts) > 100:
            lines.append(gettext('ev_charger_iot.msg_alerts_email_more',
                    count=len(alerts) - 100))
        msg = EmailMessage()
        msg['From'] = config.get('email', 'from')
        msg['To'] = ', '.join(to)
        msg['Subject'] = gettext('ev_charger_iot.msg_alerts_email_subject',
            count=len(alerts))
        msg.set_content('\n'.join(lines))
        send_message(msg, strict=True)


class AlertNotice(OutboxMixin, ModelSQL, ModelView):
    "The alerts of one evaluation, to tell the IoT operators about"
    __name__ = 'ev.charger.alert.notice'
    __string__ = "Charger Alert Notice"
    _outbox_max_attempts = ('ev_charger_iot', 'alert_notice_max_attempts', 5)
    _outbox_retry_delay = ('ev_charger_iot', 'alert_notice_retry_delay', 60)

    alerts = fields.One2Many(
        'ev.charger.alert', 'notice', "Alerts", readonly=True)

    def outbox_deliver(self):
        """The email first: when it fails nothing is kept and the next
        attempt starts again; then a Tryton notification per operator"""
        pool = Pool()
        Alert = pool.get('ev.charger.alert')
        alerts = Alert.new_alerts(self.id)
        if not alerts:
            return {}
        users = Alert.operators()
        Alert.email(alerts, users)
        if len(alerts) <= NOTIFY_ONE_BY_ONE:
            for alert in alerts:
                notify(users, [Alert(alert.id)],
                    gettext('ev_charger_iot.msg_alert_notification',
                        alert=alert.text),
                    gettext(
                        'ev_charger_iot.msg_alert_notification_description',
                        station=alert.station, since=alert.since or ''))
        else:
            notify_summary(users, [Alert(a.id) for a in alerts],
                gettext('ev_charger_iot.msg_alerts_notification',
                    count=len(alerts)))
        return {}
