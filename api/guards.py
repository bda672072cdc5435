"""Request guards that apply to every endpoint.

The one place a JSON body is parsed: before any view, a body sent as JSON is parsed once (the arguments
parser of every endpoint reuses it, ``api.extensions.LinliParser``) and refused when it is not valid JSON
(400), nested more than ``MAX_JSON_DEPTH`` levels (400: deeper bodies crash the parser and the schemas
with a RecursionError), or holds a string with a NUL character or a lone UTF-16 surrogate (422 naming the
field: neither can be stored or encoded). A body that has none of the characters these need is not walked.
"""
from __future__ import annotations

import re

from flask import Flask, request
from werkzeug.exceptions import BadRequest

from service.platform_errors import InvalidJson, JsonTooDeep, NulCharacter, UnpairedSurrogate, UriTooLong

MAX_JSON_DEPTH = 64
PARSED_JSON = "linli.parsed_json"  # the parsed body, in the request's environ

# A \uD800–\uDFFF escape: the only way a JSON text (valid UTF-8) spells a surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _shown(path: str) -> str:
    """A field path fit for an answer: no NUL, no lone surrogate (which could not be encoded)."""
    return _SURROGATE.sub("\ufffd", path.replace("\x00", "")) or "json"


def _walk(payload):
    """Every string in the body (keys included) with its path, and every container with its depth;
    iteratively, so no depth makes it recurse."""
    stack = [("", 1, payload)]
    while stack:
        path, depth, value = stack.pop()
        if isinstance(value, str):
            yield path, 0, value
        elif isinstance(value, dict):
            yield path, depth, None
            for key, item in reversed(value.items()):
                child = f"{path}.{key}" if path else str(key)
                stack.append((child, depth + 1, item))
                stack.append((child, 0, key))
        elif isinstance(value, list):
            yield path, depth, None
            for index in range(len(value) - 1, -1, -1):
                stack.append((f"{path}.{index}" if path else str(index), depth + 1, value[index]))


def _check(payload, *, depth: bool, nul: bool, surrogate: bool) -> None:
    for path, level, text in _walk(payload):
        if text is None:
            if depth and level > MAX_JSON_DEPTH:
                raise JsonTooDeep(limit=MAX_JSON_DEPTH)
            continue
        if nul and "\x00" in text:
            raise NulCharacter(_shown(path))
        if surrogate and _SURROGATE.search(text):
            field = _shown(path)
            raise UnpairedSurrogate(field, name=field)


def check_json_body() -> None:
    if not request.is_json:
        return
    raw = request.get_data(cache=True)
    if not raw.strip():
        return  # no body: the endpoint's schema says what is missing
    try:
        payload = request.get_json(cache=True)
    except RecursionError:
        raise JsonTooDeep(limit=MAX_JSON_DEPTH) from None
    except BadRequest:
        raise InvalidJson() from None
    request.environ[PARSED_JSON] = payload
    depth = raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH
    nul = b"\x00" in raw or b"\\u0000" in raw
    surrogate = _SURROGATE_ESCAPE.search(raw) is not None
    if depth or nul or surrogate:
        _check(payload, depth=depth, nul=nul, surrogate=surrogate)


MAX_URI_LENGTH = 4096


def limit_uri_length() -> None:
    """A request line longer than any the mini-program sends is a 414 in the envelope. gunicorn reads lines
    up to 8,190 bytes (config/gunicorn.py), so the app, not gunicorn's HTML page, answers the longer ones."""
    uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    if len(uri) > MAX_URI_LENGTH:
        raise UriTooLong(limit=MAX_URI_LENGTH)


def reject_nul_in_query() -> None:
    """NUL characters are never valid text (PostgreSQL refuses them): a 422 naming the field."""
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            raise NulCharacter(key.replace("\x00", ""))


def guard_request() -> None:
    """Every guard, in one hook (each hook Flask runs costs a call on every request)."""
    limit_uri_length()
    reject_nul_in_query()
    check_json_body()


def register(app: Flask) -> None:
    app.before_request(guard_request)
