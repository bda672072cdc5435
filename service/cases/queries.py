"""Reading cases: who sees what, the reporter's timeline, the staff queue (keyset), nearby open cases."""
from __future__ import annotations

import functools
from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.cases import OPEN_STATUSES, Case, CaseEvent, CaseExtension, CaseFollower, CasePhoto
from models.people import ResidentProfile
from service import audit, clock, cursors, geo, labels, privacy
from service.cases import access, rules
from service.cases.errors import CaseNotFound, CategoryUnknown, CursorInvalid, NeighbourhoodOutOfScope
from service.db import page_limit, rows_and_total, with_total
from service.people import Actor

# The columns summary() reads: the queue selects only these.
SUMMARY_COLUMNS = (Case.id, Case.number, Case.category_code, Case.status, Case.description, Case.address, Case.lat,
                   Case.lng, Case.street_id, Case.neighbourhood_id, Case.received_at, Case.contact_due_at,
                   Case.handle_due_at, Case.rework_due_at, Case.visit_due_at, Case.due_at,
                   Case.deadlines_provisional, Case.outcome, Case.rating, Case.assignee_user_id,
                   Case.escalation_level, Case.version)
# Built once: a select's columns are coerced when it is built, and statements are immutable.
_SUMMARY_SELECT = sa.select(*SUMMARY_COLUMNS)


def visible_case(actor: Actor, case_id: int) -> Case:
    """The case if the actor may see it (access.may_see); else it does not exist for them."""
    return _seen(actor, db.session.get(Case, case_id))


def _seen(actor: Actor, case: Case | None) -> Case:
    """``case`` when it exists and the actor may see it; else 404 ``CaseNotFound``."""
    if case is None or not access.may_see(actor, case):
        raise CaseNotFound()
    return case




def deadlines(case: Case) -> dict:
    # In Shanghai time for the answer (clock.local, inlined: a page holds a hundred of them; a column's
    # value is aware or None).
    tz, contact, handle, rework, visit, due = (clock.SHANGHAI_OFFSET, case.contact_due_at, case.handle_due_at,
                                               case.rework_due_at, case.visit_due_at, case.due_at)
    return {"contact_due_at": contact and contact.astimezone(tz), "handle_due_at": handle and handle.astimezone(tz),
            "rework_due_at": rework and rework.astimezone(tz), "visit_due_at": visit and visit.astimezone(tz),
            "due_at": due and due.astimezone(tz), "provisional": case.deadlines_provisional,
            "overdue": case.due_at is not None and case.due_at < clock.now()}


def summary(case: Case, lang: str = "zh") -> dict:
    category = rules.category(case.category_code)
    return {"id": case.id, "number": case.number, "category": case.category_code,
            "category_name": category.name(lang) if category else case.category_code, "status": case.status,
            "status_name": labels.name("cases", "status", case.status, lang), "description": case.description,
            "address": case.address, "lat": case.lat, "lng": case.lng,
            "street_id": case.street_id, "neighbourhood_id": case.neighbourhood_id, "received_at": clock.local(case.received_at),
            "deadlines": deadlines(case), "outcome": case.outcome,
            "outcome_name": labels.name("cases", "outcome", case.outcome, lang), "rating": case.rating,
            "assignee_id": case.assignee_user_id, "escalation_level": case.escalation_level}


def _reporter_view(case: Case, full: bool, contact: tuple | None = None) -> dict | None:
    """The reporter as the caller may see them; ``contact`` is their profile's (name, encrypted phone) when
    the caller read it already (``case_detail``), else the profile is read."""
    if case.reporter_user_id is None:
        return None
    if contact is None:
        profile = db.session.get(ResidentProfile, case.reporter_user_id)
        contact = (profile.name, profile.phone_enc) if profile else (None, None)
    name, phone_enc = contact
    phone = privacy.decrypt(phone_enc) if phone_enc else None
    if full:
        return {"name": name, "phone": phone if case.contact_consent else None, "masked": False}
    if case.anonymous:
        return {"name": "匿名", "phone": None, "masked": True}
    return {"name": privacy.mask_name(name), "phone": privacy.mask_phone(phone), "masked": True}


# A case's page in two statements. The first reads the case with what the page shows beside it: how many follow
# it, whether the caller does, the reporter's name and (encrypted) phone, and whether an extension awaits a
# decision (for the staff actions). The second reads its timeline and its photos, events first, each in order.
# The case comes as a plain row of its columns (read by the same attribute names as the model), not as a mapped
# object: the page only reads it, and a row costs a fraction of an object in the session's identity map.
_CASE_PAGE = sa.select(
    *Case.__table__.c,
    sa.select(sa.func.count()).where(CaseFollower.case_id == Case.id).scalar_subquery().label("followers"),
    sa.exists().where(CaseFollower.case_id == Case.id, CaseFollower.user_id == sa.bindparam("user_id"))
    .label("following"),
    sa.select(ResidentProfile.name).where(ResidentProfile.user_id == Case.reporter_user_id).scalar_subquery()
    .label("reporter_name"),
    sa.select(ResidentProfile.phone_enc).where(ResidentProfile.user_id == Case.reporter_user_id).scalar_subquery()
    .label("reporter_phone_enc"),
    sa.exists().where(CaseExtension.case_id == Case.id, CaseExtension.status == "pending").label("extension_pending"),
).where(Case.id == sa.bindparam("case_id"))
_EVENT, _PHOTO = 0, 1
_TIMELINE_AND_PHOTOS = sa.union_all(
    sa.select(sa.literal_column(str(_EVENT)).label("kind"), CaseEvent.id.label("seq"), CaseEvent.id, CaseEvent.at,
              CaseEvent.action, CaseEvent.from_status, CaseEvent.to_status, CaseEvent.note, CaseEvent.public,
              CaseEvent.actor_role).where(CaseEvent.case_id == sa.bindparam("case_id")),
    sa.select(sa.literal_column(str(_PHOTO)), CasePhoto.id, CasePhoto.upload_id, sa.null(), CasePhoto.purpose,
              sa.null(), sa.null(), sa.null(), sa.null(), sa.null())
    .where(CasePhoto.case_id == sa.bindparam("case_id")),
).order_by(sa.literal_column("kind"), sa.literal_column("seq"))


class _Photo:
    """A photo row of ``_TIMELINE_AND_PHOTOS`` as ``_detail`` reads a photo (its upload's id and purpose)."""

    __slots__ = ("upload_id", "purpose")

    def __init__(self, row):
        self.upload_id, self.purpose = row.id, row.action


def case_detail(actor: Actor, case_id: int, lang: str = "zh") -> dict:
    """One case as the actor may see it. Staff handling it see the reporter's contact details
    unmasked (and that view is audited); everyone else sees masked or anonymous details."""
    row = db.session.connection().execute(_CASE_PAGE, {"case_id": case_id, "user_id": actor.user_id}).first()
    case = _seen(actor, row)
    handler = access.may_handle(actor, case)
    own = case.reporter_user_id == actor.user_id
    events, photos = [], []
    for item in db.session.connection().execute(_TIMELINE_AND_PHOTOS, {"case_id": case.id}):
        if item.kind == _EVENT:
            events.append(item)
        else:
            photos.append(_Photo(item))
    result = _detail(actor, case, handler=handler, own=own, events=events, photos=photos, followers=row.followers,
                     following=bool(row.following), lang=lang, contact=(row.reporter_name, row.reporter_phone_enc),
                     extension_pending=bool(row.extension_pending))
    if handler and not own and case.reporter_user_id is not None:
        audit.record_view(actor, "case.reporter_viewed", "case", case_id, street_id=case.street_id,
                          subject_user_id=case.reporter_user_id)
    return result


def new_case_detail(actor: Actor, case: Case, events: list, photos: list[CasePhoto], lang: str = "zh") -> dict:
    """The reporter's answer for the case they just reported, from what the use-case holds (no query): built
    inside its transaction (workflow.report)."""
    contact = None
    if actor.user is not None and case.reporter_user_id == actor.user_id:   # the caller's profile, loaded with them
        profile = actor.user.profile
        contact = (profile.name, profile.phone_enc) if profile is not None else (None, None)
    return _detail(actor, case, handler=access.may_handle(actor, case), own=True, events=events, photos=photos,
                   followers=1, following=True, lang=lang, contact=contact)


def _detail(actor: Actor, case: Case, *, handler: bool, own: bool, events, photos, followers: int, following: bool,
            lang: str, contact: tuple | None = None, extension_pending: bool | None = None) -> dict:
    timeline = [{"id": e.id, "at": e.at, "action": e.action, "from_status": e.from_status, "to_status": e.to_status,
                 "note": e.note, "public": e.public, "actor_role": e.actor_role}
                for e in events if handler or e.public]
    return {**summary(case, lang), "reply": case.reply, "timeline": timeline,
            "photos": [{"id": p.upload_id, "url": f"/api/v1/uploads/{p.upload_id}", "purpose": p.purpose}
                       for p in photos],
            "reporter": _reporter_view(case, full=handler or own, contact=contact)
            if (handler or own or not case.anonymous) else {"name": "匿名", "phone": None, "masked": True},
            "anonymous": case.anonymous, "followers": followers, "following": following,
            "allowed_actions": access.allowed_actions(actor, case, extension_pending=extension_pending),
            "mine": own, "merged_into_id": case.merged_into_id, "visit_result": case.visit_result if handler else None,
            "attributes": case.attributes or {}}


# Cases I reported or follow: the newest ``limit + 1`` ids of each kind below the cursor, each read off its own
# index ((reporter_user_id, id) and (user_id, case_id)), merged, then those rows; no scan of the case table.
_MINE_REPORTED = (sa.select(Case.id.label("id")).where(Case.reporter_user_id == sa.bindparam("user_id"),
                                                       Case.id < sa.bindparam("before"))
                  .order_by(Case.id.desc()).limit(page_limit()).subquery())
_MINE_FOLLOWED = (sa.select(CaseFollower.case_id.label("id"))
                  .where(CaseFollower.user_id == sa.bindparam("user_id"), CaseFollower.case_id < sa.bindparam("before"))
                  .order_by(CaseFollower.case_id.desc()).limit(page_limit()).subquery())
_MINE_COUNT = sa.select(sa.func.count()).select_from(sa.union(
    sa.select(Case.id).where(Case.reporter_user_id == sa.bindparam("user_id")),
    sa.select(CaseFollower.case_id).where(CaseFollower.user_id == sa.bindparam("user_id"))).subquery())
# The page's ids: the two keyset runs merged, the newest ``limit`` of them (only those rows are read).
_MINE_IDS = sa.union(sa.select(_MINE_REPORTED.c.id), sa.select(_MINE_FOLLOWED.c.id)).subquery()
# The page with the total beside each row (service.db.with_total): one statement.
_MINE_PAGE = (with_total(_SUMMARY_SELECT, _MINE_COUNT)
              .where(Case.id.in_(sa.select(_MINE_IDS.c.id).order_by(_MINE_IDS.c.id.desc())
                                 .limit(page_limit())))
              .order_by(Case.id.desc()).limit(page_limit()))


def my_cases(actor: Actor, *, cursor: str | None = None, limit: int = 20) -> tuple[list, str | None, int]:
    """Cases I reported or follow, newest first, keyset-paginated by id: (items, next_cursor, total). The
    items are rows of the summary's columns (``summary`` reads them as it reads a case)."""
    before = cursors.MAX_ID
    if cursor:
        due, last_id = decode_cursor(cursor)
        if due is not None:
            raise CursorInvalid()
        before = last_id
    rows, total = rows_and_total(_MINE_PAGE, _MINE_COUNT, {"user_id": actor.user_id, "before": before,
                                                           "limit": limit + 1})
    if len(rows) > limit:
        return rows[:limit], encode_cursor(None, rows[limit - 1].id), total
    return rows, None, total


def nearby(*, lat: float, lng: float, datum: str, category_code: str) -> list[dict]:
    """Open cases of a category within the policy radius reported in the last N days, nearest first."""
    if rules.category(category_code) is None:
        raise CategoryUnknown()
    policy = rules.policy()
    lat, lng = geo.to_gcj02(lat, lng, datum)
    min_lat, max_lat, min_lng, max_lng = geo.bounding_box(lat, lng, policy.nearby_radius_m)
    since = clock.now() - timedelta(days=policy.nearby_days)
    rows = db.session.execute(sa.select(Case).where(
        Case.category_code == category_code, Case.received_at >= since, Case.status.in_(OPEN_STATUSES),
        Case.lat.between(min_lat, max_lat), Case.lng.between(min_lng, max_lng))).scalars().all()
    found = []
    for case in rows:
        distance = geo.distance_m(lat, lng, case.lat, case.lng)
        if distance <= policy.nearby_radius_m and access.is_public(case):
            found.append((distance, case))
    found.sort(key=lambda pair: (pair[0], pair[1].id))
    return [{**summary(case), "distance_m": round(distance)} for distance, case in found[:20]]


# --- the staff queue -----------------------------------------------------------------------------------------------

# A cursor is the last row's (due_at, id), signed (service/cursors.py): only cursors this server issued are read.
_CURSOR_PURPOSE = "cases.queue_cursor"


def encode_cursor(due_at: datetime | None, case_id: int) -> str:
    return cursors.issue_at(_CURSOR_PURPOSE, due_at, case_id)


def decode_cursor(cursor: str) -> tuple[datetime | None, int]:
    """The (due_at, id) of a cursor this server issued; anything else is a 422 naming ``cursor``."""
    found = cursors.read_at(_CURSOR_PURPOSE, cursor)
    if found is None or (found[0] is not None and found[0].utcoffset() != timedelta(0)):
        raise CursorInvalid()
    return found


_P = sa.bindparam


@functools.lru_cache(maxsize=512)
def _queue_statement(scope: str, category: bool, assignee: bool, overdue: bool | None, due_before: bool,
                     dated: bool, after: bool) -> sa.Select:
    """The queue's statement for one shape of request, built once: values travel as parameters
    (lists as expanding parameters), so a request neither builds SQL nor computes a cache key."""
    query = _SUMMARY_SELECT.where(Case.status.in_(_P("statuses", expanding=True)))
    if scope == "neighbourhood":
        query = query.where(Case.neighbourhood_id == _P("neighbourhood_id"))
    elif scope == "streets":
        query = query.where(Case.street_id.in_(_P("street_ids", expanding=True)))
    elif scope == "streets+":
        query = query.where(sa.or_(Case.street_id.in_(_P("street_ids", expanding=True)),
                                   Case.neighbourhood_id.in_(_P("neighbourhood_ids", expanding=True))))
    else:
        query = query.where(Case.neighbourhood_id.in_(_P("neighbourhood_ids", expanding=True)))
    if category:
        query = query.where(Case.category_code == _P("category"))
    if assignee:
        query = query.where(Case.assignee_user_id == _P("assignee_id"))
    if overdue is True:
        query = query.where(Case.due_at < _P("now"))
    elif overdue is False:
        query = query.where(sa.or_(Case.due_at.is_(None), Case.due_at >= _P("now")))
    if due_before:
        query = query.where(Case.due_at < _P("due_before"))
    # Two keyset scans, each able to walk an index in order: cases with a deadline by
    # (due_at, id), then cases without one by id.
    if dated:
        if after:
            # A row-value comparison, so the index range starts right after the cursor. It is never true for a
            # case without a deadline, so it stands alone: with ``due_at IS NOT NULL`` beside it PostgreSQL
            # counts the cases without one out twice, expects a tenth of the rows past the cursor, and plans a
            # sort of all of them instead of reading the page off the index in order.
            query = query.where(sa.tuple_(Case.due_at, Case.id) > sa.tuple_(_P("after_due", type_=Case.due_at.type),
                                                                               _P("after_id")))
        else:
            query = query.where(Case.due_at.is_not(None))
        return query.order_by(Case.due_at, Case.id).limit(page_limit())
    query = query.where(Case.due_at.is_(None))
    if after:
        query = query.where(Case.id > _P("after_id"))
    return query.order_by(Case.id).limit(page_limit())


def staff_queue(actor: Actor, *, status: list[str] | None = None, category: str | None = None,
                neighbourhood_id: int | None = None, overdue: bool | None = None, due_before: datetime | None = None,
                assignee_id: int | None = None, cursor: str | None = None, limit: int = 20) -> tuple[list[sa.Row], str | None]:
    """Cases in the actor's scope, nearest deadline first (cases without one last), keyset-paginated.

    The rows are plain column rows (the attributes ``summary()`` reads), not ORM objects:
    the queue is the staff's hottest read and needs no identity map.
    """
    statuses = status or list(OPEN_STATUSES)
    if category is not None and rules.category(category) is None:
        raise CategoryUnknown()
    params = {"statuses": list(statuses), "category": category, "assignee_id": assignee_id, "now": clock.now(),
              "due_before": due_before}
    if neighbourhood_id is not None:
        if neighbourhood_id not in actor.neighbourhood_ids:
            raise NeighbourhoodOutOfScope()
        scope, params["neighbourhood_id"] = "neighbourhood", neighbourhood_id
    elif actor.street_ids:
        # Neighbourhoods a role names outside the streets (a street's staff member alone has none: no read).
        outside = actor.own_neighbourhood_ids - actor.street_neighbourhood_ids if actor.own_neighbourhood_ids \
            else set()
        scope = "streets+" if outside else "streets"
        params["street_ids"], params["neighbourhood_ids"] = sorted(actor.street_ids), sorted(outside)
    else:
        scope, params["neighbourhood_ids"] = "neighbourhoods", sorted(actor.neighbourhood_ids) or [-1]
    shape = (scope, category is not None and category != "", assignee_id is not None, overdue, due_before is not None)
    due, last_id = decode_cursor(cursor) if cursor else (None, None)
    rows: list[sa.Row] = []
    connection = db.session.connection()
    if cursor is None or due is not None:
        statement = _queue_statement(*shape, dated=True, after=due is not None)
        rows = connection.execute(statement, dict(params, after_due=due, after_id=last_id, limit=limit + 1)).all()
        last_id = None
    # Open cases always have a deadline (set at dispatch), so the second scan is needed
    # only when the filter asks for cases that are no longer open.
    if len(rows) <= limit and not set(statuses) <= set(OPEN_STATUSES):
        statement = _queue_statement(*shape, dated=False, after=last_id is not None)
        rows += connection.execute(statement, dict(params, after_id=last_id, limit=limit + 1 - len(rows))).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].due_at, rows[-1].id)
    return rows, next_cursor

