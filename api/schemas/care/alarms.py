"""Request and answer schemas of elder care: Alarms about elders and their ladder."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Cursor, Id, Label, Labels, NextCursor, PageSize, Timestamp
from models.care import ALARM_OUTCOMES, ALARM_STATES, SEVERITIES


class AlarmListArgs(ma.Schema):
    state = ma.fields.String(validate=validate.OneOf(ALARM_STATES))
    severity = ma.fields.String(validate=validate.OneOf(SEVERITIES))
    cursor = Cursor()
    limit = PageSize(load_default=20)


class MyAlarmsArgs(ma.Schema):
    cursor = Cursor()
    limit = PageSize(load_default=20)


class AlarmResolveIn(ma.Schema):
    outcome = ma.fields.String(required=True, validate=validate.OneOf(ALARM_OUTCOMES))
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=500))
    visit_id = Id(allow_none=True, metadata={
        "description": "The visit (door, phone, …) to the elder since the alarm opened; required for no-activity "
                       "alarms and the signals of other services (config/rules/care.yaml close_needs_visit)"})


class AlarmSummaryOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    elder_id = ma.fields.Integer(required=True)
    elder_name = ma.fields.String(allow_none=True, required=True)
    neighbourhood_id = ma.fields.Integer(required=True)
    source = ma.fields.String(required=True)
    source_name = Label("care", "source", required=True)
    rule = ma.fields.String(required=True, metadata={"description": "The rule of config/rules/care.yaml that "
                                                                    "raised it (smoke, no_water_12h, …)"})
    rule_name = Label("care", "rule", required=True)
    severity = ma.fields.String(required=True)
    severity_name = Label("care", "severity", required=True)
    state = ma.fields.String(required=True)
    state_name = Label("care", "state", required=True)
    step = ma.fields.Integer(required=True, metadata={"description": "How many steps of its ladder were taken"})
    next_at = Timestamp(allow_none=True, required=True, metadata={
        "description": "When the ladder climbs next (or a taken alarm is taken back); null at the top"})
    opened_at = Timestamp(required=True)
    taken_at = Timestamp(allow_none=True, required=True)
    taken_by_me = ma.fields.Boolean(required=True)
    resolved_at = Timestamp(allow_none=True, required=True)
    outcome = ma.fields.String(allow_none=True, required=True)
    outcome_name = Label("care", "alarm_outcome", source="outcome", allow_none=True, required=True)


class AlarmPageOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AlarmSummaryOut), required=True)
    next_cursor = NextCursor()


class AlarmStepOut(ma.Schema):
    n = ma.fields.Integer(required=True)
    target = ma.fields.String(required=True)
    target_name = Label("care", "target", required=True)
    channel = ma.fields.String(required=True)
    channel_name = Label("care", "step_channel", source="channel", required=True)
    due_at = Timestamp(required=True)
    at = Timestamp(required=True)
    recipients = ma.fields.Integer(required=True)
    result = ma.fields.String(required=True)
    result_name = Label("care", "step_result", source="result", required=True)


class AlarmElderOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(allow_none=True, required=True)
    phone = ma.fields.String(allow_none=True, required=True, metadata={"description": "Masked for family"})
    address = ma.fields.String(allow_none=True, required=True, metadata={"description": "Staff and visitors only"})


class AlarmTakerOut(ma.Schema):
    user_id = ma.fields.Integer(required=True)
    name = ma.fields.String(allow_none=True, required=True)


class AlarmHistoryOut(ma.Schema):
    action = ma.fields.String(required=True)
    action_name = Label("audit", "action", required=True)
    at = Timestamp(required=True)
    by_user_id = ma.fields.Integer(allow_none=True, required=True, metadata={"description": "null: the ladder"})
    by_name = ma.fields.String(allow_none=True, required=True)


class AlarmDetailOut(AlarmSummaryOut):
    standing = ma.fields.String(required=True, metadata={"description": "How I stand to the elder"})
    standing_name = Label("care", "standing", required=True)
    reference = ma.fields.String(allow_none=True, required=True)
    elder = ma.fields.Nested(AlarmElderOut, required=True)
    taken_by = ma.fields.Nested(AlarmTakerOut, allow_none=True, required=True)
    on_site_at = Timestamp(allow_none=True, required=True)
    resolved_by = ma.fields.Integer(allow_none=True, required=True)
    note = ma.fields.String(allow_none=True, required=True)
    steps = ma.fields.List(ma.fields.Nested(AlarmStepOut), required=True)
    history = ma.fields.List(ma.fields.Nested(AlarmHistoryOut), required=True, metadata={
        "description": "Taken, taken back, on site, resolved: by whom and when"})
    allowed_actions = ma.fields.List(ma.fields.String(), required=True)
    allowed_actions_names = Labels("care", "alarm_action", source="allowed_actions", required=True)
