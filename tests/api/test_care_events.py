"""The vendors' device events (POST /api/v1/care-events): the signature (wrong, missing, replayed, revoked vendor),
idempotency by the vendor's event id, events from the future and stale ones at their exact boundaries, events out
of order, unknown devices quarantined, and immediate alarms (smoke, SOS) that open at once, the elder away or not."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.base import db
from models.care import Alarm, Device, DeviceEvent, Vendor
from service import clock
from service.care import devices
from tests.concurrency import run_at_once
from tests.factories import make_world
from tests.factories.care import make_device, make_elder, make_vendor

SECRET = "s3cret-of-the-vendor"
URL = "/api/v1/care-events"


@pytest.fixture
def w():
    return make_world()


@pytest.fixture
def vendor():
    return make_vendor("anju", secret=SECRET)


def signed(vendor_code: str, body: bytes, *, secret: str = SECRET, timestamp: int | None = None) -> dict:
    ts = str(int(clock.now().timestamp()) if timestamp is None else timestamp)
    return {"X-Linli-Vendor": vendor_code, "X-Linli-Timestamp": ts,
            "X-Linli-Signature": devices.signature(secret, ts, body), "Content-Type": "application/json"}


def event(event_id: str, device: str, kind: str = "heartbeat", *, at=None, value=None) -> dict:
    out = {"id": event_id, "device": device, "kind": kind, "at": clock.iso(at or clock.now())}
    if value is not None:
        out["value"] = value
    return out


def send(client, events, *, vendor_code="anju", secret=SECRET, timestamp=None, headers=None, lang=None):
    body = json.dumps({"events": events}).encode()
    sent = signed(vendor_code, body, secret=secret, timestamp=timestamp)
    sent.update(headers or {})
    if lang:
        sent["Accept-Language"] = lang
    return client.post(URL, data=body, headers=sent)


def results(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [r["result"] for r in response.get_json()["results"]]


def stored() -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(DeviceEvent)).scalar()


# --- the signature -------------------------------------------------------------------------------------------------

def test_a_signed_heartbeat_is_accepted_and_moves_last_seen(client, w, vendor):
    elder = make_elder(w)
    device = make_device(elder, vendor, "smoke", vendor_ref="SM-1")
    at = clock.now() - timedelta(minutes=1)
    response = send(client, [event("e1", "SM-1", at=at, value=81)])
    assert response.get_json()["results"] == [{"id": "e1", "result": "accepted", "result_name": "已接收",
                                                "alarm_id": None}]
    db.session.refresh(device)
    assert abs(device.last_seen_at - at) < timedelta(seconds=1)
    assert device.battery == 81 and device.last_activity_at is None
    assert db.session.get(Vendor, vendor.id).last_used_at is not None


@pytest.mark.parametrize("change,code", [
    ({"X-Linli-Signature": "0" * 64}, "care.signature_invalid"),
    ({"X-Linli-Signature": "\u00e4" * 64}, "care.signature_invalid"),
    ({"X-Linli-Vendor": "nobody"}, "care.vendor_invalid"),
    ({"X-Linli-Timestamp": "abc"}, "care.signature_expired"),
    ({"X-Linli-Signature": ""}, "care.signature_missing"),
])
def test_a_wrong_or_missing_signature_is_401_and_writes_nothing(client, w, vendor, change, code):
    elder = make_elder(w)
    make_device(elder, vendor, "smoke", vendor_ref="SM-1")
    response = send(client, [event("e1", "SM-1", "alarm")], headers=change)
    assert response.status_code == 401 and response.get_json()["error"] == code
    assert stored() == 0 and db.session.execute(sa.select(sa.func.count()).select_from(Alarm)).scalar() == 0


def test_the_body_signed_is_the_body_checked(client, w, vendor):
    body = json.dumps({"events": [event("e1", "SM-1")]}).encode()
    headers = signed("anju", body)
    tampered = body.replace(b"SM-1", b"SM-2")
    assert client.post(URL, data=tampered, headers=headers).status_code == 401
    assert client.post(URL, data=body, headers=headers).status_code == 200


def test_another_vendors_secret_does_not_sign_for_this_one(client, w, vendor):
    make_vendor("other", secret="other-secret")
    response = send(client, [event("e1", "SM-1")], secret="other-secret")
    assert response.status_code == 401 and response.get_json()["error"] == "care.signature_invalid"


def test_no_headers_at_all_is_401_in_english_when_asked(client, vendor):
    response = client.post(URL, json={"events": []}, headers={"Accept-Language": "en"})
    assert response.status_code == 401 and response.get_json()["error"] == "care.signature_missing"
    assert "signature" in response.get_json()["message"]


def test_the_timestamp_may_be_off_by_the_skew_and_not_a_second_more(client, w, vendor):
    clock.set_now(clock.now().replace(microsecond=0))
    now = int(clock.now().timestamp())
    assert send(client, [event("a", "X")], timestamp=now - 300).status_code == 200
    assert send(client, [event("b", "X")], timestamp=now + 300).status_code == 200
    for ts in (now - 301, now + 301):
        response = send(client, [event(f"c{ts}", "X")], timestamp=ts)
        assert response.status_code == 401 and response.get_json()["error"] == "care.signature_expired"


def test_a_replayed_request_outside_the_skew_is_refused(client, w, vendor):
    body = json.dumps({"events": [event("e1", "X")]}).encode()
    headers = signed("anju", body)
    assert client.post(URL, data=body, headers=headers).status_code == 200
    clock.shift(timedelta(seconds=301))
    again = client.post(URL, data=body, headers=headers)
    assert again.status_code == 401 and again.get_json()["error"] == "care.signature_expired"


def test_a_revoked_vendor_is_refused(client, w, vendor):
    vendor.revoked_at = clock.now()
    db.session.commit()
    response = send(client, [event("e1", "X")])
    assert response.status_code == 401 and response.get_json()["error"] == "care.vendor_invalid"
    assert stored() == 0


# --- the body ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("events,field", [
    ([], "events"),
    ([{"id": "e1", "device": "X", "kind": "fire", "at": "2026-12-07T10:00:00+08:00"}], "kind"),
    ([{"id": "e1", "device": "X", "kind": "alarm", "at": "2026-12-07T10:00:00"}], "at"),
    ([{"id": "e1", "device": "X", "kind": "alarm", "at": "9999-12-31T23:59:59-14:00"}], "at"),
    ([{"id": "e1", "device": "X", "kind": "alarm", "at": "0001-01-01T00:00:00+14:00"}], "at"),
    ([{"id": "", "device": "X", "kind": "alarm", "at": "2026-12-07T10:00:00+08:00"}], "id"),
    ([{"id": "e1", "device": "X", "kind": "heartbeat", "at": "2026-12-07T10:00:00+08:00", "value": "80"}], "value"),
    ([{"id": "e1", "device": "X" * 65, "kind": "alarm", "at": "2026-12-07T10:00:00+08:00"}], "device"),
])
def test_bad_events_are_422_naming_the_field_and_nothing_is_written(client, w, vendor, events, field):
    response = send(client, events)
    assert response.status_code == 422, response.get_json()
    assert field in json.dumps(response.get_json()["errors"])
    assert stored() == 0


def test_at_most_a_hundred_events_a_request(client, w, vendor):
    assert send(client, [event(f"e{i}", "X") for i in range(101)]).status_code == 422
    assert results(send(client, [event(f"e{i}", "X") for i in range(100)])) == ["quarantined"] * 100


def test_a_body_that_is_not_json_is_refused(client, vendor):
    body = b"events=1"
    headers = signed("anju", body)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 422 and stored() == 0


# --- idempotency, time, order --------------------------------------------------------------------------------------

def test_a_duplicate_is_answered_duplicate_and_changes_nothing(client, w, vendor):
    elder = make_elder(w)
    device = make_device(elder, vendor, "water", vendor_ref="W-1")
    first = clock.now() - timedelta(minutes=5)
    assert results(send(client, [event("e1", "W-1", "activity", at=first)])) == ["accepted"]
    # The same vendor event id again, even with another moment: nothing changes.
    assert results(send(client, [event("e1", "W-1", "activity", at=clock.now())])) == ["duplicate"]
    assert results(send(client, [event("e2", "W-1", "activity", at=first), event("e2", "W-1", at=first)])) == [
        "accepted", "duplicate"]
    db.session.refresh(device)
    assert abs(device.last_activity_at - first) < timedelta(seconds=1) and stored() == 2


def test_the_same_event_id_of_two_vendors_is_two_events(client, w, vendor):
    make_vendor("other", secret="other-secret")
    assert results(send(client, [event("e1", "X")])) == ["quarantined"]
    assert results(send(client, [event("e1", "X")], vendor_code="other", secret="other-secret")) == ["quarantined"]
    assert stored() == 2


def test_future_and_stale_events_are_refused_at_their_exact_boundaries(client, w, vendor):
    elder = make_elder(w)
    make_device(elder, vendor, "door", vendor_ref="D-1")
    clock.set_now(clock.now().replace(microsecond=0))
    now = clock.now()
    answer = results(send(client, [
        event("f-in", "D-1", at=now + timedelta(seconds=300)),
        event("f-out", "D-1", at=now + timedelta(seconds=301)),
        event("s-in", "D-1", at=now - timedelta(seconds=86400)),
        event("s-out", "D-1", at=now - timedelta(seconds=86401))]))
    assert answer == ["accepted", "future", "accepted", "stale"]
    assert stored() == 2


def test_out_of_order_events_never_move_last_seen_or_activity_backwards(client, w, vendor):
    elder = make_elder(w)
    device = make_device(elder, vendor, "motion", vendor_ref="M-1", installed_at=clock.now() - timedelta(days=1))
    late = clock.now() - timedelta(minutes=1)
    early = clock.now() - timedelta(hours=2)
    send(client, [event("new", "M-1", "activity", at=late)])
    send(client, [event("old", "M-1", "activity", at=early), event("old-hb", "M-1", "heartbeat", at=early, value=10)])
    db.session.refresh(device)
    assert abs(device.last_activity_at - late) < timedelta(seconds=1)
    assert abs(device.last_seen_at - late) < timedelta(seconds=1)
    assert device.battery is None   # an older reading does not replace the state
    send(client, [event("newer-hb", "M-1", "battery_low", at=clock.now(), value=9)])
    db.session.refresh(device)
    assert device.battery == 9


def test_any_event_ends_the_maintenance_mark(client, w, vendor):
    elder = make_elder(w)
    device = make_device(elder, vendor, "door", vendor_ref="D-1", maintenance_at=clock.now())
    send(client, [event("e1", "D-1", "restored", at=clock.now() - timedelta(hours=3))])
    db.session.refresh(device)
    assert device.maintenance_at is None


def test_an_unknown_or_removed_device_is_quarantined(client, w, vendor):
    elder = make_elder(w)
    make_device(elder, vendor, "smoke", vendor_ref="SM-gone", removed_at=clock.now())
    answer = send(client, [event("e1", "SM-unknown", "alarm"), event("e2", "SM-gone", "alarm")])
    assert results(answer) == ["quarantined", "quarantined"]
    rows = db.session.execute(sa.select(DeviceEvent.device_id, DeviceEvent.vendor_ref)).all()
    assert sorted(rows) == [(None, "SM-gone"), (None, "SM-unknown")]
    assert db.session.execute(sa.select(sa.func.count()).select_from(Alarm)).scalar() == 0


# --- immediate alarms --------------------------------------------------------------------------------------------

def alarms_of(elder):
    return db.session.execute(sa.select(Alarm).where(Alarm.elder_id == elder.id)).scalars().all()


def test_a_smoke_alarm_opens_an_emergency_alarm_at_once(client, w, vendor):
    elder = make_elder(w)
    make_device(elder, vendor, "smoke", vendor_ref="SM-1")
    response = send(client, [event("e1", "SM-1", "alarm")])
    assert results(response) == ["alarm"]
    (alarm,) = alarms_of(elder)
    assert (alarm.source, alarm.rule, alarm.severity, alarm.street_id) == ("device", "smoke", "emergency",
                                                                           elder.street_id)
    assert response.get_json()["results"][0]["alarm_id"] == alarm.id
    assert db.session.execute(sa.select(DeviceEvent.alarm_id)).scalar() == alarm.id
    assert db.session.execute(sa.select(DeviceEvent.id)).scalar() == alarm.event_id


def test_a_second_alarm_event_joins_the_live_alarm(client, w, vendor):
    elder = make_elder(w)
    make_device(elder, vendor, "sos", vendor_ref="B-1")
    first = send(client, [event("e1", "B-1", "alarm"), event("e2", "B-1", "alarm")]).get_json()["results"]
    again = send(client, [event("e3", "B-1", "alarm")]).get_json()["results"]
    assert len(alarms_of(elder)) == 1
    assert {r["alarm_id"] for r in first + again} == {alarms_of(elder)[0].id}


def test_an_away_elder_still_gets_the_smoke_alarm(client, w, vendor):
    elder = make_elder(w, away_from=clock.now() - timedelta(days=1), away_until=clock.now() + timedelta(days=3),
                       away_reason="hospital")
    make_device(elder, vendor, "smoke", vendor_ref="SM-1")
    assert results(send(client, [event("e1", "SM-1", "alarm")])) == ["alarm"]
    assert len(alarms_of(elder)) == 1


def test_activity_from_a_smoke_detector_or_an_alarm_from_a_door_opens_nothing(client, w, vendor):
    elder = make_elder(w)
    make_device(elder, vendor, "smoke", vendor_ref="SM-1")
    make_device(elder, vendor, "door", vendor_ref="D-1")
    assert results(send(client, [event("e1", "SM-1", "heartbeat"), event("e2", "D-1", "alarm")])) == [
        "accepted", "accepted"]
    assert alarms_of(elder) == []


def test_an_elder_whose_care_ended_gets_no_alarm(client, w, vendor):
    elder = make_elder(w, status="ended", ended_at=clock.now(), end_reason="care_home")
    make_device(elder, vendor, "smoke", vendor_ref="SM-1")
    assert results(send(client, [event("e1", "SM-1", "alarm")])) == ["accepted"]
    assert alarms_of(elder) == []


@pytest.mark.real_commits
def test_the_same_alarm_from_two_requests_at_once_opens_one_alarm(app, w, vendor):
    elder = make_elder(w)
    make_device(elder, vendor, "smoke", vendor_ref="SM-1")
    make_device(elder, vendor, "smoke", vendor_ref="SM-2")
    outcomes = _at_once(app, [{"events": [event(f"e{i}", f"SM-{1 + i % 2}", "alarm")]} for i in range(4)])
    assert all(status == 200 for status, _ in outcomes), outcomes
    ids = {body["results"][0]["alarm_id"] for _, body in outcomes}
    assert len(ids) == 1 and None not in ids
    assert db.session.execute(sa.select(sa.func.count()).select_from(Alarm)).scalar() == 1


def _at_once(app, payloads):
    """Each payload posted at the same moment from its own thread, signed as the test client will send it."""
    db.session.remove()   # the test's own session holds no transaction (on SQLite, no lock) meanwhile
    return run_at_once(app, [(URL, payload, signed("anju", app.json.dumps(payload).encode()))
                             for payload in payloads])


@pytest.mark.real_commits
def test_the_same_event_from_two_requests_at_once_is_stored_once(app, w, vendor):
    elder = make_elder(w)
    make_device(elder, vendor, "water", vendor_ref="W-1")
    payload = {"events": [event("same", "W-1", "activity")]}
    outcomes = _at_once(app, [payload] * 4)
    assert all(status == 200 for status, _ in outcomes), outcomes
    assert sorted(body["results"][0]["result"] for _, body in outcomes) == ["accepted", "duplicate", "duplicate",
                                                                           "duplicate"]
    assert stored() == 1


def test_the_vendor_rate_limit_is_its_own(client, w, vendor, app):
    """The events endpoint is limited per vendor and address, not by the limit of creating requests."""
    before = app.config["RATELIMIT_CREATE"]
    app.config["RATELIMIT_CREATE"] = "3 per minute"
    try:
        for i in range(6):
            assert send(client, [event(f"e{i}", "X")]).status_code == 200
    finally:
        app.config["RATELIMIT_CREATE"] = before
    assert stored() == 6


def test_beyond_the_vendors_own_limit_it_hears_429(client, w, vendor, monkeypatch):
    import dataclasses

    from service.care import rules

    monkeypatch.setattr(rules, "_rules", dataclasses.replace(rules.current(), vendor_requests_per_minute=3))
    assert [send(client, [event(f"e{i}", "X")]).status_code for i in range(4)] == [200, 200, 200, 429]
    assert stored() == 3
