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
