"""The audit log: an admin reads the entries about objects inside their own scope only."""
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from service import audit
from tests.factories import auth, give_consent, make_user, make_world
from tests.factories.meals import make_meal_site


def _log(client, user, **query):
    response = client.get("/api/v1/audit-log", query_string={"page_size": 100, **query}, headers=auth(user))
    assert response.status_code == 200, response.json
    return response.json


def _statuses_recorded_in_both_streets(client, world):
    """Staff of each street record a resident's verified status (低保, 独居) on their meal card."""
    here = make_user(name="王秀英", neighbourhood_id=world.nb.id)
    there = make_user(name="李桂英", neighbourhood_id=world.far_nb.id)
    staff_here = make_user(name="街道一工作人员", roles=[("staff", "street", world.street.id)])
    staff_there = make_user(name="街道二工作人员", roles=[("staff", "street", world.other_street.id)])
    for staff, resident in ((staff_here, here), (staff_there, there)):
        give_consent(resident)
        response = client.put(f"/api/v1/meal-cards/{resident.id}", json={"low_income": True, "lives_alone": True},
                              headers=auth(staff))
        assert response.status_code == 200, response.json
    return here, there


def test_a_street_admin_reads_the_welfare_statuses_of_their_street_only(client):
    world = make_world()
    here, there = _statuses_recorded_in_both_streets(client, world)
    street_admin = make_user(name="街道管理员", roles=[("admin", "street", world.street.id)])
    log = _log(client, street_admin, object_type="user")
    assert [(e["action"], e["object_id"]) for e in log["items"]] == [("meal_card.updated", str(here.id))]
    assert log["total"] == 1
    # Asking for the other street's resident by id finds nothing either.
    assert _log(client, street_admin, object_type="user", object_id=str(there.id)) == {
        "items": [], "page": 1, "page_size": 100, "total": 0}


def test_the_admin_of_the_other_street_and_the_district_admin(client):
    world = make_world()
    here, there = _statuses_recorded_in_both_streets(client, world)
    other_admin = make_user(name="街道二管理员", roles=[("admin", "street", world.other_street.id)])
    assert [e["object_id"] for e in _log(client, other_admin, object_type="user")["items"]] == [str(there.id)]
    district_admin = make_user(name="区管理员", roles=[("admin", "district", world.district.id)])
    assert [e["object_id"] for e in _log(client, district_admin, object_type="user")["items"]] == [
        str(there.id), str(here.id)]
    # An admin of another district sees neither.
    elsewhere = make_world()
    far_admin = make_user(name="外区管理员", roles=[("admin", "district", elsewhere.district.id)])
    assert _log(client, far_admin, object_type="user")["total"] == 0


def test_an_entry_carries_the_street_of_its_object_at_write_time(client):
    world = make_world()
    here, there = _statuses_recorded_in_both_streets(client, world)
    rows = dict(db.session.execute(sa.select(AuditEntry.object_id, AuditEntry.street_id)
                                   .where(AuditEntry.action == "meal_card.updated")).all())
    assert rows == {str(here.id): world.street.id, str(there.id): world.other_street.id}


def test_views_of_personal_data_and_grants_are_placed_too(client):
    world = make_world()
    there = make_user(name="李桂英", neighbourhood_id=world.far_nb.id)
    staff_there = make_user(name="街道二工作人员", roles=[("staff", "street", world.other_street.id)])
    assert client.get(f"/api/v1/residents/{there.id}", headers=auth(staff_there)).status_code == 200
    district_admin = make_user(name="区管理员", roles=[("admin", "district", world.district.id)])
    site = make_meal_site(world, street_id=world.other_street.id, neighbourhood_id=world.far_nb.id)
    newcomer = make_user(name="钱")
    assert client.post("/api/v1/role-assignments", headers=auth(district_admin),
                       json={"user_id": newcomer.id, "role": "operator", "scope_type": "meal_site",
                             "scope_id": site.id}).status_code == 201
    street_admin = make_user(name="街道管理员", roles=[("admin", "street", world.street.id)])
    assert _log(client, street_admin)["total"] == 0
    other_admin = make_user(name="街道二管理员", roles=[("admin", "street", world.other_street.id)])
    assert sorted(e["action"] for e in _log(client, other_admin)["items"]) == ["resident.viewed", "role.granted"]


def test_entries_with_no_place_are_shown_to_district_admins_and_their_author(client):
    world = make_world()
    street_admin = make_user(name="街道管理员", roles=[("admin", "street", world.street.id)])
    district_admin = make_user(name="区管理员", roles=[("admin", "district", world.district.id)])
    actor = make_user(name="某管理员")
    audit.record(type("A", (), {"user_id": actor.id, "acting_role": "admin"})(), "open311_key.issued",
                 "open311_key", 1, street_id=None)
    # an entry written before entries were placed
    db.session.add(AuditEntry(action="legacy.entry", object_type="user", object_id="1"))
    db.session.commit()
    assert _log(client, street_admin)["total"] == 0
    assert sorted(e["action"] for e in _log(client, district_admin)["items"]) == ["legacy.entry",
                                                                                  "open311_key.issued"]


def test_an_admin_reads_their_own_actions_wherever_they_were(client):
    world = make_world()
    there = make_user(name="李桂英", neighbourhood_id=world.far_nb.id)
    both = make_user(name="双重身份", roles=[("admin", "street", world.street.id),
                                          ("staff", "street", world.other_street.id)])
    give_consent(there)
    assert client.put(f"/api/v1/meal-cards/{there.id}", json={"lives_alone": True},
                      headers=auth(both)).status_code == 200
    assert [e["object_id"] for e in _log(client, both)["items"]] == [str(there.id)]
    street_admin = make_user(name="街道管理员", roles=[("admin", "street", world.street.id)])
    assert _log(client, street_admin)["total"] == 0


def test_domain_objects_are_located_by_the_locators_their_domains_register(app):
    from datetime import date

    from service import places
    from tests.factories.life_circle import make_facility
    from tests.factories.meals import make_meal_slot

    world = make_world()
    site = make_meal_site(world, street_id=world.other_street.id, neighbourhood_id=world.far_nb.id)
    slot = make_meal_slot(site, date(2026, 12, 1))
    facility = make_facility(street_id=world.street.id)
    assert places.locate("meal_site", site.id) == places.Place(world.other_street.id)
    assert places.locate("meal_slot", slot.id) == places.Place(world.other_street.id)
    assert places.locate("facility", facility.id) == places.Place(world.street.id)
    assert places.locate("estate", world.estate.id) == places.Place(world.street.id)
    assert places.locate("district", world.district.id) == places.Place(None)
    assert places.locate("meal_slot", 2147483000) is None
    assert places.locate("no_such_kind", 1) is None


def test_a_view_of_a_resident_known_only_by_a_declared_neighbourhood_is_placed_in_its_street(client):
    """Staff of a declared neighbourhood see and verify the resident: their views belong to that street."""
    world = make_world()
    newcomer = make_user(name="赵新")
    assert client.patch("/api/v1/me", json={"neighbourhood_id": world.far_nb.id},
                        headers=auth(newcomer)).status_code == 200
    staff_there = make_user(name="光新居委", roles=[("staff", "neighbourhood", world.far_nb.id)])
    assert client.get(f"/api/v1/residents/{newcomer.id}", headers=auth(staff_there)).status_code == 200
    other_admin = make_user(name="街道二管理员", roles=[("admin", "street", world.other_street.id)])
    assert [(e["action"], e["object_id"]) for e in _log(client, other_admin, object_type="user")["items"]] == [
        ("resident.viewed", str(newcomer.id))]
