# This file is part of the EV operations suite.
"""The 14-day control of the parts expected back (policy: return packaging
and the overdue control): a daily cron marks the parts not returned by their
due date overdue, logs and hands each over, notifies the Service Managers
and places the holds. Part (part.py) takes it in as a mixin."""
import datetime as dt

from sql import For, Null

from trytond.i18n import gettext
from trytond.modules.ev_station.notification import group_users, notify
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access


class OverdueControl:
    "The overdue control of ev.service.part"
    __slots__ = ()

    @classmethod
    def mark_overdue(cls, date=None):
        """Cron: the parts past their return date and not back, found by
        an indexed query, are marked overdue through the ORM (the cache
        and the history follow); each is logged on its station with a
        handover to the case's coordinator, the Service Managers are
        notified, and a hold equal to the part's cost is placed"""
        pool = Pool()
        Date = pool.get('ir.date')
        Hold = pool.get('ev.service.hold')
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        today = date or Date.today()
        query = table.select(table.id,
            where=(table.return_state == 'pending')
            & (table.return_due < today)
            & (table.overdue_since == Null),
            order_by=[table.id.asc])
        if transaction.database.has_select_for():
            # A second run at the same time waits for the first and fails
            # rather than marking them twice
            query.for_ = For('UPDATE')
        cursor.execute(*query)
        ids = [i for i, in cursor]
        if not ids:
            return []
        parts = cls.browse(ids)
        now = dt.datetime.now()
        by_team = {}
        for part in parts:
            by_team.setdefault(part.case.team, []).append(part)
        # The team answering for the part when it became overdue: the
        # non-returns KPI counts per team without reading the cases
        cls.write(*sum(([p, {'overdue_since': now,
                        'overdue_team': t.id if t else None}]
                    for t, p in by_team.items()), []))
        parts = cls.browse(ids)
        with without_check_access():
            for part in parts:
                part.case.record('service_return_overdue', gettext(
                        'ev_service.msg_log_return_overdue',
                        part=part.rec_name, due=part.return_due,
                        box=part.return_box.rec_name if part.return_box
                        else '-', label=part.return_label or '-'),
                    **part._overdue_handover(today))
            notify(group_users('ev_service.group_service_manager'), parts,
                lambda p: gettext('ev_service.msg_notify_overdue',
                    part=p.rec_name, due=p.return_due))
            Hold.place(parts, gettext('ev_service.msg_hold_reason_overdue'))
        return parts

    def _overdue_handover(self, today):
        """The coordinator of the case gets the part back: a handover in
        the chain of control, completed when the return is received"""
        coordinator = self.case.coordinator
        # The daily cron runs as the system (user 0): ev_station makes the
        # single point of access the forwarder (none configured: the entry
        # names the coordinator, and the Service Managers are notified)
        if not coordinator or coordinator.id == Transaction().user:
            return {}
        return {
            'next_owner': coordinator,
            'next_action': gettext('ev_service.msg_action_get_part_back',
                part=self.rec_name),
            'follow_up_date': today + dt.timedelta(days=1),
            'work': self.work_key('return'),
            }
