"""Life circle over HTTP: lookup, administration with its authorisation, import and export, coverage."""
import csv
import io
import json
from datetime import datetime

import pytest
import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.life_circle import Facility
from models.places import Estate
from service import clock
from service.clock import SHANGHAI
from service.life_circle import queries
from tests.factories import add_units, auth, make_user, make_world, north
from tests.factories.life_circle import make_facility

LAT, LNG = 31.2702, 121.4101
OFFICE = {"weekly": {d: [["08:30", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}, "holiday": "closed"}


@pytest.fixture(autouse=True)
def _fresh_item_cache():
    """Each test starts with an empty nearby item cache: rolled-back tests reuse ids (SQLite)."""
    queries.STATIC_CACHE.clear()
    yield
    queries.STATIC_CACHE.clear()


@pytest.fixture
def place():
    world = make_world()
    estate = Estate(code=f"lc-{world.street.id}", street_id=world.street.id, name="香泉新苑", lat=LAT, lng=LNG)
    estate.neighbourhoods = [world.nb]
    db.session.add(estate)
    db.session.flush()
    add_units(estate, 20)
    db.session.commit()
    world.lc_estate = estate
    return world


@pytest.fixture
def people(place):
    class People:
        resident = make_user(name="王秀英", neighbourhood_id=place.nb.id)
        staff = make_user(name="李", roles=[("staff", "neighbourhood", place.nb.id)])
        street_admin = make_user(name="周", roles=[("admin", "street", place.street.id)])
        far_staff = make_user(name="吴", roles=[("staff", "neighbourhood", place.far_nb.id)])
    return People


def body(**overrides):
    return {"name": "香泉智助食堂", "category": "meal", "subtype": "智助食堂", "lat": north(LAT, 150), "lng": LNG,
            "hours": OFFICE, "target_groups": ["elder"], "services": ["堂食", "送餐"], **overrides}


def test_categories_are_public_and_carry_thresholds(client):
    response = client.get("/api/v1/facility-categories")
    assert response.status_code == 200
    meal = next(c for c in response.json["items"] if c["code"] == "meal")
    assert meal["threshold_m"] == 500 and meal["threshold_minutes"] == {"standard": 9, "elder": 11}


def test_nearby_sorted_by_walk_with_open_now(client, place, people):
    clock.set_now(datetime(2026, 11, 20, 9, tzinfo=SHANGHAI))   # a Friday morning
    near = make_facility(category="meal", lat=north(LAT, 100), lng=LNG, street_id=place.street.id, hours=OFFICE,
                         name="近")
    far = make_facility(category="meal", lat=north(LAT, 400), lng=LNG, street_id=place.street.id,
                        hours={"weekly": {"sat": [["09:00", "12:00"]]}}, name="远")
    make_facility(category="meal", lat=north(LAT, 50), lng=LNG, street_id=place.street.id, status="closed")
    db.session.commit()
    response = client.get(f"/api/v1/facilities/nearby?lat={LAT}&lng={LNG}&category=meal&minutes=10",
                          headers=auth(people.resident))
    assert response.status_code == 200, response.json
    items = response.json["items"]
    assert [i["id"] for i in items] == [near.id, far.id]
    assert items[0]["walk_m"] == 130 and items[0]["walk_minutes"] == 3 and items[0]["open_now"] is True
    assert items[1]["walk_m"] == 520 and items[1]["open_now"] is False
    assert items[1]["next_open_at"] == "2026-11-21T09:00:00+08:00"
    only_open = client.get(f"/api/v1/facilities/nearby?lat={LAT}&lng={LNG}&open_now=true",
                           headers=auth(people.resident)).json["items"]
    assert [i["id"] for i in only_open] == [near.id]
    clock.set_now(datetime(2026, 10, 1, 9, tzinfo=SHANGHAI))   # National Day: the office-hours one is closed
    holiday = client.get(f"/api/v1/facilities/nearby?lat={LAT}&lng={LNG}&open_now=true",
                         headers=auth(people.resident)).json["items"]
    assert holiday == []


def test_the_nearby_text_is_the_json_of_the_nearby_values(client, place, people):
    """The answer is assembled as text from cached pieces (``nearby_json``): it must be exactly the compact
    JSON of the same values (``nearby``), names with quotes, backslashes, line separators and emoji included."""
    import json

    from service.life_circle import queries

    clock.set_now(datetime(2026, 11, 20, 9, tzinfo=SHANGHAI))
    make_facility(category="meal", lat=north(LAT, 100), lng=LNG, street_id=place.street.id, hours=OFFICE,
                  name='长者"食堂"\\一号\u2028😀\x01')
    make_facility(category="health", lat=north(LAT, 300), lng=LNG + 0.001, street_id=place.street.id, name="卫生站")
    db.session.commit()
    for lang in ("zh", "en"):
        for datum in ("gcj02", "wgs84"):
            args = {"lat": LAT, "lng": LNG, "datum": datum, "minutes": 15, "lang": lang}
            text = queries.nearby_json(**args)
            assert text == json.dumps(queries.nearby(**args), ensure_ascii=False, separators=(",", ":"))
            assert len(json.loads(text)["items"]) == 2


@pytest.mark.parametrize("query, field", [
    ("lat=31.2&lng=121.4&category=nope", "category"),
    ("lat=31.2&lng=121.4&target_group=aliens", "target_group"),
    ("lng=121.4", "lat"),
    ("lat=31.2&lng=121.4&minutes=0", "minutes"),
    ("lat=31.2&lng=121.4&datum=bd09", "datum"),
])
def test_nearby_bad_input_names_the_field(client, people, query, field):
    response = client.get(f"/api/v1/facilities/nearby?{query}", headers=auth(people.resident))
    assert response.status_code == 422
    assert field in json.dumps(response.json["errors"])


def test_detail_and_search(client, place, people):
    f = make_facility(category="health", name="万里社区卫生服务中心", street_id=place.street.id)
    make_facility(category="meal", name="中浩云社区食堂", street_id=place.street.id)
    db.session.commit()
    assert client.get(f"/api/v1/facilities/{f.id}", headers=auth(people.resident)).json["name"] == "万里社区卫生服务中心"
    assert client.get("/api/v1/facilities/999999", headers=auth(people.resident)).status_code == 404
    found = client.get("/api/v1/facilities?q=卫生", headers=auth(people.resident)).json
    assert [i["id"] for i in found["items"]] == [f.id] and found["total"] == 1


SEARCHED = [("万里社区卫生服务中心", "社区卫生服务中心", "普陀区万里路 88 号"), ("中浩云社区食堂", "助餐点", "真华路1弄"),
            ("Linli Pharmacy 药房", None, "香泉路12号"), ("街道党群服务站", "党群", None), ("100%满意 服务点", None, None),
            ("设施12", None, None), ("设施120", None, None), ("设施312", None, None), ("ÄRZTEHAUS 诊所", None, None)]


@pytest.mark.parametrize("q", ["卫生", "社区", "药", "pharmacy", "LINLI PH", "12", "设施12", "万里路 88", "100%",
                               "_", "服务点", "真华路1弄", "党群服务", "ÄRZTE", "号", "不存在的"])
def test_search_finds_exactly_the_facilities_whose_text_contains_the_words(client, place, people, q):
    """On PostgreSQL through ix_facility_grams and then the substring itself; on SQLite the substring alone.
    The answer is the facilities whose name, subtype or address contains ``q`` ignoring case, by name."""
    for name, subtype, address in SEARCHED:
        f = make_facility(category="health", name=name, street_id=place.street.id)
        f.subtype, f.address = subtype, address
    db.session.commit()
    expected = sorted(name for name, subtype, address in SEARCHED
                      if any(q.lower() in (text or "").lower() for text in (name, subtype, address)))
    found = client.get("/api/v1/facilities", query_string={"q": q, "page_size": 50}, headers=auth(people.resident)).json
    assert sorted(i["name"] for i in found["items"]) == expected and found["total"] == len(expected)


def test_search_pages_carry_the_total_even_past_the_end(client, place, people):
    for i in range(3):
        make_facility(category="health", name=f"长者照护之家{i}", street_id=place.street.id)
    db.session.commit()

    def page(n):
        return client.get("/api/v1/facilities", query_string={"q": "照护", "page": n, "page_size": 2},
                          headers=auth(people.resident)).json

    assert [i["name"] for i in page(1)["items"]] == ["长者照护之家0", "长者照护之家1"] and page(1)["total"] == 3
    assert [i["name"] for i in page(2)["items"]] == ["长者照护之家2"] and page(2)["total"] == 3
    assert page(5)["items"] == [] and page(5)["total"] == 3


def test_search_grams_are_the_pairs_of_each_word_that_the_database_keeps():
    assert queries.search_grams("设施12") == ["12", "施1", "设施"]
    assert queries.search_grams("药") == ["药"]
    assert queries.search_grams("万里路 88") == ["88", "万里", "里路"]
    assert queries.search_grams("LinLi") == ["in", "li", "nl"]
    assert queries.search_grams("ÄR 100%") == ["00", "10"]      # no pair with Ä (case outside ASCII), none with %
    assert queries.search_grams("%") == []


def test_the_search_index_holds_every_pair_the_search_asks_for(is_postgres):
    if not is_postgres:
        assert db.session.get_bind().dialect.name == "sqlite"   # SQLite keeps no such index: the substring alone
        return
    text = "Linli 万里社区卫生服务中心 普陀区万里路 88 号"
    held = set(db.session.execute(sa.text("SELECT unnest(linli_search_grams(:t))"), {"t": text}).scalars())
    for q in ("万里路 88", "LINLI", "卫", "88 号", "社区卫生"):
        assert set(queries.search_grams(q)) <= held, q
    assert " 8" not in held and "i " not in held and "l" in held
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(db.session.execute(sa.text(
        "EXPLAIN SELECT id FROM facility WHERE linli_search_grams(" + Facility.SEARCH_TEXT + ") @> ARRAY['万里']"
    )).scalars())
    assert "ix_facility_grams" in plan


def test_admin_endpoints_need_staff_in_scope(client, place, people):
    assert client.post("/api/v1/facilities", json=body(neighbourhood_id=place.nb.id),
                       headers=auth(people.resident)).status_code == 403
    assert client.post("/api/v1/facilities", json=body(neighbourhood_id=place.nb.id),
                       headers=auth(people.far_staff)).status_code == 403
    assert client.post("/api/v1/facilities", json=body(street_id=place.street.id),
                       headers=auth(people.staff)).status_code == 403     # street scope needed for a street facility
    created = client.post("/api/v1/facilities", json=body(neighbourhood_id=place.nb.id), headers=auth(people.staff))
    assert created.status_code == 201, created.json
    fid = created.json["id"]
    assert created.json["street_id"] == place.street.id
    assert client.patch(f"/api/v1/facilities/{fid}", json={"phone": "021-1"},
                        headers=auth(people.far_staff)).status_code == 403
    assert client.post(f"/api/v1/facilities/{fid}/close", json={}, headers=auth(people.resident)).status_code == 403
    assert client.get("/api/v1/facilities/export", headers=auth(people.resident)).status_code == 403
    assert client.get(f"/api/v1/streets/{place.street.id}/life-circle", headers=auth(people.resident)).status_code == 403
    assert client.get(f"/api/v1/streets/{place.other_street.id}/life-circle",
                      headers=auth(people.staff)).status_code == 403
    assert client.get(f"/api/v1/estates/{place.lc_estate.id}/life-circle",
                      headers=auth(people.far_staff)).status_code == 403


def test_nearby_shows_an_edit_at_once_though_the_old_version_is_cached(client, place, people):
    """The prefilter reads each facility's version with its place (ix_facility_cell): the item cache, keyed by
    (id, version), never answers for an older version."""
    created = client.post("/api/v1/facilities", json=body(neighbourhood_id=place.nb.id), headers=auth(people.staff))
    fid = created.json["id"]
    where = {"lat": LAT, "lng": LNG}
    before = client.get("/api/v1/facilities/nearby", query_string=where, headers=auth(people.resident))
    assert [item["phone"] for item in before.json["items"] if item["id"] == fid] == [None]
    assert len(queries.STATIC_CACHE) >= 1
    changed = client.patch(f"/api/v1/facilities/{fid}", json={"phone": "021-52840000", "name": "香泉长者食堂",
                                                               "version": 1}, headers=auth(people.street_admin))
    assert changed.status_code == 200
    after = client.get("/api/v1/facilities/nearby", query_string=where, headers=auth(people.resident))
    assert [(item["phone"], item["name"]) for item in after.json["items"] if item["id"] == fid] == \
        [("021-52840000", "香泉长者食堂")]


def test_create_update_close_are_audited_and_versioned(client, place, people):
    created = client.post("/api/v1/facilities", json=body(neighbourhood_id=place.nb.id), headers=auth(people.staff))
    fid = created.json["id"]
    changed = client.patch(f"/api/v1/facilities/{fid}", json={"phone": "021-52840000", "version": 1},
                           headers=auth(people.street_admin))
    assert changed.status_code == 200 and changed.json["phone"] == "021-52840000" and changed.json["version"] == 2
    stale = client.patch(f"/api/v1/facilities/{fid}", json={"phone": "021-0", "version": 1},
                         headers=auth(people.staff))
    assert stale.status_code == 409
    closed = client.post(f"/api/v1/facilities/{fid}/close", json={"reason": "搬迁"}, headers=auth(people.staff))
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    assert client.post(f"/api/v1/facilities/{fid}/close", json={}, headers=auth(people.staff)).status_code == 409
    actions = db.session.execute(sa.select(AuditEntry.action).where(AuditEntry.object_type == "facility",
                                                                    AuditEntry.object_id == str(fid))
                                 .order_by(AuditEntry.id)).scalars().all()
    assert actions == ["life_circle.facility.create", "life_circle.facility.update", "life_circle.facility.close"]


def test_bad_facility_names_the_field_and_writes_nothing(client, place, people):
    before = db.session.execute(sa.select(sa.func.count(Facility.id))).scalar_one()
    response = client.post("/api/v1/facilities", json=body(neighbourhood_id=place.nb.id,
                                                           hours={"weekly": {"mon": [["25:00", "26:00"]]}}),
                           headers=auth(people.staff))
    assert response.status_code == 422 and "hours.weekly.mon[0][0]" in json.dumps(response.json["errors"])
    response = client.post("/api/v1/facilities", json=body(neighbourhood_id=place.nb.id, category="spa"),
                           headers=auth(people.staff))
    assert response.status_code == 422 and "category" in response.json["errors"]["json"]
    assert db.session.execute(sa.select(sa.func.count(Facility.id))).scalar_one() == before


CSV = """external_id,name,category,subtype,lat,lng,datum,street_code,neighbourhood_code,target_groups,hours,accessible
WL-1,香泉智助食堂,meal,智助食堂,{lat1},{lng},gcj02,,{nb},elder|everyone,mon-fri 10:30-13:00,是
WL-2,万里社区卫生服务中心,health,社区卫生服务中心,{lat2},{lng},gcj02,{street},,everyone,24h,false
"""


def _csv(place, extra: str = ""):
    return CSV.format(lat1=north(LAT, 100), lat2=north(LAT, 600), lng=LNG, nb=place.nb.code,
                      street=place.street.code) + extra


def test_import_is_all_or_nothing_with_a_report(client, place, people):
    bad = _csv(place, "WL-3,,meal,,91,121.4,gcj02,,,,,\nWL-1,重复,spa,,31.2,121.4,gcj02,,{},,,\n".format(place.nb.code))
    response = client.post("/api/v1/facilities/import", json={"format": "csv", "data": bad},
                           headers=auth(people.street_admin))
    assert response.status_code == 422
    report = response.json["errors"]["report"]
    problems = {(e["row"], e["field"]) for e in report["errors"]}
    assert {(3, "name"), (3, "lat"), (4, "external_id"), (4, "category")} <= problems
    assert report["errors"][0]["where"] == "line 4"
    assert db.session.execute(sa.select(sa.func.count(Facility.id))).scalar_one() == 0
    skipped = client.post("/api/v1/facilities/import", json={"format": "csv", "data": bad, "skip_invalid": True},
                          headers=auth(people.street_admin)).json
    assert skipped["created"] == 2 and skipped["skipped"] == 2 and skipped["applied"] is True


def test_reimport_changes_nothing_and_export_round_trips(client, place, people):
    headers = auth(people.street_admin)
    first = client.post("/api/v1/facilities/import", json={"format": "csv", "data": _csv(place)}, headers=headers).json
    assert (first["created"], first["updated"], first["unchanged"]) == (2, 0, 0)
    versions = dict(db.session.execute(sa.select(Facility.external_id, Facility.version)).all())
    again = client.post("/api/v1/facilities/import", json={"format": "csv", "data": _csv(place)}, headers=headers).json
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert dict(db.session.execute(sa.select(Facility.external_id, Facility.version)).all()) == versions
    meal = db.session.execute(sa.select(Facility).where(Facility.external_id == "WL-1")).scalar_one()
    assert meal.neighbourhood_id == place.nb.id and meal.accessible is True
    assert meal.hours["weekly"]["fri"] == [["10:30", "13:00"]]
    exported = client.get("/api/v1/facilities/export", headers=headers)
    assert exported.status_code == 200 and exported.mimetype == "application/geo+json"
    doc = exported.get_json(force=True)
    assert len(doc["features"]) == 2 and doc["datum"] == "wgs84"
    back = client.post("/api/v1/facilities/import", json={"format": "geojson", "data": json.dumps(doc)},
                       headers=headers).json
    assert (back["created"], back["updated"], back["unchanged"]) == (0, 0, 2)
    # A changed name in the file is one update.
    doc["features"][0]["properties"]["name"] = "香泉智助食堂（新址）"
    changed = client.post("/api/v1/facilities/import", json={"format": "geojson", "data": json.dumps(doc)},
                          headers=headers).json
    assert (changed["updated"], changed["unchanged"]) == (1, 1)


def test_import_outside_scope_is_reported(client, place, people):
    response = client.post("/api/v1/facilities/import", json={"format": "csv", "data": _csv(place)},
                           headers=auth(people.far_staff))
    assert response.status_code == 422
    fields = {(e["row"], e["field"]) for e in response.json["errors"]["report"]["errors"]}
    assert fields == {(1, "neighbourhood_code"), (2, "street_code")}


def test_coverage_endpoints_json_csv_geojson(client, place, people):
    make_facility(category="meal", lat=north(LAT, 100), lng=LNG, street_id=place.street.id)
    db.session.commit()
    headers = auth(people.street_admin)
    estate = client.get(f"/api/v1/estates/{place.lc_estate.id}/life-circle", headers=headers)
    assert estate.status_code == 200
    meal = next(c for c in estate.json["categories"] if c["category"] == "meal")
    assert meal["covered"] is True and meal["nearest"]["walk_m"] == 130
    street = client.get(f"/api/v1/streets/{place.street.id}/life-circle", headers=headers)
    assert street.status_code == 200
    cats = {c["category"]: c for c in street.json["categories"]}
    assert cats["meal"]["estate_share"] == {"numerator": 1, "denominator": 1, "rate": 100.0}
    assert cats["meal"]["household_share"] == {"numerator": 20, "denominator": 20, "rate": 100.0}
    assert street.json["formulas"]["estate_share"]
    csv_response = client.get(f"/api/v1/streets/{place.street.id}/life-circle?format=csv", headers=headers)
    assert csv_response.status_code == 200 and csv_response.mimetype == "text/csv"
    csv_text = csv_response.get_data(as_text=True)
    assert "香泉新苑" in csv_text
    # The marks are explained in the file itself.
    note = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))[-1]
    assert note[1].startswith("说明") and "*" in note[1] and "已覆盖" in note[1]
    geo = client.get(f"/api/v1/streets/{place.street.id}/life-circle?format=geojson", headers=headers)
    assert geo.status_code == 200 and geo.get_json(force=True)["features"][0]["properties"]["name"] == "香泉新苑"
    # Neighbourhood staff may see their estate's street and estate.
    assert client.get(f"/api/v1/estates/{place.lc_estate.id}/life-circle",
                      headers=auth(people.staff)).status_code == 200


def test_network_walk_import(client, place, people):
    f = make_facility(category="meal", lat=north(LAT, 300), lng=LNG, street_id=place.street.id, external_id="M-1")
    db.session.commit()
    data = f"estate_code,facility_external_id,walk_m,walk_s_standard,walk_s_elder\n{place.lc_estate.code},M-1,350,330,\n"
    response = client.post("/api/v1/facility-walks/import", json={"data": data, "graph_version": "osm-2026-11"},
                           headers=auth(people.street_admin))
    assert response.status_code == 200 and response.json["created"] == 1
    again = client.post("/api/v1/facility-walks/import", json={"data": data, "graph_version": "osm-2026-11"},
                        headers=auth(people.street_admin)).json
    assert again["unchanged"] == 1
    found = client.get(f"/api/v1/facilities/nearby?estate_id={place.lc_estate.id}&category=meal",
                       headers=auth(people.resident)).json["items"]
    assert [(i["id"], i["walk_m"], i["walk_minutes"], i["walk_method"]) for i in found] == [(f.id, 350, 6, "network")]
    bad = client.post("/api/v1/facility-walks/import", json={"data": data.replace("M-1", "M-404")},
                      headers=auth(people.street_admin))
    assert bad.status_code == 422
    assert bad.json["errors"]["report"]["errors"][0]["field"] == "facility_external_id"


def test_an_edit_shows_in_nearby_at_once(client, place, people):
    """The nearby list caches each facility's fixed fields by (id, version): every change raises the version,
    so the next lookup — in this worker or any other — reads the changed row."""
    clock.set_now(datetime(2026, 11, 20, 9, tzinfo=SHANGHAI))   # a Friday morning
    f = make_facility(category="meal", lat=north(LAT, 100), lng=LNG, street_id=place.street.id, hours=OFFICE,
                      name="香泉食堂")
    db.session.commit()
    url = f"/api/v1/facilities/nearby?lat={LAT}&lng={LNG}&category=meal"

    def listed():
        response = client.get(url, headers=auth(people.resident))
        assert response.status_code == 200, response.json
        return response.json["items"]

    first = listed()
    assert [(i["id"], i["name"], i["open_now"], i["walk_m"]) for i in first] == [(f.id, "香泉食堂", True, 130)]
    assert listed() == first and queries.STATIC_CACHE.get((f.id, 1)) is not None
    changed = client.patch(f"/api/v1/facilities/{f.id}", headers=auth(people.street_admin), json={
        "name": "香泉长者食堂", "external_id": "XQ-MEAL-1", "lat": north(LAT, 200), "lng": LNG, "target_groups": ["elder"],
        "hours": {"weekly": {"sat": [["09:00", "12:00"]]}}})
    assert changed.status_code == 200 and changed.json["version"] == 2
    # The old version's entry is still there (as in a worker that has not seen the edit), and not used.
    assert queries.STATIC_CACHE.get((f.id, 1)) is not None
    item, = listed()
    assert (item["name"], item["walk_m"], item["target_groups"], item["open_now"], item["next_open_at"]) == (
        "香泉长者食堂", 260, ["elder"], False, "2026-11-21T09:00:00+08:00")
    assert client.get(url + "&target_group=child", headers=auth(people.resident)).json["items"] == []
    assert client.get(url + "&open_now=false", headers=auth(people.resident)).json["items"][0]["id"] == f.id
    # An import that changes the row, then closing it: each is seen by the next lookup.
    export = client.get("/api/v1/facilities/export?datum=gcj02", headers=auth(people.street_admin)).json
    feature = next(x for x in export["features"] if x["id"] == f.id)
    feature["properties"]["name"] = "香泉长者助餐点"
    imported = client.post("/api/v1/facilities/import", headers=auth(people.street_admin), json={
        "format": "geojson", "data": json.dumps({**export, "features": [feature]})})
    assert imported.status_code == 200 and imported.json["updated"] == 1, imported.json
    assert listed()[0]["name"] == "香泉长者助餐点"
    assert client.post(f"/api/v1/facilities/{f.id}/close", headers=auth(people.street_admin), json={}).status_code == 200
    assert listed() == []


def test_coverage_csv_neutralises_formula_cells(client, place, people):
    make_facility(category="meal", lat=north(LAT, 100), lng=LNG, street_id=place.street.id)
    place.lc_estate.name = '=HYPERLINK("http://evil.example","香泉新苑")'
    place.lc_estate.code = "-lc-1"
    db.session.commit()
    response = client.get(f"/api/v1/streets/{place.street.id}/life-circle?format=csv",
                          headers=auth(people.street_admin))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    estate = next(row for row in rows if "香泉新苑" in row[1])
    assert estate[:2] == ["'-lc-1", "'" + place.lc_estate.name]
    assert not any(value.startswith(("=", "+", "-", "@")) for row in rows for value in row)


def _feature(place, **props):
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [LNG, north(LAT, 100)]},
            "properties": {"external_id": "GJ-1", "name": "香泉助餐点", "category": "meal",
                           "neighbourhood_code": place.nb.code, **props}}


@pytest.mark.parametrize("field, value", [
    ("external_id", ["a"]), ("external_id", {"id": "a"}), ("external_id", True),
    ("street_code", ["s"]), ("neighbourhood_code", {"code": "n"}), ("category", ["meal"]), ("datum", ["wgs84"]),
    ("coord_source", ["survey"]), ("status", {"open": True}), ("name", ["香泉"]), ("phone", {"n": 1}),
])
def test_geojson_import_with_a_non_scalar_property_names_the_field(client, place, people, field, value):
    good = _feature(place, external_id="GJ-0")
    bad = _feature(place, **{field: value})
    doc = {"type": "FeatureCollection", "datum": "gcj02", "features": [good, bad]}
    headers = auth(people.street_admin)
    response = client.post("/api/v1/facilities/import", json={"format": "geojson", "data": json.dumps(doc)},
                           headers=headers)
    assert response.status_code == 422, response.json
    report = response.json["errors"]["report"]
    assert {(e["row"], e["field"]) for e in report["errors"]} == {(2, field)}
    assert report["errors"][0]["where"] == "features[1]"
    assert db.session.execute(sa.select(sa.func.count(Facility.id))).scalar_one() == 0
    skipped = client.post("/api/v1/facilities/import", headers=headers, json={
        "format": "geojson", "data": json.dumps(doc), "skip_invalid": True})
    assert skipped.status_code == 200 and (skipped.json["created"], skipped.json["skipped"]) == (1, 1)


def test_geojson_numeric_external_id_is_text_and_reimports_unchanged(client, place, people):
    doc = {"type": "FeatureCollection", "datum": "gcj02", "features": [_feature(place, external_id=10086)]}
    headers = auth(people.street_admin)
    first = client.post("/api/v1/facilities/import", json={"format": "geojson", "data": json.dumps(doc)},
                        headers=headers)
    assert first.status_code == 200 and first.json["created"] == 1, first.json
    again = client.post("/api/v1/facilities/import", json={"format": "geojson", "data": json.dumps(doc)},
                        headers=headers)
    assert again.status_code == 200, again.json
    assert (again.json["created"], again.json["updated"], again.json["unchanged"]) == (0, 0, 1)
    assert db.session.execute(sa.select(Facility.external_id)).scalar_one() == "10086"


def test_geojson_import_with_a_huge_integer_coordinate_names_the_geometry(client, place, people):
    huge = "1" + "0" * 400
    text = json.dumps({"type": "FeatureCollection", "datum": "gcj02", "features": [_feature(place)]})
    text = text.replace(json.dumps([LNG, north(LAT, 100)]), f"[{huge}, 31.27]")
    assert huge in text
    response = client.post("/api/v1/facilities/import", json={"format": "geojson", "data": text},
                           headers=auth(people.street_admin))
    assert response.status_code == 422, response.json
    assert "geometry" in {e["field"] for e in response.json["errors"]["report"]["errors"]}
    created = client.post("/api/v1/facilities", headers=auth(people.street_admin),
                          json=body(lat=int(huge), lng=LNG, street_id=place.street.id))
    assert created.status_code == 422, created.json
