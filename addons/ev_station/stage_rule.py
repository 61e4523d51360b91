# This file is part of the EV operations suite.
"""Declared rules that let a module's event move a station past stages.

An event that skips stages needs a person who authorises it (override_by,
override_reason) — or a stage rule: a record, declared in a module's XML
and listed under Configuration › Stage Rules, that says which event may skip
from which stages and why. Only Station.record_event applies a rule, and the
entry names it, so that every such skip can be reviewed."""
from trytond.model import DeactivableMixin, ModelSQL, ModelView, fields

from .station import STAGES


class StageRule(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'ev.station.stage_rule'
    __string__ = "Stage Rule"

    name = fields.Char("Name", required=True, translate=True)
    event_type = fields.Many2One(
        'ev.station.event_type', "Event Type", required=True,
        ondelete='RESTRICT',
        help="The event this rule lets skip stages.")
    from_stages = fields.MultiSelection(
        STAGES, "From Stages",
        help="The stages the station may be in for the event to skip the "
        "stages in between.")
    reason = fields.Text(
        "Reason", required=True, translate=True,
        help="Why the skip is allowed; recorded with every entry.")

    def allows(self, event_type_id, current_stage):
        return (self.active and self.event_type.id == event_type_id
            and current_stage in (self.from_stages or ()))
