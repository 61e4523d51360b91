# This file is part of the EV operations suite.
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('ev.station.handover|notify_overdue',
                    "Notify Overdue Handovers"),
                ('ev.station.log.email|deliver_due',
                    "Send Pending Customer Emails"),
                ('ev.sla.clock|check_due', "Warn and Breach SLA Clocks"),
                ])


class ChatChannel(metaclass=PoolMeta):
    __name__ = 'ir.chat.channel'

    @classmethod
    def check_access(cls, resource):
        """Tryton checks only the access right of the model: a user could
        follow and post on the chat of any record. The record rules of the
        resource apply too (read: who may see it may talk about it)."""
        super().check_access(resource)
        transaction = Transaction()
        if not transaction.user:
            return
        model, id_ = str(resource).split(',')
        Model = Pool().get(model)
        with transaction.set_context(_check_access=True):
            # Reading through the ORM applies the record rules
            Model.read([int(id_)], ['id'])
