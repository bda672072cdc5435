"""PostgreSQL, the production database: the driver's cursor as SQLAlchemy uses it, how a statement carries its
page, the price the planner puts on reading out of order (``price_random_reads``), and rollbacks that keep the
statements psycopg prepared (``keep_prepared_statements``). service.sqlite is the embedded database's counterpart;
what both share (the transaction boundary) is service.db.

psycopg builds ``cursor.description`` afresh at every access: one ``Column`` object per column of the result,
about a microsecond each. SQLAlchemy reads it after every statement that returns rows, but for a statement it
has compiled before it only asks whether there is one: the result's columns are already known (the compiled
statement's cached metadata). So a request paid for some 40 columns to load its caller, and a meal booking
for 150, all thrown away. ``Cursor`` gives a description that makes its columns when something first reads
them, from the result it was asked for (a later statement on the cursor does not change them).

A page's LIMIT and OFFSET are written into the statement (``write_pages``). As parameters, they left the server
planning some paginated statements afresh at every call: for a prepared statement PostgreSQL compares a plan
made for any values with the plans it made for the values given, and a plan for an unknown LIMIT expects a
tenth of the matching rows, so it lost to the plans that knew the page was 20 rows. Planning cost more than
running: 2.2 ms to plan a notice's chase list against 0.35 ms to run it, 1.4 ms for a motion's participation
list. Written in, the page size is known to every plan and the server keeps one.
"""
from __future__ import annotations

from collections.abc import Sequence

import psycopg
import sqlalchemy as sa
from psycopg.pq import ExecStatus, TransactionStatus
from sqlalchemy.sql.elements import BindParameter

_RETURNS_ROWS = frozenset({ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK})


class _Result:
    """What psycopg's ``Column`` reads of a cursor, as it was for one result."""

    __slots__ = ("pgresult", "_encoding", "adapters")

    def __init__(self, cursor: psycopg.Cursor):
        self.pgresult, self._encoding, self.adapters = cursor.pgresult, cursor._encoding, cursor.adapters


class Description(Sequence):
    """A result's ``cursor.description``: its length known at once, its ``Column`` objects made on first use."""

    __slots__ = ("_result", "_count", "_columns")

    def __init__(self, cursor: psycopg.Cursor, count: int):
        self._result, self._count, self._columns = _Result(cursor), count, None

    def _made(self) -> list[psycopg.Column]:
        if self._columns is None:
            self._columns = [psycopg.Column(self._result, i) for i in range(self._count)]
        return self._columns

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):
        return self._made()[index]

    def __iter__(self):
        return iter(self._made())

    def __repr__(self) -> str:
        return repr(self._made())


class Cursor(psycopg.Cursor):
    """psycopg's cursor with a ``description`` whose columns are made only when read."""

    @property
    def description(self) -> Description | None:
        res = self.pgresult
        if res and (res.nfields or res.status in _RETURNS_ROWS):
            return Description(self, res.nfields)
        return None


def configure_engine(uri: str, options: dict) -> None:
    """The engine options of a PostgreSQL database ``uri`` reached through psycopg: its cursors are ``Cursor``."""
    if uri.startswith("postgresql+psycopg://"):
        options.setdefault("connect_args", {}).setdefault("cursor_factory", Cursor)


class _PagesWritten:
    """A statement compiler that writes LIMIT and OFFSET into the statement when each is an integer parameter:
    the value is put in at execution (SQLAlchemy's ``literal_execute``), so the compiled statement is still
    cached once for every page."""

    def limit_clause(self, select, **kw):
        clauses = [c for c in (select._limit_clause, select._offset_clause) if c is not None]
        if clauses and all(isinstance(c, BindParameter) and isinstance(c.type, sa.Integer) for c in clauses):
            kw = dict(kw, literal_execute=True)
        return super().limit_clause(select, **kw)


def write_pages(engine) -> None:
    """Give a PostgreSQL engine's dialect the compiler of ``_PagesWritten`` (before its first statement)."""
    compiler = engine.dialect.statement_compiler
    if engine.dialect.name == "postgresql" and not issubclass(compiler, _PagesWritten):
        engine.dialect.statement_compiler = type("PagesWritten" + compiler.__name__, (_PagesWritten, compiler), {})


# --- the planner's price of reading out of order ---------------------------------------------------------------
# PostgreSQL prices a page read out of order at four pages read in order (random_page_cost 4): a spinning disk's
# ratio. Linli's working set is in memory or on SSD, where the two cost about the same. At 4 the planner chose,
# for a deep page of the staff queue, to read every case past the cursor and sort them (0.4 ms, planned afresh
# at each call) rather than the 20 rows off ix_case_queue in order (0.05 ms): it takes the status filter to drop
# nine in ten of the cases past the cursor, where in fact every case with a deadline is open. The setting is
# config's POSTGRES_RANDOM_PAGE_COST (1.1, as for SSDs).


def price_random_reads(engine, random_page_cost: float | None) -> None:
    """Each new connection of a PostgreSQL engine plans with ``random_page_cost`` (None: the server's own)."""
    if engine.dialect.name != "postgresql" or random_page_cost is None:
        return
    setting = repr(float(random_page_cost))

    @sa.event.listens_for(engine, "connect")
    def _set(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SET random_page_cost = {setting}")
        finally:
            cursor.close()
        dbapi_connection.commit()


# --- rollbacks that keep the prepared statements ----------------------------------------------------------------
# psycopg prepares a statement on a connection at its fifth execution there, and forgets every one it prepared
# (DEALLOCATE ALL) at each ROLLBACK, of a transaction or to a savepoint, in case the transaction had dropped
# something a statement names. A prepared statement outlives a rollback on the server, and Linli's transactions
# never change the schema (migrations run in their own process), so here a rollback keeps them: the ROLLBACK is
# sent on the connection's libpq handle, beside psycopg's bookkeeping. Without this, each write refused after it
# wrote (a double-tapped booking, a unique key taken meanwhile) left its connection parsing and planning every hot
# query afresh for the next five executions of each; measured in-process on the district's mix, one such refusal
# every fifty requests multiplied the server's planning eighteenfold (129 ms to 2,354 ms over 4,000 requests).

_IN_TRANSACTION = frozenset({TransactionStatus.INTRANS, TransactionStatus.INERROR})


def _send(dbapi_connection: psycopg.Connection, command: bytes) -> bool:
    """Send ``command`` on the libpq handle of a connection in a transaction; whether the server accepted it."""
    if dbapi_connection.pgconn.transaction_status not in _IN_TRANSACTION:
        return False
    with dbapi_connection.lock:
        result = dbapi_connection.pgconn.exec_(command)
    return result.status == ExecStatus.COMMAND_OK


def _rollback(dbapi_connection) -> None:
    if not _send(dbapi_connection, b"ROLLBACK"):
        dbapi_connection.rollback()   # psycopg's own: nothing to end, or the error to raise


def keep_prepared_statements(engine) -> None:
    """A PostgreSQL engine reached through psycopg rolls back, a transaction or to a savepoint, without making
    psycopg forget the statements it prepared on the connection."""
    dialect = engine.dialect
    if dialect.name != "postgresql" or dialect.driver != "psycopg":
        return
    preparer = dialect.identifier_preparer
    to_savepoint = dialect.do_rollback_to_savepoint

    def rollback_to_savepoint(connection, name):
        command = f"ROLLBACK TO SAVEPOINT {preparer.quote(name)}".encode()
        if not _send(connection.connection.dbapi_connection, command):
            to_savepoint(connection, name)

    dialect.do_rollback = _rollback
    dialect.do_rollback_to_savepoint = rollback_to_savepoint
