"""Open311 GeoReport v2 over the cases: partner API keys, services, service requests.

Services are the *public* case categories (``public: true`` in config/rules/cases.yaml);
a service request is a case of a public category that was not rejected or withdrawn.
Nothing here ever reads the reporter: no name, phone or account of a resident leaves
through Open311, anonymous or not. Partner submissions keep no personal data either:
``email``, ``first_name``, ``last_name``, ``phone``, ``device_id`` and ``account_id``
are accepted and dropped (the people behind a partner system are not Linli users).

API keys belong to partner systems, are issued by an admin (the plaintext is shown
once) in one of their admin scopes (a street or a district), stored as a SHA-256 hash
with an 8-character prefix to recognise them, and can be revoked by their issuer or by
the admins of that scope (a district's admins for its streets' keys).
"""
from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from config import RULES_DIR
from models.base import db
from models.cases import OPEN_STATUSES, Case, CaseEvent, CasePhoto, Open311Key
from models.places import Estate, Neighbourhood, Street
from models.uploads import Upload
from service import audit, clock, geo, uploads
from service.cases import access, rules, workflow
from service.cases.errors import (
    AddressIdUnsupported, AddressTooLong, AddressUnknown, ApiKeyInvalid, AttributeSingleValue, BoxInvalid,
    EndBeforeStart, KeyIssueOutOfScope, KeyNotFound, KeyOutOfScope, KeyScopeIncomplete, KeyScopeRequired,
    LatLongApart, LatLongOutOfRange, MediaNotFound, PageInvalid, PageSizeInvalid, PartnerInvalid, PartnerRequired,
    RangeTooLong, RequestDescriptionRequired, RequestLocationRequired, RequestNotFound, ServiceCodeRequired,
    ServiceCodeUnknown, ServiceNotFound, StatusInvalid, TooManyIds)
from service.db import paginate, transactional
from service.errors import Forbidden, NotFound
from service.people import Actor

MAX_RANGE = timedelta(days=90)
MAX_PAGE_SIZE = 1000
MAX_IDS = 1000
HIDDEN_STATUSES = ("rejected", "withdrawn")
# Events whose note may be shown as status_notes: staff replies and public staff notes.
# Notes written by the reporter (reopen reasons, rating comments) never are.
NOTE_ACTIONS = ("resolve", "close", "merge", "comment")
KEY_PREFIX_LENGTH = 8
# Public coordinates keep 3 decimal places (about 100 m): the reporter's own point is not published.
COORD_DECIMALS = 3


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# --- partner keys ---------------------------------------------------------------------------------------------

KEY_SCOPES = ("street", "district")


def _key_scope(actor: Actor, scope_type: str | None, scope_id: int | None) -> tuple[str, int]:
    """The admin scope a new key lies in: the one named (which the issuer must administer), or the
    issuer's only admin scope."""
    if scope_type is None and scope_id is None:
        own = {(kind, sid) for kind, sid in actor.scopes.get("admin", set()) if kind in KEY_SCOPES}
        if len(own) != 1:
            raise KeyScopeRequired()
        return own.pop()
    if scope_type is None or scope_id is None:
        raise KeyScopeIncomplete()
    if not access.may_issue_key(actor, scope_type, scope_id):
        raise KeyIssueOutOfScope()
    return scope_type, scope_id


@transactional
def issue_key(actor: Actor, partner: str, scope_type: str | None = None,
              scope_id: int | None = None) -> tuple[Open311Key, str]:
    """Issue an API key for a partner system (admins only), in one of the issuer's admin scopes.
    Returns the key and its plaintext, which is not stored and cannot be shown again."""
    if not actor.is_admin:
        raise Forbidden()
    name = (partner or "").strip()
    if not name:
        raise PartnerRequired()
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise PartnerInvalid() from None
    scope_type, scope_id = _key_scope(actor, scope_type, scope_id)
    plaintext = secrets.token_urlsafe(32)
    key = Open311Key(partner=name, key_hash=_hash(plaintext), key_prefix=plaintext[:KEY_PREFIX_LENGTH],
                     created_by=actor.user_id, scope_type=scope_type, scope_id=scope_id, created_at=clock.now())
    db.session.add(key)
    db.session.flush()
    audit.record(actor, "open311_key.issued", "open311_key", key.id,
                 after={"partner": name, "key_prefix": key.key_prefix, "scope_type": scope_type,
                        "scope_id": scope_id})
    return key, plaintext


@transactional
def revoke_key(actor: Actor, key_id: int) -> Open311Key:
    """Revoke a key: its issuer, or an admin whose scope holds it (a district's admins revoke the keys
    of its streets). Revoking a revoked key changes nothing."""
    if not actor.is_admin:
        raise Forbidden()
    key = db.session.get(Open311Key, key_id)
    if key is None:
        raise KeyNotFound()
    if not access.may_revoke_key(actor, key):
        raise KeyOutOfScope()
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        audit.record(actor, "open311_key.revoked", "open311_key", key.id, before={"revoked_at": None},
                     after={"revoked_at": clock.iso(key.revoked_at)})
    return key


def list_keys(actor: Actor, *, page: int, page_size: int):
    """The keys the actor may revoke (access.may_revoke_key), newest first, without any secret (admins only)."""
    if not actor.is_admin:
        raise Forbidden()
    districts, streets = actor.admin_reach()
    mine = sa.or_(Open311Key.created_by == actor.user_id,
                  sa.and_(Open311Key.scope_type == "district", Open311Key.scope_id.in_(sorted(districts) or [-1])),
                  sa.and_(Open311Key.scope_type == "street", Open311Key.scope_id.in_(sorted(streets) or [-1])))
    if districts:
        mine = sa.or_(mine, Open311Key.scope_type.is_(None))
    return paginate(sa.select(Open311Key).where(mine).order_by(Open311Key.id.desc()), page, page_size)


@transactional
def authenticate(api_key: str | None) -> Open311Key:
    """The live key matching ``api_key`` (its last use recorded), or Forbidden."""
    if not api_key or len(api_key) > 200:
        raise ApiKeyInvalid()
    key = db.session.execute(sa.select(Open311Key).where(Open311Key.key_hash == _hash(api_key))).scalar_one_or_none()
    if key is None or key.revoked_at is not None:
        raise ApiKeyInvalid()
    key.last_used_at = clock.now()
    return key


# --- services ---------------------------------------------------------------------------------------------------

def _public_category(code: str | None) -> rules.Category | None:
    category = rules.category(code) if code else None
    return category if category is not None and category.public else None


def public_codes() -> list[str]:
    return [c.code for c in rules.categories() if c.public]


def changeset() -> str:
    """When the services last changed (the case rules file), sortable."""
    try:
        moment = datetime.fromtimestamp((RULES_DIR / "cases.yaml").stat().st_mtime, timezone.utc)
    except OSError:
        moment = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return clock.iso(moment, "seconds")


def _group(category: rules.Category) -> str:
    return category.grid.split("/", 1)[-1]


def services(lang: str = "zh") -> list[dict]:
    """The service list: one service per public category."""
    return [{"service_code": c.code, "service_name": c.name(lang),
             "description": f"{c.zh}（{c.kind}）" if lang != "en" else f"{c.en} ({c.kind})",
             "metadata": bool(c.attributes), "type": "realtime",
             "keywords": ", ".join(dict.fromkeys((c.zh, c.en, c.kind))), "group": _group(c)}
            for c in rules.categories() if c.public]


def service_definition(code: str, lang: str = "zh") -> dict:
    """The attributes a service asks for; unknown and private services are not found."""
    category = _public_category(code)
    if category is None:
        raise ServiceNotFound(service_code=code)
    attributes = []
    for order, attribute in enumerate(category.attributes, start=1):
        values = [{"key": v.get("key"), "name": v.get("name", v.get("key"))} if isinstance(v, dict)
                  else {"key": v, "name": v} for v in attribute.values]
        attributes.append({"variable": True, "code": attribute.code, "datatype": attribute.datatype,
                           "required": attribute.required, "datatype_description": None, "order": order,
                           "description": attribute.en if lang == "en" else attribute.zh, "values": values})
    return {"service_code": category.code, "attributes": attributes}


def service_notice(category: rules.Category, lang: str = "zh", *, rehandling: bool = False) -> str:
    """The time limit the request is handled within: 首次处置, or 再次处置 once it was reopened."""
    days = category.limits["rehandling" if rehandling else "handling"]
    if lang == "en":
        stage = "Second handling" if rehandling else "First handling"
        return "Handled the same working day" if days == 0 else \
            f"{stage} within {days} working day{'s' if days != 1 else ''}"
    return "当日处置" if days == 0 else f"{days}个工作日内{'再次处置' if rehandling else '首次处置'}"


# --- service requests -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BBox:
    """A WGS-84 box: north-east and south-west corners."""

    lat_ne: float
    long_ne: float
    lat_sw: float
    long_sw: float


def _visible():
    return sa.and_(Case.category_code.in_(public_codes() or [""]), Case.status.notin_(HIDDEN_STATUSES))


def _published_range(low: float, high: float) -> tuple[float, float]:
    """The raw coordinates whose published value (rounded to ``COORD_DECIMALS`` places) lies in
    [low, high]: a box asks about the coordinates partners are shown, never about finer ones."""
    scale = 10 ** COORD_DECIMALS
    first, last = math.ceil(round(low * scale, 6)), math.floor(round(high * scale, 6))
    return (first - 0.5) / scale, (last + 0.5) / scale


def _bbox_condition(box: BBox):
    if not (-90 <= box.lat_sw < box.lat_ne <= 90 and -180 <= box.long_sw < box.long_ne <= 180):
        raise BoxInvalid()
    # A request is in the box when its published coordinates are: no box, however small or placed,
    # tells more about a reporter's point than the coordinates shown.
    lat_sw, lat_ne = _published_range(box.lat_sw, box.lat_ne)
    long_sw, long_ne = _published_range(box.long_sw, box.long_ne)
    if lat_sw > lat_ne or long_sw > long_ne:
        return sa.false()  # no published coordinate lies in the box
    # Stored coordinates are GCJ-02: take the GCJ-02 box enclosing the four converted corners.
    corners = [geo.wgs84_to_gcj02(lat, lng) for lat in (lat_sw, lat_ne) for lng in (long_sw, long_ne)]
    lats = [c[0] for c in corners]
    lngs = [c[1] for c in corners]
    return sa.and_(Case.lat.between(min(lats), max(lats)), Case.lng.between(min(lngs), max(lngs)))


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    if start is None and end is None:
        end = clock.now()
        start = end - MAX_RANGE
    elif start is None:
        start = end - MAX_RANGE
    elif end is None:
        end = start + MAX_RANGE
    if end < start:
        raise EndBeforeStart()
    if end - start > MAX_RANGE:
        raise RangeTooLong(days=MAX_RANGE.days)
    return start, end


def list_requests(*, ids: list[str] | None = None, service_codes: list[str] | None = None,
                  start: datetime | None = None, end: datetime | None = None, statuses: list[str] | None = None,
                  bbox: BBox | None = None, page: int = 1, page_size: int = MAX_PAGE_SIZE,
                  lang: str = "zh") -> list[dict]:
    """Service requests, newest first. ``ids`` (case numbers) overrides every other filter; otherwise
    requests received in [start, end] (at most 90 days; by default the last 90), one page of at most 1000."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise PageSizeInvalid(limit=MAX_PAGE_SIZE)
    if page < 1:
        raise PageInvalid()
    query = sa.select(Case).where(_visible())
    if ids:
        if len(ids) > MAX_IDS:
            raise TooManyIds(limit=MAX_IDS)
        query = query.where(Case.number.in_(ids))
    else:
        for code in service_codes or []:
            if _public_category(code) is None:
                raise ServiceCodeUnknown(service_code=code)
        for status in statuses or []:
            if status not in ("open", "closed"):
                raise StatusInvalid()
        start, end = _window(start, end)
        query = query.where(Case.received_at >= start, Case.received_at <= end)
        if service_codes:
            query = query.where(Case.category_code.in_(service_codes))
        wanted = set(statuses or ())
        if wanted == {"open"}:
            query = query.where(Case.status.in_(OPEN_STATUSES))
        elif wanted == {"closed"}:
            query = query.where(Case.status.notin_(OPEN_STATUSES))
        if bbox is not None:
            query = query.where(_bbox_condition(bbox))
    query = query.order_by(Case.received_at.desc(), Case.id.desc()).limit(page_size).offset((page - 1) * page_size)
    return present(list(db.session.execute(query).scalars()), lang)


def get_request(number: str, lang: str = "zh") -> dict:
    case = None
    if number and len(number) <= 32 and "\x00" not in number:
        case = db.session.execute(sa.select(Case).where(Case.number == number, _visible())).scalar_one_or_none()
    if case is None:
        raise RequestNotFound(number=number)
    return present([case], lang)[0]


def _status_notes(cases: list[Case]) -> dict[int, str]:
    """The latest public staff note of each case's current round: a reopen (重办, or a reply sent back
    by the reviewer) starts a new round, and the notes before it are no longer the status."""
    ids = [c.id for c in cases]
    if not ids:
        return {}
    reopened = (sa.select(CaseEvent.case_id, sa.func.max(CaseEvent.id).label("since"))
                .where(CaseEvent.case_id.in_(ids), CaseEvent.action == "reopen")
                .group_by(CaseEvent.case_id).subquery())
    not_by_reporter = sa.or_(Case.reporter_user_id.is_(None), CaseEvent.actor_user_id.is_(None),
                             CaseEvent.actor_user_id != Case.reporter_user_id)
    latest = (sa.select(sa.func.max(CaseEvent.id)).join(Case, Case.id == CaseEvent.case_id)
              .outerjoin(reopened, reopened.c.case_id == CaseEvent.case_id)
              .where(CaseEvent.case_id.in_(ids), CaseEvent.public.is_(True), CaseEvent.note.is_not(None),
                     CaseEvent.action.in_(NOTE_ACTIONS), not_by_reporter,
                     CaseEvent.id > sa.func.coalesce(reopened.c.since, 0))
              .group_by(CaseEvent.case_id))
    rows = db.session.execute(sa.select(CaseEvent.case_id, CaseEvent.note).where(CaseEvent.id.in_(latest))).all()
    return {row.case_id: row.note for row in rows}


def _agencies(cases: list[Case]) -> dict[int, str]:
    neighbourhoods = {c.neighbourhood_id for c in cases if c.neighbourhood_id is not None}
    streets = {c.street_id for c in cases if c.neighbourhood_id is None}
    committees = dict(db.session.execute(sa.select(Neighbourhood.id, Neighbourhood.committee_name).where(
        Neighbourhood.id.in_(neighbourhoods))).all()) if neighbourhoods else {}
    offices = dict(db.session.execute(sa.select(Street.id, Street.name).where(
        Street.id.in_(streets))).all()) if streets else {}
    return {c.id: committees.get(c.neighbourhood_id) if c.neighbourhood_id is not None else offices.get(c.street_id)
            for c in cases}


def _first_photos(cases: list[Case]) -> dict[int, str]:
    """Each case's first report photo, by its media token."""
    ids = [c.id for c in cases]
    if not ids:
        return {}
    first = (sa.select(sa.func.min(CasePhoto.id)).where(CasePhoto.case_id.in_(ids), CasePhoto.purpose == "report")
             .group_by(CasePhoto.case_id))
    return dict(db.session.execute(sa.select(CasePhoto.case_id, CasePhoto.media_token).where(
        CasePhoto.id.in_(first))).all())


def expected_at(case: Case) -> datetime | None:
    """When the request is due to be handled: the current handling deadline (re-handling after
    a reopen; approved extensions and complex-case approval included)."""
    return case.rework_due_at if case.cycle > 1 and case.rework_due_at else case.handle_due_at


def present(cases: list[Case], lang: str = "zh") -> list[dict]:
    """Cases as Open311 service requests. Never the reporter; coordinates in WGS-84, rounded to
    ``COORD_DECIMALS`` places (about 100 m); ``expected_datetime`` only when the deadline is firm
    (null while provisional); ``media_url`` is a path under /open311/v2/media (the view makes it
    absolute)."""
    notes = _status_notes(cases)
    agencies = _agencies(cases)
    photos = _first_photos(cases)
    result = []
    for case in cases:
        category = rules.category(case.category_code)
        is_open = case.status in OPEN_STATUSES
        lat = lng = None
        if case.lat is not None and case.lng is not None:
            lat, lng = geo.gcj02_to_wgs84(case.lat, case.lng)
            lat, lng = round(lat, COORD_DECIMALS), round(lng, COORD_DECIMALS)
        updated = (case.closed_at if not is_open and case.closed_at else
                   max(d for d in (case.updated_at, case.received_at) if d is not None))
        photo = photos.get(case.id)
        result.append({
            "service_request_id": case.number, "status": "open" if is_open else "closed",
            "status_notes": notes.get(case.id), "service_name": category.name(lang),
            "service_code": case.category_code, "description": case.description,
            "agency_responsible": agencies.get(case.id),
            "service_notice": service_notice(category, lang, rehandling=case.cycle > 1),
            "requested_datetime": case.received_at, "updated_datetime": updated,
            "expected_datetime": None if case.deadlines_provisional else expected_at(case),
            "address": case.address, "address_id": None, "zipcode": None,
            "lat": lat, "long": lng, "media_url": f"{MEDIA_PATH}/{photo}" if photo else None})
    return result


# --- photos ------------------------------------------------------------------------------------------------------

MEDIA_PATH = "/open311/v2/media"
_MEDIA_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
_MEDIA = (sa.select(Upload.id, Upload.storage_key, Upload.data, Upload.content_type, Upload.sha256,
                    Case.category_code)
          .join(CasePhoto, CasePhoto.upload_id == Upload.id).join(Case, Case.id == CasePhoto.case_id)
          .where(CasePhoto.media_token == sa.bindparam("token"), CasePhoto.purpose == "report",
                 Case.status.notin_(HIDDEN_STATUSES)))


@dataclass(frozen=True)
class Media:
    data: bytes
    content_type: str
    sha256: str


def media(token: str) -> Media:
    """The report photo a ``media_url`` names, for anyone: only while its case is a public service
    request (a public category, not rejected or withdrawn). Photos were re-encoded without EXIF when
    uploaded. Anything else is not found."""
    row = None
    if _MEDIA_TOKEN.match(token or ""):
        row = db.session.execute(_MEDIA, {"token": token}).first()
    if row is None or _public_category(row.category_code) is None:
        raise MediaNotFound()
    try:
        data = uploads.read(row.id, row.storage_key, row.data)  # the row's bytes, or its object's
    except NotFound:
        raise MediaNotFound() from None
    return Media(data, row.content_type, row.sha256)


# --- creating a request -----------------------------------------------------------------------------------------

def _estate_location(address: str) -> dict | None:
    """The estate (小区) named in a free-text address, when exactly one known estate with
    coordinates matches the longest name found; its GCJ-02 point stands in for the location."""
    candidates = db.session.execute(sa.select(Estate.name, Estate.lat, Estate.lng).where(
        Estate.lat.is_not(None), Estate.lng.is_not(None),
        sa.literal(address).contains(Estate.name))).all()
    if not candidates:
        return None
    longest = max(len(c.name) for c in candidates)
    best = {(c.lat, c.lng) for c in candidates if len(c.name) == longest}
    if len(best) != 1:
        return None
    lat, lng = best.pop()
    return {"lat": lat, "lng": lng, "datum": "gcj02"}


def _request_location(lat: float | None, lng: float | None, address_string: str | None,
                      address_id: str | None) -> dict:
    """Where a partner's request lies: its WGS-84 point, else the estate its address names."""
    if (lat is None) != (lng is None):
        raise LatLongApart()
    if lat is not None:
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise LatLongOutOfRange()
        return {"lat": lat, "lng": lng, "datum": "wgs84"}
    if address_string:
        location = _estate_location(address_string)
        if location is None:
            raise AddressUnknown()
        return location
    if address_id:
        raise AddressIdUnsupported()
    raise RequestLocationRequired()


def create_request(key: Open311Key, *, service_code: str | None, lat: float | None, lng: float | None,
                   address_string: str | None, address_id: str | None, description: str | None,
                   attributes: dict, lang: str = "zh") -> list[dict]:
    """File a case from a partner system (an authenticated key). Routed and dispatched like any
    report; no reporter is recorded. Commits. Returns the Open311 answer."""
    if not service_code:
        raise ServiceCodeRequired()
    category = _public_category(service_code)
    if category is None:
        raise ServiceNotFound(service_code=service_code)
    location = _request_location(lat, lng, address_string, address_id)
    if not description or not description.strip():
        raise RequestDescriptionRequired()
    single = {a.code for a in category.attributes if a.datatype != "multivaluelist"}
    for code, value in attributes.items():
        if isinstance(value, list) and code in single:
            raise AttributeSingleValue(f"attribute[{code}]")
    if address_string and len(address_string) > 200:
        raise AddressTooLong()
    case = workflow.create_case(None, category_code=category.code, description=description, location=location,
                                address=address_string, anonymous=False,
                                contact_consent=False, attributes=attributes, source="open311",
                                partner_id=key.id, reporter_user_id=None)
    return [{"service_request_id": case.number, "service_notice": service_notice(category, lang),
             "account_id": None}]
