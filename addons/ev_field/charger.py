# This file is part of the EV operations suite.
"""With ev_charger_iot (registered under [register ev_charger_iot]): the
charger of a commissioned installation is put under monitoring"""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import ModelView, Workflow
from trytond.pool import Pool, PoolMeta
from trytond.transaction import without_check_access

from .exceptions import FieldJobError

# Connectors of DC fast chargers (L3); the others are AC (L2)
DC_CONNECTOR_TYPES = {'ccs1', 'ccs2', 'chademo', 'gbt'}


class Job(metaclass=PoolMeta):
    __name__ = 'ev.field.job'

    @classmethod
    @ModelView.button
    @Workflow.transition('commissioned')
    def commission(cls, jobs):
        # The charger is monitored before the log says "commissioned": a
        # charger of another station refuses the commissioning
        for job in jobs:
            job.check_commissioning()
        cls.monitor_chargers(jobs)
        super().commission(jobs)

    @classmethod
    @without_check_access
    def monitor_chargers(cls, jobs):
        """The commissioned charger is monitored under its identity, on the
        job's first station without a charger, with the station's connectors
        (AC or DC by their type), the installed serial and the commissioning
        date. A charger registered beforehand under that identity is
        completed, if it is on one of the job's stations."""
        pool = Pool()
        Charger = pool.get('ev.charger')
        Connector = pool.get('ev.charger.connector')
        today = dt.date.today()
        chargers = []
        for job in jobs:
            identity = job.charger_identity.strip()
            stations = list(job.lead.stations)
            charger = Charger.search([('identity', '=', identity)], limit=1)
            if charger:
                charger, = charger
                if charger.station not in stations:
                    raise FieldJobError(gettext(
                            'ev_field.msg_charger_identity_elsewhere',
                            job=job.rec_name, identity=identity,
                            station=charger.station.rec_name))
            else:
                monitored = {c.station for c in Charger.search([
                            ('station', 'in', [s.id for s in stations]),
                            ])}
                station = ([s for s in stations if s not in monitored]
                    or stations)[0]
                types = [c.type for c in station.connectors
                    for _ in range(c.count or 1)] or [None]
                dc = any(t in DC_CONNECTOR_TYPES for t in types)
                charger = Charger(identity=identity, station=station,
                    power_class='l3' if dc else 'l2',
                    current_type='dc' if dc else 'ac',
                    connectors=[Connector(number=n, connector_type=t)
                        for n, t in enumerate(types, 1)])
            charger.commissioning_date = today
            if job.charger_lot and not getattr(charger, 'serial', None):
                charger.serial = job.charger_lot.number
            chargers.append(charger)
        Charger.save(chargers)
