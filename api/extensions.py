"""Extension instances, bound to the app in create_app()."""
from __future__ import annotations

import base64
import functools
import http
import re
import threading
import time
from collections import OrderedDict

import marshmallow as ma
import orjson
from flask import current_app, request
import jwt as jwt_library
from flask_jwt_extended import JWTManager, get_jwt, get_jwt_identity, verify_jwt_in_request
from flask_jwt_extended import view_decorators as _view_decorators
from flask_jwt_extended.config import config as jwt_config
from flask_jwt_extended.default_callbacks import default_decode_key_callback
from flask_jwt_extended.exceptions import JWTDecodeError
from flask_jwt_extended.tokens import _decode_jwt
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_smorest import Api as _Api
from flask_smorest import Blueprint as _Blueprint
from flask_smorest.utils import prepare_response
from webargs.flaskparser import FlaskParser, is_json_request
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from api import ratelimit_storage  # noqa: F401  (registers the process-memory:// rate-limit store)
from api import docs
from api.errors import ErrorSchema, example_for, render_http_exception
from api.guards import PARSED_JSON
from api.schemas.common import MAX_INT, json_type_errors
from models.base import db  # noqa: F401  (re-exported)


class Api(_Api):
    """flask-smorest Api whose errors use Linli's envelope, and whose document is built once per app, finished
    (``api.docs.finish``: security, headers) and served compressed with an ETag."""

    ERROR_SCHEMA = ErrorSchema
    DOCUMENT = "linli.openapi_document"

    def handle_http_exception(self, error):
        return render_http_exception(error)

    def _static_document(self) -> docs.StaticJson:
        """The current app's finished document, built on first use (the app's routes no longer change then)."""
        app = current_app._get_current_object()
        static = app.extensions.get(self.DOCUMENT)
        if static is None:
            from api.idempotency import honoured_by

            document = self.spec.to_dict()
            blueprints = [tag["name"] for tag in document.get("tags", [])]
            static = app.extensions[self.DOCUMENT] = docs.StaticJson(docs.finish(document,
                                                                                 honoured_by(app, blueprints)))
        return static

    def _openapi_json(self):
        return self._static_document().response()

    def _openapi_swagger_ui(self):
        response = current_app.make_response(super()._openapi_swagger_ui())
        response.headers["Cache-Control"] = "no-cache"
        return response

    def _register_responses(self):
        """Shared error responses, each with the envelope schema and an example."""
        for status in http.HTTPStatus:
            if status < 400:
                continue
            response = {"description": status.phrase, "schema": self.ERROR_SCHEMA, "example": example_for(status)}
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (the envelope of every failure)", "schema": self.ERROR_SCHEMA,
                    "example": example_for(500)}
        prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


class LinliParser(FlaskParser):
    """webargs' parser reading the JSON body the request guard parsed and checked (``api.guards``), and
    holding it to JSON's types: a boolean field takes a JSON boolean, a number field a JSON number
    (``api.schemas.common.json_type_errors``); query strings and forms are text, parsed as before."""

    # A multipart part the schema does not name is refused (webargs would drop it silently).
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "files": ma.RAISE}

    def _raw_load_json(self, req):
        if PARSED_JSON in req.environ:
            return req.environ[PARSED_JSON]
        return super()._raw_load_json(req)

    def pre_load(self, location_data, *, schema, req, location):
        if location == "json" or (location == "json_or_form" and is_json_request(req)):
            errors = json_type_errors(schema, location_data)
            if errors:
                raise ma.ValidationError(errors)
        elif location == "files":
            # A multipart body is its file parts and its text fields together: the schema sees both, so a
            # part it does not name is refused as an unknown JSON field is, whichever kind it is.
            return MultiDictProxy(CombinedMultiDict([req.files, req.form]), schema)
        return location_data


READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LIMITED_METHODS = ("POST", "PUT", "PATCH", "DELETE")
TOKEN_VERIFIED = "linli.access_token_verified"
# Set by api.security.auth_required on the views it guards: {"roles": (...), "refresh": bool}.
AUTH_REQUIRED = "_linli_auth_required"


def check_token_first(requirement: dict) -> None:
    """Before a guarded view's input is parsed: a valid token of the right kind, and (for an access token)
    one of the roles required; else the 401 or 403 the view itself would give. The view checks again
    with the caller's record (revocation, an inactive account); a verified access token is not decoded twice."""
    if requirement["refresh"]:
        verify_jwt_in_request(refresh=True)
        return
    if not request.environ.get(TOKEN_VERIFIED):
        verify_jwt_in_request()
        request.environ[TOKEN_VERIFIED] = True
    check_roles(requirement["roles"], get_jwt())


def check_roles(roles, claims: dict) -> None:
    """With ``roles``, the token's claims must name one of them; else 403 ``auth.role_required``."""
    if roles and not set(roles) & set(claims.get("roles", [])):
        from service.platform_errors import RoleRequired, SecondFactorRequired

        if set(roles) & set(claims.get("mfa_pending", ())):   # held, left out until the second factor
            raise SecondFactorRequired()
        raise RoleRequired()


class Blueprint(_Blueprint):
    """flask-smorest's Blueprint with each request schema built once: given a schema class, webargs
    would build an instance on every request (marshmallow schemas keep no state while loading); and with
    a guarded view's token checked before its input (``check_token_first``)."""

    ARGUMENTS_PARSER = LinliParser()

    def arguments(self, schema, *args, **kwargs):
        parse = super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)

        def decorator(func):
            parsing = parse(func)
            requirement = getattr(func, AUTH_REQUIRED, None)
            if requirement is None:
                return parsing

            @functools.wraps(parsing)
            def token_first(*f_args, **f_kwargs):
                check_token_first(requirement)
                return parsing(*f_args, **f_kwargs)

            return token_first

        return decorator

    def response(self, status_code, schema=None, *, example=None, **kwargs):
        """An answer's example gets its labels and Shanghai times from the schema (documented_example); the
        answer is dumped by the schema compiled into a function (api.dumping), on its first use."""
        if schema is not None:
            schema = schema() if isinstance(schema, type) else schema
            if example is not None:
                from api.schemas.common import documented_example

                example = documented_example(schema, example)
            if isinstance(schema, ma.Schema):
                from api.dumping import compile_on_first_dump

                compile_on_first_dump(schema)
        return super().response(status_code, schema, example=example, **kwargs)


def rate_limit_key() -> str:
    """Per user for authenticated calls, per client address otherwise.

    Only requests that change something are limited, so other requests skip
    decoding the token here (the view decodes it once); a limited request's token is
    decoded here and the view reuses it."""
    if request.method not in LIMITED_METHODS:
        return f"ip:{request.remote_addr}"
    try:
        verified = verify_jwt_in_request(optional=True)
        identity = get_jwt_identity()
    except Exception:
        verified = identity = None
    # An access token verified here need not be decoded again by the view (api.security.auth_required);
    # the mark lives in the request's environ: ``g`` belongs to the app context, which may outlive it.
    request.environ[TOKEN_VERIFIED] = verified is not None
    return f"user:{identity}" if identity else f"ip:{request.remote_addr}"


_USER_ID = re.compile(r"[1-9][0-9]{0,9}")


def check_claims(claims: dict) -> dict:
    """A token signed with our key still says only what its claims say: the subject is a user id (a
    string of digits within the id range), ``jti`` and ``sid`` are short strings, ``roles`` a list of
    strings. Anything else is an invalid token (401 ``auth.token_invalid``), never a 500 later on."""
    sub, jti, sid, roles = claims.get("sub"), claims.get("jti"), claims.get("sid"), claims.get("roles", [])
    if not (isinstance(sub, str) and _USER_ID.fullmatch(sub) and int(sub) <= MAX_INT):
        raise JWTDecodeError("the subject is not a user id")
    if not (isinstance(jti, str) and 0 < len(jti) <= 64):
        raise JWTDecodeError("jti must be a short string")
    if sid is not None and not (isinstance(sid, str) and 0 < len(sid) <= 60):
        raise JWTDecodeError("sid must be a short string")
    if not (isinstance(roles, list) and all(isinstance(role, str) for role in roles)):
        raise JWTDecodeError("roles must be a list of strings")
    return claims


class JWTManagerRemembering(JWTManager):
    """flask-jwt-extended's manager that remembers, per app, the tokens whose signature it has verified.

    Every authenticated request would otherwise decode its token twice (once unverified to choose the
    key, once verified), and PyJWT checks each segment character by character in Python: about a fifth
    of ``GET /api/v1/me``. A remembered token is answered from its claims while it is inside its
    ``nbf``–``exp`` window (with the configured leeway); an expired one is decoded again, so the usual
    "expired" answer follows. The key is the whole token string, so a changed token is a miss and is
    verified. Revocation and the user's state are checked on every request elsewhere, as before.
    """

    REMEMBER = 2048

    def _decode_jwt_from_config(self, encoded_token: str, csrf_value=None, allow_expired: bool = False) -> dict:
        if csrf_value is not None or allow_expired:
            return check_claims(super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired))
        remembered, lock = _remembered()
        with lock:
            found = remembered.get(encoded_token)
        if found is not None:
            claims, now, leeway = found[0], time.time(), jwt_config.leeway
            if claims.get("nbf", now) - leeway <= now < claims["exp"] + leeway:
                return dict(claims)
        claims = self._verified(encoded_token)
        check_claims(claims)
        if "exp" in claims:
            header = _header(encoded_token)
            with lock:
                remembered[encoded_token] = (claims, header)
                while len(remembered) > self.REMEMBER:
                    remembered.popitem(last=False)
        return dict(claims)

    def _verified(self, encoded_token: str) -> dict:
        """The token's claims, verified as flask-jwt-extended verifies them. With the one key of the configuration
        (no key loader), the token is read once, by the verifying decode: flask-jwt-extended first reads it twice
        unverified, to choose the key with its claims and header, and PyJWT checks a segment character by
        character in Python at each reading. A token that fails goes through flask-jwt-extended's own path, so
        every refusal (expired, bad signature, malformed) is the one it gives."""
        if self._decode_key_callback is default_decode_key_callback:
            try:
                return _decode_jwt(algorithms=jwt_config.decode_algorithms, allow_expired=False,
                                   audience=jwt_config.decode_audience, csrf_value=None, encoded_token=encoded_token,
                                   identity_claim_key=jwt_config.identity_claim_key, issuer=jwt_config.decode_issuer,
                                   leeway=jwt_config.leeway, secret=jwt_config.decode_key,
                                   verify_aud=jwt_config.decode_audience is not None, verify_sub=jwt_config.verify_sub)
            except Exception:  # noqa: BLE001 - refused below, as flask-jwt-extended refuses it
                pass
        return super()._decode_jwt_from_config(encoded_token, None, False)


def _header(encoded_token: str) -> dict:
    """The header of a token whose signature was verified (the header is part of what is signed)."""
    segment = encoded_token.split(".", 1)[0]
    header = orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if not isinstance(header, dict):
        raise JWTDecodeError("Invalid header string: must be a json object")
    return header


def _remembered() -> tuple[OrderedDict, threading.Lock]:
    """This app's verified tokens: token → (its claims, its header), oldest first; and their lock."""
    return current_app.extensions.setdefault("linli.verified_tokens", (OrderedDict(), threading.Lock()))


def _unverified_headers(encoded_token: str) -> dict:
    """flask-jwt-extended reads a token's header again after decoding it (PyJWT checks the segment
    character by character in Python, a tenth of ``GET /api/v1/me``): a verified token's header is
    remembered with its claims."""
    found = _remembered()[0].get(encoded_token)
    return dict(found[1]) if found is not None else jwt_library.get_unverified_header(encoded_token)


_view_decorators.get_unverified_jwt_headers = _unverified_headers


api = Api()
jwt = JWTManagerRemembering()
migrate = Migrate()
limiter = Limiter(key_func=rate_limit_key)


@limiter.request_filter
def _reads_are_not_limited() -> bool:
    return request.method not in LIMITED_METHODS
