"""``Idempotency-Key`` on creating POSTs: a retried request gets the first response and creates nothing twice.

Logins, refreshes and logouts are never recorded (``exempt``): their answers are tokens, which must not
be stored, and replaying one would hand a session to whoever sends the same key and body. A retried
login simply starts another session; a refresh works once by design; a logout is ended already.

A request with a token is answered 401 before any replay when its token or session is revoked or its
account disabled: a stored answer belongs to a live session of its user only.

A key still in progress after ``REQUEST_TIMEOUT_SECONDS`` is released to a retry (its worker died, or the
request is stuck). A request holding a key therefore commits its use-case within three quarters of that
time or not at all (``service.db.set_commit_deadline``: a 503 ``request.too_slow`` that changed nothing),
so a late request never commits beside the retry that took its key over.
"""
from __future__ import annotations

import hashlib
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from flask_jwt_extended import get_jwt, get_jwt_identity, verify_jwt_in_request

from service import people, system
from service.db import reading, reset_commit_deadline, set_commit_deadline
from service.platform_errors import AccountInactive, IdempotencyKeyInvalid

HEADER = "Idempotency-Key"
STORED_HEADERS = ("Content-Type", "Location")
_EXEMPT = "linli.idempotency_exempt"


def exempt(app: Flask, blueprint: Blueprint) -> None:
    """Never record the requests of ``blueprint`` (its POSTs ignore the header)."""
    app.extensions.setdefault(_EXEMPT, set()).add(blueprint.name)


def honoured_by(app: Flask, blueprints) -> set[str]:
    """Of the named blueprints, those whose POSTs honour the header (for the API document)."""
    return set(blueprints) - app.extensions.get(_EXEMPT, set())


def _scope() -> str | None:
    try:
        verify_jwt_in_request(optional=True)
        identity = get_jwt_identity()
    except Exception:
        return None  # a bad token: the view answers 401 and nothing is reserved
    return f"user:{identity}" if identity else f"ip:{request.remote_addr}"


def _refuse_a_dead_session() -> None:
    """Before a replay: the token and its session not revoked, the account active; else a 401. (A request
    that goes on to the view is checked there, and a refusal frees its key.)"""
    claims = get_jwt()
    with reading():
        caller = people.load_caller(int(get_jwt_identity()), token_id=claims["jti"], session_id=claims.get("sid"))
    if caller is None:
        raise AccountInactive()


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
    if request.method != "POST" or key is None or request.blueprint in current_app.extensions.get(_EXEMPT, ()):
        return None
    key = key.strip()
    if not key or len(key) > 128 or not all(" " <= c <= "~" for c in key):  # printable ASCII, as documented
        raise IdempotencyKeyInvalid(HEADER)
    scope = _scope()
    if scope is None:
        return None
    digest = system.fingerprint(request.method, request.full_path, _body())
    outcome = system.begin_idempotent(scope, key, digest, current_app.config["IDEMPOTENCY_TTL"],
                                      current_app.config["REQUEST_TIMEOUT"])
    if isinstance(outcome, system.Replay):
        if scope.startswith("user:"):
            _refuse_a_dead_session()
        response = Response(outcome.body, status=outcome.status_code)
        for name, value in outcome.headers.items():
            response.headers[name] = value
        response.headers["Idempotent-Replayed"] = "true"
        return response
    g.idempotency_reservation = outcome
    # Commit within three quarters of the time after which a retry may take the key over; the quarter left
    # covers the clocks of two hosts differing.
    g.idempotency_deadline = set_commit_deadline(
        time.monotonic() + 0.75 * current_app.config["REQUEST_TIMEOUT"].total_seconds())
    return None


def _clear_deadline(error=None) -> None:
    token = g.pop("idempotency_deadline", None)
    if token is not None:
        reset_commit_deadline(token)


def _after(response: Response) -> Response:
    _clear_deadline()
    reservation = g.pop("idempotency_reservation", None)
    if reservation is not None:
        headers = {k: response.headers[k] for k in STORED_HEADERS if k in response.headers}
        system.finish_idempotent(reservation, response.status_code, response.get_data(as_text=True), headers)
    return response


def register(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
    app.teardown_request(_clear_deadline)
