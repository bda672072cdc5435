"""The case's closed loop: report, route, and an explicit state machine for every action.

受理 → 派单 → 签收 → 先行联系 → 办理 → 回复 → 办结 → 回访 → 评价, with 退单, 改派, 延期,
督办, 并单 and 重办. Every action appends a CaseEvent; deadlines are working days
(service/calendar.py); two staff acting at once on one case → one wins, the
other gets a 409 (the case row carries a version).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.cases import OPEN_STATUSES, Case, CaseCounter, CaseEvent, CaseExtension, CaseFollower, CasePhoto
from models.people import ResidentProfile, User
from models.places import Neighbourhood, Street
from service import calendar, clock, geo, labels, notifications, people
from service.cases import rules
from service.db import transactional
from service.errors import Conflict, Forbidden, InvalidInput, NotFound

# action → (states it is allowed in, state it leads to or None to stay)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "accept": (frozenset({"dispatched"}), "accepted"),
    "contact": (frozenset({"accepted", "in_progress", "reopened"}), None),
    "start": (frozenset({"accepted", "reopened"}), "in_progress"),
    "resolve": (frozenset({"in_progress"}), "resolved"),
    "return": (frozenset({"dispatched", "accepted"}), "returned"),
    "reassign": (frozenset({"dispatched", "accepted", "returned"}), "dispatched"),
    "request_extension": (frozenset({"accepted", "in_progress", "reopened"}), None),
    "approve_extension": (frozenset({"accepted", "in_progress", "reopened"}), None),
    "deny_extension": (frozenset({"accepted", "in_progress", "reopened"}), None),
    "mark_complex": (frozenset({"dispatched", "accepted", "in_progress"}), None),
    "escalate": (frozenset(OPEN_STATUSES), None),
    "merge": (frozenset({"submitted", "dispatched", "accepted", "returned"}), "merged"),
    "reject": (frozenset({"submitted", "dispatched", "returned"}), "rejected"),
    "close": (frozenset({"resolved"}), "closed"),
    "reopen": (frozenset({"resolved", "closed"}), None),  # resolved → in_progress; closed → reopened
    "visit": (frozenset({"closed"}), None),
    "comment": (frozenset(OPEN_STATUSES) | {"closed"}, None),
}
STAFF_ACTIONS = tuple(TRANSITIONS)
SUPERVISOR_ACTIONS = frozenset({"reassign", "approve_extension", "deny_extension", "mark_complex"})
# Events the reporter and followers see in the timeline.
PUBLIC_ACTIONS = frozenset({"submit", "dispatch", "accept", "resolve", "close", "reopen", "merge", "reject",
                            "withdraw", "rate", "visit"})
CONTACT_METHODS = ("phone", "visit", "wechat", "sms", "other")
VISIT_RESULTS = ("solved", "unsolved", "unreachable")
OUTCOMES = ("solved", "explained")  # 实际解决, 解释说明
RATING_NAMES = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


# Every use-case here runs in one transaction; a concurrent change to the same case is a 409.
_commit = transactional(stale=lambda: Conflict(code="cases.concurrent_update", zh="该诉求刚被他人处理，请刷新后重试",
                                               en="Someone else acted on this case just now; reload and retry"))


def _conflict_not_allowed(actor, case: Case, action: str) -> Conflict:
    allowed = allowed_actions(actor, case)
    return Conflict(zh="当前状态下不能进行该操作", en=f"'{action}' is not allowed while the case is {case.status}",
                    code="cases.action_not_allowed", errors={"allowed_actions": allowed, "status": [case.status]})


def allowed_actions(actor, case: Case) -> list[str]:
    """What this caller may do on the case now: every name listed is accepted when sent with valid input
    (never a 403 or 409 for the caller's role or the case's state).

    Staff who handle the case get the staff actions of its state (``POST /cases/{id}/actions``), the
    supervisor's ones only when they supervise it, and only those the case allows now (an extension to
    decide only while one is pending, resolving only after the first contact when the reporter can be
    reached, …). The reporter gets ``withdraw``, ``rate`` and ``reopen`` when those are open to them
    (``POST /cases/{id}/withdraw``, ``/rating``, ``/reopen``). Anyone else gets none.
    """
    actions: list[str] = []
    if can_handle(actor, case):
        supervisor = can_supervise(actor, case)
        pending: list[bool] = []  # queried once, when an extension action is in question

        def extension_pending() -> bool:
            if not pending:
                pending.append(db.session.execute(sa.select(CaseExtension.id).where(
                    CaseExtension.case_id == case.id, CaseExtension.status == "pending")).first() is not None)
            return pending[0]

        for name, (states, _) in TRANSITIONS.items():
            if case.status not in states or (name in SUPERVISOR_ACTIONS and not supervisor):
                continue
            if name in ("approve_extension", "deny_extension") and not extension_pending():
                continue
            if name == "request_extension" and (_extension_too_late(case, clock.now()) or extension_pending()):
                continue
            if name == "mark_complex" and case.complex:
                continue
            if name == "resolve" and case.first_contact_at is None and contactable(case):
                continue
            if name == "visit" and case.visit_result not in (None, "unreachable"):
                continue
            actions.append(name)
    if actor.user_id is not None and case.reporter_user_id == actor.user_id:
        actions.extend(name for name in reporter_actions(case) if name not in actions)
    return actions


def reporter_actions(case: Case) -> list[str]:
    """The reporter's actions open on the case now (the checks of ``withdraw``, ``rate``, ``reopen_by_reporter``)."""
    names = []
    if case.status in WITHDRAWABLE:
        names.append("withdraw")
    if case.status in RATEABLE and case.rating is None:
        names.append("rate")
    if case.status == "closed" and _reporter_may_reopen(case) is None:
        names.append("reopen")
    return names


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
        raise InvalidInput("location", "该位置不在本平台服务的街道范围内，请拨打12345反映",
                           "The location is outside the streets this service covers", code="cases.out_of_area")
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


def contactable(case: Case) -> bool:
    return case.reporter_user_id is not None and case.contact_consent


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

def _event_values(case: Case, actor, action: str, from_status: str | None, to_status: str, *,
                  note: str | None = None, public: bool | None = None, data: dict | None = None) -> dict:
    return {"case_id": case.id, "at": clock.now(), "actor_user_id": getattr(actor, "user_id", None),
            "actor_role": getattr(actor, "acting_role", None) if actor else "system", "action": action,
            "from_status": from_status, "to_status": to_status, "note": note,
            "public": action in PUBLIC_ACTIONS if public is None else public, "data": data}


def _event(case: Case, actor, action: str, from_status: str | None, *, note: str | None = None,
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
def create_case(actor, *, category_code: str, description: str, location: dict | None = None,
                address: str | None = None, photo_ids: list[int] | None = None, anonymous: bool = False,
                contact_consent: bool = True, attributes: dict | None = None, source: str = "resident",
                partner_id: int | None = None, reporter_user_id: int | None = None) -> Case:
    """Report a case: validate, route to a 居委会, dispatch with deadlines. Commits."""
    case, _, _ = _create(actor, category_code=category_code, description=description, location=location,
                         address=address, photo_ids=photo_ids or [], anonymous=anonymous,
                         contact_consent=contact_consent, attributes=attributes or {}, source=source,
                         partner_id=partner_id, reporter_user_id=reporter_user_id)
    return case


@_commit
def report(actor, *, category_code: str, description: str, location: dict | None = None, address: str | None = None,
           photo_ids: list[int] | None = None, anonymous: bool = False, contact_consent: bool = True,
           attributes: dict | None = None, lang: str = "zh") -> dict:
    """A resident reports a case (as create_case); returns the case as its reporter now sees it,
    built from what was just written. Commits."""
    from service.cases import queries

    case, events, photos = _create(actor, category_code=category_code, description=description, location=location,
                                   address=address, photo_ids=photo_ids or [], anonymous=anonymous,
                                   contact_consent=contact_consent, attributes=attributes or {}, source="resident",
                                   partner_id=None, reporter_user_id=None)
    return queries.new_case_detail(actor, case, events, photos, lang)


def validate_attributes(category: rules.Category, attributes: dict) -> dict:
    known = {a.code: a for a in category.attributes}
    for code in attributes:
        if code not in known:
            raise InvalidInput(f"attributes.{code}", "该类别没有这个附加项", "Unknown attribute for this category")
    for attribute in category.attributes:
        value = attributes.get(attribute.code)
        if attribute.required and (value is None or str(value).strip() == ""):
            raise InvalidInput(f"attributes.{attribute.code}", f"请填写{attribute.zh}", f"{attribute.en} is required")
        if value is not None and attribute.values and str(value) not in {str(v["key"]) for v in attribute.values}:
            raise InvalidInput(f"attributes.{attribute.code}", f"{attribute.zh}的取值无效", "Not one of the allowed values")
        if value is not None and len(str(value)) > 200:
            raise InvalidInput(f"attributes.{attribute.code}", "内容过长", "Too long")
    return {k: v for k, v in attributes.items()}


def _create(actor, *, category_code, description, location, address, photo_ids, anonymous, contact_consent,
            attributes, source, partner_id, reporter_user_id) -> tuple[Case, list[WrittenEvent], list[CasePhoto]]:
    category = rules.category(category_code)
    if category is None:
        raise InvalidInput("category", "没有这个诉求类别", "Unknown category", code="cases.category_unknown")
    policy = rules.policy()
    description = (description or "").strip()
    if not description:
        raise InvalidInput("description", "请描述问题", "A description is required")
    if len(description) > policy.description_max:
        raise InvalidInput("description", f"描述不能超过{policy.description_max}字",
                           f"At most {policy.description_max} characters")
    if len(photo_ids) > policy.max_photos:
        raise InvalidInput("photos", f"最多上传{policy.max_photos}张照片", f"At most {policy.max_photos} photos")
    lat = lng = None
    if location:
        lat, lng = geo.to_gcj02(location["lat"], location["lng"], location.get("datum", "gcj02"))
    if lat is None and not (address and address.strip()):
        raise InvalidInput("location", "请提供位置或地址", "A location or an address is required")
    reporter = reporter_user_id if reporter_user_id is not None else getattr(actor, "user_id", None)
    where = route(category, lat, lng, reporter)
    now = clock.now()
    # Received and dispatched at once: the row goes in with its deadlines (one INSERT), and the
    # two events, the reporter's follow and the reporter's notice are written in one flush.
    case = Case(number=_next_number(where, now), category_code=category.code, description=description, lat=lat,
                lng=lng, address=(address or "").strip() or None, street_id=where.street_id,
                neighbourhood_id=where.neighbourhood_id, reporter_user_id=reporter, anonymous=anonymous,
                contact_consent=contact_consent, source=source, partner_id=partner_id, status="dispatched",
                complex=False, cycle=1, received_at=now, attributes=validate_attributes(category, attributes) or None)
    _dispatch_clocks(case, now)
    refresh_due(case)
    db.session.add(case)
    db.session.flush()
    photos = []
    if photo_ids:
        from service import uploads

        if reporter is None:
            raise InvalidInput("photos", "匿名系统接入不能附带照片编号", "Photos need a reporting user")
        for upload in uploads.claim_for(reporter, photo_ids, f"case:{case.id}"):
            photos.append(CasePhoto(case_id=case.id, upload_id=upload.id, purpose="report"))
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


# --- staff actions ----------------------------------------------------------------------------------------------------

def can_handle(actor, case: Case) -> bool:
    if not getattr(actor, "is_staff", False):
        return False
    if case.neighbourhood_id is not None:
        return case.neighbourhood_id in actor.neighbourhood_ids
    return case.street_id in actor.street_ids


def can_supervise(actor, case: Case) -> bool:
    if not can_handle(actor, case):
        return False
    if case.neighbourhood_id is not None:
        return case.neighbourhood_id in actor.supervised_neighbourhood_ids
    return case.street_id in actor.street_ids


def _text(payload: dict, field: str, *, required: bool, zh: str, en: str, limit: int = 2000) -> str | None:
    value = (payload.get(field) or "").strip()
    if required and not value:
        raise InvalidInput(field, zh, en)
    if len(value) > limit:
        raise InvalidInput(field, f"不能超过{limit}字", f"At most {limit} characters")
    return value or None


@_commit
def act(actor, case_id: int, action: str, payload: dict) -> Case:
    """Apply one staff action; commits, or changes nothing. 409 lists the allowed actions."""
    return _act(actor, case_id, action, payload)


def _load(case_id: int) -> Case:
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound(code="cases.not_found", zh="诉求不存在", en="No such case")
    return case


def _act(actor, case_id: int, action: str, payload: dict) -> Case:
    if action not in TRANSITIONS:
        raise InvalidInput("action", "未知的操作", "Unknown action", code="cases.action_unknown")
    case = _load(case_id)
    if not can_handle(actor, case):
        raise NotFound(code="cases.not_found", zh="诉求不存在", en="No such case")
    states, target = TRANSITIONS[action]
    if case.status not in states:
        raise _conflict_not_allowed(actor, case, action)
    if action in SUPERVISOR_ACTIONS and not can_supervise(actor, case):
        raise Forbidden(code="cases.supervisor_required", zh="该操作需由居委会主任或街道审批",
                        en="This action needs a supervisor")
    now = clock.now()
    before = case.status
    note = _text(payload, "note", required=False, zh="", en="")
    public = bool(payload.get("public", False))
    data: dict = {}
    handler = HANDLERS[action]
    result = handler(actor, case, payload, now, data)
    if isinstance(result, str):
        note = result
    if target is not None:
        case.status = target
    refresh_due(case)
    case.updated_at = now
    _event(case, actor, action, before, note=note, public=True if action in PUBLIC_ACTIONS else public, data=data or None)
    return case


def _accept(actor, case, payload, now, data):
    case.accepted_at = now
    if case.assignee_user_id is None:
        case.assignee_user_id = actor.user_id


def _contact(actor, case, payload, now, data):
    method = payload.get("method")
    if method not in CONTACT_METHODS:
        raise InvalidInput("method", "请选择联系方式", f"method must be one of {', '.join(CONTACT_METHODS)}")
    note = _text(payload, "note", required=True, zh="请填写联系情况", en="A note is required")
    data["method"] = method
    if case.first_contact_at is None:
        case.first_contact_at = now
        data["first"] = True
    return note


def _start(actor, case, payload, now, data):
    if case.assignee_user_id is None:
        case.assignee_user_id = actor.user_id


def _resolve(actor, case, payload, now, data):
    outcome = payload.get("outcome")
    if outcome not in OUTCOMES:
        raise InvalidInput("outcome", "请选择办理结果：实际解决或解释说明", "outcome must be solved or explained")
    reply = _text(payload, "reply", required=True, zh="请填写答复内容", en="A reply is required", limit=4000)
    if case.first_contact_at is None and contactable(case):
        raise Conflict(code="cases.contact_required", zh="办结前须先行联系诉求人",
                       en="Contact the reporter before resolving")
    evidence = payload.get("photo_ids") or []
    if len(evidence) > rules.policy().max_photos:
        raise InvalidInput("photo_ids", "照片过多", "Too many photos")
    if evidence:
        from service import uploads

        for upload in uploads.claim_for(actor.user_id, evidence, f"case:{case.id}", field="photo_ids"):
            db.session.add(CasePhoto(case_id=case.id, upload_id=upload.id, purpose="evidence"))
    case.outcome = outcome
    case.reply = reply
    case.resolved_at = now
    data["outcome"] = outcome
    return reply


def _return(actor, case, payload, now, data):
    return _text(payload, "reason", required=True, zh="退单须说明理由", en="A reason is required to return a case")


def _reassign(actor, case, payload, now, data):
    target = payload.get("neighbourhood_id")
    assignee = payload.get("assignee_id")
    if target is None and assignee is None:
        raise InvalidInput("neighbourhood_id", "请指定改派的居委会或承办人", "Give a neighbourhood or an assignee")
    if target is not None:
        neighbourhood = db.session.get(Neighbourhood, target)
        if neighbourhood is None:
            raise InvalidInput("neighbourhood_id", "居民区不存在", "No such neighbourhood")
        if neighbourhood.id not in actor.neighbourhood_ids:
            raise Forbidden(code="cases.out_of_scope", zh="不能改派到您负责范围以外的居委会",
                            en="You cannot reassign outside your scope")
        case.neighbourhood_id = neighbourhood.id
        case.street_id = neighbourhood.street_id
        data["neighbourhood_id"] = neighbourhood.id
    if assignee is not None:
        if db.session.get(User, assignee) is None:
            raise InvalidInput("assignee_id", "承办人不存在", "No such assignee")
        # The new handler must be staff who can see and act on the case where it now lies.
        handler = people.load_actor(assignee)
        if handler is None or not can_handle(handler, case):
            raise InvalidInput("assignee_id", "承办人不负责该诉求所在的居委会，不能改派给他",
                               "The assignee does not cover this case's neighbourhood; choose staff who do",
                               code="cases.assignee_out_of_scope")
        data["assignee_id"] = assignee
    case.assignee_user_id = assignee
    case.accepted_at = None
    # The reporter's clock keeps the receipt time; the new handler gets fresh stage clocks.
    _dispatch_clocks(case, now)
    return _text(payload, "note", required=False, zh="", en="")


def _current_handle_due(case: Case) -> datetime | None:
    return case.rework_due_at if case.status == "reopened" or (case.cycle > 1 and case.rework_due_at) else case.handle_due_at


def _extension_too_late(case: Case, now: datetime) -> bool:
    due = _current_handle_due(case)
    return due is not None and now > due


def _request_extension(actor, case, payload, now, data):
    reason = _text(payload, "reason", required=True, zh="申请延期须说明理由", en="A reason is required")
    days = payload.get("working_days")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 30:
        raise InvalidInput("working_days", "延期天数须为 1–30 个工作日", "working_days must be 1-30")
    if _extension_too_late(case, now):
        raise Conflict(code="cases.extension_too_late", zh="已超过办理期限，不能再申请延期",
                       en="Extensions must be requested before the deadline")
    pending = db.session.execute(sa.select(CaseExtension.id).where(CaseExtension.case_id == case.id,
                                                                   CaseExtension.status == "pending")).first()
    if pending:
        raise Conflict(code="cases.extension_pending", zh="已有待审批的延期申请", en="An extension is already pending")
    extension = CaseExtension(case_id=case.id, requested_by=actor.user_id, reason=reason, working_days=days)
    db.session.add(extension)
    db.session.flush()
    data.update({"extension_id": extension.id, "working_days": days})
    return reason


def _pending_extension(case: Case) -> CaseExtension:
    extension = db.session.execute(sa.select(CaseExtension).where(
        CaseExtension.case_id == case.id, CaseExtension.status == "pending")).scalar_one_or_none()
    if extension is None:
        raise Conflict(code="cases.no_pending_extension", zh="没有待审批的延期申请", en="No extension is pending")
    return extension


def _approve_extension(actor, case, payload, now, data):
    extension = _pending_extension(case)
    extension.status, extension.decided_by, extension.decided_at = "approved", actor.user_id, now
    base = _current_handle_due(case) or now
    new_due = _deadline(base, extension.working_days, case)
    if case.cycle > 1 and case.rework_due_at:
        case.rework_due_at = new_due
    else:
        case.handle_due_at = new_due
    data.update({"extension_id": extension.id, "due_at": clock.iso(new_due)})


def _deny_extension(actor, case, payload, now, data):
    extension = _pending_extension(case)
    reason = _text(payload, "reason", required=True, zh="驳回须说明理由", en="A reason is required")
    extension.status, extension.decided_by, extension.decided_at = "denied", actor.user_id, now
    data["extension_id"] = extension.id
    return reason


def _mark_complex(actor, case, payload, now, data):
    if case.complex:
        raise Conflict(code="cases.already_complex", zh="已认定为复杂事项", en="Already marked complex")
    case.complex = True
    start = case.dispatched_at or now
    case.handle_due_at = _deadline(start, rules.category(case.category_code).limits["complex"], case)
    return _text(payload, "reason", required=True, zh="请说明复杂事项的理由", en="A reason is required")


def _escalate(actor, case, payload, now, data):
    case.escalation_level += 1
    data["level"] = case.escalation_level
    return _text(payload, "note", required=False, zh="", en="")


def _merge(actor, case, payload, now, data):
    into = payload.get("into_case_id")
    if not isinstance(into, int) or into == case.id:
        raise InvalidInput("into_case_id", "请指定要并入的诉求", "into_case_id must be another case")
    parent = db.session.get(Case, into)
    if parent is None or not can_handle(actor, parent):
        raise InvalidInput("into_case_id", "要并入的诉求不存在", "No such case in your scope")
    if parent.status not in OPEN_STATUSES:
        raise Conflict(code="cases.merge_target_closed", zh="只能并入办理中的诉求", en="The target case is not open")
    case.merged_into_id = parent.id
    followers = set(db.session.execute(sa.select(CaseFollower.user_id).where(CaseFollower.case_id == case.id)).scalars())
    if case.reporter_user_id:
        followers.add(case.reporter_user_id)
    existing = set(db.session.execute(sa.select(CaseFollower.user_id).where(CaseFollower.case_id == parent.id)).scalars())
    for user_id in followers - existing:
        db.session.add(CaseFollower(case_id=parent.id, user_id=user_id))
    data["into_case_id"] = parent.id
    return f"已并入诉求 {parent.number}"


def _reject(actor, case, payload, now, data):
    return _text(payload, "reason", required=True, zh="不予受理须说明理由", en="A reason is required")


def _close(actor, case, payload, now, data):
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


def _reopen(actor, case, payload, now, data):
    reason = _text(payload, "reason", required=True, zh="请说明重办理由", en="A reason is required")
    if case.status == "resolved":
        case.status = "in_progress"  # the reply was not approved
        case.resolved_at = None
    else:
        _reopen_for_rework(case, now)
    return reason


def _visit(actor, case, payload, now, data):
    """回访 once per closure; a visit that reached nobody (``unreachable``) may be tried again."""
    result = payload.get("result")
    if result not in VISIT_RESULTS:
        raise InvalidInput("result", "请选择回访结果", f"result must be one of {', '.join(VISIT_RESULTS)}")
    if case.visit_result is not None and case.visit_result != "unreachable":
        raise Conflict(code="cases.already_visited", zh="本次办结已回访，不能重复回访",
                       en="This closure has already been visited", errors={"visit_result": [case.visit_result]})
    case.visited_at = now
    case.visit_result = result
    data["result"] = result
    return _text(payload, "note", required=False, zh="", en="")


def _comment(actor, case, payload, now, data):
    return _text(payload, "note", required=True, zh="请填写备注", en="A note is required")


HANDLERS = {"accept": _accept, "contact": _contact, "start": _start, "resolve": _resolve, "return": _return,
            "reassign": _reassign, "request_extension": _request_extension, "approve_extension": _approve_extension,
            "deny_extension": _deny_extension, "mark_complex": _mark_complex, "escalate": _escalate,
            "merge": _merge, "reject": _reject, "close": _close, "reopen": _reopen, "visit": _visit,
            "comment": _comment}


# --- the reporter's actions -----------------------------------------------------------------------------------------

# What only the reporter may do, as the refusal names it: action → (zh, en).
REPORTER_ACTIONS = {"withdraw": ("撤回", "withdraw"), "rate": ("评价", "rate"), "reopen": ("申请重办", "reopen")}
WITHDRAWABLE = frozenset({"submitted", "dispatched"})  # before a handler accepts it
RATEABLE = frozenset({"closed", "archived"})


def _reporter_case(actor, case_id: int, action: str) -> Case:
    """The case, when the actor reported it. Someone else who may see the case (a follower, staff)
    is told that only the reporter may do this (403); anyone else hears that it does not exist."""
    case = _load(case_id)
    if case.reporter_user_id != actor.user_id:
        from service.cases.queries import visible_case

        visible_case(actor, case_id)
        zh, en = REPORTER_ACTIONS[action]
        raise Forbidden(code="cases.reporter_only", zh=f"只有诉求人本人可以{zh}该诉求",
                        en=f"Only the person who reported the case may {en} it")
    return case


@_commit
def withdraw(actor, case_id: int, reason: str | None = None) -> Case:
    """The reporter withdraws a case before it is accepted."""
    case = _reporter_case(actor, case_id, "withdraw")
    if case.status not in WITHDRAWABLE:
        raise Conflict(code="cases.withdraw_too_late", zh="诉求已被签收，不能撤回", en="Accepted cases cannot be withdrawn",
                       errors={"status": [case.status]})
    before = case.status
    case.status = "withdrawn"
    refresh_due(case)
    _event(case, actor, "withdraw", before, note=reason)
    return case


@_commit
def rate(actor, case_id: int, score: int, comment: str | None = None) -> Case:
    """Rate a closed case once: 5 非常满意 … 1 非常不满意."""
    case = _reporter_case(actor, case_id, "rate")
    if case.status not in RATEABLE:
        raise Conflict(code="cases.rate_not_closed", zh="诉求办结后才能评价", en="Only closed cases can be rated",
                       errors={"status": [case.status]})
    if case.rating is not None:
        raise Conflict(code="cases.already_rated", zh="该诉求已评价", en="This case has already been rated")
    case.rating, case.rating_comment, case.rated_at = score, (comment or "").strip() or None, clock.now()
    _event(case, actor, "rate", case.status, note=case.rating_comment, data={"rating": score})
    return case


def _reporter_may_reopen(case: Case) -> Conflict | None:
    """Why the reporter may not reopen the closed case (too late, or rated satisfied), or None."""
    days = rules.policy().reopen_within_days
    if clock.now() > case.closed_at + timedelta(days=days):
        return Conflict(code="cases.reopen_too_late", zh=f"办结{days}天后不能申请重办",
                        en="The reopening period has passed")
    if case.rating is not None and case.rating in rules.policy().satisfied_levels:
        return Conflict(code="cases.reopen_satisfied", zh="您已评价满意，不能申请重办", en="You rated this case as satisfied")
    return None


@_commit
def reopen_by_reporter(actor, case_id: int, reason: str) -> Case:
    """A dissatisfied reporter reopens a closed case within the policy's window; the re-handling clock starts."""
    case = _reporter_case(actor, case_id, "reopen")
    if case.status != "closed":
        raise Conflict(code="cases.reopen_not_closed", zh="只有已办结的诉求可以申请重办", en="Only closed cases can be reopened",
                       errors={"status": [case.status]})
    refusal = _reporter_may_reopen(case)
    if refusal is not None:
        raise refusal
    _reopen_for_rework(case, clock.now())
    refresh_due(case)
    _event(case, actor, "reopen", "closed", note=reason.strip())
    return case


def follow(actor, case_id: int, *, on: bool) -> None:
    from service.cases.queries import visible_case

    case = visible_case(actor, case_id)
    existing = db.session.get(CaseFollower, (case.id, actor.user_id))
    if on and existing is None:
        db.session.add(CaseFollower(case_id=case.id, user_id=actor.user_id))
    elif not on and existing is not None:
        if case.reporter_user_id == actor.user_id:
            raise Conflict(code="cases.reporter_follows", zh="诉求人始终关注自己的诉求", en="Reporters always follow their cases")
        db.session.delete(existing)
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()

