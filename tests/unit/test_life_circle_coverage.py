"""Coverage on a hand-built layout where every number is known, and the nearby lookup
against a brute-force scan over random layouts."""
import random
from datetime import datetime

import pytest
import sqlalchemy as sa

from models.base import db
from models.life_circle import Facility, FacilityWalk
from models.places import Estate
from service import geo
from service.clock import SHANGHAI
from service.life_circle import coverage, queries, rules, walking
from tests.factories import add_units, make_user, make_world, north
from tests.factories.life_circle import make_facility

LAT, LNG = 31.2, 121.4
REQUIRED = ("health", "elder_care", "meal", "commerce", "culture", "sport", "gov_service", "public_space")


@pytest.fixture(autouse=True)
def _fresh_item_cache():
    """Each test starts with an empty nearby item cache: rolled-back tests reuse ids (SQLite)."""
    queries.STATIC_CACHE.clear()
    yield
    queries.STATIC_CACHE.clear()


@pytest.fixture
def layout():
    """Three located estates on one meridian plus one without coordinates:

    A (100 units) at y = 0 with one facility of every required category at y = 100 m (walk 130 m);
    B (50 units) at y = 2000 m with a meal point at 200 m (walk 260 ≤ 500), a clinic at 700 m
    (walk 910 ≤ 1000) and a shop at 450 m (walk 585 > 500: 85 m beyond); A's facilities are
    1900 m from B (walk 2470). C (10 units) 9.5 km east: nothing within the 3 km search radius,
    only a planned elder-care centre 50 m away. D (make_world's 香泉苑) has no coordinates.
    """
    world = make_world()
    street = world.street
    estates = {}
    for key, lat, lng, units in (("A", LAT, LNG, 100), ("B", north(LAT, 2000), LNG, 50), ("C", LAT, 121.5, 10)):
        estate = Estate(code=f"lc-{key}-{street.id}", street_id=street.id, name=f"{key}苑", lat=lat, lng=lng)
        db.session.add(estate)
        db.session.flush()
        add_units(estate, units)
        estates[key] = estate
    estates["D"] = world.estate   # make_world's estate has no coordinates
    for code in REQUIRED:
        make_facility(category=code, lat=north(LAT, 100), lng=LNG, street_id=street.id, name=f"A-{code}")
    b = north(LAT, 2000)
    facilities = {"meal": make_facility(category="meal", lat=north(b, 200), lng=LNG, street_id=street.id),
                  "health": make_facility(category="health", lat=north(b, 700), lng=LNG, street_id=street.id),
                  "commerce": make_facility(category="commerce", lat=north(b, 450), lng=LNG, street_id=street.id)}
    make_facility(category="elder_care", lat=north(LAT, 50), lng=121.5, street_id=street.id, status="planned")
    make_facility(category="meal", lat=north(LAT, 10), lng=121.5, street_id=street.id, status="closed")
    db.session.commit()
    admin = make_user(name="管理员", roles=[("admin", "street", street.id)])
    from service import people

    return world, estates, facilities, people.load_actor(admin.id)


def _by_code(report):
    return {c["category"]: c for c in report["categories"]}


def test_street_coverage_on_a_known_layout(layout):
    world, estates, facilities, actor = layout
    report = coverage.street_coverage(actor, world.street.id)
    assert report["counts"] == {"estates": 4, "estates_located": 3, "households": 160, "estates_without_units": 0,
                                "gaps": 47, "required_gaps": 14}
    assert report["estates_unlocated"] == [{"id": estates["D"].id, "name": "香泉苑"}]
    cats = _by_code(report)
    for code in ("meal", "health"):
        assert cats[code]["estate_share"] == {"numerator": 2, "denominator": 3, "rate": 66.67}
        assert cats[code]["household_share"] == {"numerator": 150, "denominator": 160, "rate": 93.75}
    for code in ("commerce", "elder_care", "culture", "sport", "gov_service", "public_space"):
        assert cats[code]["estate_share"] == {"numerator": 1, "denominator": 3, "rate": 33.33}
        assert cats[code]["household_share"] == {"numerator": 100, "denominator": 160, "rate": 62.5}
    assert cats["hub"]["estate_share"] == {"numerator": 0, "denominator": 3, "rate": 0.0}
    assert report["overall"]["strict"] == {"estate_share": {"numerator": 1, "denominator": 3, "rate": 33.33},
                                           "household_share": {"numerator": 100, "denominator": 160, "rate": 62.5}}
    # Mean over the 8 required: (2·2/3 + 6·1/3) / 8 = 10/24 → 41.67; (2·150 + 6·100)/160/8 = 0.703125 → 70.31.
    assert report["overall"]["mean"] == {"estate_share": 41.67, "household_share": 70.31}
    gaps = {(g["estate_id"], g["category"]): g for g in report["gaps"]}
    assert gaps[(estates["B"].id, "commerce")]["beyond_m"] == 85
    assert gaps[(estates["B"].id, "commerce")]["walk_m"] == 585
    assert gaps[(estates["B"].id, "culture")]["walk_m"] == 2470
    assert gaps[(estates["B"].id, "culture")]["beyond_m"] == 1470
    assert gaps[(estates["C"].id, "meal")]["nearest_facility_id"] is None   # the closed one does not count
    assert report["distance_method"] == "estimated"


def test_planned_scenario_counts_planned_facilities(layout):
    world, estates, facilities, actor = layout
    report = coverage.street_coverage(actor, world.street.id, scenario="planned")
    assert _by_code(report)["elder_care"]["estate_share"]["numerator"] == 2
    assert _by_code(coverage.street_coverage(actor, world.street.id))["elder_care"]["estate_share"]["numerator"] == 1


def test_network_walks_replace_the_estimate(layout):
    world, estates, facilities, actor = layout
    db.session.add(FacilityWalk(estate_id=estates["B"].id, facility_id=facilities["commerce"].id, walk_m=480))
    db.session.commit()
    report = coverage.street_coverage(actor, world.street.id)
    assert _by_code(report)["commerce"]["estate_share"]["numerator"] == 2
    assert report["distance_method"] == "mixed"
    estate = coverage.estate_coverage(actor, estates["B"].id)
    commerce = next(c for c in estate["categories"] if c["category"] == "commerce")
    assert commerce["nearest"]["walk_method"] == "network" and commerce["nearest"]["walk_m"] == 480
    assert commerce["nearest"]["walk_minutes"] == {"standard": 8, "elder": 10}
    walk = walking.estate_to_facility(estates["B"].id, facilities["commerce"].id, pace="elder")
    assert walk.method == "network" and walk.walk_m == 480 and walk.minutes == 10
    # And the nearby lookup from that estate uses it too.
    found = queries.nearby(estate_id=estates["B"].id, category="commerce", minutes=8)
    assert [(i["id"], i["walk_method"], i["walk_m"]) for i in found["items"]] == [
        (facilities["commerce"].id, "network", 480)]


def test_estate_coverage_lists_every_category(layout):
    world, estates, facilities, actor = layout
    report = coverage.estate_coverage(actor, estates["A"].id)
    assert len(report["categories"]) == len(rules.current().categories())
    assert report["required_covered"] == 8 and report["all_required_covered"] is True
    meal = next(c for c in report["categories"] if c["category"] == "meal")
    assert meal["nearest"]["walk_m"] == 130 and meal["nearest"]["distance_m"] == 100
    assert meal["nearest"]["walk_minutes"] == {"standard": 3, "elder": 3}


def test_csv_and_geojson_carry_the_same_numbers(layout):
    world, estates, facilities, actor = layout
    report = coverage.street_coverage(actor, world.street.id)
    text = coverage.to_csv(report)
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("小区编号,小区,户数,必备类别全覆盖,党群服务(1000m)")
    assert lines[-3].split(",")[3] == "33.33" and lines[-2].split(",")[3] == "62.50"
    assert lines[-1].startswith(",说明：") and "*" in lines[-1]
    doc = coverage.to_geojson(report, "gcj02")
    a = next(f for f in doc["features"] if f["properties"]["estate_id"] == estates["A"].id)
    assert a["geometry"]["coordinates"] == [LNG, LAT] and a["properties"]["all_required_covered"] is True
    wgs = coverage.to_geojson(report)["features"][0]["geometry"]["coordinates"]
    assert geo.distance_m(wgs[1], wgs[0], *geo.gcj02_to_wgs84(LAT, LNG)) < 0.5


# --- nearby against brute force ------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(12))
def test_nearby_returns_exactly_what_a_brute_force_scan_returns(seed):
    rng = random.Random(seed)
    centre_lat, centre_lng = 31.1 + rng.random() * 0.3, 121.3 + rng.random() * 0.3
    spread = rng.choice((0.005, 0.02, 0.05))
    cats = [c.code for c in rules.current().categories()]
    rows = [{"name": f"F{i}", "category_code": rng.choice(cats), "lat": centre_lat + rng.uniform(-spread, spread),
             "lng": centre_lng + rng.uniform(-spread, spread), "status": rng.choice(("open",) * 4 + ("closed",)),
             "coord_source": "approximate", "accessible": False, "bookable": False, "version": 1,
             "created_at": datetime.now(SHANGHAI), "updated_at": datetime.now(SHANGHAI)} for i in range(300)]
    for row in rows:
        row["cell"] = walking.cell_of(row["lat"], row["lng"])
    # A few points right on cell borders.
    rows[0].update(lat=round(centre_lat / 0.005) * 0.005, cell=walking.cell_of(round(centre_lat / 0.005) * 0.005,
                                                                                rows[0]["lng"]))
    db.session.execute(sa.insert(Facility), rows)
    for _ in range(15):
        lat = centre_lat + rng.uniform(-spread, spread)
        lng = centre_lng + rng.uniform(-spread, spread)
        budget = rng.choice((300, 500, 720, 900, 1200, 3600))
        category = rng.choice([None] + cats)
        fast = [(fid, f.walk_m) for fid, f in queries.nearby_ids(lat, lng, budget, category=category)]
        assert fast == queries.brute_force_ids(lat, lng, budget, category=category)
    db.session.rollback()


def test_nearby_filters_and_datums(layout):
    world, estates, facilities, actor = layout
    wlat, wlng = geo.gcj02_to_wgs84(LAT, LNG)
    found = queries.nearby(lat=wlat, lng=wlng, datum="wgs84", minutes=3)
    # 130 m walks: ⌈130/60⌉ = 3 minutes; B's are much further.
    assert {i["name"] for i in found["items"]} == {f"A-{code}" for code in REQUIRED}
    assert all(i["walk_minutes"] == 3 and i["datum"] == "wgs84" for i in found["items"])
    assert found["items"][0]["lat"] == pytest.approx(geo.gcj02_to_wgs84(north(LAT, 100), LNG)[0], abs=1e-6)
    assert queries.nearby(lat=LAT, lng=LNG, minutes=2)["items"] == []     # 2 min = 120 m < 130 m
    elder = queries.nearby(lat=LAT, lng=LNG, minutes=3, pace="elder")     # 3 × 48 = 144 m ≥ 130
    assert len(elder["items"]) == 8 and elder["walk_budget_m"] == 144
    assert queries.nearby(lat=LAT, lng=LNG, category="meal", minutes=3)["items"][0]["name"] == "A-meal"
    assert len(queries.nearby(lat=LAT, lng=LNG, minutes=3, limit=2)["items"]) == 2


@pytest.mark.parametrize("seed", range(4))
def test_coverage_ring_search_agrees_with_a_plain_scan(seed):
    rng = random.Random(1000 + seed)
    world = make_world()
    lat0, lng0 = 31.1 + rng.random() * 0.2, 121.3 + rng.random() * 0.2
    estates = []
    for i in range(12):
        estate = Estate(code=f"ring-{seed}-{i}-{world.street.id}", street_id=world.street.id, name=f"E{i}",
                        lat=lat0 + rng.uniform(0, 0.02), lng=lng0 + rng.uniform(0, 0.02))
        db.session.add(estate)
        estates.append(estate)
    cats = [c.code for c in rules.current().categories()]
    spread = rng.choice((0.01, 0.03, 0.06))
    for i in range(250):
        make_facility(category=rng.choice(cats), lat=lat0 + rng.uniform(-spread, spread + 0.02),
                      lng=lng0 + rng.uniform(-spread, spread + 0.02), street_id=world.street.id,
                      status=rng.choice(("open", "open", "open", "planned")))
    db.session.flush()
    some = db.session.execute(sa.select(Facility.id).limit(5)).scalars().all()
    for fid in some:   # network rows, some shorter and some longer than the estimate
        db.session.add(FacilityWalk(estate_id=estates[0].id, facility_id=fid, walk_m=rng.randint(50, 5000)))
    db.session.flush()
    rows = coverage._estates(world.street.id, None)
    for statuses in (("open",), ("open", "building", "planned")):
        measured, _ = coverage._measure(rows, statuses)
        ring = {(eid, code): (best["key"] if best else None) for eid, per in measured.items()
                for code, best in per.items()}
        assert ring == coverage._nearest_scan(rows, statuses)


def test_nearby_json_text_is_the_nearby_answer(layout):
    """The API sends ``nearby_json``, assembled from cached JSON parts: it must parse to exactly ``nearby``."""
    import json
    from datetime import timedelta

    from service import clock

    world, estates, facilities, actor = layout
    db.session.add(FacilityWalk(estate_id=estates["B"].id, facility_id=facilities["commerce"].id, walk_m=480,
                                walk_s_standard=400))
    for f in db.session.execute(sa.select(Facility)).scalars():
        f.hours = {"weekly": {"mon": [["08:00", "11:30"]], "sat": [["22:00", "02:00"]]}, "holiday": "closed"} \
            if f.id % 2 else None
        f.target_groups = ["elder"] if f.id % 3 else []
        f.services = ["堂食", "送\"餐\""] if f.id % 2 else []
    db.session.commit()
    wlat, wlng = geo.gcj02_to_wgs84(LAT, LNG)
    asks = [dict(lat=LAT, lng=LNG, minutes=30), dict(lat=wlat, lng=wlng, datum="wgs84", minutes=3, lang="en"),
            dict(estate_id=estates["B"].id, minutes=40, pace="elder"), dict(estate_id=estates["B"].id, minutes=8),
            dict(lat=LAT, lng=LNG, minutes=60, open_now=False, target_group="elder", limit=3),
            dict(lat=LAT, lng=LNG, minutes=60, open_now=True), dict(lat=LAT, lng=LNG, minutes=1)]
    seen = set()
    for moment in (datetime(2026, 11, 23, 9, tzinfo=SHANGHAI), datetime(2026, 11, 22, 1, 30, tzinfo=SHANGHAI),
                   datetime(2026, 10, 5, 9, tzinfo=SHANGHAI)):
        clock.set_now(moment)
        for ask in asks:
            answer = queries.nearby(**ask)
            assert json.loads(queries.nearby_json(**ask)) == answer, ask
            queries.STATIC_CACHE.clear()   # and the same when every part is built afresh
            assert json.loads(queries.nearby_json(**ask)) == answer, ask
            seen |= {(i["open_now"], i["walk_method"], i["datum"]) for i in answer["items"]}
        clock.set_now(moment + timedelta(minutes=1))
    # Open, closed and unknown hours, network and estimated walks, both datums were all compared.
    assert {o for o, _, _ in seen} == {True, False, None} and {m for _, m, _ in seen} == {"network", "estimated"}
    assert {d for _, _, d in seen} == {"gcj02", "wgs84"}


def test_the_item_cache_stays_within_its_size(layout):
    world, estates, facilities, actor = layout
    rows = queries._details([f.id for f in facilities.values()])
    assert len(rows) == len(facilities)
    cache = queries._StaticCache(10)
    for version in range(1, 26):
        for row in rows:
            cache.put(queries._Static(row[0], version, *row[2:]))
    assert len(cache) <= 10
    newest = rows[-1]
    assert cache.get((newest[0], 25)) is not None and cache.get((newest[0], 1)) is None
