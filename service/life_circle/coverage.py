"""Coverage (覆盖率) of the 15-minute life circle, per estate and per street.

Definitions (also in the README and the OpenAPI description; reproduced in every report's
``formulas``):

* Origins: the street's estates (小区) that have coordinates, measured from their recorded
  point. Estates without coordinates are listed under ``estates_unlocated`` and left out of
  every denominator.
* d(e, c): the walking distance from estate e to the nearest facility of category c whose
  status is ``open`` (``planned`` scenario: also ``planned`` and ``building``), searched within
  ``coverage_search_m`` straight-line metres. It is the imported network distance for the pair
  when there is one, else round(haversine × detour factor) (service/life_circle/walking.py).
  No facility within the search radius: d is unknown and e is not covered.
* covered(e, c) = d(e, c) ≤ t_c, the category's threshold in metres (integer metres compared).
* households h(e): the number of units (户) recorded for the estate.
* Estate share C_e(c) = #{e : covered(e, c)} ÷ #E.
* Household share C_h(c) = Σ h(e)·covered(e, c) ÷ Σ h(e).
* Overall (strict), over the required categories K: C_e = #{e : covered(e, c) for all c ∈ K} ÷ #E,
  C_h = Σ h(e)·[covered(e, c) for all c ∈ K] ÷ Σ h(e).
* Overall (mean), secondary: the mean over c ∈ K of C_e(c) (and of C_h(c)).

Each share is given as an exact numerator and denominator and a percentage rounded half up
to 2 decimals (null when the denominator is 0). A figure that used any estimated distance is
labelled ``distance_method: "estimated"`` (or ``"mixed"``); only an all-network figure is
``"network"``.
"""
from __future__ import annotations

import math
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import sqlalchemy as sa

from models.base import db
from models.life_circle import CELL_DEG, Facility, FacilityWalk
from models.places import Estate, Street, Unit
from service import clock, csv_export, geo
from service.life_circle import access, errors, rules, walking
from service.people import Actor

SCENARIOS = {"current": ("open",), "planned": ("open", "building", "planned")}

FORMULAS_ZH = {
    "distance": "d(小区,类别) = 到最近一处该类开放设施的步行距离：有路网测算值时用之，否则为 直线距离×绕行系数（四舍五入到米）",
    "covered": "覆盖 = d ≤ 该类别的步行阈值（米）",
    "estate_share": "按小区覆盖率 = 被覆盖的小区数 ÷ 有坐标的小区数",
    "household_share": "按户覆盖率 = 被覆盖小区的户数之和 ÷ 全部有坐标小区的户数之和",
    "overall_strict": "总体覆盖率（严格）= 所有必备类别都被覆盖的小区（或其户数）÷ 全部小区（或户数）",
    "overall_mean": "总体覆盖率（平均，辅助）= 各必备类别覆盖率的算术平均",
}
FORMULAS_EN = {
    "distance": "d(estate, category) = walking metres to the nearest open facility of the category: the network "
                "distance when imported, else round(straight line × detour factor)",
    "covered": "covered = d ≤ the category's threshold in metres",
    "estate_share": "estate share = covered estates ÷ located estates",
    "household_share": "household share = Σ units of covered estates ÷ Σ units of located estates",
    "overall_strict": "overall (strict) = estates (or their units) covered for every required category ÷ all",
    "overall_mean": "overall (mean, secondary) = mean of the required categories' shares",
}


def share(numerator: int, denominator: int) -> dict:
    return {"numerator": numerator, "denominator": denominator, "rate": percent(Fraction(numerator, denominator))
            if denominator else None}


def percent(value: Fraction | None) -> float | None:
    if value is None:
        return None
    exact = Decimal(value.numerator) * 100 / Decimal(value.denominator)
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# --- the computation -------------------------------------------------------------------------------------------

def _estates(street_id: int | None, estate_id: int | None) -> list:
    query = sa.select(Estate.id, Estate.code, Estate.name, Estate.lat, Estate.lng, Estate.street_id)
    query = query.where(Estate.id == estate_id) if estate_id is not None else query.where(Estate.street_id == street_id)
    return list(db.session.execute(query.order_by(Estate.id)))


def _households(estate_ids: list[int]) -> dict[int, int]:
    if not estate_ids:
        return {}
    rows = db.session.execute(sa.select(Unit.estate_id, sa.func.count()).where(Unit.estate_id.in_(estate_ids))
                              .group_by(Unit.estate_id))
    return {eid: int(n) for eid, n in rows}


def _facilities(estates: list, statuses: tuple[str, ...], search_m: int) -> dict[str, list]:
    """Facilities in the estates' bounding box widened by the search radius, by category."""
    lats = [e.lat for e in estates]
    lngs = [e.lng for e in estates]
    # Padding in longitude grows with latitude: take it at the estate furthest from the equator.
    far = max(lats, key=abs)
    _, _, pad_lo, pad_hi = geo.bounding_box(far, 0.0, search_m)
    dlat = math.degrees(search_m / geo.EARTH_RADIUS_M)
    lo_lat, hi_lat = min(lats) - dlat, max(lats) + dlat
    lo_lng, hi_lng = min(lngs) + pad_lo, max(lngs) + pad_hi
    query = sa.select(Facility.id, Facility.name, Facility.category_code, Facility.lat, Facility.lng).where(
        Facility.lat.between(lo_lat, hi_lat), Facility.lng.between(lo_lng, hi_lng), Facility.status.in_(statuses))
    cells = walking.cells_for_box(lo_lat, hi_lat, lo_lng, hi_lng)
    if len(cells) <= 2000:
        query = query.where(Facility.cell.in_(cells))
    by_category: dict[str, list] = {}
    for row in db.session.execute(query):
        by_category.setdefault(row.category_code, []).append(row)
    return by_category


def _network(estate_ids: list[int]) -> dict[tuple[int, int], FacilityWalk]:
    if not estate_ids:
        return {}
    rows = db.session.execute(sa.select(FacilityWalk).where(FacilityWalk.estate_id.in_(estate_ids))).scalars()
    return {(r.estate_id, r.facility_id): r for r in rows}


def _measure(estates: list, statuses: tuple[str, ...]) -> tuple[dict, dict]:
    """{estate id: {category: nearest or None}} and how many nearest pairs were network or estimated.

    The nearest facility is the one with the smallest (walk_m, straight metres, id). It is found by
    visiting grid cells in rings around the estate and stopping once no unvisited cell can hold a
    facility that would rank first (``_nearest_scan`` is the plain scan it must agree with)."""
    loaded = rules.current()
    detour = loaded.walk.detour_factor
    search_m = loaded.walk.coverage_search_m
    located = [e for e in estates if e.lat is not None and e.lng is not None]
    if not located:
        return {}, {"network": 0, "estimated": 0}
    facilities = _facilities(located, statuses, search_m)
    network = _network([e.id for e in located])
    by_id = {f.id: f for rows in facilities.values() for f in rows}
    net_by_estate: dict[int, list] = {}
    for (eid, fid), row in network.items():
        if fid in by_id:
            net_by_estate.setdefault(eid, []).append((by_id[fid], row))
    far_lat = max(abs(e.lat) for e in located) + 0.1
    step = CELL_DEG * 111195.0 * min(1.0, math.cos(math.radians(far_lat))) * 0.99
    max_ring = int(search_m / step) + 2
    counts = {"network": 0, "estimated": 0}
    result: dict[int, dict] = {e.id: {} for e in located}
    for category in loaded.categories():
        buckets: dict[tuple[int, int], list] = {}
        for f in facilities.get(category.code, ()):
            buckets.setdefault(_rc(f.lat, f.lng), []).append(f)
        for e in located:
            best = None

            def consider(f, best=None):
                d = geo.distance_m(e.lat, e.lng, f.lat, f.lng)
                row = network.get((e.id, f.id))
                if row is None and d > search_m:
                    return best
                walk_m, method = (row.walk_m, "network") if row is not None else (int(d * detour + 0.5), "estimated")
                key = (walk_m, int(d + 0.5), f.id)
                if best is None or key < best["key"]:
                    return {"key": key, "id": f.id, "name": f.name, "walk_m": walk_m, "distance_m": int(d + 0.5),
                            "method": method, "row": row}
                return best

            for f, _ in net_by_estate.get(e.id, ()):
                if f.category_code == category.code:
                    best = consider(f, best)
            if buckets:
                r0, c0 = _rc(e.lat, e.lng)
                for k in range(max_ring + 1):
                    for cell in _ring(r0, c0, k):
                        for f in buckets.get(cell, ()):
                            best = consider(f, best)
                    reach = k * step   # no unvisited cell is nearer than this
                    if reach > search_m or (best is not None and int(reach * detour + 0.5) > best["walk_m"]):
                        break
            if best is not None:
                counts[best["method"]] += 1
            result[e.id][category.code] = best
    return result, counts


def _rc(lat: float, lng: float) -> tuple[int, int]:
    return int(math.floor((lat + 90.0) / CELL_DEG)), int(math.floor((lng + 180.0) / CELL_DEG))


def _ring(r0: int, c0: int, k: int):
    if k == 0:
        yield (r0, c0)
        return
    for dc in range(-k, k + 1):
        yield (r0 - k, c0 + dc)
        yield (r0 + k, c0 + dc)
    for dr in range(-k + 1, k):
        yield (r0 + dr, c0 - k)
        yield (r0 + dr, c0 + k)


def _nearest_scan(estates: list, statuses: tuple[str, ...]) -> dict:
    """The reference: every facility of the category compared with every estate (tests)."""
    loaded = rules.current()
    walk_rules = loaded.walk
    located = [e for e in estates if e.lat is not None and e.lng is not None]
    facilities = _facilities(located, statuses, walk_rules.coverage_search_m) if located else {}
    network = _network([e.id for e in located])
    out = {}
    for e in located:
        for category in loaded.categories():
            best = None
            for f in facilities.get(category.code, ()):
                d = geo.distance_m(e.lat, e.lng, f.lat, f.lng)
                row = network.get((e.id, f.id))
                if row is None and d > walk_rules.coverage_search_m:
                    continue
                walk_m = row.walk_m if row is not None else int(d * walk_rules.detour_factor + 0.5)
                key = (walk_m, int(d + 0.5), f.id)
                best = key if best is None or key < best else best
            out[(e.id, category.code)] = best
    return out


def _nearest_out(best: dict | None, category) -> dict:
    if best is None:
        return {"category": category.code, "threshold_m": category.threshold_m, "required": category.required,
                "nearest": None, "covered": False, "beyond_m": None}
    row = best["row"]
    minutes = {p.code: walking.minutes_for(best["walk_m"], p.code,
                                           (row.walk_s_elder if p.code == "elder" else row.walk_s_standard
                                            if p.code == "standard" else None) if row is not None else None)
               for p in rules.current().paces()}
    covered = best["walk_m"] <= category.threshold_m
    return {"category": category.code, "threshold_m": category.threshold_m, "required": category.required,
            "nearest": {"id": best["id"], "name": best["name"], "walk_m": best["walk_m"],
                        "distance_m": best["distance_m"], "walk_minutes": minutes, "walk_method": best["method"]},
            "covered": covered, "beyond_m": None if covered else best["walk_m"] - category.threshold_m}


def _method(counts: dict) -> str:
    if counts["estimated"] and counts["network"]:
        return "mixed"
    return "network" if counts["network"] and not counts["estimated"] else "estimated"


def _labels(scenario: str, counts: dict, lang: str) -> dict:
    loaded = rules.current()
    walk_rules = loaded.walk
    return {"as_of": clock.iso(clock.now()), "scenario": scenario, "distance_method": _method(counts),
            "pairs": dict(counts), "detour_factor": walk_rules.detour_factor,
            "search_radius_m": walk_rules.coverage_search_m,
            "paces": {p.code: p.m_per_min for p in loaded.paces()},
            "facilities_updated_at": _facilities_updated(),
            "formulas": FORMULAS_EN if lang == "en" else FORMULAS_ZH}


def _facilities_updated() -> str | None:
    latest = db.session.execute(sa.select(sa.func.max(Facility.updated_at))).scalar()
    if latest is None:
        return None
    return clock.iso(latest) if isinstance(latest, datetime) else str(latest)


def estate_coverage(actor: Actor, estate_id: int, *, scenario: str = "current", lang: str = "zh") -> dict:
    """For every category: the nearest open facility, its walk and whether it is within the threshold."""
    estate = db.session.get(Estate, estate_id)
    if estate is None:
        raise errors.EstateNotFound()
    access.require_plan(actor, estate.street_id, estate.id)
    rows = _estates(None, estate_id)
    measured, counts = _measure(rows, SCENARIOS[scenario])
    households = _households([estate_id]).get(estate_id, 0)
    per = measured.get(estate_id)
    categories = []
    for category in rules.current().categories():
        item = _nearest_out(per.get(category.code) if per else None, category)
        item["category_name"] = category.name(lang)
        item["dimension"] = category.dimension
        categories.append(item)
    required = [c for c in categories if c["required"]]
    return {"estate": {"id": estate.id, "code": estate.code, "name": estate.name, "street_id": estate.street_id,
                       "lat": estate.lat, "lng": estate.lng, "households": households,
                       "located": per is not None},
            "categories": categories,
            "required_covered": sum(1 for c in required if c["covered"]), "required_total": len(required),
            "all_required_covered": per is not None and all(c["covered"] for c in required),
            **_labels(scenario, counts, lang)}


def street_coverage(actor: Actor, street_id: int, *, scenario: str = "current", lang: str = "zh") -> dict:
    street = db.session.get(Street, street_id)
    if street is None:
        raise errors.StreetNotFound()
    access.require_plan(actor, street_id)
    return compute_street(street, statuses=SCENARIOS[scenario], scenario=scenario, lang=lang)


def compute_street(street: Street, *, statuses=("open",), scenario: str = "current", lang: str = "zh") -> dict:
    """The street report without the authorisation check (benchmarks, jobs)."""
    estates = _estates(street.id, None)
    measured, counts = _measure(estates, statuses)
    cats = rules.current().categories()
    required = [c for c in cats if c.required]
    located = _Located(estates, measured, cats)
    gaps = _gaps(located, cats, lang)
    all_covered = {e.id for e in located.estates if all(located.items[e.id][c.code]["covered"] for c in required)}
    return {"street": {"id": street.id, "code": street.code, "name": street.name},
            "counts": {"estates": len(estates), "estates_located": len(located.estates),
                       "households": located.total_units,
                       "estates_without_units": sum(1 for e in located.estates if not located.units.get(e.id)),
                       "gaps": len(gaps), "required_gaps": sum(1 for g in gaps if g["required"])},
            "estates_unlocated": [{"id": e.id, "name": e.name} for e in estates if e.id not in measured],
            "required": [c.code for c in required],
            "categories": [_category_share(located, c, lang) for c in cats],
            "overall": _overall(located, required, all_covered),
            "gaps": gaps, "estates": [_estate_row(located, e, e.id in all_covered, lang) for e in located.estates],
            **_labels(scenario, counts, lang)}


class _Located:
    """A street's estates with coordinates, each category's nearest facility from each (``_nearest_out``), and
    their households (units)."""

    def __init__(self, estates: list, measured: dict, cats: list):
        self.estates = [e for e in estates if e.id in measured]
        self.units = _households([e.id for e in estates])
        self.total_units = self.sum_units(self.estates)
        self.items = {e.id: {c.code: _nearest_out(measured[e.id][c.code], c) for c in cats} for e in self.estates}
        self._covered: dict[str, list] = {}

    def sum_units(self, estates) -> int:
        return sum(self.units.get(e.id, 0) for e in estates)

    def covered(self, code: str) -> list:
        """The estates within the category's threshold, in the estates' order."""
        found = self._covered.get(code)
        if found is None:
            found = self._covered[code] = [e for e in self.estates if self.items[e.id][code]["covered"]]
        return found


def _category_share(located: _Located, c, lang: str) -> dict:
    covered = located.covered(c.code)
    return {"category": c.code, "category_name": c.name(lang), "dimension": c.dimension,
            "threshold_m": c.threshold_m, "required": c.required,
            "estate_share": share(len(covered), len(located.estates)),
            "household_share": share(located.sum_units(covered), located.total_units)}


def _gaps(located: _Located, cats: list, lang: str) -> list[dict]:
    """Every (estate, category) not covered, estate by estate."""
    gaps = []
    for e in located.estates:
        for c in cats:
            item = located.items[e.id][c.code]
            if item["covered"]:
                continue
            nearest = item["nearest"] or {}
            gaps.append({"estate_id": e.id, "estate_name": e.name, "category": c.code, "category_name": c.name(lang),
                         "required": c.required, "threshold_m": c.threshold_m,
                         "nearest_facility_id": nearest.get("id"), "nearest_facility_name": nearest.get("name"),
                         "walk_m": nearest.get("walk_m"), "walk_method": nearest.get("walk_method"),
                         "beyond_m": item["beyond_m"]})
    return gaps


def _overall(located: _Located, required: list, all_covered: set[int]) -> dict:
    """Strict: the estates (and units) covered for every required category; mean: of the required shares."""
    n, units = len(located.estates), located.total_units
    mean_e = (sum((Fraction(len(located.covered(c.code)), n) for c in required), Fraction(0)) / len(required)
              if n and required else None)
    mean_h = (sum((Fraction(located.sum_units(located.covered(c.code)), units) for c in required), Fraction(0))
              / len(required) if units and required else None)
    strict_units = located.sum_units(e for e in located.estates if e.id in all_covered)
    return {"strict": {"estate_share": share(len(all_covered), n), "household_share": share(strict_units, units)},
            "mean": {"estate_share": percent(mean_e), "household_share": percent(mean_h)}}


def _estate_row(located: _Located, e, all_required_covered: bool, lang: str) -> dict:
    loaded = rules.current()
    cells = located.items[e.id]
    covered = [code for code, item in cells.items() if item["covered"]]
    missing = [code for code, item in cells.items() if not item["covered"]]
    return {"id": e.id, "code": e.code, "name": e.name, "lat": e.lat, "lng": e.lng,
            "households": located.units.get(e.id, 0),
            "covered": covered, "covered_names": [loaded.category_name(code, lang) for code in covered],
            "missing": missing, "missing_names": [loaded.category_name(code, lang) for code in missing],
            "all_required_covered": all_required_covered,
            "categories": {code: {"covered": item["covered"],
                                  "walk_m": item["nearest"]["walk_m"] if item["nearest"] else None,
                                  "facility_id": item["nearest"]["id"] if item["nearest"] else None}
                           for code, item in cells.items()}}


# --- CSV and GeoJSON -------------------------------------------------------------------------------------------

# The CSV's last row says what its marks mean.
MARKER_NOTE = {"zh": "说明：各类别列为小区到最近设施的步行米数；带 * 表示在该类别的步行阈值内（已覆盖），空白表示搜索范围内没有该类设施",
               "en": "Note: each category column is the walk in metres from the estate to the nearest facility; "
                     "* marks a walk within the category's threshold (covered); blank means none within the search "
                     "radius"}


def to_csv(report: dict, lang: str = "zh") -> str:
    """UTF-8 with a BOM for Excel: one row per estate (walk metres per category, * when covered),
    then the estate share and the household share of every category."""
    cats = rules.current().categories()
    zh = lang != "en"
    header = (["小区编号", "小区", "户数", "必备类别全覆盖"] if zh else ["estate_code", "estate", "households",
                                                                 "all_required_covered"])
    header += [f"{c.name(lang)}({c.threshold_m}m)" for c in cats]
    yes, no = ("是", "否") if zh else ("yes", "no")
    rows = []
    for e in report["estates"]:
        row = [e["code"], e["name"], e["households"], yes if e["all_required_covered"] else no]
        for c in cats:
            item = e["categories"][c.code]
            row.append("" if item["walk_m"] is None else f"{item['walk_m']}{'*' if item['covered'] else ''}")
        rows.append(row)
    by_code = {c["category"]: c for c in report["categories"]}
    strict = report["overall"]["strict"]
    for label, key in (("按小区覆盖率(%)" if zh else "estate share (%)", "estate_share"),
                       ("按户覆盖率(%)" if zh else "household share (%)", "household_share")):
        rate = strict[key]["rate"]
        row = ["", label, "", "" if rate is None else f"{rate:.2f}"]
        for c in cats:
            value = by_code[c.code][key]["rate"]
            row.append("" if value is None else f"{value:.2f}")
        rows.append(row)
    rows.append(["", MARKER_NOTE["zh" if zh else "en"]])
    return csv_export.write(header, rows)


def to_geojson(report: dict, datum: str = "wgs84") -> dict:
    """Estates as points with their coverage, for planners' maps (RFC 7946: WGS-84 by default)."""
    features = []
    for e in report["estates"]:
        lat, lng = geo.from_gcj02(e["lat"], e["lng"], datum)
        features.append({"type": "Feature", "id": e["id"],
                         "geometry": {"type": "Point", "coordinates": [round(lng, 6), round(lat, 6)]},
                         "properties": {"estate_id": e["id"], "code": e["code"], "name": e["name"],
                                        "households": e["households"],
                                        "all_required_covered": e["all_required_covered"],
                                        "covered": e["covered"], "missing": e["missing"],
                                        "covered_count": len(e["covered"]),
                                        **{f"walk_m.{code}": item["walk_m"] for code, item in e["categories"].items()}}})
    return {"type": "FeatureCollection", "datum": datum, "street": report["street"],
            "distance_method": report["distance_method"], "as_of": report["as_of"],
            "overall": report["overall"], "features": features}
