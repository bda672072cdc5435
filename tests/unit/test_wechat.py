"""The WeChat client (service/wechat.py) against the local fake WeChat server.

Nothing is mocked: the production client makes real HTTP calls to the fake,
and the access token is cached in the real database.
"""
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from models.base import db
from models.people import WeChatAccount
from models.system import CacheEntry
from service import clock
from service.wechat import TOKEN_CACHE_KEY, WeChatClient, WeChatError

START = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def wechat(app):
    return app.extensions["wechat"]


def calls_to(fake, path):
    return [params for p, params in fake.requests if p == path]


def cached_token():
    db.session.expire_all()
    entry = db.session.get(CacheEntry, TOKEN_CACHE_KEY)
    db.session.commit()
    return entry


# --- code2session ---------------------------------------------------------------------------------------------

def test_code2session_returns_openid_and_sends_the_documented_query(wechat, wechat_fake):
    data = wechat.code2session("ok:openid1")
    assert data["openid"] == "openid1"
    assert "unionid" not in data
    (query,) = calls_to(wechat_fake, "/sns/jscode2session")
    assert query == {"appid": "wx-test-appid", "secret": "wx-test-secret", "js_code": "ok:openid1",
                     "grant_type": "authorization_code"}


def test_code2session_returns_unionid_when_present(wechat):
    data = wechat.code2session("ok:openid2:union2")
    assert (data["openid"], data["unionid"]) == ("openid2", "union2")


@pytest.mark.parametrize("errcode", [40029, 45011, 40226, 40163])
def test_code2session_error_codes_raise_without_retry(wechat, wechat_fake, errcode):
    with pytest.raises(WeChatError) as info:
        wechat.code2session(f"err:{errcode}")
    assert info.value.errcode == errcode
    assert not info.value.unreachable
    assert len(calls_to(wechat_fake, "/sns/jscode2session")) == 1


def test_busy_is_retried_once_then_succeeds(wechat, wechat_fake):
    data = wechat.code2session("busy-once:openid3")
    assert data["openid"] == "openid3"
    assert len(calls_to(wechat_fake, "/sns/jscode2session")) == 2


def test_busy_twice_is_an_error_after_exactly_one_retry(wechat, wechat_fake):
    with pytest.raises(WeChatError) as info:
        wechat.code2session("err:-1")
    assert info.value.errcode == -1
    assert len(calls_to(wechat_fake, "/sns/jscode2session")) == 2


def test_timeout_is_unreachable_and_honours_the_configured_timeout(app, wechat):
    assert wechat.timeout == app.config["WECHAT_TIMEOUT"] == 1.0
    started = time.monotonic()
    with pytest.raises(WeChatError) as info:
        wechat.code2session("slow")
    elapsed = time.monotonic() - started
    assert info.value.unreachable and info.value.errcode is None
    assert elapsed < 2.5  # the fake answers after 3 s; the client gave up after ~1 s


def test_non_json_answer_is_unreachable(wechat):
    with pytest.raises(WeChatError) as info:
        wechat.code2session("garbage")
    assert info.value.unreachable


def test_connection_refused_is_unreachable():
    client = WeChatClient("http://127.0.0.1:9", "wx-test-appid", "wx-test-secret", timeout=1.0)
    with pytest.raises(WeChatError) as info:
        client.code2session("ok:x")
    assert info.value.unreachable


def test_wrong_secret_is_a_wechat_error(wechat_fake):
    client = WeChatClient(wechat_fake.url, "wx-test-appid", "not-the-secret", timeout=1.0)
    with pytest.raises(WeChatError) as info:
        client.code2session("ok:x")
    assert info.value.errcode == 40125


def test_unreachable_error_does_not_leak_the_secret_into_logs(wechat, caplog):
    caplog.set_level("DEBUG", logger="linli")
    with pytest.raises(WeChatError) as info:
        wechat.code2session("garbage")
    assert "wx-test-secret" not in caplog.text
    assert "wx-test-secret" not in str(info.value)


# --- stable_token ---------------------------------------------------------------------------------------------

def test_stable_token_is_fetched_with_client_credential_and_cached_in_the_database(wechat, wechat_fake):
    clock.set_now(START)
    token = wechat.stable_token()
    assert wechat_fake.token_calls == 1 and token == wechat_fake.tokens[-1]
    (body,) = calls_to(wechat_fake, "/cgi-bin/stable_token")
    assert body == {"grant_type": "client_credential", "appid": "wx-test-appid", "secret": "wx-test-secret",
                    "force_refresh": False}
    entry = cached_token()
    assert entry.value == token
    assert entry.expires_at == START + timedelta(seconds=7200)

    assert wechat.stable_token() == token
    assert wechat_fake.token_calls == 1  # no HTTP call the second time


def test_the_cached_token_is_shared_by_another_client_instance(wechat, wechat_fake):
    """Another process (here: another client object) reads the same database row."""
    token = wechat.stable_token()
    other = WeChatClient(wechat_fake.url, "wx-test-appid", "wx-test-secret", timeout=1.0)
    assert other.stable_token() == token
    assert wechat_fake.token_calls == 1


def test_stable_token_is_refreshed_within_five_minutes_of_expiry(wechat, wechat_fake):
    clock.set_now(START)
    first = wechat.stable_token()
    clock.set_now(START + timedelta(seconds=7200) - timedelta(minutes=5, seconds=30))
    assert wechat.stable_token() == first
    assert wechat_fake.token_calls == 1
    clock.set_now(START + timedelta(seconds=7200) - timedelta(minutes=4, seconds=30))
    second = wechat.stable_token()
    assert wechat_fake.token_calls == 2 and second != first
    assert cached_token().value == second
    assert cached_token().expires_at == clock.now() + timedelta(seconds=7200)


def test_stable_token_after_expiry_is_refetched(wechat, wechat_fake):
    clock.set_now(START)
    first = wechat.stable_token()
    clock.set_now(START + timedelta(hours=3))
    assert wechat.stable_token() != first
    assert wechat_fake.token_calls == 2


def test_stable_token_failure_leaves_the_cache_usable(wechat_fake):
    bad = WeChatClient(wechat_fake.url, "wx-test-appid", "not-the-secret", timeout=1.0)
    with pytest.raises(WeChatError) as info:
        bad.stable_token()
    assert info.value.errcode == 40125
    good = WeChatClient(wechat_fake.url, "wx-test-appid", "wx-test-secret", timeout=1.0)
    assert good.stable_token() == wechat_fake.tokens[-1]


def test_rejected_token_is_refetched_and_the_call_retried_once(wechat, wechat_fake):
    first = wechat.stable_token()
    wechat_fake.reject_token_once = True
    info = wechat.get_phone_number("phone:13812345678")
    assert info["purePhoneNumber"] == "13812345678"
    assert wechat_fake.token_calls == 2
    calls = calls_to(wechat_fake, "/wxa/business/getuserphonenumber")
    assert [c["access_token"] for c in calls] == [first, wechat_fake.tokens[-1]]
    assert cached_token().value == wechat_fake.tokens[-1] != first


def test_a_token_rejected_again_is_not_retried_forever(wechat, wechat_fake):
    wechat.stable_token()
    wechat_fake.reject_tokens = 10
    with pytest.raises(WeChatError) as info:
        wechat.get_phone_number("phone:13812345678")
    assert info.value.errcode == 40001
    assert len(calls_to(wechat_fake, "/wxa/business/getuserphonenumber")) == 2
    assert wechat_fake.token_calls == 2


@pytest.mark.real_commits
def test_concurrent_refreshers_fetch_the_token_once(app, wechat_fake):
    """Two processes find the token expired at once: the second waits for the
    first one's refresh (row lock / SQLite write lock) and uses its token."""
    db.session.add(CacheEntry(key=TOKEN_CACHE_KEY, value="old-token", expires_at=clock.now() - timedelta(hours=1)))
    db.session.commit()
    wechat_fake.token_delay = 0.5
    results, errors = {}, []

    def refresh(name):
        try:
            with app.app_context():
                client = WeChatClient(wechat_fake.url, "wx-test-appid", "wx-test-secret", timeout=5.0)
                results[name] = client.stable_token()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    first = threading.Thread(target=refresh, args=("first",))
    first.start()
    deadline = time.monotonic() + 5
    while not calls_to(wechat_fake, "/cgi-bin/stable_token") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls_to(wechat_fake, "/cgi-bin/stable_token"), "the first refresher never called WeChat"
    second = threading.Thread(target=refresh, args=("second",))
    second.start()
    first.join(10)
    second.join(10)
    assert not first.is_alive() and not second.is_alive()
    assert errors == []
    assert wechat_fake.token_calls == 1
    assert results["first"] == results["second"] == wechat_fake.tokens[0]


# --- get_phone_number -----------------------------------------------------------------------------------------

def test_get_phone_number_uses_the_cached_token(wechat, wechat_fake):
    info = wechat.get_phone_number("phone:13812345678")
    assert info["phoneNumber"] == "13812345678" and info["countryCode"] == "86"
    assert info["watermark"]["appid"] == "wx-test-appid"
    wechat.get_phone_number("phone:13900000000")
    assert wechat_fake.token_calls == 1
    calls = calls_to(wechat_fake, "/wxa/business/getuserphonenumber")
    assert [c["code"] for c in calls] == ["phone:13812345678", "phone:13900000000"]
    assert {c["access_token"] for c in calls} == {wechat_fake.tokens[0]}


def test_get_phone_number_rejects_a_watermark_of_another_appid(wechat):
    with pytest.raises(WeChatError) as info:
        wechat.get_phone_number("wrongapp:13812345678")
    # Not a transient outage: the code came from another mini-program, like WeChat's own 40029.
    assert not info.value.unreachable
    assert "watermark" in info.value.errmsg


@pytest.mark.parametrize("errcode", [40029, 40163, 45011])
def test_get_phone_number_error_codes(wechat, wechat_fake, errcode):
    with pytest.raises(WeChatError) as info:
        wechat.get_phone_number(f"err:{errcode}")
    assert info.value.errcode == errcode
    assert len(calls_to(wechat_fake, "/wxa/business/getuserphonenumber")) == 1


# --- send_subscribe -------------------------------------------------------------------------------------------

def test_send_subscribe_body_shape(wechat, wechat_fake):
    wechat.send_subscribe("openid-x", "TPL_ID", {"thing1": "您反映的问题已办结", "number2": 5},
                          page="pages/cases/detail?id=7")
    assert wechat_fake.sent == [{"touser": "openid-x", "template_id": "TPL_ID", "page": "pages/cases/detail?id=7",
                                 "data": {"thing1": {"value": "您反映的问题已办结"}, "number2": {"value": "5"}}}]
    (call,) = calls_to(wechat_fake, "/cgi-bin/message/subscribe/send")
    assert call["access_token"] == wechat_fake.tokens[0]


def test_send_subscribe_without_page_has_no_page_key(wechat, wechat_fake):
    wechat.send_subscribe("openid-x", "TPL_ID", {"thing1": "a"})
    assert "page" not in wechat_fake.sent[0]


def test_send_subscribe_error(wechat, wechat_fake):
    wechat_fake.send_error = 43101
    with pytest.raises(WeChatError) as info:
        wechat.send_subscribe("openid-x", "TPL_ID", {"thing1": "a"})
    assert info.value.errcode == 43101
    assert wechat_fake.sent == []


# --- the session key never leaves the server ------------------------------------------------------------------

def test_session_key_never_appears_in_any_api_response(client):
    login = client.post("/api/v1/auth/wechat", json={"code": "ok:openid1"})
    assert login.status_code == 200
    assert "secret-session-key" not in login.get_data(as_text=True)
    assert "session_key" not in login.get_data(as_text=True)
    headers = {"Authorization": f"Bearer {login.json['access_token']}"}
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and "secret-session-key" not in me.get_data(as_text=True)
    again = client.post("/api/v1/auth/wechat", json={"code": "ok:openid1"})
    assert "secret-session-key" not in again.get_data(as_text=True)
    # Nor is it kept in the account row.
    account = db.session.execute(sa.select(WeChatAccount).where(WeChatAccount.openid == "openid1")).scalar_one()
    row = db.session.execute(sa.select(WeChatAccount.__table__).where(
        WeChatAccount.__table__.c.id == account.id)).mappings().one()
    assert "secret-session-key" not in {str(v) for v in row.values()}
