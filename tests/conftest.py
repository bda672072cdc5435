"""Test fixtures: a real database (SQLite file, or PostgreSQL when TEST_DATABASE_URL
is set), migrated from empty once per run; each test runs inside a transaction
that is rolled back, with the app's sessions joined to it through savepoints.
Tests marked ``real_commits`` commit for real (threads, processes) and the
tables are emptied afterwards.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from manage import create_app  # the API app with its commands (flask jobs, demo, calendar…)
from api.extensions import limiter
from models.base import db
from service import calendar, clock, storage
from service.cases import metrics
from tests.fakes.s3 import S3Server
from tests.fakes.wechat import FakeWeChat


def pytest_configure(config):
    config.addinivalue_line("markers", "real_commits: the test commits for real (threads/processes); "
                                       "tables are emptied afterwards")


@contextmanager
def fresh_postgres_database(base_url: str, prefix: str = "linli_test"):
    """Create a database next to ``base_url`` for the duration of the block; yield its URL; drop it."""
    url = sa.engine.make_url(base_url)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _postgres_database(base_url: str):
    with fresh_postgres_database(base_url) as url:
        try:
            yield url
        finally:
            db.engine.dispose() if _has_app_context() else None


def _has_app_context() -> bool:
    from flask import has_app_context

    return has_app_context()


@pytest.fixture(scope="session")
def database_url():
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        yield from _postgres_database(base)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'linli-test.db'}"


@pytest.fixture(scope="session")
def wechat_fake():
    fake = FakeWeChat().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def app(database_url, wechat_fake):
    app = create_app(profile="test", config={"SQLALCHEMY_DATABASE_URI": database_url,
                                             "WECHAT_API_BASE": wechat_fake.url})
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()
    root = getattr(storage.current(), "root", None)
    if root is not None and Path(root).name.startswith("linli-test-uploads-"):
        shutil.rmtree(root, ignore_errors=True)  # this process's uploads (config.TestConfig.STORAGE_URL)


@pytest.fixture(scope="session")
def s3_server():
    """A local S3-compatible server (moto's), in a process of its own, for this test process."""
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture
def s3_storage(s3_server):
    """The storage switched to a new, empty bucket of the local S3 server for one test (then back)."""
    backend = storage.from_url(s3_server.url(f"linli-{uuid.uuid4().hex[:12]}"))
    backend.client.create_bucket(Bucket=backend.bucket)
    previous = storage.use(backend)
    try:
        yield backend
    finally:
        storage.use(previous)


@pytest.fixture(scope="session")
def is_postgres(database_url) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture(autouse=True)
def _isolation(request, app, wechat_fake):
    """Roll back everything a test wrote (or empty the tables after a real_commits test)."""
    clock.set_now(None)
    clock.shift(timedelta(0))
    wechat_fake.reset()
    limiter.reset()
    real = request.node.get_closest_marker("real_commits") is not None
    ctx = app.app_context()
    ctx.push()
    engines = db._app_engines[app]
    engine = engines[None]
    if real:
        try:
            yield
        finally:
            db.session.remove()
            _empty_tables(engine)
            ctx.pop()
            calendar.forget()
            metrics.forget()
        return
    connection = engine.connect()
    outer = connection.begin()
    engines[None] = connection
    try:
        yield
    finally:
        db.session.remove()
        engines[None] = engine
        outer.rollback()
        connection.close()
        ctx.pop()
        clock.set_now(None)
        calendar.forget()  # an arrangement a test loaded is rolled back with it
        metrics.forget()   # and metrics computed from its cases


def _empty_tables(engine):
    """Empty every table after a test that committed. Triggers refuse to delete the audit log's entries
    (migration 0019) and posted journals (0024), so the harness steps around them: on PostgreSQL triggers are off for this transaction
    (replica mode, as the superuser the tests connect as), on SQLite they are dropped and made again."""
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            triggers = []
        else:
            triggers = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
            for name, _ in triggers:
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        for table in tables:
            conn.execute(table.delete())
        for _, sql in triggers:
            conn.exec_driver_sql(sql)


@pytest.fixture
def client(app):
    return app.test_client()
