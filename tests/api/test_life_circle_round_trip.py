"""Exporting facilities and importing the file again changes nothing (the README's promise): for the
demo street, and for facilities with every shape of opening hours, in both datums."""
import json

import pytest
import sqlalchemy as sa

from data.demo import loader as demo_loader
from data.demo import meals as demo_meals
from models.base import db
from models.life_circle import Facility
from models.places import Street
from service.life_circle import queries
from tests.factories import auth, make_user, make_world
from tests.factories.life_circle import make_facility

EXPORT, IMPORT = "/api/v1/facilities/export", "/api/v1/facilities/import"


@pytest.fixture(autouse=True)
def _fresh_item_cache():
    queries.STATIC_CACHE.clear()
    yield
    queries.STATIC_CACHE.clear()


def versions(street_id: int) -> dict:
    return dict(db.session.execute(sa.select(Facility.id, Facility.version).where(
        Facility.street_id == street_id)).all())


def round_trip(client, headers, street_id: int, datum: str) -> dict:
    exported = client.get(f"{EXPORT}?street_id={street_id}&datum={datum}", headers=headers)
    assert exported.status_code == 200
    doc = exported.get_json(force=True)
    assert doc["features"]
    response = client.post(IMPORT, json={"format": "geojson", "data": json.dumps(doc, ensure_ascii=False)},
                           headers=headers)
    assert response.status_code == 200, response.json
    return response.json | {"exported": len(doc["features"])}


@pytest.mark.parametrize("datum", ["wgs84", "gcj02"])
def test_the_demo_streets_export_reimports_unchanged(client, datum):
    demo_loader.load_all(activity=False)
    loader = demo_meals.MealLoader()     # the meal sites, each also a facility of the life circle
    loader.facilities(loader.sites())
    db.session.commit()
    street = db.session.execute(sa.select(Street).where(Street.prefix == "WL")).scalar_one()
    admin = make_user(name="万里街道管理员", roles=[("admin", "street", street.id)])
    before = versions(street.id)
    assert db.session.execute(sa.select(sa.func.count()).where(Facility.street_id == street.id,
                                                               Facility.meal_site_id.is_not(None))).scalar() >= 4
    report = round_trip(client, auth(admin), street.id, datum)
    assert (report["created"], report["updated"], report["invalid"]) == (0, 0, 0), report
    assert report["unchanged"] == report["exported"] == len(before)
    assert versions(street.id) == before


HOURS = {
    "24h": {"always_open": True},
    "24h with exceptions": {"always_open": True, "exceptions": [
        {"date": "2026-12-31", "periods": [["08:00", "12:00"]], "note": "提前闭馆"},
        {"date": "2026-10-01", "periods": []}]},
    "across midnight": {"weekly": {"fri": [["18:00", "02:00"]], "sat": [["22:00", "24:00"], ["10:00", "14:00"]]},
                        "holiday": "sun", "makeup_workday": "closed"},
    "weekdays": {"weekly": {d: [["08:30", "11:30"], ["13:30", "17:00"]] for d in ("mon", "tue", "wed", "thu")},
                 "holiday": "closed"},
    "empty week": {"weekly": {}},
    "unknown": None,
}


@pytest.mark.parametrize("datum", ["wgs84", "gcj02"])
def test_facilities_with_every_shape_of_hours_reimport_unchanged(client, datum):
    world = make_world()
    admin = make_user(name="街道管理员", roles=[("admin", "street", world.street.id)])
    for i, (label, hours) in enumerate(HOURS.items()):
        make_facility(category="health", lat=round(31.26 + i * 0.0013, 6), lng=round(121.401 + i * 0.0007, 6),
                      street_id=world.street.id, neighbourhood_id=world.nb.id if i % 2 else None,
                      name=f"设施 {label}", hours=hours, external_id=f"H-{i}")
    make_facility(category="meal", lat=31.2612345, lng=121.4054321, street_id=world.street.id, name="没有外部编号",
                  hours=HOURS["across midnight"])
    make_facility(category="commerce", lat=31.27, lng=121.41, street_id=world.street.id, status="planned",
                  external_id="H-planned")
    db.session.commit()
    before = versions(world.street.id)
    report = round_trip(client, auth(admin), world.street.id, datum)
    assert (report["created"], report["updated"], report["invalid"]) == (0, 0, 0), report
    assert report["unchanged"] == report["exported"] == len(HOURS) + 2
    assert versions(world.street.id) == before
    # A change in the file is still an update, and the stored hours come out as the file gave them.
    exported = client.get(f"{EXPORT}?street_id={world.street.id}&datum={datum}", headers=auth(admin))
    doc = exported.get_json(force=True)
    feature = next(f for f in doc["features"] if f["properties"]["external_id"] == "H-0")
    feature["properties"]["hours"] = HOURS["across midnight"]
    changed = client.post(IMPORT, json={"format": "geojson", "data": json.dumps(doc)}, headers=auth(admin)).json
    assert (changed["created"], changed["updated"], changed["unchanged"]) == (0, 1, len(HOURS) + 1)
    again = client.post(IMPORT, json={"format": "geojson", "data": json.dumps(doc)}, headers=auth(admin)).json
    assert (again["created"], again["updated"]) == (0, 0)
