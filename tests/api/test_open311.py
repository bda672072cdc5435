"""Open311 GeoReport v2 at /open311/v2: every resource in .json and .xml (parsed with json and
xml.etree.ElementTree, and the two formats compared), errors in the spec's format, partner keys
(issued by admins, stored hashed, revocable), and nothing about the reporter ever leaving."""
from __future__ import annotations

import hashlib
import math
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from api.extensions import limiter
from models.audit import AuditEntry
from models.base import db
from models.cases import Case, CaseEvent, CasePhoto, Open311Key
from models.uploads import Upload
from service import clock, geo, people as people_service, storage, uploads
from service.cases import open311, rules
from service.clock import SHANGHAI
from tests.factories import auth, make_user, make_world

BASE = "/open311/v2"
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
LISTS = {"services", "service_requests", "errors", "attributes", "values", "endpoints", "formats"}
HERE = (31.2702, 121.4101)  # GCJ-02, at the neighbourhood 香泉路居民区
HERE_WGS = geo.gcj02_to_wgs84(*HERE)
NAME, PHONE = "王秀英", "13812345678"
NAME2, PHONE2 = "张建国", "13900000002"
NOW = datetime(2026, 11, 20, 10, tzinfo=SHANGHAI)  # a Friday


# --- parsing both formats into one shape ----------------------------------------------------------------------

def from_xml(element: ET.Element):
    if element.tag in LISTS:
        return [from_xml(child) for child in element]
    children = list(element)
    if not children:
        return element.text or ""
    return {child.tag: from_xml(child) for child in children}


def as_text(value):
    """JSON as the XML carries it: every scalar a string, null and absent as empty."""
    if isinstance(value, list):
        return [as_text(v) for v in value]
    if isinstance(value, dict):
        return {k: as_text(v) for k, v in value.items()}
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fetch(client, path: str, fmt: str, *, root: str, method: str = "GET", status: int = 200, **kwargs):
    """Call ``{BASE}/{path}.{fmt}``; check the status and content type; parse the body with the
    format's own parser; return it with every scalar as text, so both formats compare equal."""
    response = client.open(f"{BASE}/{path}.{fmt}", method=method, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == CONTENT_TYPES[fmt]
    if fmt == "json":
        return as_text(json.loads(response.get_data(as_text=True)))
    assert response.data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    element = ET.fromstring(response.data)
    assert element.tag == root
    return from_xml(element)


def both(client, path: str, *, root: str, **kwargs):
    """The same resource in both formats: parsed, compared, returned once."""
    as_json = fetch(client, path, "json", root=root, **kwargs)
    as_xml = fetch(client, path, "xml", root=root, **kwargs)
    assert as_json == as_xml
    return as_json


def assert_error(client, path: str, fmt: str, status: int, method: str = "GET", **kwargs) -> str:
    """An error in Open311's format ([{"code", "description"}] / errors/error), not the app's envelope."""
    errors = fetch(client, path, fmt, root="errors", method=method, status=status, **kwargs)
    assert isinstance(errors, list) and len(errors) == 1
    assert set(errors[0]) == {"code", "description"}
    assert errors[0]["code"] == str(status) and errors[0]["description"]
    return errors[0]["description"]


# --- fixtures -------------------------------------------------------------------------------------------------

@pytest.fixture(params=["json", "xml"])
def fmt(request):
    return request.param


@pytest.fixture
def place():
    world = make_world()
    world.nb.lat, world.nb.lng = HERE
    world.nb2.lat, world.nb2.lng = 31.2800, 121.4200
    world.far_nb.lat, world.far_nb.lng = 31.2500, 121.4400
    world.estate.lat, world.estate.lng = 31.2705, 121.4103
    db.session.commit()
    return world


@pytest.fixture
def people(place):
    class People:
        resident = make_user(name=NAME, phone=PHONE, neighbourhood_id=place.nb.id)
        neighbour = make_user(name=NAME2, phone=PHONE2, neighbourhood_id=place.nb.id)
        staff = make_user(name="李", roles=[("staff", "neighbourhood", place.nb.id)])
        far_staff = make_user(name="吴", roles=[("staff", "neighbourhood", place.far_nb.id)])
        admin = make_user(name="管理员", roles=[("admin", "district", place.district.id)])
    return People


@pytest.fixture
def partner(people):
    """A partner key issued through the admin API: (key id, plaintext)."""
    response = issue(people.admin)
    assert response.status_code == 201, response.json
    return response.json["id"], response.json["key"]


def issue(user, partner_name="普陀区12345热线"):
    from flask import current_app

    return current_app.test_client().post("/api/v1/open311-keys", json={"partner": partner_name}, headers=auth(user))


def report(client, user, category="corridor_clutter", at=HERE, **overrides):
    body = {"category": category, "description": "3号楼楼道堆满纸箱", "location": {"lat": at[0], "lng": at[1]},
            **overrides}
    response = client.post("/api/v1/cases", json=body, headers=auth(user))
    assert response.status_code == 201, response.json
    return response.json


def act(client, user, case_id, action, **payload):
    response = client.post(f"/api/v1/cases/{case_id}/actions", json={"action": action, **payload},
                           headers=auth(user))
    assert response.status_code == 200, response.json
    return response.json


def close(client, staff, case_id, reply="纸箱已清理，楼道恢复通畅"):
    act(client, staff, case_id, "accept")
    act(client, staff, case_id, "contact", method="phone", note="已电话联系诉求人")
    act(client, staff, case_id, "start")
    act(client, staff, case_id, "resolve", outcome="solved", reply=reply)
    return act(client, staff, case_id, "close")


def post_request(client, fmt, key, status=200, **fields):
    data = {"api_key": key, "service_code": "corridor_clutter", "lat": str(HERE_WGS[0]),
            "long": str(HERE_WGS[1]), "description": "5号楼门口堆放建筑垃圾", **fields}
    data = {k: v for k, v in data.items() if v is not None}
    return fetch(client, "requests", fmt, root="service_requests" if status == 200 else "errors", method="POST",
                 status=status, data=data)


def count_cases() -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one()


# --- discovery and services -----------------------------------------------------------------------------------

def test_discovery_in_both_formats(client):
    discovery = both(client, "discovery", root="discovery")
    assert set(discovery) == {"changeset", "contact", "key_service", "endpoints"}
    assert discovery["changeset"] and discovery["contact"] and discovery["key_service"]
    [endpoint] = discovery["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://localhost/open311/v2"
    assert endpoint["type"] in ("production", "test")
    assert endpoint["formats"] == ["text/xml", "application/json"]


def test_services_are_the_public_categories_only(client):
    services = both(client, "services", root="services")
    codes = [s["service_code"] for s in services]
    assert codes == [c.code for c in rules.categories() if c.public]
    assert "group_renting" not in codes and "consultation" not in codes
    assert rules.category("group_renting").public is False and rules.category("consultation").public is False
    by_code = {s["service_code"]: s for s in services}
    assert set(by_code["elevator"]) == {"service_code", "service_name", "description", "metadata", "type",
                                        "keywords", "group"}
    assert by_code["elevator"]["metadata"] == "true" and by_code["corridor_clutter"]["metadata"] == "false"
    assert by_code["elevator"]["service_name"] == "电梯故障" and by_code["elevator"]["group"] == "房屋土地"
    assert {s["type"] for s in services} == {"realtime"}
    english = both(client, "services", root="services", headers={"Accept-Language": "en"})
    assert {s["service_code"]: s["service_name"] for s in english}["elevator"] == "Lift out of order"


def test_service_definitions_list_their_attributes(client):
    elevator = both(client, "services/elevator", root="service_definition")
    assert elevator == {"service_code": "elevator", "attributes": [{
        "variable": "true", "code": "building", "datatype": "string", "required": "true",
        "datatype_description": "", "order": "1", "description": "楼号", "values": []}]}
    streetlight = both(client, "services/streetlight", root="service_definition", query_string={"metadata": "true"})
    [attribute] = streetlight["attributes"]
    assert attribute["code"] == "light_id" and attribute["required"] == "false"
    assert both(client, "services/noise", root="service_definition")["attributes"] == []
    raw = client.get(f"{BASE}/services/elevator.json").get_json()
    assert raw["attributes"][0]["required"] is True and raw["attributes"][0]["order"] == 1


@pytest.mark.parametrize("code", ["group_renting", "consultation", "no_such_service"])
def test_private_and_unknown_services_are_404(client, fmt, code):
    assert_error(client, f"services/{code}", fmt, 404)


# --- filing requests -----------------------------------------------------------------------------------------

def test_post_with_a_valid_key_files_a_case_in_the_staff_queue(client, fmt, place, people, partner):
    key_id, key = partner
    clock.set_now(NOW)
    answer = post_request(client, fmt, key, service_code="elevator", **{"attribute[building]": "5号楼"},
                          email="zhang@example.com", first_name="建国", last_name="张", phone="13900000009",
                          device_id="dev-1", account_id="acct-7", media_url="http://example.com/a.jpg")
    [created] = answer
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    assert created["account_id"] == "" and created["service_notice"]
    case = db.session.execute(sa.select(Case).where(Case.number == created["service_request_id"])).scalar_one()
    assert case.source == "open311" and case.partner_id == key_id and case.reporter_user_id is None
    assert case.category_code == "elevator" and case.attributes == {"building": "5号楼"}
    assert case.status == "dispatched" and case.neighbourhood_id == place.nb.id
    assert geo.distance_m(case.lat, case.lng, *HERE) < 0.01  # WGS-84 in, GCJ-02 stored
    # The staff of that neighbourhood see it in their queue; others do not.
    queue = client.get("/api/v1/cases", headers=auth(people.staff)).json["items"]
    assert created["service_request_id"] in [item["number"] for item in queue]
    far = client.get("/api/v1/cases", headers=auth(people.far_staff)).json["items"]
    assert created["service_request_id"] not in [item["number"] for item in far]
    # The submitter's personal details were not kept anywhere.
    events = db.session.execute(sa.select(CaseEvent).where(CaseEvent.case_id == case.id)).scalars().all()
    stored = json.dumps([[getattr(case, c.key) for c in Case.__table__.columns],
                         [[e.note, e.data, e.actor_user_id] for e in events]], default=str, ensure_ascii=False)
    for secret in ("zhang@example.com", "建国", "13900000009", "dev-1", "acct-7", "example.com/a.jpg"):
        assert secret not in stored
    assert events[0].action == "submit" and events[0].actor_user_id is None
    key_row = db.session.get(Open311Key, key_id)
    assert key_row.last_used_at is not None
    # The new request can be read back.
    [read] = fetch(client, f"requests/{created['service_request_id']}", fmt, root="service_requests")
    assert read["status"] == "open" and read["service_code"] == "elevator"


def test_an_address_naming_a_known_estate_is_routed_there(client, fmt, place, partner):
    [created] = post_request(client, fmt, partner[1], lat=None, long=None, address_string="香泉苑5号楼门口")
    case = db.session.execute(sa.select(Case).where(Case.number == created["service_request_id"])).scalar_one()
    assert case.address == "香泉苑5号楼门口" and case.neighbourhood_id == place.nb.id


@pytest.mark.parametrize("key", ["missing", "empty", "wrong", "revoked"])
def test_a_bad_missing_or_revoked_key_is_403(client, fmt, people, partner, key):
    key_id, plaintext = partner
    if key == "revoked":
        response = client.post(f"/api/v1/open311-keys/{key_id}/revoke", headers=auth(people.admin))
        assert response.status_code == 200 and response.json["revoked_at"] is not None
    value = {"missing": None, "empty": "", "wrong": plaintext[:-1] + ("x" if plaintext[-1] != "x" else "y"),
             "revoked": plaintext}[key]
    [error] = post_request(client, fmt, value, status=403)
    assert "api_key" in error["description"]
    assert count_cases() == 0


def test_the_api_key_is_checked_before_anything_else(client, fmt, place):
    [error] = post_request(client, fmt, "nope", status=403, service_code=None, lat=None, long=None)
    assert error["code"] == "403"


@pytest.mark.parametrize("fields, status, named", [
    ({"service_code": "no_such_service"}, 404, "service_code"),
    ({"service_code": "group_renting"}, 404, "service_code"),  # private: as if it did not exist
    ({"service_code": None}, 400, "service_code"),
    ({"service_code": ""}, 400, "service_code"),  # empty = absent
    ({"lat": None, "long": None}, 400, "location"),
    ({"long": None}, 400, "lat"),
    ({"lat": "north"}, 400, "lat"),
    ({"lat": "nan"}, 400, "lat"),
    ({"lat": "95", "long": "121.4"}, 400, "lat"),
    ({"lat": None, "long": None, "address_id": "A-1"}, 400, "address_id"),
    ({"lat": None, "long": None, "address_string": "某某路1号"}, 400, "address_string"),
    ({"lat": "30.0", "long": "120.0"}, 400, "location"),  # outside the streets served
    ({"description": None}, 400, "description"),
    ({"description": "x" * 4001}, 400, "description"),
    ({"service_code": "elevator"}, 400, "building"),  # a required attribute is missing
    ({"attribute[colour]": "red"}, 400, "colour"),
    ({"jurisdiction_id": "nyc.gov"}, 404, "jurisdiction_id"),
    ({"description": "楼道\x00堆物"}, 400, "description"),
    ({"service_code": "elevator", "attribute[building][]": ["5号楼", "6号楼"]}, 400, "building"),
])
def test_bad_requests_are_refused_in_the_spec_format(client, fmt, place, partner, fields, status, named):
    [error] = post_request(client, fmt, partner[1], status=status, **fields)
    assert error["code"] == str(status) and named in error["description"]
    assert count_cases() == 0


def test_a_known_jurisdiction_id_is_accepted(client, fmt, place, partner):
    [created] = post_request(client, fmt, partner[1], jurisdiction_id="linli.sh.cn")
    assert created["service_request_id"]
    both(client, "services", root="services", query_string={"jurisdiction_id": "linli.sh.cn"})
    both(client, "services", root="services", query_string={"jurisdiction_id": ""})  # empty = absent
    assert_error(client, "requests", fmt, 404, query_string={"jurisdiction_id": "sfgov.org"})


def test_posts_are_rate_limited_in_the_spec_format(app, client, fmt, place, partner):
    previous = app.config["RATELIMIT_CREATE"]
    app.config["RATELIMIT_CREATE"] = "2 per minute"
    limiter.reset()
    try:
        post_request(client, fmt, partner[1])
        post_request(client, fmt, partner[1])
        [error] = post_request(client, fmt, partner[1], status=429)
        assert error["code"] == "429"
        assert both(client, "services", root="services")  # reads are not limited
    finally:
        app.config["RATELIMIT_CREATE"] = previous
        limiter.reset()


# --- reading requests ----------------------------------------------------------------------------------------

@pytest.fixture
def cases(client, place, people):
    """Cases at several times, states, categories and places."""
    clock.set_now(NOW - timedelta(days=120))
    old = report(client, people.resident, description="很久以前的堆物")
    clock.set_now(NOW - timedelta(days=10))
    closed = report(client, people.resident, description="已办结的堆物")
    close(client, people.staff, closed["id"])
    clock.set_now(NOW - timedelta(days=5))
    noise = report(client, people.neighbour, category="noise", description="夜间施工噪声")
    far = report(client, people.neighbour, category="noise", description="另一处噪声", at=(31.2500, 121.4400))
    private = report(client, people.resident, category="group_renting", description="群租房")
    rejected = report(client, people.resident, description="不属于受理范围")
    act(client, people.staff, rejected["id"], "reject", reason="不属于受理范围")
    clock.set_now(NOW)
    fresh = report(client, people.resident, description="刚刚发现的堆物")
    return {"old": old, "closed": closed, "noise": noise, "far": far, "private": private, "rejected": rejected,
            "fresh": fresh}


def numbers(items) -> list[str]:
    return [item["service_request_id"] for item in items]


def test_requests_default_to_the_last_90_days_newest_first(client, cases):
    items = both(client, "requests", root="service_requests")
    assert numbers(items) == [cases[k]["number"] for k in ("fresh", "far", "noise", "closed")]
    fields = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
              "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
              "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}
    assert all(set(item) == fields for item in items)


def test_private_rejected_and_unknown_requests_are_never_shown(client, fmt, cases):
    listed = numbers(both(client, "requests", root="service_requests"))
    asked = ",".join(cases[k]["number"] for k in ("private", "rejected", "fresh"))
    by_id = numbers(both(client, "requests", root="service_requests", query_string={"service_request_id": asked}))
    for hidden in ("private", "rejected"):
        assert cases[hidden]["number"] not in listed and cases[hidden]["number"] not in by_id
        assert_error(client, f"requests/{cases[hidden]['number']}", fmt, 404)
    assert by_id == [cases["fresh"]["number"]]
    assert_error(client, "requests/WL20990101-9999", fmt, 404)
    assert_error(client, "services/group_renting", fmt, 404)
    assert_error(client, "requests", fmt, 400, query_string={"service_code": "group_renting"})


def test_status_mapping_and_status_notes(client, cases):
    items = {i["service_request_id"]: i for i in both(client, "requests", root="service_requests")}
    closed = items[cases["closed"]["number"]]
    assert closed["status"] == "closed" and closed["status_notes"] == "纸箱已清理，楼道恢复通畅"
    assert datetime.fromisoformat(closed["updated_datetime"]) == datetime.fromisoformat(
        db.session.get(Case, cases["closed"]["id"]).closed_at.isoformat())
    fresh = items[cases["fresh"]["number"]]
    assert fresh["status"] == "open" and fresh["status_notes"] == ""
    open_only = both(client, "requests", root="service_requests", query_string={"status": "open"})
    assert numbers(open_only) == [cases[k]["number"] for k in ("fresh", "far", "noise")]
    closed_only = both(client, "requests", root="service_requests", query_string={"status": "closed"})
    assert numbers(closed_only) == [cases["closed"]["number"]]
    either = both(client, "requests", root="service_requests", query_string={"status": "open,closed"})
    assert len(either) == 4


def test_status_notes_are_public_staff_notes_only(client, place, people, cases):
    case_id = cases["fresh"]["id"]
    act(client, people.staff, case_id, "comment", note="内部备注：诉求人情绪激动")  # internal
    items = {i["service_request_id"]: i for i in both(client, "requests", root="service_requests")}
    assert items[cases["fresh"]["number"]]["status_notes"] == ""
    act(client, people.staff, case_id, "comment", note="已通知物业本周清理", public=True)
    items = {i["service_request_id"]: i for i in both(client, "requests", root="service_requests")}
    assert items[cases["fresh"]["number"]]["status_notes"] == "已通知物业本周清理"


def test_filters_by_service_code_and_date_range(client, fmt, cases):
    noise = both(client, "requests", root="service_requests", query_string={"service_code": "noise"})
    assert numbers(noise) == [cases["far"]["number"], cases["noise"]["number"]]
    two = both(client, "requests", root="service_requests", query_string={"service_code": "noise,corridor_clutter"})
    assert len(two) == 4
    window = {"start_date": (NOW - timedelta(days=130)).isoformat(), "end_date": (NOW - timedelta(days=60)).isoformat()}
    assert numbers(both(client, "requests", root="service_requests", query_string=window)) == [cases["old"]["number"]]
    utc = {"start_date": "2026-11-09T00:00:00Z", "end_date": "2026-11-12T00:00:00Z"}
    assert numbers(both(client, "requests", root="service_requests", query_string=utc)) == [cases["closed"]["number"]]
    only_start = {"start_date": (NOW - timedelta(days=6)).isoformat()}
    assert len(both(client, "requests", root="service_requests", query_string=only_start)) == 3
    too_long = {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-06-01T00:00:00+08:00"}
    assert "90" in assert_error(client, "requests", fmt, 400, query_string=too_long)
    backwards = {"start_date": "2026-11-10T00:00:00+08:00", "end_date": "2026-11-01T00:00:00+08:00"}
    assert_error(client, "requests", fmt, 400, query_string=backwards)
    assert "start_date" in assert_error(client, "requests", fmt, 400, query_string={"start_date": "yesterday"})
    assert_error(client, "requests", fmt, 400, query_string={"status": "pending"})
    assert_error(client, "requests", fmt, 400, query_string={"service_code": "no_such_service"})


def test_service_request_ids_override_every_other_filter(client, cases):
    asked = f"{cases['old']['number']}, {cases['noise']['number']}"
    items = both(client, "requests", root="service_requests",
                 query_string={"service_request_id": asked, "status": "closed", "service_code": "dust",
                               "start_date": "2020-01-01T00:00:00Z"})
    assert numbers(items) == [cases["noise"]["number"], cases["old"]["number"]]


def test_bounding_box_in_wgs84(client, fmt, cases):
    sw = geo.gcj02_to_wgs84(31.2690, 121.4090)
    ne = geo.gcj02_to_wgs84(31.2720, 121.4120)
    box = {"lat_ne": ne[0], "long_ne": ne[1], "lat_sw": sw[0], "long_sw": sw[1]}
    inside = both(client, "requests", root="service_requests", query_string=box)
    assert numbers(inside) == [cases[k]["number"] for k in ("fresh", "noise", "closed")]
    far = geo.gcj02_to_wgs84(31.2500, 121.4400)
    around_far = {"lat_ne": far[0] + 0.001, "long_ne": far[1] + 0.001, "lat_sw": far[0] - 0.001,
                  "long_sw": far[1] - 0.001}
    assert numbers(both(client, "requests", root="service_requests", query_string=around_far)) == [
        cases["far"]["number"]]
    assert_error(client, "requests", fmt, 400, query_string={"lat_ne": ne[0], "long_ne": ne[1]})
    upside_down = {"lat_ne": sw[0], "long_ne": sw[1], "lat_sw": ne[0], "long_sw": ne[1]}
    assert_error(client, "requests", fmt, 400, query_string=upside_down)


def test_pages(client, fmt, cases):
    everything = numbers(both(client, "requests", root="service_requests"))
    pages = [numbers(both(client, "requests", root="service_requests", query_string={"page": p, "page_size": 3}))
             for p in (1, 2, 3)]
    assert pages[0] == everything[:3] and pages[1] == everything[3:] and pages[2] == []
    assert_error(client, "requests", fmt, 400, query_string={"page_size": 1001})
    assert_error(client, "requests", fmt, 400, query_string={"page_size": 0})
    assert_error(client, "requests", fmt, 400, query_string={"page": "-1"})
    assert_error(client, "requests", fmt, 400, query_string={"page": "two"})


def test_one_request_in_both_formats(client, place, cases):
    [item] = both(client, f"requests/{cases['fresh']['number']}", root="service_requests")
    case = db.session.get(Case, cases["fresh"]["id"])
    assert item["service_request_id"] == case.number and item["status"] == "open"
    assert item["service_code"] == "corridor_clutter" and item["service_name"] == "楼道堆物"
    assert item["description"] == "刚刚发现的堆物" and item["agency_responsible"] == "香泉路居委会"
    assert item["requested_datetime"] == "2026-11-20T10:00:00+08:00"
    assert item["address_id"] == "" and item["zipcode"] == "" and item["media_url"] == ""
    assert item["service_notice"] == "5个工作日内首次处置"


def test_lat_long_are_wgs84(client, cases):
    [item] = both(client, f"requests/{cases['fresh']['number']}", root="service_requests")
    case = db.session.get(Case, cases["fresh"]["id"])
    lat, lng = geo.gcj02_to_wgs84(case.lat, case.lng)
    assert float(item["lat"]) == round(lat, 3) and float(item["long"]) == round(lng, 3)
    assert geo.distance_m(float(item["lat"]), float(item["long"]), case.lat, case.lng) > 100  # not the GCJ-02 point
    raw = client.get(f"{BASE}/requests/{case.number}.json").get_json()[0]
    assert isinstance(raw["lat"], float) and isinstance(raw["long"], float)


def test_expected_datetime_is_the_handling_deadline(client, people, cases):
    [item] = both(client, f"requests/{cases['fresh']['number']}", root="service_requests")
    case = db.session.get(Case, cases["fresh"]["id"])
    expected = datetime.fromisoformat(item["expected_datetime"])
    assert expected == case.handle_due_at == datetime(2026, 11, 27, 23, 59, 59, tzinfo=SHANGHAI)
    assert item["expected_datetime"] == "2026-11-27T23:59:59+08:00"
    # An approved extension moves it.
    head = make_user(name="周主任")
    from models.people import RoleAssignment

    db.session.add(RoleAssignment(user_id=head.id, role="staff", scope_type="neighbourhood",
                                  scope_id=case.neighbourhood_id, title="nc_head"))
    db.session.commit()
    act(client, people.staff, case.id, "accept")
    act(client, people.staff, case.id, "request_extension", reason="需协调物业", working_days=3)
    act(client, head, case.id, "approve_extension")
    [item] = both(client, f"requests/{case.number}", root="service_requests")
    db.session.refresh(case)
    assert datetime.fromisoformat(item["expected_datetime"]) == case.handle_due_at == datetime(
        2026, 12, 2, 23, 59, 59, tzinfo=SHANGHAI)


def test_media_url_is_the_first_report_photo(client, cases):
    case = db.session.get(Case, cases["fresh"]["id"])
    uploads = []
    for index in range(2):
        upload = Upload(owner_user_id=case.reporter_user_id, content_type="image/jpeg", width=1, height=1, size=3,
                        sha256=f"{index:064d}", data=b"abc", attached_to=f"case:{case.id}")
        db.session.add(upload)
        db.session.flush()
        db.session.add(CasePhoto(case_id=case.id, upload_id=upload.id, purpose="report"))
        uploads.append(upload.id)
    db.session.commit()
    [item] = both(client, f"requests/{case.number}", root="service_requests")
    first = db.session.execute(sa.select(CasePhoto.media_token).where(CasePhoto.upload_id == uploads[0])).scalar_one()
    assert item["media_url"] == f"http://localhost/open311/v2/media/{first}"
    assert client.get(item["media_url"]).data == b"abc"


def test_the_reporter_never_leaks_anonymous_or_not(client, fmt, place, people, partner):
    clock.set_now(NOW)
    named = report(client, people.resident, anonymous=False, address="香泉路88弄3号")
    hidden = report(client, people.neighbour, category="noise", anonymous=True)
    close(client, people.staff, named["id"], reply="已处理完毕")
    texts = []
    for path, params in [("requests", {}), (f"requests/{named['number']}", {}), (f"requests/{hidden['number']}", {}),
                         ("requests", {"service_request_id": f"{named['number']},{hidden['number']}"}),
                         ("services", {}), ("services/elevator", {}), ("discovery", {})]:
        response = client.get(f"{BASE}/{path}.{fmt}", query_string=params)
        assert response.status_code == 200
        texts.append(response.get_data(as_text=True))
    text = "\n".join(texts)
    assert named["number"] in text and hidden["number"] in text
    for secret in (NAME, PHONE, NAME2, PHONE2, "王**", "张**", "138****5678", "139****0002", "匿名"):
        assert secret not in text
    for user in (people.resident, people.neighbour):
        assert f"<account_id>{user.id}<" not in text and f'"account_id": {user.id}' not in text


# --- errors --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["nothing-here", "services/elevator/extra", "tokens/123", "requests/"])
def test_unknown_paths_are_404_in_the_spec_format(client, fmt, path):
    assert_error(client, path, fmt, 404)


def test_unknown_format_is_404_in_xml(client):
    response = client.get(f"{BASE}/services.csv")
    assert response.status_code == 404 and response.headers["Content-Type"] == CONTENT_TYPES["xml"]
    [error] = from_xml(ET.fromstring(response.data))
    assert error["code"] == "404"
    root = client.get(f"{BASE}/")
    assert root.status_code == 404 and ET.fromstring(root.data).tag == "errors"


@pytest.mark.parametrize("method, path, allow", [("POST", "services", "GET"), ("DELETE", "requests", "POST"),
                                                 ("PUT", "discovery", "GET")])
def test_wrong_methods_are_405_in_the_spec_format(client, fmt, method, path, allow):
    assert_error(client, path, fmt, 405, method=method)
    response = client.open(f"{BASE}/{path}.{fmt}", method=method)
    assert allow in response.headers["Allow"]


def test_error_descriptions_follow_accept_language(client, fmt):
    english = assert_error(client, "services/group_renting", fmt, 404, headers={"Accept-Language": "en"})
    assert "group_renting" in english and "not found" in english
    assert assert_error(client, "services/group_renting", fmt, 404) == "service_code group_renting 不存在"


def test_odd_input_is_a_4xx_in_the_spec_format_never_a_500(client, fmt):
    assert_error(client, "requests", fmt, 400, query_string={"status": "open\x00"})
    assert_error(client, "requests/WL%00-1", fmt, 404)
    assert_error(client, "requests/" + "W" * 40, fmt, 404)
    for moment in ("9999-12-31T00:00:00+08:00", "0001-01-01T00:00:00-12:00"):
        assert_error(client, "requests", fmt, 400, query_string={"start_date": moment})
        assert_error(client, "requests", fmt, 400, query_string={"end_date": moment})
    assert_error(client, "requests", fmt, 400, query_string={"lat_ne": "1e400", "long_ne": 1, "lat_sw": 0,
                                                             "long_sw": 0})
    assert_error(client, "requests", fmt, 400, query_string={"lat_ne": 91, "long_ne": 1, "lat_sw": 0, "long_sw": 0})


# --- partner keys --------------------------------------------------------------------------------------------

def test_keys_are_issued_once_and_stored_hashed(client, people):
    response = issue(people.admin, "长宁区网格化平台")
    assert response.status_code == 201
    body = response.json
    assert set(body) == {"id", "partner", "key", "key_prefix", "scope_type", "scope_type_name", "scope_id",
                         "created_at"}
    plaintext = body["key"]
    assert len(plaintext) >= 40 and body["key_prefix"] == plaintext[:8]
    row = db.session.get(Open311Key, body["id"])
    assert row.key_hash == hashlib.sha256(plaintext.encode()).hexdigest() and row.created_by == people.admin.id
    # The plaintext is nowhere in the database: not in the key table, not in the audit log.
    stored = json.dumps([[getattr(r, c.key) for c in Open311Key.__table__.columns]
                         for r in db.session.execute(sa.select(Open311Key)).scalars()]
                        + [[e.action, e.before, e.after] for e in
                           db.session.execute(sa.select(AuditEntry)).scalars()], default=str)
    assert plaintext not in stored and plaintext[8:] not in stored
    audit = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "open311_key.issued")).scalar_one()
    assert audit.object_id == str(body["id"]) and audit.actor_user_id == people.admin.id
    listed = client.get("/api/v1/open311-keys", headers=auth(people.admin)).json
    assert listed["total"] == 1 and "key" not in listed["items"][0] and "key_hash" not in listed["items"][0]
    assert plaintext not in json.dumps(listed)
    assert listed["items"][0]["key_prefix"] == plaintext[:8]


def test_only_admins_manage_keys(client, people, partner):
    key_id, _ = partner
    for user in (people.staff, people.resident):
        assert issue(user).status_code == 403
        assert client.get("/api/v1/open311-keys", headers=auth(user)).status_code == 403
        assert client.post(f"/api/v1/open311-keys/{key_id}/revoke", headers=auth(user)).status_code == 403
    assert client.post("/api/v1/open311-keys", json={"partner": "x"}).status_code == 401
    assert client.post("/api/v1/open311-keys", json={"partner": "  "}, headers=auth(people.admin)).status_code == 422
    assert client.post("/api/v1/open311-keys/999999/revoke", headers=auth(people.admin)).status_code == 404
    assert db.session.execute(sa.select(sa.func.count()).select_from(Open311Key)).scalar_one() == 1


def test_revoking_stops_the_key_and_is_audited(client, fmt, place, people, partner):
    key_id, key = partner
    post_request(client, fmt, key)
    first = client.post(f"/api/v1/open311-keys/{key_id}/revoke", headers=auth(people.admin))
    assert first.status_code == 200 and first.json["revoked_at"] is not None
    again = client.post(f"/api/v1/open311-keys/{key_id}/revoke", headers=auth(people.admin))
    assert again.status_code == 200 and again.json["revoked_at"] == first.json["revoked_at"]
    post_request(client, fmt, key, status=403)
    assert count_cases() == 1
    revoked = db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == "open311_key.revoked")).scalars()
    assert len(list(revoked)) == 1
    # Another partner's key still works.
    other = issue(people.admin, "另一系统").json["key"]
    post_request(client, fmt, other)


def test_service_functions_refuse_non_admins(people):
    actor = people_service.load_actor(people.staff.id)
    from service.errors import Forbidden

    with pytest.raises(Forbidden):
        open311.issue_key(actor, "x")
    with pytest.raises(Forbidden):
        open311.list_keys(actor, page=1, page_size=20)


# --- who may revoke a key: its issuer, and admins whose scope holds it ------------------------------------------

@pytest.fixture
def admins(place):
    from models.places import District

    elsewhere = District(code=f"elsewhere{place.district.id}", name="长宁区")
    db.session.add(elsewhere)
    db.session.commit()

    class Admins:
        district = make_user(name="区管理员", roles=[("admin", "district", place.district.id)])
        street = make_user(name="万里管理员", roles=[("admin", "street", place.street.id)])
        street2 = make_user(name="万里另一管理员", roles=[("admin", "street", place.street.id)])
        other_street = make_user(name="宜川管理员", roles=[("admin", "street", place.other_street.id)])
        other_district = make_user(name="长宁管理员", roles=[("admin", "district", elsewhere.id)])
        two_streets = make_user(name="两街管理员", roles=[("admin", "street", place.street.id),
                                                    ("admin", "street", place.other_street.id)])
    return Admins


def revoke(user, key_id):
    from flask import current_app

    return current_app.test_client().post(f"/api/v1/open311-keys/{key_id}/revoke", headers=auth(user))


def test_a_key_lies_in_its_issuers_scope(client, place, admins):
    street_key = issue(admins.street).json
    assert (street_key["scope_type"], street_key["scope_id"]) == ("street", place.street.id)
    district_key = issue(admins.district).json
    assert (district_key["scope_type"], district_key["scope_id"]) == ("district", place.district.id)
    # An admin of several places names the one the key is for, within their own scope.
    unnamed = client.post("/api/v1/open311-keys", json={"partner": "网格平台"}, headers=auth(admins.two_streets))
    assert unnamed.status_code == 422 and "scope_type" in unnamed.json["errors"]
    named = client.post("/api/v1/open311-keys", json={"partner": "网格平台", "scope_type": "street",
                                                      "scope_id": place.other_street.id},
                        headers=auth(admins.two_streets))
    assert named.status_code == 201 and named.json["scope_id"] == place.other_street.id
    outside = client.post("/api/v1/open311-keys", json={"partner": "网格平台", "scope_type": "district",
                                                        "scope_id": place.district.id}, headers=auth(admins.street))
    assert outside.status_code == 403 and outside.json["error"] == "open311.key_out_of_scope"


def test_an_admin_revokes_only_keys_they_issued_or_that_lie_in_their_scope(client, fmt, place, admins):
    street_key = issue(admins.street).json
    district_key = issue(admins.district).json
    for user, key in ((admins.other_street, street_key), (admins.other_district, street_key),
                      (admins.street, district_key), (admins.other_street, district_key),
                      (admins.other_district, district_key)):
        refused = revoke(user, key["id"])
        assert refused.status_code == 403, (user.nickname, key["scope_type"], refused.json)
        assert refused.json["error"] == "open311.key_out_of_scope"
        assert refused.json["message"] == "该接入密钥不在您的管理范围内，不能吊销"
    post_request(client, fmt, street_key["key"])
    post_request(client, fmt, district_key["key"])
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "open311_key.revoked")).scalar_one() == 0
    # Another admin of the same street, and the district's admin, may revoke a street's key.
    assert revoke(admins.street2, street_key["id"]).status_code == 200
    other = issue(admins.street).json
    assert revoke(admins.district, other["id"]).json["revoked_at"] is not None
    assert revoke(admins.district, district_key["id"]).status_code == 200
    post_request(client, fmt, street_key["key"], status=403)
    mine = issue(admins.other_street).json
    assert revoke(admins.other_street, mine["id"]).status_code == 200


def test_an_admin_lists_the_keys_they_may_revoke(client, place, admins):
    street_key = issue(admins.street).json["id"]
    other_key = issue(admins.other_street).json["id"]
    district_key = issue(admins.district).json["id"]

    def listed(user):
        return {k["id"] for k in client.get("/api/v1/open311-keys", headers=auth(user)).json["items"]}

    assert listed(admins.street) == {street_key}
    assert listed(admins.other_street) == {other_key}
    assert listed(admins.district) == {street_key, other_key, district_key}
    assert listed(admins.other_district) == set()


def test_a_key_of_unknown_scope_is_revoked_by_its_issuer_or_a_district_admin(client, place, admins):
    """Keys issued before keys had a scope, whose issuer's scope could not be told."""
    keys = []
    for _ in range(2):
        key = Open311Key(partner="旧系统", key_hash=hashlib.sha256(str(len(keys)).encode()).hexdigest(),
                         key_prefix="oldkey00", created_by=admins.two_streets.id, created_at=clock.now())
        db.session.add(key)
        db.session.commit()
        keys.append(key.id)
    assert revoke(admins.street, keys[0]).status_code == 403
    assert revoke(admins.two_streets, keys[0]).status_code == 200
    assert revoke(admins.district, keys[1]).status_code == 200


# --- photos for partners: public cases' photos behind an unguessable token ----------------------------------------

def _jpeg_with_gps() -> bytes:
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (31.0, 16.0, 12.7), 3: "E", 4: (121.0, 24.0, 36.4)}  # GPSInfo
    exif[0x010F] = "PhoneMaker"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(buffer, "JPEG", exif=exif)
    assert b"PhoneMaker" in buffer.getvalue()
    return buffer.getvalue()


def upload_photo(client, user) -> int:
    import io

    response = client.post("/api/v1/uploads", data={"file": (io.BytesIO(_jpeg_with_gps()), "p.jpg", "image/jpeg")},
                           headers=auth(user), content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    return response.json["id"]


@pytest.fixture(params=["file", "s3"])
def photo_storage(request):
    """The photos in a directory, or in S3-compatible object storage (a local server process)."""
    if request.param == "s3":
        request.getfixturevalue("s3_storage")
    return request.param


def test_media_url_serves_a_public_cases_photo_without_a_login_and_without_exif(client, place, people, photo_storage):
    import io

    from PIL import Image

    clock.set_now(NOW)
    photo = upload_photo(client, people.resident)
    case = report(client, people.resident, photos=[photo])
    [item] = both(client, f"requests/{case['number']}", root="service_requests")
    url = item["media_url"]
    assert url.startswith("http://localhost/open311/v2/media/")
    token = url.rsplit("/", 1)[1]
    assert token == db.session.execute(
        sa.select(CasePhoto.media_token).where(CasePhoto.upload_id == photo)).scalar_one()
    assert len(token) == 32 and not token.isdigit() and "/api/v1/uploads" not in url
    response = client.get(url)  # no Authorization header
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    image = Image.open(io.BytesIO(response.data))
    assert image.size == (64, 48) and len(image.getexif()) == 0 and b"PhoneMaker" not in response.data
    assert response.data == uploads.content(db.session.get(Upload, photo))  # the stored bytes, as they are
    stored = db.session.get(Upload, photo)
    assert stored.data is None and response.data == storage.current().get(stored.storage_key)
    # The login-only address is not what partners get.
    assert client.get(f"/api/v1/uploads/{photo}").status_code == 401


def test_media_of_private_hidden_or_unknown_cases_and_evidence_photos_is_404(client, fmt, place, people):
    clock.set_now(NOW)
    private_photo, rejected_photo, shown_photo = (upload_photo(client, people.resident) for _ in range(3))
    private = report(client, people.resident, category="group_renting", photos=[private_photo])
    rejected = report(client, people.resident, photos=[rejected_photo])
    shown = report(client, people.resident, photos=[shown_photo], contact_consent=False)
    act(client, people.staff, rejected["id"], "reject", reason="不属于受理范围")
    act(client, people.staff, shown["id"], "accept")
    act(client, people.staff, shown["id"], "start")
    evidence_photo = upload_photo(client, people.staff)
    act(client, people.staff, shown["id"], "resolve", outcome="solved", reply="已清理", photo_ids=[evidence_photo])

    def token_of(upload_id):
        return db.session.execute(sa.select(CasePhoto.media_token).where(CasePhoto.upload_id == upload_id)).scalar_one()

    assert client.get(f"{BASE}/media/{token_of(shown_photo)}").status_code == 200
    for upload_id in (private_photo, rejected_photo, evidence_photo):
        response = client.get(f"{BASE}/media/{token_of(upload_id)}")
        assert response.status_code == 404 and ET.fromstring(response.data).tag == "errors"
    for token in ("x" * 32, str(shown_photo), "a" * 300, "%00"):
        assert client.get(f"{BASE}/media/{token}").status_code == 404
    assert len({token_of(u) for u in (private_photo, rejected_photo, shown_photo, evidence_photo)}) == 4


# --- a reopened request tells its new cycle --------------------------------------------------------------------

def test_a_reopened_request_drops_the_old_reply_and_announces_the_rehandling(client, place, people):
    clock.set_now(NOW)
    case = report(client, people.resident)
    close(client, people.staff, case["id"], reply="纸箱已清理，楼道恢复通畅")
    [before] = both(client, f"requests/{case['number']}", root="service_requests")
    assert before["status"] == "closed" and before["status_notes"] == "纸箱已清理，楼道恢复通畅"
    assert before["service_notice"] == "5个工作日内首次处置"
    clock.set_now(NOW + timedelta(days=1))
    reopened = client.post(f"/api/v1/cases/{case['id']}/reopen", json={"reason": "又堆满了"},
                           headers=auth(people.resident))
    assert reopened.status_code == 200
    [after] = both(client, f"requests/{case['number']}", root="service_requests")
    assert after["status"] == "open" and after["status_notes"] == ""
    assert after["service_notice"] == "3个工作日内再次处置"
    assert datetime.fromisoformat(after["expected_datetime"]) == db.session.get(Case, case["id"]).rework_due_at
    english = fetch(client, f"requests/{case['number']}", "json", root="service_requests",
                    headers={"Accept-Language": "en"})
    assert english[0]["service_notice"] == "Second handling within 3 working days"
    act(client, people.staff, case["id"], "comment", note="已再次安排清理", public=True)
    [noted] = both(client, f"requests/{case['number']}", root="service_requests")
    assert noted["status_notes"] == "已再次安排清理"


def test_a_reply_sent_back_by_the_reviewer_is_no_longer_the_status_notes(client, place, people):
    case = report(client, people.resident)
    act(client, people.staff, case["id"], "accept")
    act(client, people.staff, case["id"], "contact", method="phone", note="已联系")
    act(client, people.staff, case["id"], "start")
    act(client, people.staff, case["id"], "resolve", outcome="solved", reply="已清理")
    assert both(client, f"requests/{case['number']}", root="service_requests")[0]["status_notes"] == "已清理"
    act(client, people.staff, case["id"], "reopen", reason="答复不实，请重新处理")
    assert both(client, f"requests/{case['number']}", root="service_requests")[0]["status_notes"] == ""


# --- a provisional deadline is not published as a firm one --------------------------------------------------------

def test_a_provisional_deadline_has_no_expected_datetime(client, place, people):
    clock.set_now(datetime(2026, 12, 30, 10, tzinfo=SHANGHAI))  # handling due in 2027, a year the calendar lacks
    provisional = report(client, people.resident)
    assert provisional["deadlines"]["provisional"] is True
    [item] = both(client, f"requests/{provisional['number']}", root="service_requests")
    assert item["expected_datetime"] == ""
    raw = client.get(f"{BASE}/requests/{provisional['number']}.json").get_json()[0]
    assert raw["expected_datetime"] is None
    xml = ET.fromstring(client.get(f"{BASE}/requests/{provisional['number']}.xml").data)
    assert xml.find("request/expected_datetime").text is None
    clock.set_now(NOW)
    firm = report(client, people.resident)
    assert both(client, f"requests/{firm['number']}", root="service_requests")[0]["expected_datetime"] == \
        "2026-11-27T23:59:59+08:00"


# --- the reporter's exact point is not public ------------------------------------------------------------------

def test_public_coordinates_are_rounded_to_about_100_m(client, place, people):
    exact = (31.270437, 121.410588)  # GCJ-02, a doorway near 香泉路居民区
    case = report(client, people.resident, at=exact)
    wgs = geo.gcj02_to_wgs84(*exact)
    [item] = both(client, f"requests/{case['number']}", root="service_requests")
    assert (item["lat"], item["long"]) == (str(round(wgs[0], 3)), str(round(wgs[1], 3)))
    raw = client.get(f"{BASE}/requests/{case['number']}.json").get_json()[0]
    assert (raw["lat"], raw["long"]) == (round(wgs[0], 3), round(wgs[1], 3))
    assert geo.distance_m(raw["lat"], raw["long"], *wgs) < 100
    xml = client.get(f"{BASE}/requests.xml").get_data(as_text=True)
    assert f"<lat>{round(wgs[0], 3)}</lat>" in xml and f"{wgs[0]:.6f}"[:9] not in xml
    # A box finds the request exactly when its published coordinates lie in it: no box tells more about the
    # point than the coordinates shown (boxes edged at each thousandth and half-thousandth around it).
    published = (round(wgs[0], 3), round(wgs[1], 3))
    found = {}
    for dlat in (-0.0015, -0.001, -0.0005, 0.0, 0.0005, 0.001):
        for dlong in (-0.001, -0.0005, 0.0, 0.0005):
            box = {"lat_sw": round(published[0] + dlat, 4), "lat_ne": round(published[0] + dlat + 0.0005, 4),
                   "long_sw": round(published[1] + dlong, 4), "long_ne": round(published[1] + dlong + 0.0005, 4)}
            inside = (box["lat_sw"] <= published[0] <= box["lat_ne"]
                      and box["long_sw"] <= published[1] <= box["long_ne"])
            hit = numbers(both(client, "requests", root="service_requests", query_string=box)) == [case["number"]]
            found[(dlat, dlong)] = (hit, inside)
    assert all(hit == inside for hit, inside in found.values()), found
    assert sum(inside for _, inside in found.values()) >= 4  # the sweep does find it, and not everywhere
