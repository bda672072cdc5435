"""While a motion is open its committee and staff follow the turnout (area and heads against the 2/3
thresholds, never choices) and page through the units that have or have not voted, with full unit labels;
an owner sees their own unit in full."""
import pytest

from models.base import db
from models.voting import Motion
from tests.api.test_voting import create, paper, staff, start, upload, vote, world  # noqa: F401 (fixtures)
from tests.factories import auth, make_user
from tests.factories.voting import make_voting_estate


def turnout(client, user, motion_id):
    return client.get(f"/api/v1/motions/{motion_id}/turnout", headers=auth(user))


def test_turnout_while_open_reaches_two_thirds_of_heads_and_area_at_exactly_two_thirds(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", (f"o{i}",), True) for i in range(9)])
    committee = make_user(name="业委会", roles=[("committee", "estate", e["estate"].id)])
    motion_id = start(client, committee, e["estate"].id, item=4)
    for i in range(5):
        assert vote(client, e["users"][f"o{i}"], motion_id, "yes" if i % 2 else "no").status_code == 201
    five = turnout(client, committee, motion_id)
    assert five.status_code == 200, five.json
    body = five.json
    assert (body["total_area"], body["total_heads"], body["status"]) == ("450.00", 9, "open")
    assert body["voted"] == {"area": "250.00", "heads": 5}
    assert body["participation"]["arithmetic"] == ["3×25000 ≥ 2×45000", "3×5 ≥ 2×9"]
    assert (body["participation"]["area_met"], body["participation"]["heads_met"], body["participation"]["met"]) == (
        False, False, False)
    assert body["still_needed"] == {"area": "50.00", "heads": 1}
    assert set(body) == {"motion_id", "status", "status_name", "total_area", "total_heads", "voted", "pending",
                         "participation", "still_needed", "refusals"}   # never a choice
    assert client.get(f"/api/v1/motions/{motion_id}/result", headers=auth(committee)).status_code == 409
    assert vote(client, e["users"]["o5"], motion_id, "no").status_code == 201
    six = turnout(client, staff[0], motion_id).json
    assert six["participation"]["arithmetic"] == ["3×30000 ≥ 2×45000", "3×6 ≥ 2×9"]
    assert six["participation"]["met"] is True and six["still_needed"] == {"area": "0.00", "heads": 0}
    owner = e["users"]["o0"]
    refused = turnout(client, owner, motion_id)
    assert refused.status_code == 403 and refused.json["error"] == "voting.not_manager"
    assert turnout(client, make_user(name="外人"), motion_id).status_code == 404


@pytest.mark.parametrize("third, area_met, needed", [("100.00", True, "0.00"), ("100.01", False, "0.01")])
def test_turnout_area_ledger_at_the_boundary(client, world, staff, third, area_met, needed):
    e = make_voting_estate(world, [("1", "1", "100.00", ("a",), True), ("1", "1", "100.00", ("b",), True),
                                   ("1", "1", third, ("c",), True)])
    motion_id = start(client, staff[0], e["estate"].id)
    for tag in "ab":
        assert vote(client, e["users"][tag], motion_id).status_code == 201
    part = turnout(client, staff[0], motion_id).json
    assert part["participation"]["heads_met"] is True and part["participation"]["area_met"] is area_met
    assert part["still_needed"] == {"area": needed, "heads": 0}


def test_turnout_counts_pending_paper_apart_and_waits_for_the_opening(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", (t,), True) for t in "abc"])
    clerk = staff[0]
    motion_id = start(client, clerk, e["estate"].id)
    entered = client.post(f"/api/v1/motions/{motion_id}/paper-ballots", json={
        "unit_id": e["units"][0].id, "choice": "yes", "image_upload_id": upload(clerk)}, headers=auth(clerk))
    assert entered.status_code == 201
    body = turnout(client, clerk, motion_id).json
    assert body["voted"] == {"area": "0.00", "heads": 0} and body["pending"] == {"area": "50.00", "heads": 1}
    draft = create(client, clerk, e["estate"].id)
    early = turnout(client, clerk, draft)
    assert early.status_code == 409 and early.json["error"] == "voting.not_started"


def test_participation_filters_by_voted_and_building_and_pages(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", (t,), True) for t in "abc"]
                           + [("2", "1", "60.00", (t,), True) for t in "def"])
    committee = make_user(name="业委会", roles=[("committee", "estate", e["estate"].id)])
    clerk = staff[0]
    motion_id = start(client, clerk, e["estate"].id)
    units = e["units"]
    assert vote(client, e["users"]["a"], motion_id).status_code == 201
    pending = client.post(f"/api/v1/motions/{motion_id}/paper-ballots", json={
        "unit_id": units[3].id, "choice": "no", "image_upload_id": upload(clerk)}, headers=auth(clerk))
    assert pending.status_code == 201
    paper(client, staff, motion_id, units[4], "yes")
    path = f"/api/v1/motions/{motion_id}/participation"

    def listing(query=""):
        response = client.get(path + query, headers=auth(committee))
        assert response.status_code == 200, response.json
        return response.json

    everything = listing()
    assert everything["total"] == 6 and [p["unit_id"] for p in everything["items"]] == [u.id for u in units]
    voted = listing("?voted=true")
    assert voted["total"] == 2 and [p["unit_id"] for p in voted["items"]] == [units[0].id, units[4].id]
    waiting = listing("?voted=false")
    assert [p["unit_id"] for p in waiting["items"]] == [units[1].id, units[2].id, units[3].id, units[5].id]
    assert [p["pending_confirmation"] for p in waiting["items"]] == [False, False, True, False]
    second = e["buildings"]["2"].id
    assert [p["unit_id"] for p in listing(f"?building_id={second}")["items"]] == [u.id for u in units[3:]]
    both = listing(f"?voted=false&building_id={second}")
    assert both["total"] == 2 and [p["unit_id"] for p in both["items"]] == [units[3].id, units[5].id]
    page = listing("?voted=false&page_size=3&page=2")
    assert (page["total"], page["page"], page["page_size"]) == (4, 2, 3)
    assert [p["unit_id"] for p in page["items"]] == [units[5].id]
    bad = client.get(path + "?voted=maybe", headers=auth(committee))
    assert bad.status_code == 422 and "voted" in bad.json["errors"]["query"]


def test_committee_and_staff_see_full_unit_labels_and_an_owner_sees_their_own(client, world, staff):
    # 101, 201 and 301 of one entrance: masked, all three read "1号楼1单元**01".
    e = make_voting_estate(world, [("1", "1", "50.00", (t,), True) for t in "abcdef"])
    committee = make_user(name="业委会", roles=[("committee", "estate", e["estate"].id)])
    motion_id = start(client, committee, e["estate"].id)
    assert [u.number for u in e["units"]] == ["101", "102", "201", "202", "301", "302"]
    expected = [f"1号楼1单元{u.number}" for u in e["units"]]
    for viewer in (committee, staff[0]):
        items = client.get(f"/api/v1/motions/{motion_id}/participation", headers=auth(viewer)).json["items"]
        assert [p["label"] for p in items] == expected
        assert all(set(p) == {"unit_id", "building_id", "label", "area", "voted", "pending_confirmation"}
                   for p in items)
    owner = e["users"]["c"]
    assert vote(client, owner, motion_id, "no").status_code == 201
    mine = client.get(f"/api/v1/motions/{motion_id}/my-ballot", headers=auth(owner)).json["items"]
    assert [b["label"] for b in mine] == ["1号楼1单元201"]
    assert db.session.get(Motion, motion_id).status == "open"
