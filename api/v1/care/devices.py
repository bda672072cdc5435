"""Elder care: Device vendors, devices in elders' homes and their events.

The vendors' events arrive at ``POST /api/v1/care-events``, a partner protocol like Open311 (a plain blueprint,
outside the OpenAPI document, with no user token):

- Headers: ``X-Linli-Vendor: <vendor code>``, ``X-Linli-Timestamp: <unix seconds>``, ``X-Linli-Signature: <hex
  HMAC-SHA256 with the vendor's secret over timestamp + "." + the raw body>``. A missing header, an unknown or
  revoked vendor, a timestamp more than ``devices.signature_skew_seconds`` off Linli's clock, or a signature that
  does not match is a 401 naming it (``care.signature_missing``, ``care.vendor_invalid``,
  ``care.signature_expired``, ``care.signature_invalid``), and nothing is written.
- Body: ``{"events": [{"id", "device", "kind", "at", "value"?}]}``, 1–100 events (422 naming the field otherwise).
  ``kind`` ∈ alarm, activity, heartbeat, battery_low, restored; ``at`` ISO 8601 with its offset.
- Answer (200): ``{"received", "results": [{"id", "result", "result_name", "alarm_id"}]}`` in the order sent;
  ``result`` ∈ accepted, alarm (it opened or joined an alarm), duplicate (the vendor's event id was stored before:
  nothing changes), future (more than ``future_skew_seconds`` ahead: refused), stale (older than
  ``replay_window_seconds``: refused), quarantined (a device Linli does not know: kept for staff).
- Limited per vendor and client address to ``devices.vendor_requests_per_minute`` (429 beyond).
"""
from __future__ import annotations

import functools

import marshmallow as ma

from flask import Blueprint as FlaskBlueprint, g, request
from flask.views import MethodView
from flask_smorest import abort

from api.docs import errors
from api.errors import language
from api.extensions import Blueprint, limiter
from api.responses import answer, json_response
from api.schemas.care.devices import (DeviceIn, DeviceOut, DevicesArgs, EventsIn, EventsOut, QuarantineArgs,
                                      QuarantineOut, VendorCreatedOut, VendorIn, VendorOut)
from api.schemas.common import PageArgs, id_in_path, json_type_errors, page_of, paged
from api.security import auth_required, current_actor
from service.care import devices, rules
from service.db import reading

blp = Blueprint("care_devices", __name__, url_prefix="/api/v1",
                description="Device vendors, devices in elders' homes and their events")
events_blp = FlaskBlueprint("care_events", __name__, url_prefix="/api/v1")

VID, EID, DID = id_in_path("vendor_id"), id_in_path("elder_id"), id_in_path("device_id")
VENDOR = {"id": 2, "code": "anju-iot", "name": "安居物联", "created_at": "2026-12-01T09:00:00+08:00",
          "revoked_at": None, "last_used_at": "2026-12-07T10:15:00+08:00"}
DEVICE = {"id": 31, "kind": "smoke", "last_seen_at": "2026-12-07T10:10:00+08:00", "needs_maintenance": False,
          "vendor_code": "anju-iot", "vendor_ref": "SM-000731", "room": "厨房",
          "installed_at": "2026-12-01T10:00:00+08:00",
          "removed_at": None, "last_activity_at": None, "battery": 87, "maintenance_at": None}


@blp.route("/care/vendors")
class Vendors(MethodView):
    @blp.arguments(VendorIn)
    @blp.response(201, VendorCreatedOut, example={**VENDOR, "last_used_at": None, "secret": "9f2c…(64 hex)"})
    @errors(blp, 401, 403, 409, 422, 429)
    @auth_required("admin")
    def post(self, data):
        """Register a device vendor (administrators); its signing secret is in this answer only"""
        vendor, secret = devices.register_vendor(current_actor(), data["code"], data["name"])
        return {**devices.vendor_out(vendor), "secret": secret}

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(VendorOut), example={"items": [VENDOR], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 403)
    @auth_required("admin")
    def get(self, args):
        """Device vendors, newest first (administrators; no secrets)"""
        items, total = devices.list_vendors(current_actor(), page=args["page"], page_size=args["page_size"])
        return paged(items, total, args)


@blp.route(f"/care/vendors/{VID}/revoke")
class RevokeVendor(MethodView):
    @blp.response(200, VendorOut, example={**VENDOR, "revoked_at": "2026-12-07T11:00:00+08:00"})
    @errors(blp, 401, 403, 404, 429)
    @auth_required("admin")
    def post(self, vendor_id):
        """Revoke a vendor: its signed requests are refused from now on (revoking twice changes nothing)"""
        return devices.vendor_out(devices.revoke_vendor(current_actor(), vendor_id))


@blp.route(f"/care/vendors/{VID}/quarantine")
class Quarantine(MethodView):
    @blp.arguments(QuarantineArgs, location="query")
    @blp.response(200, QuarantineOut, example={"items": [{
        "id": 9001, "vendor_event_id": "ev-77812", "device": "SM-009999", "kind": "heartbeat",
        "at": "2026-12-07T10:00:00+08:00", "received_at": "2026-12-07T10:00:01+08:00", "value": 90}],
        "next_cursor": None})
    @errors(blp, 401, 403, 404, 422)
    @auth_required("admin")
    def get(self, args, vendor_id):
        """A vendor's events for devices Linli does not know, newest first (administrators; a cursor page)"""
        return devices.quarantine(current_actor(), vendor_id, cursor=args.get("cursor"), limit=args["limit"])


@blp.route(f"/care/elders/{EID}/devices")
class ElderDevices(MethodView):
    @blp.arguments(DeviceIn)
    @blp.response(201, DeviceOut, example=DEVICE)
    @errors(blp, 401, 403, 404, 409, 422, 429)
    @auth_required("staff", "admin")
    def post(self, data, elder_id):
        """Register a device in an elder's home (staff covering the elder; needs the elder's care consent)

        409 `care.consent_missing` without the elder's live care consent; 409 `care.device_exists` when the
        vendor's device is registered already; 422 `care.vendor_unknown` for an unknown or revoked vendor.
        """
        actor = current_actor()
        device = devices.register_device(actor, elder_id, data)
        return answer(devices.device_detail, actor, device.id)

    @blp.arguments(DevicesArgs, location="query")
    @blp.response(200, page_of(DeviceOut), example={"items": [DEVICE], "page": 1, "page_size": 20, "total": 1})
    @errors(blp, 401, 403, 404)
    @auth_required()
    def get(self, args, elder_id):
        """An elder's devices: staff see everything (audited); the elder and family see kinds and last seen"""
        items, total = devices.devices_of(current_actor(), elder_id, page=args["page"], page_size=args["page_size"],
                                          include_removed=args["include_removed"])
        return paged(items, total, args)


@blp.route(f"/care/devices/{DID}/remove")
class RemoveDevice(MethodView):
    @blp.response(200, DeviceOut, example={**DEVICE, "removed_at": "2026-12-07T11:00:00+08:00"})
    @errors(blp, 401, 403, 404, 429)
    @auth_required("staff", "admin")
    def post(self, device_id):
        """Remove a device (staff covering its elder; removing twice changes nothing)"""
        actor = current_actor()
        device = devices.remove_device(actor, device_id)
        return answer(devices.device_detail, actor, device.id)


# --- the vendors' events ------------------------------------------------------------------------------------------

def vendor_signed(fn):
    """The request is signed by a live vendor (``devices.authenticate``): it is ``g.vendor``; else 401."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # The vendor is read before the write lock (SQLite); on PostgreSQL the events' transaction goes on in
        # the same one.
        with reading(keep=True):
            g.vendor = devices.authenticate(request.headers.get("X-Linli-Vendor"),
                                               request.headers.get("X-Linli-Timestamp"),
                                               request.headers.get("X-Linli-Signature"), request.get_data(cache=True))
        return fn(*args, **kwargs)

    return wrapper


def _vendor_key() -> str:
    return f"care-vendor:{(request.headers.get('X-Linli-Vendor') or '')[:32]}:{request.remote_addr}"


def _vendor_limit() -> str:
    return f"{rules.current().vendor_requests_per_minute} per minute"


_EVENTS = EventsIn()
_ANSWER = EventsOut()


@events_blp.route("/care-events", methods=["POST"])
@limiter.limit(_vendor_limit, key_func=_vendor_key)
@vendor_signed
def care_events():
    payload = request.get_json(silent=True) if request.is_json else None
    problems = json_type_errors(_EVENTS, payload) if isinstance(payload, dict) else None
    if problems:
        abort(422, errors={"json": problems})
    try:
        data = _EVENTS.load(payload if isinstance(payload, dict) else {})
    except ma.ValidationError as exc:  # the fields named, nothing written
        abort(422, errors={"json": exc.messages})
    return json_response(_ANSWER.dump(devices.ingest(g.vendor, data["events"])))


BLUEPRINTS = (blp, events_blp)
