"""Device vendors and devices in elders' homes: registering a vendor (its secret shown once), revoking it, the
quarantine of unknown devices; registering a device only with the elder's care consent, once per vendor reference;
who sees an elder's devices; removing them (one, or all on withdrawal); and the device sweeps: no activity (at the
rules' exact boundaries, two sensors agreeing, away periods), silence (a maintenance message, not an alarm) and the
retention of raw events."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.care import Alarm, Device, DeviceEvent, Vendor
from models.notifications import Notification
from models.people import FamilyLink
from service import clock, privacy
from service.care import devices, reminders
from tests.factories import auth, make_user, make_world
from tests.factories.care import make_device, make_elder, make_partner, make_vendor


@pytest.fixture
def w():
    return make_world()


@pytest.fixture
def staff(w):
    return make_user(name="居委干部", roles=[("staff", "neighbourhood", w.nb.id)])


@pytest.fixture
def admin(w):
    return make_user(name="街道管理员", roles=[("admin", "street", w.street.id)])


@pytest.fixture
def vendor():
    return make_vendor("anju", secret="vendor-secret")


def count(model) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar()


def audited(action: str) -> list[AuditEntry]:
    return db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == action)).scalars().all()


# --- vendors -------------------------------------------------------------------------------------------------------

def test_an_admin_registers_a_vendor_and_sees_its_secret_once(client, admin):
    response = client.post("/api/v1/care/vendors", json={"code": "anju-iot", "name": "安居物联"}, headers=auth(admin))
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert len(created["secret"]) == 64 and created["created_at"].endswith("+08:00")
    stored = db.session.get(Vendor, created["id"])
    assert created["secret"] not in stored.secret_enc and privacy.decrypt(stored.secret_enc) == created["secret"]
    listed = client.get("/api/v1/care/vendors", headers=auth(admin)).get_json()
    assert listed["total"] == 1 and "secret" not in listed["items"][0]
    (entry,) = audited("care_vendor.registered")
    assert entry.actor_user_id == admin.id and "secret" not in json.dumps(entry.after)
    # The secret signs the vendor's requests.
    body = json.dumps({"events": [{"id": "e1", "device": "X", "kind": "heartbeat",
                                   "at": clock.iso(clock.now())}]}).encode()
    ts = str(int(clock.now().timestamp()))
    answer = client.post("/api/v1/care-events", data=body, headers={
        "X-Linli-Vendor": "anju-iot", "X-Linli-Timestamp": ts, "Content-Type": "application/json",
        "X-Linli-Signature": devices.signature(created["secret"], ts, body)})
    assert answer.status_code == 200 and answer.get_json()["results"][0]["result"] == "quarantined"


def test_a_vendor_code_is_taken_once_and_bad_input_is_named(client, admin):
    created = client.post("/api/v1/care/vendors", json={"code": "anju", "name": "安居"}, headers=auth(admin))
    assert created.status_code == 201
    again = client.post("/api/v1/care/vendors", json={"code": "anju", "name": "另一家"}, headers=auth(admin))
    assert again.status_code == 409 and again.get_json()["error"] == "care.vendor_code_taken"
    for body, field in (({"code": "Anju Co", "name": "x"}, "code"), ({"code": "ok-code", "name": ""}, "name"),
                        ({"code": "ok-code"}, "name")):
        bad = client.post("/api/v1/care/vendors", json=body, headers=auth(admin))
        assert bad.status_code == 422 and field in json.dumps(bad.get_json()["errors"])
    assert count(Vendor) == 1 and len(audited("care_vendor.registered")) == 1


def test_only_admins_manage_vendors(client, w, staff):
    assert client.post("/api/v1/care/vendors", json={"code": "anju", "name": "安居"},
                       headers=auth(staff)).status_code == 403
    assert client.get("/api/v1/care/vendors", headers=auth(staff)).status_code == 403
    assert count(Vendor) == 0


def test_revoking_a_vendor_refuses_its_requests_and_twice_changes_nothing(client, admin, vendor):
    first = client.post(f"/api/v1/care/vendors/{vendor.id}/revoke", headers=auth(admin))
    assert first.status_code == 200 and first.get_json()["revoked_at"].endswith("+08:00")
    second = client.post(f"/api/v1/care/vendors/{vendor.id}/revoke", headers=auth(admin))
    assert second.get_json()["revoked_at"] == first.get_json()["revoked_at"]
    assert len(audited("care_vendor.revoked")) == 1
    assert client.post("/api/v1/care/vendors/999999/revoke", headers=auth(admin)).status_code == 404


def test_the_quarantine_pages_by_cursor_newest_first(client, admin, vendor):
    for i in range(5):
        db.session.add(DeviceEvent(vendor_id=vendor.id, vendor_event_id=f"q{i}", vendor_ref=f"UNK-{i}",
                                   kind="heartbeat", at=clock.now(), received_at=clock.now()))
    db.session.commit()
    page = client.get(f"/api/v1/care/vendors/{vendor.id}/quarantine?limit=2", headers=auth(admin)).get_json()
    assert [e["device"] for e in page["items"]] == ["UNK-4", "UNK-3"] and page["items"][0]["kind_name"] == "心跳"
    page2 = client.get(f"/api/v1/care/vendors/{vendor.id}/quarantine?limit=2&cursor={page['next_cursor']}",
                       headers=auth(admin)).get_json()
    assert [e["device"] for e in page2["items"]] == ["UNK-2", "UNK-1"]
    last = client.get(f"/api/v1/care/vendors/{vendor.id}/quarantine?limit=2&cursor={page2['next_cursor']}",
                      headers=auth(admin)).get_json()
    assert [e["device"] for e in last["items"]] == ["UNK-0"] and last["next_cursor"] is None
    bad = client.get(f"/api/v1/care/vendors/{vendor.id}/quarantine?cursor=abc", headers=auth(admin))
    assert bad.status_code == 422 and bad.get_json()["error"] == "care.cursor_invalid"


# --- devices -------------------------------------------------------------------------------------------------------

def register(client, user, elder, **over):
    body = {"vendor_code": "anju", "vendor_ref": "SM-1", "kind": "smoke", "room": "厨房", **over}
    return client.post(f"/api/v1/care/elders/{elder.id}/devices", json=body, headers=auth(user))


def test_staff_register_a_device_with_the_elders_consent(client, w, staff, vendor):
    elder = make_elder(w, staff=staff)
    response = register(client, staff, elder)
    assert response.status_code == 201, response.get_json()
    device = response.get_json()
    assert (device["kind"], device["kind_name"], device["vendor_ref"], device["room"]) == ("smoke", "烟感报警器",
                                                                                         "SM-1", "厨房")
    assert device["installed_at"].endswith("+08:00") and device["needs_maintenance"] is False
    (entry,) = audited("care_device.registered")
    assert entry.subject_user_id == elder.user_id and entry.street_id == elder.street_id


def test_without_the_care_consent_no_device_is_registered(client, w, staff, vendor):
    elder = make_elder(w, staff=staff, consent=False)
    response = register(client, staff, elder)
    assert response.status_code == 409 and response.get_json()["error"] == "care.consent_missing"
    assert count(Device) == 0 and audited("care_device.registered") == []
    english = client.post(f"/api/v1/care/elders/{elder.id}/devices", headers=auth(staff, **{"Accept-Language": "en"}),
                          json={"vendor_code": "anju", "vendor_ref": "SM-1", "kind": "smoke"})
    assert "consent" in english.get_json()["message"]


def test_the_same_vendor_reference_twice_is_409_until_the_device_is_removed(client, w, staff, vendor):
    elder, other = make_elder(w, staff=staff), make_elder(w, staff=staff)
    first = register(client, staff, elder)
    again = register(client, staff, other)
    assert again.status_code == 409 and again.get_json()["error"] == "care.device_exists"
    removed = client.post(f"/api/v1/care/devices/{first.get_json()['id']}/remove", headers=auth(staff))
    assert removed.status_code == 200 and removed.get_json()["removed_at"].endswith("+08:00")
    assert register(client, staff, other).status_code == 201   # the device moved to another home
    assert count(Device) == 2 and len(audited("care_device.removed")) == 1


@pytest.mark.parametrize("body,field,code", [
    ({"kind": "camera"}, "kind", None),
    ({"vendor_ref": ""}, "vendor_ref", None),
    ({"vendor_code": "nobody"}, "vendor_code", "care.vendor_unknown"),
])
def test_bad_device_input_is_named_and_nothing_is_written(client, w, staff, vendor, body, field, code):
    elder = make_elder(w, staff=staff)
    response = register(client, staff, elder, **body)
    assert response.status_code == 422 and field in json.dumps(response.get_json()["errors"])
    assert code is None or response.get_json()["error"] == code
    assert count(Device) == 0


def test_a_revoked_vendor_takes_no_new_device(client, w, staff, vendor):
    vendor.revoked_at = clock.now()
    db.session.commit()
    response = register(client, staff, make_elder(w, staff=staff))
    assert response.status_code == 422 and response.get_json()["error"] == "care.vendor_unknown"


def test_staff_out_of_scope_and_residents_register_nothing(client, w, vendor):
    elder = make_elder(w)
    elsewhere = make_user(name="别处干部", roles=[("staff", "neighbourhood", w.far_nb.id)])
    response = register(client, elsewhere, elder)
    assert response.status_code == 403 and response.get_json()["error"] == "care.not_in_scope"
    assert register(client, make_user(name="居民"), elder).status_code == 403
    assert count(Device) == 0


def test_an_elder_whose_care_ended_takes_no_device(client, w, staff, vendor):
    elder = make_elder(w, staff=staff, status="ended", ended_at=clock.now(), end_reason="care_home")
    response = register(client, staff, elder)
    assert response.status_code == 409 and response.get_json()["error"] == "care.elder_ended"


def test_removing_needs_staff_covering_the_elder_and_twice_changes_nothing(client, w, staff, vendor):
    elder = make_elder(w, staff=staff)
    device = make_device(elder, vendor)
    elsewhere = make_user(name="别处干部", roles=[("staff", "neighbourhood", w.far_nb.id)])
    assert client.post(f"/api/v1/care/devices/{device.id}/remove", headers=auth(elsewhere)).status_code == 403
    assert client.post(f"/api/v1/care/devices/{device.id}/remove", headers=auth(staff)).status_code == 200
    assert client.post(f"/api/v1/care/devices/{device.id}/remove", headers=auth(staff)).status_code == 200
    assert len(audited("care_device.removed")) == 1
    assert client.post("/api/v1/care/devices/999999/remove", headers=auth(staff)).status_code == 404


def test_who_sees_an_elders_devices(client, w, staff, vendor):
    elder = make_elder(w, staff=staff)
    make_device(elder, vendor, "water", vendor_ref="W-1", room="厨房", battery=70,
                last_activity_at=clock.now() - timedelta(hours=1), last_seen_at=clock.now())
    make_device(elder, vendor, "smoke", vendor_ref="SM-9", removed_at=clock.now())
    url = f"/api/v1/care/elders/{elder.id}/devices"
    full = client.get(url, headers=auth(staff)).get_json()
    assert full["total"] == 1 and full["items"][0]["vendor_ref"] == "W-1" and full["items"][0]["battery"] == 70
    assert full["items"][0]["last_activity_at"].endswith("+08:00")
    assert client.get(url + "?include_removed=true", headers=auth(staff)).get_json()["total"] == 2
    entries = audited("care_device.listed")
    assert len(entries) == 2 and {e.subject_user_id for e in entries} == {elder.user_id}
    child = make_user(name="女儿")
    db.session.add(FamilyLink(proxy_user_id=child.id, elder_user_id=elder.user_id, relation="child",
                              status="confirmed"))
    db.session.commit()
    family = client.get(url + "?include_removed=true", headers=auth(child)).get_json()
    assert family["total"] == 1
    seen = family["items"][0]
    assert seen["kind_name"] == "智能水表" and seen["last_seen_at"] is not None
    assert seen["vendor_ref"] is None and seen["last_activity_at"] is None and seen["room"] is None
    assert len(audited("care_device.listed")) == 2   # the family's view is theirs, not a staff view
    volunteer = make_partner(w, elder)
    assert client.get(url, headers=auth(volunteer)).status_code == 403
    assert client.get(url, headers=auth(make_user(name="路人"))).status_code == 404


def test_withdrawing_consent_removes_every_device_and_deletes_their_events(w, vendor):
    elder, other = make_elder(w), make_elder(w)
    mine = [make_device(elder, vendor, kind) for kind in ("smoke", "door")]
    theirs = make_device(other, vendor, "smoke")
    for device in (*mine, theirs):
        db.session.add(DeviceEvent(vendor_id=vendor.id, vendor_event_id=f"e{device.id}", device_id=device.id,
                                   vendor_ref=device.vendor_ref, kind="heartbeat", at=clock.now()))
    db.session.commit()
    done = devices.remove_all_devices(elder, clock.now())
    db.session.commit()
    assert done == {"care_device.removed": 2, "care_event.deleted": 2}
    assert db.session.execute(sa.select(sa.func.count()).select_from(Device)
                              .where(Device.removed_at.is_(None))).scalar() == 1
    assert db.session.execute(sa.select(DeviceEvent.device_id)).scalars().all() == [theirs.id]


@pytest.mark.real_commits
def test_two_registrations_of_one_device_at_once_make_one(app, w, vendor):
    from tests.concurrency import run_at_once

    staff = make_user(name="居委干部", roles=[("staff", "neighbourhood", w.nb.id)])
    elder, other = make_elder(w, staff=staff), make_elder(w, staff=staff)
    headers = auth(staff)
    body = {"vendor_code": "anju", "vendor_ref": "SM-1", "kind": "smoke"}
    paths = [f"/api/v1/care/elders/{e.id}/devices" for e in (elder, other, elder, other)]
    db.session.remove()   # the test's own session holds no transaction (on SQLite, no lock) meanwhile
    outcomes = run_at_once(app, [(path, body, headers) for path in paths])
    assert sorted(status for status, _ in outcomes) == [201, 409, 409, 409], outcomes
    assert count(Device) == 1


# --- no activity -----------------------------------------------------------------------------------------------

def quiet(w, vendor, *kinds, hours_ago: dict | None = None, **elder_values):
    """An elder with devices of ``kinds``, each last active ``hours_ago[kind]`` (a timedelta) before now."""
    elder = make_elder(w, **elder_values)
    for kind in kinds:
        make_device(elder, vendor, kind, installed_at=clock.now() - timedelta(days=30),
                    last_activity_at=clock.now() - (hours_ago or {}).get(kind, timedelta(0)))
    return elder


def no_activity_alarms(elder=None):
    query = sa.select(Alarm.rule).where(Alarm.source == "no_activity")
    if elder is not None:
        query = query.where(Alarm.elder_id == elder.id)
    return db.session.execute(query.order_by(Alarm.id)).scalars().all()


@pytest.fixture
def frozen():
    clock.set_now(clock.now().replace(microsecond=0))
    return clock.now()


def test_twelve_hours_without_water_alarms_and_a_second_less_does_not(w, vendor, frozen):
    almost = quiet(w, vendor, "water", hours_ago={"water": timedelta(hours=12) - timedelta(seconds=1)})
    exactly = quiet(w, vendor, "water", hours_ago={"water": timedelta(hours=12)})
    past = quiet(w, vendor, "water", hours_ago={"water": timedelta(hours=12, seconds=1)})
    assert reminders.no_activity() == {"due": 2, "opened": 2}
    assert no_activity_alarms(almost) == [] and no_activity_alarms(exactly) == ["no_water_12h"]
    assert no_activity_alarms(past) == ["no_water_12h"]
    alarm = db.session.execute(sa.select(Alarm).where(Alarm.elder_id == past.id)).scalar_one()
    assert (alarm.severity, alarm.source) == ("urgent", "no_activity")
    assert reminders.no_activity() == {"due": 0, "opened": 0}   # run twice: nothing twice


def test_the_door_rule_is_24_hours(w, vendor, frozen):
    before = quiet(w, vendor, "door", hours_ago={"door": timedelta(hours=24) - timedelta(seconds=1)})
    after = quiet(w, vendor, "door", hours_ago={"door": timedelta(hours=24, seconds=1)})
    reminders.no_activity()
    assert no_activity_alarms(before) == [] and no_activity_alarms(after) == ["no_door_24h"]


def test_two_sensors_must_agree_before_an_alarm(w, vendor, frozen):
    twelve = timedelta(hours=12, seconds=1)
    moving = quiet(w, vendor, "water", "motion", hours_ago={"water": twelve, "motion": timedelta(hours=1)})
    still = quiet(w, vendor, "water", "motion", hours_ago={"water": twelve, "motion": twelve})
    door_only_quiet = quiet(w, vendor, "door", "motion", hours_ago={
        "door": timedelta(hours=25), "motion": timedelta(hours=12) - timedelta(seconds=1)})
    reminders.no_activity()
    assert no_activity_alarms(moving) == []
    assert no_activity_alarms(still) == ["no_water_12h"]          # one alarm per elder, the first rule that holds
    assert no_activity_alarms(door_only_quiet) == []


def test_a_device_that_never_reported_counts_from_its_installation(w, vendor, frozen):
    elder = make_elder(w)
    make_device(elder, vendor, "motion", installed_at=frozen - timedelta(hours=12) + timedelta(seconds=1))
    reminders.no_activity()
    assert no_activity_alarms(elder) == []
    clock.set_now(frozen + timedelta(seconds=1))
    reminders.no_activity()
    assert no_activity_alarms(elder) == ["no_motion_12h"]


def test_away_suppresses_no_activity_until_the_elder_returns(w, vendor, frozen):
    long_quiet = {"water": timedelta(days=3)}
    away = quiet(w, vendor, "water", hours_ago=long_quiet, away_from=frozen - timedelta(days=3),
                 away_until=frozen + timedelta(days=1), away_reason="hospital")
    open_ended = quiet(w, vendor, "water", hours_ago=long_quiet, away_from=frozen - timedelta(days=3),
                       away_reason="with_family")
    not_yet = quiet(w, vendor, "water", hours_ago=long_quiet, away_from=frozen + timedelta(hours=1),
                    away_reason="travel")
    reminders.no_activity()
    assert no_activity_alarms(away) == [] and no_activity_alarms(open_ended) == []
    assert no_activity_alarms(not_yet) == ["no_water_12h"]      # leaving later today: still at home now
    # Back home at away_until: the quiet spell counts from the return, 12 hours to the second.
    clock.set_now(frozen + timedelta(days=1, hours=12) - timedelta(seconds=1))
    reminders.no_activity()
    assert no_activity_alarms(away) == []
    clock.set_now(frozen + timedelta(days=1, hours=12))
    reminders.no_activity()
    assert no_activity_alarms(away) == ["no_water_12h"] and no_activity_alarms(open_ended) == []


def test_one_alarm_per_quiet_spell(w, vendor, frozen):
    elder = quiet(w, vendor, "water", hours_ago={"water": timedelta(hours=13)})
    reminders.no_activity()
    alarm = db.session.execute(sa.select(Alarm).where(Alarm.elder_id == elder.id)).scalar_one()
    alarm.state, alarm.resolved_at, alarm.outcome = "resolved", frozen, "elder_well"
    db.session.commit()
    clock.set_now(frozen + timedelta(hours=2))
    reminders.no_activity()
    assert no_activity_alarms(elder) == ["no_water_12h"]        # still quiet, but this spell was raised once
    device = db.session.execute(sa.select(Device).where(Device.elder_id == elder.id)).scalar_one()
    device.last_activity_at = clock.now()
    db.session.commit()
    clock.set_now(frozen + timedelta(hours=14, seconds=1))
    reminders.no_activity()
    assert no_activity_alarms(elder) == ["no_water_12h", "no_water_12h"]


def test_removed_devices_and_ended_care_are_not_watched(w, vendor, frozen):
    gone = make_elder(w)
    make_device(gone, vendor, "water", installed_at=frozen - timedelta(days=2), removed_at=frozen)
    ended = quiet(w, vendor, "water", hours_ago={"water": timedelta(days=2)}, status="ended", ended_at=frozen,
                  end_reason="moved_away")
    reminders.no_activity()
    assert no_activity_alarms() == []
    assert ended.id and gone.id


def test_an_activity_between_the_read_and_the_alarm_cancels_it(w, vendor, frozen):
    elder = quiet(w, vendor, "water", hours_ago={"water": timedelta(hours=13)})
    due = devices.quiet_elders(frozen)
    assert due == [(elder.id, "no_water_12h")]
    db.session.execute(sa.update(Device).values(last_activity_at=frozen))
    db.session.commit()
    assert devices.raise_no_activity(elder.id, "no_water_12h", frozen) is None
    assert no_activity_alarms() == []


# --- silence and retention ----------------------------------------------------------------------------------------

def test_a_silent_device_gets_one_maintenance_message_not_an_alarm(w, staff, vendor, frozen):
    elder = make_elder(w, staff=staff)
    almost = make_device(elder, vendor, "smoke", last_seen_at=frozen - timedelta(hours=24) + timedelta(seconds=1))
    silent = make_device(elder, vendor, "door", last_seen_at=frozen - timedelta(hours=24))
    never = make_device(elder, vendor, "sos", installed_at=frozen - timedelta(hours=25))
    ended = make_elder(w, staff=staff, status="ended", ended_at=frozen, end_reason="care_home")
    make_device(ended, vendor, "door", last_seen_at=frozen - timedelta(days=3))   # no longer watched
    assert reminders.device_silence() == {"silent": 2, "marked": 2}
    db.session.expire_all()
    assert db.session.get(Device, almost.id).maintenance_at is None
    assert db.session.get(Device, silent.id).maintenance_at == frozen == db.session.get(Device, never.id).maintenance_at
    messages = db.session.execute(sa.select(Notification)
                                  .where(Notification.kind == "care.maintenance")).scalars().all()
    assert {m.user_id for m in messages} >= {staff.id} and "2台" in messages[0].body
    assert count(Alarm) == 0
    clock.set_now(frozen + timedelta(hours=1))
    assert reminders.device_silence() == {"silent": 1, "marked": 1}   # only the one that went silent since
    assert reminders.device_silence() == {"silent": 0, "marked": 0}
