"""Case schemas."""
from __future__ import annotations

from datetime import datetime, timezone

import marshmallow as ma
from marshmallow import validate
from webargs.fields import DelimitedList

from api.schemas.common import (Cursor, Datum, Id, Label, Labels, Lat, Lng, NextCursor, PageSize,
                                Timestamp)
from models.cases import STATUSES
from service.cases.states import CONTACT_METHODS, OUTCOMES, STAFF_ACTIONS, VISIT_RESULTS
from service.i18n import Text


class AttributeOut(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    datatype = ma.fields.String(required=True)
    datatype_name = Label("cases", "datatype", required=True)
    required = ma.fields.Boolean(required=True)


class CategoryOut(ma.Schema):
    code = ma.fields.String(required=True, metadata={"example": "corridor_clutter"})
    name = ma.fields.String(required=True, metadata={"example": "楼道堆物"})
    name_en = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"example": "投诉"})
    group = ma.fields.String(required=True, metadata={"example": "事件/市容环境"})
    public = ma.fields.Boolean(required=True)
    limits = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
                            metadata={"description": "Time limits in working days"})
    attributes = ma.fields.List(ma.fields.Nested(AttributeOut), required=True)


class CategoriesOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CategoryOut), required=True)


class LocationIn(ma.Schema):
    lat = Lat(required=True)
    lng = Lng(required=True)
    datum = Datum(load_default="gcj02",
                  metadata={"description": "wgs84 (wx.getLocation default) or gcj02 (Chinese maps)"})


class CaseIn(ma.Schema):
    category = ma.fields.String(required=True, validate=validate.Length(min=1, max=48), metadata={
        "description": "A category code of GET /api/v1/case-categories (set by the operator in config/rules)"})
    description = ma.fields.String(required=True, validate=validate.Length(min=1, max=4000))
    location = ma.fields.Nested(LocationIn, allow_none=True)
    address = ma.fields.String(allow_none=True, validate=validate.Length(max=200))
    photos = ma.fields.List(Id(), load_default=list, validate=validate.Length(max=9),
                            metadata={"description": "Upload ids (POST /api/v1/uploads), at most 9"})
    anonymous = ma.fields.Boolean(load_default=False, metadata={"description": "Hide my name from public views"})
    contact_consent = ma.fields.Boolean(load_default=True, metadata={"description": "Staff may contact me"})
    attributes = ma.fields.Dict(keys=ma.fields.String(validate=validate.Length(max=48)),
                                values=ma.fields.Raw(allow_none=True), load_default=dict)


class DeadlinesOut(ma.Schema):
    contact_due_at = Timestamp(allow_none=True)
    handle_due_at = Timestamp(allow_none=True)
    rework_due_at = Timestamp(allow_none=True)
    visit_due_at = Timestamp(allow_none=True)
    due_at = Timestamp(allow_none=True, metadata={"description": "The next deadline that matters"})
    provisional = ma.fields.Boolean(required=True, metadata={
        "description": "A deadline fell in a year the working-day calendar does not know (Monday-Friday assumed)"})
    overdue = ma.fields.Boolean(required=True)


class CaseSummaryOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    number = ma.fields.String(required=True, metadata={"example": "WL20261121-0042"})
    category = ma.fields.String(required=True)
    category_name = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": list(STATUSES)})
    status_name = Label("cases", "status", required=True, metadata={"example": "办理中"})
    description = ma.fields.String(required=True)
    address = ma.fields.String(allow_none=True)
    lat = Lat(answer=True, allow_none=True)
    lng = Lng(answer=True, allow_none=True)
    street_id = ma.fields.Integer(required=True)
    neighbourhood_id = ma.fields.Integer(allow_none=True)
    received_at = Timestamp(required=True)
    deadlines = ma.fields.Nested(DeadlinesOut, required=True)
    outcome = ma.fields.String(allow_none=True)
    outcome_name = Label("cases", "outcome", allow_none=True, required=True)
    rating = ma.fields.Integer(allow_none=True)
    assignee_id = ma.fields.Integer(allow_none=True)
    escalation_level = ma.fields.Integer(required=True)


class NearbyOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(type("NearbyCaseOut", (CaseSummaryOut,), {
        "distance_m": ma.fields.Integer(required=True)})), required=True)


class TimelineOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    at = Timestamp(required=True)
    action = ma.fields.String(required=True)
    action_name = Label("cases", "action", required=True)
    from_status = ma.fields.String(allow_none=True)
    from_status_name = Label("cases", "from_status", allow_none=True, required=True)
    to_status = ma.fields.String(allow_none=True)
    to_status_name = Label("cases", "to_status", allow_none=True, required=True)
    note = ma.fields.String(allow_none=True)
    public = ma.fields.Boolean(required=True)
    actor_role = ma.fields.String(allow_none=True)
    actor_role_name = Label("cases", "actor_role", allow_none=True, required=True)


class PhotoOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True)
    purpose = ma.fields.String(required=True)
    purpose_name = Label("cases", "purpose", required=True)


class ReporterOut(ma.Schema):
    name = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    masked = ma.fields.Boolean(required=True)


class CaseOut(CaseSummaryOut):
    reply = ma.fields.String(allow_none=True)
    timeline = ma.fields.List(ma.fields.Nested(TimelineOut), required=True)
    photos = ma.fields.List(ma.fields.Nested(PhotoOut), required=True)
    reporter = ma.fields.Nested(ReporterOut, allow_none=True)
    anonymous = ma.fields.Boolean(required=True)
    followers = ma.fields.Integer(required=True)
    following = ma.fields.Boolean(required=True)
    allowed_actions = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "What this caller may do on the case now: staff actions (POST .../actions) for staff who "
                       "handle it (supervisor actions only for its supervisors), and `withdraw`, `rate`, `reopen` "
                       "(POST .../withdraw, .../rating, .../reopen) for its reporter; empty for anyone else"})
    allowed_actions_names = Labels("cases", "allowed_actions", required=True)
    mine = ma.fields.Boolean(required=True)
    merged_into_id = ma.fields.Integer(allow_none=True)
    visit_result = ma.fields.String(allow_none=True)
    visit_result_name = Label("cases", "visit_result", allow_none=True, required=True)
    attributes = ma.fields.Dict(required=True)


class NearbyArgs(ma.Schema):
    lat = Lat(required=True)
    lng = Lng(required=True)
    datum = Datum(load_default="gcj02")
    category = ma.fields.String(required=True, validate=validate.Length(min=1, max=48), metadata={
        "description": "A category code of GET /api/v1/case-categories (set by the operator in config/rules)"})


def _utc_representable(value: datetime) -> None:
    """Deadlines are compared in UTC: a moment that has no UTC form (year 1 at +14:00) is refused."""
    try:
        value.astimezone(timezone.utc)
    except OverflowError:
        raise ma.ValidationError(Text("时间超出可处理的范围", "The time is out of range")) from None


class QueueArgs(ma.Schema):
    status = DelimitedList(ma.fields.String(validate=validate.OneOf(STATUSES)),
                                     metadata={"description": "Comma-separated; default: every open status"})
    category = ma.fields.String(validate=validate.Length(max=48), metadata={
        "description": "A category code of GET /api/v1/case-categories (set by the operator in config/rules)"})
    neighbourhood_id = Id()
    overdue = ma.fields.Boolean()
    due_before = ma.fields.AwareDateTime(validate=_utc_representable)
    assignee_id = Id()
    cursor = Cursor()
    limit = PageSize(load_default=20)


class QueueOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CaseSummaryOut), required=True)
    next_cursor = NextCursor()


class ActionIn(ma.Schema):
    action = ma.fields.String(required=True, validate=validate.OneOf(STAFF_ACTIONS), metadata={
        "description": "The staff action; the case's `allowed_actions` lists those this caller may take now"})
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=2000))
    public = ma.fields.Boolean(load_default=False, metadata={"description": "Show the note to the reporter"})
    method = ma.fields.String(allow_none=True, validate=validate.OneOf(CONTACT_METHODS), metadata={
        "description": "How the reporter was contacted (`contact`)"})
    outcome = ma.fields.String(allow_none=True, validate=validate.OneOf(OUTCOMES), metadata={
        "description": "`resolve`: solved (实际解决) or explained (解释说明)"})
    reply = ma.fields.String(allow_none=True, validate=validate.Length(max=4000))
    reason = ma.fields.String(allow_none=True, validate=validate.Length(max=500))
    result = ma.fields.String(allow_none=True, validate=validate.OneOf(VISIT_RESULTS), metadata={
        "description": "`visit`: the reporter is satisfied it was solved, not solved, or could not be reached"})
    working_days = ma.fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1, max=30), metadata={
        "description": "`request_extension`: working days asked for"})
    neighbourhood_id = Id(allow_none=True)
    assignee_id = Id(allow_none=True)
    into_case_id = Id(allow_none=True)
    photo_ids = ma.fields.List(Id(), load_default=list, validate=validate.Length(max=9))


class RatingIn(ma.Schema):
    score = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5), metadata={
        "description": "5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意"})
    comment = ma.fields.String(allow_none=True, validate=validate.Length(max=500))


class ReasonIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))


class WithdrawIn(ma.Schema):
    reason = ma.fields.String(allow_none=True, validate=validate.Length(max=500))


class FollowOut(ma.Schema):
    following = ma.fields.Boolean(required=True)


class MyCasesArgs(ma.Schema):
    cursor = Cursor()
    limit = PageSize(load_default=20)


class MyCasesOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CaseSummaryOut), required=True)
    next_cursor = NextCursor()
    total = ma.fields.Integer(required=True, metadata={"description": "How many cases I reported or follow"})
