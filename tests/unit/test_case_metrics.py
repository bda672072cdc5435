"""Case metrics on hand-built cases whose every figure is known exactly."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime, timedelta

import pytest

from models.base import db
from models.cases import Case
from service import clock, people
from service.cases import metrics, rules
from service.clock import SHANGHAI
from service.errors import Forbidden, InvalidInput
from tests.factories import auth, make_user, make_world

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=SHANGHAI)
NOV_1, NOV_30 = date(2026, 11, 1), date(2026, 11, 30)
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def local(*parts) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


@pytest.fixture
def w():
    world = make_world()
    clock.set_now(NOW)
    return world


@pytest.fixture
def who(w):
    class Who:
        reporter = make_user(name="王秀英")
        street_staff = make_user(name="街道李", roles=[("staff", "street", w.street.id)])
        nb_staff = make_user(name="居委张", roles=[("staff", "neighbourhood", w.nb.id)])
        other_staff = make_user(name="宜川吴", roles=[("staff", "street", w.other_street.id)])
        admin = make_user(name="区管理员", roles=[("admin", "district", w.district.id)])
        resident = make_user(name="居民赵")
    return Who


def actor(user):
    return people.load_actor(user.id)


def add(w, reporter, received: datetime, **fields) -> Case:
    """One case, dispatched at receipt, with the default deadlines (contact +1 day, handling +5 days)."""
    values = dict(number=f"T{uuid.uuid4().hex[:12]}", category_code="corridor_clutter", description="楼道堆物",
                  street_id=w.street.id, neighbourhood_id=w.nb.id,
                  reporter_user_id=reporter.id if reporter is not None else None, contact_consent=True,
                  status="dispatched", received_at=received, dispatched_at=received,
                  contact_due_at=received + DAY, handle_due_at=received + 5 * DAY)
    values.update(fields)
    case = Case(**values)
    db.session.add(case)
    db.session.flush()
    return case


def november(user, **kwargs) -> dict:
    kwargs.setdefault("street_id", kwargs.pop("street", None))
    return metrics.compute(actor(user), date_from=NOV_1, date_to=NOV_30, **kwargs)


# --- 先行联系率 ----------------------------------------------------------------------------------------------------

def test_contact_rate_counts_contactable_due_cases_with_exact_boundaries(w, who):
    r = local(2026, 11, 10, 9)
    due = r + DAY
    on_time = add(w, who.reporter, r, first_contact_at=due)                     # exactly at the deadline: on time
    add(w, who.reporter, r, first_contact_at=due + SECOND)                      # one second later: late
    add(w, who.reporter, r, first_contact_at=r + HOUR)                          # on time
    add(w, who.reporter, r, first_contact_at=r + 2 * HOUR)                      # on time
    add(w, who.reporter, r, contact_consent=False)                              # no consent: left out
    add(w, who.reporter, r, contact_consent=False, first_contact_at=due + DAY)   # no consent: left out, even if late
    add(w, None, r)                                                             # no reporter: left out
    add(w, who.reporter, local(2026, 11, 30, 20), contact_due_at=local(2026, 12, 4, 23, 59, 59))  # not yet due
    add(w, who.reporter, r)                                                     # never contacted, past due: late
    add(w, who.reporter, r, status="submitted", dispatched_at=None, contact_due_at=None, handle_due_at=None)
    add(w, who.reporter, r, status="merged", merged_into_id=on_time.id, first_contact_at=r + HOUR)  # merged: out

    total = november(who.street_staff, street=w.street.id)["total"]

    assert total["volume"] == 10
    assert total["excluded"] == {"merged": 1, "rejected": 0, "withdrawn": 0}
    assert total["contact_rate"] == {"numerator": 3, "denominator": 5, "rate": 60.0}


def test_contact_rate_three_of_four(w, who):
    r = local(2026, 11, 2, 14)
    for minutes in (5, 30, 60 * 24):
        add(w, who.reporter, r, first_contact_at=r + timedelta(minutes=minutes))
    add(w, who.reporter, r, first_contact_at=r + DAY + SECOND)
    total = november(who.street_staff, street=w.street.id)["total"]
    assert total["contact_rate"] == {"numerator": 3, "denominator": 4, "rate": 75.0}


# --- 按时办结率 and 逾期工单量 ------------------------------------------------------------------------------------

def test_on_time_rate_uses_the_deadline_in_force_and_counts_open_overdue(w, who):
    r = local(2026, 11, 5, 9)
    handle = r + 5 * DAY
    closed = dict(status="closed", outcome="solved")
    add(w, who.reporter, r, closed_at=handle, **closed)                          # exactly at the deadline: on time
    add(w, who.reporter, r, closed_at=handle + SECOND, **closed)                 # late
    add(w, who.reporter, r, closed_at=r + DAY, **closed)                         # on time
    add(w, who.reporter, r, closed_at=r + 3 * DAY, **closed)                     # on time
    rework = handle + 10 * DAY
    add(w, who.reporter, r, cycle=2, rework_due_at=rework, closed_at=handle + 5 * DAY, **closed)  # on time (重办)
    add(w, who.reporter, r, cycle=2, rework_due_at=rework, closed_at=rework + SECOND, **closed)   # late (重办)
    add(w, who.reporter, r, status="archived", outcome="explained", closed_at=r + 2 * DAY)      # archived, on time
    add(w, who.reporter, r, status="in_progress")                                # open, past due: overdue
    add(w, who.reporter, r, status="in_progress", handle_due_at=local(2026, 12, 10, 23, 59, 59))  # open, not due
    add(w, who.reporter, r, status="reopened", cycle=2, rework_due_at=local(2026, 12, 5, 23, 59, 59))  # not due
    add(w, who.reporter, r, status="reopened", cycle=2, rework_due_at=local(2026, 11, 20, 23, 59, 59))  # overdue

    total = november(who.street_staff, street=w.street.id)["total"]

    assert total["volume"] == 11
    assert (total["closed"], total["open"]) == (7, 4)
    assert total["on_time_rate"] == {"numerator": 5, "denominator": 9, "rate": 55.56}
    assert (total["overdue"], total["overdue_closed_late"], total["overdue_open"]) == (4, 2, 2)


# --- 实际解决率, 解释说明率, 满意率, 参评率 -----------------------------------------------------------------------

def test_outcomes_and_satisfaction(w, who):
    r = local(2026, 11, 12, 9)
    closed = dict(status="closed", closed_at=r + DAY, rated_at=r + 2 * DAY)
    add(w, who.reporter, r, outcome="solved", rating=5, **closed)
    add(w, who.reporter, r, outcome="solved", rating=3, **closed)               # 基本满意 counts as satisfied
    add(w, who.reporter, r, outcome="explained", rating=2, **closed)            # 不满意 does not
    add(w, who.reporter, r, outcome="solved", status="closed", closed_at=r + DAY)  # not rated
    add(w, who.reporter, r, outcome="explained", rating=4, **{**closed, "status": "archived"})
    add(w, who.reporter, r, outcome="solved", rating=1, **closed)
    add(w, who.reporter, r, status="reopened", cycle=2, rework_due_at=r + 9 * DAY, rating=1)  # rated, then reopened
    add(w, who.reporter, r, status="in_progress")
    add(w, who.reporter, r, status="rejected", rating=5)                        # rejected: left out entirely

    total = november(who.street_staff, street=w.street.id)["total"]

    assert total["volume"] == 8
    assert total["closed"] == 6
    assert total["solved_rate"] == {"numerator": 4, "denominator": 6, "rate": 66.67}
    assert total["explained_rate"] == {"numerator": 2, "denominator": 6, "rate": 33.33}
    assert total["satisfaction_rate"] == {"numerator": 3, "denominator": 6, "rate": 50.0}
    assert total["rating_participation_rate"] == {"numerator": 5, "denominator": 6, "rate": 83.33}
    assert total["mean_rating"] == {"sum": 16, "count": 6, "mean": 2.67}
    assert total["excluded"]["rejected"] == 1


def test_every_rate_is_null_when_there_is_nothing_to_count(w, who):
    report = november(who.street_staff, street=w.street.id)
    total = report["total"]
    assert total["volume"] == 0
    for name in metrics.RATES:
        assert total[name] == {"numerator": 0, "denominator": 0, "rate": None}
    assert total["mean_rating"] == {"sum": 0, "count": 0, "mean": None}
    assert total["hours_to_close"] == {"count": 0, "mean": None, "p90": None}
    assert report["groups"] == []


# --- durations -------------------------------------------------------------------------------------------------

def test_mean_and_p90_hours_to_first_contact_and_to_close(w, who):
    r = local(2026, 11, 3, 8)
    for k in range(1, 11):
        add(w, who.reporter, r, first_contact_at=r + k * HOUR, status="closed", outcome="solved",
            closed_at=r + 10 * k * HOUR, handle_due_at=r + 30 * DAY)
    add(w, who.reporter, r, status="in_progress")  # neither contacted nor closed: not measured

    total = november(who.street_staff, street=w.street.id)["total"]

    assert total["hours_to_first_contact"] == {"count": 10, "mean": 5.5, "p90": 9.0}
    assert total["hours_to_close"] == {"count": 10, "mean": 55.0, "p90": 90.0}


def test_p90_is_the_nearest_rank():
    assert metrics.p90([]) is None
    assert metrics.p90([7.0]) == 7.0
    assert metrics.p90([float(v) for v in range(10, 0, -1)]) == 9.0
    assert metrics.p90([float(v) for v in range(1, 12)]) == 10.0   # ceil(9.9) = 10th
    assert metrics.p90([float(v) for v in range(1, 21)]) == 18.0   # ceil(18) = 18th


def test_rate_rounds_half_up_and_never_divides_by_zero():
    assert metrics.rate(1, 8) == {"numerator": 1, "denominator": 8, "rate": 12.5}
    assert metrics.rate(1, 3)["rate"] == 33.33
    assert metrics.rate(2, 3)["rate"] == 66.67
    assert metrics.rate(1, 16)["rate"] == 6.25
    assert metrics.rate(1, 800)["rate"] == 0.13  # 0.125 → 0.13 (half up)
    assert metrics.rate(0, 0)["rate"] is None


# --- cohort: period, place, exclusions --------------------------------------------------------------------------

def test_cohort_is_received_in_local_dates_both_inclusive(w, who):
    add(w, who.reporter, local(2026, 11, 1, 0, 0, 0))          # first instant of the period
    add(w, who.reporter, local(2026, 10, 31, 23, 59, 59))      # the second before
    add(w, who.reporter, local(2026, 11, 30, 23, 59, 59))      # last second of `to`
    add(w, who.reporter, local(2026, 12, 1, 0, 0, 0))          # the day after `to`
    add(w, who.reporter, local(2026, 11, 15), street_id=w.other_street.id, neighbourhood_id=w.far_nb.id)
    r = local(2026, 11, 20)
    add(w, who.reporter, r, status="merged")
    add(w, who.reporter, r, status="rejected")
    add(w, who.reporter, r, status="withdrawn")
    add(w, who.reporter, local(2026, 10, 20), status="merged")  # outside the period: not even excluded

    report = november(who.street_staff, street=w.street.id)

    assert report["total"]["volume"] == 2
    assert report["total"]["excluded"] == {"merged": 1, "rejected": 1, "withdrawn": 1}
    period = report["period"]
    assert (period["from"], period["to"], period["to_inclusive"]) == (NOV_1, NOV_30, True)
    assert period["start"] == local(2026, 11, 1) and period["end"] == local(2026, 12, 1)
    assert period["as_of"] == NOW
    one_day = metrics.compute(actor(who.street_staff), street_id=w.street.id, date_from=NOV_1, date_to=NOV_1)
    assert one_day["total"]["volume"] == 1


def test_default_period_is_this_month_to_today(w, who):
    add(w, who.reporter, local(2026, 12, 1, 9))
    add(w, who.reporter, local(2026, 11, 30, 9))
    report = metrics.compute(actor(who.street_staff))
    assert (report["period"]["from"], report["period"]["to"]) == (date(2026, 12, 1), date(2026, 12, 3))
    assert report["scope"]["street_id"] == w.street.id
    assert report["total"]["volume"] == 1
    only_from = metrics.compute(actor(who.street_staff), date_from=date(2026, 2, 3))["period"]
    assert (only_from["from"], only_from["to"]) == (date(2026, 2, 3), date(2026, 2, 28))
    this_month = metrics.compute(actor(who.street_staff), date_from=date(2026, 12, 2))["period"]
    assert this_month["to"] == date(2026, 12, 3)


def test_neighbourhood_scope_counts_only_that_neighbourhood(w, who):
    r = local(2026, 11, 8, 10)
    add(w, who.reporter, r)
    add(w, who.reporter, r, neighbourhood_id=w.nb2.id)
    add(w, who.reporter, r, neighbourhood_id=w.nb2.id)
    add(w, who.reporter, r, neighbourhood_id=None)  # handled by the street office
    assert november(who.street_staff, street=w.street.id)["total"]["volume"] == 4
    report = november(who.street_staff, neighbourhood_id=w.nb2.id)
    assert report["total"]["volume"] == 2
    assert report["scope"] == {"street_id": w.street.id, "street_name": "万里街道", "neighbourhood_id": w.nb2.id,
                               "neighbourhood_name": "中浩云居委会"}
    assert november(who.nb_staff)["total"]["volume"] == 1  # their only neighbourhood by default


# --- grouping -------------------------------------------------------------------------------------------------------

@pytest.fixture
def grouped(w, who):
    a = make_user(name="承办甲", roles=[("staff", "neighbourhood", w.nb.id)])
    b = make_user(name="承办乙", roles=[("staff", "neighbourhood", w.nb2.id)])
    r = local(2026, 11, 16, 9)
    add(w, who.reporter, r, assignee_user_id=a.id, status="closed", outcome="solved", closed_at=r + DAY,
        first_contact_at=r + HOUR)
    add(w, who.reporter, r, assignee_user_id=a.id, status="in_progress", first_contact_at=r + 3 * HOUR)
    add(w, who.reporter, r, neighbourhood_id=w.nb2.id, category_code="garbage", assignee_user_id=b.id,
        status="closed", outcome="explained", closed_at=r + 6 * DAY, first_contact_at=r + 2 * DAY)
    add(w, who.reporter, r, neighbourhood_id=None, category_code="garbage", status="dispatched",
        contact_due_at=local(2026, 12, 8), handle_due_at=local(2026, 12, 12))
    add(w, who.reporter, r, category_code="garbage", assignee_user_id=a.id, status="merged")
    return a, b


def _by_key(report) -> dict:
    return {g["key"]: g for g in report["groups"]}


def _assert_total_is_the_sum(report):
    total, groups = report["total"], report["groups"]
    for name in ("volume", "closed", "open", "overdue", "overdue_closed_late", "overdue_open"):
        assert total[name] == sum(g[name] for g in groups), name
    for name in metrics.RATES:
        for part in ("numerator", "denominator"):
            assert total[name][part] == sum(g[name][part] for g in groups), (name, part)
    assert total["hours_to_first_contact"]["count"] == sum(g["hours_to_first_contact"]["count"] for g in groups)


def test_group_by_category(w, who, grouped):
    report = november(who.street_staff, street=w.street.id, group_by="category")
    groups = _by_key(report)
    assert set(groups) == {"corridor_clutter", "garbage"}
    clutter, garbage = groups["corridor_clutter"], groups["garbage"]
    assert (clutter["label"], clutter["volume"], garbage["label"], garbage["volume"]) == ("楼道堆物", 2, "垃圾分类与清运", 2)
    assert clutter["on_time_rate"] == {"numerator": 1, "denominator": 2, "rate": 50.0}
    assert garbage["on_time_rate"] == {"numerator": 0, "denominator": 1, "rate": 0.0}
    assert garbage["excluded"]["merged"] == 1
    assert clutter["hours_to_first_contact"] == {"count": 2, "mean": 2.0, "p90": 3.0}
    assert report["total"]["label"] == "合计" and report["total"]["key"] is None
    assert report["total"]["on_time_rate"] == {"numerator": 1, "denominator": 3, "rate": 33.33}
    _assert_total_is_the_sum(report)


def test_group_by_neighbourhood(w, who, grouped):
    report = november(who.street_staff, street=w.street.id, group_by="neighbourhood")
    groups = _by_key(report)
    assert set(groups) == {w.nb.id, w.nb2.id, None}
    assert (groups[w.nb.id]["label"], groups[w.nb.id]["volume"]) == ("香泉路居委会", 2)
    assert (groups[w.nb2.id]["label"], groups[w.nb2.id]["volume"]) == ("中浩云居委会", 1)
    assert (groups[None]["label"], groups[None]["volume"]) == ("街道直办", 1)
    assert groups[w.nb2.id]["solved_rate"] == {"numerator": 0, "denominator": 1, "rate": 0.0}
    assert groups[w.nb2.id]["explained_rate"]["rate"] == 100.0
    assert [g["key"] for g in report["groups"]][0] == w.nb.id  # largest volume first
    _assert_total_is_the_sum(report)


def test_group_by_assignee(w, who, grouped):
    a, b = grouped
    report = november(who.street_staff, street=w.street.id, group_by="assignee")
    groups = _by_key(report)
    assert set(groups) == {a.id, b.id, None}
    assert (groups[a.id]["label"], groups[a.id]["volume"], groups[a.id]["excluded"]["merged"]) == ("承办甲", 2, 1)
    assert (groups[b.id]["label"], groups[b.id]["volume"]) == ("承办乙", 1)
    assert (groups[None]["label"], groups[None]["volume"]) == ("未分配", 1)
    assert groups[b.id]["overdue"] == 1 and groups[b.id]["hours_to_close"] == {"count": 1, "mean": 144.0, "p90": 144.0}
    _assert_total_is_the_sum(report)


def test_labels_in_english(w, who, grouped):
    report = november(who.street_staff, street=w.street.id, group_by="neighbourhood", lang="en")
    assert _by_key(report)[None]["label"] == "Street office"
    assert report["total"]["label"] == "Total"
    assert report["formulas"]["on_time_rate"].startswith("on_time_rate =")


# --- scope and validation --------------------------------------------------------------------------------------------

def test_scope_is_enforced(w, who):
    with pytest.raises(Forbidden):
        november(who.other_staff, street=w.street.id)
    with pytest.raises(Forbidden):
        november(who.other_staff, neighbourhood_id=w.nb.id)
    with pytest.raises(Forbidden):
        november(who.nb_staff, street=w.street.id)          # a neighbourhood is not the whole street
    with pytest.raises(Forbidden):
        november(who.nb_staff, neighbourhood_id=w.nb2.id)
    with pytest.raises(Forbidden):
        november(who.resident, street=w.street.id)
    with pytest.raises(Forbidden):
        november(who.street_staff, street=2147483647)
    assert november(who.nb_staff, neighbourhood_id=w.nb.id)["scope"]["neighbourhood_id"] == w.nb.id
    assert november(who.street_staff, neighbourhood_id=w.nb2.id)["scope"]["street_id"] == w.street.id
    assert november(who.admin, street=w.other_street.id)["scope"]["street_name"] == "宜川路街道"
    with pytest.raises(InvalidInput):
        november(who.admin)                                  # two streets: say which
    with pytest.raises(InvalidInput):
        november(who.admin, street=w.street.id, neighbourhood_id=w.far_nb.id)


def test_a_report_is_computed_again_after_the_freshness_window_and_shared_only_within_its_scope(w, who):
    r = local(2026, 11, 10, 9)
    add(w, who.reporter, r)
    first = november(who.street_staff, street=w.street.id)
    assert first["total"]["volume"] == 1
    add(w, who.reporter, r)                                  # a new case: not counted until the window ends
    window = timedelta(seconds=rules.policy().metrics_fresh_seconds)
    assert window == timedelta(seconds=60)
    clock.set_now(NOW + window - SECOND)
    again = november(who.street_staff, street=w.street.id)
    assert again["total"]["volume"] == 1 and again["period"]["as_of"] == first["period"]["as_of"]
    assert november(who.nb_staff, neighbourhood_id=w.nb.id)["total"]["volume"] == 2   # another scope: computed now
    with pytest.raises(Forbidden):                          # the scope is checked before a kept report is used
        november(who.other_staff, street=w.street.id)
    clock.set_now(NOW + window)
    fresh = november(who.street_staff, street=w.street.id)
    assert fresh["total"]["volume"] == 2 and fresh["period"]["as_of"] == NOW + window
    clock.set_now(NOW)                                      # a clock set back: not "within the window"
    assert november(who.street_staff, street=w.street.id)["period"]["as_of"] == NOW


def test_bad_parameters_are_refused(w, who):
    a = actor(who.street_staff)
    with pytest.raises(InvalidInput):
        metrics.compute(a, group_by="estate")
    with pytest.raises(InvalidInput):
        metrics.compute(a, date_from=date(2026, 11, 2), date_to=date(2026, 11, 1))
    with pytest.raises(InvalidInput):
        metrics.compute(a, date_from=date(2025, 1, 1), date_to=date(2026, 1, 2))  # 367 days
    assert metrics.compute(a, date_from=date(2025, 1, 1), date_to=date(2026, 1, 1))["total"]["volume"] == 0
    with pytest.raises(InvalidInput):
        metrics.compute(a, date_from=date(1, 1, 1), date_to=date(1, 1, 2))


# --- CSV ----------------------------------------------------------------------------------------------------------------

def test_csv_has_a_bom_chinese_headers_and_one_row_per_group(w, who, grouped):
    a, _ = grouped
    db.session.get(type(a), a.id).profile.name = "=HYPERLINK(\"http://x\")"
    db.session.flush()
    report = november(who.street_staff, street=w.street.id, group_by="assignee")
    text = metrics.to_csv(report)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["分组", "诉求量", "已办结", "办理中"]
    assert "先行联系率(%)" in header and "按时办结率(%)" in header and "满意率(%)" in header
    assert len(body) == len(report["groups"]) + 1
    records = {row[0]: dict(zip(header, row)) for row in body}
    assert set(records) == {"'=HYPERLINK(\"http://x\")", "承办乙", "未分配", "合计"}
    total = records["合计"]
    assert (total["诉求量"], total["按时办结数"], total["按时办结应办结数"], total["按时办结率(%)"]) == ("4", "1", "3", "33.33")
    assert total["满意率(%)"] == ""  # nobody rated: no rate
    assert records["承办乙"]["P90办结时长(小时)"] == "144.00"
    assert records["'=HYPERLINK(\"http://x\")"]["并单"] == "1"


# --- over HTTP ---------------------------------------------------------------------------------------------------------

def test_http_json_csv_and_refusals(client, w, who, grouped):
    db.session.commit()
    url = f"/api/v1/case-metrics?street_id={w.street.id}&from=2026-11-01&to=2026-11-30"
    response = client.get(url + "&group_by=category", headers=auth(who.street_staff))
    assert response.status_code == 200, response.json
    body = response.json
    assert body["period"]["from"] == "2026-11-01" and body["period"]["to"] == "2026-11-30"
    assert body["period"]["start"] == "2026-11-01T00:00:00+08:00"
    assert body["total"]["on_time_rate"] == {"numerator": 1, "denominator": 3, "rate": 33.33}
    assert {g["key"] for g in body["groups"]} == {"corridor_clutter", "garbage"}
    assert set(body["formulas"]) >= {"contact_rate", "on_time_rate", "solved_rate", "explained_rate",
                                     "satisfaction_rate", "overdue", "volume"}

    as_csv = client.get(url + "&group_by=category&format=csv", headers=auth(who.street_staff))
    assert as_csv.status_code == 200
    assert as_csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in as_csv.headers["Content-Disposition"]
    text = as_csv.get_data().decode("utf-8")
    assert text.startswith("\ufeff分组,诉求量")
    assert len(list(csv.reader(io.StringIO(text[1:])))) == 1 + 2 + 1

    accepted = client.get(url, headers=auth(who.street_staff, Accept="text/csv"))
    assert accepted.status_code == 200 and accepted.mimetype == "text/csv"
    assert client.get(url, headers=auth(who.street_staff, Accept="*/*")).mimetype == "application/json"

    refused = client.get(url, headers=auth(who.other_staff))
    assert refused.status_code == 403 and refused.json["error"] == "cases.out_of_scope"
    assert client.get(url, headers=auth(who.resident)).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get(url + "&group_by=estate", headers=auth(who.street_staff)).status_code == 422
    backwards = f"/api/v1/case-metrics?street_id={w.street.id}&from=2026-12-01&to=2026-11-01"
    assert client.get(backwards, headers=auth(who.street_staff)).status_code == 422
    english = client.get(url, headers=auth(who.street_staff, **{"Accept-Language": "en"}))
    assert english.json["total"]["label"] == "Total"
