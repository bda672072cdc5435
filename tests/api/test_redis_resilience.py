"""Redis is optional, and its failure is not an outage.

A Redis that stalls (a local server that accepts and never answers) or is down (a closed port) costs a
request at most the Redis timeout until the circuit breaker opens, then nothing: revocations are enforced
from the database (logout, spend-once refresh), rate limits go on counting in the process, and /readyz
stays 200 with ``redis: degraded`` and a ``redis.degraded`` warning. With the real Redis (db 5), revocations
survive a flush, since the database holds them."""
import socket
import statistics
import threading
import time

import pytest
import redis as redis_lib
import sqlalchemy as sa

from api.extensions import limiter
from models.base import db
from models.system import RevokedToken
from service import auth as auth_service, redis_client
from tests.concurrency import run_at_once
from tests.factories import make_user, tokens_for

REAL_REDIS = "redis://127.0.0.1:6379/5"
TIMEOUT_MS = 50
# A request that meets a failing Redis before the breaker opens: at most three calls of TIMEOUT_MS and the
# request itself, with room for a loaded machine (the client before waited 2 s per call, retried 3 times).
FIRST_FAILING = 0.5


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


class StalledRedis:
    """Accepts connections and never answers (a Redis stuck in a long command, or a dead host's proxy)."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(128)
        self.accepted = []
        self.url = f"redis://127.0.0.1:{self.server.getsockname()[1]}/0"
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self):
        self.server.close()
        for connection in self.accepted:
            connection.close()


def refused_url() -> str:
    """A port nothing listens on: bound, then closed."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def use_redis(app):
    """Point the running app at a Redis: revocations, the limiter's storage and /readyz use it from now on."""
    storage_uri = app.config["RATELIMIT_STORAGE_URI"]

    def use(url: str, cool_off: float = 5.0):
        redis_client.configure(url, TIMEOUT_MS, 3, cool_off)
        app.config["RATELIMIT_STORAGE_URI"] = "redis-or-process-memory://"
        limiter.init_app(app)  # the same hooks; a new storage from the configuration

    yield use
    redis_client.configure(None)
    app.config["RATELIMIT_STORAGE_URI"] = storage_uri
    limiter.init_app(app)


@pytest.fixture
def stalled():
    server = StalledRedis()
    yield server
    server.close()


def _timed(call):
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


def _login(client, username="resident.demo"):
    response = client.post("/api/v1/auth/demo", json={"username": username})
    assert response.status_code == 200, response.json
    return response.json


def _median_me(client, token, n=20) -> float:
    times = []
    for _ in range(n):
        response, seconds = _timed(lambda: client.get("/api/v1/me", headers=bearer(token)))
        assert response.status_code == 200
        times.append(seconds)
    return statistics.median(times)


def _median_login(client, n=10) -> float:
    return statistics.median(_timed(lambda: _login(client))[1] for _ in range(n))


@pytest.mark.parametrize("failure", ["stalled", "refused"])
def test_a_failing_redis_costs_a_timeout_until_the_breaker_opens_then_nothing(client, use_redis, stalled, failure):
    make_user(username="resident.demo", name="王阿姨", is_demo=True)
    baseline_login = _median_login(client)  # no Redis: the per-process counters
    use_redis(stalled.url if failure == "stalled" else refused_url())
    # The first limited requests ask Redis and wait at most the timeout per call.
    first, seconds = _timed(lambda: _login(client))
    assert seconds < FIRST_FAILING, seconds
    assert redis_client.link().breaker.state == "open"  # three calls failed: the first login's
    connections = len(stalled.accepted)
    # While the breaker is open no Redis call is made: no connection, no wait.
    tokens = _login(client)
    open_login = _median_login(client)
    assert len(stalled.accepted) == connections
    assert open_login < baseline_login + 0.03, (open_login, baseline_login)  # less than one timeout
    assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 200


def test_revocations_are_enforced_from_the_database_while_redis_stalls(client, use_redis, stalled):
    make_user(username="resident.demo", name="王阿姨", is_demo=True)
    use_redis(stalled.url)
    tokens = _login(client)
    me, seconds = _timed(lambda: client.get("/api/v1/me", headers=bearer(tokens["access_token"])))
    assert me.status_code == 200 and seconds < FIRST_FAILING
    # Spend once: the second exchange of the same refresh token is refused (the table's unique insert).
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200, refreshed.json
    again = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert again.status_code == 401 and again.json["error"] in ("auth.token_revoked", "auth.refresh_token_spent")
    # Logout, then the same tokens are refused.
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code == 200
    for token in (tokens["access_token"], refreshed.json["access_token"]):
        refused, seconds = _timed(lambda: client.get("/api/v1/me", headers=bearer(token)))
        assert refused.status_code == 401 and refused.json["error"] == "auth.token_revoked"
        assert seconds < FIRST_FAILING
    assert client.post("/api/v1/auth/refresh",
                       headers=bearer(refreshed.json["refresh_token"])).status_code == 401
    assert db.session.execute(sa.select(sa.func.count()).select_from(RevokedToken)).scalar() == 2


@pytest.mark.real_commits
def test_a_refresh_token_sent_eight_times_at_once_while_redis_stalls_is_exchanged_once(app, use_redis, stalled):
    user = make_user(username="resident.demo", name="王阿姨", is_demo=True)
    db.session.commit()
    tokens = tokens_for(user)
    db.session.rollback()  # tokens_for read in a transaction (on SQLite, one that holds the write lock)
    use_redis(stalled.url)
    started = time.perf_counter()
    results = run_at_once(app, [("/api/v1/auth/refresh", None, bearer(tokens["refresh_token"]))] * 8)
    assert sorted(status for status, _ in results) == [200] + [401] * 7, results
    assert time.perf_counter() - started < 2  # the old client waited 2 s per Redis call
    assert db.session.execute(sa.select(sa.func.count()).select_from(RevokedToken)).scalar() == 1


@pytest.mark.parametrize("failure", ["stalled", "refused"])
def test_rate_limits_go_on_counting_in_the_process(app, client, use_redis, stalled, failure):
    make_user(username="resident.demo", name="王阿姨", is_demo=True)
    use_redis(stalled.url if failure == "stalled" else refused_url())
    remaining = [int(_timed(lambda: client.post("/api/v1/auth/demo", json={"username": "resident.demo"}))[0]
                     .headers["X-RateLimit-Remaining"]) for _ in range(4)]
    # Each login counted (by every copy of the limit: each app built in this process adds its own).
    steps = {before - after for before, after in zip(remaining, remaining[1:])}
    assert len(steps) == 1 and steps.pop() >= 1, remaining
    assert limiter.storage.fallback._counts  # in this process


def test_the_rate_limit_is_still_enforced_without_redis(app, client, use_redis, stalled, monkeypatch):
    make_user(username="resident.demo", name="王阿姨", is_demo=True)
    use_redis(stalled.url)
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN", "3 per minute")
    statuses = [client.post("/api/v1/auth/demo", json={"username": "resident.demo"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


@pytest.mark.parametrize("failure", ["stalled", "refused"])
def test_readiness_says_degraded_and_stays_ready(client, use_redis, stalled, failure):
    use_redis(stalled.url if failure == "stalled" else refused_url())
    ready, seconds = _timed(lambda: client.get("/readyz"))
    assert ready.status_code == 200 and seconds < FIRST_FAILING
    assert ready.json["redis"] == "degraded"
    assert [w["code"] for w in ready.json["warnings"] if w["code"].startswith("redis")] == ["redis.degraded"]
    assert "Redis" in ready.json["warnings"][-1]["message"] and "无法连接" in ready.json["warnings"][-1]["message"]
    english = client.get("/readyz", headers={"Accept-Language": "en"}).json["warnings"][-1]["message"]
    assert english.startswith("Redis is not answering")


def test_readiness_without_redis_says_off(client):
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["redis"] == "off"
    assert not [w for w in ready.json["warnings"] if w["code"].startswith("redis")]


def _real_redis():
    client = redis_lib.Redis.from_url(REAL_REDIS, socket_timeout=1)
    try:
        client.ping()
    except redis_lib.exceptions.ConnectionError:
        pytest.fail("Redis is expected on 127.0.0.1:6379 (CI and the dev machines run it)")
    return client


@pytest.fixture
def real_redis(use_redis):
    client = _real_redis()
    client.flushdb()
    use_redis(REAL_REDIS, cool_off=1.0)
    yield client
    client.flushdb()


def test_with_a_healthy_redis_limits_are_shared_and_revocations_survive_a_flush(client, real_redis):
    make_user(username="resident.demo", name="王阿姨", is_demo=True)
    assert client.get("/readyz").json["redis"] == "ok"
    tokens = _login(client)
    assert real_redis.keys("linli:limits:*")  # the login was counted in Redis
    assert not limiter.storage.fallback._counts
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).json
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code == 200
    real_redis.flushdb()  # Redis restarted empty, or flushed: the database still knows
    for token in (tokens["access_token"], refreshed["access_token"]):
        refused = client.get("/api/v1/me", headers=bearer(token))
        assert refused.status_code == 401 and refused.json["error"] == "auth.token_revoked"
    assert client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    assert client.post("/api/v1/auth/refresh", headers=bearer(refreshed["refresh_token"])).status_code == 401


def test_a_counted_request_asks_redis_once_and_its_headers_come_from_that_answer(client, real_redis, monkeypatch):
    from limits.storage import RedisStorage

    make_user(username="resident.demo", name="王阿姨", is_demo=True)

    def asked_again(*args, **kwargs):
        raise AssertionError("the rate-limit headers asked Redis again")

    monkeypatch.setattr(RedisStorage, "get", asked_again)
    monkeypatch.setattr(RedisStorage, "get_expiry", asked_again)
    remaining, counted = [], []
    for _ in range(3):
        answer = client.post("/api/v1/auth/demo", json={"username": "resident.demo"})
        assert answer.status_code == 200
        (key,) = real_redis.keys("linli:limits:*")
        remaining.append(int(answer.headers["X-RateLimit-Remaining"]))
        counted.append(int(real_redis.get(key)))
    limit = int(answer.headers["X-RateLimit-Limit"])
    # The headers say what Redis counted, request after request.
    assert remaining == [limit - n for n in counted] and counted == [1, 2, 3]
    ttl = real_redis.ttl(key)
    assert 0 < ttl <= 60 and time.time() < int(answer.headers["X-RateLimit-Reset"]) <= time.time() + ttl + 1


def test_the_breaker_lets_a_trial_through_after_the_cool_off_and_closes(client, real_redis):
    link = redis_client.link()
    for _ in range(3):
        link.breaker.failure()
    assert link.breaker.state == "open"
    ready = client.get("/readyz").json
    assert ready["redis"] == "degraded"  # not asked while open
    make_user(username="resident.demo", name="王阿姨", is_demo=True)
    _login(client)
    assert not real_redis.keys("linli:limits:*") and limiter.storage.fallback._counts
    time.sleep(1.05)
    assert link.breaker.state == "half_open"
    assert client.get("/readyz").json["redis"] == "ok"  # the trial answered: closed
    assert link.breaker.state == "closed"
    _login(client)
    assert real_redis.keys("linli:limits:*")


def test_revocations_an_earlier_version_kept_in_redis_are_adopted(client, real_redis):
    from flask_jwt_extended import decode_token

    make_user(username="resident.demo", name="王阿姨", is_demo=True)
    tokens = _login(client)
    claims = decode_token(tokens["access_token"])
    real_redis.set("linli:revoked:sid:" + claims["sid"], "1", ex=3600)
    real_redis.set("linli:revoked:some-spent-refresh-token", "1", ex=60)
    assert client.get("/api/v1/me", headers=bearer(tokens["access_token"])).status_code == 200
    assert auth_service.adopt_redis_revocations(real_redis) == 2
    assert auth_service.adopt_redis_revocations(real_redis) == 0  # idempotent
    refused = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))
    assert refused.status_code == 401 and refused.json["error"] == "auth.token_revoked"
