"""Idempotency-Key: a retried create returns the first response and creates nothing twice."""
import threading

import sqlalchemy as sa
import pytest

from models.base import db
from models.people import UnitClaim
from tests.factories import auth, make_user, make_world


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
