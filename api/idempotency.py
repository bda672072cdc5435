"""``Idempotency-Key`` on creating POSTs: a retried request gets the first response and creates nothing twice."""
from __future__ import annotations

import hashlib

from flask import Flask, Response, current_app, g, request
from flask_jwt_extended import get_jwt_identity, verify_jwt_in_request

from service import system
from service.errors import InvalidInput

HEADER = "Idempotency-Key"
STORED_HEADERS = ("Content-Type", "Location")


def _scope() -> str | None:
    try:
        verify_jwt_in_request(optional=True)
        identity = get_jwt_identity()
    except Exception:
        return None  # a bad token: the view answers 401 and nothing is reserved
    return f"user:{identity}" if identity else f"ip:{request.remote_addr}"


def _body() -> bytes:
    """The request body as fingerprinted. A multipart body is reduced to its fields and file
    contents: its boundary is random, so a retried upload would otherwise never match."""
    if request.mimetype != "multipart/form-data":
        return request.get_data(cache=True)
    digest = hashlib.sha256()
    for name, value in sorted(request.form.items(multi=True)):
        digest.update(b"field\0%s\0%s\0" % (name.encode(), value.encode()))
    for name, storage in sorted(request.files.items(multi=True), key=lambda item: item[0]):
        content = hashlib.sha256()
        for chunk in iter(lambda: storage.stream.read(65536), b""):
            content.update(chunk)
        storage.stream.seek(0)
        digest.update(b"file\0%s\0%s\0" % (name.encode(), content.hexdigest().encode()))
    return digest.digest()


def _before():
    key = request.headers.get(HEADER)
    if request.method != "POST" or key is None:
        return None
    key = key.strip()
    if not key or len(key) > 128 or not key.isascii():
        raise InvalidInput(HEADER, "幂等键须为 1–128 个 ASCII 字符", "Idempotency-Key must be 1-128 ASCII characters",
                           code="idempotency.key_invalid")
    scope = _scope()
    if scope is None:
        return None
    digest = system.fingerprint(request.method, request.full_path, _body())
    outcome = system.begin_idempotent(scope, key, digest, current_app.config["IDEMPOTENCY_TTL"])
    if isinstance(outcome, system.Replay):
        response = Response(outcome.body, status=outcome.status_code)
        for name, value in outcome.headers.items():
            response.headers[name] = value
        response.headers["Idempotent-Replayed"] = "true"
        return response
    g.idempotency_record = outcome
    return None


def _after(response: Response) -> Response:
    record_id = g.pop("idempotency_record", None)
    if record_id is not None:
        headers = {k: response.headers[k] for k in STORED_HEADERS if k in response.headers}
        system.finish_idempotent(record_id, response.status_code, response.get_data(as_text=True), headers)
    return response


def register(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
