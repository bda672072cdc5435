"""Facilities as files: the rows of an import file (CSV or GeoJSON) as the import reads them, the GeoJSON
export (whose properties re-import unchanged), and the rows of the network walk table (CSV)."""
from __future__ import annotations

import csv
import io
import json
import math

import sqlalchemy as sa

from models.base import db
from models.life_circle import Facility
from models.places import Neighbourhood, Street
from service import geo
from service.i18n import Text
from service.life_circle import access, errors, hours, rules
from service.people import Actor

MAX_ROWS = 20000
LIST_FIELDS = ("services", "target_groups")
BOOL_FIELDS = ("accessible", "bookable")
CODE_FIELDS = ("street_code", "neighbourhood_code")
# The CSV columns read as they are (text); lists are separated by "|", hours in their compact form.
CSV_TEXT = ("external_id", "name", "category", "subtype", "address", "lat", "lng", "datum", "coord_source", "phone",
            "status", "description")
# GeoJSON properties that must be text; an id or a code may also come as a whole number.
TEXT_PROPERTIES = ("external_id", "name", "category", "subtype", "address", "phone", "description", "datum",
                   "coord_source", "status", "street_code", "neighbourhood_code")
ID_PROPERTIES = ("external_id", "street_code", "neighbourhood_code")
# Properties a GeoJSON feature may carry that the import does not read (the point is the geometry).
IGNORED_PROPERTIES = ("lat", "lng", "cell", "id", "open_now")

# A data row of an import file: (where it is in the file, its fields, {field: problem} found reading it).
Row = tuple[str, dict, dict[str, Text]]


def facility_rows(fmt: str, text: str) -> list[Row]:
    """The data rows of a facility import file (``fmt`` csv or geojson)."""
    if fmt != "csv":
        return _geojson_rows(text)
    try:
        return _csv_rows(text)
    except csv.Error as exc:
        raise errors.ImportCsv(reason=exc) from None


# --- CSV -----------------------------------------------------------------------------------------------------------

def _csv_rows(text: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or "external_id" not in [h.strip() for h in reader.fieldnames]:
        raise errors.ImportHeader()
    rows = []
    for index, raw in enumerate(reader):
        if index >= MAX_ROWS:
            raise errors.ImportTooLarge(limit=MAX_ROWS)
        rows.append((f"line {index + 2}", *_csv_row(_stripped(raw))))
    return rows


def _stripped(raw: dict) -> dict[str, str]:
    return {(k or "").strip(): (v or "").strip() if isinstance(v, str) else "" for k, v in raw.items()}


def _csv_row(raw: dict[str, str]) -> tuple[dict, dict[str, Text]]:
    """A CSV line's fields as the facility input has them, and the cells that cannot be read."""
    problems: dict[str, Text] = {}
    fields: dict = {k: raw[k] for k in CSV_TEXT if k in raw}
    for key in LIST_FIELDS:
        if key in raw:
            fields[key] = [v.strip() for v in raw[key].split("|") if v.strip()]
    if raw.get("capacity"):
        try:
            fields["capacity"] = int(raw["capacity"])
        except ValueError:
            problems["capacity"] = errors.WHOLE_NUMBER
    for key in BOOL_FIELDS:
        if key in raw:
            value = _truthy(raw[key], key, problems)
            if value is not None:
                fields[key] = value
    if "hours" in raw:
        try:
            fields["hours"] = hours.parse_text(raw["hours"])
        except hours.HoursError as exc:
            problems[exc.path] = exc.message
    fields.update({key: raw[key] for key in CODE_FIELDS if raw.get(key)})
    return fields, problems


def _truthy(text: str, field: str, problems: dict):
    value = text.lower()
    if value == "":
        return None
    if value in ("true", "1", "yes", "y", "是"):
        return True
    if value in ("false", "0", "no", "n", "否"):
        return False
    problems[field] = errors.TRUE_OR_FALSE
    return None


# --- GeoJSON -------------------------------------------------------------------------------------------------------

def _geojson_rows(text: str) -> list[Row]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.ImportJson(reason=exc.msg, line=exc.lineno) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise errors.ImportGeojson()
    if len(doc["features"]) > MAX_ROWS:
        raise errors.ImportTooLarge(limit=MAX_ROWS)
    default_datum = doc.get("datum") or "wgs84"   # RFC 7946: WGS-84 unless the file says otherwise
    return [(f"features[{index}]", *_feature_row(feature, default_datum))
            for index, feature in enumerate(doc["features"])]


def _feature_row(feature, default_datum: str) -> tuple[dict, dict[str, Text]]:
    """A feature's fields as the facility input has them, and the properties that cannot be read."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return {}, {"type": errors.NOT_FEATURE}
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        return {}, {"properties": errors.NOT_OBJECT}
    problems: dict[str, Text] = {}
    fields = {k: v for k, v in props.items() if k not in IGNORED_PROPERTIES}
    _scalars(fields, problems)
    if "external_id" not in fields and "external_id" not in problems and _is_id(feature.get("id")):
        fields["external_id"] = str(feature["id"])
    fields.setdefault("datum", default_datum)
    point = _point(feature.get("geometry"))
    if point is None:
        problems["geometry"] = errors.NOT_POINT
    else:
        fields["lng"], fields["lat"] = point
    return fields, problems


def _point(geometry) -> tuple[float, float] | None:
    """(lng, lat) of a Point whose coordinates are numbers (or numbers written as text), else None."""
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if not isinstance(geometry, dict) or geometry.get("type") != "Point" or not isinstance(coords, list) \
            or len(coords) < 2 or not all(_is_number(c) and not isinstance(c, bool) for c in coords[:2]):
        return None
    return float(coords[0]), float(coords[1])


def _is_number(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


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
            problems[key] = errors.NOT_TEXT_OR_NUMBER if key in ID_PROPERTIES else errors.NOT_TEXT


# --- the GeoJSON export --------------------------------------------------------------------------------------------

def export_geojson(actor: Actor, *, street_id: int | None = None, category: str | None = None,
                   status: str | None = None, datum: str = "wgs84") -> dict:
    """Facilities as a GeoJSON FeatureCollection whose properties re-import unchanged."""
    access.require_staff(actor)
    if category is not None and rules.current().category(category) is None:
        raise errors.CategoryUnknown()
    query = sa.select(Facility).order_by(Facility.id)
    if street_id is not None:
        query = query.where(Facility.street_id == street_id)
    if category is not None:
        query = query.where(Facility.category_code == category)
    if status is not None:
        query = query.where(Facility.status == status)
    facilities = list(db.session.execute(query.limit(MAX_ROWS)).scalars())
    street_codes = dict(db.session.execute(sa.select(Street.id, Street.code)).tuples().all())
    nb_ids = {f.neighbourhood_id for f in facilities if f.neighbourhood_id}
    nb_codes = dict(db.session.execute(sa.select(Neighbourhood.id, Neighbourhood.code)
                                       .where(Neighbourhood.id.in_(nb_ids))).tuples().all()) if nb_ids else {}
    return {"type": "FeatureCollection", "datum": datum,
            "features": [_feature(f, datum, street_codes, nb_codes) for f in facilities]}


def _feature(f: Facility, datum: str, street_codes: dict, nb_codes: dict) -> dict:
    lat, lng = geo.from_gcj02(f.lat, f.lng, datum)
    props = {"external_id": f.external_id or f"linli-{f.id}", "name": f.name, "category": f.category_code,
             "subtype": f.subtype, "address": f.address, "coord_source": f.coord_source, "phone": f.phone,
             "services": f.services or [], "target_groups": f.target_groups or [], "capacity": f.capacity,
             "accessible": f.accessible, "bookable": f.bookable, "status": f.status,
             "hours": hours.canonical(f.hours), "description": f.description}
    if f.neighbourhood_id:
        props["neighbourhood_code"] = nb_codes.get(f.neighbourhood_id)
    elif f.street_id:
        props["street_code"] = street_codes.get(f.street_id)
    return {"type": "Feature", "id": f.id, "geometry": {"type": "Point", "coordinates": [round(lng, 7), round(lat, 7)]},
            "properties": props}


# --- the network walk table ----------------------------------------------------------------------------------------

WALK_COLUMNS = {"estate_code", "facility_external_id", "walk_m"}


def walk_rows(text: str) -> list[dict[str, str]]:
    """The rows of a walk table: ``estate_code, facility_external_id, walk_m[, walk_s_standard, walk_s_elder]``."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        if not reader.fieldnames or WALK_COLUMNS - {h.strip() for h in reader.fieldnames}:
            raise errors.ImportHeader.walks()
        rows = [_stripped(r) for r in reader]
    except csv.Error as exc:
        raise errors.ImportCsv(reason=exc) from None
    if len(rows) > MAX_ROWS * 10:
        raise errors.ImportTooLarge.walks()
    return rows
