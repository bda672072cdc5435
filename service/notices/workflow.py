"""Notice use-cases: draft, publish (now or at ``publish_at``), correct (a new version), withdraw; a resident's
first read and acknowledgement, for themself, by a relative, or recorded by staff. Each is one transaction
and returns what it wrote.

A published notice is never edited. Publication freezes the audience (service/notices/audience.py) in the
same transaction; the pinned limit per place is checked under the street's row lock, so two publications at
once cannot pin a fourth."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from models.base import db
from models.notices import Notice, NoticeAttachment, NoticeAudience, NoticeScope
from models.notifications import SubscriptionGrant
from models.places import Street
from service import audit, clock, notifications, people, uploads
from service.db import end_read_before_write, locked, transactional
from service.notices import access, audience, errors, queries, rules
from service.notices.access import Place
from service.people import Actor

LIVE = ("published",)


def _places(scopes: list[dict]) -> list[Place]:
    policy = rules.current().policy
    if len(scopes) > policy.max_scopes:
        raise errors.TooManyScopes(limit=policy.max_scopes)
    places, seen = [], set()
    for index, scope in enumerate(scopes):
        key = (scope["type"], scope["id"])
        if key in seen:
            continue
        seen.add(key)
        place = access.resolve(*key)
        if place is None:
            raise errors.ScopeUnknown(index=index + 1)
        places.append(place)
    if len({p.street_id for p in places}) > 1:
        raise errors.ScopesInTwoStreets()
    return places


def _check_times(data: dict, now, *, category: str) -> None:
    policy = rules.current().policy
    publish_at = data.get("publish_at") or now
    if publish_at < now - timedelta(minutes=policy.publish_at_past_minutes):
        raise errors.PublishAtPast(minutes=policy.publish_at_past_minutes)
    if publish_at > now + timedelta(days=policy.max_publish_ahead_days):
        raise errors.PublishAtTooFar(days=policy.max_publish_ahead_days)
    valid_until = data.get("valid_until")
    if data.get("urgent") and valid_until is None:
        raise errors.UrgentNeedsValidUntil()
    if valid_until is not None:
        if valid_until <= publish_at:
            raise errors.ValidUntilBeforePublish()
        if valid_until - publish_at > timedelta(days=policy.max_valid_days):
            raise errors.ValidTooLong(days=policy.max_valid_days)
    event_at = data.get("event_at")
    if category == "outage" and event_at is None:
        raise errors.OutageNeedsEventAt()
    if event_at is not None and abs(event_at - publish_at) > timedelta(days=policy.max_valid_days):
        raise errors.EventTooFar(days=policy.max_valid_days)


def _new_notice(actor: Actor, data: dict, now) -> tuple[Notice, list[Place]]:
    category = rules.current().category(data["category"])
    if category is None:
        raise errors.CategoryUnknown()
    places = _places(data["scopes"])
    role = access.author_role(actor, category, places)
    _check_times(data, now, category=category.code)
    attachments = data.get("attachments") or []
    limit = rules.current().policy.max_attachments
    if len(attachments) > limit:
        raise errors.TooManyAttachments(limit=limit)
    ack = data.get("ack_required")
    notice = Notice(street_id=places[0].street_id, category=category.code, title=data["title"], body=data["body"],
                    urgent=bool(data.get("urgent")),
                    ack_required=bool(data.get("urgent")) or (category.ack_required if ack is None else bool(ack)),
                    pinned=bool(data.get("pinned")), state="draft", publish_at=data.get("publish_at") or now,
                    valid_until=data.get("valid_until"), event_at=data.get("event_at"), version=1,
                    author_user_id=actor.user_id, author_role=role)
    db.session.add(notice)
    db.session.flush()
    notice.root_id = notice.id
    for place in places:
        db.session.add(NoticeScope(notice_id=notice.id, scope_type=place.scope_type, scope_id=place.scope_id))
    if attachments:
        uploads.claim_for(actor.user_id, attachments, f"notice:{notice.id}", field="attachments",
                          documents=True)
        for position, upload_id in enumerate(attachments):
            db.session.add(NoticeAttachment(notice_id=notice.id, upload_id=upload_id, position=position))
    return notice, places


@transactional
def create(actor: Actor, data: dict) -> Notice:
    """A new notice: a draft, or with ``publish`` published now (or scheduled for its ``publish_at``)."""
    return add(actor, data)


def add(actor: Actor, data: dict) -> Notice:
    """``create`` in the caller's transaction: for another domain's use-case that publishes a notice as part of
    what it does (a fund statement published to the estate)."""
    now = clock.now()
    notice, places = _new_notice(actor, data, now)
    if data.get("publish"):
        _publish(actor, notice, places, now)
    return notice


@transactional
def update_draft(actor: Actor, notice_id: int, data: dict) -> Notice:
    """Change a draft (a published notice is never edited: NotDraft)."""
    notice = _locked(notice_id)
    access.require_manage(actor, notice)
    if notice.state != "draft":
        raise errors.NotDraft()
    merged = {"category": notice.category, "urgent": notice.urgent, "publish_at": notice.publish_at,
              "valid_until": notice.valid_until, "event_at": notice.event_at, **data}
    category = rules.current().category(merged["category"])
    if category is None:
        raise errors.CategoryUnknown()
    if "scopes" in data:
        places = _places(data["scopes"])
        access.author_role(actor, category, places)
        db.session.execute(sa.delete(NoticeScope).where(NoticeScope.notice_id == notice.id))
        for place in places:
            db.session.add(NoticeScope(notice_id=notice.id, scope_type=place.scope_type, scope_id=place.scope_id))
        notice.street_id = places[0].street_id   # _places keeps a notice within one street
    else:
        access.author_role(actor, category, access.scopes_of(notice.id))
    _check_times(merged, clock.now(), category=category.code)
    for field in ("category", "title", "body", "urgent", "ack_required", "pinned", "publish_at", "valid_until",
                  "event_at"):
        if field in data:
            setattr(notice, field, data[field])
    if notice.urgent:
        notice.ack_required = True
    return notice


@transactional
def publish(actor: Actor, notice_id: int) -> Notice:
    """Publish a draft now, or schedule it for its ``publish_at`` (the sweep publishes it then)."""
    notice = _locked(notice_id)
    access.require_manage(actor, notice)
    if notice.state != "draft":
        raise errors.NotDraft()
    now = clock.now()
    if notice.publish_at < now - timedelta(minutes=rules.current().policy.publish_at_past_minutes):
        raise errors.PublishAtPast(minutes=rules.current().policy.publish_at_past_minutes)
    _publish(actor, notice, access.scopes_of(notice.id), now)
    return notice


def _publish(actor: Actor | None, notice: Notice, places: list[Place], now) -> None:
    """Publish (or schedule) ``notice``: the pinned limit, the frozen audience, the WeChat messages."""
    if notice.publish_at > now:
        notice.state = "scheduled"
        if actor is not None:
            audit.record(actor, "notice.scheduled", "notice", notice.id, street_id=notice.street_id,
                         after={"publish_at": clock.iso(notice.publish_at)})
        return
    if notice.pinned:
        _check_pinned(notice, places, now)
    notice.state, notice.published_at = "published", now
    notice.audience_count = audience.freeze(notice.id, places)
    _announce(notice)
    if actor is not None:
        audit.record(actor, "notice.published", "notice", notice.id, street_id=notice.street_id,
                     after={"audience": notice.audience_count, "version": notice.version})


def _check_pinned(notice: Notice, places: list[Place], now) -> None:
    limit = rules.current().policy.max_pinned_per_scope
    # Publications in one street wait for each other here, so the count below cannot go stale.
    db.session.execute(sa.select(Street.id).where(Street.id == notice.street_id).with_for_update())
    for place in places:
        pinned = db.session.execute(
            sa.select(sa.func.count()).select_from(Notice).join(NoticeScope, NoticeScope.notice_id == Notice.id)
            .where(NoticeScope.scope_type == place.scope_type, NoticeScope.scope_id == place.scope_id,
                   Notice.state == "published", Notice.pinned.is_(True), Notice.id != notice.id,
                   sa.or_(Notice.valid_until.is_(None), Notice.valid_until > now))).scalar()
        if pinned >= limit:
            raise errors.PinnedFull(scope=place.name, scope_en=f"{place.scope_type} {place.scope_id}", limit=limit)


def _announce(notice: Notice) -> int:
    """A WeChat message to each member of the audience who granted one for notices (a one-time grant each);
    everyone else finds it in the list, and staff chase those who must acknowledge it."""
    template = notifications.template_for("notices.published")
    if template is None:
        return 0
    granted = db.session.execute(
        sa.select(NoticeAudience.user_id).where(NoticeAudience.notice_id == notice.id, sa.exists().where(
            SubscriptionGrant.user_id == NoticeAudience.user_id,
            SubscriptionGrant.template_id == template["template_id"], SubscriptionGrant.consumed_at.is_(None)))
    ).scalars().all()
    body = notice.body if len(notice.body) <= 60 else notice.body[:59] + "…"
    notifications.notify_many([{"user_id": uid, "kind": "notices.published", "dedupe_key": f"notice:{notice.id}:{uid}",
                                "title": notice.title, "body": body, "link": f"/notices/{notice.id}",
                                "data": {"notice_id": notice.id}} for uid in granted])
    return len(granted)


def publish_due_one(notice_id: int, now) -> bool:
    """The sweep's step: publish one scheduled notice whose time has come (False if it is no longer due)."""
    notice = locked(Notice, notice_id)
    if notice is None or notice.state != "scheduled" or notice.publish_at > now:
        return False
    _publish(None, notice, access.scopes_of(notice.id), now)
    return True


@transactional
def correct(actor: Actor, notice_id: int, data: dict) -> Notice:
    """Publish a corrected version of a published notice: a new notice (``supersedes_id`` the old one) with a
    reason, published at once with its own audience; the old one becomes ``superseded`` and stays visible."""
    old = _locked(notice_id)
    access.require_manage(actor, old)
    if old.state != "published":
        raise errors.NotLive(state=old.state)
    now = clock.now()
    scopes = data.get("scopes") or [{"type": s.scope_type, "id": s.scope_id} for s in access.scopes_of(old.id)]
    fields = {"category": old.category, "title": old.title, "body": old.body, "urgent": old.urgent,
              "ack_required": old.ack_required, "pinned": old.pinned, "valid_until": old.valid_until,
              "event_at": old.event_at, **{k: v for k, v in data.items() if k != "reason"}, "scopes": scopes,
              "publish_at": now, "attachments": []}
    new, places = _new_notice(actor, fields, now)
    new.version, new.root_id, new.supersedes_id, new.correction_reason = (old.version + 1, old.root_id or old.id,
                                                                          old.id, data["reason"])
    for attachment in db.session.execute(sa.select(NoticeAttachment).where(NoticeAttachment.notice_id == old.id)
                                         ).scalars():
        db.session.add(NoticeAttachment(notice_id=new.id, upload_id=attachment.upload_id,
                                        position=attachment.position))
    old.state, old.ended_at, old.end_reason, old.pinned = "superseded", now, data["reason"], False
    db.session.flush()
    _publish(None, new, places, now)
    audit.record(actor, "notice.corrected", "notice", new.id, street_id=new.street_id,
                 before={"notice_id": old.id, "version": old.version},
                 after={"version": new.version, "reason": data["reason"], "audience": new.audience_count})
    return new


@transactional
def withdraw(actor: Actor, notice_id: int, reason: str) -> Notice:
    """Withdraw a scheduled or published notice (it stays visible to its audience, marked withdrawn)."""
    notice = _locked(notice_id)
    access.require_manage(actor, notice)
    if notice.state not in ("scheduled", "published", "draft"):
        raise errors.NotLive(state=notice.state)
    before = notice.state
    notice.state, notice.ended_at, notice.end_reason, notice.pinned = "withdrawn", clock.now(), reason, False
    audit.record(actor, "notice.withdrawn", "notice", notice.id, street_id=notice.street_id,
                 before={"state": before}, after={"reason": reason})
    return notice


def _locked(notice_id: int) -> Notice:
    notice = locked(Notice, notice_id)
    if notice is None:
        raise errors.NoticeNotFound()
    return notice


@transactional
def record_read(user_id: int, notice_id: int) -> bool:
    """The first read of a notice by a member of its audience (later reads change nothing)."""
    table = NoticeAudience.__table__
    return db.session.execute(table.update().where(
        table.c.notice_id == notice_id, table.c.user_id == user_id, table.c.read_at.is_(None))
        .values(read_at=clock.now())).rowcount == 1


@transactional
def acknowledge(actor: Actor, notice_id: int, *, for_user_id: int | None = None,
                channel: str | None = None) -> NoticeAudience:
    """我已知晓: by the person (channel app); for them by a confirmed relative (app, recorded as proxy); or recorded
    by staff managing the notice who told them by phone, at the door or on paper (proxy). Acknowledging twice
    changes nothing: the first acknowledgement stands."""
    notice = db.session.get(Notice, notice_id)
    target = actor.user_id if for_user_id is None else for_user_id
    if notice is None or notice.state in ("draft", "scheduled"):
        raise errors.NoticeNotFound()
    row = access.in_audience(target, notice.id)
    if target == actor.user_id:
        if row is None:
            raise errors.NoticeNotFound()
        how = "self"
    else:
        how = people.acts_as(actor, target)
        if how != "family" and not access.may_manage(actor, notice):
            raise errors.NotManager()
        if how != "family":
            how = "staff"
        if row is None:
            raise errors.NotInAudience()
    if not notice.ack_required:
        raise errors.AckNotAsked()
    if notice.state != "published":
        raise errors.NotLive(state=notice.state)
    if how == "staff":
        if channel not in ("phone", "door", "paper"):
            raise errors.StaffChannelRequired()
    elif channel not in (None, "app"):
        raise errors.ChannelNotForSelf()
    if row.acked_at is not None:
        return row
    now = clock.now()
    table = NoticeAudience.__table__
    done = db.session.execute(table.update().where(
        table.c.notice_id == notice.id, table.c.user_id == target, table.c.acked_at.is_(None)).values(
        acked_at=now, acked_by_user_id=actor.user_id, ack_channel=channel or "app", ack_proxy=how != "self",
        read_at=sa.func.coalesce(table.c.read_at, now))).rowcount
    if done and how != "self":
        audit.record(actor, "notice.acknowledged_for", "notice", notice.id, street_id=notice.street_id,
                     subject_user_id=target, after={"user_id": target, "channel": channel or "app", "as": how})
    db.session.expire(row)
    return access.in_audience(target, notice.id)


def open_notice(actor: Actor, notice_id: int, lang: str = "zh") -> dict:
    """A notice as its reader sees it (``queries.detail``); a member of its audience opening it for the first
    time has the read recorded (one conditional UPDATE, only then)."""
    item = queries.detail(actor, notice_id, lang)
    if item["in_audience"] and not item.get("read"):
        end_read_before_write()
        record_read(actor.user_id, notice_id)
        item["read"] = True
    return item
