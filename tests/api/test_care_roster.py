"""The roster of elders living alone and their 民生档案: recorded and verified by staff (never self-declared), seen
by each caller only as far as they need, every staff view of the file audited and shown to the elder."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.care import Alarm, Contact, Device, Elder, LivelihoodFile, Pairing
from models.people import FamilyLink, ResidentProfile, User
from service import clock, privacy
from service.care import reminders
from tests.factories import auth, make_user, make_world
from tests.factories.care import make_device, make_elder, make_partner, make_vendor

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc)   # 10:00 in Shanghai


@pytest.fixture(autouse=True)
def frozen():
    clock.set_now(NOW)
    yield
    clock.set_now(None)


@pytest.fixture
def w():
    return make_world()


@pytest.fixture
def staff(w):
    return make_user(name="张主任", roles=[("staff", "neighbourhood", w.nb.id)])


def count(model) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar()


def add(client, user, **body):
    body = {"living": "alone", "risk_tier": 1, "verified_on": "home_visit", **body}
    return client.post("/api/v1/care/elders", headers=auth(user), json=body)


def test_staff_put_a_resident_with_a_verified_residence_on_the_roster(client, w, staff):
    elder = make_user(name="李秀英", phone="13900000012", neighbourhood_id=w.nb.id, birth_date=date(1936, 2, 1))
    response = add(client, staff, user_id=elder.id,
                   contacts=[{"name": "李明", "relation": "child", "phone": "13800000001"}])
    assert response.status_code == 201, response.json
    body = response.json
    assert body["standing"] == "staff" and body["name"] == "李秀英" and body["phone"] == "13900000012"
    assert (body["living"], body["living_name"], body["risk_tier"], body["risk_tier_name"]) == (
        "alone", "独居", 1, "高风险（特殊困难）")
    assert body["verified_by"] == staff.id and body["verified_at"].endswith("+08:00")
    assert body["verified_on_name"] == "入户核实"
    assert body["contacts"] == [{"position": 1, "name": "李明", "relation": "child", "relation_name": "子女",
                                 "phone": "13800000001", "user_id": None}]
    row = db.session.get(Elder, body["id"])
    assert (row.neighbourhood_id, row.street_id, row.verified_on) == (w.nb.id, w.street.id, "home_visit")
    # The contact's phone is stored encrypted.
    assert "13800000001" not in db.session.execute(sa.select(Contact.phone_enc)).scalar()
    actions = db.session.execute(sa.select(AuditEntry.action).where(AuditEntry.subject_user_id == elder.id)
                                 ).scalars().all()
    assert "care.elder_added" in actions
    english = client.get(f"/api/v1/care/elders/{body['id']}", headers=auth(staff, **{"Accept-Language": "en"}))
    assert english.json["living_name"] == "Living alone"


def test_an_elder_without_an_account_is_registered_with_the_residence_staff_verify(client, w, staff):
    response = add(client, staff, person={"name": "王阿公", "phone": "13900000099", "address": "香泉路88弄5号101室",
                                          "neighbourhood_id": w.nb.id})
    assert response.status_code == 201, response.json
    profile = db.session.get(ResidentProfile, response.json["user_id"])
    assert profile.neighbourhood_id == w.nb.id and profile.residence_verified_by == staff.id
    assert profile.declared_neighbourhood_id is None


@pytest.mark.parametrize("case, status, code", [
    ("declared_only", 422, "care.residence_unverified"),
    ("other_neighbourhood", 403, "care.not_in_scope"),
    ("unknown_user", 422, "care.person_not_found"),
    ("person_elsewhere", 403, "care.not_in_scope"),
    ("both", 422, "validation.invalid"),
    ("bad_living", 422, "validation.invalid"),
    ("bad_tier", 422, "validation.invalid"),
    ("bad_contact_phone", 422, "validation.invalid"),
    ("six_contacts", 422, "validation.invalid"),
])
def test_what_cannot_go_on_the_roster_is_refused_and_nothing_is_written(client, w, staff, case, status, code):
    declared = make_user(name="自报居民")
    profile = db.session.get(ResidentProfile, declared.id)
    profile.declared_neighbourhood_id = w.nb.id
    db.session.commit()
    far = make_user(name="光新居民", neighbourhood_id=w.far_nb.id)
    here = make_user(name="本居民区居民", neighbourhood_id=w.nb.id)
    contact = {"name": "李明", "relation": "child", "phone": "13800000001"}
    bodies = {
        "declared_only": {"user_id": declared.id},
        "other_neighbourhood": {"user_id": far.id},
        "unknown_user": {"user_id": 999999},
        "person_elsewhere": {"person": {"name": "某某", "address": "光新路1号", "neighbourhood_id": w.far_nb.id}},
        "both": {"user_id": here.id, "person": {"name": "某某", "address": "x", "neighbourhood_id": w.nb.id}},
        "bad_living": {"user_id": here.id, "living": "self_declared"},
        "bad_tier": {"user_id": here.id, "risk_tier": 4},
        "bad_contact_phone": {"user_id": here.id, "contacts": [{**contact, "phone": "12345"}]},
        "six_contacts": {"user_id": here.id, "contacts": [contact] * 6},
    }
    users_before = count(User)
    response = add(client, staff, **bodies[case])
    assert response.status_code == status, response.json
    assert response.json["error"] == code
    assert count(Elder) == 0 and count(Contact) == 0 and count(User) == users_before


def test_only_staff_record_an_elder_and_never_twice(client, w, staff):
    elder = make_user(name="李秀英", neighbourhood_id=w.nb.id)
    resident = make_user(name="邻居", neighbourhood_id=w.nb.id)
    assert add(client, elder, user_id=elder.id).status_code == 403      # never self-declared
    assert add(client, resident, user_id=elder.id).status_code == 403
    assert add(client, staff, user_id=elder.id).status_code == 201
    again = add(client, staff, user_id=elder.id)
    assert again.status_code == 409 and again.json["error"] == "care.already_on_roster"
    assert count(Elder) == 1


def test_each_caller_sees_the_elder_only_as_far_as_they_need(client, w, staff):
    elder = make_elder(w, staff=staff, risk_tier=1)
    db.session.add(Contact(elder_id=elder.id, position=1, name="李明", relation="child",
                           phone_enc=privacy.encrypt("13800000001")))
    db.session.commit()
    partner = make_partner(w, elder)
    relative = make_user(name="李明")
    db.session.add(FamilyLink(proxy_user_id=relative.id, elder_user_id=elder.user_id, relation="child",
                              status="confirmed"))
    db.session.commit()
    stranger = make_user(name="路人", neighbourhood_id=w.nb.id)
    far_staff = make_user(name="光新干部", roles=[("staff", "neighbourhood", w.far_nb.id)])
    street_staff = make_user(name="街道干部", roles=[("staff", "street", w.street.id)])
    url = f"/api/v1/care/elders/{elder.id}"

    seen = {who: client.get(url, headers=auth(user)) for who, user in (
        ("staff", staff), ("street", street_staff), ("visitor", partner), ("family", relative),
        ("self", db.session.get(User, elder.user_id)), ("stranger", stranger), ("far_staff", far_staff))}
    assert seen["staff"].json["standing"] == "staff" and seen["street"].json["standing"] == "staff"
    assert seen["staff"].json["risk_tier"] == 1 and seen["staff"].json["contacts"][0]["phone"] == "13800000001"
    assert set(seen["visitor"].json) == {"id", "name", "phone", "address", "standing", "standing_name"}
    family = seen["family"].json
    assert family["standing"] == "family" and "contacts" not in family and "risk_tier" not in family
    assert "phone" not in family and family["living_name"] == "独居"
    own = seen["self"].json
    assert own["standing"] == "self" and own["consent"] is True and "risk_tier" not in own
    assert seen["stranger"].status_code == 404 and seen["stranger"].json["error"] == "care.elder_not_found"
    assert seen["far_staff"].status_code == 403 and seen["far_staff"].json["error"] == "care.not_in_scope"
    # Staff views are audited; the visitor's and the family's are not staff views.
    views = db.session.execute(sa.select(AuditEntry.actor_user_id).where(AuditEntry.action == "care.elder_viewed")
                               ).scalars().all()
    assert sorted(views) == sorted([staff.id, street_staff.id])


def test_the_roster_lists_my_neighbourhoods_highest_risk_first_with_phones_masked(client, w, staff):
    low = make_elder(w, staff=staff, risk_tier=3)
    high = make_elder(w, staff=staff, risk_tier=1)
    make_elder(w, neighbourhood=w.far_nb, risk_tier=1)
    away = make_elder(w, staff=staff, risk_tier=2, away_from=NOW - timedelta(days=1), away_reason="hospital")
    page = client.get("/api/v1/care/elders", headers=auth(staff)).json
    assert [i["id"] for i in page["items"]] == [high.id, away.id, low.id] and page["total"] == 3
    assert all("****" in i["phone"] for i in page["items"])
    assert [i["away"] for i in page["items"]] == [False, True, False]
    only_away = client.get("/api/v1/care/elders?away=true", headers=auth(staff)).json
    assert [i["id"] for i in only_away["items"]] == [away.id]
    paged = client.get("/api/v1/care/elders?page_size=1&page=2", headers=auth(staff)).json
    assert [i["id"] for i in paged["items"]] == [away.id] and paged["total"] == 3
    other = client.get(f"/api/v1/care/elders?neighbourhood_id={w.far_nb.id}", headers=auth(staff))
    assert other.status_code == 403
    resident = make_user(name="居民", neighbourhood_id=w.nb.id)
    assert client.get("/api/v1/care/elders", headers=auth(resident)).status_code == 403


def file_body(based_on, **extra):
    return {"based_on": based_on, "household": [{"name": "李秀英", "relation": "self", "lives_in": True}],
            "benefits": ["高龄津贴"], "housing": "老公房六楼，无电梯", "needs": "助餐送餐", **extra}


def test_the_file_is_versioned_its_health_notes_encrypted_and_each_view_audited(client, w, staff):
    elder = make_elder(w, staff=staff)
    url = f"/api/v1/care/elders/{elder.id}/file"
    empty = client.get(url, headers=auth(staff)).json
    assert empty["version"] == 0 and empty["versions"] == []
    first = client.post(url, headers=auth(staff), json=file_body(0, health="高血压，每日服药"))
    assert first.status_code == 201 and first.json["version"] == 1 and first.json["health"] == "高血压，每日服药"
    stored = db.session.execute(sa.select(LivelihoodFile.health_enc)).scalar()
    assert "高血压" not in stored
    # Two staff editing the same version: the second is told someone wrote since, and nothing is written.
    second = client.post(url, headers=auth(staff), json=file_body(1, needs="助餐送餐；冬季取暖"))
    assert second.status_code == 201 and second.json["version"] == 2
    stale = client.post(url, headers=auth(staff), json=file_body(1, needs="旧的修改"))
    assert stale.status_code == 409 and stale.json["error"] == "care.file_changed" and "第2版" in stale.json["message"]
    assert count(LivelihoodFile) == 2
    old = client.get(f"{url}?version=1", headers=auth(staff)).json
    assert old["version"] == 1 and old["needs"] == "助餐送餐"
    assert [v["version"] for v in old["versions"]] == [2, 1]
    assert client.get(f"{url}?version=9", headers=auth(staff)).status_code == 404
    # Every staff view shows in the elder's own data-access list.
    mine = client.get("/api/v1/me/data-access?page_size=50", headers=auth(db.session.get(User, elder.user_id))).json
    assert [i["action"] for i in mine["items"]].count("care.file_viewed") == 4
    assert mine["items"][0]["action_name"] == "查看民生档案"


def test_nobody_but_staff_in_scope_reads_or_writes_the_file(client, w, staff):
    elder = make_elder(w, staff=staff)
    partner = make_partner(w, elder)
    far_staff = make_user(name="光新干部", roles=[("staff", "neighbourhood", w.far_nb.id)])
    url = f"/api/v1/care/elders/{elder.id}/file"
    for user in (partner, db.session.get(User, elder.user_id)):
        assert client.get(url, headers=auth(user)).status_code == 403
    assert client.get(url, headers=auth(far_staff)).json["error"] == "care.not_in_scope"
    assert client.post(url, headers=auth(far_staff), json=file_body(0)).status_code == 403
    assert count(LivelihoodFile) == 0


def test_health_notes_need_the_care_consent_and_go_when_it_is_withdrawn(client, w, staff):
    without = make_elder(w, staff=staff, consent=False)
    refused = client.post(f"/api/v1/care/elders/{without.id}/file", headers=auth(staff),
                          json=file_body(0, health="糖尿病"))
    assert refused.status_code == 409 and refused.json["error"] == "care.consent_missing"
    assert client.post(f"/api/v1/care/elders/{without.id}/file", headers=auth(staff),
                       json=file_body(0)).status_code == 201

    elder = make_elder(w, staff=staff)
    client.post(f"/api/v1/care/elders/{elder.id}/file", headers=auth(staff), json=file_body(0, health="糖尿病"))
    device = make_device(elder, make_vendor(), "door")
    assert reminders.consent_withdrawals() == {"elders": 0, "devices_removed": 0, "events_deleted": 0,
                                               "health_notes_erased": 0}
    me = db.session.get(User, elder.user_id)
    assert client.delete("/api/v1/me/consents/care", headers=auth(me)).status_code == 200
    # At once the file no longer shows them; the sweep erases them and removes the devices.
    assert client.get(f"/api/v1/care/elders/{elder.id}/file", headers=auth(staff)).json["health"] is None
    assert reminders.consent_withdrawals() == {"elders": 1, "devices_removed": 1, "events_deleted": 0,
                                               "health_notes_erased": 1}
    assert db.session.get(Device, device.id).removed_at is not None
    assert db.session.execute(sa.select(LivelihoodFile.health_enc).where(LivelihoodFile.elder_id == elder.id)
                              ).scalar() is None
    assert reminders.consent_withdrawals()["elders"] == 0   # run twice, nothing twice


@pytest.mark.parametrize("until_days, status, code", [
    (None, 200, None), (1, 200, None), (366, 200, None),
    (366.00002, 422, "care.away_too_long"), (0, 422, "care.away_until_before_from"),
])
def test_an_absence_is_recorded_within_its_limits(client, w, staff, until_days, status, code):
    elder = make_elder(w, staff=staff)
    body = {"away_reason": "hospital", "away_from": clock.iso(NOW)}
    if until_days is not None:
        body["away_until"] = clock.iso(NOW + timedelta(days=until_days))
    response = client.put(f"/api/v1/care/elders/{elder.id}/away", headers=auth(staff), json=body)
    assert response.status_code == status, response.json
    if code:
        assert response.json["error"] == code
        assert db.session.get(Elder, elder.id).away_from is None
    else:
        assert response.json["away"] is True and response.json["away_reason_name"] == "住院"


def test_family_record_an_absence_a_visitor_may_not_and_it_is_cleared(client, w, staff):
    elder = make_elder(w, staff=staff)
    partner = make_partner(w, elder)
    relative = make_user(name="李明")
    db.session.add(FamilyLink(proxy_user_id=relative.id, elder_user_id=elder.user_id, relation="child",
                              status="confirmed"))
    db.session.commit()
    url = f"/api/v1/care/elders/{elder.id}/away"
    body = {"away_reason": "with_family", "away_until": clock.iso(NOW + timedelta(days=10))}
    assert client.put(url, headers=auth(partner), json=body).status_code == 403
    assert client.put(url, headers=auth(relative), json=body).status_code == 200
    assert client.delete(url, headers=auth(relative)).json["away"] is False
    again = client.delete(url, headers=auth(staff))
    assert again.status_code == 409 and again.json["error"] == "care.not_away"


def test_ending_the_watch_ends_pairings_removes_devices_closes_alarms_and_keeps_the_record(client, w, staff):
    elder = make_elder(w, staff=staff)
    partner = make_partner(w, elder)
    device = make_device(elder, make_vendor(), "smoke")
    db.session.add(Alarm(elder_id=elder.id, street_id=w.street.id, source="device", rule="smoke",
                         severity="emergency", state="notifying", opened_at=NOW, next_at=NOW))
    db.session.commit()
    response = client.post(f"/api/v1/care/elders/{elder.id}/end", headers=auth(staff),
                           json={"end_reason": "care_home", "note": "入住福利院"})
    assert response.status_code == 200 and response.json["status"] == "ended"
    assert response.json["end_reason_name"] == "入住养老机构"
    assert db.session.execute(sa.select(Pairing.ends_on)).scalar() == date(2026, 12, 7)
    assert db.session.get(Device, device.id).removed_at is not None
    alarm = db.session.execute(sa.select(Alarm)).scalar()
    assert (alarm.state, alarm.outcome) == ("resolved", "other")
    # The partner no longer reaches the elder; the roster entry stays, ended.
    assert client.get(f"/api/v1/care/elders/{elder.id}", headers=auth(partner)).status_code == 404
    again = client.post(f"/api/v1/care/elders/{elder.id}/end", headers=auth(staff), json={"end_reason": "deceased"})
    assert again.status_code == 409 and again.json["error"] == "care.elder_ended"
    # Ended, the person may be put on the roster again (moved back home).
    assert add(client, staff, user_id=elder.user_id).status_code == 201


def test_a_change_of_living_is_a_new_verification(client, w, staff):
    elder = make_elder(w, staff=staff)
    other = make_user(name="李干部", roles=[("staff", "neighbourhood", w.nb.id)])
    response = client.patch(f"/api/v1/care/elders/{elder.id}", headers=auth(other),
                            json={"living": "elders_only", "verified_on": "household_register", "risk_tier": 2})
    assert response.status_code == 200
    assert (response.json["living"], response.json["verified_by"], response.json["risk_tier"]) == (
        "elders_only", other.id, 2)
    assert client.patch(f"/api/v1/care/elders/{elder.id}", headers=auth(other), json={}).status_code == 422


def test_an_elder_downloads_their_care_record_and_closing_the_account_keeps_only_the_record_of_care(client, w, staff):
    import io
    import json
    import zipfile

    from models.care import Visit
    from models.privacy import AccountClosure
    from service import account_closure

    elder = make_elder(w, staff=staff)
    me = db.session.get(User, elder.user_id)
    partner = make_partner(w, elder)
    db.session.add(Contact(elder_id=elder.id, position=1, name="李明", relation="child",
                           phone_enc=privacy.encrypt("13800000001")))
    db.session.add(Visit(elder_id=elder.id, visitor_user_id=partner.id, role="partner", at=NOW, channel="door",
                         outcome="well", notes_enc=privacy.encrypt("精神很好"), recorded_by=partner.id))
    db.session.commit()
    client.post(f"/api/v1/care/elders/{elder.id}/file", headers=auth(staff), json=file_body(0, health="高血压"))
    made = client.post("/api/v1/me/data-export", headers=auth(me)).json
    with zipfile.ZipFile(io.BytesIO(client.get(made["download"], headers=auth(me)).data)) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    assert json.loads(files["care_file.json"])[0]["health"] == "高血压"
    assert json.loads(files["care_contacts.json"])[0]["phone"] == "13800000001"
    assert json.loads(files["care_visits_received.json"])[0]["notes"] == "精神很好"
    assert made["counts"]["care_roster"] == 1

    assert client.delete("/api/v1/me", headers=auth(me)).status_code == 202
    clock.set_now(NOW + timedelta(days=7))
    assert account_closure.sweep() == {"closed": 1, "failed": 0}
    db.session.expire_all()
    row = db.session.get(Elder, elder.id)
    assert (row.status, row.end_reason) == ("ended", "declined")
    assert count(Contact) == 0 and count(LivelihoodFile) == 0
    visit = db.session.execute(sa.select(Visit)).scalar_one()
    assert visit.notes_enc is None and visit.outcome == "well"   # the record of care stays, without its notes
    assert db.session.execute(sa.select(Pairing.ends_on)).scalar() == date(2026, 12, 14)
    summary = db.session.execute(sa.select(AccountClosure.summary)).scalar()
    assert summary["changed"]["care_file.deleted"] == 1 and summary["changed"]["care_elder.ended"] == 1


def test_each_january_the_居委会_is_asked_once_to_review_elders_verified_long_ago(client, w, staff):
    from models.notifications import Notification

    old = make_elder(w, staff=staff)
    make_elder(w, staff=staff)
    db.session.get(Elder, old.id).verified_at = datetime(2026, 1, 15, tzinfo=timezone.utc)
    db.session.commit()
    assert reminders.consent_review() == {"neighbourhoods": 0, "told": 0}      # December: not the review month
    clock.set_now(datetime(2027, 1, 2, 1, 15, tzinfo=timezone.utc))
    result = reminders.consent_review()
    assert result["neighbourhoods"] == 1 and result["told"] >= 1
    body = db.session.execute(sa.select(Notification.body).where(Notification.user_id == staff.id,
                                                                 Notification.kind == "care.review")).scalar_one()
    assert "1位" in body
    assert reminders.consent_review()["told"] == 0                              # once a year


def test_an_elder_put_on_the_roster_gets_the_default_visit_plans_and_an_absence_cancels_due_visits(client, w, staff):
    from models.care import VisitDue, VisitPlan

    high = add(client, staff, user_id=make_user(name="甲", neighbourhood_id=w.nb.id).id, risk_tier=1).json
    low = add(client, staff, user_id=make_user(name="乙", neighbourhood_id=w.nb.id).id, risk_tier=3).json
    roles = lambda elder_id: sorted(db.session.execute(sa.select(VisitPlan.role).where(  # noqa: E731
        VisitPlan.elder_id == elder_id)).scalars())
    assert roles(high["id"]) == ["partner", "staff"] and roles(low["id"]) == ["partner"]
    open_dues = lambda: db.session.execute(sa.select(sa.func.count()).select_from(VisitDue).where(  # noqa: E731
        VisitDue.elder_id == low["id"], VisitDue.cancelled_at.is_(None))).scalar()
    before = open_dues()
    assert before > 0
    # Away for a fortnight: the partner's contacts wholly inside it are cancelled, not deleted.
    client.put(f"/api/v1/care/elders/{low['id']}/away", headers=auth(staff),
               json={"away_reason": "hospital", "away_until": clock.iso(NOW + timedelta(days=15))})
    assert 0 <= open_dues() < before
