# This file is part of the EV operations suite.
"""Open issues of an OEM report: ev_service's open cases on the stations
of the OEM's leads (registered when ev_service is activated)"""
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


class Report(metaclass=PoolMeta):
    __name__ = 'ev.oem.report'

    def open_issue_count(self):
        pool = Pool()
        Case = pool.get('ev.service.case')
        Station = pool.get('ev.station')
        Lead = pool.get('sale.opportunity')
        from trytond.modules.ev_service.case import OPEN_STATES
        case, station, lead = (
            Case.__table__(), Station.__table__(), Lead.__table__())
        cursor = Transaction().connection.cursor()
        cursor.execute(*case
            .join(station, condition=case.station == station.id)
            .join(lead, condition=station.lead == lead.id)
            .select(case.id,
                where=case.state.in_(OPEN_STATES)
                & (lead.oem == self.oem.id)))
        return len(cursor.fetchall())
