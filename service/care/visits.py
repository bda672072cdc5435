"""Visits to elders living alone: who visits whom (pairings), how often (plans, service/care/plans.py), the due
visits those ask for, the visits made, and each 居委会's monthly visit rate.

Use-cases that write are ``@transactional`` and return what they wrote; ``add_visit`` is the same as
``record_visit`` in the caller's transaction (an alarm closed by a visit). Reads build the answers (Shanghai
times, each code with its label).

Who sees what (service/care/access.py): staff covering the elder's neighbourhood see every visit with its notes
(an audited view); a paired visitor sees the elder's name, address and phone and the notes they wrote
themselves, never another visitor's notes, the file or the tier."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from models.base import db
from models.care import Elder, LivelihoodFile, Pairing, Visit, VisitDue, VisitPlan
from models.people import ResidentProfile, RoleAssignment, User
from models.places import Neighbourhood
from service import audit, clock, cursors, labels, notifications, people, privacy
from service.care import access, errors, plans, queries, rules
from service.cases import workflow as cases_workflow
from service.db import locked, transactional
from service.people import Actor

STATES = ("due", "overdue", "upcoming")
WEATHER_KINDS = ("cold", "heat")


# --- shared ---------------------------------------------------------------------------------------------------

def _today(now: datetime) -> date:
    return clock.local(now).date()


def _check_starts_on(starts_on: date, now: datetime) -> date:
    policy, today = rules.current().visits, _today(now)
    if not today - timedelta(days=policy.starts_past_days) <= starts_on <= today + timedelta(
            days=policy.starts_ahead_days):
        raise errors.StartsOnOutOfRange(past=policy.starts_past_days, ahead=policy.starts_ahead_days)
    return starts_on


def _audit(actor: Actor, elder: Elder, action: str, after: dict, object_type: str = "care_elder",
           object_id: int | None = None) -> None:
    """A staff action about an elder, placed in the elder's street, readable by the elder (their data)."""
    audit.record(actor, action, object_type, elder.id if object_id is None else object_id, street_id=elder.street_id,
                 after=after, subject_user_id=elder.user_id)


def _locked_for_staff(actor: Actor, model, row_id: int, not_found: type[Exception]):
    """(the row of ``model``, locked, and its elder), for staff covering the elder."""
    row = locked(model, row_id)
    if row is None:
        raise not_found()
    elder = queries.get_elder(row.elder_id)
    access.require_staff(actor, elder)
    return row, elder


def _name(domain_field: str, code, lang: str) -> str | None:
    return labels.name("care", domain_field, code, lang)


# A cursor is the last row's (moment, id), signed (service/cursors.py): only cursors this server issued are read.
_CURSOR_PURPOSE = "care.visits_cursor"


def encode_cursor(moment: datetime | None, row_id: int) -> str:
    return cursors.issue_at(_CURSOR_PURPOSE, moment, row_id)


def decode_cursor(cursor: str) -> tuple[datetime | None, int]:
    found = cursors.read_at(_CURSOR_PURPOSE, cursor)
    if found is None:
        raise errors.CursorInvalid()
    return found


# --- pairings ---------------------------------------------------------------------------------------------------

def _check_visitor(elder: Elder, visitor_user_id: int, role: str, on: date) -> None:
    profile = db.session.get(ResidentProfile, visitor_user_id)
    user = db.session.get(User, visitor_user_id)
    if user is None or not user.is_active:
        raise errors.VisitorUnknown()
    if visitor_user_id == elder.user_id:
        raise errors.VisitorIsElder()
    if role == "partner":
        if profile is None or profile.birth_date is None:
            raise errors.PartnerAgeUnverified()
        low, high = rules.current().partner_age
        if not low <= people.resident_age(profile.birth_date, on) <= high:
            raise errors.PartnerAgeOutOfRange(low=low, high=high)
    elif role == "staff":
        staff = db.session.execute(sa.select(sa.func.count()).select_from(RoleAssignment).where(
            RoleAssignment.user_id == visitor_user_id, RoleAssignment.role == "staff")).scalar()
        if not staff:
            raise errors.VisitorNotStaff()


@transactional
def create_pairing(actor: Actor, elder_id: int, data: dict) -> Pairing:
    """Pair a visitor with an elder (staff covering the elder). A 老伙伴 has a verified age within the rules' range
    and at most ``partner_max_elders`` live elders: counted under a lock on the volunteer's user row, so two staff
    pairing the 5th and 6th elder at once cannot exceed it."""
    now = clock.now()
    elder = queries.require_active(queries.get_elder(elder_id))
    access.require_staff(actor, elder)
    visitor_id, role = data["visitor_user_id"], data["role"]
    starts_on = _check_starts_on(data.get("starts_on") or _today(now), now)
    _check_visitor(elder, visitor_id, role, _today(now))
    locked(User, visitor_id)
    # Live: not ended, with an elder still on the roster.
    live = db.session.execute(sa.select(Pairing.elder_id, Pairing.role).join(Elder, Elder.id == Pairing.elder_id)
                              .where(Pairing.visitor_user_id == visitor_id, Pairing.ends_on.is_(None),
                                     Elder.status == "active")).all()
    if any(row.elder_id == elder.id for row in live):
        raise errors.AlreadyPaired()
    limit = rules.current().partner_max_elders
    if role == "partner" and sum(1 for row in live if row.role == "partner") >= limit:
        raise errors.PartnerFull(limit=limit)
    pairing = Pairing(elder_id=elder.id, visitor_user_id=visitor_id, role=role, starts_on=starts_on,
                      created_by=actor.user_id)
    db.session.add(pairing)
    db.session.flush()
    _audit(actor, elder, "care.pairing_created", {"pairing_id": pairing.id, "visitor_user_id": visitor_id,
                                                  "role": role, "starts_on": starts_on.isoformat()})
    return pairing


@transactional
def end_pairing(actor: Actor, pairing_id: int) -> Pairing:
    pairing, elder = _locked_for_staff(actor, Pairing, pairing_id, errors.PairingNotFound)
    if pairing.ends_on is not None:
        raise errors.PairingEnded()
    pairing.ends_on = _today(clock.now())
    _audit(actor, elder, "care.pairing_ended", {"pairing_id": pairing.id, "ends_on": pairing.ends_on.isoformat()})
    return pairing


def pairing_out(pairing: Pairing, lang: str = "zh") -> dict:
    return {"id": pairing.id, "elder_id": pairing.elder_id, "visitor_user_id": pairing.visitor_user_id,
            "role": pairing.role, "role_name": _name("role", pairing.role, lang), "starts_on": pairing.starts_on,
            "ends_on": pairing.ends_on}


def pairing_detail(actor: Actor, pairing_id: int, lang: str = "zh") -> dict:
    pairing = db.session.get(Pairing, pairing_id)
    if pairing is None:
        raise errors.PairingNotFound()
    access.require_staff(actor, queries.get_elder(pairing.elder_id))
    return pairing_out(pairing, lang)


# --- plans ------------------------------------------------------------------------------------------------------

@transactional
def add_plan(actor: Actor, elder_id: int, data: dict) -> VisitPlan:
    """Staff add a plan to an elder (its due visits are written at once up to the horizon)."""
    now = clock.now()
    elder = queries.require_active(queries.get_elder(elder_id))
    access.require_staff(actor, elder)
    rule = plans.check(data["rrule"])
    starts_on = _check_starts_on(data["starts_on"], now)
    plan = plans.new_plan(elder, role=data["role"], rule=rule, window_days=data["window_days"], starts_on=starts_on,
                          now=now, actor_user_id=actor.user_id, reason="staff")
    _audit(actor, elder, "care.plan_added", {"plan_id": plan.id, "role": plan.role, "rrule": rule,
                                             "window_days": plan.window_days, "starts_on": starts_on.isoformat()})
    return plan


@transactional
def end_plan(actor: Actor, plan_id: int) -> VisitPlan:
    """End a plan today: its due visits not yet open are cancelled (those open now stay to be made)."""
    plan, elder = _locked_for_staff(actor, VisitPlan, plan_id, errors.PlanNotFound)
    now = clock.now()
    if plan.ends_on is not None and plan.ends_on <= _today(now):
        raise errors.PlanEnded()
    plan.ends_on = _today(now)
    plans.cancel_open([VisitDue.plan_id == plan.id, VisitDue.earliest_at > now], now)
    _audit(actor, elder, "care.plan_ended", {"plan_id": plan.id, "ends_on": plan.ends_on.isoformat()})
    return plan


def plan_detail(actor: Actor, plan_id: int, lang: str = "zh") -> dict:
    plan = db.session.get(VisitPlan, plan_id)
    if plan is None:
        raise errors.PlanNotFound()
    access.require_staff(actor, queries.get_elder(plan.elder_id))
    return {"id": plan.id, "elder_id": plan.elder_id, "role": plan.role, "role_name": _name("role", plan.role, lang),
            "rrule": plan.rrule, "window_days": plan.window_days, "starts_on": plan.starts_on,
            "ends_on": plan.ends_on, "reason": plan.reason, "reason_name": _name("plan_reason", plan.reason, lang),
            "generated_until": plan.generated_until}


@transactional
def weather_warning(actor: Actor, data: dict) -> dict:
    """A cold or heat warning (寒潮 / 高温) for ``day``: one extra 老伙伴 contact due that day for every active elder
    in the neighbourhoods given (default: all the caller covers). Given again for the same day, it adds nothing."""
    now = clock.now()
    today, ahead = _today(now), rules.current().visits.weather_ahead_days
    day = data["day"]
    if not today <= day <= today + timedelta(days=ahead):
        raise errors.WeatherDayOutOfRange(ahead=ahead)
    scope = access.staff_neighbourhoods(actor)
    wanted = set(data.get("neighbourhood_ids") or scope)
    if not wanted or not wanted <= scope:
        raise errors.NeighbourhoodNotCovered()
    kind = data["kind"]
    already = VisitPlan.__table__.alias("already")
    elders = db.session.execute(sa.select(Elder).where(
        Elder.status == "active", Elder.neighbourhood_id.in_(sorted(wanted)),
        ~sa.exists().where(already.c.elder_id == Elder.id, already.c.reason == kind, already.c.starts_on == day))
        .order_by(Elder.id)).scalars().all()
    window_days = rules.current().weather_window_days
    for elder in elders:
        plans.new_plan(elder, role="partner", rule="FREQ=DAILY;COUNT=1", window_days=window_days, starts_on=day,
                       ends_on=day, now=now, actor_user_id=actor.user_id, reason=kind)
    audit.record(actor, "care.weather_warning", "care_plan", None, street_id=None,
                 after={"kind": kind, "day": day.isoformat(), "neighbourhood_ids": sorted(wanted),
                        "elders": len(elders)})
    return {"kind": kind, "day": day, "neighbourhood_ids": sorted(wanted), "added": len(elders)}


# --- visits -----------------------------------------------------------------------------------------------------

def _visit_role(actor: Actor, elder: Elder, standing: str, data: dict) -> tuple[int, str]:
    """(the visitor, the role they visit in): a paired visitor records their own; staff in scope record their
    own (as staff, or in their pairing's role) or one for a paired volunteer who cannot use the app."""
    visitor_id = data.get("visitor_user_id") or actor.user_id
    if visitor_id != actor.user_id and standing != access.STAFF:
        raise errors.NotPairedVisitor()
    role = db.session.execute(sa.select(Pairing.role).where(
        Pairing.elder_id == elder.id, Pairing.visitor_user_id == visitor_id, Pairing.ends_on.is_(None))).scalar()
    if role is None:
        if visitor_id != actor.user_id:
            raise errors.VisitorNotPaired()
        role = "staff"
    return visitor_id, role


def _check_at(at: datetime, now: datetime) -> None:
    policy = rules.current().visits
    if at > now + timedelta(minutes=policy.future_minutes):
        raise errors.VisitInFuture(minutes=policy.future_minutes)
    if at < now - timedelta(days=policy.max_age_days):
        raise errors.VisitTooOld(days=policy.max_age_days)


def _complete_due(visit: Visit) -> int | None:
    """The earliest open due visit of the visit's role whose window holds it, marked done by it (a conditional
    UPDATE: a due visit is done once, whichever visit comes first)."""
    candidates = db.session.execute(sa.select(VisitDue.id).where(
        VisitDue.elder_id == visit.elder_id, VisitDue.role == visit.role, VisitDue.visit_id.is_(None),
        VisitDue.cancelled_at.is_(None), VisitDue.earliest_at <= visit.at, VisitDue.latest_at >= visit.at)
        .order_by(VisitDue.earliest_at, VisitDue.id)).scalars().all()
    for due_id in candidates:
        done = db.session.execute(sa.update(VisitDue).where(
            VisitDue.id == due_id, VisitDue.visit_id.is_(None), VisitDue.cancelled_at.is_(None))
            .values(visit_id=visit.id).execution_options(synchronize_session=False)).rowcount
        if done:
            return due_id
    return None


def _profile(user_id: int) -> ResidentProfile | None:
    return db.session.get(ResidentProfile, user_id)


def _open_case(actor: Actor, elder: Elder, text: str) -> int:
    profile = _profile(elder.user_id)
    address = (profile.address if profile is not None else None) or db.session.execute(
        sa.select(Neighbourhood.name).where(Neighbourhood.id == elder.neighbourhood_id)).scalar()
    case = cases_workflow.open_for(actor, reporter_user_id=elder.user_id,
                                   category_code=rules.current().visits.case_category, description=text,
                                   address=address, source="staff" if actor.is_staff else "resident")
    return case.id


def _flag_meal_delivery(elder: Elder, visit: Visit, text: str | None) -> None:
    profile = _profile(elder.user_id)
    name = profile.name if profile is not None and profile.name else f"#{elder.id}"
    staff = people.role_holders("staff", "neighbourhood", [elder.neighbourhood_id])
    notifications.notify_many([{
        "user_id": uid, "kind": "care.meal_delivery", "dedupe_key": f"care:visit:{visit.id}:meal:{uid}",
        "title": f"探访发现{name}需要送餐", "body": (text or "请联系助餐点安排送餐上门。")[:200],
        "link": f"/care/elders/{elder.id}", "data": {"elder_id": elder.id, "visit_id": visit.id}} for uid in staff])


def _add_to_file(actor: Actor, elder: Elder, visit: Visit, text: str) -> LivelihoodFile:
    latest = db.session.execute(sa.select(LivelihoodFile).where(LivelihoodFile.elder_id == elder.id)
                                .order_by(LivelihoodFile.version.desc()).limit(1).with_for_update()).scalar()
    entry = f"{clock.local(visit.at).date().isoformat()} {text}"
    needs = f"{latest.needs}\n{entry}" if latest is not None and latest.needs else entry
    if len(needs) > LivelihoodFile.needs.type.length:
        raise errors.FileNeedsFull()
    version = LivelihoodFile(
        elder_id=elder.id, version=(latest.version + 1) if latest is not None else 1,
        household=list(latest.household) if latest is not None else [],
        benefits=list(latest.benefits) if latest is not None else [],
        housing=latest.housing if latest is not None else None, needs=needs,
        health_enc=latest.health_enc if latest is not None else None, written_by=actor.user_id, visit_id=visit.id)
    db.session.add(version)
    return version


def add_visit(actor: Actor, elder: Elder, data: dict, now: datetime) -> Visit:
    """Record a visit in the caller's transaction (see ``record_visit``)."""
    standing = access.require(actor, elder, access.STAFF, access.VISITOR)
    queries.require_active(elder)
    visitor_id, role = _visit_role(actor, elder, standing, data)
    _check_at(data["at"], now)
    finding, text = data.get("finding"), (data.get("finding_text") or "").strip() or None
    if finding in ("case", "file") and text is None:
        raise errors.FindingTextRequired()
    if text is not None and finding is None:
        raise errors.FindingTextWithoutFinding()
    visit = Visit(elder_id=elder.id, visitor_user_id=visitor_id, role=role, at=data["at"], channel=data["channel"],
                  outcome=data["outcome"], notes_enc=privacy.encrypt(data.get("notes") or None), finding=finding,
                  recorded_by=actor.user_id, recorded_at=now)
    db.session.add(visit)
    db.session.flush()
    _complete_due(visit)
    if finding == "case":
        visit.case_id = _open_case(actor, elder, text)
    elif finding == "meal_delivery":
        _flag_meal_delivery(elder, visit, text)
    elif finding == "file":
        _add_to_file(actor, elder, visit, text)
    _audit(actor, elder, "care.visit_recorded", {"elder_id": elder.id, "visitor_user_id": visitor_id, "role": role,
                                                 "channel": visit.channel, "outcome": visit.outcome,
                                                 "finding": finding}, "care_visit", visit.id)
    return visit


@transactional
def record_visit(actor: Actor, elder_id: int, data: dict) -> Visit:
    """A visit recorded by the paired visitor, or by staff in scope (for themself or, with ``visitor_user_id``, for
    a paired volunteer who does not use the app). It completes the earliest open due visit of its role whose
    window holds it; a finding opens a case, asks the 居委会 to arrange meal delivery, or goes into the file."""
    return add_visit(actor, queries.get_elder(elder_id), data, clock.now())


_VISITOR = sa.orm.aliased(ResidentProfile)


def _visit_item(visit: Visit, visitor_name: str | None, due_id: int | None, full: bool, lang: str) -> dict:
    return {"id": visit.id, "elder_id": visit.elder_id, "visitor_user_id": visit.visitor_user_id,
            "visitor_name": visitor_name if full else privacy.mask_name(visitor_name),
            "role": visit.role, "role_name": _name("role", visit.role, lang), "at": clock.local(visit.at),
            "channel": visit.channel, "channel_name": _name("channel", visit.channel, lang),
            "outcome": visit.outcome, "outcome_name": _name("outcome", visit.outcome, lang),
            "notes": privacy.decrypt(visit.notes_enc) if full else None, "finding": visit.finding,
            "finding_name": _name("finding", visit.finding, lang), "case_id": visit.case_id if full else None,
            "due_id": due_id, "recorded_by": visit.recorded_by, "recorded_at": clock.local(visit.recorded_at)}


def _visits_query():
    return (sa.select(Visit, _VISITOR.name, VisitDue.id)
            .outerjoin(_VISITOR, _VISITOR.user_id == Visit.visitor_user_id)
            .outerjoin(VisitDue, VisitDue.visit_id == Visit.id))


def visit_detail(actor: Actor, visit_id: int, lang: str = "zh") -> dict:
    row = db.session.execute(_visits_query().where(Visit.id == visit_id)).first()
    if row is None:
        raise errors.ElderNotFound()
    visit, visitor_name, due_id = row
    standing = access.require(actor, queries.get_elder(visit.elder_id), access.STAFF, access.VISITOR)
    return _visit_item(visit, visitor_name, due_id, standing == access.STAFF or visit.visitor_user_id == actor.user_id,
                       lang)


def elder_visits(actor: Actor, elder_id: int, *, cursor: str | None, limit: int, lang: str = "zh") -> dict:
    """An elder's visits, newest first (keyset by time and id). Staff in scope: every visit with its notes (an
    audited view of the elder's data); a paired visitor: their own visits' notes, the others' without."""
    elder = queries.get_elder(elder_id)
    standing = access.require(actor, elder, access.STAFF, access.VISITOR)
    query = _visits_query().where(Visit.elder_id == elder.id)
    if cursor:
        at, last_id = decode_cursor(cursor)
        if at is None:
            raise errors.CursorInvalid()
        query = query.where(sa.or_(Visit.at < at, sa.and_(Visit.at == at, Visit.id < last_id)))
    rows = db.session.execute(query.order_by(Visit.at.desc(), Visit.id.desc()).limit(limit + 1)).all()
    staff = standing == access.STAFF
    items = [_visit_item(v, name, due_id, staff or v.visitor_user_id == actor.user_id, lang)
             for v, name, due_id in rows[:limit]]
    following = encode_cursor(rows[limit - 1][0].at, rows[limit - 1][0].id) if len(rows) > limit else None
    if staff:
        audit.record_view(actor, "care.visits_viewed", "care_elder", elder.id, street_id=elder.street_id,
                          subject_user_id=elder.user_id)
    return {"items": items, "next_cursor": following}


# --- due visits -------------------------------------------------------------------------------------------------

_ELDER_PROFILE = sa.orm.aliased(ResidentProfile)


def _state(row: VisitDue, now: datetime) -> str:
    if row.visit_id is not None:
        return "done"
    if row.cancelled_at is not None:
        return "cancelled"
    return "upcoming" if now < row.earliest_at else "due" if now <= row.latest_at else "overdue"


def _due_query(state: str, now: datetime, cursor: str | None, limit: int):
    query = (sa.select(VisitDue, Elder.neighbourhood_id, _ELDER_PROFILE.name, _ELDER_PROFILE.address,
                       _ELDER_PROFILE.phone_enc)
             .join(Elder, Elder.id == VisitDue.elder_id)
             .outerjoin(_ELDER_PROFILE, _ELDER_PROFILE.user_id == Elder.user_id)
             .where(VisitDue.visit_id.is_(None), VisitDue.cancelled_at.is_(None)))
    if state == "due":
        query = query.where(VisitDue.earliest_at <= now, VisitDue.latest_at >= now)
    elif state == "overdue":
        query = query.where(VisitDue.latest_at < now)
    else:
        query = query.where(VisitDue.earliest_at > now)
    if cursor:
        latest, last_id = decode_cursor(cursor)
        if latest is None:
            raise errors.CursorInvalid()
        query = query.where(sa.or_(VisitDue.latest_at > latest,
                                   sa.and_(VisitDue.latest_at == latest, VisitDue.id > last_id)))
    return query.order_by(VisitDue.latest_at, VisitDue.id).limit(limit + 1)


def _due_page(rows, now: datetime, limit: int, lang: str, *, staff: bool) -> dict:
    items = []
    for due, neighbourhood_id, name, address, phone_enc in rows[:limit]:
        item = {"id": due.id, "elder_id": due.elder_id, "plan_id": due.plan_id, "role": due.role,
                "role_name": _name("role", due.role, lang), "earliest_at": clock.local(due.earliest_at),
                "latest_at": clock.local(due.latest_at), "state": _state(due, now),
                "name": name, "address": address, "phone": privacy.decrypt(phone_enc)}
        item["state_name"] = _name("due_state", item["state"], lang)
        if staff:
            item.update(neighbourhood_id=neighbourhood_id, reminded_at=clock.local(due.reminded_at),
                        escalated_at=clock.local(due.escalated_at))
        items.append(item)
    last = rows[limit - 1][0] if len(rows) > limit else None
    return {"items": items, "next_cursor": encode_cursor(clock.local(last.latest_at), last.id) if last else None}


def due_for_staff(actor: Actor, *, state: str, neighbourhood_id: int | None, role: str | None,
                  cursor: str | None, limit: int, lang: str = "zh") -> dict:
    """The due (or overdue, or upcoming) visits of the elders in the caller's scope, those closing first first.
    Names, addresses and phones of the elders: an audited view."""
    scope = access.staff_neighbourhoods(actor)
    if neighbourhood_id is not None:
        if neighbourhood_id not in scope:
            raise errors.NeighbourhoodNotCovered()
        scope = {neighbourhood_id}
    now = clock.now()
    query = _due_query(state, now, cursor, limit).where(Elder.neighbourhood_id.in_(sorted(scope)))
    if role:
        query = query.where(VisitDue.role == role)
    page = _due_page(db.session.execute(query).all(), now, limit, lang, staff=True)
    audit.record_view(actor, "care.due_visits_viewed", "care_visit_due", None, street_id=None)
    return page


def due_for_visitor(actor: Actor, *, state: str, cursor: str | None, limit: int, lang: str = "zh") -> dict:
    """My due visits: those of my live pairings' elders, in my pairing's role."""
    now = clock.now()
    query = _due_query(state, now, cursor, limit).join(Pairing, sa.and_(
        Pairing.elder_id == VisitDue.elder_id, Pairing.role == VisitDue.role, Pairing.ends_on.is_(None),
        Pairing.visitor_user_id == actor.user_id)).where(Elder.status == "active")
    return _due_page(db.session.execute(query).all(), now, limit, lang, staff=False)


def my_elders(actor: Actor, *, cursor: str | None, limit: int, lang: str = "zh") -> dict:
    """The elders I am paired with (live pairings): name, address and phone, and my role; never the file or tier."""
    query = (sa.select(Pairing, _ELDER_PROFILE.name, _ELDER_PROFILE.address, _ELDER_PROFILE.phone_enc)
             .join(Elder, Elder.id == Pairing.elder_id)
             .outerjoin(_ELDER_PROFILE, _ELDER_PROFILE.user_id == Elder.user_id)
             .where(Pairing.visitor_user_id == actor.user_id, Pairing.ends_on.is_(None), Elder.status == "active"))
    if cursor:
        moment, last_id = decode_cursor(cursor)
        if moment is not None:
            raise errors.CursorInvalid()
        query = query.where(Pairing.elder_id > last_id)
    rows = db.session.execute(query.order_by(Pairing.elder_id).limit(limit + 1)).all()
    items = [{"elder_id": p.elder_id, "pairing_id": p.id, "name": name, "address": address,
              "phone": privacy.decrypt(phone_enc), "role": p.role, "role_name": _name("role", p.role, lang),
              "starts_on": p.starts_on} for p, name, address, phone_enc in rows[:limit]]
    following = encode_cursor(None, rows[limit - 1][0].elder_id) if len(rows) > limit else None
    return {"items": items, "next_cursor": following}


# --- the monthly visit rate -------------------------------------------------------------------------------------

def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The first moment of the month and of the next, Shanghai time; ``MonthInvalid`` for anything but YYYY-MM."""
    try:
        year, number = (int(part) for part in month.split("-"))
        start = datetime(year, number, 1, tzinfo=clock.SHANGHAI)
    except (ValueError, TypeError):
        raise errors.MonthInvalid() from None
    if len(month) != 7 or not 2000 <= year <= 2100:
        raise errors.MonthInvalid()
    following = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=clock.SHANGHAI)
    return start, following


def _percent(done: int, expected: int) -> str | None:
    if not expected:
        return None
    return f"{(Decimal(done * 100) / Decimal(expected)).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


def visit_rate(actor: Actor, *, month: str, role: str | None, page: int, page_size: int,
               lang: str = "zh") -> tuple[list[dict], int]:
    """Per 居委会 in the caller's scope, of the month's due visits (their window closing in the month, not
    cancelled): ``expected``, those whose window has closed by now or that are done already; ``done``; ``missed``
    (expected − done: windows closed without a visit); ``open``, those still to be made in a window not yet closed
    (the current month's rest, which is neither expected nor missed yet); the rate as an exact fraction
    ``done/expected`` and as a percentage."""
    start, end = month_bounds(month)
    now = clock.now()
    scope = sorted(access.staff_neighbourhoods(actor))
    total = len(scope)
    shown = db.session.execute(sa.select(Neighbourhood.id, Neighbourhood.committee_name, Neighbourhood.name)
                               .where(Neighbourhood.id.in_(scope)).order_by(Neighbourhood.id)
                               .limit(page_size).offset((page - 1) * page_size)).all()
    counted = sa.or_(VisitDue.latest_at < now, VisitDue.visit_id.is_not(None))
    query = (sa.select(VisitDue.neighbourhood_id, sa.func.count(sa.case((counted, 1))),
                       sa.func.count(VisitDue.visit_id), sa.func.count(sa.case((sa.not_(counted), 1))))
             .where(VisitDue.neighbourhood_id.in_([row.id for row in shown]), VisitDue.cancelled_at.is_(None),
                    VisitDue.latest_at >= start, VisitDue.latest_at < end)
             .group_by(VisitDue.neighbourhood_id))
    if role:
        query = query.where(VisitDue.role == role)
    counts = {nb: (expected, done, still) for nb, expected, done, still in db.session.execute(query).all()}
    items = []
    for row in shown:
        expected, done, still = counts.get(row.id, (0, 0, 0))
        items.append({"neighbourhood_id": row.id, "name": row.committee_name or row.name, "month": month,
                      "expected": expected, "done": done, "missed": expected - done, "open": still,
                      "rate": f"{done}/{expected}" if expected else None, "percent": _percent(done, expected)})
    return items, total


# --- what the sweeps hand over (service/care/reminders.py) ------------------------------------------------------

def neighbourhood_leads(neighbourhood_ids) -> dict[int, list[int]]:
    """Who hears of a 居委会's overdue visits: its staff titled nc_head (居委会主任), else all its staff."""
    rows = db.session.execute(sa.select(RoleAssignment.scope_id, RoleAssignment.user_id, RoleAssignment.title).where(
        RoleAssignment.role == "staff", RoleAssignment.scope_type == "neighbourhood",
        RoleAssignment.scope_id.in_(sorted(set(neighbourhood_ids))))).all()
    found: dict[int, tuple[set, set]] = {}
    for nb, user_id, title in rows:
        heads, everyone = found.setdefault(nb, (set(), set()))
        everyone.add(user_id)
        if title == "nc_head":
            heads.add(user_id)
    return {nb: sorted(heads or everyone) for nb, (heads, everyone) in found.items()}
