"""Use-cases of the care domain that write: the roster and the 民生档案 (visits: service/care/visits.py; devices and
their events: service/care/devices.py; alarms: service/care/alarms.py).

An elder is on the roster only because 居委会 staff recorded and verified how they live: nothing here is
self-declared. Staff record an elder who has a Linli account (their residence verified in the staff member's
neighbourhood) or one who has none (most do not use the app): the account is then made for them, with the
residence the staff member verifies at the same time."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.care import LIVE_ALARM_STATES, Alarm, Contact, Elder, LivelihoodFile, Pairing, VisitDue, VisitPlan
from models.people import ResidentProfile, User
from models.places import Neighbourhood
from service import audit, clock, consent, privacy
from service.care import access, devices, errors, plans, queries
from service.db import add_unique, transactional
from service.people import Actor

CARE = "care"  # the consent purpose (config/rules/privacy.yaml)
MAX_AWAY_DAYS = 366


def _check_neighbourhood(actor: Actor, neighbourhood_id: int | None) -> int:
    if neighbourhood_id is None:
        raise errors.ResidenceUnverified()
    if not actor.covers_neighbourhood(neighbourhood_id):
        raise errors.NotInScope()
    return neighbourhood_id


def _new_person(actor: Actor, person: dict, now: datetime) -> tuple[User, int]:
    """An account for an elder who has none, with the residence the staff member verifies now."""
    neighbourhood_id = _check_neighbourhood(actor, person.get("neighbourhood_id"))
    user = User(nickname=person["name"])
    db.session.add(user)
    db.session.flush()
    phone = person.get("phone")
    db.session.add(ResidentProfile(
        user_id=user.id, name=person["name"], phone_enc=privacy.encrypt(phone), phone_hash=privacy.lookup_hash(phone),
        address=person.get("address"), neighbourhood_id=neighbourhood_id, unit_id=person.get("unit_id"),
        residence_verified_by=actor.user_id, residence_verified_at=now))
    audit.record(actor, "resident.registered_by_staff", "user", user.id, after={"neighbourhood_id": neighbourhood_id})
    return user, neighbourhood_id


def _existing_person(actor: Actor, user_id: int) -> tuple[User, int]:
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        raise errors.PersonNotFound()
    profile = user.profile
    if profile is None or profile.neighbourhood_id is None:
        # A declared residence is not enough: staff verify it first (PATCH /residents/{id}/verification).
        raise errors.ResidenceUnverified()
    return user, _check_neighbourhood(actor, profile.neighbourhood_id)


@transactional
def add_elder(actor: Actor, data: dict) -> Elder:
    """Put an elder on the roster of their verified neighbourhood, with how they live as the staff member verified
    it, their risk tier and emergency contacts; the default visit plans start the same day."""
    now = clock.now()
    if not actor.is_staff:
        raise errors.NotInScope()
    if data.get("user_id") is not None:
        user, neighbourhood_id = _existing_person(actor, data["user_id"])
    else:
        user, neighbourhood_id = _new_person(actor, data["person"], now)
    street_id = db.session.execute(sa.select(Neighbourhood.street_id).where(Neighbourhood.id == neighbourhood_id)
                                   ).scalar_one()
    elder = Elder(user_id=user.id, neighbourhood_id=neighbourhood_id, street_id=street_id, living=data["living"],
                  risk_tier=data["risk_tier"], verified_by=actor.user_id, verified_at=now,
                  verified_on=data["verified_on"], status="active", created_at=now, updated_at=now)
    add_unique(elder, errors.AlreadyOnRoster())
    _set_contacts(elder, data.get("contacts") or [])
    plans.default_plans(elder, now, actor.user_id)
    audit.record(actor, "care.elder_added", "care_elder", elder.id, street_id=street_id, subject_user_id=user.id,
                 after={"living": elder.living, "risk_tier": elder.risk_tier, "verified_on": elder.verified_on})
    return elder


def _staff_elder(actor: Actor, elder_id: int, *, active: bool = True) -> Elder:
    elder = queries.get_elder(elder_id)
    access.require_staff(actor, elder)
    if active:
        queries.require_active(elder)
    return elder


@transactional
def update_elder(actor: Actor, elder_id: int, changes: dict) -> Elder:
    """Change how the elder lives or their risk tier (a new verification: by whom, when, on what)."""
    elder = _staff_elder(actor, elder_id)
    before = {k: getattr(elder, k) for k in ("living", "risk_tier", "verified_on")}
    for key in ("living", "risk_tier"):
        if key in changes:
            setattr(elder, key, changes[key])
    if "living" in changes or "verified_on" in changes:
        elder.verified_by, elder.verified_at = actor.user_id, clock.now()
        elder.verified_on = changes.get("verified_on", elder.verified_on)
    if "contacts" in changes:
        db.session.execute(sa.delete(Contact).where(Contact.elder_id == elder.id))
        _set_contacts(elder, changes["contacts"])
    after = {k: getattr(elder, k) for k in ("living", "risk_tier", "verified_on")}
    audit.record(actor, "care.elder_updated", "care_elder", elder.id, street_id=elder.street_id,
                 subject_user_id=elder.user_id, before=before,
                 after={**after, **({"contacts": len(changes["contacts"])} if "contacts" in changes else {})})
    return elder


def _set_contacts(elder: Elder, contacts: list[dict]) -> None:
    for position, c in enumerate(contacts, start=1):
        if c.get("user_id") is not None and db.session.get(User, c["user_id"]) is None:
            raise errors.ContactUserUnknown(index=position)
        db.session.add(Contact(elder_id=elder.id, position=position, name=c["name"], relation=c["relation"],
                               phone_enc=privacy.encrypt(c["phone"]), user_id=c.get("user_id")))


@transactional
def set_away(actor: Actor, elder_id: int, data: dict) -> Elder:
    """The elder is away (in hospital, staying with family) from ``away_from`` until ``away_until`` (open-ended
    when not given, until cleared): no-activity alarms pause; smoke, gas and SOS do not. Due visits wholly inside
    the absence are cancelled. Staff, or the elder's confirmed family, may record it."""
    elder = queries.get_elder(elder_id)
    access.require(actor, elder, access.STAFF, access.FAMILY)
    queries.require_active(elder)
    now = clock.now()
    start, until = data.get("away_from") or now, data.get("away_until")
    if until is not None and until <= start:
        raise errors.AwayUntilBeforeFrom()
    if until is not None and until - start > timedelta(days=MAX_AWAY_DAYS):
        raise errors.AwayTooLong(days=MAX_AWAY_DAYS)
    if until is not None and until <= now:
        raise errors.AwayInPast()
    elder.away_from, elder.away_until, elder.away_reason = start, until, data["away_reason"]
    cancelled = _cancel_dues(elder.id, start, until, now)
    audit.record(actor, "care.away_set", "care_elder", elder.id, street_id=elder.street_id,
                 subject_user_id=elder.user_id,
                 after={"reason": data["away_reason"], "from": clock.iso(start), "until": clock.iso(until),
                        "due_visits_cancelled": cancelled})
    return elder


def _cancel_dues(elder_id: int, start: datetime, until: datetime | None, now: datetime) -> int:
    """The elder's open due visits wholly inside an absence."""
    where = [VisitDue.elder_id == elder_id, VisitDue.earliest_at >= start]
    return plans.cancel_open(where + ([VisitDue.latest_at <= until] if until is not None else []), now)


@transactional
def clear_away(actor: Actor, elder_id: int) -> Elder:
    elder = queries.get_elder(elder_id)
    access.require(actor, elder, access.STAFF, access.FAMILY)
    if elder.away_from is None:
        raise errors.NotAway()
    elder.away_from = elder.away_until = elder.away_reason = None
    audit.record(actor, "care.away_cleared", "care_elder", elder.id, street_id=elder.street_id,
                 subject_user_id=elder.user_id)
    return elder


@transactional
def end_watch(actor: Actor, elder_id: int, reason: str, note: str | None = None) -> Elder:
    """Take the elder off the roster (moved in with family, a care home, moved away, deceased, declined): live
    pairings and plans end, open due visits are cancelled, devices are removed and live alarms closed. Visits and
    alarms stay (kept three years)."""
    elder = _staff_elder(actor, elder_id)
    now = clock.now()
    counts = stop_everything(elder, now, outcome="deceased" if reason == "deceased" else "other",
                             note=note or reason, by=actor.user_id)
    elder.status, elder.ended_at, elder.end_reason = "ended", now, reason
    elder.away_from = elder.away_until = elder.away_reason = None
    audit.record(actor, "care.elder_ended", "care_elder", elder.id, street_id=elder.street_id,
                 subject_user_id=elder.user_id, after={"reason": reason, **counts})
    return elder


def stop_everything(elder: Elder, now: datetime, *, outcome: str, note: str, by: int | None) -> dict:
    """End an elder's pairings and plans, cancel their open due visits, remove their devices and close their live
    alarms (undecorated: in the caller's transaction). The counts of each."""
    today = clock.local(now).date()
    ended_pairings = db.session.execute(
        sa.update(Pairing).where(Pairing.elder_id == elder.id, Pairing.ends_on.is_(None)).values(ends_on=today)
        .execution_options(synchronize_session=False)).rowcount or 0
    db.session.execute(sa.update(VisitPlan).where(VisitPlan.elder_id == elder.id, VisitPlan.ends_on.is_(None))
                       .values(ends_on=today).execution_options(synchronize_session=False))
    cancelled = plans.cancel_open([VisitDue.elder_id == elder.id], now)
    removed = devices.remove_live(elder, now)
    closed = db.session.execute(
        sa.update(Alarm).where(Alarm.elder_id == elder.id, Alarm.state.in_(LIVE_ALARM_STATES))
        .values(state="resolved", resolved_at=now, resolved_by=by, outcome=outcome, note=note[:500], next_at=None)
        .execution_options(synchronize_session=False)).rowcount or 0
    return {"pairings_ended": ended_pairings, "due_visits_cancelled": cancelled, "devices_removed": removed,
            "alarms_closed": closed}


# --- the 民生档案 -------------------------------------------------------------------------------------------------

@transactional
def write_file(actor: Actor, elder_id: int, data: dict) -> LivelihoodFile:
    """A new version of the elder's 民生档案, written on the version the staff member read (``based_on``, 0 for the
    first): if someone wrote one since, 409 ``care.file_changed`` and nothing is written. Health notes need the
    elder's live care consent."""
    elder = _staff_elder(actor, elder_id)
    now = clock.now()
    latest = queries.latest_file(elder.id)
    current = latest.version if latest else 0
    if data["based_on"] != current:
        raise errors.FileChanged(version=current)
    if data.get("health") and not consent.has(elder.user_id, CARE):
        raise errors.ConsentMissing()
    version = LivelihoodFile(elder_id=elder.id, version=current + 1, household=data.get("household") or [],
                             benefits=data.get("benefits") or [], housing=data.get("housing"), needs=data.get("needs"),
                             health_enc=privacy.encrypt(data.get("health")), written_by=actor.user_id, written_at=now)
    add_unique(version, errors.FileChanged(version=current + 1))
    audit.record(actor, "care.file_written", "care_elder", elder.id, street_id=elder.street_id,
                 subject_user_id=elder.user_id, after={"version": version.version,
                                                       "health": bool(data.get("health"))})
    return version


def withdraw_consent(elder: Elder, now: datetime) -> dict:
    """The elder's care consent is no longer live: their devices are removed with their raw events (movements) and
    the health notes of every version of their file erased (PIPL Art. 47); visits and alarms stay (undecorated: in
    the caller's transaction)."""
    removed = devices.remove_all_devices(elder, now)
    erased = db.session.execute(
        sa.update(LivelihoodFile).where(LivelihoodFile.elder_id == elder.id, LivelihoodFile.health_enc.is_not(None))
        .values(health_enc=None).execution_options(synchronize_session=False)).rowcount or 0
    return {"devices_removed": removed["care_device.removed"], "events_deleted": removed["care_event.deleted"],
            "health_notes_erased": erased}
