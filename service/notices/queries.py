"""Reads of notices: a resident's list and a notice's detail (which records the first read), the notices staff
manage, a notice's audience counts, and the chase list of those who have not acknowledged it."""
from __future__ import annotations

import functools
from datetime import timedelta

import sqlalchemy as sa

from models.base import db
from models.notices import Notice, NoticeAttachment, NoticeAudience, NoticeScope
from models.uploads import Upload
from models.people import ResidentProfile, User
from models.places import Building, Neighbourhood, Unit
from service import audit, clock, csv_export, labels, people, privacy
from service.db import paged, rows_and_total, with_total
from service.meals.queries import lives_alone_sql
from service.notices import access, errors, rules
from service.people import Actor

# Listed to their audience: published, and those that ended (expired, withdrawn, superseded: shown as such).
SHOWN = ("published", "expired", "withdrawn", "superseded")


def _pinned(notice, now) -> bool:
    """Pinned as a reader sees it: a published notice still valid (expiry unpins it)."""
    return bool(notice.pinned and notice.state == "published" and (notice.valid_until is None or notice.valid_until > now))


def _summary(notice, lang: str, now, *, row=None) -> dict:
    """A notice in a list, as the answer's values (Shanghai times, every code with its label): ``notice`` a
    Notice or a row with its columns; ``row`` the reader's audience row (or the same row), for read and ack."""
    iso, name = clock.iso, labels.name
    item = {"id": notice.id, "category": notice.category,
            "category_name": name("notices", "category", notice.category, lang), "title": notice.title,
            "urgent": notice.urgent, "ack_required": notice.ack_required, "pinned": _pinned(notice, now),
            "state": notice.state, "state_name": name("notices", "state", notice.state, lang),
            "version": notice.version, "supersedes_id": notice.supersedes_id,
            "published_at": iso(notice.published_at), "publish_at": iso(notice.publish_at),
            "valid_until": iso(notice.valid_until), "event_at": iso(notice.event_at),
            "author_role": notice.author_role, "author_role_name": name("notices", "author_role", notice.author_role,
                                                                        lang)}
    if row is not None:
        item.update(read=row.read_at is not None, acked=row.acked_at is not None, acked_at=iso(row.acked_at),
                    ack_channel=row.ack_channel,
                    ack_channel_name=name("notices", "ack_channel", row.ack_channel, lang))
    return item


_MINE_COLUMNS = (Notice.id, Notice.category, Notice.title, Notice.urgent, Notice.ack_required, Notice.pinned,
                 Notice.state, Notice.version, Notice.supersedes_id, Notice.published_at, Notice.publish_at,
                 Notice.valid_until, Notice.event_at, Notice.author_role, NoticeAudience.read_at,
                 NoticeAudience.acked_at, NoticeAudience.ack_channel)


# The notices of one person read at most (newest first) and ordered here; pages past them are read from the
# database in the order of the notices' ids (older notices are no longer pinned).
MINE_WINDOW = 500


@functools.cache
def _mine_statement(unread_only: bool, window: int | None = None):
    """A person's notices newest first (``user_id`` a parameter), at most ``window``: built once per shape (a
    hot read), a Core statement on the session's connection."""
    query = (sa.select(*_MINE_COLUMNS).join(NoticeAudience, NoticeAudience.notice_id == Notice.id)
             .where(NoticeAudience.user_id == sa.bindparam("user_id"), Notice.state.in_(SHOWN))
             .order_by(NoticeAudience.notice_id.desc()))
    if unread_only:
        query = query.where(NoticeAudience.read_at.is_(None))
    return query if window is None else query.limit(window)


def mine(actor: Actor, *, page: int, page_size: int, unread_only: bool = False, lang: str = "zh") -> dict:
    """The notices that reached me: pinned ones first, then newest; the unread count of those still live.

    One simple statement (the person's rows by the index on (user_id, notice_id), newest first, at most
    MINE_WINDOW), ordered and counted here: a person receives a few hundred notices a year, and a statement
    with sorting and window counts costs the database more to plan than to run. Someone with more (years of
    notices) is counted in the database, and a page past the window reads the older ones by id."""
    now = clock.now()
    where = [NoticeAudience.user_id == actor.user_id, Notice.state.in_(SHOWN)]
    if unread_only:
        where.append(NoticeAudience.read_at.is_(None))
    rows = db.session.connection().execute(_mine_statement(unread_only, MINE_WINDOW),
                                           {"user_id": actor.user_id}).all()
    total = len(rows)
    unread_count = sum(1 for r in rows if r.read_at is None and r.state == "published")
    if total == MINE_WINDOW:   # more than the window: counted in the database
        total, unread_count = db.session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case(
                (sa.and_(NoticeAudience.read_at.is_(None), Notice.state == "published"), 1), else_=0)), 0))
            .select_from(NoticeAudience).join(Notice, Notice.id == NoticeAudience.notice_id).where(*where)).one()

    ordered = sorted(rows, key=lambda r: (not _pinned(r, now), -(r.published_at or now).timestamp(), -r.id))
    start, end = (page - 1) * page_size, page * page_size
    shown = ordered[start:end]
    if end > len(rows) and total > len(rows):   # past the window: the older notices, newest first
        shown += db.session.connection().execute(
            _mine_statement(unread_only).where(NoticeAudience.notice_id < min(r.id for r in rows))
            .offset(max(0, start - len(rows))).limit(end - max(start, len(rows))), {"user_id": actor.user_id}).all()
    items = [_summary(r, lang, now, row=r) for r in shown]
    return {"items": items, "page": page, "page_size": page_size, "total": total, "unread": int(unread_count)}


def _get(notice_id: int) -> Notice:
    notice = db.session.get(Notice, notice_id)
    if notice is None:
        raise errors.NoticeNotFound()
    return notice


def detail(actor: Actor, notice_id: int, lang: str = "zh") -> dict:
    """One notice for its audience (and those who manage it), with its places, files, versions and my
    acknowledgement; managers also get the audience counts."""
    notice = _get(notice_id)
    row = access.in_audience(actor.user_id, notice.id) if notice.state in SHOWN else None
    places = access.scopes_of(notice.id)
    manages = access.may_manage(actor, notice, places=places)
    if row is None and not manages:
        raise errors.NoticeNotFound()
    now = clock.now()
    item = _summary(notice, lang, now, row=row)
    superseded_by = db.session.execute(sa.select(Notice.id).where(Notice.supersedes_id == notice.id)).scalar()
    item.update(
        body=notice.body, correction_reason=notice.correction_reason, superseded_by=superseded_by,
        end_reason=notice.end_reason, ended_at=notice.ended_at, in_audience=row is not None, can_manage=manages,
        scopes=[{"type": p.scope_type, "type_name": labels.name("notices", "scope_type", p.scope_type, lang),
                 "id": p.scope_id, "name": p.name} for p in places],
        attachments=attachments(notice.id))
    if manages:
        item["audience"] = counts(notice.id, lang)
    return item


def attachments(notice_id: int) -> list[dict]:
    """A notice's files in their order: what each is, and its checksum (a signed statement's scan can be matched
    to the file its author kept)."""
    rows = db.session.execute(
        sa.select(Upload.id, Upload.content_type, Upload.name, Upload.size, Upload.pages, Upload.sha256,
                  Upload.received_sha256)
        .join(NoticeAttachment, NoticeAttachment.upload_id == Upload.id)
        .where(NoticeAttachment.notice_id == notice_id).order_by(NoticeAttachment.position)).all()
    return [{"upload_id": r.id, "url": f"/api/v1/uploads/{r.id}", "content_type": r.content_type, "name": r.name,
             "size": r.size, "pages": r.pages, "sha256": r.sha256, "received_sha256": r.received_sha256}
            for r in rows]


def counts(notice_id: int, lang: str = "zh") -> dict:
    """How many the notice reached, read and acknowledged it, by channel and by why they were in it."""
    a = NoticeAudience
    total, read, acked, proxy = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(a.read_at), sa.func.count(a.acked_at),
                  sa.func.count().filter(a.ack_proxy.is_(True)))
        .where(a.notice_id == notice_id)).one()
    channels = dict(db.session.execute(sa.select(a.ack_channel, sa.func.count()).where(
        a.notice_id == notice_id, a.acked_at.is_not(None)).group_by(a.ack_channel)).all())
    reasons = dict(db.session.execute(sa.select(a.reason, sa.func.count()).where(a.notice_id == notice_id)
                                      .group_by(a.reason)).all())
    return {"total": total, "read": read, "acked": acked, "not_acked": total - acked, "acked_by_proxy": proxy,
            "by_channel": [{"channel": c, "channel_name": labels.name("notices", "ack_channel", c, lang),
                            "count": channels[c]} for c in ("app", "phone", "door", "paper") if c in channels],
            "by_reason": [{"reason": r, "reason_name": labels.name("notices", "reason", r, lang),
                           "count": reasons[r]} for r in ("resident", "owner", "family") if r in reasons]}


# What a managed notice's line shows (``_summary`` and its audience count), not its body.
_MANAGED_COLUMNS = (Notice.id, Notice.category, Notice.title, Notice.urgent, Notice.ack_required, Notice.pinned,
                    Notice.state, Notice.version, Notice.supersedes_id, Notice.published_at, Notice.publish_at,
                    Notice.valid_until, Notice.event_at, Notice.author_role, Notice.audience_count)


@functools.lru_cache(maxsize=64)
def _managed_statement(listed_streets: bool, estates: bool, state: bool, *, staff: bool, streets: bool,
                       neighbourhoods: bool):
    """``managed``'s page with its total, built once per shape of caller (the keywords: ``manages_sql``'s): the
    ids travel as parameters."""
    mine = [Notice.author_user_id == sa.bindparam("user_id")]
    if listed_streets:
        mine.append(Notice.street_id.in_(sa.bindparam("listed_street_ids", expanding=True)))
    if estates:
        mine.append(sa.exists().where(NoticeScope.notice_id == Notice.id, NoticeScope.scope_type == "estate",
                                      NoticeScope.scope_id.in_(sa.bindparam("estate_ids", expanding=True))))
    # Not yet published (a draft, scheduled): only for those who may manage it, as its detail.
    where = [sa.or_(*mine), sa.or_(Notice.state.not_in(("draft", "scheduled")),
                                   access.manages_sql(staff=staff, streets=streets, neighbourhoods=neighbourhoods))]
    if state:
        where.append(Notice.state == sa.bindparam("state"))
    count = sa.select(sa.func.count()).select_from(Notice).where(*where)
    page = paged(sa.select(*_MANAGED_COLUMNS).where(*where).order_by(Notice.id.desc()))
    return with_total(page, count), count


def managed(actor: Actor, *, state: str | None, page: int, page_size: int, lang: str = "zh") -> tuple[list, int]:
    """Notices the actor wrote or whose street (staff) or estate (committee, property company) they cover,
    newest first; a draft or a scheduled notice only for those who may manage it. One statement for the page and
    its total."""
    streets = set(actor.street_ids)
    if actor.is_staff and actor.own_neighbourhood_ids:
        streets |= set(db.session.execute(sa.select(Neighbourhood.street_id).where(
            Neighbourhood.id.in_(sorted(actor.own_neighbourhood_ids)))).scalars())
    estates = set().union(*(actor.scope_ids(r, "estate") for r in access.ESTATE_ROLES))
    statement, count = _managed_statement(bool(streets) and actor.is_staff, bool(estates), state is not None,
                                          **access.manages_shape(actor))
    params = {"user_id": actor.user_id, "listed_street_ids": sorted(streets), "estate_ids": sorted(estates),
              "state": state, "limit": page_size, "offset": (page - 1) * page_size, **access.manages_params(actor)}
    rows, total = rows_and_total(statement, count, params)
    now = clock.now()
    return [{**_summary(n, lang, now), "audience_count": n.audience_count} for n in rows], total


# --- the chase list --------------------------------------------------------------------------------------------

_UNIT = sa.orm.aliased(Unit)
_BUILDING = sa.orm.aliased(Building)


def _chase_query(notice_id: int):
    a = NoticeAudience
    return (sa.select(a.user_id, a.reason, a.via_user_id, a.read_at, ResidentProfile,
                      lives_alone_sql(a.user_id).label("lives_alone"), _BUILDING.name.label("building"),
                      _UNIT.number.label("unit"))
            .join(User, User.id == a.user_id)
            .outerjoin(ResidentProfile, ResidentProfile.user_id == a.user_id)
            .outerjoin(_UNIT, _UNIT.id == a.unit_id).outerjoin(_BUILDING, _BUILDING.id == _UNIT.building_id)
            .where(a.notice_id == notice_id, a.acked_at.is_(None))
            # Elders living alone first, then by age band (fixed at publication: an index's order).
            .order_by(a.priority, a.user_id))


# A page of the chase list with its total beside each row (one statement), built once.
_CHASE_COUNT = sa.select(sa.func.count()).select_from(NoticeAudience).where(
    NoticeAudience.notice_id == sa.bindparam("notice_id"), NoticeAudience.acked_at.is_(None))
_CHASE_PAGE = paged(with_total(_chase_query(sa.bindparam("notice_id")), _CHASE_COUNT))


def chase(actor: Actor, notice_id: int, *, page: int, page_size: int, lang: str = "zh") -> tuple[list[dict], int]:
    """Who has not acknowledged the notice, elders living alone first: their name and phone in full for staff
    covering them (masked otherwise), their unit and why they are in the audience. An audited view."""
    notice = _get(notice_id)
    access.require_manage(actor, notice)
    params = {"notice_id": notice.id, "limit": page_size, "offset": (page - 1) * page_size}
    rows = db.session.execute(_CHASE_PAGE, params).all()
    total = rows[0].total if rows else db.session.execute(_CHASE_COUNT, params).scalar_one()
    today = clock.local_now().date()
    items = [_chase_item(actor, row, today, lang) for row in rows]
    audit.record_view(actor, "notice.chase_viewed", "notice", notice.id, street_id=notice.street_id)
    return items, total


def _chase_item(actor: Actor, row, today, lang: str) -> dict:
    profile = row.ResidentProfile
    full = people.covers_resident(actor, profile)
    phone = privacy.decrypt(profile.phone_enc) if profile is not None else None
    name = profile.name if profile is not None else None
    birth = profile.birth_date if profile is not None else None
    age = None if birth is None else today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    return {"user_id": row.user_id, "name": name if full else privacy.mask_name(name),
            "phone": phone if full else privacy.mask_phone(phone), "phone_masked": not full and phone is not None,
            "age": age, "lives_alone": bool(row.lives_alone), "reason": row.reason,
            "reason_name": labels.name("notices", "reason", row.reason, lang), "relative_of": row.via_user_id,
            "building": row.building, "unit": row.unit, "read": row.read_at is not None}


def chase_csv(actor: Actor, notice_id: int, lang: str = "zh") -> str:
    """The whole chase list as CSV (the same masking; one audited view)."""
    notice = _get(notice_id)
    access.require_manage(actor, notice)
    today = clock.local_now().date()
    rows = db.session.execute(_chase_query(notice.id).limit(100_000)).all()
    audit.record_view(actor, "notice.chase_viewed", "notice", notice.id, street_id=notice.street_id)
    en = lang == "en"
    header = (["user id", "name", "phone", "age", "lives alone", "why", "building", "unit", "read"] if en else
              ["用户编号", "姓名", "电话", "年龄", "独居", "关系", "楼栋", "室号", "已读"])
    yes, no = ("yes", "no") if en else ("是", "否")
    out = []
    for row in rows:
        item = _chase_item(actor, row, today, lang)
        out.append([item["user_id"], item["name"], item["phone"], item["age"], yes if item["lives_alone"] else no,
                    item["reason_name"], item["building"], item["unit"], yes if item["read"] else no])
    return csv_export.write(header, out)


def categories(lang: str = "zh") -> list[dict]:
    """The categories of config/rules/notices.yaml, with their names and who may publish each."""
    return [{"code": c.code, "name": labels.name("notices", "category", c.code, lang), "publishers": list(c.publishers),
             "publishers_names": labels.names("notices", "author_role", c.publishers, lang),
             "ack_required": c.ack_required} for c in rules.current().categories.values()]


# --- signals other domains read (an elder's welfare) -------------------------------------------------------------

def unacknowledged_urgent(user_ids, now) -> list[tuple[int, int]]:
    """(notice id, user id) of the published urgent notices that ask for acknowledgement, out longer than the
    chase delay (``policy.urgent_chase_after_minutes``), that these people (ids, or a SELECT of user ids) have not
    acknowledged."""
    ids = user_ids if isinstance(user_ids, sa.Select) else sorted(set(user_ids))
    if not isinstance(ids, sa.Select) and not ids:
        return []
    published_by = now - timedelta(minutes=rules.current().policy.urgent_chase_after_minutes)
    return [tuple(row) for row in db.session.execute(
        sa.select(NoticeAudience.notice_id, NoticeAudience.user_id).join(Notice, Notice.id == NoticeAudience.notice_id)
        .where(Notice.state == "published", Notice.urgent.is_(True), Notice.ack_required.is_(True),
               Notice.published_at <= published_by, NoticeAudience.acked_at.is_(None),
               NoticeAudience.user_id.in_(ids))
        .order_by(NoticeAudience.notice_id, NoticeAudience.user_id))]
