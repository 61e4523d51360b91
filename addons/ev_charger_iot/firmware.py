# This file is part of the EV operations suite.
"Firmware campaigns: a firmware version pushed to a chosen set of chargers"
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, Workflow, fields
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.modules.ev_station.timestamp import Timestamp

from .command import check_params, errors_text

PROGRESS = [
    ('waiting', "Waiting"),
    ('pending', "Pending"),
    ('sent', "Sent"),
    ('accepted', "Accepted"),
    ('installed', "Installed"),
    ('rejected', "Rejected"),
    ('failed', "Failed"),
    ]


class Campaign(Workflow, ModelSQL, ModelView):
    __name__ = 'ev.charger.firmware_campaign'
    __string__ = "Firmware Campaign"

    name = fields.Char("Name", required=True,
        states={'readonly': Eval('state') != 'draft'})
    firmware = fields.Char(
        "Firmware Version", required=True,
        states={'readonly': Eval('state') != 'draft'},
        help="The version the chargers report at boot once updated.")
    location = fields.Char(
        "Location", required=True,
        states={'readonly': Eval('state') != 'draft'},
        help="The URL the chargers download the firmware from.")
    retrieve_date = Timestamp(
        "Retrieve At", states={'readonly': Eval('state') != 'draft'},
        help="When the chargers should download it (now when empty).")
    lines = fields.One2Many(
        'ev.charger.firmware_campaign.line', 'campaign', "Chargers",
        states={'readonly': Eval('state') != 'draft'})
    state = fields.Selection([
            ('draft', "Draft"),
            ('running', "Running"),
            ('done', "Done"),
            ], "State", required=True, readonly=True, sort=False)
    installed = fields.Function(fields.Integer("Installed"), 'get_counts')
    failed = fields.Function(fields.Integer("Failed"), 'get_counts')
    total = fields.Function(fields.Integer("Total"), 'get_counts')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._transitions |= {
            ('draft', 'running'),
            ('running', 'done'),
            }
        cls._buttons.update({
                'start': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'finish': {
                    'invisible': Eval('state') != 'running',
                    'depends': ['state'],
                    },
                })
        cls._order = [('id', 'DESC')]

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def validate_fields(cls, campaigns, field_names):
        "The UpdateFirmware of the campaign must be one a charger can take"
        super().validate_fields(campaigns, field_names)
        if field_names and not (
                field_names & {'location', 'retrieve_date', 'firmware'}):
            return
        for campaign in campaigns:
            errors = check_params('UpdateFirmware', campaign.command_params())
            if errors:
                raise ValidationError(gettext(
                        'ev_charger_iot.msg_campaign_invalid',
                        campaign=campaign.rec_name,
                        errors=errors_text(errors)))

    def command_params(self):
        "The params of the UpdateFirmware command sent to each charger"
        params = {'location': self.location, 'firmware': self.firmware}
        if self.retrieve_date:
            params['retrieve_date'] = self.retrieve_date.isoformat() + 'Z'
        return params

    @classmethod
    def get_counts(cls, campaigns, names):
        result = {n: {c.id: 0 for c in campaigns} for n in names}
        for campaign in campaigns:
            for line in campaign.lines:
                if 'total' in result:
                    result['total'][campaign.id] += 1
                if line.progress == 'installed' and 'installed' in result:
                    result['installed'][campaign.id] += 1
                if line.progress in {'failed', 'rejected'} \
                        and 'failed' in result:
                    result['failed'][campaign.id] += 1
        return result

    @classmethod
    @ModelView.button
    @Workflow.transition('running')
    def start(cls, campaigns):
        "One UpdateFirmware command per charger"
        pool = Pool()
        Command = pool.get('ev.charger.command')
        Line = pool.get('ev.charger.firmware_campaign.line')
        for campaign in campaigns:
            if not campaign.lines:
                raise AccessError(gettext(
                        'ev_charger_iot.msg_campaign_no_charger',
                        campaign=campaign.rec_name))
        lines, values = [], []
        for campaign in campaigns:
            params = campaign.command_params()
            for line in campaign.lines:
                lines.append(line)
                values.append({'charger': line.charger.id,
                        'action': 'UpdateFirmware', 'params': params})
        commands = Command.create(values)
        for line, command in zip(lines, commands):
            line.command = command
        Line.save(lines)

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def finish(cls, campaigns):
        pass


class CampaignLine(ModelSQL, ModelView):
    __name__ = 'ev.charger.firmware_campaign.line'
    __string__ = "Firmware Campaign Charger"

    campaign = fields.Many2One(
        'ev.charger.firmware_campaign', "Campaign", required=True,
        ondelete='CASCADE')
    charger = fields.Many2One(
        'ev.charger', "Charger", required=True, ondelete='CASCADE')
    command = fields.Many2One(
        'ev.charger.command', "Command", readonly=True, ondelete='SET NULL')
    firmware = fields.Function(
        fields.Char("Current Firmware"), 'on_change_with_firmware')
    progress = fields.Function(
        fields.Selection(PROGRESS, "Progress"), 'get_progress')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('campaign_charger_unique', Unique(t, t.campaign, t.charger),
                'ev_charger_iot.msg_campaign_charger_unique'),
            ]

    @fields.depends('charger')
    def on_change_with_firmware(self, name=None):
        return self.charger.firmware if self.charger else None

    def get_progress(self, name):
        if (self.charger.firmware and self.campaign.firmware
                and self.charger.firmware == self.campaign.firmware
                and self.command):
            return 'installed'
        if not self.command:
            return 'waiting'
        return self.command.state
