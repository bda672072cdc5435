"""Demo life-circle facilities: several hundred across the demo streets, from the facility
names in the seed plans (street-wide centres) and generated neighbourhood points
(食堂, 菜场, 健身点 …) near each 居民区, with opening hours and approximate GCJ-02
coordinates (``coord_source="approximate"``).

Deliberate gaps, so that the coverage report shows something true: some
neighbourhoods get no meal point, no pocket park or no shop of their own (chosen by a
seeded ``random.Random`` per neighbourhood code), so their estates depend on what is
further away.

Idempotent: every facility has a stable ``external_id`` (``demo-<neighbourhood or street
code>-<n>``); a facility already present is left alone.
"""
from __future__ import annotations

import math
import random

import sqlalchemy as sa

from models.base import db
from models.life_circle import Facility
from models.places import Neighbourhood, Street
from service.life_circle import hours as hours_mod
from service.life_circle import walking

SEED = "20240617:life_circle"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
ALL = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# Facilities are reference data: loaded even when the demo leaves the activity out.
REFERENCE = True

def _weekly(days, *periods, holiday="weekly", makeup="weekly"):
    return {"weekly": {d: [list(p) for p in periods] for d in days}, "holiday": holiday, "makeup_workday": makeup}


HOURS = {
    "office": _weekly(WEEKDAYS, ("09:00", "17:00"), holiday="closed", makeup="mon"),
    "clinic": {**_weekly(WEEKDAYS, ("08:00", "16:30"), holiday="closed", makeup="mon"),
               "weekly": {**{d: [["08:00", "16:30"]] for d in WEEKDAYS}, "sat": [["08:00", "11:30"]]}},
    "meal": _weekly(ALL, ("10:30", "13:00"), ("16:30", "18:00")),
    "market": _weekly(ALL, ("06:00", "19:00")),
    "shop": {"always_open": True},
    "park": _weekly(ALL, ("05:00", "22:00")),
    "daycare": _weekly(WEEKDAYS, ("08:00", "17:00"), holiday="closed", makeup="mon"),
    "sport": _weekly(ALL, ("06:00", "21:00")),
    "culture": _weekly(("tue", "wed", "thu", "fri", "sat", "sun"), ("09:00", "20:30")),
    "waste": _weekly(ALL, ("06:30", "09:00"), ("18:00", "20:00")),
    "evening": _weekly(ALL, ("18:00", "02:00")),   # a 夜间 service point across midnight
}

# Street-wide facilities named in the seed plans (data/demo/places.yaml header; shared/domain/places.md).
STREET_FACILITIES = {
    "WL": [("万里街道社区事务受理服务中心", "gov_service", "社区事务受理服务中心", "office"),
           ("万里社区卫生服务中心", "health", "社区卫生服务中心", "clinic"),
           ("万里社区全民健身中心", "sport", "全民健身中心", "sport"),
           ("爱照护长者照护之家", "elder_care", "长者照护之家", "shop"),
           ("交暨综合养老服务中心", "elder_care", "综合为老服务中心", "daycare"),
           ("万里公园", "public_space", "社区公园", "park"),
           ("万里社区宝宝屋", "child_family", "社区宝宝屋", "daycare"),
           ("万有引力新业态新就业群体党群服务中心", "party_service", "党群服务中心", "evening"),
           ("万里无忧·靠谱解纷中心", "legal_mediation", "矛盾纠纷调处化解中心", "office"),
           ("中浩云片区综治分中心", "safety", "综治分中心", "office"),
           ("万里街道社区文化活动中心", "culture", "社区文化活动中心", "culture")],
    "YC": [("宜川路街道社区事务受理服务中心", "gov_service", "社区事务受理服务中心", "office"),
           ("宜川路街道社区文化活动中心", "culture", "社区文化活动中心", "culture"),
           ("宜川路街道图书馆", "culture", "街道图书馆", "culture"),
           ("苏河书房", "culture", "文化活动室", "culture"),
           ("宜川公园", "public_space", "社区公园", "park"),
           ("彭越浦居民后花园", "public_space", "滨水空间", "park"),
           ("宜川路街道矛盾纠纷调处化解中心", "legal_mediation", "矛盾纠纷调处化解中心", "office"),
           ("宜川社区卫生服务中心", "health", "社区卫生服务中心", "clinic"),
           ("宜川养老顾问点", "elder_care", "养老顾问点", "daycare")],
    "ZR": [("真如镇街道社区卫生服务中心", "health", "社区卫生服务中心", "clinic"),
           ("高陵集市", "commerce", "标准化菜市场", "market"),
           ("星河片区科普驿站", "culture", "科普驿站", "culture"),
           ("真如智能篮球场", "sport", "市民球场", "sport"),
           ("真如公园", "public_space", "社区公园", "park"),
           ("“星”时尚空间垃圾生态循环工作站", "waste", "垃圾生态循环工作站", "waste"),
           ("真如镇街道社区文化活动中心", "culture", "社区文化活动中心", "culture"),
           ("真如镇社区事务受理服务中心", "gov_service", "社区事务受理服务中心", "office")],
    "HQ": [("虹桥街道社区事务受理服务中心", "gov_service", "社区事务受理服务中心", "office"),
           ("古北市民议事厅", "hub", "社区综合服务中心", "office"),
           ("虹桥社区卫生服务中心", "health", "社区卫生服务中心", "clinic"),
           ("虹桥街道社区文化活动中心", "culture", "社区文化活动中心", "culture")],
}

# Neighbourhood points: (category, subtype, name suffix, hours, chance, target groups).
LOCAL = [
    ("meal", "助餐点", "助餐点", "meal", 0.8, ["elder"]),
    ("elder_care", "日间照料中心", "日间照料中心", "daycare", 0.6, ["elder"]),
    ("elder_care", "老年活动室", "老年活动室", "culture", 0.5, ["elder"]),
    ("commerce", "标准化菜市场", "菜市场", "market", 0.5, ["everyone"]),
    ("commerce", "便利店", "便利店", "shop", 0.8, ["everyone"]),
    ("public_space", "口袋公园", "口袋公园", "park", 0.6, ["everyone"]),
    ("sport", "健身苑点", "健身苑点", "park", 0.8, ["everyone"]),
    ("party_service", "党群服务站", "党群服务站", "office", 0.7, ["everyone"]),
    ("health", "家庭医生工作室延伸点", "卫生服务站", "clinic", 0.5, ["everyone"]),
    ("child_family", "儿童之家", "儿童之家", "daycare", 0.3, ["child"]),
    ("volunteer_repair", "小修小补点", "小修小补点", "office", 0.4, ["everyone"]),
    ("waste", "垃圾厢房", "垃圾厢房", "waste", 0.9, ["everyone"]),
    ("mobility", "公交站", "公交站", "shop", 0.7, ["everyone"]),
    ("culture", "文化活动室", "文化活动室", "culture", 0.4, ["everyone"]),
    ("employment", "就业服务站", "就业服务站", "office", 0.2, ["new_employment"]),
    ("hub", "美好生活盒子", "美好生活盒子", "office", 0.3, ["everyone"]),
]
# Deliberate gaps: these neighbourhoods (by name stem) get none of their own in the category.
GAPS = {"中环家园": {"meal", "public_space"}, "凯旋公寓": {"meal"}, "中骏天誉": {"commerce"},
        "光新": {"elder_care"}}


def _around(rng: random.Random, lat: float, lng: float, lo_m: float, hi_m: float) -> tuple[float, float]:
    r = rng.uniform(lo_m, hi_m)
    angle = rng.uniform(0, 2 * math.pi)
    return (round(lat + r * math.cos(angle) / 111195.0, 6),
            round(lng + r * math.sin(angle) / (111195.0 * math.cos(math.radians(lat))), 6))


def plan() -> list[dict]:
    """Facility rows for the demo streets and neighbourhoods in the database."""
    rows = []
    streets = db.session.execute(sa.select(Street).order_by(Street.id)).scalars().all()
    for street in streets:
        if street.lat is None:
            continue
        rng = random.Random(f"{SEED}:{street.code}")
        for i, (name, category, subtype, hours, *_) in enumerate(STREET_FACILITIES.get(street.prefix, [])):
            lat, lng = _around(rng, street.lat, street.lng, 100, 700)
            rows.append({"external_id": f"demo-{street.code}-{i + 1}", "name": name, "category_code": category,
                         "subtype": subtype, "lat": lat, "lng": lng, "hours": hours, "street_id": street.id,
                         "neighbourhood_id": None, "target_groups": ["everyone"]})
        nbs = db.session.execute(sa.select(Neighbourhood).where(Neighbourhood.street_id == street.id)
                                 .order_by(Neighbourhood.code)).scalars().all()
        for nb in nbs:
            if nb.lat is None:
                continue
            stem = nb.name.removesuffix("居民区")
            gaps = next((g for key, g in GAPS.items() if stem.startswith(key)), set())
            nrng = random.Random(f"{SEED}:{nb.code}")
            for i, (category, subtype, suffix, hours, chance, groups) in enumerate(LOCAL):
                if category in gaps or nrng.random() > chance:
                    continue
                lat, lng = _around(nrng, nb.lat, nb.lng, 60, 350)
                rows.append({"external_id": f"demo-{nb.code}-{i + 1}", "name": f"{stem}{suffix}",
                             "category_code": category, "subtype": subtype, "lat": lat, "lng": lng, "hours": hours,
                             "street_id": street.id, "neighbourhood_id": nb.id, "target_groups": groups})
    return rows


def load(spec: dict | None = None) -> int:
    """Insert the demo facilities that are missing; returns how many were added (one transaction)."""
    rows = plan()
    if not rows:
        return 0
    present = set(db.session.execute(sa.select(Facility.external_id).where(
        Facility.external_id.in_([r["external_id"] for r in rows]))).scalars())
    added = 0
    for row in rows:
        if row["external_id"] in present:
            continue
        hours = hours_mod.normalise(HOURS[row.pop("hours")])
        db.session.add(Facility(**row, hours=hours, cell=walking.cell_of(row["lat"], row["lng"]), status="open",
                                coord_source="approximate", services=[], accessible=row["category_code"] in (
                                    "elder_care", "health", "gov_service", "meal"), bookable=False))
        added += 1
    # One planned facility, for the "planned" coverage scenario.
    planned_id = "demo-planned-meal-1"
    wl = db.session.execute(sa.select(Street).where(Street.prefix == "WL")).scalars().first()
    if wl is not None and wl.lat is not None and planned_id not in present and db.session.execute(
            sa.select(Facility.id).where(Facility.external_id == planned_id)).first() is None:
        db.session.add(Facility(external_id=planned_id, name="中环家园长者食堂（规划）", category_code="meal",
                                subtype="长者食堂", lat=round(wl.lat + 0.004, 6), lng=round(wl.lng - 0.003, 6),
                                cell=walking.cell_of(wl.lat + 0.004, wl.lng - 0.003), status="planned",
                                coord_source="approximate", services=[], target_groups=["elder"],
                                accessible=True, bookable=False, street_id=wl.id))
        added += 1
    db.session.commit()
    return added
