"""Use-cases that write facilities: create, update and close one (audited), import many from a CSV or GeoJSON
file with a report naming every bad row and field, and import the table of network walking distances.

The request schema (api/schemas/life_circle.py, ``FacilityIn``) checks a facility's fields: their types,
lengths, ranges and choices, for one facility and for every row of an import. What it cannot know is decided
here: the loaded rules (categories, target groups), the point, the opening hours, the street and neighbourhood,
the actor's scope and what is stored already."""
from __future__ import annotations

import json
import re
from collections.abc import Callable

import sqlalchemy as sa

from models.base import db
from models.life_circle import Facility, FacilityWalk
from models.places import Estate, Neighbourhood, Street
from service import audit, clock, geo
from service.db import transactional
from service.i18n import Text
from service.life_circle import access, errors, exchange, hours, rules, walking
from service.people import Actor

EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_.:\-/]{1,64}$")
OWN_ID = re.compile(r"^linli-([1-9][0-9]{0,9})$")   # how the export names a facility without an external id
MAX_FACILITY_ID = 2**31 - 1
TEXT_FIELDS = ("name", "subtype", "address", "phone", "description")
AUDIT_FIELDS = ("external_id", "name", "category_code", "subtype", "address", "lat", "lng", "coord_source", "phone",
                "services", "target_groups", "capacity", "accessible", "bookable", "status", "hours", "description",
                "street_id", "neighbourhood_id")
# The order in which an import row's report lists its fields' problems.
REQUIRED_FIELDS = ("name", "category", "lat", "lng")
FIELD_ORDER = (*TEXT_FIELDS, "external_id", "category", "datum", "lat", "lng", "coord_source", "status", "services",
               "target_groups", "capacity", "accessible", "bookable", "hours", "street_id", "neighbourhood_id")
DEFAULTS = {"status": "open", "coord_source": "approximate", "accessible": False, "bookable": False}
# An imported row stands for the whole facility: what it leaves out is cleared.
IMPORT_DEFAULTS = {**DEFAULTS, "services": [], "target_groups": [], "hours": None, "subtype": None, "address": None,
                   "phone": None, "capacity": None, "description": None}

# How the caller checks an import row's fields against the facility schema: (the values it accepts,
# {field: problem} for the others).
RowCheck = Callable[[dict], tuple[dict, dict[str, Text]]]


# --- what the rules decide about a facility's fields ---------------------------------------------------------------

def attributes(data: dict) -> tuple[dict, dict[str, Text]]:
    """Model attributes from facility fields the request schema has checked, and {field: problem} for what the
    rules refuse: an external id's characters, an unknown category or target group, a point outside China,
    opening hours that do not validate."""
    attrs: dict = {}
    problems: dict[str, Text] = {}
    _texts(data, attrs)
    _external_id(data, attrs, problems)
    _category(data, attrs, problems)
    _point(data, attrs, problems)
    _copy(data, attrs, ("coord_source", "status"))
    _lists(data, attrs, problems)
    _copy(data, attrs, ("capacity", "accessible", "bookable"))
    _hours(data, attrs, problems)
    _copy(data, attrs, ("street_id", "neighbourhood_id"))
    return attrs, problems


def _texts(data: dict, attrs: dict) -> None:
    for key in TEXT_FIELDS:
        if key in data:
            attrs[key] = data[key].strip() if data[key] else None


def _external_id(data: dict, attrs: dict, problems: dict) -> None:
    value = data.get("external_id")
    if value in (None, ""):
        return
    value = str(value).strip()
    if EXTERNAL_ID.match(value):
        attrs["external_id"] = value
    else:
        problems["external_id"] = errors.EXTERNAL_ID_FORMAT


def _category(data: dict, attrs: dict, problems: dict) -> None:
    if data.get("category") in (None, ""):
        return
    category = rules.current().category(str(data["category"]).strip())
    if category is None:
        problems["category"] = errors.UNKNOWN_CATEGORY
    else:
        attrs["category_code"] = category.code


def _point(data: dict, attrs: dict, problems: dict) -> None:
    """The point as stored (GCJ-02, 7 decimals) and its grid cell; lat and lng come together."""
    if "lat" not in data and "lng" not in data:
        return
    lat, lng = data.get("lat"), data.get("lng")
    if lat is None or lng is None:
        problems["lat" if lat is None else "lng"] = errors.BOTH_NUMBERS
    elif not geo.in_china(lat, lng):
        problems["lat"] = errors.OUTSIDE_CHINA
    else:
        glat, glng = (round(v, 7) for v in geo.to_gcj02(lat, lng, data.get("datum") or "gcj02"))
        # The cell of the point as stored: a point converted to just under a cell's edge and
        # rounded onto it belongs to the cell the stored coordinates say.
        attrs.update(lat=glat, lng=glng, cell=walking.cell_of(glat, glng))


def _copy(data: dict, attrs: dict, keys: tuple[str, ...]) -> None:
    attrs.update({key: data[key] for key in keys if key in data})


def _lists(data: dict, attrs: dict, problems: dict) -> None:
    known = rules.current().target_groups
    for key in ("services", "target_groups"):
        if key not in data:
            continue
        value = list(dict.fromkeys(data[key] or []))
        if key == "target_groups" and set(value) - set(known):
            problems[key] = errors.unknown_target_group(known)
        else:
            attrs[key] = value


def _hours(data: dict, attrs: dict, problems: dict) -> None:
    if "hours" in data:
        try:
            attrs["hours"] = hours.normalise(data["hours"])
        except hours.HoursError as exc:
            problems[exc.path] = exc.message


def _place(attrs: dict, current: Facility | None = None) -> dict[str, Text]:
    """The street and neighbourhood: they exist and agree (the neighbourhood's street is the facility's);
    returns the problems."""
    nb_id = attrs.get("neighbourhood_id", current.neighbourhood_id if current else None)
    street_id = attrs.get("street_id", current.street_id if current else None)
    if nb_id is not None:
        nb = db.session.get(Neighbourhood, nb_id)
        if nb is None:
            return {"neighbourhood_id": errors.NO_NEIGHBOURHOOD}
        if street_id is not None and street_id != nb.street_id:
            return {"street_id": errors.OTHER_STREET}
        attrs["street_id"] = nb.street_id
    elif street_id is not None:
        if db.session.get(Street, street_id) is None:
            return {"street_id": errors.NO_STREET}
    else:
        return {"street_id": errors.NO_PLACE}
    return {}


def _snapshot(f: Facility) -> dict:
    return {key: getattr(f, key) for key in AUDIT_FIELDS}


def _json(value):
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


# --- create, update, close -----------------------------------------------------------------------------------------

@transactional(stale=errors.FacilityChanged)
def create(actor: Actor, data: dict) -> Facility:
    attrs, problems = attributes(data)
    if not problems:
        problems = _place(attrs)
    if problems:
        raise errors.FacilityInvalid(problems)
    access.require_manage(actor, attrs.get("street_id"), attrs.get("neighbourhood_id"))
    if attrs.get("external_id") and db.session.execute(sa.select(Facility.id).where(
            Facility.external_id == attrs["external_id"])).first():
        raise errors.ExternalIdTaken()
    facility = Facility(**{**DEFAULTS, **attrs})
    try:
        with db.session.begin_nested():
            db.session.add(facility)
            db.session.flush()
    except sa.exc.IntegrityError:
        raise errors.ExternalIdTaken() from None
    audit.record(actor, "life_circle.facility.create", "facility", facility.id, after=_json(_snapshot(facility)))
    return facility


def _load(facility_id: int) -> Facility:
    facility = db.session.get(Facility, facility_id)
    if facility is None:
        raise errors.FacilityNotFound()
    return facility


@transactional(stale=errors.FacilityChanged)
def update(actor: Actor, facility_id: int, data: dict) -> Facility:
    facility = _load(facility_id)
    access.require_manage(actor, facility.street_id, facility.neighbourhood_id)
    expected = data.pop("version", None)
    if expected is not None and expected != facility.version:
        raise errors.FacilityChanged()
    attrs, problems = attributes(data)
    if not problems and ("street_id" in attrs or "neighbourhood_id" in attrs):
        problems = _place(attrs, facility)
        if not problems:
            access.require_manage(actor, attrs.get("street_id"), attrs.get("neighbourhood_id",
                                                                           facility.neighbourhood_id))
    if problems:
        raise errors.FacilityInvalid(problems)
    before = _snapshot(facility)
    changed = _apply(facility, attrs)
    if changed:
        db.session.flush()
        after = _snapshot(facility)
        audit.record(actor, "life_circle.facility.update", "facility", facility.id,
                     before=_json({k: before[k] for k in changed}), after=_json({k: after[k] for k in changed}))
    return facility


def _apply(facility: Facility, attrs: dict) -> list[str]:
    """Set the attributes that differ; returns their names. Hours are compared in canonical form (what
    ``attributes`` gives), so stored hours written in another form of the same schedule are not a change."""
    changed = []
    for key, value in attrs.items():
        current = getattr(facility, key)
        if key == "hours":
            current = hours.canonical(current)
        if current != value:
            setattr(facility, key, value)
            changed.append(key)
    if "status" in changed:
        facility.closed_at = clock.now() if facility.status == "closed" else None
    return changed


@transactional(stale=errors.FacilityChanged)
def close(actor: Actor, facility_id: int, reason: str | None = None) -> Facility:
    facility = _load(facility_id)
    access.require_manage(actor, facility.street_id, facility.neighbourhood_id)
    if facility.status == "closed":
        raise errors.AlreadyClosed()
    before = facility.status
    facility.status = "closed"
    facility.closed_at = clock.now()
    db.session.flush()
    audit.record(actor, "life_circle.facility.close", "facility", facility.id, before={"status": before},
                 after={"status": "closed", "reason": reason})
    return facility


# --- import ----------------------------------------------------------------------------------------------------

def import_facilities(actor: Actor, *, fmt: str, data: str, check: RowCheck, skip_invalid: bool = False,
                      dry_run: bool = False) -> dict:
    """Upsert facilities by ``external_id`` from CSV or GeoJSON text; returns the import's report.

    Every row is checked first (its fields by ``check``, the facility schema's check, then by the rules);
    the report names each bad row and field. With any bad row nothing is written (422) unless
    ``skip_invalid``. A row equal to the stored facility is ``unchanged``; re-importing the same file
    changes nothing. The rows are checked outside the write transaction; only the writing takes it."""
    access.require_staff(actor)
    rows = exchange.facility_rows(fmt, data)
    known = _Known(rows)
    seen: set[str] = set()
    plans, bad = [], []
    for index, (where, fields, found) in enumerate(rows, start=1):
        ext = fields.get("external_id")
        current, attrs, problems = _check_row(actor, fields, found, known, seen, check)
        if problems:
            bad.extend({"row": index, "where": where, "external_id": ext, "field": field, "message": message}
                       for field, message in problems.items())
        else:
            plans.append((ext, current, attrs))
    report = {"format": fmt, "rows": len(rows), "valid": len(plans), "invalid": len({e["row"] for e in bad}),
              "created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "dry_run": dry_run, "applied": False,
              "errors": bad}
    if bad and not skip_invalid:
        raise errors.ImportInvalid(report)
    report["skipped"] = report["invalid"]
    return _apply_import(actor, plans, report, dry_run)


class _Known:
    """What the rows of an import name that is stored: streets and neighbourhoods by code, facilities by
    external id (and, for those without one, by the name the export gives them: "linli-<id>")."""

    def __init__(self, rows: list[exchange.Row]):
        codes = {key: {f[key] for _, f, _ in rows if isinstance(f.get(key), str)} for key in exchange.CODE_FIELDS}
        self.ids = {"street_code": self._ids(Street, codes["street_code"]),
                    "neighbourhood_code": self._ids(Neighbourhood, codes["neighbourhood_code"])}
        external_ids = [f["external_id"] for _, f, _ in rows if isinstance(f.get("external_id"), str)]
        self.facilities = {f.external_id: f for f in db.session.execute(
            sa.select(Facility).where(Facility.external_id.in_(external_ids))).scalars()} if external_ids else {}
        own_ids = {int(m[1]) for ext in external_ids if ext not in self.facilities for m in [OWN_ID.match(ext)]
                   if m and int(m[1]) <= MAX_FACILITY_ID}
        if own_ids:
            self.facilities.update({f"linli-{f.id}": f for f in db.session.execute(sa.select(Facility).where(
                Facility.id.in_(own_ids), Facility.external_id.is_(None))).scalars()})

    @staticmethod
    def _ids(model, codes: set[str]) -> dict[str, int]:
        if not codes:
            return {}
        return dict(db.session.execute(sa.select(model.code, model.id).where(model.code.in_(codes))).tuples().all())

    def resolve(self, fields: dict, problems: dict) -> None:
        """A street or neighbourhood code becomes its id (street_id, neighbourhood_id)."""
        for key, table in self.ids.items():
            code = fields.pop(key, None)
            if code is None:
                continue
            if code in table:
                fields[key.replace("_code", "_id")] = table[code]
            else:
                problems[key] = errors.UNKNOWN_CODE[key]


def _check_row(actor: Actor, fields: dict, found: dict, known: _Known, seen: set[str],
               check: RowCheck) -> tuple[Facility | None, dict, dict[str, Text]]:
    """(the stored facility the row updates or None, its attributes, {field: problem}) for one row."""
    problems = dict(found)
    ext = fields.get("external_id")
    if not ext:
        problems.setdefault("external_id", errors.EXTERNAL_ID_REQUIRED)
    elif ext in seen:
        problems.setdefault("external_id", errors.TWICE_IN_FILE)
    else:
        seen.add(ext)
    known.resolve(fields, problems)
    current = known.facilities.get(ext) if ext else None
    values, more = check(fields)
    attrs, ruled = attributes(values)
    if current is not None and current.external_id is None:
        attrs.pop("external_id", None)      # it keeps having none
    checked = {**ruled, **more}     # a field the schema refuses is reported as the schema's check words it
    problems.update({k: checked[k] for k in sorted(checked, key=lambda k: _report_order(k, checked[k]))
                     if k not in problems})
    if not problems:
        problems = _place(attrs, current) or _scope(actor, current, attrs)
    return current, attrs, problems


def _report_order(field: str, problem: Text) -> tuple[int, int]:
    """Where a field's problem comes in its row's report: missing fields first, then in the fields' order."""
    if problem is errors.REQUIRED and field in REQUIRED_FIELDS:
        return 0, REQUIRED_FIELDS.index(field)
    name = field.split(".")[0].split("[")[0]       # hours.weekly.mon[0] is about hours
    return 1, FIELD_ORDER.index(name) if name in FIELD_ORDER else len(FIELD_ORDER)


def _scope(actor: Actor, current: Facility | None, attrs: dict) -> dict[str, Text]:
    if current is not None and not access.may_manage(actor, current.street_id, current.neighbourhood_id):
        return {"external_id": errors.STORED_OUTSIDE_SCOPE}
    if not access.may_manage(actor, attrs.get("street_id"), attrs.get("neighbourhood_id")):
        return {"street_code" if "neighbourhood_id" not in attrs else "neighbourhood_code": errors.OUTSIDE_SCOPE}
    return {}


@transactional
def _apply_import(actor: Actor, plans, report: dict, dry_run: bool) -> dict:
    created_ids, updated_ids = [], []
    for ext, current, attrs in plans:
        full = {**IMPORT_DEFAULTS, **attrs}
        if current is None:
            db.session.add(Facility(**full))
            report["created"] += 1
            created_ids.append(ext)
        elif _apply(current, full):
            report["updated"] += 1
            updated_ids.append(ext)
        else:
            report["unchanged"] += 1
    if dry_run:
        db.session.rollback()
        return report
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        # Another import created the same external ids meanwhile: nothing of this one is kept.
        raise errors.ImportConflict() from None
    report["applied"] = True
    if created_ids or updated_ids:
        audit.record(actor, "life_circle.facility.import", "facility", None,
                     after={"format": report["format"], "created": created_ids[:500], "updated": updated_ids[:500],
                            "unchanged": report["unchanged"], "skipped": report["skipped"]})
    return report


# --- the network walking table -------------------------------------------------------------------------------------

def import_walks(actor: Actor, *, data: str, graph_version: str | None = None, skip_invalid: bool = False) -> dict:
    """Upsert precomputed estate → facility network walks from CSV with the columns
    ``estate_code, facility_external_id, walk_m[, walk_s_standard, walk_s_elder]``; returns the import's report."""
    access.require_staff(actor)
    rows = exchange.walk_rows(data)
    estates = {code: (eid, sid) for code, eid, sid in db.session.execute(sa.select(
        Estate.code, Estate.id, Estate.street_id).where(Estate.code.in_({r["estate_code"] for r in rows})))}
    facilities = dict(db.session.execute(sa.select(Facility.external_id, Facility.id).where(
        Facility.external_id.in_({r["facility_external_id"] for r in rows}))).tuples().all())
    plans, bad, seen = [], [], set()
    for index, row in enumerate(rows, start=1):
        pair, values, problems = _check_walk(actor, row, estates.get(row["estate_code"]),
                                             facilities.get(row["facility_external_id"]), seen)
        if problems:
            bad.extend({"row": index, "where": f"line {index + 1}", "field": k, "message": v}
                       for k, v in problems.items())
        else:
            seen.add(pair)
            plans.append((*pair, values))
    report = {"rows": len(rows), "valid": len(plans), "invalid": len({e["row"] for e in bad}),
              "created": 0, "updated": 0, "unchanged": 0, "errors": bad, "applied": False}
    if bad and not skip_invalid:
        raise errors.ImportInvalid(report)
    return _apply_walks(actor, plans, report, graph_version)


def _check_walk(actor: Actor, row: dict, estate: tuple[int, int] | None, facility_id: int | None,
                seen: set) -> tuple[tuple[int, int] | None, dict, dict[str, Text]]:
    """((estate id, facility id), the walk's values, {field: problem}) for one row of the walk table."""
    problems = {}
    if estate is None:
        problems["estate_code"] = errors.UNKNOWN_ESTATE_CODE
    elif not access.may_plan(actor, estate[1], estate[0]):
        problems["estate_code"] = errors.OUTSIDE_SCOPE
    if facility_id is None:
        problems["facility_external_id"] = errors.UNKNOWN_EXTERNAL_ID
    values = {}
    for key in ("walk_m", "walk_s_standard", "walk_s_elder"):
        text = row.get(key, "")
        if text == "" and key != "walk_m":
            values[key] = None
            continue
        try:
            values[key] = int(text)
            if not 0 <= values[key] <= 100000:
                raise ValueError
        except ValueError:
            problems[key] = errors.WALK_RANGE
    pair = (estate[0], facility_id) if estate and facility_id else None
    if pair in seen:
        problems["facility_external_id"] = errors.PAIR_TWICE
    return pair, values, problems


@transactional
def _apply_walks(actor: Actor, plans, report: dict, graph_version: str | None) -> dict:
    now = clock.now()
    for estate_id, facility_id, values in plans:
        row = db.session.get(FacilityWalk, (estate_id, facility_id))
        if row is None:
            db.session.add(FacilityWalk(estate_id=estate_id, facility_id=facility_id, graph_version=graph_version,
                                        computed_at=now, **values))
            report["created"] += 1
        elif any(getattr(row, k) != v for k, v in values.items()) or row.graph_version != graph_version:
            for k, v in values.items():
                setattr(row, k, v)
            row.graph_version, row.computed_at = graph_version, now
            report["updated"] += 1
        else:
            report["unchanged"] += 1
    db.session.flush()
    report["applied"] = True
    if report["created"] or report["updated"]:
        audit.record(actor, "life_circle.walks.import", "facility_walk", None,
                     after={k: report[k] for k in ("created", "updated", "unchanged")} | {"graph_version": graph_version})
    return report
