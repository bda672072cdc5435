"""OpenAPI helpers: documented error responses with examples on every operation, the bearer JWT security
scheme, the request headers every operation honours, and the document served compressed and cacheable."""
from __future__ import annotations

import copy
import gzip
import hashlib
import http
import json

from flask import Response, request

BEARER = "bearerAuth"
SECURITY = [{BEARER: []}]
SECURITY_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "The `access_token` of a login (POST /api/v1/auth/wechat or /api/v1/auth/demo); "
                                  "POST /api/v1/auth/refresh takes the `refresh_token` instead."}
ACCEPT_LANGUAGE = {
    "name": "Accept-Language", "in": "header", "required": False,
    "description": "Messages and names are Chinese (zh-CN) unless this prefers English (`en`).",
    "schema": {"type": "string", "example": "en"},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "A key of your choosing (1-128 printable ASCII characters, e.g. a UUID): a retry with the same "
                   "key and body gets the first response (with `Idempotent-Replayed: true`) and creates nothing "
                   "twice, for 24 hours. The same key with another body is 422 `idempotency.key_reused`; a retry "
                   "while the first is still running is 409 `idempotency.in_progress`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[!-~]([ -~]*[!-~])?$",
               "example": "3f0c8a52-5c1e-4d27-9b1a-2a7e0f6f4c11"},
}


def errors(blp, *statuses: int):
    """Document error responses for a view; each refers to a shared response
    component that carries the envelope schema and an example."""

    def decorator(fn):
        for status in sorted(statuses, reverse=True):
            fn = blp.alt_response(status, response=http.HTTPStatus(status).name)(fn)
        return fn

    return decorator


def requires_token(fn):
    """Document that the view needs a bearer token (``security`` on its operation, so Swagger UI's
    Authorize button sends one); ``api.security.auth_required`` applies it to every view it guards."""
    apidoc = copy.deepcopy(getattr(fn, "_apidoc", {}))
    apidoc.setdefault("manual_doc", {})["security"] = SECURITY
    fn._apidoc = apidoc
    return fn


def finish(document: dict, idempotent_tags: set[str]) -> dict:
    """The served document: the security scheme, ``Accept-Language`` on every operation (every message
    honours it), ``Idempotency-Key`` on the POSTs that honour it (those of ``idempotent_tags``), with the
    answers a key can bring documented. Operations without ``security`` are public (an empty list)."""
    document = copy.deepcopy(document)
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})[BEARER] = SECURITY_SCHEME
    parameters = components.setdefault("parameters", {})
    parameters["AcceptLanguage"], parameters["IdempotencyKey"] = ACCEPT_LANGUAGE, IDEMPOTENCY_KEY
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            operation.setdefault("security", [])
            refs = operation.setdefault("parameters", [])
            refs.append({"$ref": "#/components/parameters/AcceptLanguage"})
            if method == "post" and set(operation.get("tags", ())) & idempotent_tags:
                refs.append({"$ref": "#/components/parameters/IdempotencyKey"})
                responses = operation.setdefault("responses", {})
                for status in (409, 422):
                    responses.setdefault(str(status),
                                         {"$ref": f"#/components/responses/{http.HTTPStatus(status).name}"})
    return document


class StaticJson:
    """A JSON document built once per process and served with an ETag, revalidated by the browser on every
    use (``no-cache``: a new deployment is seen at once, an unchanged document costs a 304), and gzip-compressed
    for clients that accept it (about a tenth of its size)."""

    def __init__(self, document: dict):
        self.document = document
        self.body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        self.gzipped = gzip.compress(self.body, compresslevel=9, mtime=0)
        self.etag = hashlib.sha256(self.body).hexdigest()[:32]

    def response(self) -> Response:
        gzipped = "gzip" in request.accept_encodings
        etag = f"{self.etag}-gz" if gzipped else self.etag  # each representation has its own tag
        response = Response(mimetype="application/json")
        response.set_etag(etag)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Vary"] = "Accept-Encoding"
        if request.if_none_match.contains_weak(etag):
            response.status_code = 304
            return response
        response.set_data(self.gzipped if gzipped else self.body)
        if gzipped:
            response.headers["Content-Encoding"] = "gzip"
        return response


class Assets:
    """Swagger UI's files (about 1 MB of script), gzip-compressed once each and cached by browsers for a day
    (they change only with the swagger-ui-bundle package); other clients get the files as they are."""

    COMPRESSIBLE = (".js", ".css", ".html", ".map")
    MAX_AGE = 86400

    def __init__(self, directory: str):
        self.directory = directory
        self._gzipped: dict[str, tuple[bytes, str, str]] = {}

    def response(self, filename: str) -> Response:
        from flask import send_from_directory
        from werkzeug.security import safe_join

        path = safe_join(self.directory, filename)
        if path is None or not filename.endswith(self.COMPRESSIBLE) or "gzip" not in request.accept_encodings:
            return send_from_directory(self.directory, filename, max_age=self.MAX_AGE)
        entry = self._gzipped.get(path)
        if entry is None:
            import mimetypes
            import os

            if not os.path.isfile(path):
                return send_from_directory(self.directory, filename, max_age=self.MAX_AGE)  # its 404
            with open(path, "rb") as f:
                body = f.read()
            mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
            entry = self._gzipped[path] = (gzip.compress(body, compresslevel=9, mtime=0), mimetype,
                                           hashlib.sha256(body).hexdigest()[:32] + "-gz")
        body, mimetype, etag = entry
        response = Response(mimetype=mimetype)
        response.set_etag(etag)
        response.headers["Cache-Control"] = f"public, max-age={self.MAX_AGE}"
        response.headers["Vary"] = "Accept-Encoding"
        if request.if_none_match.contains_weak(etag):
            response.status_code = 304
            return response
        response.set_data(body)
        response.headers["Content-Encoding"] = "gzip"
        return response
