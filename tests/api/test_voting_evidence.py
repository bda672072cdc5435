"""Voting's uploads: a signed paper ballot's image, a proxy's written mandate and a motion's attachments each
belong to one object, are seen by whoever may see that object, and are never swept as abandoned."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.base import db
from models.uploads import Upload
from models.voting import Ballot, Proxy
from service import clock, uploads
from tests.api.test_voting import act, create, motion_body, start, upload, vote
from tests.factories import HERE, VALID_ID, auth, make_located_world, make_user
from tests.factories.voting import make_voting_estate

@pytest.fixture
def world():
    return make_located_world()


@pytest.fixture
def staff(world):
    return (make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)]),
            make_user(name="陈", roles=[("staff", "neighbourhood", world.nb.id)]))


def enter(client, clerk, motion_id, unit, image_id, choice="yes"):
    return client.post(f"/api/v1/motions/{motion_id}/paper-ballots", json={
        "unit_id": unit.id, "choice": choice, "image_upload_id": image_id}, headers=auth(clerk))


def image(client, user, upload_id):
    return client.get(f"/api/v1/uploads/{upload_id}", headers=auth(user))


def test_a_case_photo_cannot_become_a_paper_ballot_image(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True)])
    clerk = staff[0]
    motion_id = start(client, clerk, e["estate"].id)
    photo = upload(clerk)
    case = client.post("/api/v1/cases", json={"category": "corridor_clutter", "description": "3号楼楼道堆满纸箱",
                                              "location": HERE, "photos": [photo]}, headers=auth(clerk))
    assert case.status_code == 201, case.json
    refused = enter(client, clerk, motion_id, e["units"][0], photo)
    assert refused.status_code == 422 and refused.json["error"] == "uploads.already_attached"
    assert "image_upload_id" in refused.json["errors"]
    assert db.session.get(Upload, photo).attached_to == f"case:{case.json['id']}"
    assert image(client, clerk, photo).status_code == 200   # still the case's photo, for the case's viewers
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ballot).where(Ballot.motion_id == motion_id)) == 0


def test_one_image_serves_one_ballot_and_only_the_uploader_may_use_it(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", (t,), True) for t in "ab"])
    clerk, checker = staff
    motion_id = start(client, clerk, e["estate"].id)
    scan = upload(clerk)
    first = enter(client, clerk, motion_id, e["units"][0], scan)
    assert first.status_code == 201
    assert db.session.get(Upload, scan).attached_to == f"paper:{motion_id}"
    assert db.session.get(Ballot, first.json["ballot_id"]).image_upload_id == scan
    again = enter(client, clerk, motion_id, e["units"][1], scan)
    assert again.status_code == 422 and again.json["error"] == "uploads.already_attached"
    theirs = enter(client, clerk, motion_id, e["units"][1], upload(checker))
    assert theirs.status_code == 422 and theirs.json["error"] == "uploads.not_found"
    english = client.post(f"/api/v1/motions/{motion_id}/paper-ballots", json={
        "unit_id": e["units"][1].id, "choice": "no", "image_upload_id": scan},
        headers=auth(clerk, **{"Accept-Language": "en"}))
    assert english.json["message"] == "This photo is already attached elsewhere; upload it again"
    assert enter(client, clerk, motion_id, e["units"][1], upload(clerk)).status_code == 201


def test_the_confirmer_and_the_estates_committee_see_the_ballot_image_and_nobody_else(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", (t,), True) for t in "ab"])
    clerk, checker = staff
    committee = make_user(name="业委会", roles=[("committee", "estate", e["estate"].id)])
    other_committee = make_user(name="别家业委会", roles=[("committee", "estate", world.estate.id)])
    far_staff = make_user(name="吴", roles=[("staff", "neighbourhood", world.far_nb.id)])
    motion_id = start(client, clerk, e["estate"].id)
    scan = upload(clerk)
    entered = enter(client, clerk, motion_id, e["units"][0], scan)
    assert entered.status_code == 201
    for viewer in (clerk, checker, committee):
        assert image(client, viewer, scan).status_code == 200
    for stranger in (e["users"]["a"], e["users"]["b"], other_committee, far_staff):
        assert image(client, stranger, scan).status_code == 404
    confirmed = client.post(f"/api/v1/motions/{motion_id}/paper-ballots/{entered.json['ballot_id']}/confirmation",
                            json={"accept": True}, headers=auth(checker))
    assert confirmed.status_code == 200


def test_a_mandate_serves_one_principal_is_seen_by_staff_and_is_spent_by_its_ballot(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", (t,), True) for t in "ab"])
    clerk, checker = staff
    motion_id = start(client, clerk, e["estate"].id)
    first_proxy, second_proxy = make_user(name="赵代理", id_number=VALID_ID), make_user(name="孙代理", id_number=VALID_ID)
    mandate = upload(clerk)

    def register(unit, proxy, mandate_id):
        return client.post(f"/api/v1/motions/{motion_id}/proxies", json={
            "unit_id": unit.id, "proxy_user_id": proxy.id, "mandate_upload_id": mandate_id}, headers=auth(clerk))

    registered = register(e["units"][0], first_proxy, mandate)
    assert registered.status_code == 201
    assert db.session.get(Upload, mandate).attached_to == f"mandate:{motion_id}"
    assert db.session.get(Proxy, registered.json["id"]).mandate_upload_id == mandate
    reused = register(e["units"][1], second_proxy, mandate)
    assert reused.status_code == 422 and reused.json["error"] == "uploads.already_attached"
    assert "mandate_upload_id" in reused.json["errors"]
    assert image(client, checker, mandate).status_code == 200
    assert image(client, e["users"]["b"], mandate).status_code == 404
    # A mandate is not a ballot image either.
    assert enter(client, clerk, motion_id, e["units"][1], mandate).json["error"] == "uploads.already_attached"

    cast = vote(client, first_proxy, motion_id, "yes", on_behalf_of_unit=e["units"][0].id)
    assert cast.status_code == 201
    proxy = db.session.get(Proxy, registered.json["id"])
    db.session.refresh(proxy)
    assert proxy.used_at == clock.now()
    # Even with the principal's slot free again (the ballot voided), the spent mandate does not vote twice.
    db.session.execute(sa.update(Ballot).where(Ballot.id == cast.json["ballot_id"]).values(status="void"))
    db.session.commit()
    second = vote(client, first_proxy, motion_id, "no", on_behalf_of_unit=e["units"][0].id)
    assert second.status_code == 409 and second.json["error"] == "voting.mandate_used"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ballot)
                             .where(Ballot.proxy_id == proxy.id)) == 1


def test_motion_attachments_are_attached_seen_by_whoever_sees_the_motion_and_kept_by_the_sweep(client, world,
                                                                                               staff):
    e = make_voting_estate(world, [("1", "1", "50.00", (t,), True) for t in "ab"])
    author, colleague = staff
    committee = make_user(name="业委会", roles=[("committee", "estate", e["estate"].id)])
    outsider = make_user(name="外人")
    far_staff = make_user(name="吴", roles=[("staff", "neighbourhood", world.far_nb.id)])
    owner = e["users"]["a"]
    plan, budget = upload(author), upload(author)
    motion_id = create(client, author, e["estate"].id, attachments=[plan, budget])
    assert [db.session.get(Upload, u).attached_to for u in (plan, budget)] == [f"motion:{motion_id}"] * 2
    # A draft: its managers only.
    for viewer in (author, colleague, committee):
        assert image(client, viewer, plan).status_code == 200
    assert image(client, owner, plan).status_code == 404
    assert act(client, author, motion_id, "announce").status_code == 200
    for viewer in (owner, e["users"]["b"], colleague, committee):
        assert image(client, viewer, budget).status_code == 200
    for stranger in (outsider, far_staff):
        assert image(client, stranger, budget).status_code == 404
    clock.set_now(clock.now() + timedelta(days=2))
    abandoned = upload(author)
    db.session.execute(sa.update(Upload).where(Upload.id == abandoned)
                       .values(created_at=clock.now() - timedelta(hours=25)))
    db.session.commit()
    assert uploads.purge_unattached() == 1
    assert db.session.get(Upload, abandoned) is None
    assert db.session.get(Upload, plan) is not None and db.session.get(Upload, budget) is not None
    assert client.get(f"/api/v1/motions/{motion_id}", headers=auth(owner)).json["attachments"] == [plan, budget]


def test_a_motion_attachment_must_be_the_authors_own_unattached_upload(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True)])
    author, colleague = staff
    used = upload(author)
    first = create(client, author, e["estate"].id, attachments=[used])
    again = client.post("/api/v1/motions", json=motion_body(e["estate"].id, attachments=[upload(author), used]),
                        headers=auth(author))
    assert again.status_code == 422 and again.json["error"] == "uploads.already_attached"
    assert "attachments.1" in again.json["errors"]
    theirs = client.post("/api/v1/motions", json=motion_body(e["estate"].id, attachments=[upload(colleague)]),
                         headers=auth(author))
    assert theirs.status_code == 422 and "attachments.0" in theirs.json["errors"]
    assert db.session.get(Upload, used).attached_to == f"motion:{first}"
