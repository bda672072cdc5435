"""JSON answers for the hottest reads, encoded with orjson; CSV files as attachments.

Those views build their items JSON-ready (the same shape their response schema
documents) instead of having them re-dumped by marshmallow; orjson encodes them
several times faster than the standard library and writes timezone-aware
datetimes as ISO 8601 (``2026-11-20T08:00:00+00:00``), as the schemas do.
"""
from __future__ import annotations

import orjson
from flask import Response


def json_response(payload, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")


def csv_response(text: str, filename: str) -> Response:
    """A CSV file (written by service/csv_export.py) as a download that no cache keeps."""
    response = Response(text, status=200, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
