"""Idempotency-Key: a retried create returns the first response and creates nothing twice."""
import json
import threading
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import pytest

from models.base import db
from models.people import UnitClaim
from tests.factories import auth, make_user, make_world, tokens_for


def claim_body(unit):
    return {"unit_id": unit.id, "certificate_no": "沪2019普012345", "owner_name": "王秀英"}


def count_claims():
    return db.session.execute(sa.select(sa.func.count()).select_from(UnitClaim)).scalar()


def test_retry_with_the_same_key_replays_the_first_response(client):
    world = make_world()
    user = make_user(name="王秀英")
    headers = auth(user, **{"Idempotency-Key": "claim-1"})
    first = client.post("/api/v1/me/unit-claims", json=claim_body(world.units[0]), headers=headers)
    again = client.post("/api/v1/me/unit-claims", json=claim_body(world.units[0]), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_claims() == 1


def test_same_key_with_a_different_body_is_422(client):
    world = make_world()
    user = make_user(name="王秀英")
    headers = auth(user, **{"Idempotency-Key": "claim-1"})
    client.post("/api/v1/me/unit-claims", json=claim_body(world.units[0]), headers=headers)
    other = client.post("/api/v1/me/unit-claims", json=claim_body(world.units[1]), headers=headers)
    assert other.status_code == 422 and other.json["error"] == "idempotency.key_reused"
    assert count_claims() == 1


def test_keys_are_per_user(client):
    world = make_world()
    alice, bob = make_user(name="甲"), make_user(name="乙")
    a = client.post("/api/v1/me/unit-claims", json=claim_body(world.units[0]),
                    headers=auth(alice, **{"Idempotency-Key": "k"}))
    b = client.post("/api/v1/me/unit-claims", json=claim_body(world.units[0]),
                    headers=auth(bob, **{"Idempotency-Key": "k"}))
    assert a.status_code == b.status_code == 201 and a.json["id"] != b.json["id"]


def test_a_failed_request_does_not_burn_the_key(client):
    world = make_world()
    user = make_user(name="王秀英")
    headers = auth(user, **{"Idempotency-Key": "retry-after-fix"})
    bad = client.post("/api/v1/me/unit-claims", json={**claim_body(world.units[0]), "unit_id": 2147483647},
                      headers=headers)
    assert bad.status_code == 422
    fixed = client.post("/api/v1/me/unit-claims", json={**claim_body(world.units[0]), "unit_id": 2147483647},
                        headers=headers)
    assert fixed.status_code == 422 and "Idempotent-Replayed" not in fixed.headers


def test_invalid_key_is_named(client):
    user = make_user(name="王秀英")
    response = client.post("/api/v1/me/subscriptions", json={"template_ids": ["PLATFORM_TEST_TEMPLATE_ID"]},
                           headers=auth(user, **{"Idempotency-Key": "x" * 200}))
    assert response.status_code == 422 and "Idempotency-Key" in response.json["errors"]


@pytest.mark.real_commits
def test_concurrent_retries_create_one_claim(app):
    world = make_world()
    user = make_user(name="王秀英")
    headers = auth(user, **{"Idempotency-Key": "race"})
    body = claim_body(world.units[0])
    db.session.remove()
    results = []
    barrier = threading.Barrier(6)

    def attempt():
        with app.app_context():
            barrier.wait()
            response = app.test_client().post("/api/v1/me/unit-claims", json=body, headers=headers)
            results.append((response.status_code, response.get_json()))
            db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    codes = sorted(code for code, _ in results)
    assert len(results) == 6 and all(code in (201, 409) for code in codes), results
    assert codes.count(201) >= 1
    ids = {body["id"] for code, body in results if code == 201}
    assert len(ids) == 1  # every success is the same claim
    assert count_claims() == 1


# --- a request that never finished (the worker crashed) ------------------------------------------------------

def _crashed_reservation(user, key, raw: bytes, path="/api/v1/me/unit-claims"):
    """The record a request leaves when its worker dies after reserving the key: no status, no body."""
    from models.system import IdempotencyRecord
    from service import clock, system

    record = IdempotencyRecord(scope=f"user:{user.id}", key=key,
                               fingerprint=system.fingerprint("POST", path + "?", raw),
                               created_at=clock.now(), expires_at=clock.now() + timedelta(hours=24))
    db.session.add(record)
    db.session.commit()
    return record


def test_a_key_left_in_progress_by_a_crash_is_released_after_the_request_timeout(app, client):
    from service import clock

    start = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
    clock.set_now(start)
    world = make_world()
    user = make_user(name="王秀英")
    raw = json.dumps(claim_body(world.units[0])).encode()
    _crashed_reservation(user, "crashed", raw)
    headers = auth(user, **{"Idempotency-Key": "crashed", "Content-Type": "application/json"})
    timeout = app.config["REQUEST_TIMEOUT_SECONDS"]
    assert timeout == 60
    clock.set_now(start + timedelta(seconds=timeout - 1))  # may still be running: the retry waits
    busy = client.post("/api/v1/me/unit-claims", data=raw, headers=headers)
    assert busy.status_code == 409 and busy.json["error"] == "idempotency.in_progress"
    assert count_claims() == 0
    clock.set_now(start + timedelta(seconds=timeout + 1))  # longer than any request runs: released
    retried = client.post("/api/v1/me/unit-claims", data=raw, headers=headers)
    assert retried.status_code == 201, retried.json
    assert count_claims() == 1
    replayed = client.post("/api/v1/me/unit-claims", data=raw, headers=headers)
    assert replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json == retried.json and count_claims() == 1


def test_a_released_key_still_refuses_a_different_body(client):
    from service import clock

    start = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
    clock.set_now(start)
    world = make_world()
    user = make_user(name="王秀英")
    _crashed_reservation(user, "crashed", json.dumps(claim_body(world.units[0])).encode())
    clock.set_now(start + timedelta(minutes=5))
    other = client.post("/api/v1/me/unit-claims", data=json.dumps(claim_body(world.units[1])),
                        headers=auth(user, **{"Idempotency-Key": "crashed", "Content-Type": "application/json"}))
    assert other.status_code == 422 and other.json["error"] == "idempotency.key_reused"


def test_the_first_request_finishing_after_its_key_was_taken_over_does_not_overwrite_the_record(client):
    from models.system import IdempotencyRecord
    from service import clock, system

    start = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
    clock.set_now(start)
    slow = system.begin_idempotent("user:1", "k", "f" * 64, timedelta(hours=24), timedelta(seconds=60))
    clock.set_now(start + timedelta(seconds=61))
    retry = system.begin_idempotent("user:1", "k", "f" * 64, timedelta(hours=24), timedelta(seconds=60))
    assert isinstance(retry, system.Reservation) and retry.record_id == slow.record_id
    system.finish_idempotent(retry, 201, '{"id": 2}', {})
    system.finish_idempotent(slow, 201, '{"id": 1}', {})  # too late: the retry's answer stands
    record = db.session.get(IdempotencyRecord, slow.record_id)
    assert (record.status_code, record.response_body) == (201, '{"id": 2}')


def test_a_request_holding_a_key_past_its_commit_deadline_changes_nothing_and_frees_the_key(client, app, monkeypatch):
    """A retry may take a key over once its request has run REQUEST_TIMEOUT; gunicorn's threads do not stop
    the request, so the request itself refuses to commit after three quarters of that time."""
    world = make_world()
    user = make_user(name="王秀英")
    headers = auth(user, **{"Idempotency-Key": "slow-1"})
    monkeypatch.setitem(app.config, "REQUEST_TIMEOUT", timedelta(seconds=0))  # every commit comes too late
    late = client.post("/api/v1/me/unit-claims", json=claim_body(world.units[0]), headers=headers)
    assert late.status_code == 503 and late.json["error"] == "request.too_slow"
    assert late.json["message"] == "请求处理超时，未做任何更改，请重试"
    assert count_claims() == 0 and _records() == 0  # nothing written, the key free for the retry
    without_key = client.post("/api/v1/me/unit-claims", json=claim_body(world.units[1]), headers=auth(user))
    assert without_key.status_code == 201  # a request without a key has no deadline
    monkeypatch.setitem(app.config, "REQUEST_TIMEOUT", timedelta(seconds=60))
    retried = client.post("/api/v1/me/unit-claims", json=claim_body(world.units[0]), headers=headers)
    assert retried.status_code == 201 and count_claims() == 2


# --- tokens are never stored, and a revoked session never gets a replay ------------------------------------

def _records():
    from models.system import IdempotencyRecord

    return db.session.execute(sa.select(sa.func.count()).select_from(IdempotencyRecord)).scalar_one()


def test_logins_refreshes_and_logouts_are_not_recorded(client):
    make_user(username="resident.demo", name="王阿姨", is_demo=True)
    key = {"Idempotency-Key": "login-1"}
    first = client.post("/api/v1/auth/demo", json={"username": "resident.demo"}, headers=key)
    again = client.post("/api/v1/auth/demo", json={"username": "resident.demo"}, headers=key)
    assert first.status_code == again.status_code == 200
    assert "Idempotent-Replayed" not in again.headers
    assert again.json["access_token"] != first.json["access_token"]  # a new session, not a stored one
    refreshed = client.post("/api/v1/auth/refresh", headers={
        "Authorization": f"Bearer {first.json['refresh_token']}", **key})
    assert refreshed.status_code == 200 and "Idempotent-Replayed" not in refreshed.headers
    out = client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {again.json['access_token']}",
                                                      "Idempotency-Key": "logout-1"})
    assert out.status_code == 200
    assert _records() == 0  # no token (nor anything else of these answers) was stored


def test_a_replay_is_refused_once_the_session_is_logged_out(client):
    world = make_world()
    user = make_user(name="王秀英")
    tokens = tokens_for(user)
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "Idempotency-Key": "before-logout"}
    first = client.post("/api/v1/me/unit-claims", json=claim_body(world.units[0]), headers=headers)
    assert first.status_code == 201
    assert client.post("/api/v1/auth/logout", headers={
        "Authorization": f"Bearer {tokens['access_token']}"}).status_code == 200
    replay = client.post("/api/v1/me/unit-claims", json=claim_body(world.units[0]), headers=headers)
    assert replay.status_code == 401 and replay.json["error"] == "auth.token_revoked"
    assert "Idempotent-Replayed" not in replay.headers and "certificate_no" not in replay.get_data(as_text=True)


def test_a_replay_is_refused_to_a_disabled_account(client):
    world = make_world()
    user = make_user(name="王秀英")
    headers = auth(user, **{"Idempotency-Key": "before-disable"})
    assert client.post("/api/v1/me/unit-claims", json=claim_body(world.units[0]), headers=headers).status_code == 201
    user.is_active = False
    db.session.commit()
    replay = client.post("/api/v1/me/unit-claims", json=claim_body(world.units[0]), headers=headers)
    assert replay.status_code == 401 and "Idempotent-Replayed" not in replay.headers
