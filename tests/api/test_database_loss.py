"""A database connection lost between two requests: the request that finds it gone answers 503 with
Retry-After (never a 500), the pool replaces its connections, and the next request is served. A
connection that sat idle in the pool is checked before use (service.db.ping_when_idle) instead of
pinging before every request."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from models.base import db
from service.db import ping_when_idle, pings_when_idle
from tests.factories import auth, make_user


def _terminate_other_backends(url: str) -> int:
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            killed = conn.exec_driver_sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()").scalar()
            conn.commit()
            return killed
    finally:
        admin.dispose()


@pytest.mark.real_commits
def test_a_lost_connection_is_a_503_and_the_next_request_is_served(client, app, is_postgres):
    user = make_user(name="王秀英")
    db.session.commit()
    headers = auth(user)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    engine = db.engine
    if not is_postgres:
        # SQLite opens a file: nothing to lose between requests, and no ping is installed.
        assert not pings_when_idle(engine)
        return
    assert pings_when_idle(engine)
    db.session.remove()
    url = engine.url.render_as_string(hide_password=False)
    assert _terminate_other_backends(url) >= 1
    lost = client.get("/api/v1/me", headers=headers)
    assert lost.status_code == 503, lost.json
    assert lost.json["error"] == "service_unavailable" and lost.headers["Retry-After"] == "1"
    assert lost.json["message"] == "服务暂时不可用，请稍后再试"
    again = client.get("/api/v1/me", headers=headers)
    assert again.status_code == 200, again.json


def test_an_idle_connection_is_checked_before_use_and_replaced_if_dead(database_url, is_postgres):
    if not is_postgres:
        engine = sa.create_engine(database_url)
        ping_when_idle(engine, 0.05)
        with engine.connect() as conn:   # the listeners work on any engine; a live connection passes
            time.sleep(0.1)
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
        engine.dispose()
        return
    engine = sa.create_engine(database_url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, 0.05)
    try:
        with engine.connect() as conn:
            first = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        # Used again at once: not checked, the same backend.
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() == first
        killer = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
        with killer.connect() as conn:
            assert conn.exec_driver_sql("SELECT pg_terminate_backend(%s)", (first,)).scalar() is True
        killer.dispose()
        time.sleep(0.1)   # idle longer than the threshold: checked, found dead, replaced
        with engine.connect() as conn:
            second = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        assert second != first
    finally:
        engine.dispose()
