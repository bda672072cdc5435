"""Request and answer schemas of elder care: Device vendors, devices in elders' homes and their events."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Cursor, Label, NextCursor, PageArgs, PageSize, Timestamp
from models.care import DEVICE_KINDS, EVENT_KINDS
from service.care.devices import EVENT_RESULTS

CODE = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{1,31}$", error="2–32 lowercase letters, digits, - or _")
REF = validate.Length(min=1, max=64)


class VendorIn(ma.Schema):
    code = ma.fields.String(required=True, validate=CODE, metadata={
        "description": "The vendor's code, sent by it as X-Linli-Vendor (2–32 of a-z, 0-9, -, _)"})
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))


class VendorOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    created_at = Timestamp(required=True)
    revoked_at = Timestamp(allow_none=True)
    last_used_at = Timestamp(allow_none=True, metadata={"description": "Its last signed request (to the minute)"})


class VendorCreatedOut(VendorOut):
    secret = ma.fields.String(required=True, metadata={
        "description": "The signing secret, shown in this answer only: the vendor signs each request with it"})


class DeviceIn(ma.Schema):
    vendor_code = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))
    vendor_ref = ma.fields.String(required=True, validate=REF, metadata={
        "description": "The vendor's id of the device (the `device` of its events)"})
    kind = ma.fields.String(required=True, validate=validate.OneOf(DEVICE_KINDS))
    room = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=32))


class DevicesArgs(PageArgs):
    include_removed = ma.fields.Boolean(load_default=False, metadata={"description": "Staff: removed ones too"})


class DeviceOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata={"enum": list(DEVICE_KINDS)})
    kind_name = Label("care", "kind", required=True)
    last_seen_at = Timestamp(allow_none=True, metadata={"description": "Its last event of any kind"})
    needs_maintenance = ma.fields.Boolean(required=True, metadata={
        "description": "Silent for the rules' silence_hours: a maintenance task is open"})
    # Staff only (null for the elder and family).
    vendor_code = ma.fields.String(allow_none=True)
    vendor_ref = ma.fields.String(allow_none=True)
    room = ma.fields.String(allow_none=True)
    installed_at = Timestamp(allow_none=True)
    removed_at = Timestamp(allow_none=True)
    last_activity_at = Timestamp(allow_none=True)
    battery = ma.fields.Integer(allow_none=True, metadata={"description": "Per cent, from its last reading"})
    maintenance_at = Timestamp(allow_none=True)


class QuarantineArgs(ma.Schema):
    cursor = Cursor()
    limit = PageSize(load_default=50)


class QuarantinedOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    vendor_event_id = ma.fields.String(required=True)
    device = ma.fields.String(required=True, metadata={"description": "The vendor's device id Linli does not know"})
    kind = ma.fields.String(required=True, metadata={"enum": list(EVENT_KINDS)})
    kind_name = Label("care", "event_kind", source="kind", required=True)
    at = Timestamp(required=True)
    received_at = Timestamp(required=True)
    value = ma.fields.Float(allow_none=True)


class QuarantineOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(QuarantinedOut), required=True)
    next_cursor = NextCursor()


# --- the vendors' events (POST /api/v1/care-events) --------------------------------------------------------------

class EventIn(ma.Schema):
    id = ma.fields.String(required=True, validate=REF, metadata={"description": "The vendor's event id (once)"})
    device = ma.fields.String(required=True, validate=REF, metadata={"description": "The vendor's device id"})
    kind = ma.fields.String(required=True, validate=validate.OneOf(EVENT_KINDS))
    at = ma.fields.AwareDateTime(required=True, validate=validate.Range(
        min=ma.fields.AwareDateTime().deserialize("2000-01-01T00:00:00+08:00"),
        max=ma.fields.AwareDateTime().deserialize("2100-01-01T00:00:00+08:00")),
        metadata={"description": "When it happened, ISO 8601 with its offset (2000–2100)"})
    value = ma.fields.Float(load_default=None, allow_none=True, allow_nan=False, validate=validate.Range(
        min=-1e9, max=1e9), metadata={"description": "A reading: the battery (per cent) of a heartbeat"})


class EventsIn(ma.Schema):
    events = ma.fields.List(ma.fields.Nested(EventIn), required=True, validate=validate.Length(min=1, max=100))


class EventResultOut(ma.Schema):
    id = ma.fields.String(required=True)
    result = ma.fields.String(required=True, metadata={"enum": list(EVENT_RESULTS)})
    result_name = Label("care", "result", required=True)
    alarm_id = ma.fields.Integer(allow_none=True)


class EventsOut(ma.Schema):
    received = ma.fields.Integer(required=True)
    results = ma.fields.List(ma.fields.Nested(EventResultOut), required=True)
