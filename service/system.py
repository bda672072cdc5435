"""Platform use-cases: idempotency records, the scheduler lease, readiness and purges."""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from config import ROOT
from models.base import db
from models.system import IdempotencyRecord, SchedulerLease
from service import auth, clock, redis_client
from service.db import reading, transactional
from service.platform_errors import IdempotencyInProgress, IdempotencyKeyReused

MIGRATIONS_DIR = ROOT / "migrations"


# --- idempotency ----------------------------------------------------------------------------------------

@dataclass
class Replay:
    status_code: int
    body: str
    headers: dict


@dataclass(frozen=True)
class Reservation:
    """A key reserved for the request handling it: the record and when it was reserved (the fence a
    request that overran its time and lost the key to a retry is stopped by)."""
    record_id: int
    reserved_at: datetime


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def begin_idempotent(scope: str, key: str, digest: str, ttl: timedelta, timeout: timedelta) -> Replay | Reservation:
    """Reserve ``key`` for this request, or return the stored response of the first one.

    Returns a reservation when the caller should go on and handle the request. A key still in progress
    after ``timeout`` (longer than any request runs: its worker died) is released to the same request's
    retry, which takes it over by one conditional UPDATE, so two retries at once cannot both take it.
    """
    try:
        outcome = _reserve(scope, key, digest, ttl, timeout)
    except sa.exc.IntegrityError:  # the same key reserved at the same moment: the first one's record decides
        return _recorded(scope, key, digest)
    if isinstance(outcome, _Taken):  # another retry took the key over first: what it left decides
        return _after_takeover(outcome.record_id, digest)
    return outcome


@dataclass(frozen=True)
class _Taken:
    """The key was taken over by another retry between our read and our UPDATE."""
    record_id: int


def _find(scope: str, key: str) -> IdempotencyRecord | None:
    return db.session.execute(sa.select(IdempotencyRecord).where(
        IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)).scalar_one_or_none()


@transactional
def _reserve(scope: str, key: str, digest: str, ttl: timedelta, timeout: timedelta) -> Replay | Reservation | _Taken:
    now = clock.now()
    record = _find(scope, key)
    if record is not None and record.expires_at <= now:
        db.session.delete(record)
        db.session.flush()
        record = None
    if record is None:
        record = IdempotencyRecord(scope=scope, key=key, fingerprint=digest, created_at=now, expires_at=now + ttl)
        db.session.add(record)
        db.session.flush()
        return Reservation(record.id, now)
    if record.status_code is None and record.fingerprint == digest and record.created_at <= now - timeout:
        taken = db.session.execute(sa.update(IdempotencyRecord).where(
            IdempotencyRecord.id == record.id, IdempotencyRecord.status_code.is_(None),
            IdempotencyRecord.created_at <= now - timeout).values(created_at=now)).rowcount
        return Reservation(record.id, now) if taken == 1 else _Taken(record.id)
    return _existing(record, digest)


@transactional
def _after_takeover(record_id: int, digest: str) -> Replay:
    db.session.expire_all()
    record = db.session.get(IdempotencyRecord, record_id)
    if record is None:
        raise IdempotencyInProgress()
    return _existing(record, digest)


@transactional
def _recorded(scope: str, key: str, digest: str) -> Replay:
    record = db.session.execute(sa.select(IdempotencyRecord).where(
        IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)).scalar_one()
    return _existing(record, digest)


def _existing(record: IdempotencyRecord, digest: str) -> Replay:
    if record.fingerprint != digest:
        raise IdempotencyKeyReused()
    if record.status_code is None:
        raise IdempotencyInProgress()
    return Replay(record.status_code, record.response_body or "", record.response_headers or {})


def finish_idempotent(reservation: Reservation, status_code: int, body: str, headers: dict) -> None:
    """Store a successful response for replay; forget the key after a failure so a retry can run.
    A request whose key a retry took over (it ran past the timeout) leaves the record to the retry."""
    db.session.rollback()  # whatever the request left open: the outcome is written in a transaction of its own
    _store_outcome(reservation, status_code, body, headers)


@transactional
def _store_outcome(reservation: Reservation, status_code: int, body: str, headers: dict) -> None:
    record = db.session.get(IdempotencyRecord, reservation.record_id)
    if record is None or record.status_code is not None or record.created_at != reservation.reserved_at:
        return
    if 200 <= status_code < 300:
        record.status_code = status_code
        record.response_body = body
        record.response_headers = headers
    else:
        db.session.delete(record)


@transactional
def purge_idempotency() -> int:
    result = db.session.execute(sa.delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < clock.now()))
    return result.rowcount or 0


def purge_expired() -> dict:
    """The platform's own job: expired token revocations and idempotency records."""
    return {"revoked_tokens": auth.purge_expired(), "idempotency_records": purge_idempotency()}


# --- the scheduler lease --------------------------------------------------------------------------------------

def acquire_lease(name: str, holder: str, seconds: int) -> bool:
    """Take or renew the lease ``name`` for ``holder``; True while this holder has it (committed at once).

    Works across processes and hosts on both databases: a single conditional
    UPDATE decides, and a dead holder's lease simply runs out.
    """
    try:
        return _take_lease(name, holder, seconds)
    except sa.exc.IntegrityError:  # another process made the lease's row at the same moment: it is there now
        return _take_lease(name, holder, seconds)


@transactional
def _take_lease(name: str, holder: str, seconds: int) -> bool:
    now = clock.now()
    until = now + timedelta(seconds=seconds)
    if db.session.get(SchedulerLease, name) is None:
        db.session.add(SchedulerLease(name=name, holder=None, expires_at=now))
        db.session.flush()
    taken = db.session.execute(sa.update(SchedulerLease).where(
        SchedulerLease.name == name,
        sa.or_(SchedulerLease.holder == holder, SchedulerLease.holder.is_(None), SchedulerLease.expires_at < now))
        .values(holder=holder, expires_at=until, acquired_at=sa.case(
            (SchedulerLease.holder == holder, SchedulerLease.acquired_at), else_=now))).rowcount
    return taken == 1


@transactional
def release_lease(name: str, holder: str) -> None:
    db.session.execute(sa.update(SchedulerLease).where(SchedulerLease.name == name, SchedulerLease.holder == holder)
                       .values(holder=None, expires_at=clock.now()))


def lease_holder(name: str) -> str | None:
    # The values are read in a transaction that ends with the block (touching an expired object after a
    # commit would open a new one and leave it open).
    with reading():
        row = db.session.execute(sa.select(SchedulerLease.holder, SchedulerLease.expires_at)
                                 .where(SchedulerLease.name == name)).first()
    if row is None or row.expires_at is None or row.expires_at < clock.now():
        return None
    return row.holder


# --- health ---------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def migrations_head() -> str | None:
    """The newest migration shipped with this code (read once per process)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def readiness() -> dict:
    """Database reachable and migrations at head (both needed); and Redis: ``off`` (not configured), ``ok``
    or ``degraded`` (configured but not answering: still ready, since nothing needs it; see redis_warnings)."""
    result = {"database": False, "migrations": False, "revision": None, "head": migrations_head(),
              "redis": redis_client.status()}
    try:
        revision = db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        result["database"] = True
        result["revision"] = revision
        result["migrations"] = revision is not None and revision == result["head"]
    except Exception:
        db.session.rollback()
        try:
            db.session.execute(sa.text("SELECT 1"))
            result["database"] = True
        except Exception:
            pass
    finally:
        db.session.rollback()
    return result


def redis_warnings(redis: str, lang: str = "zh") -> list[dict]:
    """What /readyz reports (a warning, not a failure) while Redis is configured but not answering."""
    if redis != "degraded":
        return []
    return [{"code": "redis.degraded",
             "message": ("Redis is not answering: each worker counts rate limits for itself until it is back "
                         "(sign-ins and revocations are unaffected)") if lang == "en" else
             "Redis 无法连接：恢复前各工作进程分别计算访问频率限制（登录与退出登录不受影响）"}]


def dumps(data) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
