"""Resident lookups: categories, nearby facilities with walking times and "open now",
one facility, search by name."""
from __future__ import annotations

import functools
import math
import threading
from datetime import datetime

import orjson
import sqlalchemy as sa

from models.base import db
from models.life_circle import Facility
from models.places import Estate
from service import clock, geo, labels
from service.db import paged, rows_and_total
from service.life_circle import errors, rules, walking
from service.life_circle import hours as hours_mod

WALK_NOTE_ZH = "步行时间为估算：直线距离×绕行系数÷步速；标注为 network 的来自路网测算"
WALK_NOTE_EN = ("Walking times are estimates: straight-line distance × detour factor ÷ pace; "
                "those marked network come from the street-network table")


def category_list(lang: str) -> dict:
    loaded = rules.current()
    paces = loaded.paces()
    return {
        "items": [{"code": c.code, "name": c.name(lang), "name_zh": c.zh, "name_en": c.en, "dimension": c.dimension,
                   "dimension_en": loaded.dimensions[c.dimension], "threshold_m": c.threshold_m,
                   "required": c.required, "subtypes": list(c.subtypes),
                   "threshold_minutes": {p.code: walking.minutes_for(c.threshold_m, p.code) for p in paces}}
                  for c in loaded.categories()],
        "paces": [{"code": p.code, "name": p.name(lang), "m_per_min": p.m_per_min} for p in paces],
        "target_groups": [{"code": code, "name": en if lang == "en" else zh}
                          for code, (zh, en) in loaded.target_groups.items()],
        "detour_factor": loaded.walk.detour_factor,
        "required": loaded.required_codes(),
    }


def facility_dict(f: Facility, lang: str = "zh", *, datum: str = "gcj02", moment: datetime | None = None,
                  with_hours: bool = True, days: hours_mod.Days | None = None) -> dict:
    """A facility as the API shows it, open now at ``moment`` (or at ``days``'s moment: a list evaluates the days
    around one moment once for all its facilities, and each distinct schedule is compiled once, ``_schedule``)."""
    category = rules.current().category(f.category_code)
    lat, lng = geo.from_gcj02(f.lat, f.lng, datum)
    state = hours_mod.evaluate(_schedule(f.hours) if f.status == "open" else None, f.status,
                               days or hours_mod.Days(moment or clock.now()))
    return {
        "id": f.id, "external_id": f.external_id, "name": f.name, "category": f.category_code,
        "category_name": category.name(lang) if category else f.category_code,
        "dimension": category.dimension if category else None, "subtype": f.subtype, "address": f.address,
        "lat": round(lat, 6), "lng": round(lng, 6), "datum": datum, "coord_source": f.coord_source,
        "phone": f.phone, "services": list(f.services or []), "target_groups": list(f.target_groups or []),
        "capacity": f.capacity, "accessible": f.accessible, "bookable": f.bookable, "status": f.status,
        **({"hours": f.hours} if with_hours else {}), "open_now": state["open_now"],
        "closes_at": clock.iso(state["closes_at"]), "next_open_at": clock.iso(state["next_open_at"]),
        "description": f.description, "street_id": f.street_id,
        "neighbourhood_id": f.neighbourhood_id, "meal_site_id": f.meal_site_id, "version": f.version,
    }


def get(facility_id: int, *, datum: str = "gcj02", lang: str = "zh") -> dict:
    facility = db.session.get(Facility, facility_id)
    if facility is None:
        raise errors.FacilityNotFound()
    return facility_dict(facility, lang, datum=datum)


def _check_filters(category: str | None, target_group: str | None) -> None:
    """A category and a target group the rules know (the request schema checks the pace)."""
    loaded = rules.current()
    if category is not None and loaded.category(category) is None:
        raise errors.CategoryUnknown()
    if target_group is not None and target_group not in loaded.target_groups:
        raise errors.TargetGroupUnknown()


# The prefilter: grid cells and the box, answered from ix_facility_cell alone, each facility with its version (the
# item cache's key; nearby_ids sends the same statement as driver SQL).
_PREFILTER = sa.select(Facility.id, Facility.lat, Facility.lng, Facility.status, Facility.category_code,
                       Facility.version).where(
    Facility.cell.in_(sa.bindparam("cells", expanding=True)),
    Facility.lat.between(sa.bindparam("lat0"), sa.bindparam("lat1")),
    Facility.lng.between(sa.bindparam("lng0"), sa.bindparam("lng1")))

# What the list needs of the facilities shown that the item cache does not hold yet, as plain rows in the order
# of ``_Static``'s arguments. On PostgreSQL the same columns are read as driver SQL with the ids as one array
# parameter (``_details``): one statement text whatever the number of ids, so the driver prepares it once.
_DETAIL = sa.select(Facility.id, Facility.version, Facility.name, Facility.category_code, Facility.subtype,
                    Facility.address, Facility.lat, Facility.lng, Facility.phone, Facility.services,
                    Facility.target_groups, Facility.accessible, Facility.bookable, Facility.hours).where(
    Facility.id.in_(sa.bindparam("ids", expanding=True)))
_DETAIL_PG = (f"SELECT {', '.join(c.name for c in _DETAIL.selected_columns)} FROM facility "
              "WHERE id = ANY(%s::integer[])")

# What a nearby item shows of a facility besides its walk and open now (the rest: GET /facilities/{id}).
NEARBY_FIELDS = ("id", "name", "category", "category_name", "dimension", "subtype", "address", "lat", "lng", "datum",
                 "phone", "services", "target_groups", "accessible", "bookable")


def _dumps(value) -> str:
    """JSON as the API sends it (UTF-8 text, compact), by orjson: the same text as the standard library's
    ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` for these values, several times faster."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# Compiled opening hours shared by facilities with the same hours (most keep a few standard schedules),
# so a lookup evaluates each distinct schedule once.
_SCHEDULES: dict[bytes, hours_mod.Schedule] = {}
_SCHEDULES_MAX = 5000


def _schedule(doc: dict | None) -> hours_mod.Schedule | None:
    if doc is None:
        return None
    key = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    found = _SCHEDULES.get(key)
    if found is None:
        if len(_SCHEDULES) >= _SCHEDULES_MAX:
            _SCHEDULES.clear()
        found = _SCHEDULES[key] = hours_mod.Schedule(doc)
    return found


class _Static:
    """What the nearby list needs of one version of a facility that does not change with the moment or the
    origin: its compiled opening hours, target groups and, per language and datum, the item's fixed fields
    (as a dict and as JSON text)."""

    __slots__ = ("id", "version", "category_code", "lat", "lng", "fields", "schedule", "target_groups", "_bases",
                 "_category")

    def __init__(self, fid, version, name, category_code, subtype, address, lat, lng, phone, services, target_groups,
                 accessible, bookable, hours):
        """From a row of ``_DETAIL``, its columns in order."""
        self.id, self.version, self.category_code, self.lat, self.lng = fid, version, category_code, lat, lng
        self.target_groups = tuple(target_groups or ())
        self.fields = {"name": name, "subtype": subtype, "address": address, "phone": phone,
                       "services": list(services or []), "target_groups": list(self.target_groups),
                       "accessible": accessible, "bookable": bookable}
        self.schedule = _schedule(hours)
        self._bases: dict = {}
        self._category = None

    def base(self, lang: str, datum: str) -> tuple[dict, str]:
        """(the fixed fields, the same as JSON without its closing brace)."""
        loaded = rules.current()
        category = loaded.category(self.category_code)
        if self._category is not category:      # rules reloaded: names may have changed
            self._bases, self._category = {}, category
        found = self._bases.get((lang, datum))
        if found is None:
            f = self.fields
            lat, lng = geo.from_gcj02(self.lat, self.lng, datum)
            fields = {
                "id": self.id, "name": f["name"], "category": self.category_code,
                "category_name": category.name(lang) if category else self.category_code,
                "dimension": category.dimension if category else None, "subtype": f["subtype"],
                "address": f["address"], "lat": round(lat, 6), "lng": round(lng, 6), "datum": datum,
                "datum_name": labels.name("places", "datum", datum, lang), "phone": f["phone"],
                "services": f["services"], "target_groups": f["target_groups"],
                "target_groups_names": [loaded.target_group_name(g, lang) for g in f["target_groups"]],
                "accessible": f["accessible"], "bookable": f["bookable"]}
            found = self._bases[(lang, datum)] = (fields, _dumps(fields)[:-1])
        return found


class _StaticCache:
    """A bounded in-process cache of ``_Static`` keyed by (facility id, version).

    Each lookup's prefilter reads the current version of every facility it finds (from ix_facility_cell),
    and every change of a facility raises its version (the ORM's version counter), so an edit is seen at
    once by every worker: its new version is simply not cached yet. Ids are never reused for committed rows.
    Oldest entries go first when full."""

    def __init__(self, size: int):
        self.size = size
        self._items: dict[tuple[int, int], _Static] = {}
        self._lock = threading.Lock()

    def get(self, key):
        return self._items.get(key)

    def put(self, entry: _Static) -> None:
        with self._lock:
            items = self._items
            if len(items) >= self.size:
                for key in list(items)[:max(1, self.size // 10)]:
                    items.pop(key, None)
            items[(entry.id, entry.version)] = entry

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


STATIC_CACHE = _StaticCache(5_000)   # about 2.5 KB an entry: some 12 MB per worker when full


def _driver_sql(n: int, paramstyle: str) -> str:
    """The hot read as driver SQL for ``n`` cells in its IN list (built once per size; the statement of
    ``_PREFILTER``, without compiling it per request)."""
    key = (n, paramstyle)
    sql = _SQL.get(key)
    if sql is None:
        mark = "?" if paramstyle == "qmark" else "%s"
        marks = ", ".join([mark] * n)
        sql = _SQL[key] = (
            f"SELECT id, lat, lng, status, category_code, version FROM facility WHERE cell IN ({marks}) "
            f"AND lat BETWEEN {mark} AND {mark} AND lng BETWEEN {mark} AND {mark}")
    return sql


_SQL: dict[tuple[int, str], str] = {}


def _fetch(params: tuple, n: int) -> list[tuple]:
    """Run a ``_driver_sql`` read on the session's connection (in its transaction) with the driver's cursor."""
    connection = db.session.connection()
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_driver_sql(n, connection.dialect.paramstyle), params)
        return cursor.fetchall()
    finally:
        cursor.close()


def _statics(found) -> dict[int, _Static]:
    """Facility id → the static part of the version the prefilter found; reads whole rows only for versions not
    cached (``found``: (id, walk) pairs of ``nearby_ids``)."""
    out, missing = {}, []
    get = STATIC_CACHE.get
    for fid, walk in found:
        entry = get((fid, walk.version))
        if entry is None:
            missing.append(fid)
        else:
            out[fid] = entry
    if missing:
        for row in _details(missing):
            entry = out[row[0]] = _Static(*row)
            STATIC_CACHE.put(entry)
    return out


def _details(ids: list[int]) -> list:
    """The ``_DETAIL`` rows of these facilities, in the session's transaction."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return connection.execute(_DETAIL, {"ids": ids}).all()
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_DETAIL_PG, (ids,))
        return cursor.fetchall()
    finally:
        cursor.close()


def _serves(groups, target_group: str | None) -> bool:
    if target_group is None:
        return True
    groups = groups or ()
    return target_group in groups or "everyone" in groups or not groups


class _Moment:
    """Open now at one moment, evaluated once per distinct schedule (as values and as JSON text)."""

    __slots__ = ("days", "_seen")

    def __init__(self, moment: datetime):
        self.days = hours_mod.Days(moment)
        self._seen: dict = {}

    def state(self, schedule) -> tuple[dict, str]:
        found = self._seen.get(schedule)
        if found is None:
            st = hours_mod.evaluate(schedule, "open", self.days)
            values = {"open_now": st["open_now"], "closes_at": clock.iso(st["closes_at"]),
                      "next_open_at": clock.iso(st["next_open_at"])}
            found = self._seen[schedule] = (values, _dumps(values)[1:-1])
        return found


def nearby(**args) -> dict:
    """Open facilities within ``minutes`` of walking, by walking distance (then id); see ``_nearby``."""
    head, rows, lang, datum = _nearby(**args)
    items = [{**entry.base(lang, datum)[0], **state, "distance_m": walk.distance_m, "walk_m": walk.walk_m,
              "walk_minutes": walk_minutes, "walk_method": walk.method,
              "walk_method_name": labels.name("life_circle", "walk_method", walk.method, lang)}
             for entry, walk, walk_minutes, state, _ in rows]
    return {**head, "items": items}


def nearby_json(**args) -> str:
    """``nearby`` as the JSON text the API sends, assembled from each facility's cached fixed part."""
    head, rows, lang, datum = _nearby(**args)
    methods = {method: _dumps(labels.name("life_circle", "walk_method", method, lang))
               for method in ("estimated", "network")}
    items = ",".join(
        f'{entry.base(lang, datum)[1]},{state},"distance_m":{walk.distance_m},"walk_m":{walk.walk_m},'
        f'"walk_minutes":{walk_minutes},"walk_method":"{walk.method}","walk_method_name":{methods[walk.method]}}}'
        for entry, walk, walk_minutes, _, state in rows)
    return f'{_dumps(head)[:-1]},"items":[{items}]}}'


def _nearby(*, lat: float | None = None, lng: float | None = None, datum: str = "gcj02", category: str | None = None,
            minutes: int | None = None, pace: str = "standard", open_now: bool | None = None,
            target_group: str | None = None, limit: int | None = None, estate_id: int | None = None,
            lang: str = "zh"):
    """The nearby lookup: (the answer's fields but its items, [(static, walk, walk minutes, open-now values,
    open-now JSON)] in walking order, lang, datum).

    Prefilter: the grid cells and bounding box of the straight-line radius
    (budget + 1) ÷ detour factor (an indexed read); exact: haversine × detour
    factor ≤ minutes × speed. From an estate, its imported network walks replace
    the estimate (and may bring in facilities the estimate would leave out).
    """
    loaded = rules.current()
    walk_rules = loaded.walk
    _check_filters(category, target_group)
    minutes = walk_rules.default_minutes if minutes is None else minutes
    limit = walk_rules.default_limit if limit is None else limit
    if estate_id is not None:
        estate = db.session.get(Estate, estate_id)
        if estate is None:
            raise errors.EstateNotFound()
        if lat is None or lng is None:
            if estate.lat is None or estate.lng is None:
                raise errors.EstateUnlocated()
            lat, lng, datum = estate.lat, estate.lng, "gcj02"
    if lat is None or lng is None:
        raise errors.OriginMissing()
    olat, olng = geo.to_gcj02(lat, lng, datum)
    speed = walking.speed(pace)
    budget = minutes * speed
    found = nearby_ids(olat, olng, budget, category=category, estate_id=estate_id)
    moment = _Moment(clock.now())
    if target_group is None and open_now is None:
        picked = found[:limit]
        statics = _statics(picked)
    else:
        # Walking order, as many facilities as the filters need, in chunks.
        picked, statics = [], {}
        chunk = max(2 * limit, 20)
        for start in range(0, len(found), chunk):
            part = found[start:start + chunk]
            statics.update(_statics(part))
            for fid, walk in part:
                entry = statics.get(fid)
                if entry is None or not _serves(entry.target_groups, target_group):
                    continue
                if open_now is not None and bool(moment.state(entry.schedule)[0]["open_now"]) != open_now:
                    continue
                picked.append((fid, walk))
                if len(picked) >= limit:
                    break
            if len(picked) >= limit:
                break
    rows = []
    by_dimension: dict[str, list[int]] = {}
    for fid, walk in picked:
        entry = statics.get(fid)
        if entry is None:      # the row went away since the prefilter read it
            continue
        # Listed facilities are open (their status, from the prefilter): only the hours decide open now.
        values, text = moment.state(entry.schedule)
        walk_s = walk.seconds(pace)
        walk_minutes = -(-walk_s // 60) if walk_s is not None else -(-walk.walk_m // speed)
        rows.append((entry, walk, walk_minutes, values, text))
        category = loaded.category(entry.category_code)
        by_dimension.setdefault((category.dimension if category else None) or "", []).append(fid)
    rlat, rlng = geo.from_gcj02(olat, olng, datum)
    head = {"origin": {"lat": round(rlat, 6), "lng": round(rlng, 6), "datum": datum,
                       "datum_name": labels.name("places", "datum", datum, lang), "estate_id": estate_id},
            "pace": pace, "pace_name": loaded.pace_name(pace, lang), "m_per_min": speed, "minutes": minutes,
            "walk_budget_m": budget,
            "detour_factor": walk_rules.detour_factor, "note": WALK_NOTE_EN if lang == "en" else WALK_NOTE_ZH,
            "by_dimension": by_dimension}
    return head, rows, lang, datum


class Found:
    __slots__ = ("distance_m", "walk_m", "method", "row", "version")

    def __init__(self, distance_m: int, walk_m: int, method: str, row=None, version: int | None = None):
        self.distance_m, self.walk_m, self.method, self.row, self.version = distance_m, walk_m, method, row, version

    def seconds(self, pace: str):
        if self.row is None:
            return None
        return self.row.walk_s_elder if pace == "elder" else self.row.walk_s_standard if pace == "standard" else None

    def key(self, fid: int):
        return (self.walk_m, self.distance_m, fid)


def nearby_ids(olat: float, olng: float, budget_m: int, *, category: str | None = None,
               estate_id: int | None = None) -> list[tuple[int, Found]]:
    """(facility id, walk) of every OPEN facility with walk_m ≤ budget_m from a GCJ-02 point, sorted by
    (walk_m, straight distance, id). The core of the nearby lookup; the benchmark compares it with a scan."""
    detour = rules.current().walk.detour_factor
    radius = (budget_m + 1) / detour
    min_lat, max_lat, min_lng, max_lng = walking.search_box(olat, olng, radius)
    cells = walking.cells_for_box(min_lat, max_lat, min_lng, max_lng)
    rows = _fetch((*cells, min_lat, max_lat, min_lng, max_lng), len(cells))
    candidates = [(fid, lat, lng, version) for fid, lat, lng, status, code, version in rows
                  if status == "open" and (category is None or code == category)]
    network = {}
    if estate_id is not None:
        network = walking.network_rows(estate_id)
        seen = {fid for fid, _, _, _ in candidates}
        extra = [fid for fid, row in network.items() if fid not in seen and row.walk_m <= budget_m]
        if extra:
            q = sa.select(Facility.id, Facility.lat, Facility.lng, Facility.version).where(
                Facility.id.in_(extra), Facility.status == "open")
            if category is not None:
                q = q.where(Facility.category_code == category)
            candidates.extend(db.session.execute(q).tuples())
    # geo.distance_m (haversine) written out with the origin's terms computed once: the same operations
    # in the same order, so the same metres as brute_force_ids to the last bit.
    radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
    p1 = radians(olat)
    cos_p1 = cos(p1)
    two_r = 2 * geo.EARTH_RADIUS_M
    keyed = []
    for fid, lat, lng, version in candidates:
        p2 = radians(lat)
        h = sin((p2 - p1) / 2) ** 2 + cos_p1 * cos(p2) * sin(radians(lng - olng) / 2) ** 2
        d = two_r * asin(min(1.0, sqrt(h)))
        row = network.get(fid) if network else None
        walk_m = row.walk_m if row is not None else int(d * detour + 0.5)
        if walk_m <= budget_m:
            keyed.append((walk_m, int(d + 0.5), fid, row, version))
    keyed.sort()   # by (walk_m, distance, id); ids are unique, so nothing after them is compared
    return [(fid, Found(d, walk_m, "network" if row is not None else "estimated", row, version))
            for walk_m, d, fid, row, version in keyed]


def brute_force_ids(olat: float, olng: float, budget_m: int, *, category: str | None = None) -> list[tuple[int, int]]:
    """Every open facility scanned with the exact formula (no prefilter): the reference for tests and the
    benchmark. Returns (id, walk_m) sorted like ``nearby_ids``."""
    detour = rules.current().walk.detour_factor
    query = sa.select(Facility.id, Facility.lat, Facility.lng).where(Facility.status == "open")
    if category is not None:
        query = query.where(Facility.category_code == category)
    out = []
    for fid, lat, lng in db.session.execute(query):
        d = geo.distance_m(olat, olng, lat, lng)
        walk_m = int(d * detour + 0.5)
        if walk_m <= budget_m:
            out.append((walk_m, int(d + 0.5), fid))
    out.sort()
    return [(fid, walk_m) for walk_m, _, fid in out]


def search_grams(needle: str) -> list[str]:
    """What a facility's text must hold to contain ``needle`` (as linli_search_grams, migration 0016, makes
    it): each word's pairs of adjacent characters, a one-character word itself; ASCII letters lower-cased.
    Only pairs of letters and digits, and no letter with a case outside ASCII (the database may lower it
    otherwise): the set only narrows the facilities that the substring is then checked in."""
    out: set[str] = set()
    for word in needle.split():
        word = "".join(c.lower() if c.isascii() else c for c in word)
        parts = [word] if len(word) == 1 else [word[i:i + 2] for i in range(len(word) - 1)]
        out.update(p for p in parts if all(c.isalnum() and (c.isascii() or c.lower() == c.upper()) for c in p))
    return sorted(out)


@functools.lru_cache(maxsize=None)
def _search_statements(cased: bool, by_grams: bool, by_category: bool):
    """The search's page (the facilities' columns, the total beside each row) and its count, built once per shape
    with the needle, grams, category and page as parameters. Case-insensitive; a needle with no letter that has
    a case (Chinese, digits) is matched with LIKE, the same result without lower-casing every candidate's text.
    With ``by_grams`` (PostgreSQL), ix_facility_grams (migration 0016) finds the facilities holding every pair
    of the needle and the pattern checks the text."""
    pattern = sa.bindparam("pattern")
    where = [sa.or_(*((column.ilike if cased else column.like)(pattern, escape="\\")
                      for column in (Facility.name, Facility.subtype, Facility.address)))]
    if by_grams:
        from sqlalchemy.dialects.postgresql import ARRAY

        held = sa.func.linli_search_grams(sa.text(Facility.SEARCH_TEXT), type_=ARRAY(sa.Text))
        where.append(held.contains(sa.bindparam("grams", type_=ARRAY(sa.Text))))
    if by_category:
        where.append(Facility.category_code == sa.bindparam("category"))
    # The matches are counted and ordered as narrow rows (id, name), and only the page's facilities are read whole:
    # sorting a thousand matches with every column (opening hours, services) cost as much as finding them.
    matched = paged(sa.select(Facility.id.label("id"), Facility.name.label("name"),
                              sa.func.count().over().label("total"))
                    .where(*where).order_by(Facility.name, Facility.id)).subquery("matched")
    page = (sa.select(*Facility.__table__.c, matched.c.total)
            .join_from(Facility, matched, Facility.id == matched.c.id).order_by(matched.c.name, matched.c.id))
    return page, sa.select(sa.func.count()).select_from(Facility).where(*where)


def search(text: str, *, category: str | None = None, page: int = 1, page_size: int = 20, datum: str = "gcj02",
           lang: str = "zh") -> tuple[list[dict], int]:
    """Facilities whose name, subtype or address contains ``text`` (case-insensitive), by name: a page read as
    plain rows with its total in one statement (an empty page is counted, ``rows_and_total``)."""
    _check_filters(category, None)
    needle = text.strip()
    if not needle:
        raise errors.QueryEmpty()
    grams = search_grams(needle) if db.session.connection().dialect.name == "postgresql" else []
    statement, count = _search_statements(needle.lower() != needle.upper(), bool(grams), bool(category))
    params = {"pattern": "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
              "grams": grams, "category": category, "limit": page_size, "offset": (page - 1) * page_size}
    rows, total = rows_and_total(statement, count, params)
    days = hours_mod.Days(clock.now())
    return [facility_dict(f, lang, datum=datum, days=days) for f in rows], total
