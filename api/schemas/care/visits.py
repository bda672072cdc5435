"""Request and answer schemas of elder care: Pairings, visit plans, due visits and visits to elders."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Cursor, Id, Label, NextCursor, PageArgs, PageSize, Timestamp
from models.care import CHANNELS, FINDINGS, OUTCOMES, VISITOR_ROLES
from service.care.visits import STATES, WEATHER_KINDS

ROLE = {"description": "partner (老伙伴), staff (居委会), social_worker (社工)"}


def _moment(**kwargs) -> ma.fields.AwareDateTime:
    """A moment given with its offset, between the years 2000 and 2100."""
    return ma.fields.AwareDateTime(validate=validate.Range(
        min=ma.fields.AwareDateTime().deserialize("2000-01-01T00:00:00+08:00"),
        max=ma.fields.AwareDateTime().deserialize("2100-01-01T00:00:00+08:00")), **kwargs)


def _day(**kwargs) -> ma.fields.Date:
    return ma.fields.Date(validate=validate.Range(min=ma.fields.Date().deserialize("2000-01-01"),
                                                  max=ma.fields.Date().deserialize("2100-01-01")), **kwargs)


class PairingIn(ma.Schema):
    visitor_user_id = Id(required=True)
    role = ma.fields.String(required=True, validate=validate.OneOf(VISITOR_ROLES), metadata=ROLE)
    starts_on = _day(metadata={"description": "Today when absent"})


class PairingOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    elder_id = ma.fields.Integer(required=True)
    visitor_user_id = ma.fields.Integer(required=True)
    role = ma.fields.String(required=True, metadata={"enum": list(VISITOR_ROLES)})
    role_name = Label("care", "role", required=True)
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(allow_none=True)


class PlanIn(ma.Schema):
    role = ma.fields.String(required=True, validate=validate.OneOf(VISITOR_ROLES), metadata=ROLE)
    rrule = ma.fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "An RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO,TH (at most daily, no hours)"})
    window_days = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=62), metadata={
        "description": "Days a due visit stays open from its day"})
    starts_on = _day(required=True)


class PlanOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    elder_id = ma.fields.Integer(required=True)
    role = ma.fields.String(required=True)
    role_name = Label("care", "role", required=True)
    rrule = ma.fields.String(required=True)
    window_days = ma.fields.Integer(required=True)
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(allow_none=True)
    reason = ma.fields.String(required=True)
    reason_name = Label("care", "plan_reason", source="reason", required=True)
    generated_until = ma.fields.Date(allow_none=True, metadata={"description": "Due visits are written up to here"})


class WeatherWarningIn(ma.Schema):
    kind = ma.fields.String(required=True, validate=validate.OneOf(WEATHER_KINDS),
                            metadata={"description": "cold (寒潮) or heat (高温)"})
    day = _day(required=True)
    neighbourhood_ids = ma.fields.List(Id(), validate=validate.Length(min=1, max=500), metadata={
        "description": "The neighbourhoods it covers; all those I cover when absent"})


class WeatherWarningOut(ma.Schema):
    kind = ma.fields.String(required=True)
    kind_name = Label("care", "weather", source="kind", required=True)
    day = ma.fields.Date(required=True)
    neighbourhood_ids = ma.fields.List(ma.fields.Integer(), required=True)
    added = ma.fields.Integer(required=True, metadata={"description": "Elders given an extra contact that day"})


class VisitIn(ma.Schema):
    at = _moment(required=True, metadata={"description": "When the visit or call was made"})
    channel = ma.fields.String(required=True, validate=validate.OneOf(CHANNELS))
    outcome = ma.fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    notes = ma.fields.String(allow_none=True, validate=validate.Length(max=1000))
    finding = ma.fields.String(allow_none=True, validate=validate.OneOf(FINDINGS), metadata={
        "description": "case: open a case for the elder; meal_delivery: ask the 居委会 to arrange it; "
                       "file: add to the 民生档案"})
    finding_text = ma.fields.String(allow_none=True, validate=validate.Length(max=200),
                                    metadata={"description": "What was found (required for case and file)"})
    visitor_user_id = Id(allow_none=True, metadata={
        "description": "Staff recording for a paired volunteer who does not use the app; myself when absent"})


class VisitOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    elder_id = ma.fields.Integer(required=True)
    visitor_user_id = ma.fields.Integer(required=True)
    visitor_name = ma.fields.String(allow_none=True)
    role = ma.fields.String(required=True)
    role_name = Label("care", "role", required=True)
    at = Timestamp(required=True)
    channel = ma.fields.String(required=True)
    channel_name = Label("care", "channel", required=True)
    outcome = ma.fields.String(required=True)
    outcome_name = Label("care", "outcome", required=True)
    notes = ma.fields.String(allow_none=True, metadata={"description": "Staff, and the visit's own visitor only"})
    finding = ma.fields.String(allow_none=True)
    finding_name = Label("care", "finding", allow_none=True)
    case_id = ma.fields.Integer(allow_none=True)
    due_id = ma.fields.Integer(allow_none=True, metadata={"description": "The due visit it completed"})
    recorded_by = ma.fields.Integer(required=True)
    recorded_at = Timestamp(required=True)


class CursorArgs(ma.Schema):
    cursor = Cursor()
    limit = PageSize(load_default=20)


class DueArgs(CursorArgs):
    state = ma.fields.String(load_default="due", validate=validate.OneOf(STATES), metadata={
        "description": "due (open now), overdue (closed, not done), upcoming (not yet open)"})
    neighbourhood_id = Id()
    role = ma.fields.String(validate=validate.OneOf(VISITOR_ROLES))


class MyDueArgs(CursorArgs):
    state = ma.fields.String(load_default="due", validate=validate.OneOf(STATES))


class DueOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    elder_id = ma.fields.Integer(required=True)
    plan_id = ma.fields.Integer(required=True)
    role = ma.fields.String(required=True)
    role_name = Label("care", "role", required=True)
    earliest_at = Timestamp(required=True)
    latest_at = Timestamp(required=True)
    state = ma.fields.String(required=True)
    state_name = Label("care", "due_state", source="state", required=True)
    name = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    neighbourhood_id = ma.fields.Integer(metadata={"description": "Staff only"})
    reminded_at = Timestamp(allow_none=True)
    escalated_at = Timestamp(allow_none=True)


class DuePageOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DueOut), required=True)
    next_cursor = NextCursor()


class VisitPageOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(VisitOut), required=True)
    next_cursor = NextCursor()


class MyElderOut(ma.Schema):
    elder_id = ma.fields.Integer(required=True)
    pairing_id = ma.fields.Integer(required=True)
    name = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    role = ma.fields.String(required=True)
    role_name = Label("care", "role", required=True)
    starts_on = ma.fields.Date(required=True)


class MyElderPageOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MyElderOut), required=True)
    next_cursor = NextCursor()


class VisitRateArgs(PageArgs):
    month = ma.fields.String(required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"),
                             metadata={"description": "YYYY-MM", "example": "2027-01"})
    role = ma.fields.String(validate=validate.OneOf(VISITOR_ROLES))


class VisitRateOut(ma.Schema):
    neighbourhood_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    month = ma.fields.String(required=True)
    expected = ma.fields.Integer(required=True, metadata={
        "description": "Due visits whose window closed in the month, not cancelled"})
    done = ma.fields.Integer(required=True)
    missed = ma.fields.Integer(required=True, metadata={"description": "expected − done"})
    open = ma.fields.Integer(required=True, metadata={"description": "Due visits of the month whose window has not "
                                                                    "closed yet and that are not done: neither "
                                                                    "expected nor missed yet"})
    rate = ma.fields.String(allow_none=True, metadata={
        "description": "done/expected, exactly; null when none expected"})
    percent = ma.fields.String(allow_none=True, metadata={"description": "The rate in per cent, 2 decimals"})
