"""The PostgreSQL cursor (service.postgres): a description whose columns are made when first read, the same
columns as psycopg's own; SQLAlchemy's results unchanged. On SQLite the engine is left as it was."""
import os
import warnings

import psycopg
import pytest
import sqlalchemy as sa

from models.base import db
from models.people import User
from service import postgres
from tests import pg_available
from tests.factories import make_user


def _psycopg_url(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_only_a_psycopg_url_gets_the_cursor():
    options: dict = {}
    postgres.configure_engine("sqlite:///x.db", options)
    assert options == {}
    postgres.configure_engine("postgresql+psycopg://u@h/d", options)
    assert options["connect_args"]["cursor_factory"] is postgres.Cursor
    mine = {"connect_args": {"cursor_factory": psycopg.ClientCursor}}
    postgres.configure_engine("postgresql+psycopg://u@h/d", mine)
    assert mine["connect_args"]["cursor_factory"] is psycopg.ClientCursor   # an operator's choice stays


def test_the_engine_uses_it_on_postgres_only(app, is_postgres):
    cursor = db.session.connection().connection.dbapi_connection.cursor()
    assert isinstance(cursor, postgres.Cursor) is is_postgres
    cursor.close()


def test_the_description_is_psycopgs_own_made_later():
    """On the tests' PostgreSQL server in both runs (as the backup test: CI has one)."""
    server = pg_available.server_url()
    if server is None:
        assert os.environ.get("CI") != "true", "CI=true but PostgreSQL is not reachable"
        warnings.warn("PostgreSQL is not reachable: the cursor's description was not compared with psycopg's")
        return
    url = _psycopg_url(server)
    sql = "SELECT 1::integer AS n, 'x'::text AS t, 2.5::numeric(4,1) AS d, now() AS at"
    with psycopg.connect(url) as plain, \
            psycopg.connect(url, cursor_factory=postgres.Cursor) as lazy:
        expected = plain.execute(sql).description
        cur = lazy.execute(sql)
        got = cur.description
        assert isinstance(got, postgres.Description) and len(got) == 4 and got._columns is None
        cur.execute("SELECT 'other' AS other")   # the cursor moves on: the first result's columns stay
        assert [tuple(c) for c in got] == [tuple(c) for c in expected]
        assert [c.name for c in got] == ["n", "t", "d", "at"] and got[2].precision == 4 and got[-1].name == "at"
        assert [c.name for c in cur.description] == ["other"]
        cur.execute("CREATE TEMPORARY TABLE t_desc (a int)")
        assert cur.description is None
        assert len(lazy.execute("SELECT").description) == 0 and list(lazy.execute("SELECT").description) == []


@pytest.mark.real_commits
def test_sqlalchemy_results_read_the_same(app):
    """A statement compiled for the first time reads the columns; a cached one does not need them."""
    user = make_user(name="游标")
    db.session.commit()
    seen = []
    for _ in range(3):    # the first run compiles (and reads the description), the others hit the cache
        row = db.session.execute(sa.select(User.id, User.username).where(User.id == user.id)).one()
        seen.append((row.id, row._mapping["username"], row[1]))
        db.session.rollback()
    assert seen == [(user.id, user.username, user.username)] * 3
    text = db.session.execute(sa.text("SELECT 7 AS seven, 'x' AS ex")).mappings().one()
    assert dict(text) == {"seven": 7, "ex": "x"}
