"""Granting and revoking roles: the scope object must exist and lie inside the admin's own scope,
for every scope type and both admin levels."""
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.people import RoleAssignment
from models.places import Estate
from tests.factories import auth, make_user, make_world
from tests.factories.meals import make_meal_site

MISSING = 2147483000
# The role each scope type is granted with (ROLE_SCOPES).
ROLE_FOR = {"district": "admin", "street": "staff", "neighbourhood": "staff", "estate": "committee",
            "meal_site": "operator"}


@dataclass
class Places:
    home: object
    away: object
    ids: dict  # (scope_type, where) -> id


def _far_estate(world) -> int:
    return db.session.execute(sa.select(Estate.id).where(Estate.street_id == world.other_street.id)).scalar_one()


@pytest.fixture
def places():
    """Two districts. In the home district: street 1 (the street admin's) and its other street;
    the away district is outside every home admin."""
    home, away = make_world(), make_world()
    site_street1 = make_meal_site(home)
    site_other_street = make_meal_site(home, street_id=home.other_street.id, neighbourhood_id=home.far_nb.id)
    site_away = make_meal_site(away)
    ids = {
        # for the street admin of home.street
        ("street_admin", "district", "inside"): home.district.id,  # their district is wider than their scope
        ("street_admin", "district", "outside"): away.district.id,
        ("street_admin", "street", "inside"): home.street.id,
        ("street_admin", "street", "outside"): home.other_street.id,
        ("street_admin", "neighbourhood", "inside"): home.nb.id,
        ("street_admin", "neighbourhood", "outside"): home.far_nb.id,
        ("street_admin", "estate", "inside"): home.estate.id,
        ("street_admin", "estate", "outside"): _far_estate(home),
        ("street_admin", "meal_site", "inside"): site_street1.id,
        ("street_admin", "meal_site", "outside"): site_other_street.id,
        # for the district admin of home.district
        ("district_admin", "district", "inside"): home.district.id,
        ("district_admin", "district", "outside"): away.district.id,
        ("district_admin", "street", "inside"): home.other_street.id,
        ("district_admin", "street", "outside"): away.street.id,
        ("district_admin", "neighbourhood", "inside"): home.far_nb.id,
        ("district_admin", "neighbourhood", "outside"): away.nb.id,
        ("district_admin", "estate", "inside"): _far_estate(home),
        ("district_admin", "estate", "outside"): away.estate.id,
        ("district_admin", "meal_site", "inside"): site_other_street.id,
        ("district_admin", "meal_site", "outside"): site_away.id,
    }
    return Places(home, away, ids)


def _admin(places, level):
    if level == "street_admin":
        return make_user(name="街道管理员", roles=[("admin", "street", places.home.street.id)])
    return make_user(name="区管理员", roles=[("admin", "district", places.home.district.id)])


def _expected(level, scope_type, where):
    if where == "missing":
        return 422
    if where == "outside":
        return 403
    # A street admin cannot grant a district-wide role even in their own district.
    return 403 if (level, scope_type) == ("street_admin", "district") else 201


MATRIX = [(level, scope_type, where) for level in ("street_admin", "district_admin") for scope_type in ROLE_FOR
          for where in ("inside", "outside", "missing")]


@pytest.mark.parametrize("level,scope_type,where", MATRIX)
def test_grant_checks_the_scope_exists_and_is_inside_the_admins_scope(client, places, level, scope_type, where):
    admin = _admin(places, level)
    newcomer = make_user(name="钱")
    scope_id = MISSING if where == "missing" else places.ids[(level, scope_type, where)]
    response = client.post("/api/v1/role-assignments", headers=auth(admin),
                           json={"user_id": newcomer.id, "role": ROLE_FOR[scope_type], "scope_type": scope_type,
                                 "scope_id": scope_id})
    expected = _expected(level, scope_type, where)
    assert response.status_code == expected, response.json
    granted = db.session.execute(sa.select(RoleAssignment).where(RoleAssignment.user_id == newcomer.id)).scalars().all()
    if expected == 201:
        assert [(g.scope_type, g.scope_id) for g in granted] == [(scope_type, scope_id)]
    else:
        assert granted == []
        if expected == 422:
            assert response.json["error"] == "people.scope_not_found"
            assert "scope_id" in response.json["errors"]
        else:
            assert response.json["error"] == "people.out_of_scope"


@pytest.mark.parametrize("level,scope_type,where", MATRIX)
def test_revoke_checks_the_grant_is_inside_the_admins_scope(client, places, level, scope_type, where):
    admin = _admin(places, level)
    district_admin = make_user(name="区管理员", roles=[("admin", "district", places.away.district.id),
                                                  ("admin", "district", places.home.district.id)])
    holder = make_user(name="钱")
    if where == "missing":
        assignment_id = MISSING  # no such grant
    else:
        grant = RoleAssignment(user_id=holder.id, role=ROLE_FOR[scope_type], scope_type=scope_type,
                               scope_id=places.ids[(level, scope_type, where)], granted_by=district_admin.id)
        db.session.add(grant)
        db.session.commit()
        assignment_id = grant.id
    response = client.delete(f"/api/v1/role-assignments/{assignment_id}", headers=auth(admin))
    expected = {201: 204, 403: 403, 422: 404}[_expected(level, scope_type, where)]
    assert response.status_code == expected, response.json
    left = db.session.execute(sa.select(sa.func.count()).select_from(RoleAssignment)
                              .where(RoleAssignment.user_id == holder.id)).scalar_one()
    assert left == (0 if expected in (204, 404) else 1)
    if expected == 403:
        assert response.json["error"] == "people.out_of_scope"


@pytest.mark.parametrize("level,expected", [("street_admin", 403), ("district_admin", 204)])
def test_a_grant_on_a_scope_that_no_longer_exists_is_cleaned_up_by_a_district_admin(client, places, level,
                                                                                   expected):
    admin = _admin(places, level)
    holder = make_user(name="钱")
    dangling = RoleAssignment(user_id=holder.id, role="operator", scope_type="meal_site", scope_id=MISSING)
    db.session.add(dangling)
    db.session.commit()
    response = client.delete(f"/api/v1/role-assignments/{dangling.id}", headers=auth(admin))
    assert response.status_code == expected


def test_a_street_admins_other_roles_do_not_widen_what_they_may_grant(client, places):
    """Staff of the other street who is admin of street 1 grants only in street 1."""
    admin = make_user(name="街道管理员", roles=[("admin", "street", places.home.street.id),
                                            ("staff", "street", places.home.other_street.id)])
    newcomer = make_user(name="钱")
    response = client.post("/api/v1/role-assignments", headers=auth(admin),
                           json={"user_id": newcomer.id, "role": "staff", "scope_type": "neighbourhood",
                                 "scope_id": places.home.far_nb.id})
    assert response.status_code == 403


def test_a_grant_is_audited_with_the_place_of_its_scope(client, places):
    admin = _admin(places, "district_admin")
    newcomer = make_user(name="钱")
    site = places.ids[("district_admin", "meal_site", "inside")]
    response = client.post("/api/v1/role-assignments", headers=auth(admin),
                           json={"user_id": newcomer.id, "role": "operator", "scope_type": "meal_site",
                                 "scope_id": site})
    assert response.status_code == 201
    entry = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "role.granted")).scalar_one()
    assert entry.after == {"role": "operator", "scope_type": "meal_site", "scope_id": site, "title": None}
