"""Use-cases that write facilities: create, update, close (audited), bulk import from
GeoJSON or CSV with a validation report, export as GeoJSON, and the imported table of
network walking distances."""
from __future__ import annotations

import csv
import io
import json
import math
import re
from datetime import datetime

import sqlalchemy as sa

from models.base import db
from models.life_circle import STATUSES, Facility, FacilityWalk
from models.places import COORD_SOURCES, Estate, Neighbourhood, Street
from service import audit, clock, geo
from service.db import transactional
from service.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from service.i18n import Text
from service.life_circle import hours as hours_mod
from service.life_circle import rules, walking
from service.life_circle.queries import facility_dict

MAX_ROWS = 20000
EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_.:\-/]{1,64}$")
OWN_ID = re.compile(r"^linli-([1-9][0-9]{0,9})$")   # how the export names a facility without an external id
MAX_FACILITY_ID = 2**31 - 1
TEXT_LIMITS = {"name": 100, "subtype": 48, "address": 200, "phone": 32, "description": 500}
LIST_FIELDS = ("services", "target_groups")
BOOL_FIELDS = ("accessible", "bookable")
AUDIT_FIELDS = ("external_id", "name", "category_code", "subtype", "address", "lat", "lng", "coord_source", "phone",
                "services", "target_groups", "capacity", "accessible", "bookable", "status", "hours", "description",
                "street_id", "neighbourhood_id")


# Problems with a field or a row, in both languages (``service.i18n``): the answer shows the reader's.
REQUIRED = Text("必填", "is required")
TRUE_OR_FALSE = Text("须为 true 或 false", "must be true or false")
OUTSIDE_SCOPE = Text("不在您的管辖范围内", "outside your scope")
UNKNOWN_CODE = {"street_code": Text("没有这个街道代码", "unknown street code"),
                "neighbourhood_code": Text("没有这个居民区代码", "unknown neighbourhood code")}


def _one_of(choices) -> Text:
    return Text(f"须为以下之一：{'、'.join(choices)}", f"must be one of {', '.join(choices)}")


def _stale():
    return Conflict(code="life_circle.facility_changed", zh="该设施刚被他人修改，请刷新后重试",
                    en="Someone else changed this facility just now; reload and retry")


# --- validation shared by the API and the import ----------------------------------------------------------------

def clean(data: dict, *, partial: bool = False) -> tuple[dict, dict[str, Text]]:
    """Model attributes from input fields, and {field: problem} for every bad field."""
    attrs: dict = {}
    problems: dict[str, Text] = {}

    def present(key):
        return key in data and data[key] is not None and data[key] != ""

    for key in ("name", "category", "lat", "lng"):
        if not partial and not present(key):
            problems[key] = REQUIRED
    for key, limit in TEXT_LIMITS.items():
        if key in data:
            value = data[key]
            if value in (None, ""):
                if key == "name":
                    problems[key] = REQUIRED
                else:
                    attrs[key] = None
            elif not isinstance(value, str) or len(value.strip()) > limit:
                problems[key] = Text(f"须为不超过 {limit} 个字符的文本", f"must be text of at most {limit} characters")
            else:
                attrs[key] = value.strip()
    if "external_id" in data and data["external_id"] not in (None, ""):
        value = str(data["external_id"]).strip()
        if not EXTERNAL_ID.match(value):
            problems["external_id"] = Text("须为 1–64 个字母、数字或 _ . : - /", "must be 1–64 letters, digits or _ . : - /")
        else:
            attrs["external_id"] = value
    if present("category"):
        category = rules.current().category(str(data["category"]).strip())
        if category is None:
            problems["category"] = Text("没有这个设施类别", "unknown category")
        else:
            attrs["category_code"] = category.code
    datum = data.get("datum")
    datum = "gcj02" if datum in (None, "") else datum
    if datum not in geo.DATUMS:
        problems["datum"] = _one_of(geo.DATUMS)
    if present("lat") or present("lng"):
        try:
            lat, lng = float(data.get("lat")), float(data.get("lng"))
            if not (math.isfinite(lat) and math.isfinite(lng)):
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            problems["lat" if not _is_number(data.get("lat")) else "lng"] = Text(
                "lat 和 lng 都须为数字", "must be a number (both lat and lng)")
        else:
            if not (-90 <= lat <= 90):
                problems["lat"] = Text("须在 -90 到 90 之间", "must be from -90 to 90")
            elif not (-180 <= lng <= 180):
                problems["lng"] = Text("须在 -180 到 180 之间", "must be from -180 to 180")
            elif not geo.in_china(lat, lng):
                problems["lat"] = Text("该点不在中国境内", "the point is outside China")
            elif "datum" not in problems:
                glat, glng = (round(v, 7) for v in geo.to_gcj02(lat, lng, datum))
                # The cell of the point as stored: a point converted to just under a cell's edge and
                # rounded onto it belongs to the cell the stored coordinates say.
                attrs.update(lat=glat, lng=glng, cell=walking.cell_of(glat, glng))
    if present("coord_source"):
        if data["coord_source"] not in COORD_SOURCES:
            problems["coord_source"] = _one_of(COORD_SOURCES)
        else:
            attrs["coord_source"] = data["coord_source"]
    if present("status"):
        if data["status"] not in STATUSES:
            problems["status"] = _one_of(STATUSES)
        else:
            attrs["status"] = data["status"]
    for key in LIST_FIELDS:
        if key in data:
            value = data[key] if data[key] is not None else []
            if not isinstance(value, list) or len(value) > 30 or not all(
                    isinstance(v, str) and 0 < len(v) <= 48 for v in value):
                problems[key] = Text("须为最多 30 个名称（每个不超过 48 个字符）的列表",
                                     "must be a list of at most 30 short names")
            elif key == "target_groups" and set(value) - set(rules.current().target_groups):
                known = rules.current().target_groups
                problems[key] = Text(f"没有这个服务对象（可选：{'、'.join(known)}）",
                                     f"unknown target group (known: {', '.join(known)})")
            else:
                attrs[key] = list(dict.fromkeys(value))
    if "capacity" in data:
        value = data["capacity"]
        if value in (None, ""):
            attrs["capacity"] = None
        elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
            problems["capacity"] = Text("须为 0 到 1000000 之间的整数", "must be a whole number from 0 to 1000000")
        else:
            attrs["capacity"] = value
    for key in BOOL_FIELDS:
        if key in data and data[key] is not None:
            if not isinstance(data[key], bool):
                problems[key] = TRUE_OR_FALSE
            else:
                attrs[key] = data[key]
    if "hours" in data:
        try:
            attrs["hours"] = hours_mod.normalise(data["hours"])
        except hours_mod.HoursError as exc:
            problems[exc.path] = exc.message
    for key in ("street_id", "neighbourhood_id"):
        if key in data:
            value = data[key]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                problems[key] = Text("须为正整数编号", "must be a positive id")
            else:
                attrs[key] = value
    return attrs, problems


def _is_number(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


def _place(attrs: dict, current: Facility | None = None) -> dict[str, Text]:
    """Resolve street/neighbourhood consistency; returns problems."""
    nb_id = attrs.get("neighbourhood_id", current.neighbourhood_id if current else None)
    street_id = attrs.get("street_id", current.street_id if current else None)
    if nb_id is not None:
        nb = db.session.get(Neighbourhood, nb_id)
        if nb is None:
            return {"neighbourhood_id": Text("没有这个居民区", "no such neighbourhood")}
        if street_id is not None and street_id != nb.street_id:
            return {"street_id": Text("该居民区属于另一个街道", "the neighbourhood belongs to another street")}
        attrs["street_id"] = nb.street_id
    elif street_id is not None:
        if db.session.get(Street, street_id) is None:
            return {"street_id": Text("没有这个街道", "no such street")}
    else:
        return {"street_id": Text("请提供设施所服务的街道或居民区",
                                  "give the street or the neighbourhood the facility serves")}
    return {}


def covers(actor, street_id: int | None, neighbourhood_id: int | None) -> bool:
    if not actor.is_staff:
        return False
    if street_id is not None and street_id in actor.street_ids:
        return True
    return neighbourhood_id is not None and neighbourhood_id in actor.neighbourhood_ids


def _out_of_scope() -> Forbidden:
    return Forbidden(code="life_circle.out_of_scope", zh="该设施不在您的管辖范围内",
                     en="This facility is outside your scope")


def _raise(problems: dict[str, Text]) -> None:
    field, message = next(iter(problems.items()))
    error = InvalidInput(field, f"设施信息有误（{field}）：{message.zh}", f"{field} {message.en}",
                         code="life_circle.facility_invalid")
    error.errors = {"json": {k: [v] for k, v in problems.items()}}
    raise error


def _snapshot(f: Facility) -> dict:
    return {key: getattr(f, key) for key in AUDIT_FIELDS}


# --- create, update, close -------------------------------------------------------------------------------------

@transactional(stale=_stale)
def create(actor, data: dict) -> int:
    attrs, problems = clean(data)
    if not problems:
        problems = _place(attrs)
    if problems:
        _raise(problems)
    if not covers(actor, attrs.get("street_id"), attrs.get("neighbourhood_id")):
        raise _out_of_scope()
    if attrs.get("external_id") and db.session.execute(sa.select(Facility.id).where(
            Facility.external_id == attrs["external_id"])).first():
        raise Conflict(code="life_circle.external_id_taken", zh="外部编号已被使用", en="external_id is already used")
    facility = Facility(**{"status": "open", "coord_source": "approximate", "accessible": False, "bookable": False,
                           **attrs})
    try:
        with db.session.begin_nested():
            db.session.add(facility)
            db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(code="life_circle.external_id_taken", zh="外部编号已被使用",
                       en="external_id is already used") from None
    audit.record(actor, "life_circle.facility.create", "facility", facility.id, after=_json(_snapshot(facility)))
    return facility.id


def _load(facility_id: int) -> Facility:
    facility = db.session.get(Facility, facility_id)
    if facility is None:
        raise NotFound(code="life_circle.facility_not_found", zh="没有找到该设施", en="No such facility")
    return facility


@transactional(stale=_stale)
def update(actor, facility_id: int, data: dict) -> int:
    facility = _load(facility_id)
    if not covers(actor, facility.street_id, facility.neighbourhood_id):
        raise _out_of_scope()
    expected = data.pop("version", None)
    if expected is not None and expected != facility.version:
        raise _stale()
    attrs, problems = clean(data, partial=True)
    if not problems and ("street_id" in attrs or "neighbourhood_id" in attrs):
        problems = _place(attrs, facility)
        if not problems and not covers(actor, attrs.get("street_id"), attrs.get("neighbourhood_id",
                                                                                facility.neighbourhood_id)):
            raise _out_of_scope()
    if problems:
        _raise(problems)
    before = _snapshot(facility)
    changed = _apply(facility, attrs)
    if changed:
        db.session.flush()
        audit.record(actor, "life_circle.facility.update", "facility", facility.id,
                     before=_json({k: before[k] for k in changed}), after=_json({k: _snapshot(facility)[k]
                                                                                 for k in changed}))
    return facility.id


def _apply(facility: Facility, attrs: dict) -> list[str]:
    """Set the attributes that differ; returns their names. Hours are compared in canonical form (what
    ``clean`` gives), so stored hours written in another form of the same schedule are not a change."""
    changed = []
    for key, value in attrs.items():
        current = getattr(facility, key)
        if key == "hours":
            current = hours_mod.canonical(current)
        if current != value:
            setattr(facility, key, value)
            changed.append(key)
    if "status" in changed:
        facility.closed_at = clock.now() if facility.status == "closed" else None
    return changed


@transactional(stale=_stale)
def close(actor, facility_id: int, reason: str | None = None) -> int:
    facility = _load(facility_id)
    if not covers(actor, facility.street_id, facility.neighbourhood_id):
        raise _out_of_scope()
    if facility.status == "closed":
        raise Conflict(code="life_circle.already_closed", zh="该设施已关闭", en="The facility is already closed")
    before = facility.status
    facility.status = "closed"
    facility.closed_at = clock.now()
    db.session.flush()
    audit.record(actor, "life_circle.facility.close", "facility", facility.id, before={"status": before},
                 after={"status": "closed", "reason": reason})
    return facility.id


def _json(value):
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


# --- import ---------------------------------------------------------------------------------------------------

def _truthy(text: str, field: str, problems: dict):
    value = (text or "").strip().lower()
    if value == "":
        return None
    if value in ("true", "1", "yes", "y", "是"):
        return True
    if value in ("false", "0", "no", "n", "否"):
        return False
    problems[field] = TRUE_OR_FALSE
    return None


def _rows_from_csv(text: str) -> list[tuple[str, dict, dict]]:
    """(where, fields, problems) per data row."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or "external_id" not in [h.strip() for h in reader.fieldnames]:
        raise InvalidInput("data", "CSV 第一行须为列名，且包含 external_id", "The CSV needs a header row with external_id",
                           code="life_circle.import_header")
    rows = []
    for index, raw in enumerate(reader):
        if index >= MAX_ROWS:
            raise InvalidInput("data", f"一次最多导入 {MAX_ROWS} 行", f"At most {MAX_ROWS} rows per import",
                               code="life_circle.import_too_large")
        raw = {(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in raw.items()}
        problems: dict[str, Text] = {}
        fields: dict = {k: raw.get(k, "") for k in ("external_id", "name", "category", "subtype", "address", "lat",
                                                     "lng", "datum", "coord_source", "phone", "status",
                                                     "description") if k in raw}
        for key in LIST_FIELDS:
            if key in raw:
                fields[key] = [v.strip() for v in raw[key].split("|") if v.strip()]
        if raw.get("capacity"):
            try:
                fields["capacity"] = int(raw["capacity"])
            except ValueError:
                problems["capacity"] = Text("须为整数", "must be a whole number")
        for key in BOOL_FIELDS:
            if key in raw:
                value = _truthy(raw[key], key, problems)
                if value is not None:
                    fields[key] = value
        if "hours" in raw:
            try:
                fields["hours"] = hours_mod.parse_text(raw["hours"])
            except hours_mod.HoursError as exc:
                problems[exc.path] = exc.message
        for key in ("street_code", "neighbourhood_code"):
            if raw.get(key):
                fields[key] = raw[key]
        rows.append((f"line {index + 2}", fields, problems))
    return rows


def _rows_from_geojson(text: str) -> list[tuple[str, dict, dict]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput("data", "GeoJSON 格式有误", f"Not valid JSON: {exc.msg} at line {exc.lineno}",
                           code="life_circle.import_json") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise InvalidInput("data", "须为 GeoJSON FeatureCollection", "Expected a GeoJSON FeatureCollection",
                           code="life_circle.import_geojson")
    if len(doc["features"]) > MAX_ROWS:
        raise InvalidInput("data", f"一次最多导入 {MAX_ROWS} 行", f"At most {MAX_ROWS} rows per import",
                           code="life_circle.import_too_large")
    default_datum = doc.get("datum") or "wgs84"   # RFC 7946: WGS-84 unless the file says otherwise
    rows = []
    for index, feature in enumerate(doc["features"]):
        where = f"features[{index}]"
        problems: dict[str, Text] = {}
        fields: dict = {}
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            rows.append((where, {}, {"type": Text("须为 Feature", "must be a Feature")}))
            continue
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            rows.append((where, {}, {"properties": Text("须为 JSON 对象", "must be an object")}))
            continue
        fields.update({k: v for k, v in props.items() if k not in ("lat", "lng", "cell", "id", "open_now")})
        _scalars(fields, problems)
        if "external_id" not in fields and "external_id" not in problems and _is_id(feature.get("id")):
            fields["external_id"] = str(feature["id"])
        fields.setdefault("datum", default_datum)
        geometry = feature.get("geometry")
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") != "Point" or not isinstance(coords, list) \
                or len(coords) < 2 or not all(_is_number(c) and not isinstance(c, bool) for c in coords[:2]):
            problems["geometry"] = Text("须为坐标 [lng, lat] 的 Point", "must be a Point with [lng, lat]")
        else:
            fields["lng"], fields["lat"] = coords[0], coords[1]
        rows.append((where, fields, problems))
    return rows


# GeoJSON properties that must be text; an id or a code may also come as a whole number.
TEXT_PROPERTIES = ("external_id", "name", "category", "subtype", "address", "phone", "description", "datum",
                   "coord_source", "status", "street_code", "neighbourhood_code")
ID_PROPERTIES = ("external_id", "street_code", "neighbourhood_code")


def _is_id(value) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _scalars(fields: dict, problems: dict) -> None:
    """A list, an object or true/false where text is expected is the row's problem, named by its
    field (and the value is not used); an id or code given as a number becomes its text."""
    for key in TEXT_PROPERTIES:
        value = fields.get(key)
        if value is None or isinstance(value, str):
            continue
        if key in ID_PROPERTIES and _is_id(value):
            fields[key] = str(value)
        else:
            del fields[key]
            problems[key] = Text("须为文本", "must be text") if key not in ID_PROPERTIES else \
                Text("须为文本或整数", "must be text or a whole number")


def _codes(rows) -> tuple[dict, dict]:
    streets = {code for _, f, _ in rows if isinstance(f.get("street_code"), str) for code in [f["street_code"]]}
    nbs = {code for _, f, _ in rows if isinstance(f.get("neighbourhood_code"), str) for code in [f["neighbourhood_code"]]}
    s = dict(db.session.execute(sa.select(Street.code, Street.id).where(Street.code.in_(streets))).tuples().all()) if streets else {}
    n = dict(db.session.execute(sa.select(Neighbourhood.code, Neighbourhood.id)
                                .where(Neighbourhood.code.in_(nbs))).tuples().all()) if nbs else {}
    return s, n


def import_facilities(actor, *, fmt: str, data: str, skip_invalid: bool = False, dry_run: bool = False) -> dict:
    """Upsert facilities by ``external_id`` from CSV or GeoJSON text.

    Every row is validated first; the report names each bad row and field. With any bad row
    nothing is written (422) unless ``skip_invalid``. A row equal to the stored facility is
    ``unchanged``; re-importing the same file changes nothing."""
    if not actor.is_staff:
        raise Forbidden(code="auth.role_required", zh="当前身份无权进行此操作", en="Your role does not allow this")
    try:
        rows = _rows_from_csv(data) if fmt == "csv" else _rows_from_geojson(data)
    except csv.Error as exc:
        raise InvalidInput("data", "CSV 格式有误", f"Not valid CSV: {exc}", code="life_circle.import_csv") from None
    street_ids, nb_ids = _codes(rows)
    external_ids = [f["external_id"] for _, f, _ in rows if isinstance(f.get("external_id"), str)]
    existing = {f.external_id: f for f in db.session.execute(
        sa.select(Facility).where(Facility.external_id.in_(external_ids))).scalars()} if external_ids else {}
    # The export names a facility without an external id "linli-<id>": that name finds it again.
    own_ids = {int(m[1]) for ext in external_ids if ext not in existing for m in [OWN_ID.match(ext)]
               if m and int(m[1]) <= MAX_FACILITY_ID}
    implicit = {f"linli-{f.id}": f for f in db.session.execute(sa.select(Facility).where(
        Facility.id.in_(own_ids), Facility.external_id.is_(None))).scalars()} if own_ids else {}
    seen: set[str] = set()
    plans = []
    errors = []
    for index, (where, fields, problems) in enumerate(rows, start=1):
        problems = dict(problems)
        ext = fields.get("external_id")
        if not ext:
            problems.setdefault("external_id", Text("必填（贵方系统中稳定不变的编号）",
                                                   "is required (a stable id from your system)"))
        elif ext in seen:
            problems.setdefault("external_id", Text("在文件中出现了两次", "appears twice in the file"))
        seen.add(ext) if ext else None
        for key, table in (("street_code", street_ids), ("neighbourhood_code", nb_ids)):
            code = fields.pop(key, None)
            if code is not None:
                if code not in table:
                    problems[key] = UNKNOWN_CODE[key]
                else:
                    fields[key.replace("_code", "_id")] = table[code]
        current = (existing.get(ext) or implicit.get(ext)) if ext else None
        attrs, more = clean(fields, partial=False)
        if current is not None and current.external_id is None:
            attrs.pop("external_id", None)      # it keeps having none
        problems.update({k: v for k, v in more.items() if k not in problems})
        if not problems:
            problems = _place(attrs, current)
        if not problems:
            if current is not None and not covers(actor, current.street_id, current.neighbourhood_id):
                problems["external_id"] = Text("使用此编号的已有设施不在您的管辖范围内",
                                               "the stored facility with this id is outside your scope")
            elif not covers(actor, attrs.get("street_id"), attrs.get("neighbourhood_id")):
                problems["street_code" if "neighbourhood_id" not in attrs else "neighbourhood_code"] = \
                    OUTSIDE_SCOPE
        if problems:
            for field, message in problems.items():
                errors.append({"row": index, "where": where, "external_id": ext, "field": field, "message": message})
            continue
        plans.append((ext, current, attrs))
    summary = {"format": fmt, "rows": len(rows), "valid": len(plans), "invalid": len({e["row"] for e in errors}),
               "created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "dry_run": dry_run, "applied": False,
               "errors": errors}
    if errors and not skip_invalid:
        raise DomainError(f"导入文件有 {summary['invalid']} 行有误，未导入任何数据", 
                          f"{summary['invalid']} rows are not valid; nothing was imported",
                          code="life_circle.import_invalid", status=422, errors={"report": summary})
    summary["skipped"] = summary["invalid"]
    return _apply_import(actor, plans, summary, dry_run)


@transactional
def _apply_import(actor, plans, summary: dict, dry_run: bool) -> dict:
    defaults = {"status": "open", "coord_source": "approximate", "accessible": False, "bookable": False,
                "services": [], "target_groups": [], "hours": None, "subtype": None, "address": None, "phone": None,
                "capacity": None, "description": None}
    created_ids, updated_ids = [], []
    for ext, current, attrs in plans:
        full = {**defaults, **attrs}
        if current is None:
            facility = Facility(**full)
            db.session.add(facility)
            summary["created"] += 1
            created_ids.append(ext)
        elif _apply(current, full):
            summary["updated"] += 1
            updated_ids.append(ext)
        else:
            summary["unchanged"] += 1
    if dry_run:
        db.session.rollback()
        return summary
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        # Another import created the same external ids meanwhile: nothing of this one is kept.
        raise Conflict(code="life_circle.import_conflict", zh="另一导入正在进行，请稍后重试",
                       en="Another import wrote the same facilities just now; retry") from None
    summary["applied"] = True
    if created_ids or updated_ids:
        audit.record(actor, "life_circle.facility.import", "facility", None,
                     after={"format": summary["format"], "created": created_ids[:500], "updated": updated_ids[:500],
                            "unchanged": summary["unchanged"], "skipped": summary["skipped"]})
    return summary


# --- export ---------------------------------------------------------------------------------------------------

def export_geojson(actor, *, street_id: int | None = None, category: str | None = None, status: str | None = None,
                   datum: str = "wgs84", lang: str = "zh") -> dict:
    """Facilities as a GeoJSON FeatureCollection whose properties re-import unchanged."""
    if not actor.is_staff:
        raise Forbidden(code="auth.role_required", zh="当前身份无权进行此操作", en="Your role does not allow this")
    if category is not None and rules.current().category(category) is None:
        raise InvalidInput("category", "没有这个设施类别", "Unknown facility category",
                           code="life_circle.category_unknown")
    query = sa.select(Facility).order_by(Facility.id)
    if street_id is not None:
        query = query.where(Facility.street_id == street_id)
    if category is not None:
        query = query.where(Facility.category_code == category)
    if status is not None:
        query = query.where(Facility.status == status)
    facilities = list(db.session.execute(query.limit(MAX_ROWS)).scalars())
    codes = dict(db.session.execute(sa.select(Street.id, Street.code)).tuples().all())
    nb_ids = {f.neighbourhood_id for f in facilities if f.neighbourhood_id}
    nb_codes = dict(db.session.execute(sa.select(Neighbourhood.id, Neighbourhood.code)
                                       .where(Neighbourhood.id.in_(nb_ids))).tuples().all()) if nb_ids else {}
    features = []
    for f in facilities:
        lat, lng = geo.from_gcj02(f.lat, f.lng, datum)
        props = {"external_id": f.external_id or f"linli-{f.id}", "name": f.name, "category": f.category_code,
                 "subtype": f.subtype, "address": f.address, "coord_source": f.coord_source, "phone": f.phone,
                 "services": f.services or [], "target_groups": f.target_groups or [], "capacity": f.capacity,
                 "accessible": f.accessible, "bookable": f.bookable, "status": f.status,
                 "hours": hours_mod.canonical(f.hours),
                 "description": f.description}
        if f.neighbourhood_id:
            props["neighbourhood_code"] = nb_codes.get(f.neighbourhood_id)
        elif f.street_id:
            props["street_code"] = codes.get(f.street_id)
        features.append({"type": "Feature", "id": f.id,
                         "geometry": {"type": "Point", "coordinates": [round(lng, 7), round(lat, 7)]},
                         "properties": props})
    return {"type": "FeatureCollection", "datum": datum, "features": features}


# --- the network walking table ---------------------------------------------------------------------------------

def import_walks(actor, *, data: str, graph_version: str | None = None, skip_invalid: bool = False) -> dict:
    """Upsert precomputed estate → facility network walks from CSV with the columns
    ``estate_code, facility_external_id, walk_m[, walk_s_standard, walk_s_elder]``."""
    if not actor.is_staff:
        raise Forbidden(code="auth.role_required", zh="当前身份无权进行此操作", en="Your role does not allow this")
    reader = csv.DictReader(io.StringIO(data.lstrip("\ufeff")))
    needed = {"estate_code", "facility_external_id", "walk_m"}
    try:
        if not reader.fieldnames or needed - {h.strip() for h in reader.fieldnames}:
            raise InvalidInput("data", "CSV 须包含列 estate_code, facility_external_id, walk_m",
                               "The CSV needs estate_code, facility_external_id and walk_m columns",
                               code="life_circle.import_header")
        raw_rows = [{(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in r.items()}
                    for r in reader]
    except csv.Error as exc:
        raise InvalidInput("data", "CSV 格式有误", f"Not valid CSV: {exc}", code="life_circle.import_csv") from None
    if len(raw_rows) > MAX_ROWS * 10:
        raise InvalidInput("data", "行数过多", "Too many rows", code="life_circle.import_too_large")
    estates = {code: (eid, sid) for code, eid, sid in db.session.execute(sa.select(
        Estate.code, Estate.id, Estate.street_id).where(Estate.code.in_({r["estate_code"] for r in raw_rows})))}
    facilities = dict(db.session.execute(sa.select(Facility.external_id, Facility.id).where(
        Facility.external_id.in_({r["facility_external_id"] for r in raw_rows}))).tuples().all())
    errors, plans, seen = [], [], set()
    for index, r in enumerate(raw_rows, start=1):
        problems = {}
        estate = estates.get(r["estate_code"])
        fid = facilities.get(r["facility_external_id"])
        if estate is None:
            problems["estate_code"] = Text("没有这个小区代码", "unknown estate code")
        elif not _estate_in_scope(actor, estate[0], estate[1]):
            problems["estate_code"] = OUTSIDE_SCOPE
        if fid is None:
            problems["facility_external_id"] = Text("没有这个外部编号的设施", "unknown facility external_id")
        values = {}
        for key in ("walk_m", "walk_s_standard", "walk_s_elder"):
            text = r.get(key, "")
            if text == "" and key != "walk_m":
                values[key] = None
                continue
            try:
                values[key] = int(text)
                if not 0 <= values[key] <= 100000:
                    raise ValueError
            except ValueError:
                problems[key] = Text("须为 0 到 100000 之间的整数", "must be a whole number from 0 to 100000")
        if estate and fid and (estate[0], fid) in seen:
            problems["facility_external_id"] = Text("该小区与设施的组合出现了两次", "the pair appears twice")
        if problems:
            errors.extend({"row": index, "where": f"line {index + 1}", "field": k, "message": v}
                          for k, v in problems.items())
            continue
        seen.add((estate[0], fid))
        plans.append((estate[0], fid, values))
    summary = {"rows": len(raw_rows), "valid": len(plans), "invalid": len({e["row"] for e in errors}),
               "created": 0, "updated": 0, "unchanged": 0, "errors": errors, "applied": False}
    if errors and not skip_invalid:
        raise DomainError(f"导入文件有 {summary['invalid']} 行有误，未导入任何数据",
                          f"{summary['invalid']} rows are not valid; nothing was imported",
                          code="life_circle.import_invalid", status=422, errors={"report": summary})
    return _apply_walks(actor, plans, summary, graph_version)


def _estate_in_scope(actor, estate_id: int, street_id: int) -> bool:
    from models.places import estate_neighbourhood

    if street_id in actor.street_ids:
        return True
    nbs = set(db.session.execute(sa.select(estate_neighbourhood.c.neighbourhood_id).where(
        estate_neighbourhood.c.estate_id == estate_id)).scalars())
    return bool(nbs & actor.neighbourhood_ids)


@transactional
def _apply_walks(actor, plans, summary: dict, graph_version: str | None) -> dict:
    now = clock.now()
    for estate_id, facility_id, values in plans:
        row = db.session.get(FacilityWalk, (estate_id, facility_id))
        if row is None:
            db.session.add(FacilityWalk(estate_id=estate_id, facility_id=facility_id, graph_version=graph_version,
                                        computed_at=now, **values))
            summary["created"] += 1
        elif any(getattr(row, k) != v for k, v in values.items()) or row.graph_version != graph_version:
            for k, v in values.items():
                setattr(row, k, v)
            row.graph_version, row.computed_at = graph_version, now
            summary["updated"] += 1
        else:
            summary["unchanged"] += 1
    db.session.flush()
    summary["applied"] = True
    if summary["created"] or summary["updated"]:
        audit.record(actor, "life_circle.walks.import", "facility_walk", None,
                     after={k: summary[k] for k in ("created", "updated", "unchanged")} | {"graph_version": graph_version})
    return summary


def detail(facility_id: int, lang: str, datum: str = "gcj02") -> dict:
    return facility_dict(_load(facility_id), lang, datum=datum)
