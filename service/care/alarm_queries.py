"""Reads of alarms: staff's list of the alarms in their scope, the list of a family member's or a visitor's
elders, and one alarm with its ladder's steps. Live alarms come first, then resolved ones, newest first in each,
keyset-paginated (a cursor names the last row's part and id)."""
from __future__ import annotations

import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.care import LIVE_ALARM_STATES, Alarm, AlarmStep, Contact, Elder, Pairing
from models.people import FamilyLink, ResidentProfile
from service import audit, cursors, privacy
from service.care import access, alarms, errors
from service.people import Actor

_CURSOR_PURPOSE = "care.alarm_cursor"
_LIVE, _RESOLVED = 0, 1
_TAKER = sa.orm.aliased(ResidentProfile)


def encode_cursor(part: int, alarm_id: int) -> str:
    return cursors.issue(_CURSOR_PURPOSE, [part, alarm_id])


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(part, id) of a cursor this server issued (service/cursors.py); anything else is a 422 naming ``cursor``."""
    values = cursors.read(_CURSOR_PURPOSE, cursor, 2)
    if values is None or values[0] not in (_LIVE, _RESOLVED) or type(values[1]) is not int \
            or not 0 < values[1] <= cursors.MAX_ID:
        raise errors.CursorInvalid()
    return values[0], values[1]


def _rows(query, *, state: str | None, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """A page of ``query`` (rows with an Alarm first): live first, then resolved, each newest first."""
    parts = [_RESOLVED] if state == "resolved" else [_LIVE] if state else [_LIVE, _RESOLVED]
    part, last = decode_cursor(cursor) if cursor else (parts[0], None)
    rows: list = []
    for each in (p for p in parts if p >= part):
        q = query.where(Alarm.state == "resolved" if each == _RESOLVED else Alarm.state.in_(LIVE_ALARM_STATES))
        if last is not None and each == part:
            q = q.where(Alarm.id < last)
        rows += [(each, row) for row in db.session.execute(q.order_by(Alarm.id.desc())
                                                           .limit(limit + 1 - len(rows))).all()]
        if len(rows) > limit:
            break
    if len(rows) <= limit:
        return [row for _, row in rows], None
    each, row = rows[limit - 1]
    return [row for _, row in rows[:limit]], encode_cursor(each, row.Alarm.id)


_LIST = (sa.select(Alarm, Elder.neighbourhood_id, Elder.user_id.label("elder_user_id"), ResidentProfile.name)
         .join(Elder, Elder.id == Alarm.elder_id)
         .outerjoin(ResidentProfile, ResidentProfile.user_id == Elder.user_id))


def _summary(actor: Actor, row) -> dict:
    alarm = row.Alarm
    return {"id": alarm.id, "elder_id": alarm.elder_id, "elder_name": row.name,
            "neighbourhood_id": row.neighbourhood_id,
            "source": alarm.source, "rule": alarm.rule, "severity": alarm.severity, "state": alarm.state,
            "step": alarm.step, "next_at": alarm.next_at, "opened_at": alarm.opened_at, "taken_at": alarm.taken_at,
            "taken_by_me": alarm.taken_by == actor.user_id, "resolved_at": alarm.resolved_at,
            "outcome": alarm.outcome}


def staff_list(actor: Actor, *, state: str | None = None, severity: str | None = None, cursor: str | None = None,
               limit: int = 20) -> tuple[list[dict], str | None]:
    """The alarms of the elders in the staff member's neighbourhoods (an audited view of their names)."""
    scope = sorted(access.staff_neighbourhoods(actor))
    if not scope:
        raise errors.NotInScope()
    query = _LIST.where(Elder.neighbourhood_id.in_(scope))
    if state:
        query = query.where(Alarm.state == state)
    if severity:
        query = query.where(Alarm.severity == severity)
    rows, next_cursor = _rows(query, state=state, cursor=cursor, limit=limit)
    items = [_summary(actor, row) for row in rows]
    audit.record_view(actor, "care.alarms_listed", "care_alarm", None, street_id=None)
    return items, next_cursor


def mine(actor: Actor, *, cursor: str | None = None, limit: int = 20) -> tuple[list[dict], str | None]:
    """The alarms of the elders I am family to (a confirmed relative, an emergency contact) or visit."""
    relatives = sa.select(FamilyLink.elder_user_id).where(FamilyLink.proxy_user_id == actor.user_id,
                                                          FamilyLink.status == "confirmed")
    contacts = sa.select(Contact.elder_id).where(Contact.user_id == actor.user_id)
    paired = sa.select(Pairing.elder_id).where(Pairing.visitor_user_id == actor.user_id, Pairing.ends_on.is_(None))
    # The caller's few elders first, then their alarms by ix_care_alarm_elder (not every alarm read newest first
    # and filtered by elder: the alarms of three years are many).
    elders = db.session.execute(sa.select(Elder.id).where(
        sa.or_(Elder.user_id.in_(relatives), Elder.id.in_(contacts), Elder.id.in_(paired)),
        Elder.user_id != actor.user_id)).scalars().all()
    if not elders:
        if cursor:
            decode_cursor(cursor)
        return [], None
    query = _LIST.where(Alarm.elder_id.in_(sorted(elders)))
    rows, next_cursor = _rows(query, state=None, cursor=cursor, limit=limit)
    return [_summary(actor, row) for row in rows], next_cursor


def _steps(alarm_id: int) -> list[dict]:
    steps = db.session.execute(sa.select(AlarmStep).where(AlarmStep.alarm_id == alarm_id)
                               .order_by(AlarmStep.n, AlarmStep.id)).scalars()
    return [{"n": s.n, "target": s.target, "channel": s.channel, "due_at": s.due_at, "at": s.at,
             "recipients": s.recipients, "result": s.result} for s in steps]


HISTORY = ("care.alarm_taken", "care.alarm_taken_back", "care.alarm_on_site", "care.alarm_resolved")


def _history(alarm_id: int, names_in_full: bool) -> list[dict]:
    """Who took the alarm, when it was taken back, reached and resolved (its audit entries)."""
    rows = db.session.execute(sa.select(AuditEntry.action, AuditEntry.at, AuditEntry.actor_user_id, _TAKER.name)
                              .outerjoin(_TAKER, _TAKER.user_id == AuditEntry.actor_user_id)
                              .where(AuditEntry.object_type == "care_alarm", AuditEntry.object_id == str(alarm_id),
                                     AuditEntry.action.in_(HISTORY)).order_by(AuditEntry.id)).all()
    return [{"action": row.action, "at": row.at, "by_user_id": row.actor_user_id,
             "by_name": row.name if names_in_full else privacy.mask_name(row.name)} for row in rows]


def detail(actor: Actor, alarm_id: int, lang: str = "zh", *, audited: bool = True) -> dict:
    """One alarm with its steps and who took it. Staff covering the elder and the elder's visitors see the
    name, phone and address in full; family the name, the phone masked; never the file. A staff view is
    audited (``audited``: a view answering a staff action already audited is not recorded twice)."""
    alarm = alarms.get_alarm(alarm_id)
    row = db.session.execute(_LIST.add_columns(ResidentProfile.phone_enc, ResidentProfile.address,
                                               _TAKER.name.label("taker_name"))
                             .outerjoin(_TAKER, _TAKER.user_id == Alarm.taken_by)
                             .where(Alarm.id == alarm.id)).one()
    elder = db.session.get(Elder, alarm.elder_id)
    found = alarms.standing(actor, alarm, elder)
    full = found in (access.STAFF, access.VISITOR, access.SELF)
    phone = privacy.decrypt(row.phone_enc)
    taker = None if alarm.taken_by is None else {
        "user_id": alarm.taken_by,
        "name": row.taker_name if found == access.STAFF or alarm.taken_by == actor.user_id
        else privacy.mask_name(row.taker_name)}
    out = {**_summary(actor, row), "standing": found, "reference": alarm.reference,
           "elder": {"id": elder.id, "name": row.name, "phone": phone if full else privacy.mask_phone(phone),
                     "address": row.address if full else None},
           "taken_by": taker, "on_site_at": alarm.on_site_at, "resolved_by": alarm.resolved_by, "note": alarm.note,
           "steps": _steps(alarm.id), "history": _history(alarm.id, found == access.STAFF),
           "allowed_actions": alarms.allowed_actions(actor, alarm, found)}
    if found == access.STAFF and audited:
        audit.record_view(actor, "care.alarm_viewed", "care_alarm", alarm.id, street_id=alarm.street_id,
                          subject_user_id=elder.user_id)
    return out
