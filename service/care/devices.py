"""Device vendors, the devices in elders' homes, and the events the vendors send.

- **Vendors.** An administrator registers a vendor's integration; its signing secret is shown once, in the answer
  that created it, and stored encrypted (``privacy.encrypt``): Linli needs it to check each request's HMAC.
- **Devices.** Staff covering an elder register a device (a vendor's reference for it, its kind, the room), only
  while the elder's separate care consent is live (PIPL Art. 29). A vendor's device is in one home at a time.
  Withdrawing the consent removes the elder's devices and deletes their raw events (``remove_all_devices``).
- **Events.** ``POST /api/v1/care-events`` (``api/v1/care/devices.py``): a vendor signs the body with its secret;
  each event is stored once per vendor event id; an event too far in the future or older than the replay window is
  refused; an event of a device Linli does not know is kept without a device (quarantined) for staff to look at.
  An alarm event of a device with an immediate rule (smoke, gas, SOS) opens an alarm at once, away or not.
  Out-of-order events never move a device's ``last_seen_at`` or ``last_activity_at`` backwards.
- **No activity** (``config/rules/care.yaml`` ``devices.no_activity``): an elder who is at home (not away) and whose
  devices of a rule's kind have reported no activity for the rule's hours (counted from the device's installation
  when it never reported any, and from the elder's return when they came back later) is quiet for that rule; when
  the rule names ``with`` and the elder has a device of that rule's kind, that rule must hold too (two sensors
  agree). A quiet elder gets one no-activity alarm at a time, and one per quiet spell: a rule that already raised
  an alarm since the last activity waits for the next activity.
- **Silence**: a live device with no event at all for ``silence_hours`` gets a maintenance mark and the 居委会 staff
  a notification (not an alarm), once until the device speaks again.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from models.base import UTCDateTime, db
from models.care import LIVE_ALARM_STATES, Alarm, Device, DeviceEvent, Elder, Vendor
from models.people import RoleAssignment
from service import audit, clock, consent, cursors, notifications, privacy
from service.care import access, alarms, errors, queries, rules
from service.db import add_unique, is_unique_violation, locked, paginate, transactional
from service.errors import Forbidden
from service.people import Actor

SECRET_BYTES = 32
EVENT_RESULTS = ("accepted", "alarm", "duplicate", "future", "stale", "quarantined")
# Event kinds whose value is the device's battery (per cent).
BATTERY_KINDS = ("heartbeat", "battery_low")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
SILENCE_BATCH = 500
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# Decrypted secrets by their stored text (a vendor's secret never changes: a new one is a new vendor).
_SECRETS: dict[str, bytes] = {}


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden()


def vendor_out(vendor: Vendor) -> dict:
    return {"id": vendor.id, "code": vendor.code, "name": vendor.name, "created_at": vendor.created_at,
            "revoked_at": vendor.revoked_at, "last_used_at": vendor.last_used_at}


# --- vendors -----------------------------------------------------------------------------------------------------

@transactional
def register_vendor(actor: Actor, code: str, name: str) -> tuple[Vendor, str]:
    """Register a vendor's integration (administrators); returns it and its signing secret, which is shown once."""
    _require_admin(actor)
    secret = secrets.token_hex(SECRET_BYTES)
    vendor = add_unique(Vendor(code=code, name=name.strip(), secret_enc=privacy.encrypt(secret),
                               created_by=actor.user_id, created_at=clock.now()), errors.VendorCodeTaken())
    audit.record(actor, "care_vendor.registered", "care_vendor", vendor.id, after={"code": code, "name": vendor.name},
                 street_id=None)
    return vendor, secret


@transactional
def revoke_vendor(actor: Actor, vendor_id: int) -> Vendor:
    """Revoke a vendor's integration: its requests are refused from now on (401). Revoking twice changes nothing."""
    _require_admin(actor)
    vendor = locked(Vendor, vendor_id)
    if vendor is None:
        raise errors.VendorNotFound()
    if vendor.revoked_at is None:
        vendor.revoked_at = clock.now()
        audit.record(actor, "care_vendor.revoked", "care_vendor", vendor.id, before={"revoked_at": None},
                     after={"revoked_at": clock.iso(vendor.revoked_at)}, street_id=None)
    return vendor


def list_vendors(actor: Actor, *, page: int, page_size: int) -> tuple[list[dict], int]:
    _require_admin(actor)
    items, total = paginate(sa.select(Vendor).order_by(Vendor.id.desc()), page, page_size)
    return [vendor_out(v) for v in items], total


_QUARANTINE_CURSOR = "care.quarantine_cursor"


def quarantine(actor: Actor, vendor_id: int, *, cursor: str | None, limit: int) -> dict:
    """Events of a vendor for devices Linli does not know, newest first (a cursor page: the list grows while it is
    read)."""
    _require_admin(actor)
    if db.session.get(Vendor, vendor_id) is None:
        raise errors.VendorNotFound()
    query = sa.select(DeviceEvent).where(DeviceEvent.vendor_id == vendor_id, DeviceEvent.device_id.is_(None))
    if cursor is not None:
        before = cursors.read(_QUARANTINE_CURSOR, cursor, 1)
        if before is None or type(before[0]) is not int:
            raise errors.CursorInvalid()
        query = query.where(DeviceEvent.id < before[0])
    rows = db.session.execute(query.order_by(DeviceEvent.id.desc()).limit(limit + 1)).scalars().all()
    items = [{"id": e.id, "vendor_event_id": e.vendor_event_id, "device": e.vendor_ref, "kind": e.kind, "at": e.at,
              "received_at": e.received_at, "value": e.value} for e in rows[:limit]]
    return {"items": items,
            "next_cursor": cursors.issue(_QUARANTINE_CURSOR, [rows[limit - 1].id]) if len(rows) > limit else None}


# --- devices -------------------------------------------------------------------------------------------------------

@transactional
def register_device(actor: Actor, elder_id: int, data: dict) -> Device:
    """Register a device in an elder's home (staff covering the elder), while the elder's care consent is live."""
    elder = queries.get_elder(elder_id)
    access.require_staff(actor, elder)
    if elder.status != "active":
        raise errors.ElderEnded()
    if not consent.has(elder.user_id, "care"):
        raise errors.ConsentMissing()
    vendor = db.session.execute(sa.select(Vendor).where(Vendor.code == data["vendor_code"])).scalar_one_or_none()
    if vendor is None or vendor.revoked_at is not None:
        raise errors.VendorUnknown()
    device = add_unique(Device(elder_id=elder.id, vendor_id=vendor.id, vendor_ref=data["vendor_ref"],
                               kind=data["kind"], room=data.get("room"), installed_at=clock.now(),
                               installed_by=actor.user_id), errors.DeviceExists())
    audit.record(actor, "care_device.registered", "care_device", device.id, street_id=elder.street_id,
                 subject_user_id=elder.user_id, after={"elder_id": elder.id, "vendor": vendor.code,
                                                       "vendor_ref": device.vendor_ref, "kind": device.kind})
    return device


@transactional
def remove_device(actor: Actor, device_id: int) -> Device:
    """Remove a device (staff covering its elder). Removing a removed device changes nothing."""
    device = locked(Device, device_id)
    if device is None:
        raise errors.DeviceNotFound()
    elder = queries.get_elder(device.elder_id)
    access.require_staff(actor, elder)
    if device.removed_at is None:
        device.removed_at = clock.now()
        audit.record(actor, "care_device.removed", "care_device", device.id, street_id=elder.street_id,
                     subject_user_id=elder.user_id, before={"removed_at": None},
                     after={"removed_at": clock.iso(device.removed_at)})
    return device


def remove_live(elder: Elder, now: datetime) -> int:
    """Remove the elder's live devices (their events stay until retention); how many. Undecorated."""
    table = Device.__table__
    return db.session.execute(table.update().where(table.c.elder_id == elder.id, table.c.removed_at.is_(None))
                              .values(removed_at=now)).rowcount


def remove_all_devices(elder: Elder, now: datetime) -> dict:
    """The elder's care consent was withdrawn (or their care ended): every live device is removed and the raw
    events of all their devices are deleted (they reveal movements; alarms and visits stay). Undecorated: runs in
    the caller's transaction, which audits the withdrawal."""
    removed = remove_live(elder, now)
    mine = sa.select(Device.id).where(Device.elder_id == elder.id).scalar_subquery()
    deleted = db.session.execute(sa.delete(DeviceEvent).where(DeviceEvent.device_id.in_(mine))
                                 .execution_options(synchronize_session=False)).rowcount
    return {"care_device.removed": removed, "care_event.deleted": deleted}


def devices_of(actor: Actor, elder_id: int, *, page: int, page_size: int,
               include_removed: bool = False) -> tuple[list[dict], int]:
    """An elder's devices: staff see everything (audited: a device's last activity tells the elder's movements);
    the elder and their family see each device's kind and when it was last heard from."""
    elder = queries.get_elder(elder_id)
    standing = access.require(actor, elder, access.STAFF, access.FAMILY, access.SELF)
    staff = standing == access.STAFF
    query = (sa.select(Device, Vendor.code).join(Vendor, Vendor.id == Device.vendor_id)
             .where(Device.elder_id == elder.id).order_by(Device.id))
    if not (staff and include_removed):
        query = query.where(Device.removed_at.is_(None))
    total = db.session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(query.limit(page_size).offset((page - 1) * page_size)).all()
    items = [_device_out(device, code, staff) for device, code in rows]
    if staff:
        audit.record_view(actor, "care_device.listed", "care_elder", elder.id, street_id=elder.street_id,
                          subject_user_id=elder.user_id)
    return items, total


def device_detail(actor: Actor, device_id: int) -> dict:
    """A device as staff covering its elder see it (the answer to their registering or removing it)."""
    found = db.session.execute(sa.select(Device, Vendor.code).join(Vendor, Vendor.id == Device.vendor_id)
                               .where(Device.id == device_id)).one_or_none()
    if found is None:
        raise errors.DeviceNotFound()
    access.require_staff(actor, queries.get_elder(found[0].elder_id))
    return _device_out(found[0], found[1], True)


def _device_out(device: Device, vendor_code: str, staff: bool) -> dict:
    out = {"id": device.id, "kind": device.kind, "last_seen_at": device.last_seen_at,
           "needs_maintenance": device.maintenance_at is not None}
    hidden = ("vendor_code", "vendor_ref", "room", "installed_at", "removed_at", "last_activity_at", "battery",
              "maintenance_at")
    if not staff:
        return {**out, **dict.fromkeys(hidden)}
    return {**out, "vendor_code": vendor_code, "vendor_ref": device.vendor_ref, "room": device.room,
            "installed_at": device.installed_at, "removed_at": device.removed_at,
            "last_activity_at": device.last_activity_at, "battery": device.battery,
            "maintenance_at": device.maintenance_at}


# --- the vendors' events ----------------------------------------------------------------------------------------

_VENDOR = (sa.select(Vendor.id, Vendor.secret_enc, Vendor.revoked_at, Vendor.last_used_at)
           .where(Vendor.code == sa.bindparam("code")))
# A vendor's last use is written at most this often (a busy vendor's row is not a hot spot).
USE_RECORDED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Caller:
    """A vendor whose request's signature was checked."""
    vendor_id: int
    record_use: bool   # its last use is older than USE_RECORDED_EVERY


def _secret(stored: str) -> bytes:
    secret = _SECRETS.get(stored)
    if secret is None:
        secret = (privacy.decrypt(stored) or "").encode()
        if len(_SECRETS) > 1000:
            _SECRETS.clear()
        _SECRETS[stored] = secret
    return secret


def signature(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The signature a vendor sends: hex HMAC-SHA256 with its secret over ``timestamp + "." + body``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def authenticate(code: str | None, timestamp: str | None, signed: str | None, body: bytes) -> Caller:
    """The vendor whose signature ``signed`` is over ``body``, or a 401 naming what is wrong: a header
    missing, an unknown or revoked vendor, a timestamp off Linli's clock by more than the rules allow, a signature
    that does not match (compared in constant time). A read: nothing is written."""
    if not code or not timestamp or not signed:
        raise errors.SignatureMissing()
    if not _TIMESTAMP.fullmatch(timestamp):
        raise errors.SignatureExpired()
    if abs(clock.now().timestamp() - int(timestamp)) > rules.current().signature_skew_seconds:
        raise errors.SignatureExpired()
    found = db.session.connection().execute(_VENDOR, {"code": code[:64]}).one_or_none()
    if found is None or found.revoked_at is not None:
        raise errors.VendorInvalid()
    expected = signature(_secret(found.secret_enc), timestamp, body)
    if not hmac.compare_digest(expected.encode(), signed.strip().lower().encode("utf-8", "replace")):
        raise errors.SignatureInvalid()
    return Caller(found.id, found.last_used_at is None or found.last_used_at < clock.now() - USE_RECORDED_EVERY)


_DEVICES = (sa.select(Device.id, Device.vendor_ref, Device.kind, Device.elder_id, Elder.status)
            .join(Elder, Elder.id == Device.elder_id)
            .where(Device.vendor_id == sa.bindparam("vendor_id"),
                   Device.vendor_ref.in_(sa.bindparam("refs", expanding=True)), Device.removed_at.is_(None)))


def _touch_device_statement():
    """One UPDATE per device, run for all of a batch's devices at once (executemany): the newest moment seen and
    the newest activity move forward only, the battery follows the newest reading, and any event ends the
    maintenance mark."""
    t = Device.__table__
    seen, activity = sa.bindparam("b_seen", type_=UTCDateTime()), sa.bindparam("b_activity", type_=UTCDateTime())
    battery_at = sa.bindparam("b_battery_at", type_=UTCDateTime())
    epoch = sa.literal(EPOCH, UTCDateTime())
    return t.update().where(t.c.id == sa.bindparam("b_id")).values(
        last_seen_at=sa.case((seen > sa.func.coalesce(t.c.last_seen_at, epoch), seen), else_=t.c.last_seen_at),
        last_activity_at=sa.case((activity > sa.func.coalesce(t.c.last_activity_at, epoch), activity),
                                 else_=t.c.last_activity_at),
        battery=sa.case((sa.and_(battery_at > epoch, battery_at >= sa.func.coalesce(t.c.last_seen_at, epoch)),
                         sa.bindparam("b_battery", type_=sa.SmallInteger())), else_=t.c.battery),
        maintenance_at=None)


_TOUCH_DEVICE = _touch_device_statement()
_EVENT_ALARM = (DeviceEvent.__table__.update().where(DeviceEvent.__table__.c.id == sa.bindparam("b_event"))
                .values(alarm_id=sa.bindparam("b_alarm")))


_INSERT_EVENTS: dict[str, sa.Insert] = {}


def _insert_events(rows: list[dict]) -> dict[str, int]:
    """Insert the events, skipping those already stored (by vendor and vendor event id) in the same statement
    (built once per database kind, its rows sent as one INSERT … VALUES); the ids of the new ones by vendor event
    id."""
    connection = db.session.connection()
    dialect = connection.dialect.name
    if dialect not in _INSERT_EVENTS:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        table = DeviceEvent.__table__
        _INSERT_EVENTS[dialect] = (insert(table).on_conflict_do_nothing(index_elements=["vendor_id", "vendor_event_id"])
                                   .returning(table.c.vendor_event_id, table.c.id))
    return dict(connection.execute(_INSERT_EVENTS[dialect], rows).all())


def _classify(events: list[dict], now: datetime) -> tuple[list[str | None], list[int]]:
    """Each event's result when it is refused before storing (future, stale, repeated in the batch), and the
    indexes of those to store."""
    r = rules.current()
    future, stale = now + timedelta(seconds=r.future_skew_seconds), now - timedelta(seconds=r.replay_window_seconds)
    results: list[str | None] = [None] * len(events)
    keep, seen = [], set()
    for index, event in enumerate(events):
        if event["at"] > future:
            results[index] = "future"
        elif event["at"] < stale:
            results[index] = "stale"
        elif event["id"] in seen:
            results[index] = "duplicate"
        else:
            seen.add(event["id"])
            keep.append(index)
    return results, keep


def _device_changes(stored: list[tuple[dict, int, tuple]]) -> list[dict]:
    """Per device, what the batch's stored events change (for the executemany UPDATE)."""
    changes: dict[int, dict] = {}
    for event, _event_id, device in stored:
        at = event["at"]
        change = changes.setdefault(device[0], {"b_id": device[0], "b_seen": EPOCH, "b_activity": EPOCH,
                                                "b_battery_at": EPOCH, "b_battery": None})
        change["b_seen"] = max(change["b_seen"], at)
        if event["kind"] == "activity":
            change["b_activity"] = max(change["b_activity"], at)
        value = event.get("value")
        if event["kind"] in BATTERY_KINDS and value is not None and at >= change["b_battery_at"]:
            change["b_battery_at"], change["b_battery"] = at, int(max(0, min(100, round(value))))
    return list(changes.values())


@transactional
def ingest(caller: Caller, events: list[dict]) -> dict:
    """Store a signed batch of a vendor's events (one transaction, a handful of statements whatever the batch's
    size) and act on them; each event's result, in the order sent."""
    now = clock.now()
    vendor_id = caller.vendor_id
    results, keep = _classify(events, now)
    alarm_ids: dict[int, int] = {}
    if caller.record_use:
        _touch_vendor(vendor_id, now)
    if keep:
        refs = sorted({events[i]["device"] for i in keep})
        devices = {row.vendor_ref: row for row in db.session.connection().execute(
            _DEVICES, {"vendor_id": vendor_id, "refs": refs})}
        inserted = _insert_events([{
            "vendor_id": vendor_id, "vendor_event_id": events[i]["id"], "vendor_ref": events[i]["device"],
            "device_id": devices[events[i]["device"]].id if events[i]["device"] in devices else None,
            "kind": events[i]["kind"], "at": events[i]["at"], "received_at": now, "value": events[i].get("value")}
            for i in keep])
        stored = []
        for i in keep:
            event_id = inserted.get(events[i]["id"])
            device = devices.get(events[i]["device"])
            if event_id is None:
                results[i] = "duplicate"
            elif device is None:
                results[i] = "quarantined"
            else:
                results[i] = "accepted"
                stored.append((events[i], event_id, device, i))
        if stored:
            db.session.connection().execute(_TOUCH_DEVICE, _device_changes([s[:3] for s in stored]))
            alarm_ids = _immediate_alarms(stored, now, results)
    return {"received": len(events), "results": [
        {"id": event["id"], "result": results[i], "alarm_id": alarm_ids.get(i)} for i, event in enumerate(events)]}


def _touch_vendor(vendor_id: int, now: datetime) -> None:
    """The vendor's last use (concurrent requests: the first one writes it)."""
    db.session.execute(sa.update(Vendor).where(Vendor.id == vendor_id, sa.or_(
        Vendor.last_used_at.is_(None), Vendor.last_used_at < now - USE_RECORDED_EVERY))
        .values(last_used_at=now).execution_options(synchronize_session=False))


def _immediate_alarms(stored: list, now: datetime, results: list) -> dict[int, int]:
    """Open (or join) an alarm for each alarm event of a device with an immediate rule, the elder away or not; the
    alarm's id by the event's index in the batch."""
    immediate = rules.current().immediate
    found: dict[int, int] = {}
    opened: dict[tuple[int, str], int] = {}
    for event, event_id, device, index in stored:
        rule = immediate.get(device.kind)
        if rule is None or event["kind"] not in rule.event_kinds or device.status != "active":
            continue
        key = (device.elder_id, device.kind)
        if key not in opened:
            opened[key] = _raise(device.elder_id, source="device", rule=device.kind, severity=rule.severity, now=now,
                                 event_id=event_id)
        found[index] = opened[key]
        results[index] = "alarm"
    if found:
        ids = {index: event_id for _event, event_id, _device, index in stored}
        db.session.connection().execute(_EVENT_ALARM, [{"b_event": ids[i], "b_alarm": a} for i, a in found.items()])
    return found


def _raise(elder_id: int, *, source: str, rule: str, severity: str, now: datetime,
           event_id: int | None = None) -> int | None:
    """Open an alarm for the elder and rule, or find the live one it joins (a concurrent request may open it at the
    same moment: the unique index decides, in a savepoint, and the loser joins the winner's)."""
    elder = db.session.get(Elder, elder_id)
    try:
        with db.session.begin_nested():
            alarm = alarms.open_alarm(elder, source=source, rule=rule, severity=severity, now=now, event_id=event_id)
    except sa.exc.IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        alarm = None
    if alarm is None:
        alarm = alarms.live_alarm(elder_id, rule)
    return alarm.id if alarm is not None else None


# --- no activity ---------------------------------------------------------------------------------------------------

def _quiet_rows(now: datetime, elder_id: int | None = None) -> list:
    """(elder, device kind, quiet since) of every present elder (on the roster, not away) with at least one kind
    quiet for the shortest hours of its rules; quiet since: the newest activity of the elder's live devices of
    that kind (their installation when none), or the elder's return when later. One statement."""
    r = rules.current()
    hours: dict[str, int] = {}
    for rule in r.no_activity.values():
        hours[rule.device_kind] = min(hours.get(rule.device_kind, rule.hours), rule.hours)
    if not hours:
        return []
    when = lambda value: sa.literal(value, UTCDateTime())  # noqa: E731
    latest = sa.type_coerce(sa.func.max(sa.func.coalesce(Device.last_activity_at, Device.installed_at)), UTCDateTime())
    back = sa.and_(Elder.away_until.is_not(None), Elder.away_until <= when(now))
    since = sa.case((sa.and_(back, Elder.away_until > latest), Elder.away_until), else_=latest)
    present = sa.or_(Elder.away_from.is_(None), Elder.away_from > when(now), back)
    query = (sa.select(Device.elder_id, Device.kind, since.label("since")).join(Elder, Elder.id == Device.elder_id)
             .where(Device.removed_at.is_(None), Device.kind.in_(sorted(hours)), Elder.status == "active", present)
             .group_by(Device.elder_id, Device.kind, Elder.away_until))
    if elder_id is not None:
        query = query.where(Device.elder_id == elder_id)
    quiet = query.cte("quiet")
    cutoff = sa.case(*[(quiet.c.kind == kind, when(now - timedelta(hours=h))) for kind, h in hours.items()])
    holding = sa.select(quiet.c.elder_id).where(sa.type_coerce(quiet.c.since, UTCDateTime()) <= cutoff)
    return db.session.execute(sa.select(quiet.c.elder_id, quiet.c.kind, sa.type_coerce(quiet.c.since, UTCDateTime()))
                              .where(quiet.c.elder_id.in_(holding))).all()


def _holding(rows: list, now: datetime) -> dict[int, list[tuple[str, datetime]]]:
    """The no-activity rules that hold for each elder, in the rules' order: (rule code, quiet since)."""
    r = rules.current()
    kinds: dict[int, dict[str, datetime]] = defaultdict(dict)
    for elder_id, kind, since in rows:
        kinds[elder_id][kind] = since
    out: dict[int, list[tuple[str, datetime]]] = {}

    def holds(rule, seen) -> bool:
        return rule.device_kind in seen and seen[rule.device_kind] <= now - timedelta(hours=rule.hours)

    for elder_id, seen in kinds.items():
        found = []
        for rule in r.no_activity.values():
            other = r.no_activity.get(rule.with_rule) if rule.with_rule else None
            if holds(rule, seen) and (other is None or other.device_kind not in seen or holds(other, seen)):
                found.append((rule.code, seen[rule.device_kind]))
        if found:
            out[elder_id] = found
    return out


def quiet_elders(now: datetime) -> list[tuple[int, str]]:
    """(elder, rule) of each elder a no-activity alarm is due for: at most one per elder, none while the elder has
    a live no-activity alarm, none for a rule that already raised one since the quiet spell began. Two
    statements over all elders."""
    holding = _holding(_quiet_rows(now), now)
    if not holding:
        return []
    earliest = min(since for found in holding.values() for _code, since in found)
    raised = db.session.execute(sa.select(Alarm.elder_id, Alarm.rule, Alarm.state, Alarm.opened_at).where(
        Alarm.source == "no_activity", Alarm.elder_id.in_(sorted(holding)),
        sa.or_(Alarm.state.in_(LIVE_ALARM_STATES), Alarm.opened_at >= earliest))).all()
    live, latest = set(), {}
    for elder_id, rule, state, opened_at in raised:
        if state in LIVE_ALARM_STATES:
            live.add(elder_id)
        latest[(elder_id, rule)] = max(latest.get((elder_id, rule), opened_at), opened_at)
    due = []
    for elder_id, found in sorted(holding.items()):
        if elder_id in live:
            continue
        fresh = [code for code, since in found if latest.get((elder_id, code), EPOCH) < since]
        if fresh:
            due.append((elder_id, fresh[0]))
    return due


@transactional
def raise_no_activity(elder_id: int, rule_code: str, now: datetime) -> int | None:
    """Open the no-activity alarm if the rule still holds for the elder (an event may have come meanwhile); its id,
    or None."""
    holding = dict(_holding(_quiet_rows(now, elder_id), now).get(elder_id, []))
    if rule_code not in holding:
        return None
    rule = rules.current().no_activity[rule_code]
    return _raise(elder_id, source="no_activity", rule=rule_code, severity=rule.severity, now=now)


# --- silence ---------------------------------------------------------------------------------------------------

def _silent_since(now: datetime):
    return now - timedelta(hours=rules.current().silence_hours)


def silent_devices(now: datetime) -> list[int]:
    """Live devices of elders in care with no event for ``silence_hours`` (since installation when none) and no
    maintenance mark."""
    return list(db.session.execute(sa.select(Device.id).join(Elder, Elder.id == Device.elder_id).where(
        Elder.status == "active", Device.removed_at.is_(None), Device.maintenance_at.is_(None),
        sa.func.coalesce(Device.last_seen_at, Device.installed_at) <= _silent_since(now)).order_by(Device.id))
        .scalars())


@transactional
def mark_silent(device_ids: list[int], now: datetime) -> int:
    """Mark the devices (still silent, still unmarked) for maintenance and tell each neighbourhood's 居委会 staff,
    one message per neighbourhood; the number marked."""
    table = Device.__table__
    marked = db.session.connection().execute(table.update().where(
        table.c.id.in_(device_ids), table.c.removed_at.is_(None), table.c.maintenance_at.is_(None),
        sa.func.coalesce(table.c.last_seen_at, table.c.installed_at) <= _silent_since(now))
        .values(maintenance_at=now).returning(table.c.id, table.c.elder_id)).all()
    if not marked:
        return 0
    neighbourhoods = dict(db.session.execute(sa.select(Elder.id, Elder.neighbourhood_id)
                                             .where(Elder.id.in_(sorted({elder for _id, elder in marked})))).all())
    by_place: dict[int, list[int]] = defaultdict(list)
    for device_id, elder_id in marked:
        by_place[neighbourhoods[elder_id]].append(device_id)
    staff = db.session.execute(sa.select(RoleAssignment.scope_id, RoleAssignment.user_id).where(
        RoleAssignment.role == "staff", RoleAssignment.scope_type == "neighbourhood",
        RoleAssignment.scope_id.in_(sorted(by_place))).distinct()).all()
    hours = rules.current().silence_hours
    notifications.notify_many([{
        "user_id": user_id, "kind": "care.maintenance",
        "dedupe_key": f"care.maintenance:{user_id}:{min(by_place[place])}:{int(now.timestamp())}",
        "title": "关爱设备需要检修", "body": f"{len(by_place[place])}台关爱设备超过{hours}小时没有信号，请联系厂商检修。",
        "link": "/pages/care/devices", "data": {"device_ids": sorted(by_place[place])}}
        for place, user_id in staff])
    return len(marked)
