"""Transaction boundary for use-cases: commit everything or nothing; the reads around them (``reading``),
and the end of a request's read transaction. What SQLite needs besides lives in service/sqlite.py."""
from __future__ import annotations

import functools
import logging
import time
import weakref
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass

from sqlalchemy.orm.exc import StaleDataError

from models.base import db
from service import sqlite
from service.platform_errors import ConcurrentUpdate, RequestTooSlow

_log = logging.getLogger("linli.db")


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


# Whether the current request only reads (GET, HEAD, OPTIONS), as the api said at its start (start_request).
_READ_ONLY_REQUEST: ContextVar[bool] = ContextVar("linli_read_only_request", default=False)


@dataclass(frozen=True)
class RequestStarted:
    """What ``start_request`` set, for ``end_request`` to undo."""
    read_only: Token
    reads: Token


def start_request(read_only: bool) -> RequestStarted:
    """The api says at the start of each request whether it only reads (GET, HEAD, OPTIONS; ``end_request``
    at its end). The transactions of a read-only request begin as reads (on SQLite a plain BEGIN: readers
    never wait for one another), and there ``reading`` adds nothing: the request's reads are one transaction,
    ended when the request ends (``end_read_transaction``). A use-case in it still begins as a write."""
    return RequestStarted(_READ_ONLY_REQUEST.set(read_only), sqlite.begin_reads(read_only))


def end_request(started: RequestStarted) -> None:
    sqlite.end_reads(started.reads)
    _READ_ONLY_REQUEST.reset(started.read_only)


@dataclass
class _Read:
    keep: bool


# The innermost reading() block running (keep_read_open marks it).
_READ: ContextVar[_Read | None] = ContextVar("linli_reading", default=None)


@contextmanager
def reading(keep: bool = False):
    """Reads that need no write lock, in a request that writes (loading the caller, building
    the answer after the use-case committed); in a read-only request the block adds nothing.

    On SQLite a transaction the block opens starts with a plain BEGIN instead of
    ``BEGIN IMMEDIATE``, and it is ended when the block ends, so the write lock is
    held only while a use-case runs. A write inside the block must be the first
    statement of its transaction (SQLite then waits for the lock as usual).

    With ``keep`` (or when a read inside the block calls ``keep_read_open``) the
    transaction stays open after the block, so the use-case's own reads join it (one
    snapshot, one BEGIN and COMMIT fewer); the next ``transactional`` use-case ends it
    before it takes the write lock on SQLite and goes on in it on PostgreSQL; else the
    request's end ends it.
    """
    if _READ_ONLY_REQUEST.get():
        yield
        return
    opened = not db.session().in_transaction()
    read = _Read(keep)
    token, reads = _READ.set(read), sqlite.begin_reads(True)
    try:
        yield
    except BaseException:
        if opened:
            db.session.rollback()
        raise
    finally:
        sqlite.end_reads(reads)
        _READ.reset(token)
    if not opened:
        return
    session = db.session()
    if read.keep and session.in_transaction():
        session.info["kept_read"] = True
    else:
        _commit_read(session)


@contextmanager
def reading_the_caller():
    """Loading the caller at the start of a request (``reading``): in a request that writes, on PostgreSQL its
    transaction stays open and the use-case goes on in it (one BEGIN and one COMMIT fewer, and nothing is held:
    READ COMMITTED takes no snapshot for the transaction); on SQLite it ends at the block's end, before the
    use-case takes the write lock."""
    with reading(keep=not sqlite.is_sqlite(db.session())):
        yield


def keep_read_open() -> None:
    """Keep the transaction of the ``reading`` block running now open after the block (as ``keep`` does):
    for a read whose request's use-case reads on in it, such as loading the caller of a use-case that
    decides by its own data (``people.load_caller``). Outside a ``reading`` block it does nothing."""
    read = _READ.get()
    if read is not None:
        read.keep = True


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
    if db.session().info.get("kept_read"):
        end_read_before_write()


def end_read_before_write() -> None:
    """A read that goes on to write (an audited view): on SQLite its transaction ends here (committed: it only
    read), so that the write begins with BEGIN IMMEDIATE; elsewhere the write goes on in it."""
    session = db.session()
    session.info.pop("kept_read", None)
    if session.in_transaction() and sqlite.is_sqlite(session):
        _commit_read(session)
    else:
        _leave_autocommit()


# --- PostgreSQL: a read-only request reads in autocommit -------------------------------------------------------
#
# Under READ COMMITTED every statement takes its own snapshot, so a transaction that only reads gives its
# statements nothing that autocommit does not: its BEGIN and its COMMIT are two round trips (and two commands
# for the server) that change nothing. A read-only request (start_request) outside a use-case therefore runs
# its statements in autocommit: ``GET /api/v1/me`` is one round trip instead of three. Anything that writes
# leaves autocommit first, while the connection is idle, so that it is one transaction as before: a use-case
# (``transactional``), an audited read going on to write (``end_read_before_write``), a flush, and, as the
# net under them, any statement that is not a SELECT. A connection goes back to the pool out of autocommit.

# Whether a use-case (``transactional``) runs now: its transaction never begins in autocommit.
_IN_USE_CASE: ContextVar[bool] = ContextVar("linli_in_use_case", default=False)


def _reads_in_autocommit(session, transaction, connection) -> None:
    """after_begin: a read-only request's transaction, outside a use-case, on PostgreSQL, in autocommit."""
    if not _READ_ONLY_REQUEST.get() or _IN_USE_CASE.get() or connection.dialect.name != "postgresql":
        return
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is not None and dbapi_connection.info.transaction_status == _pg_idle():
        dbapi_connection.autocommit = True


def _leave_autocommit(session=None, *_flush_args) -> None:
    """The session's transaction leaves autocommit (its next statement begins a transaction); also the
    session's before_flush hook."""
    session = db.session() if session is None else session
    if session.in_transaction():
        _autocommit_off(session.connection().connection.dbapi_connection)


def _autocommit_off(dbapi_connection, *_checkin_args) -> None:
    """Out of autocommit, while idle; also the pool's checkin hook."""
    if dbapi_connection is not None and getattr(dbapi_connection, "autocommit", False) \
            and not dbapi_connection.closed:
        dbapi_connection.autocommit = False


def _write_leaves_autocommit(conn, cursor, statement, parameters, context, executemany) -> None:
    """before_cursor_execute (PostgreSQL): a statement that is not a SELECT never runs in autocommit."""
    if not statement.startswith("SELECT"):
        _autocommit_off(cursor.connection)


@functools.cache
def _pg_idle():
    from psycopg.pq import TransactionStatus

    return TransactionStatus.IDLE


@functools.cache
def _pg_in_transaction():
    """A transaction open and healthy (no statement of it has failed)."""
    from psycopg.pq import TransactionStatus

    return TransactionStatus.INTRANS


def reads_in_autocommit(engine) -> None:
    """Install the above on a PostgreSQL engine (the session's events once, in ``track_writes``)."""
    import sqlalchemy as sa

    if engine.dialect.name != "postgresql" or sa.event.contains(engine, "checkin", _autocommit_off):
        return
    sa.event.listen(engine, "checkin", _autocommit_off)
    sa.event.listen(engine, "before_cursor_execute", _write_leaves_autocommit)


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
        sa.event.listen(session, "after_begin", _reads_in_autocommit)
        sa.event.listen(session, "before_flush", _leave_autocommit)


def end_read_transaction(error: BaseException | None = None) -> None:
    """At the end of a request, a transaction that only read is committed rather than rolled back.

    The two end the same way for the database, but psycopg's own rollback forgets every statement it
    has prepared on the connection (and sends DEALLOCATE ALL); Linli's rollbacks on PostgreSQL now keep
    them too (service.postgres.keep_prepared_statements). A transaction that flushed anything, or a
    request that failed, is left to the usual rollback; every write goes through ``transactional``,
    which has committed or rolled back already.
    """
    if error is not None or not db.session.registry.has():
        return
    session = db.session()
    if not session.in_transaction() or _holds_changes(session):
        return
    try:
        session.commit()
    except Exception:  # noqa: BLE001 - a read's end must not fail the answer already built
        _log.warning("ending a read transaction failed; it is rolled back", exc_info=True)
        try:
            session.rollback()
        except Exception:  # noqa: BLE001 - the session is removed next; the pool drops a broken connection
            _log.warning("rolling back a read transaction failed", exc_info=True)


def transactional(fn=None, *, stale=None):
    """Run a use-case in one transaction: commit on success, roll back on any error.

    A row changed by someone else meanwhile (a versioned row's UPDATE matched
    nothing) becomes a 409: ``stale()`` when given, else a generic conflict.
    """

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            _end_kept_read()  # a read kept open by reading() ends before the write lock
            token = _IN_USE_CASE.set(True)
            try:
                _leave_autocommit()  # reads in autocommit before it (PostgreSQL): from here one transaction
                with sqlite.write_turn():
                    return _run(fn, args, kwargs, stale)
            finally:
                _IN_USE_CASE.reset(token)

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
        _end_failed()
        raise


def _end_failed() -> None:
    """End a use-case that failed: rolled back; or, on PostgreSQL, committed when it wrote nothing (a refusal
    decided by what it read: not found, not allowed, full, already done). The two end such a transaction alike;
    the commit leaves what the session read unexpired. (It was first made for psycopg, which forgets every
    statement it prepared on the connection at its own ROLLBACK; service.postgres.keep_prepared_statements now
    rolls back without that, after a write refused too.) Wrote nothing: no change pending in
    the session, none flushed, and the server has given the transaction no id (it assigns one at the first
    write, whatever wrote: the ORM, Core, the driver's own cursor or COPY)."""
    session = db.session()
    try:
        if _wrote_nothing(session):
            _commit_read(session)
            return
    except Exception:  # noqa: BLE001 - the usual rollback follows, and the use-case's own error is raised
        _log.warning("ending a failed use-case that only read failed; it is rolled back", exc_info=True)
    session.rollback()


def _holds_changes(session) -> bool:
    """Whether the session's transaction flushed anything, or has changes pending."""
    return bool(session.info.get("wrote") or session.new or session.dirty or session.deleted)


def _wrote_nothing(session) -> bool:
    if not session.in_transaction() or _holds_changes(session):
        return False
    connection = session.connection()
    dbapi_connection = connection.connection.dbapi_connection
    if connection.dialect.name != "postgresql" or dbapi_connection is None \
            or dbapi_connection.info.transaction_status != _pg_in_transaction():
        return False
    return connection.exec_driver_sql("SELECT txid_current_if_assigned() IS NULL").scalar()


def locked(model, object_id):
    """The row of ``model`` with this primary key, locked FOR UPDATE until the transaction ends (on SQLite the
    use-case's write lock already serialises writers) and read afresh from the database; None when there is none."""
    import sqlalchemy as sa

    (key,) = sa.inspect(model).primary_key
    return db.session.execute(sa.select(model).where(key == object_id).with_for_update()
                              .execution_options(populate_existing=True)).scalar_one_or_none()


def session_usable() -> bool:
    """Whether the database session can be used here: inside an application's context (a request, a job, a
    command), not in a bare script or at import time."""
    try:
        db.session.registry.has()
    except RuntimeError:  # Flask-SQLAlchemy's session is scoped to the application context
        return False
    return True


def is_unique_violation(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "unique" in text or "duplicate key" in text


def paginate(query, page: int, page_size: int):
    """Return (items, total) of a select() for page ``page`` (1-based)."""
    total = _count(query)
    items = db.session.execute(query.limit(page_size).offset((page - 1) * page_size)).scalars().all()
    return items, total


def _count(query) -> int:
    """The number of rows a select() gives."""
    import sqlalchemy as sa

    return db.session.execute(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())).scalar_one()


def with_total(page, count):
    """``page`` (a Core select) with ``count``'s value beside each row as ``total``: for a page whose total is
    its own count (a keyset page, a page of a filter), in the same statement. The count names no column of the
    row (it is never correlated), so the database computes it once."""
    return page.add_columns(count.correlate(None).scalar_subquery().label("total"))


def page_limit():
    """The ``limit`` parameter of a statement built once (a keyset page, ``paged``): an integer, so that
    PostgreSQL's statements carry it written in (service.postgres)."""
    import sqlalchemy as sa

    return sa.bindparam("limit", type_=sa.Integer)


def paged(statement):
    """``statement`` paged by the parameters ``limit`` (``page_limit``) and ``offset``, given at execution
    (``rows_and_total``)."""
    import sqlalchemy as sa

    return statement.limit(page_limit()).offset(sa.bindparam("offset", type_=sa.Integer))


def rows_and_total(page, count, params: dict) -> tuple[list, int]:
    """The rows of a ``with_total`` page and its total; a page with no row to carry it (past the end, or an
    empty list) asks ``count`` alone."""
    connection = db.session.connection()
    rows = connection.execute(page, params).all()
    return rows, rows[0].total if rows else connection.execute(count, params).scalar_one()


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


# A connection idle in the pool longer than this is checked (one round trip) before a request uses it.
PING_AFTER_IDLE_SECONDS = 10.0
_PINGED_WHEN_IDLE: "weakref.WeakSet" = weakref.WeakSet()


def pings_when_idle(engine) -> bool:
    return engine in _PINGED_WHEN_IDLE


def ping_when_idle(engine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Check a pooled connection before use only when it sat idle longer than ``idle_seconds``.

    ``pool_pre_ping`` would ping before every checkout: one more round trip on every request. A
    connection a request returned a moment ago is as alive as the ping would find it; one that waited
    in the pool (a database restart, a firewall's idle timeout) is checked, and replaced if dead. A
    connection that dies between two requests anyway fails its request with a 503 (api.errors), and
    the pool then replaces every connection older than the failure."""
    import sqlalchemy as sa

    if engine in _PINGED_WHEN_IDLE:
        return
    _PINGED_WHEN_IDLE.add(engine)
    dialect = engine.dialect

    def note_idle(dbapi_connection, record) -> None:
        record.info["linli_idle_since"] = time.monotonic()

    def ping_if_idle(dbapi_connection, record, proxy) -> None:
        since = record.info.get("linli_idle_since")
        if since is None or time.monotonic() - since <= idle_seconds:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - any failure of the ping means the connection is gone
            raise sa.exc.DisconnectionError() from exc
        if alive is False:
            raise sa.exc.DisconnectionError()

    sa.event.listen(engine, "checkin", note_idle)
    sa.event.listen(engine, "checkout", ping_if_idle)
