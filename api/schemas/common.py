"""Schemas shared by every domain: ids, coordinates, money, timestamps, labels, pagination, JSON types,
messages. A domain's schemas say an id, a position or an amount with these, never spelling their ranges again."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import marshmallow as ma
from marshmallow import validate

from api.messages import language, translate
from service import clock, labels
from service.geo import DATUMS
from service.i18n import Text

MAX_PAGE_SIZE = 100
MAX_INT = 2_147_483_647  # the largest PostgreSQL integer: every id, and a row's version


# --- ids ----------------------------------------------------------------------------------------------------

class Id(ma.fields.Integer):
    """An id in a request: 1 to ``MAX_INT``, so a number no row can have is a 422, never a database error."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Range(min=1, max=MAX_INT), **kwargs)


def id_in_path(name: str) -> str:
    """An id in a URL, in the same range: ``f"/streets/{id_in_path('street_id')}"``."""
    return f"<int(min=1, max={MAX_INT}):{name}>"


# --- coordinates ---------------------------------------------------------------------------------------------
# A position is a latitude and a longitude in degrees with the datum they are in (``datum``). A request's are
# checked (in range, a known datum); an answer's (``answer=True``) are shown as they are.

class Lat(ma.fields.Float):
    """A latitude in degrees: -90 to 90 in a request."""

    def __init__(self, *, answer: bool = False, **kwargs):
        if not answer:
            kwargs["validate"] = validate.Range(min=-90, max=90)
        super().__init__(**kwargs)


class Lng(ma.fields.Float):
    """A longitude in degrees: -180 to 180 in a request."""

    def __init__(self, *, answer: bool = False, **kwargs):
        if not answer:
            kwargs["validate"] = validate.Range(min=-180, max=180)
        super().__init__(**kwargs)


class Datum(ma.fields.String):
    """The datum of the coordinates beside it: wgs84 (wx.getLocation's) or gcj02 (Chinese maps; stored)."""

    def __init__(self, *, answer: bool = False, **kwargs):
        if not answer:
            kwargs["validate"] = validate.OneOf(DATUMS)
        super().__init__(**kwargs)


# --- money -----------------------------------------------------------------------------------------------------
# Amounts are kept in fen; the API speaks yuan, exactly: a decimal string with 2 decimals in an answer, a
# JSON number or decimal string with at most 2 decimals in a request.

class Money(ma.fields.String):
    """An amount in an answer: yuan as a string with 2 decimals (``"12.50"``)."""

    def __init__(self, **kwargs):
        metadata = {"type": "string", "pattern": r"^\d+\.\d{2}$", "example": "12.50", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)


class _YuanInRange:
    """0 to ``maximum`` yuan with at most 2 decimals (a validator; apispec documents no range for it)."""

    def __init__(self, maximum: Decimal):
        self.maximum = maximum

    def __call__(self, value: Decimal | None) -> None:
        if value is None:
            return
        if not value.is_finite() or value < 0 or value > self.maximum or value != value.quantize(Decimal("0.01")):
            raise ma.ValidationError(Text(f"须为 0 到 {self.maximum} 之间、最多两位小数的金额",
                                          f"An amount from 0 to {self.maximum} with at most 2 decimals"))


class Yuan(ma.fields.Decimal):
    """An amount in a request: yuan, from 0 to ``maximum`` with at most 2 decimals."""

    def __init__(self, *, maximum: Decimal, **kwargs):
        super().__init__(validate=_YuanInRange(maximum), **kwargs)


def _label_options(domain, field, source, lookup, kwargs, description: str) -> tuple:
    """(lookup, the field's options) shared by Label and Labels."""
    lookup = lookup or (lambda code, lang: labels.name(domain, field, code, lang))
    metadata = {"description": description.format(f"`{source or field}`"),
                **kwargs.pop("metadata", {})}
    return lookup, {"attribute": source or field, "dump_only": True, "metadata": metadata, **kwargs}


class Label(ma.fields.String):
    """The label of a code in a sibling field, from the domain's catalogue (service.labels): declared as
    ``status_name = Label("cases", "status")`` beside ``status``; Chinese, or English by Accept-Language.
    Codes named in a table of their own (a facility category, a pace) give ``lookup(code, lang)`` instead."""

    def __init__(self, domain: str | None = None, field: str | None = None, *, source: str | None = None,
                 lookup=None, **kwargs):
        self.lookup, options = _label_options(domain, field, source, lookup, kwargs,
                                              "The label of {}, in the reader's language")
        super().__init__(**options)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else self.lookup(value, language())


class Labels(ma.fields.List):
    """The labels of a list of codes, in the same order: ``tags_names = Labels("meals", "tags")``."""

    def __init__(self, domain: str | None = None, field: str | None = None, *, source: str | None = None,
                 lookup=None, **kwargs):
        self.lookup, options = _label_options(domain, field, source, lookup, kwargs, "The labels of {}, in the same order")
        super().__init__(ma.fields.String(), **options)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        lang = language()
        return [self.lookup(code, lang) for code in value]


class Timestamp(ma.fields.DateTime):
    """A moment in an answer: ISO 8601 in Shanghai time (``2026-12-07T23:59:59+08:00``), through the one
    serialiser (service.clock.iso). Answers use this, never ``DateTime``; a test walks every answer."""

    def __init__(self, **kwargs):
        metadata = {"example": "2026-12-07T23:59:59+08:00", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if isinstance(value, str):  # already written by a service as ISO 8601: rewritten in Shanghai time
            value = datetime.fromisoformat(value)
        return clock.iso(value)


def documented_example(schema, example):
    """An example as the schema answers it: each code's label added beside it (in Chinese) and each moment
    in Shanghai time, so that the document's examples show the same contract as the answers."""
    if isinstance(schema, type):
        schema = schema()
    if isinstance(example, list):
        return [documented_example(schema, item) for item in example]
    if not isinstance(example, dict):
        return example
    out = dict(example)
    for name, field in schema.fields.items():
        key = field.data_key or name
        if isinstance(field, (Label, Labels)):
            source = field.attribute
            if key not in out and source in out and out[source] is not None:
                codes = out[source]
                out[key] = ([field.lookup(c, "zh") for c in codes] if isinstance(field, Labels)
                            else field.lookup(codes, "zh"))
            elif key not in out and source in out:
                out[key] = None
        elif key not in out:
            continue
        elif isinstance(field, Timestamp) and isinstance(out[key], str):
            out[key] = clock.iso(datetime.fromisoformat(out[key]))
        elif isinstance(field, ma.fields.Nested) and out[key] is not None:
            out[key] = documented_example(field.schema, out[key])
        elif isinstance(field, ma.fields.List) and isinstance(field.inner, ma.fields.Nested) and out[key]:
            out[key] = documented_example(field.inner.schema, out[key])
    return out


# --- pagination ------------------------------------------------------------------------------------------------
# A numbered page (``PageArgs`` in, ``page_of(ItemOut)`` out), or a cursor page for a queue that moves while it is
# read (``cursor`` and ``limit`` in, ``next_cursor`` out).

class PageSize(ma.fields.Integer):
    """How many items a page holds: 1 to ``MAX_PAGE_SIZE``."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Range(min=1, max=MAX_PAGE_SIZE), **kwargs)


class PageArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000),
                             metadata={"description": "Page number, from 1"})
    page_size = PageSize(load_default=20, metadata={"description": f"Items per page, at most {MAX_PAGE_SIZE}"})


def page_fields() -> tuple[ma.fields.Integer, ma.fields.Integer, ma.fields.Integer]:
    """The fields ``page``, ``page_size`` and ``total`` of a page's answer, for an answer with more beside its
    items (``page, page_size, total = page_fields()``)."""
    return ma.fields.Integer(required=True), ma.fields.Integer(required=True), ma.fields.Integer(required=True)


class PageOut(ma.Schema):
    page, page_size, total = page_fields()


class Cursor(ma.fields.String):
    """Where a cursor page starts: the ``next_cursor`` of the previous page."""

    def __init__(self, **kwargs):
        metadata = {"description": "The next_cursor of the previous page, as issued (any other is refused)",
                    **kwargs.pop("metadata", {})}
        super().__init__(validate=validate.Length(max=200), metadata=metadata, **kwargs)


class NextCursor(ma.fields.String):
    """Where the next cursor page starts; null on the last page."""

    def __init__(self, **kwargs):
        metadata = {"description": "Pass as cursor for the next page", **kwargs.pop("metadata", {})}
        super().__init__(allow_none=True, metadata=metadata, **kwargs)


class Message(ma.fields.String):
    """A message for people in an answer (e.g. an import report's problem with a row): a service's
    bilingual ``Text`` in the reader's language (``api.messages``)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else translate(value, language())


_page_schemas: dict = {}


def page_of(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The envelope ``{"items": [...], "page", "page_size", "total"}`` for a list of ``item_schema``."""
    name = item_schema.__name__.removesuffix("Out") + "PageOut"
    if name not in _page_schemas:
        _page_schemas[name] = type(name, (PageOut,), {"items": ma.fields.List(ma.fields.Nested(item_schema),
                                                                              required=True)})
    return _page_schemas[name]


def paged(items, total: int, args: dict) -> dict:
    return {"items": items, "total": total, "page": args["page"], "page_size": args["page_size"]}


# --- JSON types ----------------------------------------------------------------------------------------------
# marshmallow parses text: "0", "true" and 1 are booleans to it, "31.2" a number. That suits query strings
# and form fields, which are text; in a JSON body a boolean must be a JSON boolean and a number a JSON
# number. Every endpoint's JSON body is checked against its schema before loading (api.extensions.
# LinliParser), so no schema needs to say so. An exact decimal (money, an area) may be a string or a number:
# the string is how an exact amount is written.

_MESSAGES = {"boolean": Text("须为 JSON 布尔值（true 或 false）", "Must be a JSON boolean (true or false)"),
             "number": Text("须为 JSON 数字", "Must be a JSON number")}


def json_type_errors(schema: ma.Schema, data) -> dict:
    """The fields of ``data`` (a JSON body) whose JSON type does not fit the field, as marshmallow's
    error dict ({field: [message]}, nested by field and list index); empty when all fit."""
    if not isinstance(data, dict):
        return {}
    messages = _MESSAGES
    errors: dict = {}
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        if key in data:
            found = _field_type_errors(field, data[key], messages)
            if found:
                errors[key] = found
    return errors


def _field_type_errors(field: ma.fields.Field, value, messages: dict):
    if value is None:
        return None  # allowed or not, the schema says
    if isinstance(field, ma.fields.Boolean):
        return None if isinstance(value, bool) else [messages["boolean"]]
    if isinstance(field, ma.fields.Number) and not isinstance(field, ma.fields.Decimal):
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else [messages["number"]]
    if isinstance(field, ma.fields.Pluck):
        return None
    if isinstance(field, ma.fields.Nested):
        schema = field.schema
        if field.many or isinstance(value, list):
            return _items(value, lambda item: json_type_errors(schema, item))
        return json_type_errors(schema, value) or None
    if isinstance(field, ma.fields.List):
        return _items(value, lambda item: _field_type_errors(field.inner, item, messages))
    if isinstance(field, ma.fields.Tuple) and isinstance(value, list):
        found = {i: e for i, (inner, item) in enumerate(zip(field.tuple_fields, value))
                 if (e := _field_type_errors(inner, item, messages))}
        return found or None
    if isinstance(field, ma.fields.Mapping) and isinstance(value, dict) and field.value_field is not None:
        found = {k: {"value": e} for k, item in value.items()
                 if (e := _field_type_errors(field.value_field, item, messages))}
        return found or None
    return None


def _items(value, check):
    if not isinstance(value, list):
        return None  # not a list: the schema reports it
    found = {i: e for i, item in enumerate(value) if (e := check(item))}
    return found or None
