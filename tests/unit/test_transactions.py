"""How requests hold the database: use-cases in one transaction each (on SQLite behind
BEGIN IMMEDIATE and a lock-file gate), reads around them in transactions of their own."""
import threading
import time

import pytest
import sqlalchemy as sa

from models.base import db
from models.people import User
from service import db as service_db
from service import sqlite
from service.db import reading, transactional
from tests.factories import auth, make_user


def _statements(engine):
    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    sa.event.listen(engine, "before_cursor_execute", listener)
    return seen, lambda: sa.event.remove(engine, "before_cursor_execute", listener)


@pytest.mark.real_commits
def test_a_writing_request_holds_the_write_lock_only_inside_its_use_case(app, is_postgres):
    """POST /cases: the caller is read in a plain BEGIN, the use-case runs in BEGIN IMMEDIATE
    and the answer needs no further statement."""
    from tests.api.test_cases import HERE
    from tests.factories import make_world

    world = make_world()
    world.nb.lat, world.nb.lng = HERE["lat"], HERE["lng"]
    db.session.commit()
    resident = make_user(name="王秀英", phone="13812345678", neighbourhood_id=world.nb.id)
    headers = auth(resident)
    db.session.remove()
    seen, stop = _statements(db.engine)
    try:
        response = app.test_client().post("/api/v1/cases", headers=headers, json={
            "category": "garbage", "description": "垃圾未清运", "location": HERE})
    finally:
        stop()
    assert response.status_code == 201, response.json
    assert response.json["timeline"][0]["action"] == "submit" and response.json["following"] is True
    if is_postgres:
        return
    begins = [s for s in seen if s.startswith("BEGIN")]
    assert begins == ["BEGIN", "BEGIN IMMEDIATE"], seen
    # Everything after the use-case's first statement up to the end is the use-case's own writing.
    first_write = seen.index("BEGIN IMMEDIATE")
    assert all(not s.startswith("SELECT user.") for s in seen[first_write:])


def test_a_kept_read_ends_at_the_next_use_case(app):
    user = make_user(name="李建华")
    db.session.commit()
    with reading(keep=True):
        db.session.execute(sa.select(User.id)).all()
    assert db.session().in_transaction()
    with reading():  # joins the kept transaction and leaves it open
        db.session.execute(sa.select(User.username)).all()
    assert db.session().in_transaction()

    @transactional
    def rename():
        assert db.session().in_transaction() is False or not db.session.info.get("kept_read")
        db.session.get(User, user.id).nickname = "改名"

    rename()
    assert not db.session().in_transaction()
    assert db.session.get(User, user.id).nickname == "改名"


def test_reading_ends_its_transaction_and_keeps_what_it_read(app):
    user = make_user(name="李建华")
    db.session.commit()
    user_id, username = user.id, user.username
    db.session.commit()
    db.session.expunge_all()
    with reading():
        loaded = db.session.get(User, user_id)
    assert not db.session().in_transaction()
    # Not expired: reading the attribute needs no new transaction.
    assert loaded.username == username and not db.session().in_transaction()


def test_reading_rolls_back_on_error(app):
    with pytest.raises(RuntimeError):
        with reading():
            db.session.execute(sa.select(User.id)).all()
            raise RuntimeError("boom")
    assert not db.session().in_transaction()


@pytest.mark.real_commits
def test_the_sqlite_gate_lets_one_use_case_in_at_a_time(app, is_postgres):
    """Threads entering use-cases at once go in one after another on SQLite (the gate), each
    committing before the next starts; on PostgreSQL there is no gate."""
    inside = []
    overlaps = []
    lock = threading.Lock()

    @transactional
    def use_case(name):
        with lock:
            inside.append(name)
            if len(inside) > 1:
                overlaps.append(tuple(inside))
        time.sleep(0.05)
        db.session.execute(sa.text("SELECT 1"))
        with lock:
            inside.remove(name)
        return name

    barrier = threading.Barrier(4)
    results = []

    def worker(i):
        with app.app_context():
            barrier.wait()
            results.append(use_case(i))
            db.session.remove()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(results) == [0, 1, 2, 3]
    with app.app_context():
        gated = sqlite.gate_path() is not None
    assert gated is (not is_postgres)
    if gated:
        assert overlaps == []
    else:
        assert overlaps, "without a gate the use-cases run side by side"


@pytest.mark.real_commits
def test_a_reading_request_ends_with_commit_and_postgres_keeps_its_prepared_statements(app, is_postgres):
    """psycopg forgets its prepared statements at every ROLLBACK; a request that only read commits."""
    user = make_user(name="赵建国")
    headers = auth(user)
    db.session.commit()
    db.session.remove()
    ends: list[str] = []
    used = []  # the DBAPI connections the requests checked out of the pool
    listeners = [("commit", lambda conn: ends.append("commit")), ("rollback", lambda conn: ends.append("rollback"))]
    for name, fn in listeners:
        sa.event.listen(db.engine, name, fn)
    sa.event.listen(db.engine.pool, "checkout", lambda dbapi, record, proxy: used.append(dbapi))
    statuses: list[int] = []

    def requests():  # a thread of its own: each request has its own app context, as in production
        client = app.test_client()
        for _ in range(40):  # psycopg prepares a statement at its fifth execution on a connection
            statuses.append(client.get("/api/v1/me", headers=headers).status_code)

    try:
        worker = threading.Thread(target=requests)
        worker.start()
        worker.join()
    finally:
        for name, fn in listeners:
            sa.event.remove(db.engine, name, fn)
    assert statuses == [200] * 40 and ends == ["commit"] * 40
    if is_postgres:  # the requests are over: the connections they used lie idle in the pool
        prepared = []
        for raw in set(used):
            prepared.append(raw.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0])
            raw.rollback()
        assert max(prepared) >= 1, prepared


@pytest.mark.real_commits
def test_a_request_that_flushed_without_committing_is_rolled_back(app):
    with app.test_request_context("/api/v1/me"):
        db.session.add(User(username=f"stray-{time.time_ns()}"))
        db.session.flush()
        username = db.session.execute(sa.select(User.username).order_by(User.id.desc())).scalar()
        db.session.expunge_all()  # nothing pending in the session any more, but the flush happened
        with pytest.raises(RuntimeError):  # a savepoint rolled back since does not hide that flush
            with db.session.begin_nested():
                raise RuntimeError("boom")
        service_db.end_read_transaction(None)
        assert db.session().in_transaction()  # left for the teardown's rollback
        db.session.remove()
    assert db.session.execute(sa.select(User.id).where(User.username == username)).first() is None


def test_a_failed_request_is_not_committed(app):
    with app.test_request_context("/api/v1/me"):
        db.session.execute(sa.select(User.id)).all()
        service_db.end_read_transaction(RuntimeError("boom"))
        assert db.session().in_transaction()
        db.session.remove()


def test_the_gate_descriptor_is_per_thread_and_opened_again_in_a_forked_child(tmp_path):
    import fcntl
    import os

    path = str(tmp_path / "gate")
    fd = sqlite.gate_descriptor(path)
    assert sqlite.gate_descriptor(path) == fd
    other: list[int] = []
    thread = threading.Thread(target=lambda: other.append(sqlite.gate_descriptor(path)))
    thread.start()
    thread.join()
    assert other[0] != fd  # threads of one process exclude one another only through their own descriptors
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        pid = os.fork()
        if pid == 0:  # the child: an inherited descriptor would share the parent's lock and get it at once
            child = sqlite.gate_descriptor(path)
            try:
                fcntl.flock(child, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os._exit(1)
            except BlockingIOError:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _in_a_read_only_request(app):
    """A request context that has said it only reads, as api.app's first hook says for a GET."""
    context = app.test_request_context("/api/v1/me")
    context.push()
    started = service_db.start_request(True)

    def end():
        service_db.end_read_transaction(None)
        db.session.remove()
        service_db.end_request(started)
        context.pop()

    return end


def _open_transaction(session) -> bool:
    """Whether the database holds a transaction open for the session's connection (a BEGIN was sent)."""
    raw = session.connection().connection.dbapi_connection
    if hasattr(raw, "info") and hasattr(raw.info, "transaction_status"):   # psycopg
        from psycopg.pq import TransactionStatus

        return raw.info.transaction_status != TransactionStatus.IDLE
    return raw.in_transaction   # sqlite3


@pytest.mark.real_commits
def test_a_read_only_request_reads_without_begin_on_postgres_and_returns_its_connection_transactional(app,
                                                                                                      is_postgres):
    """Under READ COMMITTED a transaction that only reads adds two round trips and nothing else: on PostgreSQL
    a read-only request's statements run in autocommit. The pool gets the connection back out of it."""
    make_user(name="钱志明")
    db.session.commit()
    db.session.remove()
    returned: list[bool] = []
    sa.event.listen(db.engine, "checkin", lambda raw, record: returned.append(getattr(raw, "autocommit", None)))
    end = _in_a_read_only_request(app)
    try:
        assert db.session.execute(sa.select(sa.func.count(User.id))).scalar() >= 1
        assert db.session().in_transaction()   # the session's own bookkeeping is as ever
        assert _open_transaction(db.session()) is (not is_postgres)
    finally:
        end()
    if is_postgres:
        assert returned and returned[-1] is False
        with db.engine.connect() as connection:   # the next user of the pool begins transactions again
            assert connection.connection.dbapi_connection.autocommit is False


@pytest.mark.real_commits
def test_a_use_case_in_a_read_only_request_is_one_transaction(app):
    """An audited read goes on to write: its use-case leaves autocommit, so a failure undoes all of it."""
    end = _in_a_read_only_request(app)
    name = f"half-{time.time_ns()}"

    @transactional
    def two_users_then_fail():
        db.session.add(User(username=name + "-a"))
        db.session.flush()
        db.session.execute(sa.insert(User).values(username=name + "-b"))
        raise RuntimeError("boom")

    try:
        db.session.execute(sa.select(User.id)).all()   # a read first: on PostgreSQL, in autocommit
        with pytest.raises(RuntimeError):
            two_users_then_fail()
    finally:
        end()
    assert db.session.execute(sa.select(User.id).where(User.username.like(name + "%"))).all() == []


@pytest.mark.real_commits
@pytest.mark.parametrize("how", ["flush", "statement"])
def test_a_write_outside_a_use_case_in_a_read_only_request_is_still_rolled_back(app, how):
    """Writes go through use-cases; one that does not still never commits on its own: a flush, and any
    statement that is not a SELECT, leave autocommit first."""
    end = _in_a_read_only_request(app)
    name = f"stray-{how}-{time.time_ns()}"
    try:
        db.session.execute(sa.select(User.id)).all()
        if how == "flush":
            db.session.add(User(username=name))
            db.session.flush()
        else:
            db.session.execute(sa.insert(User).values(username=name))
        assert _open_transaction(db.session())
        db.session.rollback()
    finally:
        end()
    assert db.session.execute(sa.select(User.id).where(User.username == name)).first() is None


@pytest.mark.real_commits
@pytest.mark.parametrize("wrote", ["nothing", "orm", "core", "driver"])
def test_a_use_case_refused_after_reading_only_keeps_the_prepared_statements(app, is_postgres, wrote):
    """A use-case that fails having only read (a 404, a 409 decided by what it read) ends its transaction with
    COMMIT on PostgreSQL. One that wrote anything, through the ORM, Core or the driver's own cursor, is rolled
    back; so is every failed use-case on SQLite. Either way the connection keeps what psycopg prepared (its own
    rollback forgets everything: service.postgres.keep_prepared_statements)."""
    name = f"refused-{wrote}-{time.time_ns()}"
    ends: list[str] = []
    used = []
    listeners = [("commit", lambda conn: ends.append("commit")), ("rollback", lambda conn: ends.append("rollback"))]

    @transactional
    def refuse():
        for _ in range(6):  # prepared from the fifth execution on (psycopg)
            db.session.execute(sa.select(User.id).where(User.username == name)).all()
        used.append(db.session.connection().connection.dbapi_connection)
        if wrote == "orm":
            db.session.add(User(username=name))
            db.session.flush()
        elif wrote == "core":
            db.session.execute(sa.insert(User).values(username=name))
        elif wrote == "driver":
            cursor = db.session.connection().connection.cursor()
            cursor.execute('INSERT INTO "user" (username, is_active, is_demo, created_at, updated_at) '
                           "VALUES (%s, true, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)".replace(
                               "%s", "%s" if is_postgres else "?"), (name,))
            cursor.close()
        raise LookupError("refused")

    for event, fn in listeners:
        sa.event.listen(db.engine, event, fn)
    try:
        with app.test_request_context("/api/v1/cases", method="POST"):
            with pytest.raises(LookupError):
                refuse()
            db.session.remove()
    finally:
        for event, fn in listeners:
            sa.event.remove(db.engine, event, fn)
    kept = wrote == "nothing" and is_postgres
    assert ends[:1] == (["commit"] if kept else ["rollback"])
    assert db.session.execute(sa.select(User.id).where(User.username == name)).first() is None
    if is_postgres:
        (raw,) = used
        prepared = raw.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
        raw.rollback()
        assert prepared >= 1, prepared


@pytest.mark.real_commits
def test_rollbacks_to_a_savepoint_and_of_a_failed_transaction_keep_the_prepared_statements(app, is_postgres):
    """A unique key refused inside a savepoint (a double-tapped booking), then the whole transaction rolled back,
    then one aborted by an error rolled back, all on one connection of the app's engine: each ends as it must,
    and on PostgreSQL the connection still holds what psycopg prepared (psycopg's own rollbacks forget
    everything: service.postgres.keep_prepared_statements)."""
    name = f"twice-{time.time_ns()}"
    mine = sa.select(sa.func.count()).select_from(User).where(User.username == name)
    with app.app_context(), db.engine.connect() as connection, sa.orm.Session(bind=connection) as session:
        raw = connection.connection.dbapi_connection

        def prepared() -> set:
            """The connection's prepared statements that count users by name (a pooled connection may hold a
            hundred others, which psycopg drops oldest first as it prepares more)."""
            if not is_postgres:
                return set()
            rows = raw.execute("SELECT name, statement FROM pg_prepared_statements").fetchall()
            return {prepared_as for prepared_as, statement in rows
                    if "count(*)" in statement and ".username = $1" in statement}

        for _ in range(6):  # prepared from the fifth execution on (psycopg)
            assert session.execute(mine).scalar() == 0
        held = prepared()
        assert held or not is_postgres
        session.add(User(username=name))
        session.flush()
        with pytest.raises(sa.exc.IntegrityError):
            with session.begin_nested():
                session.add(User(username=name))
                session.flush()
        assert session.execute(mine).scalar() == 1   # the transaction goes on past its savepoint
        assert prepared() >= held
        session.rollback()
        assert session.execute(mine).scalar() == 0
        assert prepared() >= held
        session.add(User(username=name))
        session.flush()
        session.add(User(username=name))
        with pytest.raises(sa.exc.IntegrityError):   # no savepoint: the transaction is aborted
            session.flush()
        session.rollback()
        assert session.execute(mine).scalar() == 0
        assert prepared() >= held
        session.rollback()
