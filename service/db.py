"""Transaction boundary for use-cases: commit everything or nothing."""
from __future__ import annotations

import fcntl
import functools
import logging
import os
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy.orm.exc import StaleDataError

from models.base import db
from service.platform_errors import ConcurrentUpdate, RequestTooSlow

_log = logging.getLogger("linli.db")


# How the next transaction starts on SQLite (api/app.py's BEGIN hook reads it): "deferred"
# inside reading(), "immediate" inside a use-case, None: by the request's method.
_BEGIN_MODE: ContextVar[str | None] = ContextVar("linli_begin_mode", default=None)


def begin_mode() -> str | None:
    return _BEGIN_MODE.get()


# The time.monotonic() by which a use-case must commit, or None. A request that holds an Idempotency-Key
# sets it (api/idempotency.py): a retry may take the key over once the request has run REQUEST_TIMEOUT_SECONDS,
# and gunicorn's threaded workers do not stop a request that runs longer, so a late request gives up its
# write instead of committing beside the retry's.
_COMMIT_DEADLINE: ContextVar[float | None] = ContextVar("linli_commit_deadline", default=None)


def set_commit_deadline(deadline: float | None):
    """Set (or clear, with None) this request's commit deadline; returns the token to reset it with."""
    return _COMMIT_DEADLINE.set(deadline)


def reset_commit_deadline(token) -> None:
    _COMMIT_DEADLINE.reset(token)


def _check_commit_deadline() -> None:
    deadline = _COMMIT_DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline:
        raise RequestTooSlow()


@contextmanager
def reading(keep: bool = False):
    """Reads that need no write lock, in a request that writes (loading the caller, building
    the answer after the use-case committed).

    On SQLite a transaction the block opens starts with a plain BEGIN instead of
    ``BEGIN IMMEDIATE``, and it is ended when the block ends, so the write lock is
    held only while a use-case runs. A write inside the block must be the first
    statement of its transaction (SQLite then waits for the lock as usual).

    With ``keep`` the transaction stays open after the block, so the use-case's own
    reads join it (one snapshot, one BEGIN and COMMIT fewer); the next ``transactional``
    use-case ends it before it takes the write lock on SQLite and goes on in it on
    PostgreSQL; else the request's end ends it.
    """
    opened = not db.session().in_transaction()
    token = _BEGIN_MODE.set("deferred")
    try:
        yield
    except BaseException:
        _BEGIN_MODE.reset(token)
        if opened:
            db.session.rollback()
        raise
    _BEGIN_MODE.reset(token)
    if not opened:
        return
    session = db.session()
    if keep and session.in_transaction():
        session.info["kept_read"] = True
    else:
        _commit_read(session)


def _commit_read(session) -> None:
    """End a transaction that only read without expiring what was read."""
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def _end_kept_read() -> None:
    """Before a use-case: on SQLite a read kept open ends (the use-case's transaction must begin with
    BEGIN IMMEDIATE); elsewhere the use-case goes on in it (one transaction, one commit)."""
    session = db.session()
    if not session.info.pop("kept_read", False) or not session.in_transaction():
        return
    if session.get_bind().dialect.name == "sqlite":
        _commit_read(session)


def _mark_written(session, flush_context) -> None:
    session.info["wrote"] = True


def _clear_written(session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended (not a savepoint)
        session.info.pop("wrote", None)
        session.info.pop("kept_read", None)


def track_writes() -> None:
    """Remember, per transaction, whether the session flushed anything (see end_read_transaction)."""
    import sqlalchemy as sa

    session = db.session
    if not sa.event.contains(session, "after_flush", _mark_written):
        sa.event.listen(session, "after_flush", _mark_written)
        sa.event.listen(session, "after_transaction_end", _clear_written)


def end_read_transaction(error: BaseException | None = None) -> None:
    """At the end of a request, a transaction that only read is committed rather than rolled back.

    The two end the same way for the database, but psycopg forgets every statement it has
    prepared on the connection at each ROLLBACK (and sends DEALLOCATE ALL), so on PostgreSQL
    the hot queries would be parsed and planned afresh by every request. A transaction that
    flushed anything, or a request that failed, is left to the usual rollback; every write
    goes through ``transactional``, which has committed or rolled back already.
    """
    if error is not None or not db.session.registry.has():
        return
    session = db.session()
    if not session.in_transaction() or session.info.get("wrote") or session.new or session.dirty or session.deleted:
        return
    try:
        session.commit()
    except Exception:  # noqa: BLE001 - a read's end must not fail the answer already built
        _log.warning("ending a read transaction failed; it is rolled back", exc_info=True)
        try:
            session.rollback()
        except Exception:  # noqa: BLE001 - the session is removed next; the pool drops a broken connection
            _log.warning("rolling back a read transaction failed", exc_info=True)


_GATES: dict[str, str | None] = {}


def _gate_path() -> str | None:
    """The lock file that queues SQLite writers (None on PostgreSQL or an in-memory database)."""
    engine = db.session.get_bind().engine
    key = str(engine.url)
    if key not in _GATES:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        ok = database and database != ":memory:" and not database.startswith("file:")
        _GATES[key] = f"{database}-writegate" if ok else None
    return _GATES[key]


@contextmanager
def _write_gate():
    """On SQLite, queue the use-cases of every thread and process in turn before they ask
    for the write lock. SQLite's own busy handler polls with growing sleeps, so under load
    a waiting writer often sleeps while the lock is free; an flock() on a file next to
    the database wakes the next writer as soon as the previous one has committed. Taken
    only when no transaction is open (a transaction that may already hold the write lock
    must not wait for the gate); released when the process dies. Each thread keeps its
    own descriptor of the file open (flock excludes descriptors, not threads)."""
    path = _gate_path()
    if path is None or db.session().in_transaction():
        yield
        return
    fd = _gate_descriptor(path)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


_THREAD = threading.local()


def _gate_descriptor(path: str) -> int:
    """This thread's descriptor of the gate file, opened again in a forked child (a descriptor
    inherited from the parent shares its lock) or for another database."""
    held = getattr(_THREAD, "gate", None)
    if held is not None and held[:2] == (os.getpid(), path):
        return held[2]
    if held is not None and held[0] == os.getpid():
        os.close(held[2])
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    _THREAD.gate = (os.getpid(), path, fd)
    return fd


def transactional(fn=None, *, stale=None):
    """Run a use-case in one transaction: commit on success, roll back on any error.

    A row changed by someone else meanwhile (a versioned row's UPDATE matched
    nothing) becomes a 409: ``stale()`` when given, else a generic conflict.
    """

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            _end_kept_read()  # a read kept open by reading(keep=True) ends before the write lock
            token = _BEGIN_MODE.set("immediate")
            try:
                with _write_gate():
                    return _run(fn, args, kwargs, stale)
            finally:
                _BEGIN_MODE.reset(token)

        return wrapper

    return decorate(fn) if fn is not None else decorate


def _run(fn, args, kwargs, stale):
    try:
        result = fn(*args, **kwargs)
        _check_commit_deadline()
        db.session.commit()
        return result
    except StaleDataError:
        db.session.rollback()
        raise (stale() if stale else ConcurrentUpdate()) from None
    except BaseException:
        db.session.rollback()
        raise


def is_unique_violation(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "unique" in text or "duplicate key" in text


def paginate(query, page: int, page_size: int):
    """Return (items, total) of a select() for page ``page`` (1-based)."""
    import sqlalchemy as sa

    total = db.session.execute(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    items = db.session.execute(query.limit(page_size).offset((page - 1) * page_size)).scalars().all()
    return items, total


def add_unique(obj, conflict: Exception):
    """Add ``obj``; if a unique constraint refuses it, raise ``conflict`` (the transaction stays usable)."""
    import sqlalchemy as sa

    try:
        with db.session.begin_nested():
            db.session.add(obj)
    except sa.exc.IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise conflict from None
    return obj
