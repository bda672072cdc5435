"""Notices (通知公告): who may publish where, the audience frozen at publication, reading and 我已知晓 (oneself, a
relative, staff), corrections as new versions, the pinned limit, and the chase list's order and masking."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.notices import Notice, NoticeAudience
from models.people import FamilyLink
from service import clock
from tests.concurrency import run_at_once
from tests.factories import auth, make_owner, make_user, make_world
from tests.factories.meals import make_meal_card


def later(**delta) -> str:
    return clock.iso(clock.now() + timedelta(**delta))


def living(world, unit, **kwargs):
    """A resident whose residence staff verified: in the unit's building's neighbourhood, at the unit."""
    user = make_user(neighbourhood_id=world.nb.id if unit.building_id == world.building.id else world.nb2.id,
                     **kwargs)
    user.profile.unit_id = unit.id
    db.session.commit()
    return user


def relative_of(elder):
    proxy = make_user(name="家属")
    db.session.add(FamilyLink(proxy_user_id=proxy.id, elder_user_id=elder.id, relation="child", status="confirmed"))
    db.session.commit()
    return proxy


@pytest.fixture
def w():
    return make_world()


@pytest.fixture
def staff(w):
    return make_user(name="居委会干部", roles=[("staff", "neighbourhood", w.nb.id)])


def body(w, **over):
    data = {"category": "outage", "title": "1号楼停水通知", "body": "12月9日8:00至17:00停水，请提前储水。",
            "scopes": [{"type": "building", "id": w.building.id}], "urgent": True, "valid_until": later(days=3),
            "event_at": later(days=2), "publish": True}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def publish(client, user, w, **over):
    response = client.post("/api/v1/notices", json=body(w, **over), headers=auth(user))
    assert response.status_code == 201, response.json
    return response.json


def audience(notice_id):
    return dict(db.session.execute(sa.select(NoticeAudience.user_id, NoticeAudience.reason)
                                   .where(NoticeAudience.notice_id == notice_id)).all())


def test_publication_freezes_who_lives_owns_or_is_family_there(client, w, staff):
    resident = living(w, w.units[0], name="王秀英", phone="13800001111")
    upstairs = living(w, w.units[1], name="李")
    other_building = living(w, w.units[2], name="张")
    owner = make_user(name="业主")
    make_owner(owner, w.units[1])
    away_owner = make_user(name="外地业主")
    make_owner(away_owner, w.units[2])
    child = relative_of(resident)
    declared = make_user(name="未核验")          # typed an address, not verified: not reached
    notice = publish(client, staff, w)
    assert notice["state"] == "published" and notice["state_name"] == "已发布"
    assert notice["audience"]["total"] == 4 and notice["category_name"] == "停水停电"
    assert audience(notice["id"]) == {resident.id: "resident", upstairs.id: "resident", owner.id: "owner",
                                      child.id: "family"}
    assert other_building.id not in audience(notice["id"]) and declared.id not in audience(notice["id"])
    assert away_owner.id not in audience(notice["id"])
    # Frozen: who moves in afterwards is not added, who moves out keeps it.
    newcomer = living(w, w.units[0], name="新住户")
    resident.profile.unit_id = None
    db.session.commit()
    assert newcomer.id not in audience(notice["id"]) and resident.id in audience(notice["id"])
    assert client.get("/api/v1/notices", headers=auth(newcomer)).json["total"] == 0
    assert client.get(f"/api/v1/notices/{notice['id']}", headers=auth(newcomer)).status_code == 404
    mine = client.get("/api/v1/notices", headers=auth(resident)).json
    assert (mine["total"], mine["unread"], mine["items"][0]["id"]) == (1, 1, notice["id"])


def test_wider_scopes_reach_the_neighbourhood_and_the_street(client, w):
    street_staff = make_user(name="街道", roles=[("staff", "street", w.street.id)])
    a = living(w, w.units[0])
    b = living(w, w.units[2])            # building 2: the other neighbourhood
    unhoused = make_user(neighbourhood_id=w.nb.id)   # verified to the neighbourhood, no unit on file
    far = make_user(neighbourhood_id=w.far_nb.id)
    by_nb = publish(client, street_staff, w, category="policy", urgent=False, valid_until=None, event_at=None,
                    scopes=[{"type": "neighbourhood", "id": w.nb.id}])
    assert set(audience(by_nb["id"])) == {a.id, unhoused.id}
    by_street = publish(client, street_staff, w, category="policy", urgent=False, valid_until=None, event_at=None,
                        scopes=[{"type": "street", "id": w.street.id}])
    assert set(audience(by_street["id"])) == {a.id, b.id, unhoused.id} and far.id not in audience(by_street["id"])
    by_entrance = publish(client, street_staff, w, category="policy", urgent=False, valid_until=None, event_at=None,
                          scopes=[{"type": "entrance", "id": w.entrance.id}])
    assert set(audience(by_entrance["id"])) == {a.id}


def test_who_may_publish_where(client, w, staff):
    other = client.post("/api/v1/notices", json=body(w, scopes=[{"type": "building", "id": w.building2.id}]),
                        headers=auth(staff))
    assert other.status_code == 403 and other.json["error"] == "notices.scope_not_covered"
    assert "2号楼" in other.json["message"]
    street = client.post("/api/v1/notices", json=body(w, scopes=[{"type": "street", "id": w.street.id}]),
                         headers=auth(staff))
    assert street.status_code == 403 and street.json["error"] == "notices.scope_not_covered"
    committee = make_user(name="业委会", roles=[("committee", "estate", w.estate.id)])
    outage = client.post("/api/v1/notices", json=body(w), headers=auth(committee))
    assert outage.status_code == 403 and outage.json["error"] == "notices.not_publisher"
    disclosure = client.post("/api/v1/notices", json=body(w, category="committee", urgent=False, event_at=None),
                             headers=auth(committee))
    assert disclosure.status_code == 201 and disclosure.json["author_role"] == "committee"
    company = make_user(name="物业", roles=[("property_company", "estate", w.estate.id)])
    by_company = client.post("/api/v1/notices", json=body(w), headers=auth(company))
    assert by_company.status_code == 201 and by_company.json["author_role_name"] == "物业服务企业"
    resident = make_user(name="居民")
    assert client.post("/api/v1/notices", json=body(w), headers=auth(resident)).status_code == 403
    unknown = client.post("/api/v1/notices", json=body(w, scopes=[{"type": "building", "id": 999999}]),
                          headers=auth(staff))
    assert unknown.status_code == 422 and unknown.json["error"] == "notices.scope_unknown"
    assert db.session.execute(sa.select(sa.func.count()).select_from(Notice)).scalar() == 2


@pytest.mark.parametrize("over, field, code", [
    ({"valid_until": None}, "valid_until", "notices.urgent_needs_valid_until"),
    ({"event_at": None}, "event_at", "notices.outage_needs_event_at"),
    ({"category": "nonsense"}, "category", "notices.category_unknown"),
    ({"publish_at": "PAST6"}, "publish_at", "notices.publish_at_past"),
    ({"valid_until": "NOW+1", "publish_at": "NOW+2"}, "valid_until", "notices.valid_until_before_publish"),
    ({"valid_until": "9999-12-31T23:59:59+08:00"}, "valid_until", None),
    ({"title": ""}, "title", None),
])
def test_bad_input_is_named_and_nothing_is_written(client, w, staff, over, field, code):
    moments = {"PAST6": later(minutes=-6), "NOW+1": later(hours=1), "NOW+2": later(hours=2)}
    data = body(w, **{k: moments.get(v, v) if isinstance(v, str) else v for k, v in over.items()})
    for key, value in over.items():
        if value is None:
            data.pop(key, None)
    response = client.post("/api/v1/notices", json=data, headers=auth(staff))
    errors = response.json["errors"]
    assert response.status_code == 422 and field in errors.get("json", errors), response.json
    if code:
        assert response.json["error"] == code
    assert db.session.execute(sa.select(sa.func.count()).select_from(Notice)).scalar() == 0


def test_publish_at_may_be_up_to_five_minutes_past(client, w, staff):
    living(w, w.units[0])
    ok = client.post("/api/v1/notices", json=body(w, publish_at=later(minutes=-4, seconds=-59)), headers=auth(staff))
    assert ok.status_code == 201 and ok.json["state"] == "published"
    late = client.post("/api/v1/notices", json=body(w, publish_at=later(minutes=-5, seconds=-1)), headers=auth(staff))
    assert late.status_code == 422 and late.json["error"] == "notices.publish_at_past"


def test_reading_and_acknowledging_for_oneself_a_relative_and_as_staff(client, w, staff):
    elder = living(w, w.units[0], name="王秀英")
    neighbour = living(w, w.units[1], name="李")
    child = relative_of(elder)
    stranger = make_user(name="路人")
    notice = publish(client, staff, w)
    nid = notice["id"]
    seen = client.get(f"/api/v1/notices/{nid}", headers=auth(neighbour)).json
    assert seen["read"] is True and seen["acked"] is False and seen["in_audience"] is True
    assert seen["published_at"].endswith("+08:00") and "audience" not in seen
    first_read = db.session.get(NoticeAudience, (nid, neighbour.id)).read_at
    client.get(f"/api/v1/notices/{nid}", headers=auth(neighbour))
    db.session.expire_all()
    assert db.session.get(NoticeAudience, (nid, neighbour.id)).read_at == first_read
    mine = client.post(f"/api/v1/notices/{nid}/ack", json={}, headers=auth(neighbour))
    assert mine.status_code == 200 and mine.json["ack_channel"] == "app" and mine.json["ack_proxy"] is False
    again = client.post(f"/api/v1/notices/{nid}/ack", json={}, headers=auth(neighbour))
    assert again.json["acked_at"] == mine.json["acked_at"]
    # A confirmed relative, for the elder: in the app, recorded as proxy and audited.
    proxy = client.post(f"/api/v1/notices/{nid}/ack", json={"user_id": elder.id}, headers=auth(child))
    assert proxy.status_code == 200 and proxy.json["ack_proxy"] is True and proxy.json["acked_by_user_id"] == child.id
    assert db.session.execute(sa.select(AuditEntry.subject_user_id).where(
        AuditEntry.action == "notice.acknowledged_for")).scalar() == elder.id
    # Someone else: refused; staff must say how they told the person.
    assert client.post(f"/api/v1/notices/{nid}/ack", json={"user_id": elder.id},
                       headers=auth(stranger)).status_code == 403
    owner = make_user(name="业主")
    make_owner(owner, w.units[1])
    late = publish(client, staff, w, title="更正前")
    no_channel = client.post(f"/api/v1/notices/{late['id']}/ack", json={"user_id": owner.id}, headers=auth(staff))
    assert no_channel.status_code == 422 and no_channel.json["error"] == "notices.staff_channel_required"
    door = client.post(f"/api/v1/notices/{late['id']}/ack", json={"user_id": owner.id, "channel": "door"},
                       headers=auth(staff))
    assert door.status_code == 200 and door.json["ack_channel_name"] == "上门告知" and door.json["ack_proxy"] is True
    counts = client.get(f"/api/v1/notices/{nid}", headers=auth(staff)).json["audience"]
    assert (counts["total"], counts["acked"], counts["acked_by_proxy"], counts["read"]) == (3, 2, 1, 2)
    not_in = client.post(f"/api/v1/notices/{nid}/ack", json={}, headers=auth(stranger))
    assert not_in.status_code == 404


def test_a_correction_is_a_new_version_and_the_old_one_stays_superseded(client, w, staff):
    resident = living(w, w.units[0])
    first = publish(client, staff, w)
    assert client.patch(f"/api/v1/notices/{first['id']}", json={"title": "改"},
                        headers=auth(staff)).json["error"] == "notices.not_draft"
    corrected = client.post(f"/api/v1/notices/{first['id']}/corrections",
                            json={"reason": "停水时间更正", "body": "改为12月10日停水。"}, headers=auth(staff))
    assert corrected.status_code == 201
    new = corrected.json
    assert (new["version"], new["supersedes_id"], new["correction_reason"]) == (2, first["id"], "停水时间更正")
    old = client.get(f"/api/v1/notices/{first['id']}", headers=auth(resident)).json
    assert old["state"] == "superseded" and old["superseded_by"] == new["id"] and old["state_name"] == "已更正（旧版）"
    items = client.get("/api/v1/notices", headers=auth(resident)).json["items"]
    assert [i["id"] for i in items] == [new["id"], first["id"]]
    again = client.post(f"/api/v1/notices/{first['id']}/corrections", json={"reason": "再改"}, headers=auth(staff))
    assert again.status_code == 409 and again.json["error"] == "notices.not_live"


def test_at_most_three_pinned_per_place(client, w, staff):
    for i in range(3):
        publish(client, staff, w, pinned=True, title=f"置顶{i}")
    fourth = client.post("/api/v1/notices", json=body(w, pinned=True), headers=auth(staff))
    assert fourth.status_code == 409 and fourth.json["error"] == "notices.pinned_full"
    assert "3" in fourth.json["message"]
    unpinned = client.post("/api/v1/notices", json=body(w, pinned=False), headers=auth(staff))
    assert unpinned.status_code == 201
    # Pinned first in a resident's list, then the newest.
    resident = living(w, w.units[0])
    newest = publish(client, staff, w, pinned=False, title="最新")
    pinned = publish(client, make_user(name="街道", roles=[("staff", "street", w.street.id)]), w, pinned=True,
                     scopes=[{"type": "entrance", "id": w.entrance.id}], title="单元置顶")
    listed = [i["id"] for i in client.get("/api/v1/notices", headers=auth(resident)).json["items"]]
    assert listed == [pinned["id"], newest["id"]]


def test_the_chase_list_puts_elders_living_alone_first_and_masks_what_a_role_need_not_see(client, w, staff):
    young = living(w, w.units[0], name="小青年", phone="13800000001", birth_date=clock.local_now().date().replace(year=1995))
    old = living(w, w.units[0], name="老大爷", phone="13800000002", birth_date=clock.local_now().date().replace(year=1936))
    alone = living(w, w.units[1], name="独居奶奶", phone="13800000003",
                   birth_date=clock.local_now().date().replace(year=1950))
    make_meal_card(alone, lives_alone=True)
    withdrawn = living(w, w.units[1], name="撤回同意", phone="13800000004",
                       birth_date=clock.local_now().date().replace(year=1940))
    make_meal_card(withdrawn, lives_alone=True, consent=False)
    notice = publish(client, staff, w)
    client.post(f"/api/v1/notices/{notice['id']}/ack", json={}, headers=auth(young))
    chase = client.get(f"/api/v1/notices/{notice['id']}/chase", headers=auth(staff))
    assert chase.status_code == 200, chase.json
    rows = chase.json["items"]
    assert [r["user_id"] for r in rows] == [alone.id, old.id, withdrawn.id]
    assert rows[0]["lives_alone"] is True and rows[2]["lives_alone"] is False
    assert rows[0]["phone"] == "13800000003" and rows[0]["phone_masked"] is False and rows[1]["age"] >= 89
    company = make_user(name="物业", roles=[("property_company", "estate", w.estate.id)])
    theirs = publish(client, company, w, title="物业停水")
    masked = client.get(f"/api/v1/notices/{theirs['id']}/chase", headers=auth(company)).json["items"]
    assert masked and all(r["phone_masked"] and "13800000003" != r["phone"] for r in masked)
    assert client.get(f"/api/v1/notices/{notice['id']}/chase", headers=auth(company)).status_code == 403
    resident = client.get(f"/api/v1/notices/{notice['id']}/chase", headers=auth(old))
    assert resident.status_code == 403
    csv = client.get(f"/api/v1/notices/{notice['id']}/chase?format=csv", headers=auth(staff))
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    lines = csv.data.decode("utf-8-sig").strip().splitlines()
    assert lines[0].startswith("用户编号") and "独居奶奶" in lines[1] and len(lines) == 4
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "notice.chase_viewed")).scalar() == 3


def test_staff_list_the_notices_where_they_work(client, w, staff):
    publish(client, staff, w)
    other = make_user(name="别的居委会", roles=[("staff", "neighbourhood", w.far_nb.id)])
    mine = client.get("/api/v1/notices/managed", headers=auth(staff)).json
    assert mine["total"] == 1 and mine["items"][0]["audience_count"] == 0
    assert client.get("/api/v1/notices/managed", headers=auth(other)).json["total"] == 0


@pytest.mark.real_commits
def test_acknowledgements_sent_at_once_record_one(app, client):
    w = make_world()
    staff = make_user(name="干部", roles=[("staff", "neighbourhood", w.nb.id)])
    elder = living(w, w.units[0], name="王")
    child = relative_of(elder)
    notice = publish(client, staff, w)
    calls = [(f"/api/v1/notices/{notice['id']}/ack", {"user_id": elder.id}, auth(child)),
             (f"/api/v1/notices/{notice['id']}/ack", {}, auth(elder)),
             (f"/api/v1/notices/{notice['id']}/ack", {"user_id": elder.id, "channel": "phone"}, auth(staff)),
             (f"/api/v1/notices/{notice['id']}/ack", {}, auth(elder))]
    db.session.remove()
    results = run_at_once(app, calls)
    assert all(status == 200 for status, _ in results), results
    stamps = {body["acked_at"] for _, body in results}
    assert len(stamps) == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "notice.acknowledged_for")).scalar() <= 1


def test_a_pdf_goes_with_a_notice_to_its_audience_only(client, w, staff):
    from tests.api.test_upload_documents import pdf

    resident = living(w, w.units[0], name="王秀英")
    outsider = living(w, w.units[2], name="张")
    data = pdf(2)
    upload = client.post("/api/v1/uploads", data={"file": (__import__("io").BytesIO(data), "停水范围.pdf")},
                         content_type="multipart/form-data", headers=auth(staff)).json
    notice = publish(client, staff, w, attachments=[upload["id"]])
    detail = client.get(f"/api/v1/notices/{notice['id']}", headers=auth(resident)).json
    [attached] = detail["attachments"]
    assert attached["content_type"] == "application/pdf" and attached["name"] == "停水范围.pdf"
    assert attached["pages"] == 2 and attached["sha256"] == attached["received_sha256"]
    assert client.get(attached["url"], headers=auth(resident)).data == data
    assert client.get(attached["url"], headers=auth(outsider)).status_code == 404


def test_a_draft_moved_to_another_street_belongs_to_that_street(client, w):
    admin = make_user(name="区管理员", roles=[("admin", "street", w.street.id), ("admin", "street", w.other_street.id)])
    draft = publish(client, admin, w, publish=False, urgent=False, valid_until=None, event_at=None, category="policy")
    moved = client.patch(f"/api/v1/notices/{draft['id']}", json={"scopes": [{"type": "neighbourhood", "id": w.far_nb.id}]},
                         headers=auth(admin))
    assert moved.status_code == 200, moved.json
    db.session.expire_all()
    assert db.session.get(Notice, draft["id"]).street_id == w.other_street.id
    other_admin = make_user(name="宜川管理员", roles=[("admin", "street", w.other_street.id)])
    listed = client.get("/api/v1/notices/managed", headers=auth(other_admin)).json
    assert draft["id"] in [n["id"] for n in listed["items"]]


def test_my_list_pages_past_the_window_to_every_notice_newest_first(client, w, staff, monkeypatch):
    from service.notices import queries

    monkeypatch.setattr(queries, "MINE_WINDOW", 4)   # the window the list orders in Python (500 in use)
    resident = living(w, w.units[0], name="王秀英")
    ids = [publish(client, staff, w, urgent=False, valid_until=None, event_at=None, category="policy",
                   title=f"政策{i}")["id"] for i in range(7)]
    pinned = publish(client, staff, w, urgent=False, valid_until=later(days=9), event_at=None, category="policy",
                     title="置顶", pinned=True)["id"]
    seen, unread = [], set()
    for page in (1, 2, 3, 4):
        answer = client.get(f"/api/v1/notices?page={page}&page_size=3", headers=auth(resident)).json
        assert answer["total"] == 8
        unread.add(answer["unread"])
        seen += [n["id"] for n in answer["items"]]
    assert seen == [pinned, *reversed(ids)]   # every one once: pinned first, then the newest, past the window too
    assert unread == {8}
