"""A login starts a session; every token refreshed from it belongs to it; logout ends the whole session,
in the database, with and without Redis configured (which holds no revocation)."""
import pytest
import redis as redis_lib

from service import redis_client
from tests.factories import make_user

REDIS_URL = "redis://127.0.0.1:6379/15"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(params=["database", "redis"])
def store(request, app):
    if request.param == "redis":
        try:
            redis_lib.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
        except redis_lib.exceptions.ConnectionError:
            pytest.fail("Redis is expected on 127.0.0.1:6379 (CI and the dev machines run it)")
        redis_client.configure(REDIS_URL)
    try:
        yield request.param
    finally:
        if request.param == "redis":
            redis_lib.Redis.from_url(REDIS_URL).flushdb()
        redis_client.configure(app.config.get("REDIS_URL"))


def _login_and_refresh_twice(client):
    make_user(username="resident.demo", name="王阿姨", is_demo=True)
    first = client.post("/api/v1/auth/demo", json={"username": "resident.demo"})
    assert first.status_code == 200
    pairs = [first.json]
    for _ in range(2):
        refreshed = client.post("/api/v1/auth/refresh", headers=bearer(pairs[-1]["refresh_token"]))
        assert refreshed.status_code == 200, refreshed.json
        pairs.append(refreshed.json)
    for pair in pairs[1:]:  # the newest access token works, and so do the older ones until logout
        assert client.get("/api/v1/me", headers=bearer(pair["access_token"])).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(pairs[0]["access_token"])).status_code == 200
    return pairs


def _all_refused(client, pairs):
    for index, pair in enumerate(pairs):
        me = client.get("/api/v1/me", headers=bearer(pair["access_token"]))
        assert me.status_code == 401 and me.json["error"] == "auth.token_revoked", (index, me.json)
        refreshed = client.post("/api/v1/auth/refresh", headers=bearer(pair["refresh_token"]))
        assert refreshed.status_code == 401 and refreshed.json["error"] == "auth.token_revoked", (index, refreshed.json)
        # a writing request (the caller is loaded before the write lock) is refused too
        written = client.post("/api/v1/me/subscriptions", json={"template_ids": ["PLATFORM_TEST_TEMPLATE_ID"]},
                              headers=bearer(pair["access_token"]))
        assert written.status_code == 401, (index, written.json)


def test_logout_with_the_oldest_access_token_ends_every_token_of_the_session(client, store):
    pairs = _login_and_refresh_twice(client)
    logout = client.post("/api/v1/auth/logout", headers=bearer(pairs[0]["access_token"]))
    assert logout.status_code == 200
    _all_refused(client, pairs)


def test_logout_with_the_newest_access_token_ends_the_older_ones_too(client, store):
    pairs = _login_and_refresh_twice(client)
    assert client.post("/api/v1/auth/logout", headers=bearer(pairs[-1]["access_token"])).status_code == 200
    _all_refused(client, pairs)


def test_logout_ends_one_session_only(client, store):
    pairs = _login_and_refresh_twice(client)
    other = client.post("/api/v1/auth/demo", json={"username": "resident.demo"}).json  # another device
    assert client.post("/api/v1/auth/logout", headers=bearer(pairs[1]["access_token"])).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(other["access_token"])).status_code == 200
    assert client.post("/api/v1/auth/refresh", headers=bearer(other["refresh_token"])).status_code == 200


def test_the_session_stays_revoked_as_long_as_a_descendant_could_live(app, client, store):
    from datetime import timedelta

    from service import clock

    pairs = _login_and_refresh_twice(client)
    assert client.post("/api/v1/auth/logout", headers=bearer(pairs[0]["access_token"])).status_code == 200
    # The refresh lifetime and a minute: a pair minted by a refresh that raced the logout dies with the session.
    lifetime = app.config["JWT_REFRESH_TOKEN_EXPIRES"] + timedelta(minutes=1)
    import sqlalchemy as sa

    from models.base import db
    from models.system import RevokedToken

    rows = db.session.execute(sa.select(RevokedToken).where(RevokedToken.jti.like("sid:%"))).scalars().all()
    assert len(rows) == 1
    assert abs(rows[0].expires_at - (clock.now() + lifetime)) < timedelta(seconds=5)
    if store == "redis":
        assert redis_lib.Redis.from_url(REDIS_URL).keys("linli:revoked:*") == []
