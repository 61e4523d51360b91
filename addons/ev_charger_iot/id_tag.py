# This file is part of the EV operations suite.
"""The authorisation list: the id tags (RFID cards, app tokens) that may
charge. The OCPP gateway answers Authorize, StartTransaction (1.6) and
TransactionEvent (2.0.1) from it: Accepted for a known tag, Blocked,
Expired, and Invalid for a tag it does not know (or archived)."""
import datetime

from trytond.i18n import gettext
from trytond.model import DeactivableMixin, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import ValidationError

# The longest id token of OCPP 2.0.1 (1.6 carries 20 characters)
TAG_SIZE = 36


def utcnow():
    "Now as the naive UTC time of the Timestamp fields"
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def normal_tag(tag):
    "OCPP id tags are case-insensitive: the list keeps them in upper case"
    return tag.strip().upper() if isinstance(tag, str) else tag


class IdTag(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'ev.charger.id_tag'
    __string__ = "Id Tag"
    _rec_name = 'tag'

    tag = fields.Char(
        "Id Tag", required=True, size=TAG_SIZE,
        help="The idTag of OCPP 1.6 (20 characters at most) or the idToken "
        "of 2.0.1 (36); case-insensitive.")
    holder = fields.Many2One(
        'party.party', "Holder", ondelete='RESTRICT',
        help="Who the card or token was given to.")
    blocked = fields.Boolean(
        "Blocked", help="A lost or stolen card: the chargers refuse it.")
    expires = fields.Timestamp(
        "Expires",
        help="After this time (UTC) the chargers refuse the tag as expired.")
    description = fields.Char("Description")
    status = fields.Function(fields.Selection([
                ('Accepted', "Accepted"),
                ('Blocked', "Blocked"),
                ('Expired', "Expired"),
                ], "Status",
            help="What the gateway answers a charger for this tag now."),
        'get_status')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # The index of the gateway's lookup
        cls._sql_constraints = [
            ('tag_unique', Unique(t, t.tag),
                'ev_charger_iot.msg_id_tag_unique'),
            ]
        cls._order = [('tag', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_blocked(cls):
        return False

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if values.get('tag'):
            values['tag'] = normal_tag(values['tag'])
        return values

    @classmethod
    def validate_fields(cls, id_tags, field_names):
        super().validate_fields(id_tags, field_names)
        if field_names and 'tag' not in field_names:
            return
        for id_tag in id_tags:
            # What a RemoteStart command can carry (contract.COMMANDS)
            if not id_tag.tag or not all(' ' < c <= '~' for c in id_tag.tag):
                raise ValidationError(gettext(
                        'ev_charger_iot.msg_id_tag_invalid',
                        tag=id_tag.tag))

    def authorization_status(self, now):
        if self.blocked:
            return 'Blocked'
        if self.expires and self.expires <= now:
            return 'Expired'
        return 'Accepted'

    def get_status(self, name):
        return self.authorization_status(utcnow())

    @classmethod
    def authorize(cls, tag, now=None):
        """The OCPP authorisation status of `tag` and its expiry (a UTC
        datetime or None): one lookup of the unique index"""
        now = now or utcnow()
        id_tags = cls.search([('tag', '=', normal_tag(tag))], limit=1)
        if not id_tags:
            return 'Invalid', None
        id_tag, = id_tags
        return id_tag.authorization_status(now), id_tag.expires
