"""Schemas shared by every domain: pagination."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

MAX_PAGE_SIZE = 100


class PageArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000),
                             metadata={"description": "Page number, from 1"})
    page_size = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PAGE_SIZE),
                                  metadata={"description": f"Items per page, at most {MAX_PAGE_SIZE}"})


class PageOut(ma.Schema):
    page = ma.fields.Integer(required=True)
    page_size = ma.fields.Integer(required=True)
    total = ma.fields.Integer(required=True)


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
