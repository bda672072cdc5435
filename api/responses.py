"""JSON answers for the hottest reads, encoded with orjson; CSV files as attachments.

Those views build their items JSON-ready (the same shape their response schema
documents) instead of having them re-dumped by marshmallow; orjson encodes them
several times faster than the standard library. Datetimes go through the one
serialiser (``service.clock.iso``: ISO 8601 in Shanghai time, ``+08:00``), as in
the schemas and in every other JSON answer (``ShanghaiJSONProvider``).
"""
from __future__ import annotations

from datetime import date, datetime

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

from service import clock


def _default(value):
    if isinstance(value, datetime):
        return clock.iso(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_response(payload, status: int = 200) -> Response:
    return Response(orjson.dumps(payload, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME),
                    status=status, mimetype="application/json")


class ShanghaiJSONProvider(DefaultJSONProvider):
    """Flask's JSON (jsonify, the error envelope, flask-smorest's answers) with datetimes in Shanghai time
    and dates as ISO dates; Flask's own default writes an HTTP date in GMT."""
    ensure_ascii = False
    sort_keys = False

    @staticmethod
    def default(o):
        if isinstance(o, (datetime, date)):
            return _default(o)
        return DefaultJSONProvider.default(o)


def csv_response(text: str, filename: str) -> Response:
    """A CSV file (written by service/csv_export.py) as a download that no cache keeps."""
    response = Response(text, status=200, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
