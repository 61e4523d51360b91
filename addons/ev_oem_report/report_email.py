# This file is part of the EV operations suite.
"""The email of a report to its OEM, through ev_station's outbox: retried
with backoff, every attempt kept, one Message-ID for all of them."""
from email.message import EmailMessage
from email.utils import make_msgid

import trytond.config as config
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.ev_station.outbox import OutboxMixin
from trytond.sendmail import send_message

from .report import MIME_TYPES


class ReportEmail(OutboxMixin, ModelSQL, ModelView):
    "The email of an OEM report"
    __name__ = 'ev.oem.report.email'
    __string__ = "OEM Report Email"
    _outbox_max_attempts = ('ev_oem_report', 'email_max_attempts', 5)
    _outbox_retry_delay = ('ev_oem_report', 'email_retry_delay', 300)

    report = fields.Many2One('ev.oem.report', "Report", required=True,
        ondelete='CASCADE', readonly=True)
    recipient = fields.Char("Recipient", readonly=True)
    subject = fields.Char("Subject", readonly=True)
    body = fields.Text("Body", readonly=True)
    message_id = fields.Char("Message-ID", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'DESC')]

    @classmethod
    def for_report(cls, report):
        "The email of the report to its configuration's recipients"
        recipients = report.config.recipients
        if not recipients:
            return []
        values = {
            'name': report.config.rec_name,
            'oem': report.oem.rec_name,
            'start': report.period_start,
            'end': report.period_end,
            'leads': report.lead_count or 0,
            }
        return [cls(
                report=report,
                recipient=', '.join(recipients),
                subject=gettext('ev_oem_report.msg_email_subject', **values),
                body=gettext('ev_oem_report.msg_email_body', **values),
                )]

    def get_message(self):
        report = self.report
        msg = EmailMessage()
        msg['From'] = config.get('email', 'from')
        msg['To'] = self.recipient
        msg['Subject'] = self.subject
        msg['Message-ID'] = self.message_id or make_msgid(domain='ev')
        msg['X-EV-OEM-Report'] = str(report.id)
        msg.set_content(self.body or '')
        maintype, subtype = MIME_TYPES[report.file_format].split('/')
        msg.add_attachment(report.file or b'', maintype=maintype,
            subtype=subtype, filename=report.file_name)
        return msg

    def outbox_deliver(self):
        msg = self.get_message()
        send_message(msg, strict=True)
        return {'message_id': msg['Message-ID']}
