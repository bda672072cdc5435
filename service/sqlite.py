"""SQLite, the embedded database: each connection's settings, how each transaction begins, and the gate
that queues writers. service.db (the transaction boundary) calls in here; on PostgreSQL these calls change
nothing.

SQLite has one writer at a time. Transactions that may write start with ``BEGIN IMMEDIATE``, so a write
never fails half-way with "database is locked"; reads start a plain ``BEGIN``, so readers never wait for
one another. Which one a transaction gets is decided when it begins (``_begin``):

* a plain ``BEGIN`` after ``begin_reads(True)``: every transaction of a read-only request (GET, HEAD,
  OPTIONS: the api tells ``service.db.start_request``), and the reads of a writing request around its
  use-case (``service.db.reading``: loading the caller, the answer after the use-case);
* ``BEGIN IMMEDIATE`` inside ``write_turn()`` (every use-case, ``service.db.transactional``) and wherever
  nothing said otherwise (a job, a command, a writing request outside those reads).

A GET that must write (an audit entry of a view) ends its read transaction first, so its write transaction
starts with the write. The write lock is thus held only while a use-case runs.
"""
from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from contextvars import ContextVar, Token

import sqlalchemy as sa

from config import INSTANCE_DIR
from models.base import db

# Whether the transactions begun now begin as reads (a plain BEGIN) rather than BEGIN IMMEDIATE.
_READS: ContextVar[bool] = ContextVar("linli_sqlite_reads", default=False)


def configure_engine(uri: str, options: dict, busy_timeout_ms: int) -> None:
    """The engine options of a SQLite database ``uri``: the driver waits ``busy_timeout_ms`` for a lock
    (the instance directory of the default file database is made first)."""
    if uri.startswith("sqlite:///") and ":memory:" not in uri:
        INSTANCE_DIR.mkdir(exist_ok=True)
    options.setdefault("connect_args", {})["timeout"] = busy_timeout_ms / 1000


def install(engine: sa.engine.Engine, busy_timeout_ms: int) -> None:
    """On a SQLite engine: WAL, foreign keys and a busy timeout on every connection, and explicit BEGINs
    (pysqlite's own BEGIN handling breaks SAVEPOINTs), each a plain ``BEGIN`` or ``BEGIN IMMEDIATE`` as the
    module's docstring says. Any other engine is left as it is."""
    if engine.dialect.name != "sqlite":
        return
    sa.event.listen(engine, "connect", _pragmas(busy_timeout_ms))
    sa.event.listen(engine, "begin", _begin)


def _pragmas(busy_timeout_ms: int):
    def connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return connect


def _begin(connection) -> None:
    connection.exec_driver_sql("BEGIN" if _READS.get() else "BEGIN IMMEDIATE")


def begin_reads(reads: bool) -> Token:
    """From now on (until ``end_reads`` with the token returned) transactions begin as reads (a plain
    ``BEGIN``), or not (``BEGIN IMMEDIATE``)."""
    return _READS.set(reads)


def end_reads(token: Token) -> None:
    _READS.reset(token)


def is_sqlite(session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


@contextmanager
def write_turn():
    """A use-case's turn to write: its transaction begins with ``BEGIN IMMEDIATE``, after the write gate
    (on a SQLite file database, when no transaction is open yet)."""
    token, gate = _READS.set(False), None
    try:
        gate = _enter_gate()
        yield
    finally:
        if gate is not None:
            _leave_gate(gate)
        _READS.reset(token)


_GATES: dict[str, str | None] = {}


def gate_path() -> str | None:
    """The lock file that queues SQLite writers (None on PostgreSQL or an in-memory database)."""
    engine = db.session.get_bind().engine
    key = str(engine.url)
    if key not in _GATES:
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        ok = database and database != ":memory:" and not database.startswith("file:")
        _GATES[key] = f"{database}-writegate" if ok else None
    return _GATES[key]


_THREAD = threading.local()


def _enter_gate() -> int | None:
    """On SQLite, queue the use-cases of every thread and process in turn before they ask
    for the write lock. SQLite's own busy handler polls with growing sleeps, so under load
    a waiting writer often sleeps while the lock is free; an flock() on a file next to
    the database wakes the next writer as soon as the previous one has committed. Taken
    only when no transaction is open (a transaction that may already hold the write lock
    must not wait for the gate), once per thread (a use-case inside another one keeps the
    outer one's turn); released when the process dies. Each thread keeps its own
    descriptor of the file open (flock excludes descriptors, not threads). Returns the
    descriptor to release (``_leave_gate``), or None when the gate was not taken."""
    path = gate_path()
    if path is None or getattr(_THREAD, "holding", False) or db.session().in_transaction():
        return None
    fd = gate_descriptor(path)
    fcntl.flock(fd, fcntl.LOCK_EX)
    _THREAD.holding = True
    return fd


def _leave_gate(fd: int) -> None:
    _THREAD.holding = False
    fcntl.flock(fd, fcntl.LOCK_UN)


def gate_descriptor(path: str) -> int:
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
