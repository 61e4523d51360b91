# This file is part of the EV operations suite.
"""The wait for the customer's site work (earthing, a new line...) and its
timeout, after which the lead goes on hold"""
import datetime

from trytond.i18n import gettext
from trytond.model import Index, ModelView, fields
from trytond.pool import Pool, PoolMeta

from .exceptions import LeadError
from .opportunity import CLOSED, OPEN_STATES


class SaleOpportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    site_work_required = fields.Text(
        "Site Work Required", states=CLOSED,
        help="Electrical or civil work the customer must do first.")
    readiness_wait_since = fields.Date(
        "Waiting for Site Since", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.readiness_wait_since, Index.Range()),
                where=t.readiness_wait_since != None))  # noqa: E711

    @classmethod
    def copy(cls, leads, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('readiness_wait_since')
        return super().copy(leads, default=default)

    def check_site_ready(self):
        "Refuse a lead still waiting for the customer's site work"
        if self.readiness_wait_since:
            raise LeadError(gettext(
                    'ev_lead.msg_site_not_ready', lead=self.rec_name))

    @classmethod
    @ModelView.button
    def wait_for_site(cls, leads):
        "The customer must do electrical or civil work first"
        today = Pool().get('ir.date').today()
        for lead in leads:
            if not lead.site_work_required:
                raise LeadError(gettext(
                        'ev_lead.msg_site_work_required',
                        lead=lead.rec_name))
        cls.write(list(leads), {'readiness_wait_since': today})
        for lead in leads:
            lead.log_stage_change(lead.state_string, gettext(
                    'ev_lead.msg_waiting_for_site',
                    work=lead.site_work_required))

    @classmethod
    @ModelView.button
    def site_ready(cls, leads):
        cls.write(list(leads), {'readiness_wait_since': None})
        held = [l for l in leads if l.state == 'on_hold']
        if held:
            cls.resume(held)

    @classmethod
    def hold_unready_sites(cls):
        "Cron: leads waiting past the readiness timeout go on hold"
        pool = Pool()
        Configuration = pool.get('ev.lead.configuration')
        Date = pool.get('ir.date')
        configuration = Configuration(1)
        limit = Date.today() - datetime.timedelta(
            days=configuration.readiness_timeout)
        leads = cls.search([
                ('readiness_wait_since', '<', limit),
                ('state', 'in', OPEN_STATES),
                ])
        if leads:
            cls.hold(leads)
            cls.notify_central_ops(leads, 'ev_lead.msg_readiness_timeout')
        return leads
