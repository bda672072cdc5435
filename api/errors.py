"""The one error envelope for every failure:
``{"code", "status", "error", "message", "errors", "request_id"}``.

``error`` is a stable dotted code the mini-app can switch on; ``message`` and
every message in ``errors`` are Chinese unless ``Accept-Language`` prefers
English (``api.messages``, where ``language`` comes from). ``request_id`` is the
request's id, also in the ``X-Request-ID`` header and in every log line the
request wrote (``api.observability``): what a user quotes to an operator. No
stack trace, SQL or path ever reaches a client.
"""
from __future__ import annotations

import http
import logging
import math
import time

import marshmallow as ma
import sqlalchemy as sa
from flask import Flask, current_app, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException

from api.messages import language, localize, translate
from models.base import db
from service.errors import DomainError
from service.observability import current_request_id, request_id_from, set_request_id

log = logging.getLogger("linli.errors")

# status → (error code, zh, en)
HTTP_MESSAGES = {
    400: ("request.bad", "请求格式有误", "The request is malformed"),
    401: ("auth.unauthorized", "请先登录", "Authentication is required"),
    403: ("auth.forbidden", "无权进行此操作", "You are not allowed to do this"),
    404: ("not_found", "未找到请求的内容", "The requested resource was not found"),
    405: ("request.method_not_allowed", "不支持该请求方法", "The method is not allowed for this resource"),
    409: ("conflict", "操作与当前状态冲突", "The request conflicts with the current state"),
    413: ("request.too_large", "上传内容过大", "The request body is too large"),
    414: ("request.uri_too_long", "请求地址过长", "The request URI is too long"),
    415: ("request.unsupported_media_type", "不支持的内容类型", "The content type is not supported"),
    422: ("validation.invalid", "输入有误，请检查标注的字段", "The input is not valid; see the fields named"),
    429: ("rate_limited", "请求过于频繁，请稍后再试", "Too many requests, please retry later"),
    500: ("internal", "服务器开小差了，请稍后再试", "Something went wrong on our side; please retry later"),
    503: ("service_unavailable", "服务暂时不可用，请稍后再试", "The service is temporarily unavailable"),
}
PASS_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")
EXAMPLE_REQUEST_ID = "5f2b9c1e8d7a4c0b9e6f3a2d1c0b9a8f"


class ErrorSchema(ma.Schema):
    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code", "example": 422})
    status = ma.fields.String(required=True, metadata={"description": "HTTP status name",
                                                       "example": "Unprocessable Entity"})
    error = ma.fields.String(required=True, metadata={"description": "Stable machine-readable error code",
                                                      "example": "validation.invalid"})
    message = ma.fields.String(required=True, metadata={"description": "Message for people (zh-CN or en)",
                                                        "example": "输入有误，请检查标注的字段"})
    errors = ma.fields.Dict(required=True, metadata={"description": "Field errors, by location and field name",
                                                     "example": {"json": {"code": ["此项必填"]}}})
    request_id = ma.fields.String(required=True, metadata={
        "description": "The request's id, also in the `X-Request-ID` response header and in the server's logs: "
                       "the client's own `X-Request-ID` when it sent one of 1-64 characters `[A-Za-z0-9._-]`, "
                       "else one the server made", "example": EXAMPLE_REQUEST_ID})


def request_id() -> str:
    """The current request's id (``api.observability`` sets it as the request starts; made here when an
    answer is needed before that)."""
    value = current_request_id()
    if value is None:
        value = request_id_from(request.headers.get("X-Request-ID") if has_request_context() else None)
        set_request_id(value)
    return value


def envelope(status: int, error: str, message: str, errors: dict | None = None, headers: dict | None = None):
    """The answer for a failure. Its messages (``message`` and every one in ``errors``, however nested)
    are given in the reader's language here (``api.messages``), whoever wrote them."""
    try:
        name = http.HTTPStatus(status).phrase
    except ValueError:
        name = "Error"
    lang = language()
    body = {"code": status, "status": name, "error": error, "message": translate(message, lang),
            "errors": localize(errors or {}, lang), "request_id": request_id()}
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def envelope_for(status: int, headers: dict | None = None):
    """The envelope of ``status`` with its usual code and message (``HTTP_MESSAGES``)."""
    code, zh, en = HTTP_MESSAGES.get(status, ("error", "请求有误", "The request failed"))
    return envelope(status, code, en if language() == "en" else zh, None, headers)


def example_for(status: int) -> dict:
    code, zh, _ = HTTP_MESSAGES.get(status, ("error", "请求有误", ""))
    if status == 422:
        return {"code": 422, "status": "Unprocessable Entity", "error": code, "message": zh + "：code",
                "errors": {"json": {"code": ["此项必填"]}}, "request_id": EXAMPLE_REQUEST_ID}
    return {"code": status, "status": http.HTTPStatus(status).phrase, "error": code, "message": zh, "errors": {},
            "request_id": EXAMPLE_REQUEST_ID}


def _http_error(error: HTTPException):
    status = error.code or 500
    code, zh, en = HTTP_MESSAGES.get(status, ("error", "请求有误", "The request failed"))
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages") or {}
    if status == 422 and isinstance(errors, dict):
        fields = sorted({f for loc in errors.values() if isinstance(loc, dict) for f in loc})
        if fields:
            zh = f"{zh}：{'、'.join(fields)}"
            en = f"{en}: {', '.join(fields)}"
    if status == 400 and errors:
        # webargs reports an unparseable JSON body as a 400 with messages.
        zh, en = "请求体不是有效的 JSON", "The request body is not valid JSON"
        code = "request.invalid_json"
    headers = {k: v for k, v in error.get_headers() if k in PASS_HEADERS}
    headers.update(data.get("headers") or {})
    if status == 405 and "Allow" not in headers:
        valid = getattr(error, "valid_methods", None)
        if valid:
            headers["Allow"] = ", ".join(sorted(valid))
    if status == 429 and "Retry-After" not in headers:
        headers["Retry-After"] = str(_retry_after(error))
    message = en if language() == "en" else zh
    return envelope(status, data.get("error", code), data.get("message_override", message), errors, headers)


def _retry_after(error) -> int:
    limit = getattr(error, "limit", None)
    try:
        # The app's rate limiter (api.extensions) registers itself with the app.
        for limiter in current_app.extensions.get("limiter", ()):
            current = limiter.current_limit
            if current is not None:
                return max(1, math.ceil(current.reset_at - time.time()))
    except Exception:
        pass
    if limit is not None:
        try:
            return int(limit.limit.get_expiry())
        except Exception:
            pass
    return 60


def _domain_error(error: DomainError):
    db.session.rollback()
    return envelope(error.status, error.code, error.message(language()), error.errors, error.headers)


def _database_gone(error: sa.exc.DBAPIError):
    """The database connection failed under the request (a restart, a network cut): the pool replaces its
    connections, the client may retry; a 503 with Retry-After, not a 500."""
    if not error.connection_invalidated and not isinstance(error, sa.exc.OperationalError):
        return _unexpected(error)
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the session is removed after the request anyway
        pass
    log.warning("database unavailable on %s %s: %s", request.method, request.path, error.orig)
    return envelope_for(503, headers={"Retry-After": "1"})


def _unexpected(error: Exception):
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _http_error(_Internal())


class _Internal(HTTPException):
    code = 500


def render_http_exception(error: HTTPException):
    if (error.code or 500) >= 500:
        db.session.rollback()
        original = getattr(error, "original_exception", None)
        if original is not None:
            log.error("unhandled error on %s %s", request.method, request.path, exc_info=original)
    return _http_error(error)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, render_http_exception)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(sa.exc.DBAPIError, _database_gone)
    app.register_error_handler(Exception, _unexpected)
