"""Walking distance and minutes between two points, for this domain and for others
(the meals domain's "nearest meal site").

The estimate, where no network distance is known:

    distance_m = haversine(origin, target)              (R = 6,371,008.8 m, both points GCJ-02)
    walk_m     = round(distance_m × detour_factor)       (detour_factor in config/rules/life_circle.yaml)
    minutes    = ⌈walk_m ÷ pace speed⌉                   (standard 60 m/min, elder 48 m/min)

labelled ``method="estimated"``. Between an estate and a facility with a row in the
imported network table (``facility_walk``), that row's ``walk_m`` is used instead
(and its walking seconds for the pace when given: minutes = ⌈seconds ÷ 60⌉),
labelled ``method="network"``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa

from models.base import db
from models.life_circle import CELL_DEG, CELL_ROW, Facility, FacilityWalk
from models.places import Estate
from service import geo
from service.life_circle import rules


@dataclass(frozen=True)
class Walk:
    distance_m: int        # straight line (rounded); None-free: 0 when the points coincide
    walk_m: int            # the walking distance used (network, or the estimate)
    minutes: int           # ⌈walk ÷ speed⌉ for ``pace``
    method: str            # "network" or "estimated"
    pace: str


def speed(pace: str) -> int:
    found = rules.current().pace(pace)
    if found is None:
        raise ValueError(f"unknown pace {pace!r}")
    return found.m_per_min


def minutes_for(walk_m: int, pace: str = "standard", walk_s: int | None = None) -> int:
    """Displayed minutes: ⌈walk_s ÷ 60⌉ when network seconds are known, else ⌈walk_m ÷ speed⌉."""
    if walk_s is not None:
        return -(-int(walk_s) // 60)
    return -(-int(walk_m) // speed(pace))


def estimated_walk_m(distance_m: float) -> int:
    """round(straight line × detour factor), halves up."""
    return int(math.floor(distance_m * rules.current().walk.detour_factor + 0.5))


def estimate(from_lat: float, from_lng: float, to_lat: float, to_lng: float, *, pace: str = "standard") -> Walk:
    """The estimated walk between two GCJ-02 points."""
    distance = geo.distance_m(from_lat, from_lng, to_lat, to_lng)
    walk_m = estimated_walk_m(distance)
    return Walk(int(math.floor(distance + 0.5)), walk_m, minutes_for(walk_m, pace), "estimated", pace)


def network(row: FacilityWalk | None, distance_m: float, pace: str) -> Walk | None:
    if row is None:
        return None
    seconds = row.walk_s_elder if pace == "elder" else row.walk_s_standard if pace == "standard" else None
    return Walk(int(math.floor(distance_m + 0.5)), row.walk_m, minutes_for(row.walk_m, pace, seconds), "network",
                pace)


def network_rows(estate_id: int, facility_ids=None) -> dict[int, FacilityWalk]:
    """The imported network walks from one estate, keyed by facility id (one indexed read)."""
    query = sa.select(FacilityWalk).where(FacilityWalk.estate_id == estate_id)
    if facility_ids is not None:
        ids = list(facility_ids)
        if not ids:
            return {}
        query = query.where(FacilityWalk.facility_id.in_(ids))
    return {row.facility_id: row for row in db.session.execute(query).scalars()}


def between(from_lat: float, from_lng: float, to_lat: float, to_lng: float, *, pace: str = "standard",
            estate_id: int | None = None, facility_id: int | None = None) -> Walk:
    """The walk between two GCJ-02 points: the network distance when ``estate_id`` and
    ``facility_id`` name a pair in the imported table, else the estimate."""
    walk = estimate(from_lat, from_lng, to_lat, to_lng, pace=pace)
    if estate_id is not None and facility_id is not None:
        row = db.session.get(FacilityWalk, (estate_id, facility_id))
        if row is not None:
            return network(row, walk.distance_m, pace)
    return walk


def estate_to_facility(estate_id: int, facility_id: int, *, pace: str = "standard") -> Walk | None:
    """The walk from an estate (its recorded point) to a facility; None when either is unknown
    or has no coordinates."""
    estate = db.session.get(Estate, estate_id)
    facility = db.session.get(Facility, facility_id)
    if estate is None or facility is None or estate.lat is None or estate.lng is None:
        return None
    return between(estate.lat, estate.lng, facility.lat, facility.lng, pace=pace, estate_id=estate_id,
                   facility_id=facility_id)


# --- the grid used to prefilter nearby lookups -----------------------------------------------------------------

def cell_of(lat: float, lng: float) -> int:
    return int(math.floor((lat + 90.0) / CELL_DEG)) * CELL_ROW + int(math.floor((lng + 180.0) / CELL_DEG))


def cells_for_box(min_lat: float, max_lat: float, min_lng: float, max_lng: float) -> list[int]:
    """Every grid cell that meets the box (so no point in the box is missed)."""
    r0, r1 = int(math.floor((min_lat + 90.0) / CELL_DEG)), int(math.floor((max_lat + 90.0) / CELL_DEG))
    c0, c1 = int(math.floor((min_lng + 180.0) / CELL_DEG)), int(math.floor((max_lng + 180.0) / CELL_DEG))
    return [r * CELL_ROW + c for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]


def search_box(lat: float, lng: float, radius_m: float) -> tuple[float, float, float, float]:
    """The bounding box of a circle, padded by 1 % against rounding at its edge."""
    return geo.bounding_box(lat, lng, radius_m * 1.01 + 1.0)
