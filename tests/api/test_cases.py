"""Cases over HTTP: reporting, the state machine, the reporter's actions, who sees what."""
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.cases import Case, CaseEvent
from service import clock
from service.cases import states as case_states
from service.clock import SHANGHAI
from tests.factories import auth, make_user, make_world
from tests.statements import statements_sent

PHONE = "13812345678"
HERE = {"lat": 31.2702, "lng": 121.4101}


@pytest.fixture
def place():
    world = make_world()
    world.nb.lat, world.nb.lng = HERE["lat"], HERE["lng"]
    world.nb2.lat, world.nb2.lng = 31.2800, 121.4200
    world.far_nb.lat, world.far_nb.lng = 31.2500, 121.4400
    db.session.commit()
    return world


@pytest.fixture
def people(place):
    class People:
        resident = make_user(name="王秀英", phone=PHONE, neighbourhood_id=place.nb.id)
        neighbour = make_user(name="张三", phone="13900000001", neighbourhood_id=place.nb.id)
        staff = make_user(name="李", roles=[("staff", "neighbourhood", place.nb.id)])
        colleague = make_user(name="陈", roles=[("staff", "neighbourhood", place.nb.id)])
        head = make_user(name="周主任")
        far_staff = make_user(name="吴", roles=[("staff", "neighbourhood", place.far_nb.id)])
    from models.people import RoleAssignment

    db.session.add(RoleAssignment(user_id=People.head.id, role="staff", scope_type="neighbourhood",
                                  scope_id=place.nb.id, title="nc_head"))
    db.session.commit()
    return People


def report(client, user, **overrides):
    body = {"category": "corridor_clutter", "description": "3号楼楼道堆满纸箱", "location": HERE, **overrides}
    return client.post("/api/v1/cases", json=body, headers=auth(user))


def act(client, user, case_id, action, **payload):
    return client.post(f"/api/v1/cases/{case_id}/actions", json={"action": action, **payload}, headers=auth(user))


def to_closed(client, staff, case_id):
    for action, payload in (("accept", {}), ("contact", {"method": "phone", "note": "已电话联系"}), ("start", {}),
                            ("resolve", {"outcome": "solved", "reply": "已清理完毕"}), ("close", {})):
        response = act(client, staff, case_id, action, **payload)
        assert response.status_code == 200, (action, response.json)
    return response


def test_report_is_routed_numbered_and_dispatched_with_deadlines(client, place, people):
    clock.set_now(datetime(2026, 11, 20, 10, tzinfo=SHANGHAI))  # a Friday
    response = report(client, people.resident)
    assert response.status_code == 201
    body = response.json
    assert body["number"] == "WL20261120-0001"
    assert body["status"] == "dispatched" and body["neighbourhood_id"] == place.nb.id
    deadlines = body["deadlines"]
    assert datetime.fromisoformat(deadlines["contact_due_at"]) == datetime(2026, 11, 23, 23, 59, 59, tzinfo=SHANGHAI)
    assert datetime.fromisoformat(deadlines["handle_due_at"]) == datetime(2026, 11, 27, 23, 59, 59, tzinfo=SHANGHAI)
    assert deadlines["provisional"] is False
    assert report(client, people.resident).json["number"] == "WL20261120-0002"


def test_report_in_a_year_without_calendar_data_is_provisional(client, place, people):
    clock.set_now(datetime(2026, 12, 30, 10, tzinfo=SHANGHAI))
    deadlines = report(client, people.resident).json["deadlines"]
    assert deadlines["provisional"] is True  # the handling deadline falls in 2027


def test_wgs84_location_is_stored_as_gcj02(client, place, people):
    from service import geo

    wgs = geo.gcj02_to_wgs84(HERE["lat"], HERE["lng"])
    body = report(client, people.resident, location={"lat": wgs[0], "lng": wgs[1], "datum": "wgs84"}).json
    assert geo.distance_m(body["lat"], body["lng"], HERE["lat"], HERE["lng"]) < 1


@pytest.mark.parametrize("overrides, field", [
    ({"category": "nope"}, "category"),
    ({"description": ""}, "description"),
    ({"description": "x" * 4001}, "description"),
    ({"location": None, "address": None}, "location"),
    ({"location": {"lat": 91, "lng": 121}}, "location"),
    ({"location": {"lat": 31.2, "lng": 121.4, "datum": "bd09"}}, "location"),
    ({"photos": list(range(1, 11))}, "photos"),
    ({"category": "elevator"}, "attributes.building"),
    ({"attributes": {"colour": "red"}}, "attributes.colour"),
])
def test_bad_reports_are_4xx_naming_the_field_and_write_nothing(client, place, people, overrides, field):
    response = report(client, people.resident, **overrides)
    assert response.status_code == 422, response.json
    errors = response.json["errors"]
    named = set(errors) | set(errors.get("json", {}))
    assert field.split(".")[0] in {n.split(".")[0] for n in named}
    assert db.session.execute(sa.select(sa.func.count()).select_from(Case)).scalar() == 0


def test_a_report_far_from_every_neighbourhood_is_refused(client, place, people):
    response = report(client, make_user(name="游客"), location={"lat": 30.0, "lng": 120.0})
    assert response.status_code == 422 and response.json["error"] == "cases.out_of_area"


def test_address_only_report_goes_to_the_reporters_neighbourhood(client, place, people):
    body = report(client, people.resident, location=None, address="香泉路88弄3号").json
    assert body["neighbourhood_id"] == place.nb.id


def test_the_whole_loop_and_the_timeline(client, place, people):
    case_id = report(client, people.resident).json["id"]
    closed = to_closed(client, people.staff, case_id).json
    assert closed["status"] == "closed" and closed["outcome"] == "solved"
    assert closed["deadlines"]["visit_due_at"] is not None and closed["deadlines"]["due_at"] is None
    visited = act(client, people.staff, case_id, "visit", result="solved", note="回访：已解决")
    assert visited.json["visit_result"] == "solved"
    rated = client.post(f"/api/v1/cases/{case_id}/rating", json={"score": 5, "comment": "很及时"},
                        headers=auth(people.resident))
    assert rated.status_code == 201 and rated.json["rating"] == 5
    again = client.post(f"/api/v1/cases/{case_id}/rating", json={"score": 1}, headers=auth(people.resident))
    assert again.status_code == 409 and again.json["error"] == "cases.already_rated"
    timeline = client.get(f"/api/v1/cases/{case_id}", headers=auth(people.resident)).json["timeline"]
    actions = [e["action"] for e in timeline]
    assert actions == ["submit", "dispatch", "accept", "resolve", "close", "visit", "rate"]  # public events only
    staff_view = client.get(f"/api/v1/cases/{case_id}", headers=auth(people.staff)).json["timeline"]
    assert "contact" in [e["action"] for e in staff_view] and "start" in [e["action"] for e in staff_view]
    events = db.session.execute(sa.select(CaseEvent).where(CaseEvent.case_id == case_id)).scalars().all()
    assert all(e.at is not None and e.to_status for e in events)
    # The reporter was notified of the public steps.
    inbox = client.get("/api/v1/me/notifications", headers=auth(people.resident)).json
    assert inbox["total"] >= 4


# What a supervisor (the 居委会主任) may do in each state when no extension is pending; plain staff get the
# same without the supervisor's actions.
ALLOWED = {
    "dispatched": {"accept", "return", "reassign", "mark_complex", "escalate", "merge", "reject", "comment"},
    "accepted": {"contact", "start", "return", "reassign", "request_extension", "mark_complex", "escalate", "merge",
                 "comment"},
    "in_progress": {"contact", "resolve", "request_extension", "mark_complex", "escalate", "comment"},
    "resolved": {"close", "reopen", "escalate", "comment"},
    "closed": {"reopen", "visit", "comment"},
}


def test_allowed_actions_per_state_and_a_forbidden_action_is_409_listing_them(client, place, people):
    case_id = report(client, people.resident).json["id"]
    path = [("accept", {}), ("contact", {"method": "phone", "note": "联系了"}), ("start", {}),
            ("resolve", {"outcome": "explained", "reply": "属于规划问题，已解释"}), ("close", {})]
    states = ["dispatched", "accepted", "accepted", "in_progress", "resolved", "closed"]
    for step, state in enumerate(states):
        detail = client.get(f"/api/v1/cases/{case_id}", headers=auth(people.head)).json
        assert detail["status"] == state
        assert set(detail["allowed_actions"]) == ALLOWED[state]
        staff_sees = client.get(f"/api/v1/cases/{case_id}", headers=auth(people.staff)).json["allowed_actions"]
        assert set(staff_sees) == ALLOWED[state] - case_states.SUPERVISOR_ACTIONS
        forbidden = next(a for a in case_states.TRANSITIONS if a not in ALLOWED[state]
                         and a not in ("approve_extension", "deny_extension"))
        refused = act(client, people.head, case_id, forbidden, reason="x", note="x")
        assert refused.status_code == 409 and refused.json["error"] == "cases.action_not_allowed"
        assert set(refused.json["errors"]["allowed_actions"]) == ALLOWED[state]
        if step < len(path):
            action, payload = path[step]
            assert act(client, people.staff, case_id, action, **payload).status_code == 200


def test_resolve_requires_first_contact_when_the_reporter_can_be_reached(client, place, people):
    case_id = report(client, people.resident).json["id"]
    act(client, people.staff, case_id, "accept")
    act(client, people.staff, case_id, "start")
    refused = act(client, people.staff, case_id, "resolve", outcome="solved", reply="好了")
    assert refused.status_code == 409 and refused.json["error"] == "cases.contact_required"
    no_contact = report(client, people.resident, contact_consent=False).json["id"]
    act(client, people.staff, no_contact, "accept")
    act(client, people.staff, no_contact, "start")
    assert act(client, people.staff, no_contact, "resolve", outcome="solved", reply="好了").status_code == 200


def test_return_needs_a_reason_and_reassign_needs_a_supervisor(client, place, people):
    case_id = report(client, people.resident).json["id"]
    missing = act(client, people.staff, case_id, "return")
    assert missing.status_code == 422 and "reason" in missing.json["errors"]
    assert act(client, people.staff, case_id, "return", reason="不属于本居委会").json["status"] == "returned"
    refused = act(client, people.staff, case_id, "reassign", neighbourhood_id=place.nb2.id)
    assert refused.status_code == 403 and refused.json["error"] == "cases.supervisor_required"
    street_staff = make_user(name="街道", roles=[("staff", "street", place.street.id)])
    moved = act(client, street_staff, case_id, "reassign", neighbourhood_id=place.nb2.id)
    assert moved.status_code == 200 and moved.json["status"] == "dispatched"
    assert moved.json["neighbourhood_id"] == place.nb2.id
    # The old neighbourhood's staff no longer see it.
    assert client.get(f"/api/v1/cases/{case_id}", headers=auth(people.staff)).json["allowed_actions"] == []


def test_extension_before_the_deadline_approved_by_the_head(client, place, people):
    clock.set_now(datetime(2026, 11, 16, 9, tzinfo=SHANGHAI))  # Monday
    case_id = report(client, people.resident).json["id"]
    act(client, people.staff, case_id, "accept")
    requested = act(client, people.staff, case_id, "request_extension", reason="需协调物业", working_days=3)
    assert requested.status_code == 200
    assert act(client, people.staff, case_id, "approve_extension").status_code == 403  # not a supervisor
    approved = act(client, people.head, case_id, "approve_extension")
    assert datetime.fromisoformat(approved.json["deadlines"]["handle_due_at"]) == \
        datetime(2026, 11, 26, 23, 59, 59, tzinfo=SHANGHAI)  # 11-23 + 3 working days
    clock.set_now(datetime(2026, 11, 27, 9, tzinfo=SHANGHAI))  # past the new deadline
    late = act(client, people.staff, case_id, "request_extension", reason="还要时间", working_days=2)
    assert late.status_code == 409 and late.json["error"] == "cases.extension_too_late"


def test_merge_carries_followers_to_the_parent(client, place, people):
    parent = report(client, people.resident).json["id"]
    duplicate = report(client, people.neighbour).json["id"]
    merged = act(client, people.staff, duplicate, "merge", into_case_id=parent)
    assert merged.json["status"] == "merged" and merged.json["merged_into_id"] == parent
    mine = client.get("/api/v1/me/cases", headers=auth(people.neighbour)).json
    assert {c["id"] for c in mine["items"]} == {parent, duplicate}


def test_reporter_withdraws_before_acceptance_only(client, place, people):
    first = report(client, people.resident).json["id"]
    assert client.post(f"/api/v1/cases/{first}/withdraw", json={}, headers=auth(people.resident)).json["status"] == \
        "withdrawn"
    second = report(client, people.resident).json["id"]
    act(client, people.staff, second, "accept")
    late = client.post(f"/api/v1/cases/{second}/withdraw", json={}, headers=auth(people.resident))
    assert late.status_code == 409 and late.json["error"] == "cases.withdraw_too_late"
    other = client.post(f"/api/v1/cases/{second}/withdraw", json={}, headers=auth(people.neighbour))
    assert other.status_code == 403 and other.json["error"] == "cases.reporter_only"  # a public case they can read


def test_reopen_within_seven_days_starts_the_rehandling_clock(client, place, people):
    clock.set_now(datetime(2026, 11, 16, 9, tzinfo=SHANGHAI))
    case_id = report(client, people.resident).json["id"]
    to_closed(client, people.staff, case_id)
    client.post(f"/api/v1/cases/{case_id}/rating", json={"score": 2}, headers=auth(people.resident))
    clock.set_now(datetime(2026, 11, 20, 9, tzinfo=SHANGHAI))  # Friday
    reopened = client.post(f"/api/v1/cases/{case_id}/reopen", json={"reason": "堆物又回来了"},
                           headers=auth(people.resident))
    assert reopened.status_code == 200 and reopened.json["status"] == "reopened"
    assert datetime.fromisoformat(reopened.json["deadlines"]["rework_due_at"]) == \
        datetime(2026, 11, 25, 23, 59, 59, tzinfo=SHANGHAI)  # 3 working days after Friday


def test_reopen_after_seven_days_or_when_satisfied_is_refused(client, place, people):
    clock.set_now(datetime(2026, 11, 2, 9, tzinfo=SHANGHAI))
    late_id = report(client, people.resident).json["id"]
    to_closed(client, people.staff, late_id)
    clock.set_now(datetime(2026, 11, 9, 9, 0, 1, tzinfo=SHANGHAI) + timedelta(minutes=5))
    late = client.post(f"/api/v1/cases/{late_id}/reopen", json={"reason": "x"}, headers=auth(people.resident))
    assert late.status_code == 409 and late.json["error"] == "cases.reopen_too_late"
    happy = report(client, people.resident).json["id"]
    to_closed(client, people.staff, happy)
    client.post(f"/api/v1/cases/{happy}/rating", json={"score": 3}, headers=auth(people.resident))
    refused = client.post(f"/api/v1/cases/{happy}/reopen", json={"reason": "x"}, headers=auth(people.resident))
    assert refused.status_code == 409 and refused.json["error"] == "cases.reopen_satisfied"


def test_rating_before_closing_is_refused_and_score_is_validated(client, place, people):
    case_id = report(client, people.resident).json["id"]
    early = client.post(f"/api/v1/cases/{case_id}/rating", json={"score": 5}, headers=auth(people.resident))
    assert early.status_code == 409 and early.json["error"] == "cases.rate_not_closed"
    bad = client.post(f"/api/v1/cases/{case_id}/rating", json={"score": 6}, headers=auth(people.resident))
    assert bad.status_code == 422 and "score" in bad.json["errors"]["json"]


# --- who sees what -----------------------------------------------------------------------------------------------

def test_residents_see_their_own_and_public_cases_only(client, place, people):
    public = report(client, people.resident).json["id"]
    private = report(client, people.resident, category="group_renting").json["id"]
    seen = client.get(f"/api/v1/cases/{public}", headers=auth(people.neighbour))
    assert seen.status_code == 200 and seen.json["reporter"]["phone"] == "138****5678"
    assert seen.json["reporter"]["name"] == "王**" and seen.json["allowed_actions"] == []
    assert client.get(f"/api/v1/cases/{private}", headers=auth(people.neighbour)).status_code == 404
    assert client.get(f"/api/v1/cases/{private}", headers=auth(people.resident)).status_code == 200
    assert client.get("/api/v1/cases", headers=auth(people.neighbour)).status_code == 403


def test_anonymous_reporter_is_hidden_from_the_public_but_not_from_handlers(client, place, people):
    case_id = report(client, people.resident, anonymous=True).json["id"]
    public = client.get(f"/api/v1/cases/{case_id}", headers=auth(people.neighbour)).get_data(as_text=True)
    assert "王秀英" not in public and PHONE not in public and "138****5678" not in public
    handler = client.get(f"/api/v1/cases/{case_id}", headers=auth(people.staff)).json
    assert handler["reporter"] == {"name": "王秀英", "phone": PHONE, "masked": False}


def test_reporter_contact_unmasked_only_for_handlers_and_each_view_is_audited(client, place, people):
    case_id = report(client, people.resident, category="group_renting").json["id"]
    assert client.get(f"/api/v1/cases/{case_id}", headers=auth(people.far_staff)).status_code == 404
    client.get(f"/api/v1/cases/{case_id}", headers=auth(people.staff))
    client.get(f"/api/v1/cases/{case_id}", headers=auth(people.colleague))
    views = db.session.execute(sa.select(AuditEntry.actor_user_id).where(
        AuditEntry.action == "case.reporter_viewed", AuditEntry.object_id == str(case_id))).scalars().all()
    assert sorted(views) == sorted([people.staff.id, people.colleague.id])


def test_staff_outside_scope_cannot_act(client, place, people):
    case_id = report(client, people.resident).json["id"]
    assert act(client, people.far_staff, case_id, "accept").status_code == 404
    assert act(client, people.resident, case_id, "accept").status_code == 403


def test_queue_is_scoped_sorted_by_deadline_and_paginated_by_cursor(client, place, people):
    clock.set_now(datetime(2026, 11, 16, 9, tzinfo=SHANGHAI))
    ids = [report(client, people.resident).json["id"] for _ in range(3)]
    clock.set_now(datetime(2026, 11, 18, 9, tzinfo=SHANGHAI))
    ids += [report(client, people.resident).json["id"] for _ in range(2)]
    act(client, people.staff, ids[0], "accept")
    act(client, people.staff, ids[0], "contact", method="phone", note="已联系")  # its due moves to handling
    far_case = report(client, make_user(name="外街"), location={"lat": 31.2500, "lng": 121.4400}).json["id"]
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/cases?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                          headers=auth(people.staff)).json
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [c["id"] for c in seen] == [ids[1], ids[2], ids[3], ids[4], ids[0]]
    dues = [c["deadlines"]["due_at"] for c in seen]
    assert dues == sorted(dues)
    assert far_case not in {c["id"] for c in seen}
    clock.set_now(datetime(2026, 11, 18, 9, tzinfo=SHANGHAI))
    overdue = client.get("/api/v1/cases?overdue=true", headers=auth(people.staff)).json["items"]
    assert {c["id"] for c in overdue} == {ids[1], ids[2]}  # contact was due 11-17
    assert all(c["deadlines"]["overdue"] for c in overdue)
    accepted = client.get("/api/v1/cases?status=accepted", headers=auth(people.staff)).json["items"]
    assert [c["id"] for c in accepted] == [ids[0]]
    bad = client.get("/api/v1/cases?cursor=%%%", headers=auth(people.staff))
    assert bad.status_code == 422


def test_a_street_staff_member_reads_the_streets_neighbourhoods_only_when_a_check_needs_them(client, place, people):
    """The street's queue asks by street: no statement reads the neighbourhood table. A case of one of the
    street's neighbourhoods is still theirs to see and handle (its check reads them), and staff of another
    street can neither find it in their queue nor act on it."""
    from tests.unit.test_transactions import _statements

    case_id = report(client, people.resident).json["id"]
    street_staff = make_user(name="街道", roles=[("staff", "street", place.nb.street_id)])
    other_street = make_user(name="外街道", roles=[("staff", "street", place.far_nb.street_id)])
    assert place.far_nb.street_id != place.nb.street_id
    seen, stop = _statements(db.engine)
    try:
        queue = client.get("/api/v1/cases", headers=auth(street_staff))
    finally:
        stop()
    assert queue.status_code == 200 and [c["id"] for c in queue.json["items"]] == [case_id]
    assert not [s for s in seen if "FROM neighbourhood" in s]
    assert client.get(f"/api/v1/cases/{case_id}", headers=auth(street_staff)).status_code == 200
    assert act(client, street_staff, case_id, "accept").status_code == 200
    assert client.get("/api/v1/cases", headers=auth(other_street)).json["items"] == []
    assert act(client, other_street, case_id, "contact", method="phone", note="已联系").status_code == 404
    from service import people as people_service

    actor = people_service.load_actor(street_staff.id)
    assert actor.street_ids == {place.nb.street_id} and not actor.own_neighbourhood_ids
    assert place.nb.id in actor.neighbourhood_ids and place.nb.id in actor.supervised_neighbourhood_ids
    assert place.far_nb.id not in actor.neighbourhood_ids


def test_every_queue_filter_returns_what_a_scan_of_the_table_returns(client, place, people):
    """Street staff who also cover a neighbourhood of another street: each filter and their
    combinations give exactly the cases a plain Python scan of the table picks, in deadline order."""
    far_resident = make_user(name="外街居民", neighbourhood_id=place.far_nb.id)
    ids = []
    for day, category, who, where in ((16, "corridor_clutter", people.resident, HERE),
                                      (17, "garbage", people.resident, HERE),
                                      (17, "corridor_clutter", people.resident, {"lat": 31.2800, "lng": 121.4200}),
                                      (18, "garbage", far_resident, {"lat": 31.2500, "lng": 121.4400}),
                                      (19, "corridor_clutter", people.resident, HERE)):
        clock.set_now(datetime(2026, 11, day, 9, tzinfo=SHANGHAI))
        response = report(client, who, category=category, location=where)
        assert response.status_code == 201, response.json
        ids.append(response.json["id"])
    act(client, people.staff, ids[0], "accept")  # assigned to people.staff, status accepted
    street_staff = make_user(name="街道", roles=[("staff", "street", place.nb.street_id),
                                               ("staff", "neighbourhood", place.far_nb.id)])
    clock.set_now(datetime(2026, 11, 19, 12, tzinfo=SHANGHAI))
    now = clock.now()
    due_before = datetime(2026, 11, 20, 0, tzinfo=SHANGHAI)
    cases = db.session.execute(sa.select(Case).where(Case.id.in_(ids))).scalars().all()
    scope = {place.nb.id, place.nb2.id, place.far_nb.id}
    filters = {
        "": lambda c: True,
        "category=garbage": lambda c: c.category_code == "garbage",
        f"assignee_id={people.staff.id}": lambda c: c.assignee_user_id == people.staff.id,
        "overdue=true": lambda c: c.due_at < now,
        "overdue=false": lambda c: c.due_at >= now,
        "due_before=2026-11-20T00:00:00%2B08:00": lambda c: c.due_at < due_before,
        f"neighbourhood_id={place.nb2.id}": lambda c: c.neighbourhood_id == place.nb2.id,
        f"neighbourhood_id={place.far_nb.id}&category=garbage":
            lambda c: c.neighbourhood_id == place.far_nb.id and c.category_code == "garbage",
        "status=accepted": lambda c: c.status == "accepted",
        "status=dispatched&overdue=false&category=corridor_clutter":
            lambda c: c.status == "dispatched" and c.due_at >= now and c.category_code == "corridor_clutter",
    }
    for query, keep in filters.items():
        expected = sorted((c for c in cases if c.neighbourhood_id in scope and keep(c)), key=lambda c: (c.due_at, c.id))
        got, cursor = [], None
        while True:  # two at a time, so that every filter is also paged by its cursor
            page = client.get(f"/api/v1/cases?limit=2&{query}" + (f"&cursor={cursor}" if cursor else ""),
                              headers=auth(street_staff))
            assert page.status_code == 200, (query, page.json)
            got += [c["id"] for c in page.json["items"]]
            cursor = page.json["next_cursor"]
            if not cursor:
                break
        assert got == [c.id for c in expected], query
        assert 0 < len(expected) < 5 or not query, (query, len(expected))  # each filter picks a true subset
    assert len(set(ids)) == 5


def test_nearby_finds_open_public_cases_of_the_category_within_250_m(client, place, people):
    near = report(client, people.resident).json["id"]
    report(client, people.resident, location={"lat": HERE["lat"] + 0.004, "lng": HERE["lng"]})  # ~445 m
    report(client, people.resident, category="garbage")
    found = client.get(f"/api/v1/cases/nearby?lat={HERE['lat']}&lng={HERE['lng']}&category=corridor_clutter",
                       headers=auth(people.neighbour)).json["items"]
    assert [c["id"] for c in found] == [near] and found[0]["distance_m"] == 0


def test_follow_and_unfollow(client, place, people):
    case_id = report(client, people.resident).json["id"]
    assert client.post(f"/api/v1/cases/{case_id}/follow", headers=auth(people.neighbour)).json == {"following": True}
    assert client.get(f"/api/v1/cases/{case_id}", headers=auth(people.neighbour)).json["following"] is True
    assert client.delete(f"/api/v1/cases/{case_id}/follow", headers=auth(people.neighbour)).json == {"following": False}
    assert client.delete(f"/api/v1/cases/{case_id}/follow", headers=auth(people.resident)).status_code == 409


def test_categories_list_with_limits(client):
    items = client.get("/api/v1/case-categories").json["items"]
    codes = {c["code"]: c for c in items}
    assert codes["corridor_clutter"]["limits"]["handling"] == 5
    assert codes["manhole"]["limits"]["first_contact"] == 0
    assert codes["group_renting"]["public"] is False


def test_staff_notes_are_internal_unless_made_public(client, place, people):
    case_id = report(client, people.resident).json["id"]
    act(client, people.staff, case_id, "comment", note="内部：需联系城管")
    act(client, people.staff, case_id, "comment", note="已安排清理，请耐心等待", public=True)
    reporter_view = client.get(f"/api/v1/cases/{case_id}", headers=auth(people.resident)).json["timeline"]
    notes = [e["note"] for e in reporter_view if e["action"] == "comment"]
    assert notes == ["已安排清理，请耐心等待"]
    staff_view = client.get(f"/api/v1/cases/{case_id}", headers=auth(people.staff)).json["timeline"]
    assert [e["note"] for e in staff_view if e["action"] == "comment"] == ["内部：需联系城管", "已安排清理，请耐心等待"]


def _jpeg():
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buffer, "JPEG")
    return buffer.getvalue()


def upload(client, user):
    import io

    response = client.post("/api/v1/uploads", data={"file": (io.BytesIO(_jpeg()), "p.jpg", "image/jpeg")},
                           headers=auth(user), content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_report_photos_follow_the_case_visibility(client, place, people):
    public_photo, private_photo = upload(client, people.resident), upload(client, people.resident)
    assert client.get(f"/api/v1/uploads/{public_photo}", headers=auth(people.neighbour)).status_code == 404
    public = report(client, people.resident, photos=[public_photo]).json
    private = report(client, people.resident, category="group_renting", photos=[private_photo]).json
    assert public["photos"][0]["url"] == f"/api/v1/uploads/{public_photo}"
    assert client.get(f"/api/v1/uploads/{public_photo}", headers=auth(people.neighbour)).status_code == 200
    assert client.get(f"/api/v1/uploads/{private_photo}", headers=auth(people.neighbour)).status_code == 404
    assert client.get(f"/api/v1/uploads/{private_photo}", headers=auth(people.staff)).status_code == 200
    assert private["id"]
    # A photo cannot be attached twice, nor someone else's used.
    again = report(client, people.resident, photos=[public_photo])
    assert again.status_code == 422 and "photos.0" in again.json["errors"]
    theirs = report(client, people.neighbour, photos=[upload(client, people.resident)])
    assert theirs.status_code == 422


def test_evidence_photos_on_resolve_name_their_field(client, place, people):
    case_id = report(client, people.resident, contact_consent=False).json["id"]
    act(client, people.staff, case_id, "accept")
    act(client, people.staff, case_id, "start")
    bad = act(client, people.staff, case_id, "resolve", outcome="solved", reply="已处理", photo_ids=[2147483000])
    assert bad.status_code == 422 and "photo_ids.0" in bad.json["errors"]
    photo = upload(client, people.staff)
    done = act(client, people.staff, case_id, "resolve", outcome="solved", reply="已处理", photo_ids=[photo])
    assert [p["purpose"] for p in done.json["photos"]] == ["evidence"]
    assert client.get(f"/api/v1/uploads/{photo}", headers=auth(people.resident)).status_code == 200


def test_unattached_uploads_are_purged_after_a_day(client, place, people):
    from datetime import timedelta

    from models.uploads import Upload
    from service import uploads

    kept = report(client, people.resident, photos=[upload(client, people.resident)]).json["photos"][0]["id"]
    abandoned = upload(client, people.resident)
    clock.set_now(clock.now() + timedelta(hours=25))
    assert uploads.purge_unattached() == 1
    assert db.session.get(Upload, abandoned) is None and db.session.get(Upload, kept) is not None


def test_queue_of_finished_cases_pages_by_id(client, place, people):
    ids = [report(client, people.resident, contact_consent=False).json["id"] for _ in range(3)]
    for case_id in ids:
        act(client, people.staff, case_id, "accept")
        act(client, people.staff, case_id, "start")
        act(client, people.staff, case_id, "resolve", outcome="explained", reply="已解释")
        act(client, people.staff, case_id, "close")
    first = client.get("/api/v1/cases?status=closed&limit=2", headers=auth(people.staff)).json
    rest = client.get(f"/api/v1/cases?status=closed&limit=2&cursor={first['next_cursor']}",
                      headers=auth(people.staff)).json
    assert [c["id"] for c in first["items"] + rest["items"]] == ids and rest["next_cursor"] is None


# --- the queue refuses input it cannot use, never a 500 ------------------------------------------------------------

@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_due_before_beyond_the_calendar_in_utc_is_422_naming_it(client, place, people, moment):
    response = client.get("/api/v1/cases", query_string={"due_before": moment}, headers=auth(people.staff))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "due_before" in response.json["errors"]["query"]


def _b64(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _json64(value) -> str:
    import json

    return _b64(json.dumps(value).encode())


CRAFTED_CURSORS = {
    "a date without time or offset": _json64(["2026-12-01", 1]),
    "an id of 1e20": _json64(["2026-12-01T00:00:00+00:00", 1e20]),
    "an id past bigint": _json64(["2026-12-01T00:00:00+00:00", 10 ** 20]),
    "no deadline, an id of 1e20": _json64([None, 1e20]),
    "an id as text": _json64([None, "5"]),
    "an id as a boolean": _json64([None, True]),
    "a fractional id": _json64([None, 1.5]),
    "a negative id": _json64([None, -1]),
    "three items": _json64([None, 1, 2]),
    "one item": _json64([1]),
    "an object": _json64({"due": None, "id": 1}),
    "a bare number": _json64(7),
    "not a datetime": _json64(["tomorrow", 1]),
    "a datetime as a number": _json64([20261201, 1]),
    "year 1 at +14:00": _json64(["0001-01-01T00:00:00+14:00", 1]),
    "not JSON": _b64(b"\xff\xfe not json"),
    "not base64": "%%%",
    "a well-formed cursor the server never signed": _json64(["2026-12-01T00:00:00+00:00", 1]),
}


@pytest.mark.parametrize("cursor", CRAFTED_CURSORS.values(), ids=CRAFTED_CURSORS.keys())
def test_a_cursor_the_server_did_not_issue_is_422_cursor_invalid(client, place, people, cursor):
    report(client, people.resident)
    for status in ("", "&status=closed"):
        response = client.get(f"/api/v1/cases?cursor={cursor}{status}", headers=auth(people.staff))
        assert response.status_code == 422, response.get_data(as_text=True)
        assert response.json["error"] == "cases.cursor_invalid" and "cursor" in response.json["errors"]
        assert response.json["message"] == "翻页参数无效，请从第一页重新加载"


def test_a_tampered_cursor_is_refused_and_an_issued_one_pages_on(client, place, people):
    ids = [report(client, people.resident).json["id"] for _ in range(3)]
    first = client.get("/api/v1/cases?limit=1", headers=auth(people.staff)).json
    cursor = first["next_cursor"]
    payload, tag = cursor.split(".")
    import base64
    import json

    due, last = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = f"{_json64([due, last + 1])}.{tag}"
    refused = client.get(f"/api/v1/cases?limit=1&cursor={forged}", headers=auth(people.staff))
    assert refused.status_code == 422 and refused.json["error"] == "cases.cursor_invalid"
    english = client.get(f"/api/v1/cases?limit=1&cursor={forged}",
                         headers=auth(people.staff, **{"Accept-Language": "en"}))
    assert english.json["message"] == "The cursor is not valid; reload from the first page"
    second = client.get(f"/api/v1/cases?limit=1&cursor={cursor}", headers=auth(people.staff))
    assert second.status_code == 200
    assert [first["items"][0]["id"], second.json["items"][0]["id"]] == ids[:2]


# --- only the streets served -------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", [
    {"lat": 90, "lng": 180}, {"lat": 90, "lng": 180, "datum": "wgs84"}, {"lat": 0, "lng": 0},
    {"lat": -90, "lng": -180},
    {"lat": 31.2397, "lng": 121.4998},   # 陆家嘴, Shanghai, well outside the streets served
    {"lat": 31.2702, "lng": 121.3700},   # Shanghai, 3.9 km west of the nearest 居委会
], ids=["north pole", "north pole wgs84", "null island", "south pole", "lujiazui", "west of the street"])
def test_a_location_outside_the_served_streets_is_refused_even_for_a_resident_with_a_home(client, place, people,
                                                                                          where):
    response = report(client, people.resident, location=where)
    assert response.status_code == 422, response.json
    assert response.json["error"] == "cases.out_of_area" and "location" in response.json["errors"]
    assert response.json["message"] == "该位置不在本平台服务的街道范围内，请拨打12345反映"
    english = client.post("/api/v1/cases",
                          json={"category": "corridor_clutter", "description": "堆物", "location": where},
                          headers=auth(people.resident, **{"Accept-Language": "en"}))
    assert english.json["message"] == "The location is outside the streets this service covers"
    assert db.session.execute(sa.select(sa.func.count()).select_from(Case)).scalar() == 0


def test_a_point_inside_a_served_street_is_routed_to_its_nearest_committee(client, place, people):
    from tests.factories import north

    near_nb2 = {"lat": north(31.2800, -400), "lng": 121.4200}  # 400 m south of 中浩云
    body = report(client, make_user(name="路人"), location=near_nb2).json
    assert body["neighbourhood_id"] == place.nb2.id and body["street_id"] == place.street.id
    assert report(client, people.resident).json["neighbourhood_id"] == place.nb.id


# --- reassign only to staff who can see the case -------------------------------------------------------------------

def test_reassign_to_an_assignee_who_does_not_cover_the_case_is_refused(client, place, people):
    case_id = report(client, people.resident).json["id"]
    street_staff = make_user(name="街道", roles=[("staff", "street", place.street.id)])
    nb2_staff = make_user(name="中浩云社工", roles=[("staff", "neighbourhood", place.nb2.id)])
    for payload in ({"assignee_id": people.far_staff.id},                             # another street
                    {"assignee_id": nb2_staff.id},                                     # another 居委会
                    {"assignee_id": people.neighbour.id},                              # not staff
                    {"neighbourhood_id": place.nb2.id, "assignee_id": people.staff.id}):  # not the new one's
        refused = act(client, street_staff, case_id, "reassign", **payload)
        assert refused.status_code == 422, (payload, refused.json)
        assert refused.json["error"] == "cases.assignee_out_of_scope" and "assignee_id" in refused.json["errors"]
        assert refused.json["message"] == "承办人不负责该诉求所在的居委会，不能改派给他"
    case = db.session.get(Case, case_id)
    db.session.refresh(case)
    assert case.neighbourhood_id == place.nb.id and case.assignee_user_id is None
    assert [e.action for e in case.events].count("reassign") == 0
    moved = act(client, street_staff, case_id, "reassign", neighbourhood_id=place.nb2.id, assignee_id=nb2_staff.id)
    assert moved.status_code == 200 and moved.json["assignee_id"] == nb2_staff.id
    seen = client.get(f"/api/v1/cases/{case_id}", headers=auth(nb2_staff)).json
    assert "accept" in seen["allowed_actions"]
    same = act(client, street_staff, case_id, "reassign", assignee_id=make_user(
        name="中浩云主任", roles=[("staff", "neighbourhood", place.nb2.id)]).id)
    assert same.status_code == 200


# --- only the reporter rates, withdraws and reopens -----------------------------------------------------------------

def test_a_follower_who_is_not_the_reporter_gets_403_saying_only_the_reporter_may(client, place, people):
    case_id = report(client, people.resident).json["id"]
    assert client.post(f"/api/v1/cases/{case_id}/follow", headers=auth(people.neighbour)).status_code == 200
    withdraw = client.post(f"/api/v1/cases/{case_id}/withdraw", json={}, headers=auth(people.neighbour))
    assert withdraw.status_code == 403 and withdraw.json["error"] == "cases.reporter_only"
    assert withdraw.json["message"] == "只有诉求人本人可以撤回该诉求"
    to_closed(client, people.staff, case_id)
    rated = client.post(f"/api/v1/cases/{case_id}/rating", json={"score": 1}, headers=auth(people.neighbour))
    assert rated.status_code == 403 and rated.json["error"] == "cases.reporter_only"
    assert rated.json["message"] == "只有诉求人本人可以评价该诉求"
    english = client.post(f"/api/v1/cases/{case_id}/rating", json={"score": 1},
                          headers=auth(people.neighbour, **{"Accept-Language": "en"}))
    assert english.json["message"] == "Only the person who reported the case may rate it"
    reopened = client.post(f"/api/v1/cases/{case_id}/reopen", json={"reason": "没解决"}, headers=auth(people.neighbour))
    assert reopened.status_code == 403 and reopened.json["message"] == "只有诉求人本人可以申请重办该诉求"
    case = db.session.get(Case, case_id)
    db.session.refresh(case)
    assert case.rating is None and case.status == "closed"
    # A case the caller cannot see stays "not found".
    private = report(client, people.resident, category="group_renting").json["id"]
    to_closed(client, people.staff, private)
    hidden = client.post(f"/api/v1/cases/{private}/rating", json={"score": 1}, headers=auth(people.neighbour))
    assert hidden.status_code == 404 and hidden.json["error"] == "cases.not_found"
    assert client.post(f"/api/v1/cases/{case_id}/rating", json={"score": 4},
                       headers=auth(people.resident)).status_code == 201


# --- 回访: once per closure, and one 已办结 notice per closure ---------------------------------------------------------

def _notices(user, case_id):
    from models.notifications import Notification

    return db.session.execute(sa.select(Notification).where(
        Notification.user_id == user.id, Notification.kind.like("case.%"),
        Notification.data["case_id"].as_integer() == case_id).order_by(Notification.id)).scalars().all()


def test_one_closed_notice_per_closure_and_one_visit_per_closure(client, place, people):
    clock.set_now(datetime(2026, 11, 16, 9, tzinfo=SHANGHAI))
    case_id = report(client, people.resident).json["id"]
    client.post(f"/api/v1/cases/{case_id}/follow", headers=auth(people.neighbour))
    to_closed(client, people.staff, case_id)
    assert act(client, people.staff, case_id, "visit", result="solved", note="回访：已解决").status_code == 200
    again = act(client, people.colleague, case_id, "visit", result="unsolved")
    assert again.status_code == 409 and again.json["error"] == "cases.already_visited"
    assert again.json["message"] == "本次办结已回访，不能重复回访"
    for user in (people.resident, people.neighbour):
        titles = [n.title for n in _notices(user, case_id)]
        assert sum("已办结" in t for t in titles) == 1, titles
    assert db.session.get(Case, case_id).visit_result == "solved"
    # Reopened and closed again: a new closure, a new 已办结 notice and a new 回访.
    clock.set_now(datetime(2026, 11, 17, 9, tzinfo=SHANGHAI))
    reopened = client.post(f"/api/v1/cases/{case_id}/reopen", json={"reason": "又堆上了"}, headers=auth(people.resident))
    assert reopened.status_code == 200
    for action, payload in (("start", {}), ("resolve", {"outcome": "solved", "reply": "再次清理"}), ("close", {})):
        assert act(client, people.staff, case_id, action, **payload).status_code == 200
    assert act(client, people.staff, case_id, "visit", result="unsolved").status_code == 200
    titles = [n.title for n in _notices(people.resident, case_id)]
    assert sum("已办结" in t for t in titles) == 2, titles


def test_a_visit_that_reached_nobody_may_be_tried_again(client, place, people):
    case_id = report(client, people.resident).json["id"]
    to_closed(client, people.staff, case_id)
    assert act(client, people.staff, case_id, "visit", result="unreachable").status_code == 200
    assert act(client, people.staff, case_id, "visit", result="solved").json["visit_result"] == "solved"
    assert act(client, people.staff, case_id, "visit", result="solved").status_code == 409
    visits = db.session.execute(sa.select(CaseEvent.data).where(CaseEvent.case_id == case_id,
                                                                CaseEvent.action == "visit")).scalars().all()
    assert [v["result"] for v in visits] == ["unreachable", "solved"]


def test_every_case_notice_links_to_the_mini_program_case_page(client, place, people):
    from config import RULES_DIR
    import yaml

    pages = {kind: spec["page"] for kind, spec in  # the cases domain's templates, in its rules file
             yaml.safe_load((RULES_DIR / "cases.yaml").read_text())["notifications"].items()}
    case_id = report(client, people.resident).json["id"]
    client.post(f"/api/v1/cases/{case_id}/follow", headers=auth(people.neighbour))
    to_closed(client, people.staff, case_id)
    act(client, people.staff, case_id, "comment", note="已安排回访", public=True)
    notices = _notices(people.resident, case_id) + _notices(people.neighbour, case_id)
    assert len(notices) >= 6
    assert {n.link for n in notices} == {f"{pages['case.status_changed']}?id={case_id}"}
    assert f"{pages['case.status_changed']}?id={case_id}" == f"pages/cases/detail?id={case_id}"


def _queue_page_statement(client, user, cursor):
    """The statement (and its parameters) that reads the queue's page past ``cursor``."""
    with statements_sent() as sent:
        page = client.get(f"/api/v1/cases?cursor={cursor}", headers=auth(user))
    assert page.status_code == 200
    return page.json, next((s, p) for s, p in sent if "due_at" in s and "ORDER BY" in s)


def test_a_deep_queue_page_is_read_off_the_index_in_order(client, place, people, is_postgres):
    """Most cases are finished and have no deadline. Past a cursor the queue says only the row-value comparison
    on (deadline, id), which no case without a deadline passes: with ``due_at IS NOT NULL`` beside it, PostgreSQL
    counted those cases out twice, expected a tenth of the rows past the cursor and sorted all of them instead of
    reading the page off ix_case_queue in order."""
    clock.set_now(datetime(2026, 11, 16, 9, tzinfo=SHANGHAI))
    template_id = report(client, people.resident).json["id"]
    template = dict(db.session.execute(sa.select(Case.__table__).where(Case.id == template_id)).mappings().one())
    template.pop("id")
    start = template["due_at"]
    rows = [{**template, "number": f"PLAN{i:05d}",
             **({"due_at": start + timedelta(minutes=i)} if i % 10 == 0 else {"status": "closed", "due_at": None})}
            for i in range(6000)]
    db.session.execute(sa.insert(Case.__table__), rows)
    db.session.execute(sa.text('ANALYZE "case"'))
    cursor = None
    for _ in range(5):   # the first 100 of the 601 cases with a deadline
        page = client.get("/api/v1/cases?limit=20" + (f"&cursor={cursor}" if cursor else ""),
                          headers=auth(people.staff)).json
        cursor, last_due = page["next_cursor"], page["items"][-1]["deadlines"]["due_at"]
    items, (statement, parameters) = _queue_page_statement(client, people.staff, cursor)
    dues = [c["deadlines"]["due_at"] for c in items["items"]]
    assert len(dues) == 20 and dues == sorted(dues) and dues[0] > last_due
    connection = db.session.connection()
    if is_postgres:
        plan = "\n".join(r[0] for r in connection.exec_driver_sql("EXPLAIN " + statement, parameters))
        assert "Index Scan using ix_case_queue" in plan and "Sort" not in plan, plan
    else:
        plan = "\n".join(r[-1] for r in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
        assert "ix_case_queue" in plan and "TEMP B-TREE" not in plan, plan


def test_postgres_connections_plan_with_the_configured_random_page_cost(app, is_postgres):
    """service.postgres.price_random_reads: 1.1 by default (config), so that a page read off an index in order is
    not priced as a spinning disk's; SQLite has no such setting."""
    if is_postgres:
        assert db.session.connection().exec_driver_sql("SHOW random_page_cost").scalar() == "1.1"
    assert app.config["POSTGRES_RANDOM_PAGE_COST"] == 1.1
