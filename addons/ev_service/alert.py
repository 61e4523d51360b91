# This file is part of the EV operations suite.
"""Service cases opened from charger alerts (ev_charger_iot).

An alert of ev_charger_iot is one episode: it opens once the condition
outlasts its debounce delay and is closed by the recovery. The cron opens
one case per open alert of a configured kind (a connector fault, or an
offline episode longer than the configured minutes); the case names its
alert, and a unique constraint keeps it to one case per episode even when
two crons run at once."""
import datetime as dt

from sql import Null

from trytond.i18n import gettext
from trytond.model import Index, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction


class Case(metaclass=PoolMeta):
    __name__ = 'ev.service.case'

    alert = fields.Many2One('ev.charger.alert', "Charger Alert",
        readonly=True, ondelete='RESTRICT',
        states={'invisible': Eval('origin') != 'alert'},
        help="The alert episode that opened the case.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('alert_unique', Unique(t, t.alert),
                'ev_service.msg_case_alert_unique'),
            ]
        cls._sql_indexes.add(
            Index(t, (t.alert, Index.Range()), where=t.alert != Null))

    @classmethod
    def copy(cls, cases, default=None):
        default = default.copy() if default else {}
        default.setdefault('alert')
        return super().copy(cases, default=default)

    @classmethod
    def check_modification(cls, mode, cases, values=None, external=False):
        super().check_modification(
            mode, cases, values=values, external=external)
        # Only the cron links a case to its alert: a client cannot claim
        # an episode (and so keep the cron from opening its case)
        if external and (
                (mode == 'create' and any(c.alert for c in cases))
                or (mode == 'write' and 'alert' in values)):
            raise AccessError(gettext('ev_service.msg_case_alert_readonly'))

    @classmethod
    def alerts_to_open(cls, now=None):
        """The ids of the open alerts of the configured kinds that have no
        case yet, in one indexed query"""
        pool = Pool()
        Alert = pool.get('ev.charger.alert')
        Configuration = pool.get('ev.service.configuration')
        config = Configuration(1)
        return Alert.open_without(cls.__table__(),
            config.alert_fault_opens_case, config.alert_offline_minutes,
            now=now)

    @classmethod
    def open_from_alerts(cls, now=None):
        "Cron: a case for each alert episode that calls for one"
        pool = Pool()
        Alert = pool.get('ev.charger.alert')
        Company = pool.get('company.company')
        company = Transaction().context.get('company')
        if not company:
            # A cron listing no company (created before the company was):
            # the cases go to the first company, as the suite serves one
            companies = Company.search([], order=[('id', 'ASC')], limit=1)
            if not companies:
                return []
            company = companies[0].id
        alerts = Alert.browse(cls.alerts_to_open(now=now))
        return cls.create([{
                    'company': company,
                    'station': a.charger.station.id,
                    'origin': 'alert',
                    'alert': a.id,
                    'description': gettext(
                        'ev_service.msg_case_from_alert',
                        alert=a.rec_name, since=a.since or '-',
                        error_code=a.error_code or '-'),
                    'reported_at': a.opened_at or dt.datetime.now(),
                    } for a in alerts])
