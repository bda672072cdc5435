"""Case metrics (工单指标) for a street or a neighbourhood over a period, optionally grouped.

Everything is counted in the database with ``SUM(CASE …)`` over the index range
``(street_id, received_at)`` (``ix_case_street_received``); only the durations
needed for the 90th percentiles are fetched, one pair of numbers per case.

Definitions (these texts are also returned in every answer under ``formulas``):

Period and scope
    ``from`` and ``to`` are local dates (Asia/Shanghai), **both inclusive**: the
    period is ``[from 00:00+08:00, (to + 1 day) 00:00+08:00)``. The cohort is the
    cases *received* (``received_at``) in the period in the street (every case of
    the street, including those handled by the street office itself) or in one
    neighbourhood (居委会). Cases that are merged into another (status ``merged``
    or ``merged_into_id`` set), rejected (不予受理) or withdrawn (撤回) leave the
    cohort and are counted separately under ``excluded``.
    The cohort's cases are judged in their present state at ``as_of``, the moment
    of the request: a report for a past month still follows its cases until they
    are closed.

诉求量 ``volume``
    cases in the cohort.
已办结 ``closed``
    cases in the cohort with status ``closed`` or ``archived`` and a ``closed_at``
    (a reopened case is not closed: reopening clears ``closed_at``).
办理中 ``open``
    cases in the cohort in an open status (submitted … reopened, returned).
先行联系率 ``contact_rate``
    numerator: cases of the denominator with ``first_contact_at <= contact_due_at``
    (a contact at exactly the deadline is on time; one second later is not).
    denominator: dispatched cases (``dispatched_at`` and ``contact_due_at`` set)
    whose reporter can be contacted (a reporter account and ``contact_consent``),
    that were contacted or whose contact deadline has passed
    (``contact_due_at < as_of``). Cases where no contact is possible, and cases not
    yet contacted whose deadline is still ahead, are left out.
按时办结率 ``on_time_rate``
    the deadline in force is ``rework_due_at`` when ``cycle > 1`` and it is set
    (重办), else ``handle_due_at`` (approved extensions and complex-case approval
    already replaced it).
    numerator: closed cases with ``closed_at <= deadline`` (a closed case without
    any deadline cannot be late).
    denominator: closed cases + open cases whose deadline is past (``deadline < as_of``).
逾期工单量 ``overdue``
    closed late (``closed_at > deadline``) + open and past the deadline;
    both parts are given (``overdue_closed_late``, ``overdue_open``).
实际解决率 ``solved_rate``
    closed cases with outcome ``solved`` ÷ closed cases.
解释说明率 ``explained_rate``
    closed cases with outcome ``explained`` ÷ closed cases.
满意率 ``satisfaction_rate``
    cases rated in a satisfied level (config/rules/cases.yaml ``policy.satisfied_levels``,
    by default 5 非常满意, 4 满意, 3 基本满意) ÷ cases rated. Every rating in the
    cohort counts, also one given before the reporter reopened the case.
参评率 ``rating_participation_rate``
    closed cases with a rating ÷ closed cases.
平均评分 ``mean_rating``
    sum of ratings ÷ cases rated.
联系时长 ``hours_to_first_contact``
    hours from ``received_at`` to ``first_contact_at``, over the cohort's cases that
    were contacted: mean and p90.
办结时长 ``hours_to_close``
    hours from ``received_at`` to ``closed_at``, over the closed cases: mean and p90.
p90
    nearest rank: the ⌈0.9 × n⌉-th smallest value (with 10 values, the 9th).

Every rate is exact: integer ``numerator`` and ``denominator``, and ``rate`` the
percentage rounded half-up to two decimals, ``null`` when the denominator is 0.
Hours are rounded to two decimals. Grouping (by category, neighbourhood or
assignee) gives one row per group and a total row; every count is additive,
so the total is the sum of the groups.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from models.base import UTCDateTime, db
from models.cases import OPEN_STATUSES, Case
from models.people import ResidentProfile, User
from models.places import Neighbourhood, Street
from service import clock, csv_export
from service.cases import rules
from service.cases.errors import (DateOutOfRange, GroupByUnknown, MetricsScopeRequired, NeighbourhoodNotInStreet,
                                  OutOfScope, PeriodReversed, PeriodTooLong)
from service.people import Actor

GROUP_BY = ("category", "neighbourhood", "assignee")
EXCLUDED = ("merged", "rejected", "withdrawn")
CLOSED_STATUSES = ("closed", "archived")
MAX_DAYS = 366
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)

FORMULAS_ZH = {
    "cohort": "统计对象：受理时间（received_at）在 [from 00:00, to+1日 00:00)（上海时间，from、to 均含）内、"
              "属于所选街道或居民区的诉求；已并单、不予受理、已撤回的诉求不计入，另行列出（excluded）。"
              "各项按查询时刻（as_of）的状态计算。",
    "volume": "诉求量 = 统计对象中的诉求数",
    "contact_rate": "先行联系率 = 在先行联系时限内（first_contact_at ≤ contact_due_at，恰在时限当刻算按时）完成首次联系的诉求数 "
                    "÷ 已派单、诉求人可联系（有诉求人账号且同意联系）、且已联系或联系时限已过（contact_due_at < as_of）的诉求数；"
                    "无法联系的、未联系且时限未到的不计入",
    "on_time_rate": "按时办结率 = 在办理时限内办结（closed_at ≤ 时限；重办（cycle > 1）用再次处置时限 rework_due_at，"
                    "否则用 handle_due_at，已含批准的延期）的诉求数 ÷ （已办结数 + 未办结且已超时限数）",
    "overdue": "逾期工单量 = 超时限办结数（closed_at > 时限） + 未办结且已超时限数（时限 < as_of）",
    "solved_rate": "实际解决率 = 办理结果为实际解决（solved）的已办结诉求数 ÷ 已办结数",
    "explained_rate": "解释说明率 = 办理结果为解释说明（explained）的已办结诉求数 ÷ 已办结数",
    "satisfaction_rate": "满意率 = 评价为满意档（非常满意、满意、基本满意，即 5、4、3 分）的诉求数 ÷ 已评价诉求数",
    "rating_participation_rate": "参评率 = 已评价的已办结诉求数 ÷ 已办结数",
    "mean_rating": "平均评分 = 评分之和 ÷ 已评价诉求数",
    "hours_to_first_contact": "首次联系时长 = 受理至首次联系的小时数（已联系的诉求）：平均值与第90百分位（最近秩法，第⌈0.9n⌉小的值）",
    "hours_to_close": "办结时长 = 受理至办结的小时数（已办结的诉求）：平均值与第90百分位（最近秩法）",
    "rate": "比率给出分子、分母（整数）和百分比（四舍五入保留两位小数）；分母为 0 时百分比为 null",
}
FORMULAS_EN = {
    "cohort": "Cases received (received_at) in [from 00:00, to + 1 day 00:00) Asia/Shanghai (from and to inclusive) "
              "in the street or neighbourhood; merged, rejected and withdrawn cases are left out and counted under "
              "'excluded'. Each case is judged in its state at as_of (the time of the request).",
    "volume": "volume = cases in the cohort",
    "contact_rate": "contact_rate = cases first contacted by the contact deadline (first_contact_at <= contact_due_at) "
                    "÷ dispatched cases whose reporter can be contacted (has an account and consented) that were "
                    "contacted or whose contact deadline has passed (contact_due_at < as_of)",
    "on_time_rate": "on_time_rate = cases closed by the deadline in force (rework_due_at when cycle > 1, else "
                    "handle_due_at, extensions included) ÷ (closed cases + open cases past that deadline)",
    "overdue": "overdue = cases closed after the deadline + open cases past the deadline",
    "solved_rate": "solved_rate = closed cases with outcome 'solved' ÷ closed cases",
    "explained_rate": "explained_rate = closed cases with outcome 'explained' ÷ closed cases",
    "satisfaction_rate": "satisfaction_rate = ratings in the satisfied levels (5, 4, 3) ÷ cases rated",
    "rating_participation_rate": "rating_participation_rate = closed cases rated ÷ closed cases",
    "mean_rating": "mean_rating = sum of ratings ÷ cases rated",
    "hours_to_first_contact": "hours from received_at to first_contact_at over contacted cases: mean and p90 "
                              "(nearest rank: the ceil(0.9 n)-th smallest)",
    "hours_to_close": "hours from received_at to closed_at over closed cases: mean and p90 (nearest rank)",
    "rate": "rates give an integer numerator and denominator and a percentage rounded half-up to 2 decimals; "
            "null when the denominator is 0",
}
RATES = ("contact_rate", "on_time_rate", "solved_rate", "explained_rate", "satisfaction_rate",
         "rating_participation_rate")
NO_NEIGHBOURHOOD = {"zh": "街道直办", "en": "Street office"}
NO_ASSIGNEE = {"zh": "未分配", "en": "Unassigned"}
TOTAL = {"zh": "合计", "en": "Total"}


@dataclass(frozen=True)
class Scope:
    street_id: int
    street_name: str
    neighbourhood_id: int | None = None
    neighbourhood_name: str | None = None


# --- validation -----------------------------------------------------------------------------------------------------

def resolve_scope(actor: Actor, street_id: int | None, neighbourhood_id: int | None) -> Scope:
    """The street or neighbourhood asked for, if the actor covers it.

    Neighbourhood staff see their neighbourhoods; street staff and admins (street or
    district scope) see whole streets and every neighbourhood in them. Without
    either parameter, the actor's only street (or only neighbourhood) is used.
    """
    if not actor.is_staff:
        raise OutOfScope()
    if neighbourhood_id is None and street_id is None:
        if len(actor.street_ids) == 1:
            street_id = next(iter(actor.street_ids))
        elif not actor.street_ids and len(actor.neighbourhood_ids) == 1:
            neighbourhood_id = next(iter(actor.neighbourhood_ids))
        else:
            raise MetricsScopeRequired()
    if neighbourhood_id is not None:
        if neighbourhood_id not in actor.neighbourhood_ids:
            raise OutOfScope()
        row = db.session.execute(sa.select(Neighbourhood.street_id, Neighbourhood.committee_name, Street.name)
                                 .join(Street, Street.id == Neighbourhood.street_id)
                                 .where(Neighbourhood.id == neighbourhood_id)).first()
        if row is None:
            raise OutOfScope()
        if street_id is not None and street_id != row.street_id:
            raise NeighbourhoodNotInStreet()
        return Scope(row.street_id, row.name, neighbourhood_id, row.committee_name)
    if street_id not in actor.street_ids:
        raise OutOfScope()
    name = db.session.execute(sa.select(Street.name).where(Street.id == street_id)).scalar()
    if name is None:
        raise OutOfScope()
    return Scope(street_id, name)


def resolve_period(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """Defaults: ``to`` today (Shanghai), or with only ``from`` the last day of ``from``'s month
    (today if that is earlier and not before ``from``); ``from`` the first day of ``to``'s month."""
    if date_to is None:
        today = clock.local_now().date()
        if date_from is None:
            date_to = today
        else:
            month_end = (date_from.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
            date_to = today if date_from <= today < month_end else month_end
    if date_from is None:
        date_from = date_to.replace(day=1)
    for field, value in (("from", date_from), ("to", date_to)):
        if not EARLIEST <= value <= LATEST:
            raise DateOutOfRange(field)
    if date_from > date_to:
        raise PeriodReversed()
    if (date_to - date_from).days + 1 > MAX_DAYS:
        raise PeriodTooLong(days=MAX_DAYS)
    return date_from, date_to


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.SHANGHAI)


# --- the queries ----------------------------------------------------------------------------------------------------

def _count(condition) -> sa.ColumnElement:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _seconds(later, earlier) -> sa.ColumnElement:
    """Seconds between two timestamp columns, in the database's own dialect."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.extract("epoch", later - earlier), sa.Float)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


def _group_key(group_by: str | None):
    if group_by == "category":
        return Case.category_code
    if group_by == "neighbourhood":
        return Case.neighbourhood_id
    if group_by == "assignee":
        return Case.assignee_user_id
    return None


def _rows(scope: Scope, start: datetime, end: datetime, as_of: datetime, group_by: str | None):
    now = sa.literal(as_of, UTCDateTime())
    satisfied = rules.policy().satisfied_levels
    merged = sa.or_(Case.status == "merged", Case.merged_into_id.is_not(None))
    included = sa.and_(Case.status.not_in(EXCLUDED), Case.merged_into_id.is_(None))
    closed = sa.and_(included, Case.status.in_(CLOSED_STATUSES), Case.closed_at.is_not(None))
    is_open = sa.and_(included, Case.status.in_(OPEN_STATUSES))
    deadline = sa.case((sa.and_(Case.cycle > 1, Case.rework_due_at.is_not(None)), Case.rework_due_at),
                       else_=Case.handle_due_at)
    contact_due = sa.and_(included, Case.reporter_user_id.is_not(None), Case.contact_consent.is_(True),
                          Case.dispatched_at.is_not(None), Case.contact_due_at.is_not(None),
                          sa.or_(Case.first_contact_at.is_not(None), Case.contact_due_at < now))
    rated = sa.and_(included, Case.rating.is_not(None))
    measures = {
        "volume": _count(included),
        "merged": _count(merged),
        "rejected": _count(sa.and_(Case.status == "rejected", Case.merged_into_id.is_(None))),
        "withdrawn": _count(sa.and_(Case.status == "withdrawn", Case.merged_into_id.is_(None))),
        "closed": _count(closed),
        "open": _count(is_open),
        "closed_on_time": _count(sa.and_(closed, sa.or_(deadline.is_(None), Case.closed_at <= deadline))),
        "closed_late": _count(sa.and_(closed, Case.closed_at > deadline)),
        "open_overdue": _count(sa.and_(is_open, deadline < now)),
        "contact_due": _count(contact_due),
        "contact_on_time": _count(sa.and_(contact_due, Case.first_contact_at <= Case.contact_due_at)),
        "solved": _count(sa.and_(closed, Case.outcome == "solved")),
        "explained": _count(sa.and_(closed, Case.outcome == "explained")),
        "rated": _count(rated),
        "satisfied": _count(sa.and_(rated, Case.rating.in_(satisfied))),
        "closed_rated": _count(sa.and_(closed, Case.rating.is_not(None))),
        "rating_sum": sa.func.sum(sa.case((rated, Case.rating), else_=0)),
    }
    where = [Case.street_id == scope.street_id, Case.received_at >= start, Case.received_at < end]
    if scope.neighbourhood_id is not None:
        where.append(Case.neighbourhood_id == scope.neighbourhood_id)
    key = _group_key(group_by)
    columns = [(key if key is not None else sa.null()).label("key")]
    columns += [expression.label(name) for name, expression in measures.items()]
    query = sa.select(*columns).where(*where)
    if key is not None:
        query = query.group_by(key)
    counts = {}
    for row in db.session.execute(query).mappings():
        values = {name: int(row[name] or 0) for name in measures}
        if key is None and not any(values.values()):
            continue
        counts[row["key"]] = values
    # The durations, one pair per case that has one, for the means and the 90th percentiles.
    durations = sa.select(
        (key if key is not None else sa.null()).label("key"),
        sa.case((Case.first_contact_at.is_not(None), _seconds(Case.first_contact_at, Case.received_at))),
        sa.case((closed, _seconds(Case.closed_at, Case.received_at))),
    ).where(*where, included, sa.or_(Case.first_contact_at.is_not(None), closed))
    times: dict = {}
    for group, contact, close in db.session.execute(durations):
        lists = times.setdefault(group, ([], []))
        if contact is not None:
            lists[0].append(float(contact))
        if close is not None:
            lists[1].append(float(close))
    return counts, times


# --- arithmetic -----------------------------------------------------------------------------------------------------

def rate(numerator: int, denominator: int) -> dict:
    """An exact fraction and its percentage rounded half-up to 2 decimals (None when the denominator is 0)."""
    percent = None
    if denominator:
        percent = float((Decimal(numerator) * 100 / Decimal(denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP))
    return {"numerator": numerator, "denominator": denominator, "rate": percent}


def p90(values: list[float]) -> float | None:
    """Nearest-rank 90th percentile: the ceil(0.9 n)-th smallest value."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[(9 * len(ordered) + 9) // 10 - 1]


def _hours(seconds: float | None) -> float | None:
    if seconds is None:
        return None
    return float((Decimal(repr(seconds)) / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP))


def _duration(values: list[float]) -> dict:
    mean = sum(values) / len(values) if values else None
    return {"count": len(values), "mean": _hours(mean), "p90": _hours(p90(values))}


def _row(key, label: str, c: dict, contact_seconds: list[float], close_seconds: list[float]) -> dict:
    mean_rating = None
    if c["rated"]:
        mean_rating = float((Decimal(c["rating_sum"]) / c["rated"]).quantize(Decimal("0.01"), ROUND_HALF_UP))
    return {
        "key": key, "label": label, "volume": c["volume"],
        "excluded": {"merged": c["merged"], "rejected": c["rejected"], "withdrawn": c["withdrawn"]},
        "closed": c["closed"], "open": c["open"],
        "overdue": c["closed_late"] + c["open_overdue"],
        "overdue_closed_late": c["closed_late"], "overdue_open": c["open_overdue"],
        "contact_rate": rate(c["contact_on_time"], c["contact_due"]),
        "on_time_rate": rate(c["closed_on_time"], c["closed"] + c["open_overdue"]),
        "solved_rate": rate(c["solved"], c["closed"]),
        "explained_rate": rate(c["explained"], c["closed"]),
        "satisfaction_rate": rate(c["satisfied"], c["rated"]),
        "rating_participation_rate": rate(c["closed_rated"], c["closed"]),
        "mean_rating": {"sum": c["rating_sum"], "count": c["rated"], "mean": mean_rating},
        "hours_to_first_contact": _duration(contact_seconds),
        "hours_to_close": _duration(close_seconds),
    }


def _labels(group_by: str | None, keys, lang: str) -> dict:
    en = lang == "en"
    if group_by == "category":
        labels = {}
        for code in keys:
            category = rules.category(code) if code is not None else None
            labels[code] = category.name(lang) if category else str(code)
        return labels
    if group_by == "neighbourhood":
        ids = [k for k in keys if k is not None]
        names = dict(db.session.execute(sa.select(Neighbourhood.id, Neighbourhood.committee_name)
                                        .where(Neighbourhood.id.in_(ids))).all()) if ids else {}
        return {k: names.get(k, str(k)) if k is not None else NO_NEIGHBOURHOOD["en" if en else "zh"] for k in keys}
    if group_by == "assignee":
        ids = [k for k in keys if k is not None]
        names = {}
        if ids:
            for user_id, name, nickname, username in db.session.execute(
                    sa.select(User.id, ResidentProfile.name, User.nickname, User.username)
                    .outerjoin(ResidentProfile, ResidentProfile.user_id == User.id).where(User.id.in_(ids))):
                names[user_id] = name or nickname or username or f"#{user_id}"
        return {k: names.get(k, f"#{k}") if k is not None else NO_ASSIGNEE["en" if en else "zh"] for k in keys}
    return {}


# --- the use-case ---------------------------------------------------------------------------------------------------

def compute(actor: Actor, *, street_id: int | None = None, neighbourhood_id: int | None = None,
            date_from: date | None = None, date_to: date | None = None, group_by: str | None = None,
            lang: str = "zh") -> dict:
    """The metrics of the cases received in ``[date_from, date_to]`` (local dates, both inclusive)
    in a street or neighbourhood the actor covers, optionally grouped by category,
    neighbourhood or assignee. Read-only. See the module docstring for every formula."""
    if group_by is not None and group_by not in GROUP_BY:
        raise GroupByUnknown(choices=", ".join(GROUP_BY))
    scope = resolve_scope(actor, street_id, neighbourhood_id)
    date_from, date_to = resolve_period(date_from, date_to)
    lang = "en" if lang == "en" else "zh"
    return _FRESH.get((scope, date_from, date_to, group_by, lang),
                      lambda: _report(scope, date_from, date_to, group_by, lang))


class _Fresh:
    """Reports computed in the last ``policy.metrics_fresh_seconds`` (by ``as_of``), per process: a dashboard
    that many staff of a street open reads the case table once a minute, not once per view. The key is the
    resolved scope (whoever may see it shares it), the period, the grouping and the language."""
    LIMIT = 256

    def __init__(self):
        self.reports: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key, compute) -> dict:
        seconds = rules.policy().metrics_fresh_seconds
        now = clock.now()
        with self.lock:
            report = self.reports.get(key)
        if report is not None and timedelta(0) <= now - report["period"]["as_of"] < timedelta(seconds=seconds):
            return report
        report = compute()
        with self.lock:
            self.reports[key] = report
            self.reports.move_to_end(key)
            while len(self.reports) > self.LIMIT:
                self.reports.popitem(last=False)
        return report

    def forget(self) -> None:
        with self.lock:
            self.reports.clear()


_FRESH = _Fresh()


def forget() -> None:
    """Drop the reports this process keeps (the data they were computed from was replaced, e.g. restored)."""
    _FRESH.forget()


def _report(scope: Scope, date_from: date, date_to: date, group_by: str | None, lang: str) -> dict:
    start, end = _local_midnight(date_from), _local_midnight(date_to + timedelta(days=1))
    as_of = clock.now()
    counts, times = _rows(scope, start, end, as_of, group_by)

    empty = {name: 0 for name in ("volume", "merged", "rejected", "withdrawn", "closed", "open", "closed_on_time",
                                  "closed_late", "open_overdue", "contact_due", "contact_on_time", "solved",
                                  "explained", "rated", "satisfied", "closed_rated", "rating_sum")}
    total_counts = dict(empty)
    for values in counts.values():
        for name, value in values.items():
            total_counts[name] += value
    all_contact = [s for contact, _ in times.values() for s in contact]
    all_close = [s for _, close in times.values() for s in close]
    total = _row(None, TOTAL[lang], total_counts, all_contact, all_close)
    groups = []
    if group_by is not None:
        labels = _labels(group_by, list(counts), lang)
        for key, values in counts.items():
            contact, close = times.get(key, ([], []))
            groups.append(_row(key, labels[key], values, contact, close))
        groups.sort(key=lambda g: (-g["volume"], g["label"], str(g["key"])))
    return {
        "period": {"from": date_from, "to": date_to, "start": start, "end": end, "as_of": as_of,
                   "timezone": "Asia/Shanghai", "to_inclusive": True},
        "scope": {"street_id": scope.street_id, "street_name": scope.street_name,
                  "neighbourhood_id": scope.neighbourhood_id, "neighbourhood_name": scope.neighbourhood_name},
        "group_by": group_by,
        "formulas": dict(FORMULAS_EN if lang == "en" else FORMULAS_ZH),
        "total": total,
        "groups": groups,
    }


# --- CSV ------------------------------------------------------------------------------------------------------------

CSV_COLUMNS = (
    ("分组", lambda r: r["label"]),
    ("诉求量", lambda r: r["volume"]),
    ("已办结", lambda r: r["closed"]),
    ("办理中", lambda r: r["open"]),
    ("先行联系按时数", lambda r: r["contact_rate"]["numerator"]),
    ("先行联系应联系数", lambda r: r["contact_rate"]["denominator"]),
    ("先行联系率(%)", lambda r: r["contact_rate"]["rate"]),
    ("按时办结数", lambda r: r["on_time_rate"]["numerator"]),
    ("按时办结应办结数", lambda r: r["on_time_rate"]["denominator"]),
    ("按时办结率(%)", lambda r: r["on_time_rate"]["rate"]),
    ("逾期工单量", lambda r: r["overdue"]),
    ("超时办结数", lambda r: r["overdue_closed_late"]),
    ("超时未办结数", lambda r: r["overdue_open"]),
    ("实际解决数", lambda r: r["solved_rate"]["numerator"]),
    ("实际解决率(%)", lambda r: r["solved_rate"]["rate"]),
    ("解释说明数", lambda r: r["explained_rate"]["numerator"]),
    ("解释说明率(%)", lambda r: r["explained_rate"]["rate"]),
    ("满意数", lambda r: r["satisfaction_rate"]["numerator"]),
    ("评价数", lambda r: r["satisfaction_rate"]["denominator"]),
    ("满意率(%)", lambda r: r["satisfaction_rate"]["rate"]),
    ("参评率(%)", lambda r: r["rating_participation_rate"]["rate"]),
    ("平均评分", lambda r: r["mean_rating"]["mean"]),
    ("平均首次联系时长(小时)", lambda r: r["hours_to_first_contact"]["mean"]),
    ("P90首次联系时长(小时)", lambda r: r["hours_to_first_contact"]["p90"]),
    ("平均办结时长(小时)", lambda r: r["hours_to_close"]["mean"]),
    ("P90办结时长(小时)", lambda r: r["hours_to_close"]["p90"]),
    ("并单", lambda r: r["excluded"]["merged"]),
    ("不予受理", lambda r: r["excluded"]["rejected"]),
    ("撤回", lambda r: r["excluded"]["withdrawn"]),
)


def _cell(value):
    """Rates, means and hours (floats) with two decimals; the writer quotes a label that looks like a formula."""
    return f"{value:.2f}" if isinstance(value, float) else value


def to_csv(report: dict) -> str:
    """The report as CSV for Excel: a UTF-8 BOM, Chinese headers, one row per group, then the total row."""
    rows = [*report["groups"], report["total"]]
    return csv_export.write([name for name, _ in CSV_COLUMNS],
                            ([_cell(get(row)) for _, get in CSV_COLUMNS] for row in rows))
