"""A motion is found by exactly the people who may see it: every voting endpoint answers a motion of another
estate as it answers one that does not exist, and neither reveals who is in its electorate."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.base import db
from models.places import Owner, Ownership
from service import clock
from service.voting import reminders
from tests.api.test_voting import CLOSES, create, start, upload, vote
from tests.factories import VALID_ID, auth, make_user, make_world
from tests.factories.voting import make_voting_estate

MISSING = 2147483000


@pytest.fixture
def world():
    return make_world()


@pytest.fixture
def staff(world):
    return make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])


def answers(client, user, motion_id, unit_ids):
    """(status, error) of each ballot-side endpoint for ``motion_id``."""
    seen = [client.get(f"/api/v1/motions/{motion_id}", headers=auth(user)),
            client.get(f"/api/v1/motions/{motion_id}/my-ballot", headers=auth(user)),
            vote(client, user, motion_id, "yes")]
    seen += [vote(client, user, motion_id, "yes", on_behalf_of_unit=unit_id) for unit_id in unit_ids]
    return [(r.status_code, r.json.get("error")) for r in seen]


def test_a_motion_of_another_estate_answers_like_a_missing_one(client, world, staff):
    home = make_voting_estate(world, [("1", "1", "50.00", ("a",), True)])
    away = make_voting_estate(world, [("1", "1", "60.00", ("x",), True), ("1", "1", "70.00", ("y",), True)])
    owner = home["users"]["a"]
    open_away = start(client, staff, away["estate"].id)
    in_electorate, outside = away["units"][0].id, home["units"][0].id
    missing = answers(client, owner, MISSING, [in_electorate, outside])
    assert missing == [(404, "voting.motion_not_found")] * 5
    assert answers(client, owner, open_away, [in_electorate, outside]) == missing
    clock.set_now(CLOSES + timedelta(minutes=1))
    reminders.close_due()
    assert answers(client, owner, open_away, [in_electorate, outside]) == missing   # closed: not 409 either
    draft_home = create(client, staff, home["estate"].id)
    assert answers(client, owner, draft_home, [outside]) == [(404, "voting.motion_not_found")] * 4


def test_within_the_estate_a_mandate_is_asked_for_before_the_electorate_is_shown(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True), ("2", "1", "60.00", ("b",), True)])
    building = e["buildings"]["1"]
    motion_id = start(client, staff, e["estate"].id, scope_type="buildings", scope_ids=[building.id])
    outsider_owner = e["users"]["b"]   # an owner of the estate, not of the building in scope
    assert client.get(f"/api/v1/motions/{motion_id}", headers=auth(outsider_owner)).status_code == 200
    assert client.get(f"/api/v1/motions/{motion_id}/my-ballot", headers=auth(outsider_owner)).json == {"items": []}
    refused = vote(client, outsider_owner, motion_id)
    assert refused.status_code == 403 and refused.json["error"] == "voting.not_in_electorate"
    for unit in e["units"]:   # in the electorate or not: the same answer
        response = vote(client, outsider_owner, motion_id, on_behalf_of_unit=unit.id)
        assert (response.status_code, response.json["error"]) == (403, "voting.no_mandate")


def test_a_proxy_and_a_frozen_voter_who_sold_still_find_the_motion_they_vote_in(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True), ("1", "1", "60.00", ("seller",), True)])
    motion_id = start(client, staff, e["estate"].id)
    proxy = make_user(name="赵代理", id_number=VALID_ID)
    assert client.get(f"/api/v1/motions/{motion_id}", headers=auth(proxy)).status_code == 404
    registered = client.post(f"/api/v1/motions/{motion_id}/proxies", json={
        "unit_id": e["units"][0].id, "proxy_user_id": proxy.id, "mandate_upload_id": upload(staff)},
        headers=auth(staff))
    assert registered.status_code == 201
    assert client.get(f"/api/v1/motions/{motion_id}", headers=auth(proxy)).status_code == 200
    cast = vote(client, proxy, motion_id, "yes", on_behalf_of_unit=e["units"][0].id)
    assert cast.status_code == 201
    mine = client.get(f"/api/v1/motions/{motion_id}/my-ballot", headers=auth(proxy)).json["items"]
    assert [b["receipt"] for b in mine] == [cast.json["receipt"]]
    # The seller's title ends after the opening: no longer an owner of the estate, still a frozen voter.
    seller = e["users"]["seller"]
    db.session.execute(sa.update(Ownership).where(Ownership.unit_id == e["units"][1].id)
                       .values(ended_on=clock.now().date()))
    buyer = Owner(kind="person", name="买家")
    db.session.add(buyer)
    db.session.flush()
    db.session.add(Ownership(unit_id=e["units"][1].id, owner_id=buyer.id, is_designated_voter=True))
    db.session.commit()
    assert client.get(f"/api/v1/motions/{motion_id}", headers=auth(seller)).status_code == 200
    assert vote(client, seller, motion_id, "no").status_code == 201
    assert len(client.get(f"/api/v1/motions/{motion_id}/my-ballot", headers=auth(seller)).json["items"]) == 1
