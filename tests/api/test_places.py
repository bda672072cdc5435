"""Places read API: pagination, filters, and exclusive areas only where the role allows."""
from decimal import Decimal

from models.base import db
from models.places import Unit
from tests.factories import auth, make_owner, make_user, make_world


def test_streets_paginate_and_filter(client):
    world = make_world()
    page = client.get(f"/api/v1/streets?district_id={world.district.id}&page_size=1").json
    assert page["total"] == 2 and page["page_size"] == 1 and len(page["items"]) == 1
    second = client.get(f"/api/v1/streets?district_id={world.district.id}&page_size=1&page=2").json
    assert second["items"][0]["id"] != page["items"][0]["id"]
    found = client.get("/api/v1/streets?q=万里").json["items"]
    assert [s["name"] for s in found if s["district_id"] == world.district.id] == ["万里街道"]
    street = client.get(f"/api/v1/streets/{world.street.id}").json
    assert street["district_name"] == "普陀区" and street["datum"] == "gcj02"
    assert street["coord_source"] == "approximate"


def test_search_treats_wildcards_literally(client):
    make_world()
    assert client.get("/api/v1/streets?q=%25").json["total"] == 0


def test_neighbourhoods_and_estates_by_street_and_neighbourhood(client):
    world = make_world()
    nbs = client.get(f"/api/v1/neighbourhoods?street_id={world.street.id}").json
    assert {n["name"] for n in nbs["items"]} == {"香泉路居民区", "中浩云居民区"}
    estates = client.get(f"/api/v1/estates?neighbourhood_id={world.nb2.id}").json["items"]
    assert [e["id"] for e in estates] == [world.estate.id]
    assert set(estates[0]["neighbourhood_ids"]) == {world.nb.id, world.nb2.id}
    detail = client.get(f"/api/v1/estates/{world.estate.id}").json
    assert detail["units"] == 3 and detail["buildings"] == 2
    assert detail["total_exclusive_area"] == "268.11"  # 3 × 89.37, exact
    assert client.get("/api/v1/estates/2147483647").status_code == 404


def test_buildings_with_entrances_and_units_need_login(client):
    world = make_world()
    buildings = client.get(f"/api/v1/estates/{world.estate.id}/buildings").json
    assert buildings["total"] == 2
    building = client.get(f"/api/v1/buildings/{world.building.id}").json
    assert building["entrances"] == [{"id": world.entrance.id, "number": "1"}]
    assert client.get(f"/api/v1/buildings/{world.building.id}/units").status_code == 401


def test_exclusive_area_shown_to_owners_and_staff_in_scope_only(client):
    world = make_world()
    resident = make_user(name="张三")
    owner = make_user(name="王秀英")
    make_owner(owner, world.units[2])
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    far_staff = make_user(name="周", roles=[("staff", "neighbourhood", world.far_nb.id)])
    url = f"/api/v1/buildings/{world.building.id}/units"
    assert {u["exclusive_area"] for u in client.get(url, headers=auth(resident)).json["items"]} == {None}
    assert {u["exclusive_area"] for u in client.get(url, headers=auth(owner)).json["items"]} == {"89.37"}
    assert {u["exclusive_area"] for u in client.get(url, headers=auth(staff)).json["items"]} == {"89.37"}
    assert {u["exclusive_area"] for u in client.get(url, headers=auth(far_staff)).json["items"]} == {None}
    one = client.get(f"/api/v1/units/{world.units[0].id}", headers=auth(owner)).json
    assert one["exclusive_area"] == "89.37" and one["area_source"] == "register"


def test_exclusive_area_is_exact_on_both_databases(app):
    world = make_world()
    unit = world.units[0]
    unit.exclusive_area = Decimal("123456789.99")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Unit, unit.id).exclusive_area == Decimal("123456789.99")
