"""Every route of the notices and funds blueprints × every kind of caller: the exact status each one gets.

One estate (香泉苑: building 1 in 香泉路居民区, building 2 in 中浩云居民区) and a far one in another street, with
its residents, owners, relatives, committee, property company and staff; four notices of building 1 (a draft,
a published urgent one asking for acknowledgement, a withdrawn one, a superseded one) and the estate's
公共收益 books (a published, a closed and an open period, a journal, an owner's query). They are built once per
module and committed (each case's own writes are rolled back by the conftest), then the tables are emptied.

A refused write must write nothing: every row count and the objects' states are compared before and after."""
from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

import pytest
import sqlalchemy as sa

from api.extensions import limiter
from models.audit import AuditEntry
from models.base import db
from models.funds import Commitment, FundAudit, FundPeriod, FundQuery, Journal, JournalEntry
from models.notices import Notice, NoticeAudience, NoticeScope
from models.notifications import Notification
from models.people import FamilyLink, User
from service import clock
from tests.conftest import _empty_tables
from tests.factories import auth, make_owner, make_user, make_world

# The callers, in the order of the table's columns.
CALLERS = ("anonymous", "unverified", "resident", "far_resident", "owner", "far_owner", "family", "committee",
           "far_committee", "company", "far_company", "staff", "nb2_staff", "far_staff", "street_admin",
           "far_admin")
WHO = {
    "anonymous": "no token",
    "unverified": "a resident who declared building 1's neighbourhood, not verified",
    "resident": "a verified resident of building 1 (unit 101): in the notices' audience",
    "far_resident": "a verified resident of the far estate (another street)",
    "owner": "an owner of the estate (unit 201, building 1): in the audience; owner B of the fund query",
    "far_owner": "an owner of the far estate",
    "family": "a confirmed relative of the resident (in the audience as family)",
    "committee": "the estate's owners' committee (author of both drafts)",
    "far_committee": "the far estate's committee",
    "company": "the estate's property company (author of the published notice)",
    "far_company": "the far estate's property company",
    "staff": "staff of 香泉路居民区, which covers building 1 (one of the estate's two neighbourhoods)",
    "nb2_staff": "staff of 中浩云居民区: the estate's other neighbourhood, not building 1's",
    "far_staff": "staff of the far estate's neighbourhood (another street)",
    "street_admin": "the admin of the estate's street",
    "far_admin": "the admin of the other street",
}
ASKER_NAME = "业主甲"   # owner A, who asked the fund query; no other owner may see who asked


@dataclass(frozen=True)
class Target:
    """One endpoint on one object: the route as the url_map spells it, the request, and optionally what a 2xx
    answer must show to each caller."""
    method: str
    rule: str
    url: Callable[[types.SimpleNamespace], str]
    body: Callable[[types.SimpleNamespace], dict] | None = None
    check: Callable | None = None


def _id(name: str) -> str:
    return f"<int(min=1, max=2147483647):{name}>"


N, E, P, J, Q = _id("notice_id"), _id("estate_id"), _id("period_id"), _id("journal_id"), _id("query_id")


def later(**delta) -> str:
    return clock.iso(clock.now() + timedelta(**delta))


# --- what a 2xx answer shows ----------------------------------------------------------------------------------

AUDIENCE = {"resident", "owner", "family"}
FUND_MANAGERS = {"committee", "street_admin"}
# Who oversees the books (reads every period and journal, answers queries): the keepers, and the staff of any
# 居委会 the estate lies in.
FUND_OVERSEERS = FUND_MANAGERS | {"staff", "nb2_staff"}


def _mine_lists_the_published_notice(response, caller, o):
    listed = {i["id"] for i in response.json["items"]}
    assert (o.published in listed) == (caller in AUDIENCE)
    assert o.draft not in listed and o.estate_draft not in listed


def _managed_list(response, caller, o):
    listed = {i["id"] for i in response.json["items"]}
    # A published notice: its author's, and every one of the street for its staff (a neighbourhood's staff:
    # of its street); the committee and the company see those scoped to their whole estate. A draft: only
    # for those who may manage it, as its detail (not the company, nor the other neighbourhood's staff).
    sees = {"draft": {"committee", "staff", "street_admin"}, "estate_draft": {"committee", "street_admin"},
            "published": {"company", "staff", "nb2_staff", "street_admin"}}
    assert {name for name in sees if getattr(o, name) in listed} == {name for name in sees if caller in sees[name]}


def _chase(response, caller, o):
    rows = response.json["items"]
    assert {r["user_id"] for r in rows} == {o.users["resident"], o.users["owner"], o.users["family"]}
    masked = {r["user_id"]: r["phone_masked"] for r in rows if r["user_id"] == o.users["resident"]}
    # Staff covering the resident see the phone; the property company sees it masked.
    assert masked[o.users["resident"]] is (caller == "company")


def _chase_csv(response, caller, o):
    assert response.headers["Content-Type"].startswith("text/csv")
    text = response.data.decode("utf-8-sig")
    assert ("13800000101" in text) is (caller != "company")


def _no_asker_shown(response, caller, o):
    items = response.json["items"]
    assert [q["id"] for q in items] == [o.query]
    if caller in FUND_OVERSEERS:
        assert items[0]["asked_by"] == o.users["owner_a"]
    else:
        assert items[0]["asked_by"] is None and items[0]["mine"] is False
    assert ASKER_NAME not in response.get_data(as_text=True)


def _periods_listed(response, caller, o):
    listed = {p["id"] for p in response.json["items"]}
    expected = {o.p_published, o.p_closed, o.p_open} if caller in FUND_OVERSEERS else {o.p_published}
    assert listed == expected


def _calendar(response, caller, o):
    estates = {i["estate_id"] for i in response.json["items"]}
    # managed_estates: a committee's estate, and every estate of a staff member's street or neighbourhoods.
    assert (o.estate in estates) == (caller in ("committee", "street_admin", "staff", "nb2_staff"))


def _ack_by(caller_field):
    def check(response, caller, o):
        assert response.json["user_id"] == o.users[caller_field or caller]
    return check


TARGETS = {
    # notices ---------------------------------------------------------------------------------------------------
    "categories": Target("GET", "/api/v1/notice-categories", lambda o: "/api/v1/notice-categories"),
    "my notices": Target("GET", "/api/v1/notices", lambda o: "/api/v1/notices",
                         check=_mine_lists_the_published_notice),
    "write a notice to building 1": Target(
        "POST", "/api/v1/notices", lambda o: "/api/v1/notices",
        lambda o: {"category": "activity", "title": "1号楼活动", "body": "周六上午楼下义诊。",
                   "scopes": [{"type": "building", "id": o.building}]}),
    "managed list": Target("GET", "/api/v1/notices/managed", lambda o: "/api/v1/notices/managed?page_size=100",
                           check=_managed_list),
    "read the draft": Target("GET", f"/api/v1/notices/{N}", lambda o: f"/api/v1/notices/{o.draft}"),
    "read the estate-wide draft": Target("GET", f"/api/v1/notices/{N}", lambda o: f"/api/v1/notices/{o.estate_draft}"),
    "read the published": Target("GET", f"/api/v1/notices/{N}", lambda o: f"/api/v1/notices/{o.published}"),
    "read the withdrawn": Target("GET", f"/api/v1/notices/{N}", lambda o: f"/api/v1/notices/{o.withdrawn}"),
    "read the superseded": Target("GET", f"/api/v1/notices/{N}", lambda o: f"/api/v1/notices/{o.superseded}"),
    "change the draft": Target("PATCH", f"/api/v1/notices/{N}", lambda o: f"/api/v1/notices/{o.draft}",
                               lambda o: {"title": "改过的标题"}),
    "publish the draft": Target("POST", f"/api/v1/notices/{N}/publish",
                                lambda o: f"/api/v1/notices/{o.draft}/publish"),
    "correct the published": Target("POST", f"/api/v1/notices/{N}/corrections",
                                    lambda o: f"/api/v1/notices/{o.published}/corrections",
                                    lambda o: {"reason": "时间更正", "body": "改为12月10日停水。"}),
    "withdraw the published": Target("POST", f"/api/v1/notices/{N}/withdraw",
                                     lambda o: f"/api/v1/notices/{o.published}/withdraw",
                                     lambda o: {"reason": "施工取消"}),
    "ack the published": Target("POST", f"/api/v1/notices/{N}/ack", lambda o: f"/api/v1/notices/{o.published}/ack",
                                lambda o: {}, check=_ack_by(None)),
    "ack for the resident (app)": Target("POST", f"/api/v1/notices/{N}/ack",
                                         lambda o: f"/api/v1/notices/{o.published}/ack",
                                         lambda o: {"user_id": o.users["resident"]}, check=_ack_by("resident")),
    "ack for the resident by phone": Target("POST", f"/api/v1/notices/{N}/ack",
                                            lambda o: f"/api/v1/notices/{o.published}/ack",
                                            lambda o: {"user_id": o.users["resident"], "channel": "phone"},
                                            check=_ack_by("resident")),
    "chase list": Target("GET", f"/api/v1/notices/{N}/chase", lambda o: f"/api/v1/notices/{o.published}/chase",
                         check=_chase),
    "chase list CSV": Target("GET", f"/api/v1/notices/{N}/chase",
                             lambda o: f"/api/v1/notices/{o.published}/chase?format=csv", check=_chase_csv),
    # funds -----------------------------------------------------------------------------------------------------
    "list the estate's periods": Target("GET", f"/api/v1/estates/{E}/fund-periods",
                                        lambda o: f"/api/v1/estates/{o.estate}/fund-periods",
                                        check=_periods_listed),
    "open the maintenance fund": Target("POST", f"/api/v1/estates/{E}/fund-periods",
                                        lambda o: f"/api/v1/estates/{o.estate}/fund-periods",
                                        lambda o: {"fund": "maint", "starts_on": "2025-01-01",
                                                   "opening_fen": 100_000}),
    "post a journal": Target("POST", f"/api/v1/estates/{E}/journals",
                             lambda o: f"/api/v1/estates/{o.estate}/journals",
                             lambda o: {"fund": "public_income", "booked_on": "2025-08-05", "memo": "8月广告费",
                                        "lines": [{"kind": "bank", "code": "bank", "amount_fen": 100_000},
                                                  {"kind": "income", "code": "advertising",
                                                   "amount_fen": -100_000}]}),
    "read a journal": Target("GET", f"/api/v1/journals/{J}", lambda o: f"/api/v1/journals/{o.journal}"),
    "reverse a journal": Target("POST", f"/api/v1/journals/{J}/reverse",
                                lambda o: f"/api/v1/journals/{o.journal}/reverse", lambda o: {"reason": "重复入账"}),
    "close the open period": Target("POST", f"/api/v1/fund-periods/{P}/close",
                                    lambda o: f"/api/v1/fund-periods/{o.p_open}/close",
                                    lambda o: {"bank_balance_fen": o.p_open_opening}),
    "publish the closed period": Target("POST", f"/api/v1/fund-periods/{P}/publish",
                                        lambda o: f"/api/v1/fund-periods/{o.p_closed}/publish"),
    "statement, published": Target("GET", f"/api/v1/fund-periods/{P}/statement",
                                   lambda o: f"/api/v1/fund-periods/{o.p_published}/statement"),
    "statement, closed": Target("GET", f"/api/v1/fund-periods/{P}/statement",
                                lambda o: f"/api/v1/fund-periods/{o.p_closed}/statement"),
    "statement, open": Target("GET", f"/api/v1/fund-periods/{P}/statement",
                              lambda o: f"/api/v1/fund-periods/{o.p_open}/statement"),
    "queries of the published": Target("GET", f"/api/v1/fund-periods/{P}/queries",
                                       lambda o: f"/api/v1/fund-periods/{o.p_published}/queries",
                                       check=_no_asker_shown),
    "ask about the published": Target("POST", f"/api/v1/fund-periods/{P}/queries",
                                      lambda o: f"/api/v1/fund-periods/{o.p_published}/queries",
                                      lambda o: {"text": "广告收入怎么算的？"}),
    "ask about the closed": Target("POST", f"/api/v1/fund-periods/{P}/queries",
                                   lambda o: f"/api/v1/fund-periods/{o.p_closed}/queries",
                                   lambda o: {"text": "何时公示？"}),
    "answer the query": Target("POST", f"/api/v1/fund-queries/{Q}/answer",
                               lambda o: f"/api/v1/fund-queries/{o.query}/answer", lambda o: {"answer": "按合同。"}),
    "post an audit": Target("POST", f"/api/v1/estates/{E}/fund-audits",
                            lambda o: f"/api/v1/estates/{o.estate}/fund-audits",
                            lambda o: {"kind": "annual", "year": 2025, "auditor": "上海某会计师事务所",
                                       "summary": "账实相符。"}),
    "disclosure calendar": Target("GET", "/api/v1/disclosure-calendar", lambda o: "/api/v1/disclosure-calendar",
                                  check=_calendar),
    "the estate's calendar": Target("GET", "/api/v1/disclosure-calendar",
                                    lambda o: f"/api/v1/disclosure-calendar?estate_id={o.estate}"),
    "list the commitments": Target("GET", f"/api/v1/estates/{E}/commitments",
                                   lambda o: f"/api/v1/estates/{o.estate}/commitments"),
    "post my commitment": Target("POST", f"/api/v1/estates/{E}/commitments",
                                 lambda o: f"/api/v1/estates/{o.estate}/commitments",
                                 lambda o: {"text": "本人承诺按时公开资金收支。", "filed_on": "2025-01-10"}),
}

# The matrix: one row per endpoint and object, one column per caller (CALLERS' order); each cell is a case.
# 2xx allowed; 401 no token; 403 a role or a place the caller does not cover (or a notice they do not manage);
# 404 an object the caller may not know of (a notice outside their audience, an unpublished period, a query).
# 422: let through the access check, refused on what was sent (the acknowledgement's channel).
#                                    anon unver resid farR  owner farO  famly comm  farC  comp  farP  staff nb2   farS  sAdm  farA
MATRIX = {
    "categories":                    (401, 200,  200,  200,  200,  200,  200,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    "my notices":                    (401, 200,  200,  200,  200,  200,  200,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    "write a notice to building 1":  (401, 403,  403,  403,  403,  403,  403,  201,  403,  201,  403,  201,  403,  403,  201,  403),
    "managed list":                  (401, 403,  403,  403,  403,  403,  403,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    "read the draft":                (401, 404,  404,  404,  404,  404,  404,  200,  404,  404,  404,  200,  404,  404,  200,  404),
    "read the estate-wide draft":    (401, 404,  404,  404,  404,  404,  404,  200,  404,  404,  404,  404,  404,  404,  200,  404),
    "read the published":            (401, 404,  200,  404,  200,  404,  200,  404,  404,  200,  404,  200,  404,  404,  200,  404),
    "read the withdrawn":            (401, 404,  200,  404,  200,  404,  200,  404,  404,  404,  404,  200,  404,  404,  200,  404),
    "read the superseded":           (401, 404,  200,  404,  200,  404,  200,  404,  404,  404,  404,  200,  404,  404,  200,  404),
    "change the draft":              (401, 403,  403,  403,  403,  403,  403,  200,  403,  403,  403,  200,  403,  403,  200,  403),
    "publish the draft":             (401, 403,  403,  403,  403,  403,  403,  200,  403,  403,  403,  200,  403,  403,  200,  403),
    "correct the published":         (401, 403,  403,  403,  403,  403,  403,  403,  403,  201,  403,  201,  403,  403,  201,  403),
    "withdraw the published":        (401, 403,  403,  403,  403,  403,  403,  403,  403,  200,  403,  200,  403,  403,  200,  403),
    "ack the published":             (401, 404,  200,  404,  200,  404,  200,  404,  404,  404,  404,  404,  404,  404,  404,  404),
    "ack for the resident (app)":    (401, 403,  200,  403,  403,  403,  200,  403,  403,  422,  403,  422,  403,  403,  422,  403),
    "ack for the resident by phone": (401, 403,  422,  403,  403,  403,  422,  403,  403,  200,  403,  200,  403,  403,  200,  403),
    "chase list":                    (401, 403,  403,  403,  403,  403,  403,  403,  403,  200,  403,  200,  403,  403,  200,  403),
    "chase list CSV":                (401, 403,  403,  403,  403,  403,  403,  403,  403,  200,  403,  200,  403,  403,  200,  403),
    # Funds: the books are kept by the estate's committee and by staff covering the whole estate (its street's,
    # or of every neighbourhood it lies in: one 居委会 of a shared estate does not keep its books); the staff of
    # any of its 居委会 oversee them (read every period and journal, see who asked, answer queries).
    "list the estate's periods":     (401, 403,  403,  403,  200,  403,  403,  200,  403,  403,  403,  200,  200,  403,  200,  403),
    "open the maintenance fund":     (401, 403,  403,  403,  403,  403,  403,  201,  403,  403,  403,  403,  403,  403,  201,  403),
    "post a journal":                (401, 403,  403,  403,  403,  403,  403,  201,  403,  403,  403,  403,  403,  403,  201,  403),
    "read a journal":                (401, 403,  403,  403,  403,  403,  403,  200,  403,  403,  403,  200,  200,  403,  200,  403),
    "reverse a journal":             (401, 403,  403,  403,  403,  403,  403,  201,  403,  403,  403,  403,  403,  403,  201,  403),
    "close the open period":         (401, 403,  403,  403,  403,  403,  403,  200,  403,  403,  403,  403,  403,  403,  200,  403),
    "publish the closed period":     (401, 403,  403,  403,  403,  403,  403,  200,  403,  403,  403,  403,  403,  403,  200,  403),
    "statement, published":          (401, 404,  404,  404,  200,  404,  404,  200,  404,  404,  404,  200,  200,  404,  200,  404),
    "statement, closed":             (401, 404,  404,  404,  404,  404,  404,  200,  404,  404,  404,  200,  200,  404,  200,  404),
    "statement, open":               (401, 404,  404,  404,  404,  404,  404,  200,  404,  404,  404,  200,  200,  404,  200,  404),
    "queries of the published":      (401, 404,  404,  404,  200,  404,  404,  200,  404,  404,  404,  200,  200,  404,  200,  404),
    "ask about the published":       (401, 403,  403,  403,  201,  403,  403,  403,  403,  403,  403,  403,  403,  403,  403,  403),
    "ask about the closed":          (401, 404,  404,  404,  404,  404,  404,  404,  404,  404,  404,  404,  404,  404,  404,  404),
    "answer the query":              (401, 403,  403,  403,  403,  403,  403,  200,  403,  403,  403,  200,  200,  403,  200,  403),
    "post an audit":                 (401, 403,  403,  403,  403,  403,  403,  201,  403,  403,  403,  403,  403,  403,  201,  403),
    "disclosure calendar":           (401, 403,  403,  403,  403,  403,  403,  200,  200,  403,  403,  200,  200,  200,  200,  200),
    "the estate's calendar":         (401, 403,  403,  403,  403,  403,  403,  200,  403,  403,  403,  200,  200,  403,  200,  403),
    # Members' written commitments: read by the estate's owners and those who oversee its books; a member posts
    # their own (a street admin, who keeps the books but is no member, is refused by name: 422).
    "list the commitments":          (401, 403,  403,  403,  200,  403,  403,  200,  403,  403,  403,  200,  200,  403,  200,  403),
    "post my commitment":            (401, 403,  403,  403,  403,  403,  403,  201,  403,  403,  403,  403,  403,  403,  422,  403),
}

assert set(MATRIX) == set(TARGETS), set(MATRIX) ^ set(TARGETS)
assert all(len(row) == len(CALLERS) for row in MATRIX.values()), "a row lacks a caller"

CASES = [pytest.param(target, caller, status, id=f"{target} | {caller}")
         for target, row in MATRIX.items() for caller, status in zip(CALLERS, row)]


# --- the world, built once per module ------------------------------------------------------------------------

def _living(w, unit, nb, **kwargs) -> User:
    user = make_user(neighbourhood_id=nb.id, **kwargs)
    user.profile.unit_id = unit.id
    db.session.commit()
    return user


def _call(client, method, url, user=None, json=None):
    headers = auth(user) if user is not None else {}
    response = client.open(url, method=method, json=json, headers=headers)
    assert response.status_code < 300, (url, response.status_code, response.get_json())
    return response.get_json()


def _build(client) -> types.SimpleNamespace:
    w = make_world()
    far_estate = w.far_unit.estate_id
    unverified = make_user(name="未核验")
    unverified.profile.declared_neighbourhood_id = w.nb.id
    resident = _living(w, w.units[0], w.nb, name="王秀英", phone="13800000101")
    far_resident = _living(w, w.far_unit, w.far_nb, name="远处居民", phone="13800000102")
    owner = make_user(name="业主乙")
    make_owner(owner, w.units[1], name="业主乙")
    owner_a = make_user(name=ASKER_NAME)
    make_owner(owner_a, w.units[2], name=ASKER_NAME)
    far_owner = make_user(name="远处业主")
    make_owner(far_owner, w.far_unit, name="远处业主")
    family = make_user(name="家属")
    db.session.add(FamilyLink(proxy_user_id=family.id, elder_user_id=resident.id, relation="child",
                              status="confirmed"))
    db.session.commit()
    users = {
        "unverified": unverified, "resident": resident, "far_resident": far_resident, "owner": owner,
        "owner_a": owner_a, "far_owner": far_owner, "family": family,
        "committee": make_user(name="业委会", roles=[("committee", "estate", w.estate.id)]),
        "far_committee": make_user(name="别处业委会", roles=[("committee", "estate", far_estate)]),
        "company": make_user(name="物业", roles=[("property_company", "estate", w.estate.id)]),
        "far_company": make_user(name="别处物业", roles=[("property_company", "estate", far_estate)]),
        "staff": make_user(name="居委会", roles=[("staff", "neighbourhood", w.nb.id)]),
        "nb2_staff": make_user(name="邻居委会", roles=[("staff", "neighbourhood", w.nb2.id)]),
        "far_staff": make_user(name="别处居委会", roles=[("staff", "neighbourhood", w.far_nb.id)]),
        "street_admin": make_user(name="街道管理员", roles=[("admin", "street", w.street.id)]),
        "far_admin": make_user(name="别处管理员", roles=[("admin", "street", w.other_street.id)]),
    }
    committee, company, staff = users["committee"], users["company"], users["staff"]
    building = [{"type": "building", "id": w.building.id}]

    def notice(user, **data):
        return _call(client, "POST", "/api/v1/notices", user, {"scopes": building, "body": "……", **data})["id"]

    # Notices of building 1: the committee's draft (to publish tomorrow), the property company's urgent outage,
    # and two of the staff's, one withdrawn and one corrected. And the committee's draft to the whole estate.
    draft = notice(committee, category="committee", title="业委会草稿", publish_at=later(days=1))
    estate_draft = notice(committee, category="committee", title="关于解聘物业公司的公示（草稿）",
                          scopes=[{"type": "estate", "id": w.estate.id}])
    published = notice(company, category="outage", title="1号楼停水", urgent=True, valid_until=later(days=3),
                       event_at=later(days=2), publish=True)
    withdrawn = notice(staff, category="policy", title="将撤回", publish=True)
    _call(client, "POST", f"/api/v1/notices/{withdrawn}/withdraw", staff, {"reason": "发错了"})
    superseded = notice(staff, category="policy", title="将更正", publish=True)
    _call(client, "POST", f"/api/v1/notices/{superseded}/corrections", staff, {"reason": "更正"})

    # The estate's 公共收益: Q1 published (a journal, owner A's query), Q2 closed and reconciled, Q3 open.
    estate = w.estate.id
    p1 = _call(client, "POST", f"/api/v1/estates/{estate}/fund-periods", committee,
               {"fund": "public_income", "starts_on": "2025-01-01", "opening_fen": 4_821_000})["period_id"]
    journal = _call(client, "POST", f"/api/v1/estates/{estate}/journals", committee, {
        "fund": "public_income", "booked_on": "2025-02-05", "memo": "2月电梯广告费",
        "lines": [{"kind": "bank", "code": "bank", "amount_fen": 1_200_000},
                  {"kind": "income", "code": "advertising", "amount_fen": -1_200_000}]})["id"]
    _call(client, "POST", f"/api/v1/fund-periods/{p1}/close", committee, {"bank_balance_fen": 6_021_000})
    _call(client, "POST", f"/api/v1/fund-periods/{p1}/publish", committee)
    p2 = db.session.execute(sa.select(FundPeriod.id).where(FundPeriod.estate_id == estate,
                                                           FundPeriod.state == "open")).scalar_one()
    _call(client, "POST", f"/api/v1/fund-periods/{p2}/close", committee, {"bank_balance_fen": 6_021_000})
    p3 = db.session.execute(sa.select(FundPeriod).where(FundPeriod.estate_id == estate,
                                                        FundPeriod.state == "open")).scalar_one()
    query = _call(client, "POST", f"/api/v1/fund-periods/{p1}/queries", owner_a, {"text": "广告收入为何减少？"})["id"]
    return types.SimpleNamespace(
        users={name: u.id for name, u in users.items()}, building=w.building.id, estate=estate, draft=draft,
        estate_draft=estate_draft,
        published=published, withdrawn=withdrawn, superseded=superseded, p_published=p1, p_closed=p2,
        p_open=p3.id, p_open_opening=p3.opening_fen, journal=journal, query=query)


@pytest.fixture(scope="module")
def objects(app):
    """The world above, committed once for the module's cases; the tables emptied afterwards."""
    try:
        with app.app_context():
            clock.set_now(None)
            limiter.reset()
            try:
                built = _build(app.test_client())
            finally:
                db.session.remove()   # no transaction left open (on SQLite, no lock held)
        yield built
    finally:
        with app.app_context():
            _empty_tables(db.engine)


# --- nothing written when refused ----------------------------------------------------------------------------

COUNTED = (Notice, NoticeScope, AuditEntry, Notification, FundPeriod, Journal, JournalEntry, FundQuery, FundAudit,
           Commitment)


def snapshot(o) -> dict:
    count = {model.__tablename__: db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar()
             for model in COUNTED}
    notices = db.session.execute(sa.select(Notice.id, Notice.state, Notice.title, Notice.publish_at)
                                 .order_by(Notice.id)).all()
    acks = db.session.execute(sa.select(NoticeAudience.notice_id, NoticeAudience.user_id, NoticeAudience.acked_at)
                              .order_by(NoticeAudience.notice_id, NoticeAudience.user_id)).all()
    periods = db.session.execute(sa.select(FundPeriod.id, FundPeriod.state, FundPeriod.bank_balance_fen,
                                           FundPeriod.notice_id).order_by(FundPeriod.id)).all()
    queries = db.session.execute(sa.select(FundQuery.id, FundQuery.state, FundQuery.answer)
                                 .order_by(FundQuery.id)).all()
    return {**count, "notices": notices, "acks": acks, "periods": periods, "queries": queries}


# --- the cases ------------------------------------------------------------------------------------------------

def test_every_route_of_the_two_blueprints_is_in_the_table(app):
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules()
              if rule.endpoint.split(".")[0] in ("notices", "funds")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    tabled = {(t.method, t.rule) for t in TARGETS.values()}
    assert routes - tabled == set(), "routes missing from the matrix"
    assert tabled - routes == set(), "the matrix names routes that do not exist"


@pytest.mark.parametrize("target, caller, expected", CASES)
def test_each_caller_gets_exactly_its_status(client, objects, target, caller, expected):
    t = TARGETS[target]
    headers = {} if caller == "anonymous" else auth(db.session.get(User, objects.users[caller]))
    writes = t.method != "GET"
    before = snapshot(objects) if writes else None
    response = client.open(t.url(objects), method=t.method, headers=headers,
                           json=t.body(objects) if t.body else None)
    assert response.status_code == expected, (WHO[caller], response.status_code, response.get_json())
    if writes:
        after = snapshot(objects)
        if expected >= 400:
            assert after == before, "a refused request wrote something"
        else:
            assert after != before, "an allowed write wrote nothing"
    if expected < 300 and t.check is not None:
        t.check(response, caller, objects)


def test_the_lists_condition_agrees_with_may_manage_for_every_kind_of_place():
    """access.manages_sql (the managed list's drafts) decides as access.may_manage, for each scope type, a
    building with no neighbourhood of its own, two places at once, and each reach of staff and admins."""
    from models.places import Area, Building, Neighbourhood
    from service import people
    from service.notices import access
    from tests.factories import add_units

    w = make_world()
    add_units(w.estate, 1)   # a building with no neighbourhood: the estate's two are responsible for it
    loose = db.session.execute(sa.select(Building.id).where(Building.estate_id == w.estate.id,
                                                            Building.neighbourhood_id.is_(None))).scalar_one()
    lone_area = Area(code=f"x{w.area.id}", street_id=w.street.id, name="空片区")   # an area with no neighbourhood
    db.session.add(lone_area)
    db.session.flush()
    far_building = db.session.execute(sa.select(Building.id).where(Building.neighbourhood_id == w.far_nb.id)
                                      ).scalar_one()
    author = make_user(name="作者", roles=[("committee", "estate", w.estate.id)])
    places = {
        "street": [("street", w.street.id)], "area": [("area", w.area.id)], "empty area": [("area", lone_area.id)],
        "nb": [("neighbourhood", w.nb.id)], "nb2": [("neighbourhood", w.nb2.id)], "estate": [("estate", w.estate.id)],
        "building 1": [("building", w.building.id)], "building 2": [("building", w.building2.id)],
        "loose building": [("building", loose)], "entrance": [("entrance", w.entrance.id)],
        "buildings 1 and 2": [("building", w.building.id), ("building", w.building2.id)],
        "far building": [("building", far_building)], "other street": [("street", w.other_street.id)],
    }
    ids = {}
    for name, scopes in places.items():
        street = w.other_street.id if name in ("far building", "other street") else w.street.id
        notice = Notice(street_id=street, category="committee", title=name, body="…", state="draft",
                        publish_at=clock.now(), author_user_id=author.id, author_role="committee")
        db.session.add(notice)
        db.session.flush()
        db.session.add_all([NoticeScope(notice_id=notice.id, scope_type=t, scope_id=i) for t, i in scopes])
        ids[name] = notice.id
    area_nbs = db.session.execute(sa.select(Neighbourhood.id).where(Neighbourhood.area_id == w.area.id)).scalars()
    assert set(area_nbs) == {w.nb.id, w.nb2.id}
    db.session.commit()
    actors = {
        "author": author, "resident": make_user(name="居民"),
        "nb staff": make_user(name="甲", roles=[("staff", "neighbourhood", w.nb.id)]),
        "nb2 staff": make_user(name="乙", roles=[("staff", "neighbourhood", w.nb2.id)]),
        "both": make_user(name="丙", roles=[("staff", "neighbourhood", w.nb.id), ("staff", "neighbourhood", w.nb2.id)]),
        "street staff": make_user(name="丁", roles=[("staff", "street", w.street.id)]),
        "street staff and far nb": make_user(name="戊", roles=[("staff", "street", w.street.id),
                                                              ("staff", "neighbourhood", w.far_nb.id)]),
        "far admin": make_user(name="己", roles=[("admin", "street", w.other_street.id)]),
        "district admin": make_user(name="庚", roles=[("admin", "district", w.district.id)]),
        "committee": make_user(name="辛", roles=[("committee", "estate", w.estate.id)]),
    }
    for who, user in actors.items():
        actor = people.load_actor(user.id)
        by_sql = set(db.session.execute(sa.select(Notice.id).where(Notice.id.in_(list(ids.values())),
                                                                   access.manages_sql(**access.manages_shape(actor))),
                                        access.manages_params(actor)).scalars())
        expected = {i for i in ids.values() if access.may_manage(actor, db.session.get(Notice, i))}
        assert by_sql == expected, (who, {n for n, i in ids.items() if i in by_sql ^ expected})
    nb_staff = people.load_actor(actors["nb staff"].id)
    assert {n for n, i in ids.items() if access.may_manage(nb_staff, db.session.get(Notice, i))} == {
        "nb", "building 1", "entrance"}
