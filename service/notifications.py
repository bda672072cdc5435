"""Notifications: a per-user inbox, one-time subscribe-message consents, and
WeChat delivery. Every notification has a dedupe key, so a sweep that runs
twice, or again after a crash, sends nothing twice and loses nothing."""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from models.base import db
from models.notifications import Delivery, Notification, SubscriptionGrant
from models.people import WeChatAccount
from service import clock, registry, rules
from service.db import paged, transactional
from service.platform_errors import NotificationNotFound, TemplateUnknown
from service.wechat import WeChatClient, WeChatError

log = logging.getLogger("linli.notifications")

MAX_GRANTS_PER_CALL = 20
# A sweep claims a delivery ("sending", its claim time in updated_at) before calling WeChat. A claim older
# than the lease belongs to a sweep that died during the send: another sweep takes it again. The lease is
# far longer than a send can take (WECHAT_TIMEOUT, 5 s), so a live sender is never doubled.
SENDING_LEASE = timedelta(minutes=10)
# Claims of one delivery, first send included; one interrupted this often is failed and reported.
MAX_ATTEMPTS = 3

_templates: dict = {}


def load_templates(directory=None) -> dict:
    global _templates
    data = rules.load("notifications", directory)
    templates = data.get("templates") or {}
    rules.require(isinstance(templates, dict), "notifications.yaml", "'templates' must be a mapping")
    if directory is None:  # then each domain's: the notifications: section of its rules file
        for domain in registry.domains():
            section = rules.load(domain.name).get("notifications") or {}
            rules.require(isinstance(section, dict), f"{domain.name}.yaml", "'notifications' must be a mapping")
            templates = {**templates, **section}
    for kind, spec in templates.items():
        rules.require(isinstance(spec, dict) and isinstance(spec.get("template_id"), str),
                      "notifications.yaml", f"template {kind!r} needs a template_id")
        rules.require(isinstance(spec.get("fields", {}), dict), "notifications.yaml",
                      f"template {kind!r}: fields must be a mapping")
    _templates = templates
    return templates


def template_for(kind: str) -> dict | None:
    return _templates.get(kind)


@functools.lru_cache(maxsize=4)
@functools.cache
def _statements(dialect: str) -> tuple:
    """The notice's INSERT … ON CONFLICT (dedupe_key) DO NOTHING (with RETURNING id, and without, for many
    notices at once) and its delivery's INSERT, built once per database kind (both have ON CONFLICT and
    RETURNING); the values travel as parameters."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = Notification.__table__
    quiet = insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return quiet.returning(table.c.id), insert(Delivery.__table__), quiet


def notify(user_id: int, *, kind: str, dedupe_key: str, title: str, body: str, link: str | None = None,
           data: dict | None = None) -> bool:
    """Queue a notification in the caller's transaction. Returns False when the key was already used.

    One INSERT … ON CONFLICT (dedupe_key) DO NOTHING: a key already used, or taken by a
    concurrent writer, inserts nothing and leaves the caller's transaction intact.
    """
    # Core statements on the session's connection: no ORM objects involved. Pending objects
    # are flushed first, as session.execute would (the notice may refer to them).
    db.session.flush()
    connection = db.session.connection()
    notice, delivery, _ = _statements(connection.dialect.name)
    notification_id = connection.execute(notice, {
        "user_id": user_id, "kind": kind, "dedupe_key": dedupe_key, "title": title[:100], "body": body[:1000],
        "link": link, "data": data}).scalar()
    if notification_id is None:
        return False
    template = template_for(kind)
    if template is not None:
        connection.execute(delivery, {"notification_id": notification_id, "template_id": template["template_id"]})
    return True


def unsent(messages: list[dict]) -> list[dict]:
    """The messages whose dedupe key no notification has used yet (a sweep that reports what it sent)."""
    keys = [n["dedupe_key"] for n in messages]
    if not keys:
        return []
    used = set(db.session.execute(sa.select(Notification.dedupe_key)
                                  .where(Notification.dedupe_key.in_(keys))).scalars())
    return [n for n in messages if n["dedupe_key"] not in used]


def notify_many(messages: list[dict]) -> None:
    """``notify`` for many messages (each a dict of its arguments with ``user_id``) in the caller's transaction:
    those of a kind with no WeChat template in one statement, the others one by one (their delivery needs
    the notice's id). A key already used inserts nothing, as in ``notify``."""
    quiet = [n for n in messages if template_for(n["kind"]) is None]
    for n in messages:
        if template_for(n["kind"]) is not None:
            notify(**n)
    if not quiet:
        return
    db.session.flush()
    connection = db.session.connection()
    connection.execute(_statements(connection.dialect.name)[2], [
        {"user_id": n["user_id"], "kind": n["kind"], "dedupe_key": n["dedupe_key"], "title": n["title"][:100],
         "body": n["body"][:1000], "link": n.get("link"), "data": n.get("data")} for n in quiet])


_INBOX_COUNTS = sa.select(sa.func.count(), sa.func.count(Notification.read_at)).where(
    Notification.user_id == sa.bindparam("user_id"))
# A page of the inbox with the two counts beside each row (computed once: the subqueries name no column of the
# row), so a page that has items is one statement; an empty page asks for the counts alone.
_EVERYTHING = _INBOX_COUNTS.with_only_columns(sa.func.count()).correlate(None).scalar_subquery()
_READ = _INBOX_COUNTS.with_only_columns(sa.func.count(Notification.read_at)).correlate(None).scalar_subquery()
_INBOX_PAGE = {unread_only: paged(sa.select(*Notification.__table__.c, _EVERYTHING.label("everything"),
                                            _READ.label("read"))
                                  .where(Notification.user_id == sa.bindparam("user_id"),
                                         *((Notification.read_at.is_(None),) if unread_only else ()))
                                  .order_by(Notification.id.desc()))
               for unread_only in (False, True)}


def inbox(user_id: int, *, unread_only: bool, page: int, page_size: int) -> tuple[list, int, int]:
    """A page of the inbox, newest first: (items, total of the list asked for, unread). The items are rows of
    the notification's columns; the counts come with them (one statement), or alone for an empty page."""
    items = db.session.connection().execute(_INBOX_PAGE[unread_only], {
        "user_id": user_id, "limit": page_size, "offset": (page - 1) * page_size}).all()
    if items:
        everything, read = items[0].everything, items[0].read
    else:
        everything, read = db.session.connection().execute(_INBOX_COUNTS, {"user_id": user_id}).one()
    unread = everything - read
    return items, unread if unread_only else everything, unread


@transactional
def mark_read(user_id: int, notification_id: int) -> Notification:
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != user_id:
        raise NotificationNotFound()
    if notification.read_at is None:
        notification.read_at = clock.now()
    return notification


@transactional
def mark_all_read(user_id: int) -> int:
    result = db.session.execute(sa.update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)).values(read_at=clock.now()))
    return result.rowcount or 0


@transactional
def record_grants(user_id: int, template_ids: list[str]) -> int:
    """Record the templates the user accepted in wx.requestSubscribeMessage: one send each."""
    known = {spec["template_id"] for spec in _templates.values()}
    for index, template_id in enumerate(template_ids):
        if template_id not in known:
            raise TemplateUnknown(f"template_ids.{index}")
    for template_id in template_ids:
        db.session.add(SubscriptionGrant(user_id=user_id, template_id=template_id))
    return len(template_ids)


def open_grants(user_id: int) -> dict[str, int]:
    rows = db.session.execute(sa.select(SubscriptionGrant.template_id, sa.func.count()).where(
        SubscriptionGrant.user_id == user_id, SubscriptionGrant.consumed_at.is_(None))
        .group_by(SubscriptionGrant.template_id))
    return {template_id: count for template_id, count in rows}


def _claim_grant(user_id: int, template_id: str) -> int | None:
    """Consume one open grant atomically; None when the user has none left."""
    for _ in range(3):
        grant_id = db.session.execute(sa.select(SubscriptionGrant.id).where(
            SubscriptionGrant.user_id == user_id, SubscriptionGrant.template_id == template_id,
            SubscriptionGrant.consumed_at.is_(None)).order_by(SubscriptionGrant.id).limit(1)).scalar()
        if grant_id is None:
            return None
        taken = db.session.execute(sa.update(SubscriptionGrant).where(
            SubscriptionGrant.id == grant_id, SubscriptionGrant.consumed_at.is_(None))
            .values(consumed_at=clock.now())).rowcount
        if taken == 1:
            return grant_id
    return None


def _template_data(notification: Notification, spec: dict) -> dict:
    values = {"title": notification.title[:20], "body": notification.body[:20],
              "time": notification.created_at.astimezone(clock.SHANGHAI).strftime("%Y-%m-%d %H:%M")}
    values.update({k: v for k, v in (notification.data or {}).items() if isinstance(v, (str, int, float))})
    return {key: values.get(source, "") for key, source in spec.get("fields", {}).items()}


_CLAIMABLE = sa.or_(Delivery.status == "pending",
                    sa.and_(Delivery.status == "sending", Delivery.updated_at < sa.bindparam("stale"),
                            Delivery.attempts < MAX_ATTEMPTS))


def deliver_pending(client: WeChatClient, *, limit: int = 200) -> dict:
    """Send the pending WeChat deliveries, and those whose sender died during the send.

    Each is claimed before the call by one conditional UPDATE ("sending", attempts + 1, the claim time):
    of two sweeps one wins, and a claim is taken again only after ``SENDING_LEASE``. The outcome is written
    only while the claim is still this sweep's (its attempt number), so a sender that overran its lease
    cannot overwrite the retry's. A retry sends under the consent its interrupted attempt consumed: if that
    attempt reached WeChat, WeChat refuses the second message (the consent is spent) and it is failed. A
    delivery interrupted ``MAX_ATTEMPTS`` times is failed ("interrupted") and reported like any failure.
    No transaction is open while WeChat is called."""
    counts = {"sent": 0, "skipped": 0, "failed": 0}
    now = clock.now()
    stale = now - SENDING_LEASE
    given_up, ids = _start_sweep(now, stale, limit)
    if given_up:
        log.warning("%d WeChat deliveries failed: interrupted %d times", given_up, MAX_ATTEMPTS)
        counts["failed"] += given_up
    for delivery_id in ids:
        outcome = _deliver_one(client, delivery_id, stale)
        if outcome is not None:
            counts[outcome] += 1
    return counts


@transactional
def _start_sweep(now, stale, limit: int) -> tuple[int, list[int]]:
    """Fail the deliveries interrupted ``MAX_ATTEMPTS`` times; the ids of those to claim."""
    given_up = db.session.execute(sa.update(Delivery).where(
        Delivery.status == "sending", Delivery.updated_at < stale, Delivery.attempts >= MAX_ATTEMPTS)
        .values(status="failed", last_error="interrupted", updated_at=now)).rowcount or 0
    ids = list(db.session.execute(sa.select(Delivery.id).where(_CLAIMABLE).order_by(Delivery.id).limit(limit),
                                  {"stale": stale}).scalars())
    return given_up, ids


@dataclass(frozen=True)
class _Message:
    openid: str
    template_id: str
    data: dict
    page: str | None


class _ClaimLost(Exception):
    """The delivery's claim was taken over meanwhile: nothing is consumed."""


def _deliver_one(client: WeChatClient, delivery_id: int, stale) -> str | None:
    attempt = _claim(delivery_id, stale)
    if attempt is None:
        return None  # another sweep holds it
    mine = sa.and_(Delivery.id == delivery_id, Delivery.status == "sending", Delivery.attempts == attempt)
    try:
        message = _prepare(client, delivery_id, mine)
    except _ClaimLost:
        return None
    if not isinstance(message, _Message):
        return message  # skipped: nobody to send to, or no consent left
    try:
        client.send_subscribe(message.openid, message.template_id, message.data, page=message.page)
    except WeChatError as exc:
        return _finish(mine, "failed", status="failed", last_error=f"{exc.errcode}: {exc.errmsg}"[:200])
    except Exception:  # noqa: BLE001 - left "sending": taken again after the lease, like a crash
        db.session.rollback()
        log.exception("WeChat delivery %s: the send raised; it is retried after the lease", delivery_id)
        return None
    return _finish(mine, "sent", status="sent", sent_at=clock.now())


@transactional
def _claim(delivery_id: int, stale) -> int | None:
    """Claim the delivery for this sweep: its attempt number, or None when another sweep holds it."""
    return db.session.execute(sa.update(Delivery).where(Delivery.id == delivery_id, _CLAIMABLE)
                              .values(status="sending", attempts=Delivery.attempts + 1, updated_at=clock.now())
                              .returning(Delivery.attempts), {"stale": stale}).scalar()


@transactional
def _prepare(client: WeChatClient, delivery_id: int, mine) -> _Message | str | None:
    """The message to send, its consent consumed (committed before the send: one send per grant, ever);
    or the delivery skipped, when there is nobody to send it to or no consent left."""
    delivery = db.session.get(Delivery, delivery_id)
    notification = delivery.notification
    template_id, grant_id, user_id = delivery.template_id, delivery.grant_id, notification.user_id
    # An openid is only valid for the mini-program (appid) that issued it.
    openid = db.session.execute(sa.select(WeChatAccount.openid).where(
        WeChatAccount.user_id == user_id, WeChatAccount.appid == client.appid).order_by(WeChatAccount.id)).scalar()
    if not openid:  # also on a retry whose account has gone since: nobody to send to
        return _write_outcome(mine, "skipped", status="skipped", last_error="no wechat account")
    if grant_id is None:  # a retry keeps the consent its interrupted attempt consumed
        grant_id = _claim_grant(user_id, template_id)
    if grant_id is None:
        return _write_outcome(mine, "skipped", status="skipped", last_error="no subscription grant")
    spec = next((s for s in _templates.values() if s["template_id"] == template_id), {})
    message = _Message(openid, template_id, _template_data(notification, spec), _page(spec, notification))
    if db.session.execute(sa.update(Delivery).where(mine).values(grant_id=grant_id)).rowcount != 1:
        raise _ClaimLost()  # rolled back: the grant is not consumed
    return message


def _write_outcome(mine, outcome: str, **values) -> str | None:
    """Write the outcome while the claim is still this sweep's; a claim taken over is left to its taker."""
    done = db.session.execute(sa.update(Delivery).where(mine).values(updated_at=clock.now(), **values)).rowcount
    if done != 1:
        log.warning("a WeChat delivery's claim was taken over before its outcome (%s) was written", outcome)
        return None
    if outcome == "failed":
        log.warning("a WeChat delivery failed: %s", values.get("last_error"))
    return outcome


_finish = transactional(_write_outcome)  # the outcome after the send, in a transaction of its own


def _page(spec: dict, notification: Notification) -> str | None:
    page = spec.get("page")
    if page and notification.link:
        return f"{page}?{notification.link.split('?', 1)[-1]}" if "?" in notification.link else page
    return page
