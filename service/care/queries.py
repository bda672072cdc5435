"""Reads of the care domain: the roster, an elder as each caller may see them, and the 民生档案."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from models.base import db
from models.care import Contact, Device, Elder, LivelihoodFile, Pairing
from models.people import ResidentProfile, User
from models.places import Neighbourhood
from service import audit, clock, consent, privacy
from service.care import access, errors
from service.db import paginate
from service.people import Actor

CARE = "care"


def get_elder(elder_id: int) -> Elder:
    elder = db.session.get(Elder, elder_id)
    if elder is None:
        raise errors.ElderNotFound()
    return elder


def require_active(elder: Elder) -> Elder:
    """The elder, still on the roster; else 409 ``care.elder_ended``."""
    if elder.status != "active":
        raise errors.ElderEnded()
    return elder


def latest_file(elder_id: int) -> LivelihoodFile | None:
    return db.session.execute(sa.select(LivelihoodFile).where(LivelihoodFile.elder_id == elder_id)
                              .order_by(LivelihoodFile.version.desc()).limit(1)).scalar_one_or_none()


def is_away(elder: Elder, now: datetime) -> bool:
    return elder.away_from is not None and elder.away_from <= now and (elder.away_until is None
                                                                        or now < elder.away_until)


def _person(user_id: int) -> tuple[str | None, str | None, str | None, int | None]:
    row = db.session.execute(sa.select(ResidentProfile.name, ResidentProfile.phone_enc, ResidentProfile.address,
                                       ResidentProfile.unit_id).where(ResidentProfile.user_id == user_id)).first()
    if row is None:
        return None, None, None, None
    return row.name, privacy.decrypt(row.phone_enc), row.address, row.unit_id


def _summary(elder: Elder, name: str | None, phone: str | None, nb_name: str | None, now: datetime) -> dict:
    return {
        "id": elder.id, "user_id": elder.user_id, "name": name, "phone": privacy.mask_phone(phone),
        "neighbourhood_id": elder.neighbourhood_id, "neighbourhood_name": nb_name, "living": elder.living,
        "risk_tier": elder.risk_tier, "status": elder.status, "away": is_away(elder, now),
        "away_reason": elder.away_reason, "away_until": clock.local(elder.away_until)}


def roster(actor: Actor, *, neighbourhood_id: int | None, living: str | None, risk_tier: int | None,
           status: str, away: bool | None, page: int, page_size: int) -> tuple[list[dict], int]:
    """The roster of the neighbourhoods the staff member covers (or one of them), highest risk first. Names are
    shown, phones masked (the detail shows them, audited)."""
    scope = access.staff_neighbourhoods(actor)
    if neighbourhood_id is not None:
        if neighbourhood_id not in scope:
            raise errors.NotInScope()
        scope = {neighbourhood_id}
    if not scope:
        return [], 0
    now = clock.now()
    query = sa.select(Elder).where(Elder.neighbourhood_id.in_(sorted(scope)), Elder.status == status)
    if living:
        query = query.where(Elder.living == living)
    if risk_tier:
        query = query.where(Elder.risk_tier == risk_tier)
    if away is not None:
        here = sa.and_(Elder.away_from.is_not(None), Elder.away_from <= now,
                       sa.or_(Elder.away_until.is_(None), Elder.away_until > now))
        query = query.where(here if away else sa.not_(here))
    elders, total = paginate(query.order_by(Elder.risk_tier, Elder.id), page, page_size)
    people = {row.user_id: row for row in db.session.execute(
        sa.select(ResidentProfile.user_id, ResidentProfile.name, ResidentProfile.phone_enc)
        .where(ResidentProfile.user_id.in_([e.user_id for e in elders])))} if elders else {}
    nb_names = dict(db.session.execute(sa.select(Neighbourhood.id, Neighbourhood.name)
                                       .where(Neighbourhood.id.in_({e.neighbourhood_id for e in elders}))).all()) \
        if elders else {}
    items = []
    for e in elders:
        p = people.get(e.user_id)
        items.append(_summary(e, p.name if p else None, privacy.decrypt(p.phone_enc) if p else None,
                              nb_names.get(e.neighbourhood_id), now))
    return items, total


def _contacts(elder_id: int, *, phones: bool) -> list[dict]:
    rows = db.session.execute(sa.select(Contact).where(Contact.elder_id == elder_id).order_by(Contact.position))
    return [{"position": c.position, "name": c.name, "relation": c.relation,
             "phone": privacy.decrypt(c.phone_enc) if phones else privacy.mask_phone(privacy.decrypt(c.phone_enc)),
             "user_id": c.user_id} for c in rows.scalars()]


def _visitors(elder_id: int) -> list[dict]:
    rows = db.session.execute(
        sa.select(Pairing.id, Pairing.visitor_user_id, Pairing.role, Pairing.starts_on, ResidentProfile.name,
                  User.nickname)
        .join(User, User.id == Pairing.visitor_user_id)
        .outerjoin(ResidentProfile, ResidentProfile.user_id == Pairing.visitor_user_id)
        .where(Pairing.elder_id == elder_id, Pairing.ends_on.is_(None)).order_by(Pairing.id)).all()
    return [{"pairing_id": r.id, "user_id": r.visitor_user_id, "name": r.name or r.nickname, "role": r.role,
             "starts_on": r.starts_on.isoformat()} for r in rows]


def _devices(elder_id: int) -> list[dict]:
    rows = db.session.execute(sa.select(Device.id, Device.kind, Device.room, Device.last_seen_at,
                                        Device.maintenance_at)
                              .where(Device.elder_id == elder_id, Device.removed_at.is_(None)).order_by(Device.id))
    return [{"id": r.id, "kind": r.kind, "room": r.room, "last_seen_at": clock.local(r.last_seen_at),
             "needs_maintenance": r.maintenance_at is not None} for r in rows]


def elder_detail(actor: Actor, elder_id: int) -> dict:
    """An elder as the caller may see them. Staff in scope: everything but the file (its own read), the view
    audited. A paired visitor: name, address and phone, to reach them. Family: who their elder is on the roster
    as, their away status and devices. The elder: their own record."""
    elder = get_elder(elder_id)
    standing = access.require(actor, elder, access.STAFF, access.VISITOR, access.FAMILY, access.SELF)
    now = clock.now()
    name, phone, address, _unit = _person(elder.user_id)
    base = {"id": elder.id, "name": name, "standing": standing}
    if standing == access.VISITOR:
        return {**base, "phone": phone, "address": address}
    item = {**base, "living": elder.living, "status": elder.status, "away": is_away(elder, now),
                      "away_from": clock.local(elder.away_from), "away_until": clock.local(elder.away_until),
                      "away_reason": elder.away_reason, "devices": _devices(elder.id)}
    if standing == access.FAMILY:
        return item
    item.update({"phone": phone, "address": address, "contacts": _contacts(elder.id, phones=True),
                 "consent": consent.has(elder.user_id, CARE)})
    if standing == access.SELF:
        return item
    latest = latest_file(elder.id)
    item.update({
        "user_id": elder.user_id, "neighbourhood_id": elder.neighbourhood_id, "risk_tier": elder.risk_tier,
        "verified_on": elder.verified_on, "verified_at": clock.local(elder.verified_at),
        "verified_by": elder.verified_by, "ended_at": clock.local(elder.ended_at), "end_reason": elder.end_reason,
        "visitors": _visitors(elder.id), "file_version": latest.version if latest else 0})
    audit.record_view(actor, "care.elder_viewed", "care_elder", elder.id, street_id=elder.street_id,
                      subject_user_id=elder.user_id)
    return item


def _file_answer(elder: Elder, f: LivelihoodFile, *, health: bool) -> dict:
    writer = db.session.execute(sa.select(ResidentProfile.name, User.nickname).join(
        ResidentProfile, ResidentProfile.user_id == User.id, isouter=True).where(User.id == f.written_by)).first()
    return {"elder_id": elder.id, "version": f.version, "household": f.household, "benefits": f.benefits,
            "housing": f.housing, "needs": f.needs, "health": privacy.decrypt(f.health_enc) if health else None,
            "written_by": f.written_by, "written_by_name": (writer.name or writer.nickname) if writer else None,
            "written_at": clock.local(f.written_at), "visit_id": f.visit_id}


def file(actor: Actor, elder_id: int, version: int | None = None) -> dict:
    """The elder's 民生档案 (its latest version, or ``version``), for staff covering the elder only; the health notes
    while the elder's care consent is live. Every view is audited and shows in the elder's data-access list."""
    elder = get_elder(elder_id)
    access.require_staff(actor, elder)
    query = sa.select(LivelihoodFile).where(LivelihoodFile.elder_id == elder.id)
    query = query.where(LivelihoodFile.version == version) if version is not None \
        else query.order_by(LivelihoodFile.version.desc()).limit(1)
    f = db.session.execute(query).scalar_one_or_none()
    if f is None:
        if version is not None:
            raise errors.FileVersionNotFound()
        answer = {"elder_id": elder.id, "version": 0, "household": [], "benefits": [], "housing": None,
                  "needs": None, "health": None, "written_by": None, "written_by_name": None, "written_at": None,
                  "visit_id": None}
    else:
        answer = _file_answer(elder, f, health=consent.has(elder.user_id, CARE))
    versions = db.session.execute(sa.select(LivelihoodFile.version, LivelihoodFile.written_at,
                                            LivelihoodFile.written_by)
                                  .where(LivelihoodFile.elder_id == elder.id)
                                  .order_by(LivelihoodFile.version.desc()).limit(50)).all()
    answer["versions"] = [{"version": v.version, "written_at": clock.local(v.written_at), "written_by": v.written_by}
                          for v in versions]
    audit.record_view(actor, "care.file_viewed", "care_elder", elder.id, street_id=elder.street_id,
                      subject_user_id=elder.user_id)
    return answer
