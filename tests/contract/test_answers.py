"""What a mini-program is shown, checked over every GET operation of /openapi.json as every demo role on
the demo data: every timestamp is ISO 8601 in Shanghai time (+08:00), in JSON, CSV and the Open311 XML;
every enumerated code comes with its label (``<field>_name``, lists ``<field>_names``), Chinese by default.

The walk fills each path parameter with ids from the demo data (the caller's own things first) and tries
them until one answers 200; every operation must answer 200 to at least one role, so no answer escapes."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from api.extensions import limiter
from data.demo import loader as demo_loader
from models.base import db
from models.care import Alarm, Elder, Pairing, Vendor
from models.cases import Case
from models.life_circle import Facility
from models.funds import FundPeriod, FundQuery, Journal
from models.meals import MealBooking, MealSite
from models.notices import Notice
from models.people import FamilyLink, ResidentProfile, UnitClaim, User
from models.places import Building, Estate, Neighbourhood, Street, Unit
from models.privacy import DataExport
from models.uploads import Upload
from models.voting import Motion
from service import clock, labels
from tests.factories import token_for

# A moment written as text: a date, "T", a time, and maybe an offset. Every one must end in +08:00.
MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?")
SHANGHAI_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?\+08:00")
TRIES = 4  # candidate ids tried per operation and role

_walk: dict = {}


def _ids(query, limit: int = TRIES) -> list[int]:
    return list(db.session.execute(query.limit(limit)).scalars())


def _candidates(user: User) -> dict[str, list]:
    """Path parameter → ids to try, the caller's own first."""
    me = user.id
    own_cases = _ids(sa.select(Case.id).where(Case.reporter_user_id == me).order_by(Case.id), 2)
    any_cases = _ids(sa.select(Case.id).order_by(Case.id.desc()), TRIES)
    own_bookings = _ids(sa.select(MealBooking.id).where(MealBooking.diner_user_id == me).order_by(MealBooking.id), 2)
    elders = _ids(sa.select(FamilyLink.elder_user_id).order_by(FamilyLink.id), 2)
    motions = _ids(sa.select(Motion.id).order_by(Motion.id.desc()), TRIES)
    motion_estates = _ids(sa.select(Motion.estate_id).distinct(), 2)
    return {
        "claim_id": _ids(sa.select(UnitClaim.id).order_by(UnitClaim.id)),
        "link_id": _ids(sa.select(FamilyLink.id).order_by(FamilyLink.id)),
        "user_id": [me, *elders],
        "street_id": _ids(sa.select(Street.id).join(Case, Case.street_id == Street.id).distinct()),
        "neighbourhood_id": _ids(sa.select(Neighbourhood.id).order_by(Neighbourhood.id)),
        "estate_id": motion_estates + _ids(sa.select(Estate.id).order_by(Estate.id), 2),
        "building_id": _ids(sa.select(Building.id).order_by(Building.id), 2),
        "unit_id": _ids(sa.select(Unit.id).order_by(Unit.id), 2),
        "case_id": own_cases + any_cases,
        "upload_id": _ids(sa.select(Upload.id).order_by(Upload.id.desc())),
        "facility_id": _ids(sa.select(Facility.id).order_by(Facility.id), 2),
        "site_id": _ids(sa.select(MealSite.id).order_by(MealSite.id)),
        "booking_id": own_bookings + _ids(sa.select(MealBooking.id).order_by(MealBooking.id.desc()), 2),
        "motion_id": motions,
        "notice_id": _ids(sa.select(Notice.id).order_by(Notice.id.desc())),
        "elder_id": _ids(sa.select(Elder.id).order_by(Elder.id)),
        "vendor_id": _ids(sa.select(Vendor.id).order_by(Vendor.id)),
        "period_id": _ids(sa.select(FundPeriod.id).order_by(FundPeriod.id)),
        "journal_id": _ids(sa.select(Journal.id).order_by(Journal.id.desc())),
        "query_id": _ids(sa.select(FundQuery.id).order_by(FundQuery.id.desc())),
        "export_id": _ids(sa.select(DataExport.id).where(DataExport.user_id == me), 1)
        + _ids(sa.select(DataExport.id).order_by(DataExport.id), 1),
        "alarm_id": _ids(sa.select(Alarm.id).order_by(Alarm.id.desc())),
        "year": [clock.local_now().year, clock.local_now().year + 1],
        # Elders on the roster: the caller themself, the elders they visit, then the roster's first.
        "elder_id": _ids(sa.select(Elder.id).where(Elder.user_id == me), 1)
        + _ids(sa.select(Pairing.elder_id).where(Pairing.visitor_user_id == me).order_by(Pairing.id), 1)
        + _ids(sa.select(Elder.id).join(FamilyLink, FamilyLink.elder_user_id == Elder.user_id)
               .where(FamilyLink.proxy_user_id == me), 1)
        + _ids(sa.select(Elder.id).order_by(Elder.id), 1),
    }


def _query(path: str, op: dict, user: User, street_id: int | None) -> dict:
    """Values for the query parameters an operation requires, and a few that open more of the answer."""
    today = clock.local_now().date()
    values = {"lat": 31.2480, "lng": 121.4210, "category": "meal" if "facilities" in path else "corridor_clutter",
              "date": today.isoformat(), "month": today.strftime("%Y-%m"), "street_id": street_id, "q": "中心"}
    names = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
    required = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query" and p.get("required")}
    chosen = {name: values[name] for name in required | ({"lat", "lng"} & names) if name in values}
    if path.endswith("/manifest") or path.endswith("/statement"):
        chosen.setdefault("date", (today + timedelta(days=1)).isoformat()) if "date" in names else None
    return chosen


def _text(response) -> str:
    kind = response.content_type or ""
    return response.get_data(as_text=True) if kind.startswith(("application/json", "text/")) else ""


def _claim_a_unit(client) -> None:
    """王阿姨 claims her flat (the demo leaves her on the register, unverified), so there is a claim to read."""
    resident = db.session.execute(sa.select(User).where(User.username == "resident.demo")).scalar_one()
    unit_id = db.session.execute(sa.select(ResidentProfile.unit_id).where(
        ResidentProfile.user_id == resident.id)).scalar_one()
    response = client.post("/api/v1/me/unit-claims", headers={"Authorization": f"Bearer {token_for(resident)}"},
                           json={"unit_id": unit_id, "certificate_no": "沪(2017)普字不动产权第018734号",
                                 "owner_name": "王秀兰"})
    assert response.status_code == 201, response.get_json()
    # And asks for a copy of her data, so there is one to download.
    copy = client.post("/api/v1/me/data-export", headers={"Authorization": f"Bearer {token_for(resident)}"})
    assert copy.status_code == 201, copy.get_json()
    # She also started closing her account and thought better of it, so there is a closure to read.
    for method in ("/api/v1/me", "/api/v1/me/closure"):
        assert client.delete(method, headers={"Authorization": f"Bearer {token_for(resident)}"}).status_code in (200, 202)


def walk(client) -> dict:
    """(username, path, variant) → (status, content type, text) for every GET operation and every demo role."""
    if _walk:
        return _walk
    demo_loader.load_all()
    limiter.enabled = False
    _claim_a_unit(client)
    document = client.get("/openapi.json").get_json()
    users = db.session.execute(sa.select(User).where(User.is_demo.is_(True)).order_by(User.id)).scalars().all()
    street_id = db.session.execute(sa.select(Case.street_id).limit(1)).scalar()
    answers = {}
    try:
        for user in users:
            headers = {"Authorization": f"Bearer {token_for(user)}"}
            candidates = _candidates(user)
            for path, operations in document["paths"].items():
                op = operations.get("get")
                if op is None:
                    continue
                query = _query(path, op, user, street_id)
                params = re.findall(r"{(\w+)}", path)
                tries = list(zip(*[candidates[p] for p in params])) if params else [()]
                formats = [None]
                if any(p.get("name") == "format" for p in op.get("parameters", [])):
                    formats += ["csv"]
                for fmt in formats:
                    best = (0, "", "no ids to try")
                    for values in tries[:TRIES]:
                        url = path
                        for name, value in zip(params, values):
                            url = url.replace("{" + name + "}", str(value))
                        args = dict(query, **({"format": fmt} if fmt else {}))
                        response = client.get(url, query_string=args, headers=headers)
                        best = (response.status_code, response.content_type, _text(response))
                        if response.status_code == 200:
                            break
                    answers[(user.username, path, fmt)] = best
            # The Open311 interface, in both formats.
            for fmt in ("json", "xml"):
                response = client.get(f"/open311/v2/requests.{fmt}")
                answers[(user.username, f"/open311/v2/requests.{fmt}", None)] = (
                    response.status_code, response.content_type, _text(response))
    finally:
        limiter.enabled = True
    _walk.update(answers)
    return _walk


@pytest.fixture
def answers(client):
    return walk(client)


def test_no_answer_is_a_server_error_and_every_get_answers_some_role(answers):
    errors = {key: status for key, (status, _, _) in answers.items() if status >= 500}
    assert not errors
    by_operation: dict = {}
    for (username, path, fmt), (status, _, _) in answers.items():
        by_operation.setdefault((path, fmt), set()).add(status)
    unanswered = {op: statuses for op, statuses in by_operation.items() if 200 not in statuses}
    assert not unanswered, f"no demo role got a 200 from: {unanswered}"
    assert len(by_operation) >= 60


def test_every_timestamp_in_every_answer_is_shanghai_time(answers):
    wrong = {}
    for key, (status, content_type, text) in answers.items():
        if status != 200:
            continue
        found = [m for m in MOMENT.findall(text) if not SHANGHAI_MOMENT.fullmatch(m)]
        if found:
            wrong[key] = found[:3]
    assert not wrong, wrong
    # The walk did see timestamps, in JSON and in the Open311 XML, and read the CSV files too.
    seen = {content_type.split(";")[0] for status, content_type, text in answers.values()
            if status == 200 and SHANGHAI_MOMENT.search(text)}
    assert {"application/json", "text/xml"} <= seen, seen
    assert sum(1 for status, content_type, _ in answers.values()
               if status == 200 and content_type.startswith("text/csv")) >= 5



# --- labels ---------------------------------------------------------------------------------------------------

CODE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*")
CJK = re.compile(r"[\u4e00-\u9fff]")
# Codes whose labels come from a table rather than a catalogue (categories, voting items, price tiers).
TABLE_CODED = {"category", "covered", "missing", "required", "item", "tier"}
MACHINE_ANSWERS = ("/healthz", "/readyz", "/open311/")  # probes and the Open311 standard's own fields
RECORDS = {"before", "after"}  # an audit entry's snapshots of the object, kept as they were written


def _coded_fields() -> set[str]:
    fields = set(TABLE_CODED)
    for domain in labels.domains():
        fields |= set(labels.catalogue(domain))
    return fields


def _unlabelled(node, coded: set[str], found: list, where: str = "") -> None:
    if isinstance(node, list):
        for item in node:
            _unlabelled(item, coded, found, where + "[]")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in RECORDS:
            continue
        if key in coded and isinstance(value, str) and CODE.fullmatch(value):
            label = node.get(f"{key}_name")
            if not (isinstance(label, str) and CJK.search(label)):
                found.append(f"{where}.{key}={value} → {key}_name={label!r}")
        elif key in coded and isinstance(value, list) and value and all(
                isinstance(v, str) and CODE.fullmatch(v) for v in value):
            names = node.get(f"{key}_names")
            if not (isinstance(names, list) and len(names) == len(value) and all(
                    isinstance(n, str) and CJK.search(n) for n in names)):
                found.append(f"{where}.{key}={value} → {key}_names={names!r}")
        else:
            _unlabelled(value, coded, found, f"{where}.{key}")


def test_every_code_in_every_answer_has_its_chinese_label_beside_it(answers):
    coded = _coded_fields()
    wrong = {}
    for (username, path, fmt), (status, content_type, text) in answers.items():
        if status != 200 or not content_type.startswith("application/json") or path.startswith(MACHINE_ANSWERS):
            continue
        found: list = []
        _unlabelled(json.loads(text), coded, found)
        if found:
            wrong[path] = sorted(set(found))[:4]
    assert not wrong, "\n".join(f"{path}: {found}" for path, found in sorted(wrong.items()))
