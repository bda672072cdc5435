"""/me, profile, unit claims, family links, residents and roles: rules and who is refused what."""
from datetime import date, timedelta

import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.people import FamilyLink, RoleAssignment
from models.places import Owner, Ownership
from service import clock
from tests.factories import VALID_ID, auth, make_owner, make_user, make_world

PHONE = "13812345678"


def test_me_shows_own_data_with_the_id_number_masked(client):
    world = make_world()
    user = make_user(name="王秀英", phone=PHONE, id_number=VALID_ID, neighbourhood_id=world.nb.id,
                     birth_date=date(1950, 5, 1))
    body = client.get("/api/v1/me", headers=auth(user)).json
    assert body["profile"]["name"] == "王秀英"
    assert body["profile"]["phone"] == PHONE
    assert body["profile"]["id_number"] == "110***********002X"
    assert body["verified"] is True
    assert body["roles"] == [{"role": "resident", "role_name": "居民", "scopes": []}]


def test_no_role_reads_an_unmasked_id_number(client):
    world = make_world()
    elder = make_user(name="王秀英", phone=PHONE, id_number=VALID_ID, neighbourhood_id=world.nb.id)
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    admin = make_user(name="赵", roles=[("admin", "district", world.district.id)])
    for viewer in (elder, staff, admin):
        for path in ("/api/v1/me", f"/api/v1/residents/{elder.id}"):
            response = client.get(path, headers=auth(viewer))
            assert VALID_ID not in response.get_data(as_text=True)
    listing = client.get(f"/api/v1/residents?neighbourhood_id={world.nb.id}", headers=auth(staff))
    assert listing.status_code == 200 and VALID_ID not in listing.get_data(as_text=True)


def test_staff_in_scope_see_name_and_phone_and_the_view_is_audited(client):
    world = make_world()
    elder = make_user(name="王秀英", phone=PHONE, neighbourhood_id=world.nb.id)
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    body = client.get(f"/api/v1/residents/{elder.id}", headers=auth(staff)).json
    assert body["profile"]["phone"] == PHONE and body["profile"]["name"] == "王秀英"
    entry = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "resident.viewed")).scalar_one()
    assert entry.actor_user_id == staff.id and entry.object_id == str(elder.id) and entry.actor_role == "staff"


def test_street_staff_cover_every_neighbourhood_of_their_street(client):
    world = make_world()
    elder = make_user(name="王秀英", phone=PHONE, neighbourhood_id=world.nb2.id)
    street_staff = make_user(name="李", roles=[("staff", "street", world.street.id)])
    assert client.get(f"/api/v1/residents/{elder.id}", headers=auth(street_staff)).json["profile"]["phone"] == PHONE


def test_staff_outside_their_scope_are_refused(client):
    world = make_world()
    elder = make_user(name="王秀英", phone=PHONE, neighbourhood_id=world.nb.id)
    other_staff = make_user(name="李", roles=[("staff", "neighbourhood", world.far_nb.id)])
    assert client.get(f"/api/v1/residents/{elder.id}", headers=auth(other_staff)).status_code == 404
    assert client.get(f"/api/v1/residents?neighbourhood_id={world.nb.id}",
                      headers=auth(other_staff)).status_code == 403
    listing = client.get("/api/v1/residents", headers=auth(other_staff)).json
    assert listing["total"] == 0


def test_a_resident_cannot_read_another_resident(client):
    world = make_world()
    elder = make_user(name="王秀英", phone=PHONE, neighbourhood_id=world.nb.id)
    neighbour = make_user(name="张三", neighbourhood_id=world.nb.id)
    assert client.get(f"/api/v1/residents/{elder.id}", headers=auth(neighbour)).status_code == 404
    assert client.get("/api/v1/residents", headers=auth(neighbour)).status_code == 403


def test_profile_update_validates_the_id_number_and_stores_it_encrypted(client):
    world = make_world()
    user = make_user()
    bad = client.patch("/api/v1/me", json={"id_number": "110105194912310021"}, headers=auth(user))
    assert bad.status_code == 422 and "id_number" in bad.json["errors"]
    ok = client.patch("/api/v1/me", json={"name": "王秀英", "id_number": VALID_ID, "neighbourhood_id": world.nb.id,
                                          "birth_date": "1950-05-01"}, headers=auth(user))
    assert ok.status_code == 200 and ok.json["id_number"] == "110***********002X"
    stored = db.session.execute(sa.text("SELECT id_number_enc FROM resident_profile WHERE user_id = :u"),
                                {"u": user.id}).scalar()
    assert VALID_ID not in stored
    future = client.patch("/api/v1/me", json={"birth_date": "2999-01-01"}, headers=auth(user))
    assert future.status_code == 422 and "birth_date" in future.json["errors"]
    nowhere = client.patch("/api/v1/me", json={"neighbourhood_id": 999999}, headers=auth(user))
    assert nowhere.status_code == 422 and "neighbourhood_id" in nowhere.json["errors"]


def test_a_profile_edit_with_nothing_to_change_is_422(client):
    user = make_user(name="王秀英")
    for kwargs in ({}, {"json": {}}, {"data": "", "content_type": "application/json"}):
        response = client.patch("/api/v1/me", headers=auth(user), **kwargs)
        assert response.status_code == 422, (kwargs, response.json)
        assert response.json["error"] == "validation.nothing_to_change"
        assert response.json["message"] == "没有需要修改的内容"
        assert response.json["errors"]
    english = client.patch("/api/v1/me", json={}, headers=auth(user, **{"Accept-Language": "en"}))
    assert english.status_code == 422 and english.json["message"] == "Nothing to change was given"


# --- unit claims --------------------------------------------------------------------------------------------

def claim(client, user, unit, certificate="沪2019普012345", name="王秀英"):
    return client.post("/api/v1/me/unit-claims", json={"unit_id": unit.id, "certificate_no": certificate,
                                                       "owner_name": name}, headers=auth(user))


def test_claim_approved_by_staff_in_scope_makes_an_owner_of_the_estate(client):
    world = make_world()
    make_owner(None, world.units[0], name="王秀英", certificate_no="沪2019普012345")
    resident = make_user(name="王秀英")
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    created = claim(client, resident, world.units[0])
    assert created.status_code == 201 and created.json["status"] == "pending"
    assert created.json["register_match"] is None  # the claimant is not told
    queue = client.get("/api/v1/unit-claims?status=pending", headers=auth(staff)).json
    assert [c["id"] for c in queue["items"]] == [created.json["id"]]
    assert queue["items"][0]["register_match"] is True
    decided = client.post(f"/api/v1/unit-claims/{created.json['id']}/decision", json={"approve": True},
                          headers=auth(staff))
    assert decided.status_code == 200 and decided.json["status"] == "approved"
    me = client.get("/api/v1/me", headers=auth(resident)).json
    owner_role = next(r for r in me["roles"] if r["role"] == "owner")
    assert owner_role["scopes"] == [{"type": "estate", "type_name": "小区", "id": world.estate.id, "name": "香泉苑"}]
    # The register entry was linked, not duplicated.
    owners = db.session.execute(sa.select(Owner).join(Ownership).where(Ownership.unit_id == world.units[0].id)).scalars().all()
    assert [o.user_id for o in owners] == [resident.id]
    audit = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "unit_claim.approved")).scalar_one()
    assert audit.before == {"status": "pending"} and audit.actor_user_id == staff.id


def test_claim_without_register_entry_creates_the_owner_on_approval(client):
    world = make_world()
    resident = make_user(name="张三")
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    created = claim(client, resident, world.units[1], name="张三").json
    client.post(f"/api/v1/unit-claims/{created['id']}/decision", json={"approve": True}, headers=auth(staff))
    ownership = db.session.execute(sa.select(Ownership).where(Ownership.unit_id == world.units[1].id)).scalar_one()
    assert ownership.is_designated_voter is True and ownership.owner.user_id == resident.id


def test_staff_of_the_other_neighbourhood_of_the_same_estate_cannot_decide(client):
    world = make_world()
    resident = make_user(name="张三")
    staff_nb2 = make_user(name="李", roles=[("staff", "neighbourhood", world.nb2.id)])
    created = claim(client, resident, world.units[0]).json  # building 1 belongs to nb
    response = client.post(f"/api/v1/unit-claims/{created['id']}/decision", json={"approve": True},
                           headers=auth(staff_nb2))
    assert response.status_code == 403 and response.json["error"] == "people.claim_out_of_scope"
    assert client.get(f"/api/v1/unit-claims/{created['id']}", headers=auth(staff_nb2)).status_code == 404
    assert client.get("/api/v1/unit-claims", headers=auth(staff_nb2)).json["total"] == 0


def test_rejection_needs_a_reason_and_a_claim_is_decided_once(client):
    world = make_world()
    resident = make_user(name="张三")
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    created = claim(client, resident, world.units[0]).json
    url = f"/api/v1/unit-claims/{created['id']}/decision"
    missing = client.post(url, json={"approve": False}, headers=auth(staff))
    assert missing.status_code == 422 and "reason" in missing.json["errors"]
    assert client.post(url, json={"approve": False, "reason": "证书号不符"}, headers=auth(staff)).json["status"] == "rejected"
    assert client.post(url, json={"approve": True}, headers=auth(staff)).status_code == 409
    mine = client.get("/api/v1/me/unit-claims", headers=auth(resident)).json["items"]
    assert mine[0]["status"] == "rejected" and mine[0]["reason"] == "证书号不符"


def test_a_second_pending_claim_for_the_same_unit_is_409(client):
    world = make_world()
    resident = make_user(name="张三")
    assert claim(client, resident, world.units[0]).status_code == 201
    second = claim(client, resident, world.units[0])
    assert second.status_code == 409 and second.json["error"] == "people.claim_pending"


def test_claim_for_a_missing_unit_names_the_field(client):
    resident = make_user(name="张三")
    response = client.post("/api/v1/me/unit-claims", json={"unit_id": 2147483647, "certificate_no": "沪2019普1",
                                                           "owner_name": "张三"}, headers=auth(resident))
    assert response.status_code == 422 and "unit_id" in response.json["errors"]


def test_staff_do_not_decide_their_own_unit_claim(client):
    world = make_world()
    make_owner(None, world.units[0], name="李", certificate_no="沪2019普012345")
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    colleague = make_user(name="周", roles=[("staff", "neighbourhood", world.nb.id)])
    created = claim(client, staff, world.units[0], name="李").json
    url = f"/api/v1/unit-claims/{created['id']}/decision"
    own = client.post(url, json={"approve": True}, headers=auth(staff))
    assert own.status_code == 403 and own.json["error"] == "people.claim_self_decide"
    assert db.session.get(Ownership, db.session.execute(sa.select(Ownership.id)).scalar()).owner.user_id is None
    assert client.post(url, json={"approve": True}, headers=auth(colleague)).json["status"] == "approved"


def test_residents_cannot_decide_claims_or_read_others(client):
    world = make_world()
    alice, bob = make_user(name="甲"), make_user(name="乙")
    created = claim(client, alice, world.units[0]).json
    assert client.post(f"/api/v1/unit-claims/{created['id']}/decision", json={"approve": True},
                       headers=auth(bob)).status_code == 403
    assert client.get(f"/api/v1/unit-claims/{created['id']}", headers=auth(bob)).status_code == 404
    assert client.get("/api/v1/me/unit-claims", headers=auth(bob)).json["total"] == 0


# --- family links -------------------------------------------------------------------------------------------

def link(client, proxy, name="王秀英", phone=PHONE, relation="child"):
    return client.post("/api/v1/me/family-links", json={"elder_name": name, "elder_phone": phone,
                                                        "relation": relation}, headers=auth(proxy))


def test_family_link_confirmed_by_the_elder(client):
    world = make_world()
    elder = make_user(name="王秀英", phone=PHONE, neighbourhood_id=world.nb.id)
    child = make_user(name="王小明")
    created = link(client, child)
    assert created.status_code == 201 and created.json["elder_user_id"] == elder.id
    # The requester cannot confirm it themself.
    own = client.post(f"/api/v1/family-links/{created.json['id']}/decision", json={"confirm": True},
                      headers=auth(child))
    assert own.status_code == 403
    done = client.post(f"/api/v1/family-links/{created.json['id']}/decision", json={"confirm": True},
                       headers=auth(elder))
    assert done.json["status"] == "confirmed"
    # The confirmed relative may now read the elder's record (name and phone unmasked).
    assert client.get(f"/api/v1/residents/{elder.id}", headers=auth(child)).json["profile"]["phone"] == PHONE


def test_family_link_confirmed_by_staff_is_audited(client):
    world = make_world()
    elder = make_user(name="王秀英", phone=PHONE, neighbourhood_id=world.nb.id)
    child = make_user(name="王小明")
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    other_staff = make_user(name="周", roles=[("staff", "neighbourhood", world.far_nb.id)])
    created = link(client, child).json
    url = f"/api/v1/family-links/{created['id']}/decision"
    assert client.post(url, json={"confirm": True}, headers=auth(other_staff)).status_code == 404
    assert client.post(url, json={"confirm": True}, headers=auth(staff)).json["status"] == "confirmed"
    assert db.session.execute(sa.select(AuditEntry.action).where(AuditEntry.object_type == "family_link")
                              ).scalar_one() == "family_link.confirmed"
    assert elder.id


def test_staff_do_not_confirm_a_link_they_requested(client):
    """A staff member who asked to act for an elder of their own neighbourhood cannot confirm or reject the
    request under the staff role: the elder or another staff member decides."""
    world = make_world()
    elder = make_user(name="王秀英", phone=PHONE, neighbourhood_id=world.nb.id)
    staff = make_user(name="王小明", roles=[("staff", "neighbourhood", world.nb.id)])
    colleague = make_user(name="周", roles=[("staff", "neighbourhood", world.nb.id)])
    created = link(client, staff).json
    url = f"/api/v1/family-links/{created['id']}/decision"
    for confirm in (True, False):
        own = client.post(url, json={"confirm": confirm}, headers=auth(staff))
        assert own.status_code == 403 and own.json["error"] == "people.link_self_confirm"
    assert db.session.get(FamilyLink, created["id"]).status == "pending"
    assert client.post(url, json={"confirm": True}, headers=auth(colleague)).json["status"] == "confirmed"
    assert elder.id


def test_a_staff_member_losing_the_role_loses_the_elders_data_they_had_through_it(client):
    world = make_world()
    elder = make_user(name="王秀英", phone=PHONE, neighbourhood_id=world.nb.id)
    staff = make_user(name="王小明", roles=[("staff", "neighbourhood", world.nb.id)])
    admin = make_user(name="赵", roles=[("admin", "street", world.street.id)])
    created = link(client, staff).json
    headers = auth(staff)   # one token, issued while the role was held
    assert client.get(f"/api/v1/residents/{elder.id}", headers=headers).json["profile"]["phone"] == PHONE
    # A link the requester confirmed themself as staff (written before such a decision was refused).
    clock.shift(timedelta(hours=1))
    row = db.session.get(FamilyLink, created["id"])
    row.status, row.decided_by, row.decided_at = "confirmed", staff.id, clock.now()
    db.session.commit()
    role = db.session.execute(sa.select(RoleAssignment).where(RoleAssignment.user_id == staff.id)).scalar_one()
    assert client.delete(f"/api/v1/role-assignments/{role.id}", headers=auth(admin)).status_code == 204

    assert client.get(f"/api/v1/residents/{elder.id}", headers=headers).status_code == 404
    refused = client.get(f"/api/v1/meal-cards/{elder.id}", headers=headers)
    assert refused.status_code == 404 and refused.json["error"] == "people.resident_not_found"
    reopened = db.session.get(FamilyLink, created["id"])
    db.session.refresh(reopened)
    assert (reopened.status, reopened.decided_by, reopened.decided_at) == ("pending", None, None)
    entry = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "family_link.reopened")
                               ).scalar_one()
    assert (entry.actor_user_id, entry.object_id, entry.before["decided_by"]) == (admin.id, str(created["id"]),
                                                                                  staff.id)
    # The elder may still confirm it: then the relative's access is the elder's own decision.
    assert client.post(f"/api/v1/family-links/{created['id']}/decision", json={"confirm": True},
                       headers=auth(elder)).json["status"] == "confirmed"
    assert client.get(f"/api/v1/residents/{elder.id}", headers=headers).json["profile"]["phone"] == PHONE


def test_a_link_staff_confirmed_for_others_outlives_their_role(client):
    """A relationship checked by staff in office stays checked when they leave: it is a fact about the family."""
    world = make_world()
    elder = make_user(name="王秀英", phone=PHONE, neighbourhood_id=world.nb.id)
    child = make_user(name="王小明")
    staff = make_user(name="周", roles=[("staff", "neighbourhood", world.nb.id)])
    admin = make_user(name="赵", roles=[("admin", "street", world.street.id)])
    created = link(client, child).json
    client.post(f"/api/v1/family-links/{created['id']}/decision", json={"confirm": True}, headers=auth(staff))
    role = db.session.execute(sa.select(RoleAssignment).where(RoleAssignment.user_id == staff.id)).scalar_one()
    assert client.delete(f"/api/v1/role-assignments/{role.id}", headers=auth(admin)).status_code == 204
    assert db.session.get(FamilyLink, created["id"]).status == "confirmed"
    assert client.get(f"/api/v1/residents/{elder.id}", headers=auth(child)).json["profile"]["phone"] == PHONE
    assert client.get(f"/api/v1/residents/{elder.id}", headers=auth(staff)).status_code == 404


def test_family_link_needs_matching_name_and_phone(client):
    make_user(name="王秀英", phone=PHONE)
    child = make_user(name="王小明")
    wrong = link(client, child, name="王秀")
    assert wrong.status_code == 422 and wrong.json["error"] == "people.elder_not_found"
    bad_phone = link(client, child, phone="12345")
    assert bad_phone.status_code == 422 and "elder_phone" in bad_phone.json["errors"]["json"]


def test_unconfirmed_link_gives_no_access_and_duplicates_are_409(client):
    elder = make_user(name="王秀英", phone=PHONE)
    child = make_user(name="王小明")
    assert link(client, child).status_code == 201
    assert link(client, child).status_code == 409
    assert client.get(f"/api/v1/residents/{elder.id}", headers=auth(child)).status_code == 404


def test_revoked_link_ends_access(client):
    elder = make_user(name="王秀英", phone=PHONE)
    child = make_user(name="王小明")
    created = link(client, child).json
    client.post(f"/api/v1/family-links/{created['id']}/decision", json={"confirm": True}, headers=auth(elder))
    assert client.post(f"/api/v1/family-links/{created['id']}/revoke", headers=auth(elder)).json["status"] == "revoked"
    assert client.get(f"/api/v1/residents/{elder.id}", headers=auth(child)).status_code == 404
    stranger = make_user(name="路人")
    assert client.get(f"/api/v1/family-links/{created['id']}", headers=auth(stranger)).status_code == 404


# --- roles and audit ----------------------------------------------------------------------------------------

def test_admin_grants_roles_within_scope_and_it_is_audited(client):
    world = make_world()
    admin = make_user(name="赵", roles=[("admin", "street", world.street.id)])
    newcomer = make_user(name="钱")
    ok = client.post("/api/v1/role-assignments", json={"user_id": newcomer.id, "role": "staff",
                                                       "scope_type": "neighbourhood", "scope_id": world.nb.id,
                                                       "title": "grid_worker"}, headers=auth(admin))
    assert ok.status_code == 201
    outside = client.post("/api/v1/role-assignments", json={"user_id": newcomer.id, "role": "staff",
                                                            "scope_type": "neighbourhood",
                                                            "scope_id": world.far_nb.id}, headers=auth(admin))
    assert outside.status_code == 403
    wrong_scope = client.post("/api/v1/role-assignments", json={"user_id": newcomer.id, "role": "committee",
                                                               "scope_type": "street", "scope_id": world.street.id},
                              headers=auth(admin))
    assert wrong_scope.status_code == 422 and "scope_type" in wrong_scope.json["errors"]
    me = client.get("/api/v1/me", headers=auth(newcomer)).json
    assert {"role": "staff", "role_name": "工作人员", "scopes": [{"type": "neighbourhood", "type_name": "居委会",
                                                                 "id": world.nb.id, "name": "香泉路居民区"}]} in me["roles"]
    log = client.get("/api/v1/audit-log?object_type=user", headers=auth(admin)).json
    assert log["items"][0]["action"] == "role.granted" and log["items"][0]["actor_user_id"] == admin.id
    removed = client.delete(f"/api/v1/role-assignments/{ok.json['id']}", headers=auth(admin))
    assert removed.status_code == 204
    assert all(r["role"] != "staff" for r in client.get("/api/v1/me", headers=auth(newcomer)).json["roles"])


def test_staff_cannot_grant_roles_and_see_only_their_own_audit_entries(client):
    world = make_world()
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    other = make_user(name="周", roles=[("staff", "neighbourhood", world.nb.id)])
    elder = make_user(name="王秀英", neighbourhood_id=world.nb.id)
    assert client.post("/api/v1/role-assignments", json={"user_id": elder.id, "role": "staff",
                                                         "scope_type": "neighbourhood", "scope_id": world.nb.id},
                       headers=auth(staff)).status_code == 403
    client.get(f"/api/v1/residents/{elder.id}", headers=auth(other))
    assert client.get("/api/v1/audit-log", headers=auth(staff)).json["total"] == 0
    assert client.get("/api/v1/audit-log", headers=auth(other)).json["total"] == 1
    assert client.get("/api/v1/audit-log", headers=auth(elder)).status_code == 403


def test_audit_log_is_append_only(app):
    import pytest

    entry = AuditEntry(action="x", object_type="y")
    db.session.add(entry)
    db.session.commit()
    entry.action = "changed"
    with pytest.raises(PermissionError):
        db.session.commit()
    db.session.rollback()


def test_me_is_sent_exactly_as_its_schema_documents_it(client):
    """/me is encoded straight from the service's answer: it must carry what MeOut dumps and nothing more
    (marshmallow would drop a key the schema does not name; this answer would not)."""
    import json

    from api.schemas.people import MeOut
    from service import people

    world = make_world()
    user = make_user(name="王秀英", phone="13812345678", id_number=VALID_ID, neighbourhood_id=world.nb.id,
                     roles=[("staff", "neighbourhood", world.nb.id)])
    make_owner(user, world.units[0])
    client.patch("/api/v1/me", json={"address": "香泉苑1号楼101室", "neighbourhood_id": world.nb2.id},
                 headers=auth(user))
    answer = client.get("/api/v1/me", headers=auth(user))
    assert answer.status_code == 200
    documented = MeOut().dump(people.me(people.load_actor(user.id)))
    assert answer.get_json() == json.loads(json.dumps(documented))
    assert answer.get_json()["profile"]["declared_neighbourhood_id"] == world.nb2.id
