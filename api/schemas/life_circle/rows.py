"""The rows of a facility import (POST /facilities/import), checked by the schema of POST /facilities
(``FacilityIn``): each row's fields as the schema loads them, and each field it refuses worded as the import
report words it (one problem per field, both languages). The use-case then checks what only the service knows
(service/life_circle/workflow.py).

A row comes from a file: a CSV cell left empty is a field not given (a GeoJSON property too, where it may be
null); a GeoJSON row's values must have the JSON types a JSON body must have (a boolean true or false, a
number a number), as in POST /facilities."""
from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import json_type_errors
from api.schemas.life_circle import FacilityIn
from service.i18n import Text
from service.life_circle import errors

SCHEMA = FacilityIn()
# Fields for which an empty cell means "not given" (their default applies); any other field's empty text is
# checked as it is (an empty optional text is no text, as in POST /facilities).
EMPTY_IS_MISSING = ("external_id", "name", "category", "lat", "lng", "datum", "coord_source", "status")
REQUIRED = ("name", "category", "lat", "lng")
COORDINATES = {"lat": errors.LAT_RANGE, "lng": errors.LNG_RANGE}     # their problem when out of range
PROBLEMS = {"external_id": errors.EXTERNAL_ID_FORMAT, "category": errors.UNKNOWN_CATEGORY,
            "services": errors.NAMES, "target_groups": errors.NAMES, "capacity": errors.CAPACITY,
            "accessible": errors.TRUE_OR_FALSE, "bookable": errors.TRUE_OR_FALSE, "hours": errors.NOT_OBJECT,
            "street_id": errors.POSITIVE_ID, "neighbourhood_id": errors.POSITIVE_ID}
_MISSING = object()


def facility_row_check(fmt: str) -> Callable[[dict], tuple[dict, dict[str, Text]]]:
    """The check of one row of an import file in ``fmt`` (csv or geojson)."""
    return partial(check_row, json=fmt == "geojson")


def check_row(fields: dict, *, json: bool) -> tuple[dict, dict[str, Text]]:
    """(the values ``FacilityIn`` accepts, {field: problem} for the fields it refuses)."""
    data = _given(fields)
    problems: dict[str, Text] = {}
    if json:
        for key in json_type_errors(SCHEMA, data):
            problems[key] = _problem(key, data.pop(key))
    try:
        values = SCHEMA.load(data)
    except ma.ValidationError as exc:
        values = exc.valid_data or {}
        refused = set(exc.messages) | set(problems)
        for key in exc.messages:
            if key not in COORDINATES:
                problems.setdefault(key, _problem(key, data.get(key, _MISSING)))
        if refused & set(COORDINATES):
            problems.update(_coordinates(data, refused))
    return values, problems


def _given(fields: dict) -> dict:
    """The row's facility fields as a request body would give them."""
    data = {}
    for key, value in fields.items():
        field = SCHEMA.fields.get(key)
        if field is None or (value is None and not field.allow_none) or (value == "" and key in EMPTY_IS_MISSING):
            continue
        data[key] = None if value == "" and key == "capacity" else value
    return data


def _problem(key: str, value) -> Text:
    """The import report's wording of the schema refusing a field's value."""
    if key in REQUIRED and value is _MISSING:
        return errors.REQUIRED
    if key in PROBLEMS:
        return PROBLEMS[key]
    rule = _validator(key, (validate.Length, validate.OneOf))
    return errors.too_long(rule.max) if isinstance(rule, validate.Length) else errors.one_of(rule.choices)


def _coordinates(data: dict, refused: set[str]) -> dict[str, Text]:
    """The report's wording when the schema refuses lat or lng: a missing one is required; then, the two read
    as one point, a coordinate that is not a number names the pair (on lat, unless lat is a number), else the
    first out of its range."""
    problems = {key: errors.REQUIRED for key in COORDINATES if key not in data}
    if len(problems) == len(COORDINATES):
        return problems
    not_numbers = [key for key in COORDINATES if key not in data or not _is_number(data[key])]
    if not_numbers:
        problems[not_numbers[0]] = errors.BOTH_NUMBERS
    else:
        key = next(key for key in COORDINATES if key in refused)
        problems[key] = COORDINATES[key]
    return problems


def _validator(key: str, kinds: tuple[type, ...]):
    return next(v for v in SCHEMA.fields[key].validators if isinstance(v, kinds))


def _is_number(value) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return math.isfinite(number)
