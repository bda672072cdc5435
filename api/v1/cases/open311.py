"""Open311 GeoReport v2 at ``/open311/v2`` — any Open311 client or city system can read and file cases.

Every resource comes in ``.xml`` (required by the spec) and ``.json``, chosen by the suffix;
answers are ``text/xml; charset=utf-8`` or ``application/json; charset=utf-8``. This is a plain
Flask blueprint, outside ``/openapi.json``: Open311 has its own formats and its own errors.

=====================================  ==============================================================
``GET  discovery.{fmt}``               changeset, contact, key_service, endpoints
``GET  services.{fmt}``                the public case categories (``public: true`` in cases.yaml)
``GET  services/{code}.{fmt}``         a service definition: attributes (datatype, required, order,
                                       description, values)
``GET  requests.{fmt}``                service requests, newest first (see the filters below)
``POST requests.{fmt}``                file a case (``application/x-www-form-urlencoded``; needs api_key)
``GET  requests/{id}.{fmt}``           one service request (``id`` is the case number, e.g. WL20261121-0042)
``GET  media/{token}``                 a request's photo (its ``media_url``), as JPEG, PNG or WebP
=====================================  ==============================================================

Conventions

- ``jurisdiction_id`` is optional (one jurisdiction, ``OPEN311_JURISDICTION``, default
  ``linli.sh.cn``); any other value → 404. An empty parameter is treated as absent.
- Datetimes are ISO 8601 with the Asia/Shanghai offset (``2026-11-21T10:15:00+08:00``); inputs
  without an offset are read as Asia/Shanghai.
- Coordinates are WGS-84 both ways (Linli stores GCJ-02 and converts at this edge).
- Names and messages are Chinese unless ``Accept-Language`` prefers English.
- Every service is ``realtime``: POST answers the ``service_request_id`` at once, so there is no
  ``tokens/{id}`` resource.

GET requests filters: ``service_request_id`` (comma-separated case numbers; overrides the other
filters), ``service_code`` (comma-separated), ``start_date``/``end_date`` (on requested_datetime;
at most 90 days apart; by default the last 90 days), ``status`` (``open``/``closed``,
comma-separated), and the extensions ``lat_ne, long_ne, lat_sw, long_sw`` (a WGS-84 bounding box,
all four or none) and ``page``/``page_size`` (default 1, 1000; page_size at most 1000).

Request fields: service_request_id, status (open = not yet 办结; closed = 办结, 归档 or 并单),
status_notes (the latest public staff reply or note since the request was last reopened),
service_name, service_code, description, agency_responsible (the 居委会, or the street office for
street-level categories), service_notice (首次处置, or 再次处置 once reopened), requested_datetime,
updated_datetime, expected_datetime (the current handling deadline; empty while it is provisional,
i.e. falls in a year the working-day calendar does not know yet), address, address_id and zipcode
(always empty), lat, long (rounded to 3 decimal places, about 100 m; a bounding box is widened to
the same grid), media_url (the first photo of the report, ``/open311/v2/media/{token}``, open to
anyone while the request is listed; the token is random per photo). Private categories, rejected
and withdrawn cases are never listed, and nothing about the reporter ever is.

POST requests: ``api_key`` (issued per partner system by an admin, ``POST /api/v1/open311-keys``),
``service_code``, a location (``lat`` + ``long`` in WGS-84, or an ``address_string`` naming a known
estate; ``address_id`` is not supported), ``description`` (required here, at most 4000 characters)
and ``attribute[code]=value`` as the service definition asks. ``email``, ``first_name``,
``last_name``, ``phone``, ``device_id``, ``account_id`` and ``media_url`` are accepted and not
stored: Linli keeps no personal data of people outside its user base. The answer (HTTP 200) is
``[{"service_request_id", "service_notice", "account_id": null}]``. POSTs are rate-limited like
every creating request.

Errors: ``[{"code": 403, "description": "..."}]`` (XML: ``errors/error/code, description``), with
HTTP 404 for a missing resource or an unknown service_code or jurisdiction_id, 403 for a missing,
unknown or revoked api_key, 405 for a wrong method, 429 when rate-limited, 400 for everything else.
"""
from __future__ import annotations

import json
import logging
import math
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from urllib.parse import urljoin

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound as HTTPNotFound

from api.errors import language
from models.base import db
from service import clock
from service.cases import open311
from service.cases.errors import (BoxIncomplete, DatetimeOutOfRange, JurisdictionNotFound, NotADatetime, NotANumber,
                                  NotAPositiveWholeNumber, NulCharacter)
from service.errors import DomainError

log = logging.getLogger("linli.open311")

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

FMT = "<any(json, xml):fmt>"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
DEFAULT_JURISDICTION = "linli.sh.cn"
# XML element names of list items, by the name of the list.
LIST_ITEMS = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
              "values": "value", "endpoints": "endpoint", "formats": "format"}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,48})\](\[\])?$")


# --- rendering ------------------------------------------------------------------------------------------------

def _iso(value: datetime) -> str:
    return clock.iso(value, "seconds")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _iso(value)
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            child = ET.SubElement(element, name)
            if isinstance(item, list):
                for entry in item:
                    _fill(ET.SubElement(child, LIST_ITEMS.get(name, "item")), entry)
            else:
                _fill(child, item)
    else:
        element.text = _text(value)


def _json_default(value):
    if isinstance(value, datetime):
        return _iso(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def render(fmt: str, root: str, body, status: int = 200, headers: dict | None = None) -> Response:
    """``body`` (a list of items, or one object) as XML under ``root``, or as JSON."""
    if fmt == "json":
        data = json.dumps(body, ensure_ascii=False, default=_json_default)
    else:
        element = ET.Element(root)
        if isinstance(body, list):
            for item in body:
                _fill(ET.SubElement(element, LIST_ITEMS[root]), item)
        else:
            _fill(element, body)
        data = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode")
    response = Response(data.encode("utf-8"), status=status, content_type=CONTENT_TYPES[fmt])
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# --- errors: Open311's own format, never the app envelope --------------------------------------------------------

def _requested_format() -> str:
    fmt = (request.view_args or {}).get("fmt") or request.path.rsplit(".", 1)[-1]
    return fmt if fmt in CONTENT_TYPES else "xml"


def error_response(status: int, description: str, headers: dict | None = None) -> Response:
    return render(_requested_format(), "errors", [{"code": status, "description": description}], status, headers)


def _open311_status(status: int) -> int:
    if status == 401:
        return 403
    if status >= 500:
        return 500
    return status if status in (400, 403, 404, 405, 413, 429) else 400


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    db.session.rollback()
    description = error.message(language())
    field = next(iter(error.errors), None)
    if field and field not in description:
        description = f"{field}: {description}"
    return error_response(_open311_status(error.status), description, error.headers)


HTTP_DESCRIPTIONS = {
    400: ("请求格式有误", "The request is malformed"),
    403: ("无权进行此操作", "Forbidden"),
    404: ("未找到请求的资源", "The requested resource was not found"),
    405: ("不支持该请求方法", "The method is not allowed for this resource"),
    413: ("请求内容过大", "The request body is too large"),
    429: ("请求过于频繁，请稍后再试", "Too many requests, please retry later"),
    500: ("服务器开小差了，请稍后再试", "Something went wrong on our side; please retry later"),
}


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    status = _open311_status(error.code or 500)
    if status >= 500:
        db.session.rollback()
    zh, en = HTTP_DESCRIPTIONS.get(status, HTTP_DESCRIPTIONS[400])
    headers = {k: v for k, v in error.get_headers() if k in ("Allow", "Retry-After")}
    if status == 405 and "Allow" not in headers and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if status == 429 and "Retry-After" not in headers:
        headers["Retry-After"] = "60"
    return error_response(status, en if language() == "en" else zh, headers)


@bp.errorhandler(Exception)
def _unexpected(error: Exception):
    db.session.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    zh, en = HTTP_DESCRIPTIONS[500]
    return error_response(500, en if language() == "en" else zh)


# --- parameters -----------------------------------------------------------------------------------------------

def _param(name: str) -> str | None:
    """A parameter (form first for POST, then the query string); empty means absent."""
    value = request.form.get(name) if request.method == "POST" else None
    if value is None:
        value = request.args.get(name)
    value = value.strip() if value is not None else None
    if value and "\x00" in value:
        raise NulCharacter(name)
    return value or None


def _list(name: str) -> list[str] | None:
    value = _param(name)
    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or None


def _float(name: str) -> float | None:
    value = _param(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise NotANumber(name)
    return number


def _int(name: str, default: int) -> int:
    value = _param(name)
    if value is None:
        return default
    if not value.isdigit() or len(value) > 9:
        raise NotAPositiveWholeNumber(name)
    return int(value)


def _datetime(name: str) -> datetime | None:
    value = _param(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise NotADatetime(name) from None
    if not 1970 <= moment.year <= 2999:
        raise DatetimeOutOfRange(name)
    return moment.replace(tzinfo=clock.SHANGHAI) if moment.tzinfo is None else moment


def _check_jurisdiction() -> None:
    given = _param("jurisdiction_id")
    expected = current_app.config.get("OPEN311_JURISDICTION") or DEFAULT_JURISDICTION
    if given is not None and given != expected:
        raise JurisdictionNotFound(jurisdiction=given)


def _absolute_media(items: list[dict]) -> list[dict]:
    for item in items:
        if item.get("media_url"):
            item["media_url"] = urljoin(request.host_url, item["media_url"])
    return items


# --- resources ------------------------------------------------------------------------------------------------

@bp.get(f"/discovery.{FMT}")
def discovery(fmt: str):
    config = current_app.config
    changeset = open311.changeset()
    kind = config.get("OPEN311_ENDPOINT_TYPE") or ("production" if config.get("ENV_NAME") == "production" else "test")
    body = {
        "changeset": changeset,
        "contact": config.get("OPEN311_CONTACT") or "Linli 邻里 — 请联系所在街道办事处 / contact your street office",
        "key_service": config.get("OPEN311_KEY_SERVICE") or
        "接入密钥由平台管理员为合作系统签发 / API keys are issued per partner system by a Linli administrator",
        "endpoints": [{"specification": SPECIFICATION, "url": urljoin(request.host_url, bp.url_prefix.lstrip("/")),
                       "changeset": changeset, "type": kind, "formats": ["text/xml", "application/json"]}],
    }
    return render(fmt, "discovery", body)


@bp.get(f"/services.{FMT}")
def services(fmt: str):
    _check_jurisdiction()
    return render(fmt, "services", open311.services(language()))


@bp.get(f"/services/<code>.{FMT}")
def service_definition(code: str, fmt: str):
    _check_jurisdiction()
    return render(fmt, "service_definition", open311.service_definition(code, language()))


@bp.get(f"/requests.{FMT}")
def list_requests(fmt: str):
    _check_jurisdiction()
    corners = {name: _float(name) for name in ("lat_ne", "long_ne", "lat_sw", "long_sw")}
    given = [value is not None for value in corners.values()]
    if any(given) and not all(given):
        raise BoxIncomplete()
    items = open311.list_requests(
        ids=_list("service_request_id"), service_codes=_list("service_code"), start=_datetime("start_date"),
        end=_datetime("end_date"), statuses=_list("status"), bbox=open311.BBox(**corners) if all(given) else None,
        page=_int("page", 1), page_size=_int("page_size", open311.MAX_PAGE_SIZE), lang=language())
    return render(fmt, "service_requests", _absolute_media(items))


@bp.post(f"/requests.{FMT}")
def create_request(fmt: str):
    _check_jurisdiction()
    key = open311.authenticate(_param("api_key"))
    attributes: dict = {}
    for name in request.form:
        match = _ATTRIBUTE.match(name)
        if match is None:
            continue
        values = [v.strip() for v in request.form.getlist(name) if v.strip()]
        if any("\x00" in v for v in values):
            raise NulCharacter(name)
        if not values:
            continue
        if match.group(2):
            attributes.setdefault(match.group(1), []).extend(values)
        else:
            attributes[match.group(1)] = values[-1]
    answer = open311.create_request(
        key, service_code=_param("service_code"), lat=_float("lat"), lng=_float("long"),
        address_string=_param("address_string"), address_id=_param("address_id"),
        description=_param("description"), attributes=attributes, lang=language())
    # 200, not 201: the spec names no success code and some deployed clients accept only 200.
    return render(fmt, "service_requests", answer)


@bp.get(f"/requests/<request_id>.{FMT}")
def get_request(request_id: str, fmt: str):
    _check_jurisdiction()
    return render(fmt, "service_requests", _absolute_media([open311.get_request(request_id, language())]))


@bp.get("/media/<token>")
def media(token: str):
    """A public request's photo for partners, without a login (re-encoded at upload: no EXIF)."""
    photo = open311.media(token)
    response = Response(photo.data, status=200, mimetype=photo.content_type)
    # Short-lived: a request can become hidden (rejected) and its photo must then stop being served.
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.set_etag(photo.sha256)
    return response.make_conditional(request)


ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@bp.route("/", defaults={"path": ""}, methods=ALL_METHODS)
@bp.route("/<path:path>", methods=ALL_METHODS)
def unknown(path: str):
    """Anything else under /open311/v2: 405 when the path exists with other methods, else 404,
    in Open311's error format (the app's own 404/405 would use its JSON envelope)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = set()
    for method in ("GET", "POST"):
        try:
            rule, _ = adapter.match(method=method, return_rule=True)
        except HTTPException:
            continue
        if rule.endpoint != request.endpoint:
            allowed.add(method)
    if allowed:
        if "GET" in allowed:
            allowed |= {"HEAD", "OPTIONS"}
        raise MethodNotAllowed(valid_methods=sorted(allowed))
    raise HTTPNotFound()
