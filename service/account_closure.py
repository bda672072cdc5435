"""Closing an account (个人信息保护法 Art. 47): asked for with ``DELETE /api/v1/me``, cancellable for a
cooling-off week (``closure.cooling_off_days``), then carried out by the closure sweep.

Carrying it out runs every part of service/personal_data.py (each domain's, then the platform's) for the
person in ONE transaction, with the closure row locked: it either all happens or none of it does, and a sweep
that stopped half-way simply runs again. What each part did is kept on the closure row (``summary``) and in
the audit log; what is kept, and why, is each part's ``KEPT``. From then on the account cannot sign in (its
tokens are refused: the user row is inactive), its WeChat identity is gone (signing in again makes a new,
empty account), and the user row is a pseudonym with nothing personal on it.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.privacy import AccountClosure
from service import audit, clock, notifications, personal_data, rules
from service.db import is_unique_violation, reading, transactional
from service.platform_errors import ClosureDeadlinePassed, ClosureNotFound

log = logging.getLogger("linli.privacy")

_cooling_off: int | None = None


def load(directory=None) -> int:
    global _cooling_off
    days = (rules.load("privacy", directory).get("closure") or {}).get("cooling_off_days", 7)
    rules.require(isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= 30, "privacy.yaml",
                  "closure.cooling_off_days must be a whole number of days from 1 to 30")
    _cooling_off = days
    return days


def cooling_off_days() -> int:
    return _cooling_off or load()


def kept(lang: str = "zh") -> list[str]:
    """What a closure keeps, and why: every part's ``KEPT``."""
    return [pair[1] if lang == "en" else pair[0] for _name, part in personal_data.parts()
            for pair in getattr(part, "KEPT", [])]


def request(actor) -> AccountClosure:
    """Start closing the caller's account; asked again (or twice at once) it is the same closure."""
    try:
        return _request(actor.user_id)
    except sa.exc.IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        return _request(actor.user_id)


@transactional
def _request(user_id: int) -> AccountClosure:
    pending = _pending(user_id)
    if pending is not None:
        return pending
    now = clock.now()
    closure = AccountClosure(user_id=user_id, status="pending", requested_at=now,
                             erase_at=now + timedelta(days=cooling_off_days()))
    db.session.add(closure)
    db.session.flush()
    until = clock.local(closure.erase_at)
    notifications.notify(user_id, kind="privacy.closure_requested", dedupe_key=f"privacy.closure.{closure.id}",
                         title="您已申请注销账号",
                         body=f"账号将于 {until:%Y-%m-%d %H:%M} 注销，届时您的个人信息将被删除或匿名化；在此之前可随时撤销。")
    return closure


def _pending(user_id: int, *, lock: bool = False) -> AccountClosure | None:
    query = sa.select(AccountClosure).where(AccountClosure.user_id == user_id, AccountClosure.status == "pending")
    return db.session.execute(query.with_for_update() if lock else query).scalar_one_or_none()


def current(actor) -> AccountClosure:
    closure = db.session.execute(sa.select(AccountClosure).where(AccountClosure.user_id == actor.user_id)
                                 .order_by(AccountClosure.id.desc()).limit(1)).scalar_one_or_none()
    if closure is None:
        raise ClosureNotFound()
    return closure


@transactional
def cancel(actor) -> AccountClosure:
    """Cancel the caller's pending closure, before its day comes."""
    closure = _pending(actor.user_id, lock=True)
    if closure is None:
        raise ClosureNotFound()
    now = clock.now()
    if closure.erase_at <= now:
        raise ClosureDeadlinePassed()
    closure.status, closure.cancelled_at = "cancelled", now
    return closure


def present(closure: AccountClosure, lang: str = "zh") -> dict:
    return {"id": closure.id, "status": closure.status, "requested_at": closure.requested_at,
            "erase_at": closure.erase_at, "cancelled_at": closure.cancelled_at, "done_at": closure.done_at,
            "kept": kept(lang)}


# --- carrying it out -----------------------------------------------------------------------------------------------

def sweep(now: datetime | None = None, *, limit: int = 100) -> dict:
    """Close every account whose cooling-off week is over, each in its own transaction:
    {"closed": n, "failed": n}. A failure leaves that person's data untouched, to be tried again next run."""
    now = now or clock.now()
    with reading():
        due = db.session.execute(sa.select(AccountClosure.id).where(AccountClosure.status == "pending",
                                                                    AccountClosure.erase_at <= now)
                                 .order_by(AccountClosure.erase_at, AccountClosure.id).limit(limit)).scalars().all()
    done = {"closed": 0, "failed": 0}
    for closure_id in due:
        try:
            closed = close(closure_id, now)
        except Exception:  # noqa: BLE001 - one person's failure must not stop the others; retried next run
            # close() is one transaction: it was rolled back, nothing of it stays.
            log.exception("closing account (closure %s) failed; it stays pending", closure_id)
            done["failed"] += 1
            continue
        done["closed"] += closed is not None
    return done


@transactional
def close(closure_id: int, now: datetime) -> dict | None:
    """Carry out one closure, all of it or nothing. None when it is no longer due (cancelled, done)."""
    closure = db.session.execute(sa.select(AccountClosure).where(AccountClosure.id == closure_id)
                                 .with_for_update()).scalar_one_or_none()
    if closure is None or closure.status != "pending" or closure.erase_at > now:
        return None
    changed: dict[str, int] = {}
    parts = personal_data.parts()
    for _name, part in parts[1:] + parts[:1]:  # the domains first, the platform (and the user row) last
        changed.update(part.erase(closure.user_id, now))
    closure.status, closure.done_at = "done", now
    closure.summary = {"changed": changed, "kept": kept()}
    audit.record(None, "account.closed", "user", closure.user_id, after={"closure_id": closure.id, **changed})
    return changed
