# This file is part of the EV operations suite.
"Messages the ingestion service could not store"
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.modules.ev_station.timestamp import Timestamp

from .bulk import insert_rows


class DeadLetter(ModelSQL, ModelView):
    "A message the ingestion service could not store, with the reason"
    __name__ = 'ev.charger.dead_letter'
    __string__ = "Dead Letter"

    topic = fields.Char("Topic", readonly=True)
    payload = fields.Text("Payload", readonly=True)
    reason = fields.Text("Reason", readonly=True)
    received_at = Timestamp("Received At", readonly=True)
    identity = fields.Char(
        "Charger Identity", readonly=True,
        help="The <id> level of the topic, known charger or not.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._order = [('received_at', 'DESC'), ('id', 'DESC')]
        cls._sql_indexes.add(
            Index(t, (t.identity, Index.Equality())))

    @classmethod
    def store_batch(cls, dead):
        "`dead`: (topic, payload bytes or text, reason, received at)"
        if not dead:
            return
        table = cls.__table__()
        rows = []
        for topic, payload, reason, received_at in dead:
            if isinstance(payload, bytes):
                payload = payload.decode('utf-8', 'replace')
            identity = topic.split('/')[1] if topic.count('/') >= 2 else None
            # NUL cannot be stored in a PostgreSQL text
            rows.append([topic[:512], payload.replace('\x00', '\ufffd'),
                    reason.replace('\x00', '\ufffd'), received_at,
                    identity and identity[:128]])
        insert_rows(table,
            [table.topic, table.payload, table.reason, table.received_at,
                table.identity],
            ['VARCHAR', 'TEXT', 'TEXT', 'TIMESTAMP', 'VARCHAR'], rows)
