"""Notifications: dedupe, the inbox over HTTP, subscribe consents and WeChat delivery to the fake server."""
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from models.base import db
from models.notifications import Delivery, Notification, SubscriptionGrant
from models.people import WeChatAccount
from service import clock, notifications
from tests.factories import auth, make_user

START = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai
TEMPLATE = "PLATFORM_TEST_TEMPLATE_ID"


@pytest.fixture
def wechat(app):
    return app.extensions["wechat"]


def notify(user, key, *, kind="platform.test", title="测试通知", body="这是一条测试消息", link=None, data=None):
    created = notifications.notify(user.id, kind=kind, dedupe_key=key, title=title, body=body, link=link, data=data)
    db.session.commit()
    return created


def delivery_of(key) -> Delivery:
    db.session.expire_all()
    return db.session.execute(sa.select(Delivery).join(Notification).where(Notification.dedupe_key == key)).scalar_one()


def grant(user, template_id=TEMPLATE, n=1):
    notifications.record_grants(user.id, [template_id] * n)


def count(model, *where):
    return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()


# --- notify ---------------------------------------------------------------------------------------------------

def test_notify_with_the_same_dedupe_key_twice_makes_one_notification():
    user = make_user(name="甲")
    assert notify(user, "case:1:closed") is True
    assert notify(user, "case:1:closed", title="another title") is False
    assert count(Notification, Notification.dedupe_key == "case:1:closed") == 1
    assert count(Delivery) == 1
    assert db.session.execute(sa.select(Notification.title)).scalar_one() == "测试通知"


def test_a_duplicate_notify_does_not_spoil_the_callers_transaction():
    user = make_user(name="甲")
    notify(user, "k1")
    notifications.notify(user.id, kind="platform.test", dedupe_key="k2", title="t", body="b")
    assert notifications.notify(user.id, kind="platform.test", dedupe_key="k1", title="t", body="b") is False
    db.session.commit()
    assert count(Notification) == 2


def test_a_kind_without_template_goes_to_the_inbox_only():
    user = make_user(name="甲")
    assert notify(user, "inbox-only", kind="people.something_else")
    assert count(Notification) == 1 and count(Delivery) == 0


def test_templates_come_from_the_rules_file():
    spec = notifications.template_for("platform.test")
    assert spec["template_id"] == TEMPLATE
    assert set(spec["fields"]) == {"thing1", "thing2", "time3"}
    assert notifications.template_for("no.such.kind") is None


# --- the inbox over HTTP --------------------------------------------------------------------------------------

def test_inbox_pagination_and_unread_count(client):
    user = make_user(name="甲")
    for i in range(5):
        notify(user, f"inbox-{i}", title=f"通知{i}")
    headers = auth(user)
    first = client.get("/api/v1/me/notifications?page=1&page_size=2", headers=headers)
    assert first.status_code == 200
    body = first.json
    assert (body["total"], body["unread"], body["page"], body["page_size"]) == (5, 5, 1, 2)
    assert [n["title"] for n in body["items"]] == ["通知4", "通知3"]  # newest first
    assert set(body["items"][0]) >= {"id", "kind", "title", "body", "link", "created_at", "read_at"}
    last = client.get("/api/v1/me/notifications?page=3&page_size=2", headers=headers).json
    assert [n["title"] for n in last["items"]] == ["通知0"]
    past = client.get("/api/v1/me/notifications?page=4&page_size=2", headers=headers).json
    assert past["items"] == [] and (past["total"], past["unread"]) == (5, 5)   # counted apart: no row carries them


def test_mark_read_and_read_all(client):
    user = make_user(name="甲")
    for i in range(3):
        notify(user, f"r-{i}")
    headers = auth(user)
    items = client.get("/api/v1/me/notifications", headers=headers).json["items"]
    one = client.post(f"/api/v1/me/notifications/{items[0]['id']}/read", headers=headers)
    assert one.status_code == 200 and one.json["read_at"] is not None and one.json["id"] == items[0]["id"]
    again = client.post(f"/api/v1/me/notifications/{items[0]['id']}/read", headers=headers)
    assert again.json["read_at"] == one.json["read_at"]  # reading twice keeps the first time
    body = client.get("/api/v1/me/notifications", headers=headers).json
    assert body["unread"] == 2 and body["total"] == 3
    unread = client.get("/api/v1/me/notifications?unread=true", headers=headers).json
    assert unread["total"] == 2 and items[0]["id"] not in [n["id"] for n in unread["items"]]
    assert unread["unread"] == 2 and len(unread["items"]) == 2
    past = client.get("/api/v1/me/notifications?unread=true&page=2&page_size=2", headers=headers).json
    assert (past["items"], past["total"], past["unread"]) == ([], 2, 2)
    second = client.get("/api/v1/me/notifications?page=2&page_size=2", headers=headers).json
    assert (len(second["items"]), second["total"], second["unread"]) == (1, 3, 2)
    marked = client.post("/api/v1/me/notifications/read-all", headers=headers)
    assert marked.status_code == 200 and marked.json == {"marked": 2}
    assert client.get("/api/v1/me/notifications", headers=headers).json["unread"] == 0
    assert client.post("/api/v1/me/notifications/read-all", headers=headers).json == {"marked": 0}


def test_another_users_notification_is_404_and_untouched(client):
    alice, bob = make_user(name="甲"), make_user(name="乙")
    notify(alice, "alice-only")
    nid = db.session.execute(sa.select(Notification.id)).scalar_one()
    response = client.post(f"/api/v1/me/notifications/{nid}/read", headers=auth(bob))
    assert response.status_code == 404 and response.json["error"] == "notifications.not_found"
    assert client.get("/api/v1/me/notifications", headers=auth(bob)).json["total"] == 0
    client.post("/api/v1/me/notifications/read-all", headers=auth(bob))
    assert client.get("/api/v1/me/notifications", headers=auth(alice)).json["unread"] == 1
    missing = client.post("/api/v1/me/notifications/999999/read", headers=auth(bob))
    assert missing.status_code == 404


def test_inbox_needs_a_login(client):
    assert client.get("/api/v1/me/notifications").status_code == 401


# --- subscriptions --------------------------------------------------------------------------------------------

def test_subscriptions_record_grants(client):
    user = make_user(name="甲")
    response = client.post("/api/v1/me/subscriptions", json={"template_ids": [TEMPLATE, TEMPLATE,
                                                                              "CASE_STATUS_TEMPLATE_ID"]},
                           headers=auth(user))
    assert response.status_code == 201
    assert response.json == {"open_grants": {TEMPLATE: 2, "CASE_STATUS_TEMPLATE_ID": 1}}
    assert client.get("/api/v1/me/subscriptions", headers=auth(user)).json["open_grants"] == {
        TEMPLATE: 2, "CASE_STATUS_TEMPLATE_ID": 1}
    assert count(SubscriptionGrant, SubscriptionGrant.user_id == user.id) == 3


def test_unknown_template_is_422_naming_the_field_and_records_nothing(client):
    user = make_user(name="甲")
    response = client.post("/api/v1/me/subscriptions", json={"template_ids": [TEMPLATE, "NOPE"]},
                           headers=auth(user))
    assert response.status_code == 422
    body = response.json
    assert set(body) == {"code", "status", "error", "message", "errors", "request_id"}
    assert "template_ids.1" in body["errors"]
    assert count(SubscriptionGrant) == 0


def test_subscriptions_input_validation(client):
    user = make_user(name="甲")
    for payload in ({}, {"template_ids": []}, {"template_ids": [""]}, {"template_ids": [TEMPLATE] * 21}):
        response = client.post("/api/v1/me/subscriptions", json=payload, headers=auth(user))
        assert response.status_code == 422, payload
        assert "template_ids" in response.json["errors"]["json"]


# --- delivery -------------------------------------------------------------------------------------------------

def test_delivery_sends_once_and_consumes_the_grant(wechat, wechat_fake):
    clock.set_now(START)
    user = make_user(name="甲", openid="openid-deliver")
    grant(user)
    # WeChat "thing" values hold at most 20 characters: the title is cut.
    notify(user, "d1", title="您反映的问题已经办结了，请在小程序里查看详情并评价", body="案件 WL-42 已办结",
           link="/cases/42?id=42")
    assert notifications.deliver_pending(wechat) == {"sent": 1, "skipped": 0, "failed": 0}
    assert wechat_fake.sent == [{
        "touser": "openid-deliver", "template_id": TEMPLATE, "page": "pages/index/index?id=42",
        "data": {"thing1": {"value": "您反映的问题已经办结了，请在小程序里查看"}, "thing2": {"value": "案件 WL-42 已办结"},
                 "time3": {"value": "2026-11-20 09:00"}}}]
    delivery = delivery_of("d1")
    assert delivery.status == "sent" and delivery.sent_at == START and delivery.attempts == 1
    grant_row = db.session.get(SubscriptionGrant, delivery.grant_id)
    assert grant_row.user_id == user.id and grant_row.consumed_at == START
    assert notifications.open_grants(user.id) == {}


def test_delivery_twice_sends_nothing_twice(wechat, wechat_fake):
    user = make_user(name="甲", openid="openid-twice")
    grant(user, n=3)
    notify(user, "t1")
    assert notifications.deliver_pending(wechat)["sent"] == 1
    assert notifications.deliver_pending(wechat) == {"sent": 0, "skipped": 0, "failed": 0}
    assert len(wechat_fake.sent) == 1
    # The other two consents are still open.
    assert notifications.open_grants(user.id) == {TEMPLATE: 2}


def test_one_grant_allows_one_send(wechat, wechat_fake):
    user = make_user(name="甲", openid="openid-one")
    grant(user)
    notify(user, "one-a")
    notify(user, "one-b")
    assert notifications.deliver_pending(wechat) == {"sent": 1, "skipped": 1, "failed": 0}
    assert len(wechat_fake.sent) == 1
    assert delivery_of("one-a").status == "sent"
    skipped = delivery_of("one-b")
    assert skipped.status == "skipped" and skipped.last_error == "no subscription grant"


def test_without_a_grant_the_delivery_is_skipped_but_the_inbox_has_it(client, wechat, wechat_fake):
    user = make_user(name="甲", openid="openid-nogrant")
    grant(user, template_id="CASE_STATUS_TEMPLATE_ID")  # a grant for another template does not count
    notify(user, "ng")
    assert notifications.deliver_pending(wechat) == {"sent": 0, "skipped": 1, "failed": 0}
    assert wechat_fake.sent == []
    delivery = delivery_of("ng")
    assert delivery.status == "skipped" and delivery.grant_id is None
    assert notifications.open_grants(user.id) == {"CASE_STATUS_TEMPLATE_ID": 1}
    inbox = client.get("/api/v1/me/notifications", headers=auth(user)).json
    assert inbox["total"] == 1 and inbox["unread"] == 1


def test_without_a_wechat_account_the_delivery_is_skipped_and_no_grant_is_spent(wechat, wechat_fake):
    user = make_user(name="甲")
    grant(user)
    notify(user, "noacct")
    assert notifications.deliver_pending(wechat)["skipped"] == 1
    assert delivery_of("noacct").last_error == "no wechat account"
    assert notifications.open_grants(user.id) == {TEMPLATE: 1}
    assert wechat_fake.sent == []


def test_an_account_of_another_mini_program_is_not_sent_to(wechat, wechat_fake):
    user = make_user(name="甲")
    db.session.add(WeChatAccount(user_id=user.id, appid="wx-other-app", openid="openid-of-other-app"))
    db.session.commit()
    grant(user)
    notify(user, "otherapp")
    assert notifications.deliver_pending(wechat)["skipped"] == 1
    assert wechat_fake.sent == []


def test_only_the_grants_owner_is_served(wechat, wechat_fake):
    alice = make_user(name="甲", openid="openid-alice")
    bob = make_user(name="乙", openid="openid-bob")
    grant(alice)
    notify(bob, "for-bob")
    assert notifications.deliver_pending(wechat)["skipped"] == 1
    assert notifications.open_grants(alice.id) == {TEMPLATE: 1}


def test_wechat_send_error_marks_the_delivery_failed(wechat, wechat_fake):
    user = make_user(name="甲", openid="openid-fail")
    grant(user)
    notify(user, "fail")
    wechat_fake.send_error = 43101
    assert notifications.deliver_pending(wechat) == {"sent": 0, "skipped": 0, "failed": 1}
    delivery = delivery_of("fail")
    assert delivery.status == "failed" and delivery.last_error.startswith("43101")
    assert delivery.sent_at is None
    # A failed send is not retried by the next sweep.
    wechat_fake.send_error = None
    assert notifications.deliver_pending(wechat) == {"sent": 0, "skipped": 0, "failed": 0}
    assert wechat_fake.sent == []


def test_wechat_unreachable_marks_the_delivery_failed(app, wechat_fake):
    from service.wechat import WeChatClient

    user = make_user(name="甲", openid="openid-down")
    grant(user)
    notify(user, "down")
    down = WeChatClient("http://127.0.0.1:9", "wx-test-appid", "wx-test-secret", timeout=1.0)
    assert notifications.deliver_pending(down)["failed"] == 1
    assert delivery_of("down").status == "failed"


def _interrupted(key, *, at, attempts=1, grant_id=None):
    """The state a sweep leaves when it dies during the send: claimed ("sending"), the grant consumed."""
    delivery = delivery_of(key)
    delivery.status, delivery.updated_at, delivery.attempts = "sending", at, attempts
    if grant_id is not None:
        delivery.grant_id = grant_id
        db.session.get(SubscriptionGrant, grant_id).consumed_at = at
    db.session.commit()
    return delivery


def _open_grant_id(user) -> int:
    return db.session.execute(sa.select(SubscriptionGrant.id).where(
        SubscriptionGrant.user_id == user.id, SubscriptionGrant.consumed_at.is_(None))
        .order_by(SubscriptionGrant.id)).scalars().first()


def test_a_send_interrupted_by_a_crash_is_taken_again_after_the_lease(wechat, wechat_fake):
    clock.set_now(START)
    user = make_user(name="甲", openid="openid-stale")
    grant(user, n=3)
    notify(user, "stale")
    notify(user, "recent")
    _interrupted("stale", at=START, grant_id=_open_grant_id(user))
    _interrupted("recent", at=START + notifications.SENDING_LEASE - timedelta(minutes=1),
                 grant_id=_open_grant_id(user))
    clock.set_now(START + notifications.SENDING_LEASE + timedelta(seconds=1))
    assert notifications.deliver_pending(wechat) == {"sent": 1, "skipped": 0, "failed": 0}
    stale = delivery_of("stale")
    assert (stale.status, stale.attempts, stale.sent_at) == ("sent", 2, clock.now())
    assert [m["touser"] for m in wechat_fake.sent] == ["openid-stale"]
    assert delivery_of("recent").status == "sending"  # within its lease: its sender may still be at it
    # The retry sent under the grant the interrupted attempt consumed: the third consent is still open.
    assert notifications.open_grants(user.id) == {TEMPLATE: 1}
    assert delivery_of("recent").attempts == 1


def test_a_retry_whose_wechat_account_has_gone_is_skipped_not_sent_to_nobody(wechat, wechat_fake):
    clock.set_now(START)
    user = make_user(name="甲", openid="openid-gone")
    grant(user)
    notify(user, "gone")
    _interrupted("gone", at=START, grant_id=_open_grant_id(user))
    db.session.execute(sa.delete(WeChatAccount).where(WeChatAccount.user_id == user.id))
    db.session.commit()
    clock.set_now(START + notifications.SENDING_LEASE + timedelta(seconds=1))
    assert notifications.deliver_pending(wechat) == {"sent": 0, "skipped": 1, "failed": 0}
    gone = delivery_of("gone")
    assert (gone.status, gone.last_error) == ("skipped", "no wechat account")
    assert wechat_fake.sent == []


def test_a_send_interrupted_at_every_attempt_fails_and_is_reported(wechat, wechat_fake, caplog, monkeypatch):
    import logging

    # Alembic's logging set-up (the migrations run in this process) disables loggers created before it.
    monkeypatch.setattr(logging.getLogger("linli.notifications"), "disabled", False)
    clock.set_now(START)
    user = make_user(name="甲", openid="openid-crashy")
    grant(user)
    notify(user, "crashy")
    _interrupted("crashy", at=START, attempts=notifications.MAX_ATTEMPTS, grant_id=_open_grant_id(user))
    clock.set_now(START + notifications.SENDING_LEASE + timedelta(seconds=1))
    with caplog.at_level("WARNING", logger="linli.notifications"):
        assert notifications.deliver_pending(wechat) == {"sent": 0, "skipped": 0, "failed": 1}
    crashy = delivery_of("crashy")
    assert (crashy.status, crashy.last_error, crashy.attempts) == ("failed", "interrupted", notifications.MAX_ATTEMPTS)
    assert wechat_fake.sent == []
    assert any("interrupted" in record.getMessage() for record in caplog.records)
    assert notifications.deliver_pending(wechat) == {"sent": 0, "skipped": 0, "failed": 0}  # reported once


def test_a_send_that_raised_is_left_for_the_lease_and_the_others_go_on(wechat, wechat_fake, monkeypatch):
    clock.set_now(START)
    first, second = make_user(name="甲", openid="openid-a"), make_user(name="乙", openid="openid-b")
    grant(first)
    grant(second)
    notify(first, "boom")
    notify(second, "fine")
    real = wechat.send_subscribe

    def send(openid, *args, **kwargs):
        if openid == "openid-a":
            raise RuntimeError("the connection broke in a way the client did not expect")
        return real(openid, *args, **kwargs)

    monkeypatch.setattr(wechat, "send_subscribe", send)
    assert notifications.deliver_pending(wechat) == {"sent": 1, "skipped": 0, "failed": 0}
    assert delivery_of("boom").status == "sending" and delivery_of("fine").status == "sent"
    monkeypatch.setattr(wechat, "send_subscribe", real)
    clock.set_now(START + notifications.SENDING_LEASE + timedelta(seconds=1))
    assert notifications.deliver_pending(wechat) == {"sent": 1, "skipped": 0, "failed": 0}
    assert sorted(m["touser"] for m in wechat_fake.sent) == ["openid-a", "openid-b"]


def test_the_job_function_uses_the_apps_client(app, wechat_fake):
    from jobs import notifications as notification_jobs

    user = make_user(name="甲", openid="openid-job")
    grant(user)
    notify(user, "job")
    assert notification_jobs.deliver_pending() == {"sent": 1, "skipped": 0, "failed": 0}
    assert [m["touser"] for m in wechat_fake.sent] == ["openid-job"]


def test_notify_for_a_missing_user_is_an_error_not_a_silent_duplicate():
    """Only a duplicate dedupe key means "already notified"; other integrity errors are bugs to surface."""
    with pytest.raises(sa.exc.IntegrityError):
        notifications.notify(2_000_000_000, kind="platform.test", dedupe_key="ghost", title="t", body="b")
    db.session.rollback()
    assert count(Notification) == 0


# --- real concurrency (committed data, separate sessions and connections) ------------------------------------

@pytest.mark.real_commits
def test_two_sweeps_at_once_send_each_message_once(app, wechat_fake):
    users = [make_user(name=f"居民{i}", openid=f"openid-conc-{i}") for i in range(8)]
    for user in users:
        grant(user)
        notify(user, f"conc-{user.id}")
    db.session.rollback()  # no open transaction (SQLite write lock) while the threads run
    errors, results = [], []
    barrier = threading.Barrier(2)

    def sweep():
        try:
            with app.app_context():
                barrier.wait(5)
                results.append(notifications.deliver_pending(app.extensions["wechat"]))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert sorted(m["touser"] for m in wechat_fake.sent) == sorted(f"openid-conc-{i}" for i in range(8))
    assert sum(r["sent"] for r in results) == 8 and sum(r["skipped"] + r["failed"] for r in results) == 0
    db.session.expire_all()
    assert count(Delivery, Delivery.status == "sent") == 8
    assert count(SubscriptionGrant, SubscriptionGrant.consumed_at.is_(None)) == 0


@pytest.mark.real_commits
def test_the_same_dedupe_key_from_two_transactions_at_once_makes_one_notification(app):
    user_id = make_user(name="甲").id
    # End this session's transaction: on SQLite an open one holds the write lock the threads need.
    db.session.rollback()
    first_added = threading.Event()
    results, errors = {}, []

    def first():
        try:
            with app.app_context():
                results["first"] = notifications.notify(user_id, kind="platform.test", dedupe_key="race",
                                                        title="t", body="b")
                first_added.set()
                time.sleep(0.5)  # the second transaction arrives while this one is still open
                db.session.commit()
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
            first_added.set()

    def second():
        try:
            with app.app_context():
                first_added.wait(5)
                results["second"] = notifications.notify(user_id, kind="platform.test", dedupe_key="race",
                                                         title="t", body="b")
                db.session.commit()
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert results == {"first": True, "second": False}
    db.session.expire_all()
    assert count(Notification, Notification.dedupe_key == "race") == 1
    assert count(Delivery) == 1


class _HeldSender:
    """A WeChat client whose send waits until released: a live sender in the middle of its call."""

    def __init__(self, client):
        self.client, self.appid = client, client.appid
        self.inside, self.release = threading.Event(), threading.Event()

    def send_subscribe(self, *args, **kwargs):
        self.inside.set()
        assert self.release.wait(10)
        return self.client.send_subscribe(*args, **kwargs)


@pytest.mark.real_commits
def test_a_live_sender_holding_a_delivery_is_never_doubled_by_another_sweep(app, wechat_fake):
    clock.set_now(START)
    user = make_user(name="甲", openid="openid-live")
    grant(user, n=2)
    notify(user, "live")
    db.session.rollback()
    held = _HeldSender(app.extensions["wechat"])
    results, errors = {}, []

    def live():
        try:
            with app.app_context():
                results["live"] = notifications.deliver_pending(held)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=live)
    thread.start()
    try:
        assert held.inside.wait(10)
        clock.set_now(START + notifications.SENDING_LEASE - timedelta(seconds=1))  # still within the lease
        results["other"] = notifications.deliver_pending(app.extensions["wechat"])
        db.session.rollback()
    finally:
        held.release.set()
        thread.join(30)
    assert errors == []
    assert results == {"other": {"sent": 0, "skipped": 0, "failed": 0}, "live": {"sent": 1, "skipped": 0, "failed": 0}}
    assert [m["touser"] for m in wechat_fake.sent] == ["openid-live"]
    db.session.expire_all()
    assert (delivery_of("live").status, delivery_of("live").attempts) == ("sent", 1)


@pytest.mark.real_commits
def test_a_sender_that_overran_its_lease_does_not_overwrite_the_retry(app, wechat_fake):
    clock.set_now(START)
    user = make_user(name="甲", openid="openid-overrun")
    grant(user)
    notify(user, "overrun")
    db.session.rollback()
    wechat_fake.send_error = None
    held = _HeldSender(app.extensions["wechat"])
    results, errors = {}, []

    def slow():
        try:
            with app.app_context():
                results["slow"] = notifications.deliver_pending(held)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        assert held.inside.wait(10)
        clock.set_now(START + notifications.SENDING_LEASE + timedelta(seconds=1))  # taken for dead
        wechat_fake.send_error = 43101  # the consent was used by the first send: WeChat refuses the retry
        results["retry"] = notifications.deliver_pending(app.extensions["wechat"])
        db.session.rollback()
        wechat_fake.send_error = None
    finally:
        held.release.set()
        thread.join(30)
    assert errors == []
    assert results["retry"] == {"sent": 0, "skipped": 0, "failed": 1}
    db.session.expire_all()
    overrun = delivery_of("overrun")
    # The retry's outcome stands: the slow sender's late success does not overwrite the newer claim.
    assert (overrun.status, overrun.attempts) == ("failed", 2) and overrun.last_error.startswith("43101")
    assert results["slow"] == {"sent": 0, "skipped": 0, "failed": 0}
