# This file is part of the EV operations suite.
"""The frequency alert: the same error type claimed on many charging spots
within a short window is a fault that spreads, not bad luck"""
import datetime as dt

from sql.aggregate import Count

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.ev_station.notification import group_users, notify
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access


class Alert(ModelSQL, ModelView):
    __name__ = 'ev.service.claim.alert'
    __string__ = "Claim Frequency Alert"

    error_type = fields.Many2One('ev.service.claim.error_type',
        "Error Type", required=True, readonly=True, ondelete='RESTRICT')
    spots = fields.Integer("Charging Spots", readonly=True)
    window_from = fields.DateTime("From", readonly=True)
    raised_at = fields.DateTime("Raised At", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('raised_at', 'DESC'), ('id', 'DESC')]

    @classmethod
    def count_spots(cls, since):
        """{error type id: distinct charging spots (charger, connector)
        claimed since `since`}, in one query on the claims' index"""
        Claim = Pool().get('ev.service.claim')
        c = Claim.__table__()
        spots = c.select(c.error_type, c.charger, c.connector,
            where=(c.window_start >= since) & (c.state != 'draft'),
            group_by=[c.error_type, c.charger, c.connector])
        cursor = Transaction().connection.cursor()
        cursor.execute(*spots.select(spots.error_type, Count(spots.charger),
                group_by=[spots.error_type]))
        return dict(cursor)

    @classmethod
    def raise_for(cls, error_types):
        """An alert for each of the error types claimed on the configured
        number of spots within the window; one per window"""
        pool = Pool()
        Configuration = pool.get('ev.service.configuration')
        config = Configuration(1)
        now = dt.datetime.now()
        since = now - dt.timedelta(hours=config.claim_alert_hours)
        counts = cls.count_spots(since)
        alerts = []
        with without_check_access():
            for error_type in error_types:
                spots = counts.get(error_type.id, 0)
                if spots < config.claim_alert_spots:
                    continue
                if cls.search([
                            ('error_type', '=', error_type.id),
                            ('raised_at', '>=', since),
                            ], limit=1):
                    continue
                alerts.append(cls(error_type=error_type, spots=spots,
                        window_from=since, raised_at=now))
            cls.save(alerts)
        if alerts:
            notify(group_users('ev_service.group_service_manager',
                    'ev_service.group_service_l2'), alerts,
                lambda a: gettext('ev_service.msg_notify_claim_alert',
                    error_type=a.error_type.rec_name, spots=a.spots,
                    hours=config.claim_alert_hours))
        return alerts
