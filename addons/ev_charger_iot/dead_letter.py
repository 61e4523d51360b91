# This file is part of the EV operations suite.
"Messages the ingestion service could not store"
from trytond.model import Index, ModelSQL, ModelView, fields


class DeadLetter(ModelSQL, ModelView):
    "A message the ingestion service could not store, with the reason"
    __name__ = 'ev.charger.dead_letter'
    __string__ = "Dead Letter"

    topic = fields.Char("Topic", readonly=True)
    payload = fields.Text("Payload", readonly=True)
    reason = fields.Text("Reason", readonly=True)
    received_at = fields.Timestamp("Received At", readonly=True)
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
