"""The notice sweeps the scheduler runs (declared in jobs/notices.py): publish scheduled notices on time,
expire (and unpin) notices past ``valid_until``, tell staff who has not acknowledged an urgent notice two hours
after it went out (only between 08:00 and 20:00), and who has not acknowledged an outage by 18:00 the day
before it. Each reads what is due, then handles each notice in a transaction of its own; what was done is
recorded on the notice and every message carries a dedupe key, so a sweep run twice sends nothing twice."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.notices import Notice, NoticeAudience
from service import clock, notifications, people
from service.db import locked, reading, transactional
from service.notices import access, rules, workflow


def publish_due() -> dict:
    """Publish every scheduled notice whose ``publish_at`` has come (freezing its audience then)."""
    now = clock.now()
    with reading():
        due = db.session.execute(sa.select(Notice.id).where(Notice.state == "scheduled", Notice.publish_at <= now)
                                 .order_by(Notice.publish_at, Notice.id).limit(200)).scalars().all()
    published = sum(_publish_one(notice_id, now) for notice_id in due)
    return {"due": len(due), "published": published}


@transactional
def _publish_one(notice_id: int, now: datetime) -> bool:
    return workflow.publish_due_one(notice_id, now)


@transactional
def expire() -> dict:
    """Published notices past ``valid_until`` expire and are unpinned (one UPDATE)."""
    now = clock.now()
    done = db.session.execute(sa.update(Notice).where(
        Notice.state == "published", Notice.valid_until.is_not(None), Notice.valid_until <= now)
        .values(state="expired", pinned=False, ended_at=now).execution_options(synchronize_session=False)).rowcount
    return {"expired": done}


def _within_window(now: datetime) -> bool:
    policy = rules.current().policy
    local = clock.local(now).time()
    return policy.chase_from <= local < policy.chase_until


def chase_urgent() -> dict:
    """Two hours after an urgent notice that asks for acknowledgement went out, its managers get the number
    still to reach (the chase list is in the app); only between 08:00 and 20:00, else at 08:00."""
    now = clock.now()
    if not _within_window(now):
        return {"due": 0, "told": 0, "outside_hours": True}
    after = timedelta(minutes=rules.current().policy.urgent_chase_after_minutes)
    with reading():
        due = db.session.execute(sa.select(Notice.id).where(
            Notice.state == "published", Notice.urgent.is_(True), Notice.ack_required.is_(True),
            Notice.chased_at.is_(None), Notice.published_at <= now - after).order_by(Notice.id).limit(200)
        ).scalars().all()
    told = sum(_tell(notice_id, "chase", now) for notice_id in due)
    return {"due": len(due), "told": told}


def outage_eve() -> dict:
    """At 18:00 the day before an outage, its managers get the number who have not acknowledged it."""
    now = clock.now()
    deadline = rules.current().policy.outage_eve_deadline
    with reading():
        candidates = db.session.execute(sa.select(Notice.id, Notice.event_at).where(
            Notice.state == "published", Notice.category == "outage", Notice.event_at.is_not(None),
            Notice.eve_checked_at.is_(None), Notice.event_at > now).order_by(Notice.event_at).limit(500)).all()
    due = [nid for nid, event_at in candidates if now >= _eve_of(event_at, deadline)]
    told = sum(_tell(notice_id, "outage_eve", now) for notice_id in due)
    return {"due": len(due), "told": told}


def _eve_of(event_at: datetime, deadline) -> datetime:
    """18:00 (the policy's deadline) Shanghai time on the day before ``event_at``'s Shanghai date."""
    day = clock.local(event_at).date() - timedelta(days=1)
    return datetime.combine(day, deadline, tzinfo=clock.SHANGHAI)


def _managers(notice: Notice) -> list[int]:
    """Who is told about a notice's missing acknowledgements: its author and the staff of the 居委会 its places
    belong to."""
    neighbourhoods = {nb for place in access.scopes_of(notice.id) for nb in place.neighbourhood_ids}
    return sorted({notice.author_user_id, *people.role_holders("staff", "neighbourhood", neighbourhoods)})


@transactional
def _tell(notice_id: int, stage: str, now: datetime) -> int:
    notice = locked(Notice, notice_id)
    column = "chased_at" if stage == "chase" else "eve_checked_at"
    if notice is None or notice.state != "published" or getattr(notice, column) is not None:
        return 0
    setattr(notice, column, now)
    left = db.session.execute(sa.select(sa.func.count()).select_from(NoticeAudience).where(
        NoticeAudience.notice_id == notice.id, NoticeAudience.acked_at.is_(None))).scalar()
    if left == 0:
        return 0
    title = ("紧急通知尚有{n}人未确认" if stage == "chase" else "明日停水停电尚有{n}人未确认").format(n=left)
    body = f"《{notice.title}》：请在邻里工作台查看未确认名单，电话或上门告知（独居老人优先）。"
    users = _managers(notice)
    notifications.notify_many([{"user_id": uid, "kind": f"notices.{stage}", "dedupe_key": f"notice:{notice.id}:{stage}:{uid}",
                                "title": title, "body": body, "link": f"/notices/{notice.id}/chase",
                                "data": {"notice_id": notice.id, "not_acked": left}} for uid in users])
    return len(users)
