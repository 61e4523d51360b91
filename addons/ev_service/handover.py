# This file is part of the EV operations suite.
"""The service case of a handover of the chain of control, stored when the
handover is created from its work key (case.py and part.py `work_key`), so
the KPI of the cases nobody accepted groups the pending handovers by case
through an index instead of parsing the keys and looking up each part."""
from sql import Cast, Null
from sql.functions import Position, Substring

from trytond.model import Index, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

CASE_MODEL = 'ev.service.case'
PART_MODEL = 'ev.service.part'


def work_record(work):
    """The model and id of the record a work key names
    ('<model>,<id>:<work>'), or (None, None)"""
    record, _, _ = (work or '').partition(':')
    model, _, id_ = record.partition(',')
    if model in {CASE_MODEL, PART_MODEL} and id_.isdigit():
        return model, int(id_)
    return None, None


class Handover(metaclass=PoolMeta):
    __name__ = 'ev.station.handover'

    service_case = fields.Many2One(CASE_MODEL, "Service Case",
        readonly=True, ondelete='RESTRICT',
        help="The service case whose work the handover asks for.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # The pending handovers per case (the KPI of the unaccepted cases)
        cls._sql_indexes.add(Index(t, (t.service_case, Index.Equality()),
                include=[t.station, t.follow_up_date],
                where=t.state == 'pending'))

    @classmethod
    def __register__(cls, module):
        table_h = cls.__table_handler__(module)
        fill = not table_h.column_exist('service_case')
        super().__register__(module)
        if fill:
            cls._fill_service_case()

    @classmethod
    def _fill_service_case(cls):
        "The service case of the handovers created before the column"
        pool = Pool()
        Part = pool.get(PART_MODEL)
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        part = Part.__table__()
        comma = Position(',', table.work)
        record = Cast(Substring(table.work, comma + 1,
                Position(':', table.work) - comma - 1), 'INTEGER')
        cursor.execute(*table.update([table.service_case], [record],
                where=table.work.like(CASE_MODEL + ',%')))
        cursor.execute(*table.update([table.service_case],
                [part.select(part.case, where=part.id == record)],
                where=table.work.like(PART_MODEL + ',%')
                & (table.service_case == Null)))

    @classmethod
    def create(cls, vlist):
        pool = Pool()
        Part = pool.get(PART_MODEL)
        vlist = [v.copy() for v in vlist]
        part_ids = set()
        for values in vlist:
            model, id_ = work_record(values.get('work'))
            if model == PART_MODEL and not values.get('service_case'):
                part_ids.add(id_)
        with without_check_access():
            part_cases = {p['id']: p['case']
                for p in Part.read(list(part_ids), ['case'])}
        for values in vlist:
            if values.get('service_case'):
                continue
            model, id_ = work_record(values.get('work'))
            if model == CASE_MODEL:
                values['service_case'] = id_
            elif model == PART_MODEL:
                values['service_case'] = part_cases.get(id_)
        return super().create(vlist)
