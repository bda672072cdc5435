"""The case's closed loop: report, route, and the state machine (service/cases/states.py) for every action.

Every action appends a CaseEvent; deadlines are working days (service/calendar.py); two staff acting at once
on one case → one wins, the other gets a 409 (the case row carries a version). Each use-case is one
transaction and returns the case it wrote; the answer is read afterwards (service/cases/queries.py), but
for ``report``, the hot path of POST /cases, which answers from what it wrote.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from models.base import db
from models.cases import OPEN_STATUSES, Case, CaseCounter, CaseEvent, CaseExtension, CaseFollower, CasePhoto
from models.people import ResidentProfile, User
from models.places import Neighbourhood, Street
from service import calendar, clock, geo, labels, notifications, people, uploads
from service.cases import access, queries, rules
from service.cases.errors import (
    ActionNotAllowed, AlreadyComplex, AlreadyRated, AlreadyVisited, AssigneeOutOfScope, AssigneeUnknown,
    AttributeRequired, AttributeTooLong, AttributeUnknown, AttributeValueInvalid, CaseNotFound, CategoryUnknown,
    CommentNoteRequired, ComplexReasonRequired, ConcurrentUpdate, ContactMethodRequired, ContactNoteRequired,
    ContactRequired, DenialReasonRequired, DescriptionRequired, DescriptionTooLong, ExtensionDaysRequired,
    ExtensionPending, ExtensionReasonRequired, ExtensionTooLate, LocationRequired, MergeTargetClosed,
    MergeTargetRequired, MergeTargetUnknown, NeighbourhoodUnknown, NoPendingExtension, OutcomeRequired, OutOfArea,
    PhotosNeedReporter, RateNotClosed, ReassignOutOfScope, ReassignTargetRequired, RejectionReasonRequired,
    ReopenNotClosed, ReopenReasonRequired, ReplyRequired, ReporterFollows, ReturnReasonRequired, TooManyEvidencePhotos,
    TooManyPhotos, VisitResultRequired, WithdrawTooLate)
from service.cases.states import (CONTACT_METHODS, PUBLIC_ACTIONS, RATEABLE, SUPERVISOR_ACTIONS, TRANSITIONS,
                                  VISIT_RESULTS, WITHDRAWABLE, contactable, current_handle_due, extension_too_late)
from service.db import transactional
from service.errors import InvalidInput
from service.people import Actor

# Every use-case here runs in one transaction; a concurrent change to the same case is a 409.
_commit = transactional(stale=ConcurrentUpdate)


# --- routing and deadlines -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    street_id: int
    neighbourhood_id: int | None
    street_prefix: str


_NEIGHBOURHOOD_POINTS = sa.select(Neighbourhood.id, Neighbourhood.street_id, Neighbourhood.lat, Neighbourhood.lng,
                                  Street.prefix).join(Street, Street.id == Neighbourhood.street_id)
_NEIGHBOURHOODS_IN_BOX = _NEIGHBOURHOOD_POINTS.where(
    Neighbourhood.lat.between(sa.bindparam("min_lat"), sa.bindparam("max_lat")),
    Neighbourhood.lng.between(sa.bindparam("min_lng"), sa.bindparam("max_lng")))
# Where to send a report that gives only an address: the reporter's verified neighbourhood, else the one they
# declared (routing grants nothing, so a declared residence is good enough to reach the right 居委会).
_REPORTERS_NEIGHBOURHOOD = _NEIGHBOURHOOD_POINTS.join(
    ResidentProfile, sa.func.coalesce(ResidentProfile.neighbourhood_id,
                                      ResidentProfile.declared_neighbourhood_id) == Neighbourhood.id).where(
    ResidentProfile.user_id == sa.bindparam("user_id"))


def route(category: rules.Category, lat: float | None, lng: float | None, reporter_id: int | None) -> Route:
    """The 居委会 that handles a report: the nearest neighbourhood to the point, or the reporter's own
    when only an address is given; the street office for street-level categories.

    A point farther than ``policy.served_radius_m`` from every neighbourhood of the places data lies
    outside the streets served: it is refused, never sent to the reporter's own neighbourhood."""
    neighbourhood = None
    if lat is not None and lng is not None:
        radius = rules.policy().served_radius_m
        min_lat, max_lat, min_lng, max_lng = geo.bounding_box(lat, lng, radius)
        candidates = db.session.connection().execute(_NEIGHBOURHOODS_IN_BOX, {
            "min_lat": min_lat, "max_lat": max_lat, "min_lng": min_lng, "max_lng": max_lng}).all()
        nearest = min(((geo.distance_m(lat, lng, c.lat, c.lng), c) for c in candidates), default=None,
                      key=lambda pair: pair[0])
        if nearest is not None and nearest[0] <= radius:
            neighbourhood = nearest[1]
    elif reporter_id is not None:
        neighbourhood = db.session.connection().execute(_REPORTERS_NEIGHBOURHOOD, {"user_id": reporter_id}).first()
    if neighbourhood is None:
        raise OutOfArea()
    if category.routing == "street":
        return Route(neighbourhood.street_id, None, neighbourhood.prefix)
    return Route(neighbourhood.street_id, neighbourhood.id, neighbourhood.prefix)


def _deadline(start: datetime, days: int, case: Case) -> datetime:
    due = calendar.add_working_days(start, days)
    case.deadlines_provisional = case.deadlines_provisional or due.provisional
    return due.at


def _dispatch_clocks(case: Case, now: datetime) -> None:
    limits = rules.category(case.category_code).limits
    case.dispatched_at = now
    case.deadlines_provisional = False
    case.contact_due_at = _deadline(now, limits["first_contact"], case)
    case.handle_due_at = _deadline(now, limits["complex" if case.complex else "handling"], case)


def refresh_due(case: Case) -> None:
    """The deadline that matters next (the queue's sort key); None once the case is no longer open."""
    if case.status not in OPEN_STATUSES:
        case.due_at = None
        return
    handle = case.rework_due_at if case.cycle > 1 and case.rework_due_at else case.handle_due_at
    if case.first_contact_at is None and contactable(case) and case.contact_due_at is not None:
        case.due_at = min(case.contact_due_at, handle) if handle else case.contact_due_at
    else:
        case.due_at = handle


@functools.lru_cache(maxsize=4)
def _counter_statement(dialect: str):
    """INSERT … ON CONFLICT DO UPDATE SET last = last + 1 RETURNING last, built once per database kind."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(CaseCounter).on_conflict_do_update(index_elements=["street_id", "day"],
                                                     set_={"last": CaseCounter.last + 1}).returning(CaseCounter.last)


def _next_number(where: Route, now: datetime) -> str:
    day = now.astimezone(clock.SHANGHAI).strftime("%Y%m%d")
    connection = db.session.connection()
    sequence = connection.execute(_counter_statement(connection.dialect.name),
                                  {"street_id": where.street_id, "day": day, "last": 1}).scalar_one()
    return f"{where.street_prefix}{day}-{sequence:04d}"


# --- events and notifications --------------------------------------------------------------------------------

def _event_values(case: Case, actor: Actor | None, action: str, from_status: str | None, to_status: str, *,
                  note: str | None = None, public: bool | None = None, data: dict | None = None) -> dict:
    return {"case_id": case.id, "at": clock.now(), "actor_user_id": actor.user_id if actor else None,
            "actor_role": actor.acting_role if actor else "system", "action": action,
            "from_status": from_status, "to_status": to_status, "note": note,
            "public": action in PUBLIC_ACTIONS if public is None else public, "data": data}


def _event(case: Case, actor: Actor, action: str, from_status: str | None, *, note: str | None = None,
           public: bool | None = None, data: dict | None = None) -> CaseEvent:
    event = CaseEvent(**_event_values(case, actor, action, from_status, case.status, note=note, public=public,
                                      data=data))
    db.session.add(event)
    db.session.flush()
    if event.public and action not in ("submit", "rate"):
        _notify_watchers(case, event)
    return event


@dataclass(frozen=True)
class WrittenEvent:
    """An event written with one multi-row INSERT (the new case's first two)."""
    id: int
    at: datetime
    action: str
    from_status: str | None
    to_status: str
    note: str | None
    public: bool
    actor_role: str | None


# Built once; executed with a list of rows, SQLAlchemy sends one multi-row INSERT … RETURNING and
# gives the ids back in the order of the rows.
_INSERT_EVENTS = CaseEvent.__table__.insert().returning(CaseEvent.__table__.c.id, sort_by_parameter_order=True)
_INSERT_FOLLOWER = CaseFollower.__table__.insert()


def _insert_events(rows: list[dict]) -> list[WrittenEvent]:
    ids = db.session.connection().execute(_INSERT_EVENTS, rows).scalars().all()
    return [WrittenEvent(id=i, at=r["at"], action=r["action"], from_status=r["from_status"], to_status=r["to_status"],
                         note=r["note"], public=r["public"], actor_role=r["actor_role"]) for i, r in zip(ids, rows)]


# Public events that tell no one: a 回访 is a conversation with the reporter about a closure they
# were already told of.
UNANNOUNCED_ACTIONS = frozenset({"visit"})


def _notify_watchers(case: Case, event: CaseEvent) -> None:
    """Tell the reporter and followers of a public event: a change of status (once per event, so one
    已办结 per closure), or a public note on a case whose status stays."""
    changed = event.from_status != event.to_status
    if event.action in UNANNOUNCED_ACTIONS or not (changed or event.note):
        return
    watchers = set(db.session.execute(sa.select(CaseFollower.user_id).where(CaseFollower.case_id == case.id)).scalars())
    if case.reporter_user_id:
        watchers.add(case.reporter_user_id)
    watchers.discard(event.actor_user_id)
    title = None if changed else f"诉求{case.number}有新进展"
    for user_id in watchers:
        _notify_status(case, user_id, f"case:{case.id}:event:{event.id}:{user_id}", event.note, title=title)


def _notify_status(case: Case, user_id: int, dedupe_key: str, note: str | None, *, title: str | None = None) -> None:
    notifications.notify(user_id, kind="case.status_changed", dedupe_key=dedupe_key,
                         title=title or f"诉求{case.number}{labels.name('cases', 'status', case.status)}",
                         body=(note or labels.name("cases", "status", case.status))[:200],
                         link=rules.page_link(case.id),
                         data={"case_id": case.id, "status": case.status})


# --- reporting -----------------------------------------------------------------------------------------------------

@_commit
def create_case(actor: Actor | None, *, category_code: str, description: str, location: dict | None = None,
                address: str | None = None, photo_ids: list[int] | None = None, anonymous: bool = False,
                contact_consent: bool = True, attributes: dict | None = None, source: str = "resident",
                partner_id: int | None = None, reporter_user_id: int | None = None) -> Case:
    """Report a case (a resident; a partner system through Open311, without an actor): validate, route to a
    居委会, dispatch with deadlines. The reporter is ``reporter_user_id``, else the actor."""
    case, _, _ = _create(actor, category_code=category_code, description=description, location=location,
                         address=address, photo_ids=photo_ids or [], anonymous=anonymous,
                         contact_consent=contact_consent, attributes=attributes or {}, source=source,
                         partner_id=partner_id, reporter_user_id=reporter_user_id)
    return case


@_commit
def report(actor: Actor, *, category_code: str, description: str, location: dict | None = None,
           address: str | None = None, photo_ids: list[int] | None = None, anonymous: bool = False,
           contact_consent: bool = True, attributes: dict | None = None, lang: str = "zh") -> dict:
    """A resident reports a case (as create_case) and gets the case as its reporter now sees it.

    The one use-case that answers with more than what it wrote: POST /cases is a hot path, so its answer is
    built inside the use-case's transaction from the rows the use-case holds, and no statement follows the
    commit (tests/unit/test_transactions.py). Every other answer is read after its use-case."""
    case, events, photos = _create(actor, category_code=category_code, description=description, location=location,
                                   address=address, photo_ids=photo_ids or [], anonymous=anonymous,
                                   contact_consent=contact_consent, attributes=attributes or {}, source="resident",
                                   partner_id=None, reporter_user_id=None)
    return queries.new_case_detail(actor, case, events, photos, lang)


def open_for(actor: Actor, *, reporter_user_id: int, category_code: str, description: str, address: str | None,
             source: str) -> Case:
    """Report a case in the caller's transaction (undecorated), for another domain's use-case that opens one as part
    of what it does: a visit to an elder living alone that finds a need reports it for the elder
    (``reporter_user_id``), routed to the elder's 居委会."""
    case, _, _ = _create(actor, category_code=category_code, description=description, location=None,
                         address=address, photo_ids=[], anonymous=False, contact_consent=True, attributes={},
                         source=source, partner_id=None, reporter_user_id=reporter_user_id)
    return case


def _create(actor: Actor | None, *, category_code, description, location, address, photo_ids, anonymous,
            contact_consent, attributes, source, partner_id,
            reporter_user_id) -> tuple[Case, list[WrittenEvent], list[CasePhoto]]:
    category = rules.category(category_code)
    if category is None:
        raise CategoryUnknown()
    description = _description(description)
    if len(photo_ids) > rules.policy().max_photos:
        raise TooManyPhotos(limit=rules.policy().max_photos)
    lat = lng = None
    if location:
        lat, lng = geo.to_gcj02(location["lat"], location["lng"], location.get("datum", "gcj02"))
    if lat is None and not (address and address.strip()):
        raise LocationRequired()
    reporter = reporter_user_id if reporter_user_id is not None else actor.user_id if actor else None
    where = route(category, lat, lng, reporter)
    now = clock.now()
    # Received and dispatched at once: the row goes in with its deadlines (one INSERT), and the
    # two events, the reporter's follow and the reporter's notice are written in one flush.
    case = Case(number=_next_number(where, now), category_code=category.code, description=description, lat=lat,
                lng=lng, address=(address or "").strip() or None, street_id=where.street_id,
                neighbourhood_id=where.neighbourhood_id, reporter_user_id=reporter, anonymous=anonymous,
                contact_consent=contact_consent, source=source, partner_id=partner_id, status="dispatched",
                complex=False, cycle=1, received_at=now,
                attributes=validate_attributes(category, attributes) or None)
    _dispatch_clocks(case, now)
    refresh_due(case)
    db.session.add(case)
    db.session.flush()
    photos = []
    if photo_ids:
        if reporter is None:
            raise PhotosNeedReporter()
        photos = [CasePhoto(case_id=case.id, upload_id=upload.id, purpose="report")
                  for upload in uploads.claim_for(reporter, photo_ids, f"case:{case.id}")]
        db.session.add_all(photos)
    db.session.flush()
    events = _insert_events([
        _event_values(case, actor, "submit", None, "submitted", data={"source": source}),
        _event_values(case, None, "dispatch", "submitted", "dispatched", data={"neighbourhood_id": case.neighbourhood_id})])
    if reporter is not None:
        db.session.connection().execute(_INSERT_FOLLOWER, {"case_id": case.id, "user_id": reporter,
                                                           "created_at": clock.now()})
        # The dispatch is public: its reporter hears of it (the case is new: no other watcher yet).
        _notify_status(case, reporter, f"case:{case.id}:created:{reporter}", None)
    db.session.flush()
    return case, events, photos


def _description(description: str | None) -> str:
    description = (description or "").strip()
    if not description:
        raise DescriptionRequired()
    limit = rules.policy().description_max
    if len(description) > limit:
        raise DescriptionTooLong(limit=limit)
    return description


def validate_attributes(category: rules.Category, attributes: dict) -> dict:
    known = {a.code: a for a in category.attributes}
    for code in attributes:
        if code not in known:
            raise AttributeUnknown(f"attributes.{code}")
    for attribute in category.attributes:
        field = f"attributes.{attribute.code}"
        value = attributes.get(attribute.code)
        if attribute.required and (value is None or str(value).strip() == ""):
            raise AttributeRequired(field, name_zh=attribute.zh, name_en=attribute.en)
        if value is not None and attribute.values and str(value) not in {str(v["key"]) for v in attribute.values}:
            raise AttributeValueInvalid(field, name_zh=attribute.zh)
        if value is not None and len(str(value)) > 200:
            raise AttributeTooLong(field)
    return {k: v for k, v in attributes.items()}


# --- staff actions ----------------------------------------------------------------------------------------------------

def _text(payload: dict, field: str, missing: type[InvalidInput] | None = None) -> str | None:
    """The text sent as ``field`` (stripped), or None; ``missing`` is raised when it is required and absent."""
    value = (payload.get(field) or "").strip()
    if missing is not None and not value:
        raise missing()
    return value or None


def _load(case_id: int) -> Case:
    case = db.session.get(Case, case_id)
    if case is None:
        raise CaseNotFound()
    return case


@_commit
def act(actor: Actor, case_id: int, action: str, payload: dict) -> Case:
    """Apply one staff action (a name of TRANSITIONS); commits, or changes nothing. 409 lists the allowed
    actions."""
    case = _load(case_id)
    access.require_handle(actor, case)
    allowed_in, target = TRANSITIONS[action]
    if case.status not in allowed_in:
        raise ActionNotAllowed(action=action, state=case.status, errors={
            "allowed_actions": access.allowed_actions(actor, case), "status": [case.status]})
    if action in SUPERVISOR_ACTIONS:
        access.require_supervise(actor, case)
    now = clock.now()
    before = case.status
    note = _text(payload, "note")
    public = bool(payload.get("public", False))
    data: dict = {}
    result = HANDLERS[action](actor, case, payload, now, data)
    if isinstance(result, str):
        note = result
    if target is not None:
        case.status = target
    refresh_due(case)
    case.updated_at = now
    _event(case, actor, action, before, note=note, public=True if action in PUBLIC_ACTIONS else public, data=data or None)
    return case


def _accept(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    case.accepted_at = now
    if case.assignee_user_id is None:
        case.assignee_user_id = actor.user_id


def _contact(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    method = payload.get("method")
    if method is None:
        raise ContactMethodRequired(choices=", ".join(CONTACT_METHODS))
    note = _text(payload, "note", ContactNoteRequired)
    data["method"] = method
    if case.first_contact_at is None:
        case.first_contact_at = now
        data["first"] = True
    return note


def _start(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    if case.assignee_user_id is None:
        case.assignee_user_id = actor.user_id


def _resolve(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    outcome = payload.get("outcome")
    if outcome is None:
        raise OutcomeRequired()
    reply = _text(payload, "reply", ReplyRequired)
    if case.first_contact_at is None and contactable(case):
        raise ContactRequired()
    evidence = payload.get("photo_ids") or []
    if len(evidence) > rules.policy().max_photos:
        raise TooManyEvidencePhotos()
    if evidence:
        claimed = uploads.claim_for(actor.user_id, evidence, f"case:{case.id}", field="photo_ids")
        db.session.add_all([CasePhoto(case_id=case.id, upload_id=upload.id, purpose="evidence") for upload in claimed])
    case.outcome = outcome
    case.reply = reply
    case.resolved_at = now
    data["outcome"] = outcome
    return reply


def _return(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    return _text(payload, "reason", ReturnReasonRequired)


def _reassign(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    target = payload.get("neighbourhood_id")
    assignee = payload.get("assignee_id")
    if target is None and assignee is None:
        raise ReassignTargetRequired()
    if target is not None:
        neighbourhood = db.session.get(Neighbourhood, target)
        if neighbourhood is None:
            raise NeighbourhoodUnknown()
        if neighbourhood.id not in actor.neighbourhood_ids:
            raise ReassignOutOfScope()
        case.neighbourhood_id = neighbourhood.id
        case.street_id = neighbourhood.street_id
        data["neighbourhood_id"] = neighbourhood.id
    if assignee is not None:
        if db.session.get(User, assignee) is None:
            raise AssigneeUnknown()
        # The new handler must be staff who can see and act on the case where it now lies.
        handler = people.load_actor(assignee)
        if handler is None or not access.may_handle(handler, case):
            raise AssigneeOutOfScope()
        data["assignee_id"] = assignee
    case.assignee_user_id = assignee
    case.accepted_at = None
    # The reporter's clock keeps the receipt time; the new handler gets fresh stage clocks.
    _dispatch_clocks(case, now)
    return _text(payload, "note")


def _request_extension(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    reason = _text(payload, "reason", ExtensionReasonRequired)
    days = payload.get("working_days")
    if days is None:
        raise ExtensionDaysRequired()
    if extension_too_late(case, now):
        raise ExtensionTooLate()
    pending = db.session.execute(sa.select(CaseExtension.id).where(CaseExtension.case_id == case.id,
                                                                   CaseExtension.status == "pending")).first()
    if pending:
        raise ExtensionPending()
    extension = CaseExtension(case_id=case.id, requested_by=actor.user_id, reason=reason, working_days=days)
    db.session.add(extension)
    db.session.flush()
    data.update({"extension_id": extension.id, "working_days": days})
    return reason


def _pending_extension(case: Case) -> CaseExtension:
    extension = db.session.execute(sa.select(CaseExtension).where(
        CaseExtension.case_id == case.id, CaseExtension.status == "pending")).scalar_one_or_none()
    if extension is None:
        raise NoPendingExtension()
    return extension


def _approve_extension(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    extension = _pending_extension(case)
    extension.status, extension.decided_by, extension.decided_at = "approved", actor.user_id, now
    base = current_handle_due(case) or now
    new_due = _deadline(base, extension.working_days, case)
    if case.cycle > 1 and case.rework_due_at:
        case.rework_due_at = new_due
    else:
        case.handle_due_at = new_due
    data.update({"extension_id": extension.id, "due_at": clock.iso(new_due)})


def _deny_extension(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    extension = _pending_extension(case)
    reason = _text(payload, "reason", DenialReasonRequired)
    extension.status, extension.decided_by, extension.decided_at = "denied", actor.user_id, now
    data["extension_id"] = extension.id
    return reason


def _mark_complex(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    if case.complex:
        raise AlreadyComplex()
    case.complex = True
    start = case.dispatched_at or now
    case.handle_due_at = _deadline(start, rules.category(case.category_code).limits["complex"], case)
    return _text(payload, "reason", ComplexReasonRequired)


def _escalate(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    case.escalation_level += 1
    data["level"] = case.escalation_level
    return _text(payload, "note")


def _merge(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    into = payload.get("into_case_id")
    if into is None or into == case.id:
        raise MergeTargetRequired()
    parent = db.session.get(Case, into)
    if parent is None or not access.may_handle(actor, parent):
        raise MergeTargetUnknown()
    if parent.status not in OPEN_STATUSES:
        raise MergeTargetClosed()
    case.merged_into_id = parent.id
    followers = set(db.session.execute(sa.select(CaseFollower.user_id).where(CaseFollower.case_id == case.id)).scalars())
    if case.reporter_user_id:
        followers.add(case.reporter_user_id)
    existing = set(db.session.execute(sa.select(CaseFollower.user_id).where(CaseFollower.case_id == parent.id)).scalars())
    for user_id in followers - existing:
        db.session.add(CaseFollower(case_id=parent.id, user_id=user_id))
    data["into_case_id"] = parent.id
    return f"已并入诉求 {parent.number}"


def _reject(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    return _text(payload, "reason", RejectionReasonRequired)


def _close(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    case.closed_at = now
    day, provisional = calendar.next_working_day(now.astimezone(clock.SHANGHAI).date())
    case.visit_due_at = calendar.end_of_day(day)
    case.deadlines_provisional = case.deadlines_provisional or provisional


def _reopen_for_rework(case: Case, now: datetime) -> None:
    case.status = "reopened"
    case.cycle += 1
    case.rework_due_at = _deadline(now, rules.category(case.category_code).limits["rehandling"], case)
    case.closed_at = case.resolved_at = case.outcome = None
    case.visit_due_at = case.visited_at = case.visit_result = None
    case.escalation_level = 0  # the rework deadline gets its own 催办/督办; events keep the history


def _reopen(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    reason = _text(payload, "reason", ReopenReasonRequired)
    if case.status == "resolved":
        case.status = "in_progress"  # the reply was not approved
        case.resolved_at = None
    else:
        _reopen_for_rework(case, now)
    return reason


def _visit(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    """回访 once per closure; a visit that reached nobody (``unreachable``) may be tried again."""
    result = payload.get("result")
    if result is None:
        raise VisitResultRequired(choices=", ".join(VISIT_RESULTS))
    if case.visit_result is not None and case.visit_result != "unreachable":
        raise AlreadyVisited(errors={"visit_result": [case.visit_result]})
    case.visited_at = now
    case.visit_result = result
    data["result"] = result
    return _text(payload, "note")


def _comment(actor: Actor, case: Case, payload: dict, now: datetime, data: dict) -> str | None:
    return _text(payload, "note", CommentNoteRequired)


HANDLERS = {"accept": _accept, "contact": _contact, "start": _start, "resolve": _resolve, "return": _return,
            "reassign": _reassign, "request_extension": _request_extension, "approve_extension": _approve_extension,
            "deny_extension": _deny_extension, "mark_complex": _mark_complex, "escalate": _escalate,
            "merge": _merge, "reject": _reject, "close": _close, "reopen": _reopen, "visit": _visit,
            "comment": _comment}


# --- the reporter's actions -----------------------------------------------------------------------------------------

def _reporter_case(actor: Actor, case_id: int, action: str) -> Case:
    """The case, when the actor reported it (access.require_reporter)."""
    case = _load(case_id)
    access.require_reporter(actor, case, action)
    return case


@_commit
def withdraw(actor: Actor, case_id: int, reason: str | None = None) -> Case:
    """The reporter withdraws a case before it is accepted."""
    case = _reporter_case(actor, case_id, "withdraw")
    if case.status not in WITHDRAWABLE:
        raise WithdrawTooLate(errors={"status": [case.status]})
    before = case.status
    case.status = "withdrawn"
    refresh_due(case)
    _event(case, actor, "withdraw", before, note=reason)
    return case


@_commit
def rate(actor: Actor, case_id: int, score: int, comment: str | None = None) -> Case:
    """Rate a closed case once: 5 非常满意 … 1 非常不满意."""
    case = _reporter_case(actor, case_id, "rate")
    if case.status not in RATEABLE:
        raise RateNotClosed(errors={"status": [case.status]})
    if case.rating is not None:
        raise AlreadyRated()
    case.rating, case.rating_comment, case.rated_at = score, (comment or "").strip() or None, clock.now()
    _event(case, actor, "rate", case.status, note=case.rating_comment, data={"rating": score})
    return case


@_commit
def reopen_by_reporter(actor: Actor, case_id: int, reason: str) -> Case:
    """A dissatisfied reporter reopens a closed case within the policy's window; the re-handling clock starts."""
    case = _reporter_case(actor, case_id, "reopen")
    if case.status != "closed":
        raise ReopenNotClosed(errors={"status": [case.status]})
    access.require_reopen(case)
    _reopen_for_rework(case, clock.now())
    refresh_due(case)
    _event(case, actor, "reopen", "closed", note=reason.strip())
    return case


@_commit
def follow(actor: Actor, case_id: int, *, on: bool) -> None:
    """Follow a case the actor may see, or stop following it (its reporter always follows it)."""
    case = queries.visible_case(actor, case_id)
    existing = db.session.get(CaseFollower, (case.id, actor.user_id))
    if on and existing is None:
        try:
            with db.session.begin_nested():
                db.session.add(CaseFollower(case_id=case.id, user_id=actor.user_id))
        except sa.exc.IntegrityError:
            pass  # followed meanwhile, by another request of the same user: nothing left to do
    elif not on and existing is not None:
        if case.reporter_user_id == actor.user_id:
            raise ReporterFollows()
        db.session.delete(existing)
