"""HTTP: log in with a wx.login code and bind the phone number, against the fake WeChat server."""
import re

import pytest
import sqlalchemy as sa

from models.base import db
from models.people import ResidentProfile, User, WeChatAccount
from tests.factories import auth, make_user

ENVELOPE_KEYS = {"code", "status", "error", "message", "errors", "request_id"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def envelope(response, status, error):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == ENVELOPE_KEYS
    assert body["code"] == status and body["error"] == error
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["errors"], dict)
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "wx-test-secret", "secret-session-key", "access_token=", "sqlalchemy", "/work/"):
        assert leak not in text
    return body


def login(client, code, **headers):
    return client.post("/api/v1/auth/wechat", json={"code": code}, headers=headers)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def count(model, *where):
    return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()


# --- login ----------------------------------------------------------------------------------------------------

def test_first_login_creates_an_unverified_resident(client):
    users_before = count(User)
    response = login(client, "ok:openid1:union1")
    assert response.status_code == 200, response.json
    body = response.json
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7200
    assert body["user"]["roles"] == ["resident"] and body["user"]["verified"] is False
    assert count(User) == users_before + 1
    account = db.session.execute(sa.select(WeChatAccount).where(WeChatAccount.openid == "openid1")).scalar_one()
    assert (account.user_id, account.appid, account.unionid) == (body["user"]["id"], "wx-test-appid", "union1")
    me = client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json["id"] == body["user"]["id"] and me.json["verified"] is False
    assert me.json["profile"]["phone_verified"] is False
    assert [r["role"] for r in me.json["roles"]] in (["resident"], [])


def test_second_login_with_the_same_openid_is_the_same_user(client):
    first = login(client, "ok:openid1").json
    users = count(User)
    second = login(client, "ok:openid1").json
    assert second["user"]["id"] == first["user"]["id"]
    assert second["access_token"] != first["access_token"]
    assert count(User) == users
    assert count(WeChatAccount, WeChatAccount.openid == "openid1") == 1


def test_a_later_login_records_the_unionid(client):
    first = login(client, "ok:openid1").json
    login(client, "ok:openid1:union9")
    account = db.session.execute(sa.select(WeChatAccount).where(WeChatAccount.openid == "openid1")).scalar_one()
    assert account.unionid == "union9" and account.user_id == first["user"]["id"]


def test_different_openids_are_different_users(client):
    a = login(client, "ok:openid-a").json["user"]["id"]
    b = login(client, "ok:openid-b").json["user"]["id"]
    assert a != b


def test_login_of_an_existing_factory_account(client):
    user = make_user(name="王阿姨", openid="openid-existing")
    assert login(client, "ok:openid-existing").json["user"]["id"] == user.id


def test_busy_once_is_retried_and_logs_in(client):
    assert login(client, "busy-once:openid-busy").status_code == 200


@pytest.mark.parametrize("code,status,error", [
    ("err:40029", 400, "auth.wechat_code_invalid"),
    ("unknown-code", 400, "auth.wechat_code_invalid"),
    ("err:40163", 400, "auth.wechat_code_invalid"),
    ("err:45011", 429, "auth.wechat_rate_limited"),
    ("err:40226", 403, "auth.wechat_user_blocked"),
    ("slow", 503, "auth.wechat_unavailable"),
    ("err:-1", 503, "auth.wechat_unavailable"),
    ("garbage", 503, "auth.wechat_unavailable"),
    ("err:61000", 502, "auth.wechat_error"),
])
def test_login_errors_are_mapped_to_the_envelope(client, code, status, error):
    users = count(User)
    accounts = count(WeChatAccount)
    body = envelope(login(client, code), status, error)
    assert CJK.search(body["message"]), body["message"]  # Chinese by default
    assert count(User) == users and count(WeChatAccount) == accounts


def test_rate_limited_login_carries_retry_after(client):
    response = login(client, "err:45011")
    envelope(response, 429, "auth.wechat_rate_limited")
    assert int(response.headers["Retry-After"]) > 0


def test_login_error_in_english_when_accept_language_prefers_it(client):
    body = envelope(login(client, "err:40029", **{"Accept-Language": "en-US,en;q=0.9"}), 400,
                    "auth.wechat_code_invalid")
    assert body["message"] == "The WeChat login code is invalid or expired"
    assert body["status"] == "Bad Request"
    blocked = envelope(login(client, "err:40226", **{"Accept-Language": "en"}), 403, "auth.wechat_user_blocked")
    assert blocked["message"] == "WeChat has blocked this user as high risk"
    assert blocked["status"] == "Forbidden"
    down = envelope(login(client, "slow", **{"Accept-Language": "en"}), 503, "auth.wechat_unavailable")
    assert down["status"] == "Service Unavailable" and not CJK.search(down["message"])


def test_chinese_is_preferred_over_english_when_asked(client):
    body = envelope(login(client, "err:40029", **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}), 400,
                    "auth.wechat_code_invalid")
    assert CJK.search(body["message"])


@pytest.mark.parametrize("payload", [{}, {"code": ""}, {"code": 5}, {"code": "x" * 129}])
def test_bad_login_input_is_422_naming_the_field(client, payload):
    body = envelope(client.post("/api/v1/auth/wechat", json=payload), 422, "validation.invalid")
    assert "code" in body["errors"]["json"]


def test_disabled_user_cannot_log_in(client):
    user_id = login(client, "ok:openid-off").json["user"]["id"]
    db.session.get(User, user_id).is_active = False
    db.session.commit()
    envelope(login(client, "ok:openid-off"), 403, "auth.user_inactive")


# --- phone binding --------------------------------------------------------------------------------------------

@pytest.fixture
def resident(client):
    body = login(client, "ok:openid-phone").json
    return body["user"]["id"], bearer(body["access_token"])


def test_bind_phone_shows_it_to_the_user(client, resident, wechat_fake):
    user_id, headers = resident
    response = client.post("/api/v1/auth/phone", json={"code": "phone:13812345678"}, headers=headers)
    assert response.status_code == 200, response.json
    assert response.json["phone"] == "13812345678" and response.json["phone_verified"] is True
    me = client.get("/api/v1/me", headers=headers).json
    assert me["verified"] is True
    assert me["profile"]["phone"] == "13812345678" and me["profile"]["phone_verified"] is True
    # Stored encrypted, not in clear.
    profile = db.session.get(ResidentProfile, user_id)
    assert profile.phone_hash and "13812345678" not in (profile.phone_enc or "")
    (call,) = [q for p, q in wechat_fake.requests if p == "/wxa/business/getuserphonenumber"]
    assert call["code"] == "phone:13812345678" and call["access_token"] == wechat_fake.tokens[0]


def test_rebinding_reuses_the_cached_server_token(client, resident, wechat_fake):
    _, headers = resident
    for number in ("13812345678", "13900001111"):
        assert client.post("/api/v1/auth/phone", json={"code": f"phone:{number}"}, headers=headers).status_code == 200
    assert wechat_fake.token_calls == 1
    assert client.get("/api/v1/me", headers=headers).json["profile"]["phone"] == "13900001111"


def test_bind_phone_for_a_profile_that_already_exists(client):
    user = make_user(name="李四")
    response = client.post("/api/v1/auth/phone", json={"code": "phone:13812345678"}, headers=auth(user))
    assert response.status_code == 200
    assert response.json["name"] == "李四" and response.json["phone"] == "13812345678"


def test_bind_phone_needs_a_login(client):
    envelope(client.post("/api/v1/auth/phone", json={"code": "phone:13812345678"}), 401, "auth.token_missing")


@pytest.mark.parametrize("code,status,error", [
    ("err:40029", 400, "auth.wechat_phone_code_invalid"),
    ("err:40163", 400, "auth.wechat_phone_code_invalid"),
    ("wrongapp:13812345678", 400, "auth.wechat_phone_code_invalid"),
    ("nonsense", 400, "auth.wechat_phone_code_invalid"),
    ("err:45011", 429, "auth.wechat_rate_limited"),
    ("err:40226", 403, "auth.wechat_user_blocked"),
])
def test_bind_phone_errors_are_4xx_and_bind_nothing(client, resident, code, status, error):
    user_id, headers = resident
    envelope(client.post("/api/v1/auth/phone", json={"code": code}, headers=headers), status, error)
    me = client.get("/api/v1/me", headers=headers).json
    assert me["verified"] is False and me["profile"]["phone"] is None
    profile = db.session.get(ResidentProfile, user_id)
    assert profile is None or not profile.phone_verified


def test_bind_phone_when_wechat_is_busy_is_503(client, resident):
    _, headers = resident
    envelope(client.post("/api/v1/auth/phone", json={"code": "err:-1"}, headers=headers), 503,
             "auth.wechat_unavailable")


def test_bind_phone_error_in_english(client, resident):
    _, headers = resident
    body = envelope(client.post("/api/v1/auth/phone", json={"code": "err:40029"},
                                headers={**headers, "Accept-Language": "en"}), 400, "auth.wechat_phone_code_invalid")
    assert body["message"] == "The phone number code is invalid or expired"


def test_bind_phone_missing_code_is_422(client, resident):
    _, headers = resident
    body = envelope(client.post("/api/v1/auth/phone", json={}, headers=headers), 422, "validation.invalid")
    assert "code" in body["errors"]["json"]
