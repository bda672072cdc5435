"""Messages a resident can read: every message in an error answer (field messages and import reports too) is
Chinese by default and English with ``Accept-Language: en``, and addresses the person reading it."""
from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from models.base import db
from models.people import FamilyLink
from models.places import Estate
from service import clock
from service.clock import SHANGHAI
from tests.api.test_voting import start, upload, vote
from tests.factories import add_units, auth, make_owner, make_user, make_world, north
from tests.factories.life_circle import make_facility
from tests.factories.meals import make_meal_site, make_meal_slot
from tests.factories.voting import make_voting_estate

EN = {"Accept-Language": "en"}
LAT, LNG = 31.2702, 121.4101
REQUIRED = ("此项必填", "Missing data for required field.")


@pytest.fixture
def world():
    world = make_world()
    world.staff = make_user(name="李社工", roles=[("staff", "neighbourhood", world.nb.id),
                                                ("staff", "street", world.street.id)])
    world.admin = make_user(name="周", roles=[("admin", "street", world.street.id)])
    world.resident = make_user(name="王秀英", neighbourhood_id=world.nb.id)
    make_owner(world.admin, world.units[0])
    return world


def _at(errors: dict, path: tuple):
    for key in path:
        errors = errors[key]
    return errors


# One operation per domain with a missing field, a value out of range, a choice not offered and a text too long
# (nested schemas and list items among them): (zh, en) expected at each path of errors["json"].
CASES = {
    "cases": ("post", "/api/v1/cases", lambda w: {
        "description": "坏" * 4001, "location": {"lat": 91, "lng": 121.4, "datum": "bd09"}}, "resident", {
        ("category",): REQUIRED,
        ("description",): ("长度须在 1 到 4000 之间", "Length must be between 1 and 4000."),
        ("location", "lat"): ("须在 -90 到 90 之间（含两端）",
                              "Must be greater than or equal to -90 and less than or equal to 90."),
        ("location", "datum"): ("须为以下之一：wgs84、gcj02", "Must be one of: wgs84, gcj02."),
    }),
    "life_circle": ("post", "/api/v1/facilities", lambda w: {
        "name": "馆" * 101, "lat": 31.2, "lng": 181, "coord_source": "gps"}, "staff", {
        ("category",): REQUIRED,
        ("name",): ("长度须在 1 到 100 之间", "Length must be between 1 and 100."),
        ("lng",): ("须在 -180 到 180 之间（含两端）",
                   "Must be greater than or equal to -180 and less than or equal to 180."),
        ("coord_source",): ("须为以下之一：approximate、surveyed", "Must be one of: approximate, surveyed."),
    }),
    "meals": ("post", "/api/v1/meal-bookings", lambda w: {
        "set_meal_id": 1, "mode": "boat", "quantity": 11, "diet_note": "淡" * 101}, "resident", {
        ("slot_id",): REQUIRED,
        ("quantity",): ("须在 1 到 10 之间（含两端）",
                        "Must be greater than or equal to 1 and less than or equal to 10."),
        ("mode",): ("须为以下之一：dine_in、pickup、delivery", "Must be one of: dine_in, pickup, delivery."),
        ("diet_note",): ("长度须在 1 到 100 之间", "Length must be between 1 and 100."),
    }),
    "voting": ("post", "/api/v1/motions", lambda w: {
        "estate_id": w.estate.id, "title": "题" * 201, "body": "正文", "item": 10, "kind": "poll",
        "opens_at": "2026-12-10T09:00:00+08:00", "candidates": [{"name": ""}]}, "admin", {
        ("closes_at",): REQUIRED,
        ("title",): ("长度须在 1 到 200 之间", "Length must be between 1 and 200."),
        ("item",): ("须在 1 到 9 之间（含两端）", "Must be greater than or equal to 1 and less than or equal to 9."),
        ("kind",): ("须为以下之一：question、election", "Must be one of: question, election."),
        ("candidates", "0", "name"): ("长度须在 1 到 64 之间", "Length must be between 1 and 64."),
    }),
    "people": ("post", "/api/v1/me/family-links", lambda w: {
        "elder_name": "名" * 65, "elder_phone": "123", "relation": "cousin"}, "resident", {
        ("elder_name",): ("长度须在 1 到 64 之间", "Length must be between 1 and 64."),
        ("elder_phone",): ("格式不正确", "String does not match expected pattern."),
        ("relation",): ("须为以下之一：child、spouse、grandchild、sibling、other",
                        "Must be one of: child, spouse, grandchild, sibling, other."),
    }),
    "people.profile": ("patch", "/api/v1/me", lambda w: {"neighbourhood_id": 0, "id_number": "123"}, "resident", {
        ("neighbourhood_id",): ("须在 1 到 2147483647 之间（含两端）",
                                "Must be greater than or equal to 1 and less than or equal to 2147483647."),
        ("id_number",): ("长度须为 18", "Length must be 18."),
    }),
    "people.verification": ("post", "/api/v1/residents/{resident}/verification", lambda w: {
        "documents": ["id_card", "passport"]}, "staff", {
        ("documents", "1"): ("须为以下之一：id_card、household_register、residence_permit、property_certificate、"
                             "tenancy_contract、other",
                             "Must be one of: id_card, household_register, residence_permit, property_certificate, "
                             "tenancy_contract, other."),
    }),
}


@pytest.mark.parametrize("domain", CASES)
def test_field_messages_are_chinese_by_default_and_english_on_request(client, world, domain):
    world.estate = Estate(code=f"msg-{world.street.id}", street_id=world.street.id, name="香泉新苑", lat=LAT,
                          lng=LNG)
    db.session.add(world.estate)
    db.session.commit()
    method, url, body, who, expected = CASES[domain]
    url = url.format(resident=world.resident.id)
    user = getattr(world, who)
    chinese = getattr(client, method)(url, json=body(world), headers=auth(user))
    english = getattr(client, method)(url, json=body(world), headers=auth(user, **EN))
    for response in (chinese, english):
        assert response.status_code == 422, response.json
        assert response.json["error"] == "validation.invalid"
    assert chinese.json["message"].startswith("输入有误") and english.json["message"].startswith("The input")
    for path, (zh, en) in expected.items():
        assert _at(chinese.json["errors"]["json"], path) == [zh], path
        assert _at(english.json["errors"]["json"], path) == [en], path
    assert set(chinese.json["errors"]["json"]) == set(english.json["errors"]["json"])


def test_a_query_string_message_and_a_schema_wide_message_are_translated(client, world):
    url = "/api/v1/facilities/nearby?lat=95&lng=121.4&pace=run"
    chinese = client.get(url, headers=auth(world.resident)).json["errors"]["query"]
    english = client.get(url, headers=auth(world.resident, **EN)).json["errors"]["query"]
    assert chinese == {"lat": ["须在 -90 到 90 之间（含两端）"], "pace": ["须为以下之一：standard、elder"]}
    assert english == {"lat": ["Must be greater than or equal to -90 and less than or equal to 90."],
                       "pace": ["Must be one of: standard, elder."]}
    nothing = client.patch("/api/v1/me", json={}, headers=auth(world.resident))
    assert nothing.json["errors"]["_schema"][0].startswith("请至少提供以下一项：")
    nothing = client.patch("/api/v1/me", json={}, headers=auth(world.resident, **EN))
    assert nothing.json["errors"]["_schema"][0].startswith("Give at least one of: ")


def test_a_wrong_json_type_and_an_unknown_field_are_translated(client, world):
    body = {"category": "road", "description": "路灯坏了", "anonymous": "yes", "colour": "red"}
    chinese = client.post("/api/v1/cases", json=body, headers=auth(world.resident)).json["errors"]["json"]
    english = client.post("/api/v1/cases", json=body, headers=auth(world.resident, **EN)).json["errors"]["json"]
    assert chinese == {"anonymous": ["须为 JSON 布尔值（true 或 false）"]}
    assert english == {"anonymous": ["Must be a JSON boolean (true or false)"]}
    body["anonymous"] = True
    chinese = client.post("/api/v1/cases", json=body, headers=auth(world.resident)).json["errors"]["json"]
    english = client.post("/api/v1/cases", json=body, headers=auth(world.resident, **EN)).json["errors"]["json"]
    assert chinese == {"colour": ["不接受此字段"]} and english == {"colour": ["Unknown field."]}


def test_a_service_field_message_is_in_the_readers_language(client, world):
    """A message a service raises (InvalidInput) is bilingual where it is raised; the field message follows
    the reader's language, not only the top-level one."""
    facility = {"name": "卫生站", "category": "spa", "lat": north(LAT, 100), "lng": LNG,
                "neighbourhood_id": world.nb.id}
    chinese = client.post("/api/v1/facilities", json=facility, headers=auth(world.staff)).json
    english = client.post("/api/v1/facilities", json=facility, headers=auth(world.staff, **EN)).json
    assert chinese["errors"]["json"] == {"category": ["没有这个设施类别"]}
    assert chinese["message"] == "设施信息有误（category）：没有这个设施类别"
    assert english["errors"]["json"] == {"category": ["unknown category"]}
    assert english["message"] == "category unknown category"


# --- import reports ------------------------------------------------------------------------------------------

BAD_CSV = """external_id,name,category,lat,lng,neighbourhood_code,capacity
WL-1,卫生站,spa,31.2702,121.4101,{nb},
WL-2,,meal,95,121.4101,{nb},
WL-3,食堂,meal,31.2702,121.4101,nosuch,12.5
WL-4,助餐点,meal,{lat},121.4101,{nb},
"""


def _report(response) -> dict:
    return {(e["row"], e["field"]): e["message"] for e in response.json["errors"]["report"]["errors"]}


def test_an_import_reports_each_bad_row_in_the_readers_language(client, world):
    data = BAD_CSV.format(nb=world.nb.code, lat=north(LAT, 100))
    chinese = client.post("/api/v1/facilities/import", json={"format": "csv", "data": data},
                          headers=auth(world.staff))
    english = client.post("/api/v1/facilities/import", json={"format": "csv", "data": data},
                          headers=auth(world.staff, **EN))
    assert chinese.status_code == english.status_code == 422
    assert chinese.json["message"] == "导入文件有 3 行有误，未导入任何数据"
    assert english.json["message"] == "3 rows are not valid; nothing was imported"
    assert _report(chinese) == {(1, "category"): "没有这个设施类别", (2, "name"): "必填",
                                (2, "lat"): "须在 -90 到 90 之间", (3, "capacity"): "须为整数",
                                (3, "neighbourhood_code"): "没有这个居民区代码"}
    assert _report(english) == {(1, "category"): "unknown category", (2, "name"): "is required",
                                (2, "lat"): "must be from -90 to 90", (3, "capacity"): "must be a whole number",
                                (3, "neighbourhood_code"): "unknown neighbourhood code"}
    # Importing the good row and reporting the others: the report of a 200 is in the reader's language too.
    skipped = client.post("/api/v1/facilities/import", json={"format": "csv", "data": data, "skip_invalid": True,
                                                             "dry_run": True}, headers=auth(world.staff))
    assert skipped.status_code == 200 and skipped.json["valid"] == 1
    assert {(e["row"], e["field"]): e["message"] for e in skipped.json["errors"]}[(2, "name")] == "必填"
    skipped = client.post("/api/v1/facilities/import", json={"format": "csv", "data": data, "skip_invalid": True,
                                                             "dry_run": True}, headers=auth(world.staff, **EN))
    assert {(e["row"], e["field"]): e["message"] for e in skipped.json["errors"]}[(2, "name")] == "is required"


def test_a_geojson_import_reports_hours_and_geometry_in_the_readers_language(client, world):
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [LNG]},
               "properties": {"external_id": "G-1", "name": "站", "category": "meal",
                              "hours": {"weekly": {"mon": [["8:00", "17:00"]]}}}}
    data = json.dumps({"type": "FeatureCollection", "features": [feature]})
    chinese = client.post("/api/v1/facilities/import", json={"format": "geojson", "data": data},
                          headers=auth(world.staff))
    english = client.post("/api/v1/facilities/import", json={"format": "geojson", "data": data},
                          headers=auth(world.staff, **EN))
    assert _report(chinese) == {(1, "geometry"): "须为坐标 [lng, lat] 的 Point", (1, "lat"): "必填",
                                (1, "lng"): "必填", (1, "hours.weekly.mon[0][0]"): "时间须为 HH:MM（00:00–24:00）"}
    assert _report(english) == {(1, "geometry"): "must be a Point with [lng, lat]", (1, "lat"): "is required",
                                (1, "lng"): "is required",
                                (1, "hours.weekly.mon[0][0]"): "time must be HH:MM (00:00–24:00)"}


def test_a_walk_import_reports_in_the_readers_language(client, world):
    estate = Estate(code=f"walk-{world.street.id}", street_id=world.street.id, name="香泉新苑", lat=LAT, lng=LNG)
    estate.neighbourhoods = [world.nb]
    db.session.add(estate)
    db.session.flush()
    add_units(estate, 2)
    make_facility(category="meal", lat=north(LAT, 300), lng=LNG, street_id=world.street.id, external_id="M-1")
    db.session.commit()
    data = f"estate_code,facility_external_id,walk_m\n{estate.code},M-404,350\nnosuch,M-1,-5\n{estate.code},M-1,300\n"
    chinese = client.post("/api/v1/facility-walks/import", json={"data": data}, headers=auth(world.staff))
    english = client.post("/api/v1/facility-walks/import", json={"data": data}, headers=auth(world.staff, **EN))
    assert _report(chinese) == {(1, "facility_external_id"): "没有这个外部编号的设施",
                                (2, "estate_code"): "没有这个小区代码", (2, "walk_m"): "须为 0 到 100000 之间的整数"}
    assert _report(english) == {(1, "facility_external_id"): "unknown facility external_id",
                                (2, "estate_code"): "unknown estate code",
                                (2, "walk_m"): "must be a whole number from 0 to 100000"}
    skipped = client.post("/api/v1/facility-walks/import", json={"data": data, "skip_invalid": True},
                          headers=auth(world.staff, **EN))
    assert skipped.status_code == 200 and skipped.json["created"] == 1
    assert [e["message"] for e in skipped.json["errors"]] == ["unknown facility external_id", "unknown estate code",
                                                              "must be a whole number from 0 to 100000"]


# --- messages that address the reader --------------------------------------------------------------------------

DAY = date(2026, 11, 23)


@pytest.fixture
def meal(world):
    clock.set_now(datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI))
    site = make_meal_site(world)
    slot = make_meal_slot(site, DAY, dine_in=50, delivery=10)
    world.slot, world.set_meal = slot, slot.set_meals[0]
    world.diner = make_user(name="张阿婆", neighbourhood_id=world.nb.id,
                            birth_date=date(DAY.year - 82, DAY.month, DAY.day))
    world.son = make_user(name="王志强")
    db.session.add(FamilyLink(proxy_user_id=world.son.id, elder_user_id=world.diner.id, relation="子女",
                              status="confirmed"))
    db.session.commit()
    return world


def _book(client, user, w, *, headers=None, **body):
    body = {"slot_id": w.slot.id, "set_meal_id": w.set_meal.id, "mode": "dine_in", **body}
    return client.post("/api/v1/meal-bookings", json=body, headers={**auth(user), **(headers or {})})


def test_a_diner_booking_again_is_told_about_herself(client, meal):
    assert _book(client, meal.diner, meal).status_code == 201
    again = _book(client, meal.diner, meal)
    assert again.status_code == 409 and again.json["error"] == "meals.already_booked"
    assert again.json["message"] == "您已预订（或候补）此餐次"
    english = _book(client, meal.diner, meal, headers=EN)
    assert english.json["message"] == "You already have a booking (or a waitlist place) for this meal"


@pytest.mark.parametrize("who", ["son", "staff"])
def test_who_books_for_a_diner_who_has_booked_is_told_about_the_diner(client, meal, who):
    assert _book(client, meal.diner, meal).status_code == 201
    again = _book(client, getattr(meal, who), meal, diner_id=meal.diner.id)
    assert again.status_code == 409 and again.json["error"] == "meals.already_booked"
    assert again.json["message"] == "用餐人已预订（或候补）此餐次"
    english = _book(client, getattr(meal, who), meal, diner_id=meal.diner.id, headers=EN)
    assert english.json["message"] == "The diner already has a booking (or a waitlist place) for this meal"


def test_the_message_on_a_full_slot_fits_self_and_other_when_already_booked(client, meal):
    """A full slot is checked before inserting: the diner's own booking is found there and told the same way."""
    meal.slot.cap_dine_in = 1
    db.session.commit()
    assert _book(client, meal.diner, meal).status_code == 201
    assert _book(client, meal.diner, meal).json["message"] == "您已预订（或候补）此餐次"
    assert _book(client, meal.son, meal, diner_id=meal.diner.id).json["message"] == "用餐人已预订（或候补）此餐次"


def test_why_there_is_no_elder_price_is_told_to_the_diner_or_about_them(client, meal):
    pending = make_user(name="钱阿公", neighbourhood_id=meal.nb.id)
    assert client.patch("/api/v1/me", json={"id_number": "110105194611230018"},
                        headers=auth(pending)).status_code == 200
    db.session.add(FamilyLink(proxy_user_id=meal.son.id, elder_user_id=pending.id, relation="子女",
                              status="confirmed"))
    db.session.commit()
    own = _book(client, pending, meal)
    assert own.status_code == 403 and own.json["message"].startswith("您填写的出生日期或身份证号尚待居委会核实")
    assert own.json["errors"]["diner_id"] == [own.json["message"]]
    assert _book(client, pending, meal, headers=EN).json["message"].startswith("Your birth date or ID number")
    for_him = _book(client, meal.son, meal, diner_id=pending.id)
    assert for_him.status_code == 403
    assert for_him.json["message"].startswith("用餐人填写的出生日期或身份证号尚待居委会核实")
    assert "您" not in for_him.json["message"] and for_him.json["errors"]["diner_id"] == [for_him.json["message"]]
    english = _book(client, meal.son, meal, diner_id=pending.id, headers=EN).json
    assert english["message"].startswith("The diner's birth date or ID number")
    assert english["errors"]["diner_id"] == [english["message"]]
    url = f"/api/v1/meal-sites/{meal.slot.site_id}/slots?date={DAY.isoformat()}"
    assert client.get(url, headers=auth(pending)).json["ineligible_message"].startswith("您填写的")
    assert client.get(f"{url}&diner_id={pending.id}",
                      headers=auth(meal.son)).json["ineligible_message"].startswith("用餐人填写的")


def test_delivery_without_an_address_is_told_to_the_diner_or_about_them(client, meal):
    own = _book(client, meal.diner, meal, mode="delivery")
    assert own.status_code == 422 and own.json["error"] == "meals.address_unknown"
    assert own.json["errors"]["mode"] == ["没有您的住址信息，无法送餐"]
    for_her = _book(client, meal.staff, meal, diner_id=meal.diner.id, mode="delivery", headers=EN)
    assert for_her.json["errors"]["mode"] == ["The diner's address is unknown; delivery is not possible"]
    for_her = _book(client, meal.son, meal, diner_id=meal.diner.id, mode="delivery")
    assert for_her.json["errors"]["mode"] == ["没有用餐人的住址信息，无法送餐"]


def test_an_owner_voting_again_is_told_about_herself_and_a_clerk_about_the_owner(client):
    world = make_world()
    clerk = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True), ("1", "1", "60.00", ("b",), True)])
    motion_id = start(client, clerk, e["estate"].id)
    owner = e["users"]["a"]
    assert vote(client, owner, motion_id, "yes").status_code == 201
    again = vote(client, owner, motion_id, "no")
    assert again.status_code == 409 and again.json["error"] == "voting.already_voted"
    assert again.json["message"] == "您（或与您共有房屋的业主）已有网上表决票，同一业主每个事项只计一票"
    english = client.post(f"/api/v1/motions/{motion_id}/ballots", json={"choice": "no"}, headers=auth(owner, **EN))
    assert english.json["message"] == ("You (or a co-owner of your home) already have a ballot recorded; each owner "
                                       "counts once per motion")
    paper = client.post(f"/api/v1/motions/{motion_id}/paper-ballots", json={
        "unit_id": e["units"][0].id, "choice": "no", "image_upload_id": upload(clerk)}, headers=auth(clerk))
    assert paper.status_code == 409 and paper.json["error"] == "voting.already_voted"
    assert paper.json["message"] == "该户已有网上表决票，同一业主每个事项只计一票"
