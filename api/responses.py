"""JSON answers for the hottest reads, encoded with orjson; CSV files as attachments.

Those views build their items JSON-ready (the same shape their response schema
documents) instead of having them re-dumped by marshmallow; orjson encodes them
several times faster than the standard library. Their moments are put in Shanghai
time by the builder (``service.clock.local``) and written natively by orjson; the
schemas and Flask's own JSON (``ShanghaiJSONProvider``) write theirs through
``service.clock.iso``: the same ISO 8601 with ``+08:00`` everywhere.
"""
from __future__ import annotations

from datetime import date, datetime

import orjson
from flask import Response, current_app
from flask.json.provider import DefaultJSONProvider

from service import clock
from service.db import reading


def _default(value):
    if isinstance(value, datetime):
        return clock.iso(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_response(payload, status: int = 200) -> Response:
    """``payload``, built JSON-ready, as a JSON answer. Its moments are already in Shanghai time
    (``clock.local``), which orjson writes natively as ISO 8601 with +08:00; under test every moment is
    checked, so an answer that forgot one fails its tests rather than showing UTC."""
    if current_app.testing:
        _require_shanghai_time(payload)
    return Response(orjson.dumps(payload, default=_default), status=status, mimetype="application/json")


def _require_shanghai_time(node, where: str = "") -> None:
    pairs = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in pairs:
        if isinstance(value, datetime):
            if value.utcoffset() != clock.SHANGHAI_OFFSET.utcoffset(None):
                raise AssertionError(f"{where}.{key}: {value.isoformat()} is not in Shanghai time")
        else:
            _require_shanghai_time(value, f"{where}.{key}")


class ShanghaiJSONProvider(DefaultJSONProvider):
    """Flask's JSON (jsonify, the error envelope, flask-smorest's answers) with datetimes in Shanghai time
    and dates as ISO dates; Flask's own default writes an HTTP date in GMT. Answers are encoded with
    orjson (what the standard library cannot, a Decimal or a UUID, as Flask's provider writes it); the
    standard library only where indentation is asked for."""
    ensure_ascii = False
    sort_keys = False
    _OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME

    @staticmethod
    def default(o):
        if isinstance(o, (datetime, date)):
            return _default(o)
        return DefaultJSONProvider.default(o)

    def _orjson(self, obj, default=None) -> bytes | None:
        """``obj`` as JSON bytes; None for what orjson refuses (an integer beyond 64 bits echoed from a
        request), which the standard library then writes."""
        try:
            return orjson.dumps(obj, default=default or self.default, option=self._OPTIONS)
        except TypeError:
            return None

    def dumps(self, obj, **kwargs) -> str:
        if kwargs.get("indent") is None and not kwargs.get("sort_keys"):
            body = self._orjson(obj, kwargs.get("default"))
            if body is not None:
                return body.decode()
        return super().dumps(obj, **kwargs)

    def response(self, *args, **kwargs) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        body = None if self.compact is False or (self.compact is None and self._app.debug) else self._orjson(obj)
        if body is None:
            return super().response(obj)
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)


def answer(build, *args, **kwargs):
    """The answer after a write: ``build(*args, **kwargs)`` read in the request's read transaction, after the
    use-case committed (on SQLite outside the write lock). Use-cases return what they wrote (a model or its
    id); the view builds what the caller sees through this, e.g. ``answer(queries.case_detail, actor, case.id)``."""
    with reading():
        return build(*args, **kwargs)


def csv_response(text: str, filename: str) -> Response:
    """A CSV file (written by service/csv_export.py) as a download that no cache keeps."""
    response = Response(text, status=200, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
