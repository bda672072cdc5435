"""In a JSON body a boolean is a JSON boolean and a number a JSON number, on every endpoint; query strings
and form fields are text and are still parsed. Exact amounts (money) may be written as strings."""
from datetime import date, datetime, timezone

import pytest

from service import clock
from tests.factories import HERE, auth, make_located_world, make_user
from tests.factories.meals import make_meal_site

@pytest.fixture
def world():
    return make_located_world()


def _refused(response, *path):
    """A 422 naming the field (its path inside the body) with a Chinese message."""
    assert response.status_code == 422, response.json
    body = response.json
    assert body["error"] == "validation.invalid"
    errors = body["errors"]["json"]
    for key in path:
        errors = errors[key]
    assert isinstance(errors, list) and errors and all("JSON" in message for message in errors), errors
    assert path[0] in body["message"] and body["message"].startswith("输入有误")
    return body


def _case(client, user, **overrides):
    return client.post("/api/v1/cases", headers=auth(user), json={
        "category": "corridor_clutter", "description": "3号楼楼道堆满纸箱", "location": HERE, **overrides})


@pytest.mark.parametrize("value", [0, 1, "true", "false", "1", "on"])
def test_a_case_flag_must_be_a_json_boolean(client, world, value):
    resident = make_user(name="王秀英", neighbourhood_id=world.nb.id)
    _refused(_case(client, resident, contact_consent=value), "contact_consent")
    _refused(_case(client, resident, anonymous=value), "anonymous")


def test_a_coordinate_must_be_a_json_number(client, world):
    resident = make_user(name="王秀英", neighbourhood_id=world.nb.id)
    _refused(_case(client, resident, location={"lat": "31.2702", "lng": 121.4101}), "location", "lat")
    _refused(_case(client, resident, location={"lat": "0", "lng": "0"}), "location", "lng")
    _refused(_case(client, resident, location={"lat": True, "lng": 121.4101}), "location", "lat")
    assert _case(client, resident, contact_consent=False, anonymous=True).status_code == 201


def test_ids_and_counts_must_be_json_numbers(client, world):
    admin = make_user(name="区管理员", roles=[("admin", "district", world.district.id)])
    newcomer = make_user(name="钱")
    grant = {"user_id": newcomer.id, "role": "staff", "scope_type": "neighbourhood", "scope_id": world.nb.id}
    _refused(client.post("/api/v1/role-assignments", headers=auth(admin), json={**grant, "scope_id": str(world.nb.id)}),
             "scope_id")
    _refused(client.post("/api/v1/role-assignments", headers=auth(admin), json={**grant, "user_id": True}), "user_id")
    resident = make_user(name="王秀英")
    _refused(client.patch("/api/v1/me", headers=auth(resident), json={"neighbourhood_id": str(world.nb.id)}),
             "neighbourhood_id")
    # a list of ids: each item named by its index
    _refused(_case(client, resident, photos=[1, "2"]), "photos", "1")


def test_nested_lists_of_objects_are_checked_too(client, world):
    site = make_meal_site(world)
    operator = make_user(name="孙阿姨", roles=[("operator", "meal_site", site.id)])
    body = {"day": "2026-11-24", "meal": "lunch", "capacity": {"dine_in": "40"},
            "set_meals": [{"name": "软烂套餐", "elder_price": "12.50"}]}
    _refused(client.post(f"/api/v1/meal-sites/{site.id}/slots", headers=auth(operator), json=body), "capacity",
             "dine_in")
    body = {**body, "capacity": {"dine_in": 40}, "set_meals": [{"name": "软烂套餐", "elder_price": "12.50",
                                                                 "discount": "false"}]}
    _refused(client.post(f"/api/v1/meal-sites/{site.id}/slots", headers=auth(operator), json=body), "set_meals",
             "0", "discount")


def test_money_may_be_a_string_or_a_number(client, world):
    clock.set_now(datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc))
    site = make_meal_site(world)
    operator = make_user(name="孙阿姨", roles=[("operator", "meal_site", site.id)])
    for day, price in ((date(2026, 11, 24), "12.50"), (date(2026, 11, 25), 12.5)):
        response = client.post(f"/api/v1/meal-sites/{site.id}/slots", headers=auth(operator), json={
            "day": day.isoformat(), "meal": "lunch", "capacity": {"dine_in": 40},
            "set_meals": [{"name": "软烂套餐", "elder_price": price, "discount": False}]})
        assert response.status_code == 201, response.json
        assert response.json["set_meals"][0]["elder_price"] == "12.50"


def test_the_english_field_message(client, world):
    resident = make_user(name="王秀英", neighbourhood_id=world.nb.id)
    response = client.post("/api/v1/cases", headers=auth(resident, **{"Accept-Language": "en"}), json={
        "category": "corridor_clutter", "description": "楼道", "location": HERE, "contact_consent": 0})
    assert response.status_code == 422
    assert response.json["errors"]["json"]["contact_consent"] == ["Must be a JSON boolean (true or false)"]
    assert "contact_consent" in response.json["message"]


def test_query_strings_are_text_and_still_parsed(client, world):
    resident = make_user(name="王秀英", neighbourhood_id=world.nb.id)
    response = client.get("/api/v1/facilities/nearby", headers=auth(resident), query_string={
        "lat": "31.2702", "lng": "121.4101", "open_now": "true", "limit": "5"})
    assert response.status_code == 200, response.json
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    assert client.get("/api/v1/cases?page=1&page_size=5", headers=auth(staff)).status_code == 200
