"""Staff sign-in's second factor: TOTP (RFC 6238) enrolment, sign-in, recovery codes, lockout, reset."""
from __future__ import annotations

import base64
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import current_app

from models.audit import AuditEntry
from models.base import db
from service import clock, second_factor
from service.clock import SHANGHAI
from tests.factories import make_user, make_world

NOW = datetime(2026, 12, 7, 9, 0, 0, tzinfo=SHANGHAI)


@pytest.fixture
def required():
    """The production setting: every role privacy.yaml lists needs the second factor."""
    second_factor.configure("required")
    clock.set_now(NOW)
    yield
    second_factor.configure(current_app.config["SECOND_FACTOR"])


def login(user) -> dict:
    """The pair a login issues (the WeChat and demo logins answer with the same)."""
    from api.security import tokens_for

    with current_app.test_request_context():
        return tokens_for(user.id)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def code_now(secret: str, steps: int = 0) -> str:
    return second_factor.code_at(base64.b32decode(secret), second_factor.current_step() + steps)


def not_a_code(secret: str) -> str:
    """Six digits that no step of the window gives."""
    valid = {code_now(secret, k) for k in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def enrol(client, pair: dict) -> tuple[str, dict]:
    started = client.post("/api/v1/me/second-factor", headers=bearer(pair["access_token"]))
    assert started.status_code == 201, started.json
    secret = started.json["secret"]
    confirmed = client.post("/api/v1/me/second-factor/confirm", json={"code": code_now(secret)},
                            headers=bearer(pair["access_token"]))
    assert confirmed.status_code == 200, confirmed.json
    return secret, confirmed.json


def test_totp_matches_the_rfc_6238_vectors():
    secret = b"12345678901234567890"   # RFC 6238 appendix B, SHA-1 (the last 6 of its 8 digits)
    assert second_factor.code_at(secret, 59 // 30) == "287082"
    assert second_factor.code_at(secret, 1111111109 // 30) == "081804"
    assert second_factor.code_at(secret, 1234567890 // 30) == "005924"
    assert second_factor.code_at(secret, 20000000000 // 30) == "353130"


def test_a_staff_login_leaves_out_the_staff_role_until_the_second_factor(client, required):
    world = make_world()
    staff = make_user(name="李红", roles=[("staff", "neighbourhood", world.nb.id)])
    elder = make_user(name="王秀英", phone="13812345678", neighbourhood_id=world.nb.id)
    pair = login(staff)
    assert pair["user"]["roles"] == ["resident"]
    assert pair["user"]["second_factor"] == "pending" and pair["user"]["withheld_roles"] == ["staff"]
    answered = client.post("/api/v1/auth/refresh", headers=bearer(pair["refresh_token"])).json["user"]
    assert answered["second_factor_name"] == "待二次验证" and answered["withheld_roles_names"] == ["工作人员"]
    queue = client.get("/api/v1/cases", headers=bearer(pair["access_token"]))
    assert queue.status_code == 403 and queue.json["error"] == "auth.second_factor_required"
    assert "二次验证" in queue.json["message"]
    # A view that decides in the service: the withheld role gives nothing there either.
    assert client.get(f"/api/v1/residents/{elder.id}", headers=bearer(pair["access_token"])).status_code in (403, 404)
    status = client.get("/api/v1/me/second-factor", headers=bearer(pair["access_token"])).json
    assert status == {"required": True, "roles": ["staff"], "roles_names": ["工作人员"], "enrolled": False,
                      "confirmed_at": None, "recovery_codes_left": 0, "verified": False}

    started = client.post("/api/v1/me/second-factor", headers=bearer(pair["access_token"])).json
    assert started["otpauth_uri"].startswith("otpauth://totp/Linli%20") and started["secret"] in started["otpauth_uri"]
    assert "period=30" in started["otpauth_uri"] and "digits=6" in started["otpauth_uri"]
    assert base64.b64decode(started["qr_svg"].split(",", 1)[1]).startswith(b"<svg")
    wrong = client.post("/api/v1/me/second-factor/confirm", json={"code": not_a_code(started["secret"])},
                        headers=bearer(pair["access_token"]))
    assert wrong.status_code == 422 and wrong.json["error"] == "auth.second_factor_code_wrong"
    confirmed = client.post("/api/v1/me/second-factor/confirm", json={"code": code_now(started["secret"])},
                            headers=bearer(pair["access_token"])).json
    codes = confirmed["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10 and all(len(c) == 11 and c[5] == "-" for c in codes)
    assert confirmed["user"]["second_factor"] == "verified" and "staff" in confirmed["user"]["roles"]
    assert client.get("/api/v1/cases", headers=bearer(confirmed["access_token"])).status_code == 200
    assert client.get(f"/api/v1/residents/{elder.id}", headers=bearer(confirmed["access_token"])).status_code == 200
    enrolled = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "second_factor.enrolled")).scalar_one()
    assert enrolled.actor_user_id == staff.id
    # Set up once: a second set-up waits for an admin's reset.
    again = client.post("/api/v1/me/second-factor", headers=bearer(pair["access_token"]))
    assert again.status_code == 409 and again.json["error"] == "auth.second_factor_enrolled"


def test_a_code_is_accepted_once_within_a_step_either_side(client, required):
    world = make_world()
    staff = make_user(name="李红", roles=[("staff", "neighbourhood", world.nb.id)])
    pair = login(staff)
    secret, _ = enrol(client, pair)

    def sign_in(code: str):
        return client.post("/api/v1/auth/second-factor", json={"code": code}, headers=bearer(pair["access_token"]))

    assert sign_in(code_now(secret)).status_code == 422          # the step the enrolment used: never again
    assert sign_in(code_now(secret, -1)).status_code == 422      # an earlier step: not after a later one
    clock.set_now(NOW + timedelta(seconds=60))                   # two steps on
    assert sign_in(code_now(secret, -2)).status_code == 422      # two steps old: outside the window
    assert sign_in(code_now(secret, +2)).status_code == 422      # two steps ahead: outside the window
    ahead = sign_in(code_now(secret, +1))                        # one step ahead (a phone's clock): accepted
    assert ahead.status_code == 200 and ahead.json["user"]["second_factor"] == "verified"
    assert "staff" in ahead.json["user"]["roles"]
    assert sign_in(code_now(secret, +1)).status_code == 422      # and not twice


def test_five_wrong_codes_lock_the_factor_for_fifteen_minutes(client, required):
    world = make_world()
    staff = make_user(name="李红", roles=[("staff", "neighbourhood", world.nb.id)])
    pair = login(staff)
    secret, _ = enrol(client, pair)
    clock.set_now(NOW + timedelta(minutes=1))
    right, wrong = code_now(secret), not_a_code(secret)
    for _ in range(5):
        refused = client.post("/api/v1/auth/second-factor", json={"code": wrong}, headers=bearer(pair["access_token"]))
        assert refused.status_code == 422 and refused.json["message"] == "验证码不正确"
    locked = client.post("/api/v1/auth/second-factor", json={"code": right}, headers=bearer(pair["access_token"]))
    assert locked.status_code == 429 and locked.json["error"] == "auth.second_factor_locked"
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    clock.set_now(NOW + timedelta(minutes=16))
    ok = client.post("/api/v1/auth/second-factor", json={"code": code_now(secret)}, headers=bearer(pair["access_token"]))
    assert ok.status_code == 200


def test_a_recovery_code_works_once_and_a_refresh_keeps_the_factor_until_a_reset(client, required):
    world = make_world()
    staff = make_user(name="李红", roles=[("staff", "neighbourhood", world.nb.id)])
    admin = make_user(name="赵", roles=[("admin", "district", world.district.id)])
    far_admin_world = make_world()
    far_admin = make_user(name="钱", roles=[("admin", "district", far_admin_world.district.id)])
    pair = login(staff)
    _, confirmed = enrol(client, pair)
    code = confirmed["recovery_codes"][3]
    used = client.post("/api/v1/auth/second-factor", json={"code": code.upper()}, headers=bearer(pair["access_token"]))
    assert used.status_code == 200 and "staff" in used.json["user"]["roles"]
    again = client.post("/api/v1/auth/second-factor", json={"code": code}, headers=bearer(pair["access_token"]))
    assert again.status_code == 422
    status = client.get("/api/v1/me/second-factor", headers=bearer(used.json["access_token"])).json
    assert status["recovery_codes_left"] == 9 and status["verified"] is True and status["enrolled"] is True
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(used.json["refresh_token"])).json
    assert refreshed["user"]["second_factor"] == "verified" and "staff" in refreshed["user"]["roles"]

    # The admin's reset: audited, in scope only, never their own; then a refresh leaves the role out.
    admin_pair, far_pair = _verified(client, admin), _verified(client, far_admin)
    staff_pair = bearer(refreshed["access_token"])
    assert client.delete(f"/api/v1/users/{staff.id}/second-factor", headers=staff_pair).status_code == 403
    assert client.delete(f"/api/v1/users/{staff.id}/second-factor", headers=bearer(far_pair)).status_code == 404
    assert client.delete(f"/api/v1/users/{admin.id}/second-factor", headers=bearer(admin_pair)).status_code == 403
    assert client.delete(f"/api/v1/users/{staff.id}/second-factor", headers=bearer(admin_pair)).status_code == 204
    reset = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "second_factor.reset")).scalar_one()
    assert (reset.actor_user_id, reset.subject_user_id) == (admin.id, staff.id)
    after = client.post("/api/v1/auth/refresh", headers=bearer(refreshed["refresh_token"])).json
    assert after["user"]["second_factor"] == "pending" and after["user"]["roles"] == ["resident"]
    assert client.delete(f"/api/v1/users/{staff.id}/second-factor", headers=bearer(admin_pair)).status_code == 404


def _verified(client, user) -> str:
    """An access token of ``user`` that carries the second factor (enrolled now)."""
    _, confirmed = enrol(client, login(user))
    return confirmed["access_token"]


def test_who_needs_it_depends_on_the_roles_and_the_setting(client, required):
    world = make_world()
    resident = make_user(name="王秀英", neighbourhood_id=world.nb.id)
    pair = login(resident)
    assert pair["user"]["second_factor"] == "not_needed" and pair["user"]["withheld_roles"] == []
    refused = client.post("/api/v1/me/second-factor", headers=bearer(pair["access_token"]))
    assert refused.status_code == 403 and refused.json["error"] == "auth.second_factor_not_needed"
    demo_staff = make_user(name="演示", roles=[("staff", "neighbourhood", world.nb.id)], is_demo=True)
    assert login(demo_staff)["user"]["withheld_roles"] == ["staff"]      # production: demo accounts too
    second_factor.configure("non_demo")                                   # development
    assert login(demo_staff)["user"]["second_factor"] == "not_needed"
    other_staff = make_user(name="李红", roles=[("staff", "neighbourhood", world.nb.id)])
    assert login(other_staff)["user"]["withheld_roles"] == ["staff"]
    second_factor.configure("off")
    assert set(login(other_staff)["user"]["roles"]) == {"resident", "staff"}
    with pytest.raises(Exception, match="SECOND_FACTOR"):
        second_factor.configure("sometimes")
