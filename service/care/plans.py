"""Visit plans as RFC 5545 recurrence rules, and the due visits they ask for.

A plan's rule runs from its ``starts_on``; each occurrence is a day. Its due visit opens at 00:00 Shanghai time
that day (``earliest_at``) and closes ``window_days`` days later (``latest_at``). The 居委会 works on working days:
for a staff plan, a window whose last day is not a working day (a weekend, a public holiday of the platform's
calendar, service/calendar.py) closes at the end of the next working day instead.

Due visits are written up to ``horizon_days`` ahead (config/rules/care.yaml), one per occurrence (unique by plan
and ``earliest_at``: writing them again writes nothing). A due visit the elder cannot have (away for the whole
window, or no longer on the roster) is cancelled, never deleted."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from dateutil import rrule as _rrule

from models.base import db
from models.care import Elder, VisitDue, VisitPlan
from service import calendar, clock
from service.care import errors, rules

_FREQUENCIES = (_rrule.YEARLY, _rrule.MONTHLY, _rrule.WEEKLY, _rrule.DAILY)
# The parts a plan may use: nothing that repeats within a day (BYHOUR, …), ties it to a start of its own (DTSTART)
# or can name days that never come (BYYEARDAY, BYWEEKNO, BYSETPOS: a rule that never occurs is walked to year 9999).
_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "WKST"}
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _refuse(field: str, zh: str, en: str):
    return errors.RruleInvalid(field, reason=zh, reason_en=en)


def check(text: str, field: str = "rrule") -> str:
    """The rule as given if a plan may use it, else ``RruleInvalid`` naming ``field``: an RRULE that parses, repeats
    daily, weekly, monthly or yearly (never more often than daily), uses only the parts a plan needs and names
    days that exist."""
    text = (text or "").strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    names = {part.partition("=")[0].strip().upper() for part in text.split(";")}
    if not text or "\n" in text or not names <= _PARTS:
        raise _refuse(field, "仅可使用FREQ、INTERVAL、COUNT、UNTIL、BYDAY、BYMONTHDAY、BYMONTH",
                      "only FREQ, INTERVAL, COUNT, UNTIL, BYDAY, BYMONTHDAY and BYMONTH may be used")
    try:
        parsed = _rrule.rrulestr(text, dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise _refuse(field, "无法解析", "it does not parse") from None
    if not isinstance(parsed, _rrule.rrule) or parsed._freq not in _FREQUENCIES:
        raise _refuse(field, "频次不能高于每天一次", "more often than daily")
    if not 1 <= parsed._interval <= 52:
        raise _refuse(field, "INTERVAL须在1至52之间", "INTERVAL must be 1 to 52")
    if parsed._count is not None and parsed._count < 1:
        raise _refuse(field, "COUNT须至少为1", "COUNT must be at least 1")
    parts = {name.strip().upper(): value for name, _, value in (part.partition("=") for part in text.split(";"))}
    _check_days(parts, parsed._freq, field)
    return text


def _numbers(value: str | None) -> list[int]:
    return [int(item) for item in value.split(",")] if value else []


def _check_days(parts: dict, freq: int, field: str) -> None:
    """Refuse a rule that can name no day: a month or a day of the month that does not exist, a month day that
    no month of the rule has, or an ordinal weekday (1MO, -1FR) beyond the fourth or where it cannot be kept."""
    try:
        months, days = _numbers(parts.get("BYMONTH")), _numbers(parts.get("BYMONTHDAY"))
        ordinals = [int(item[:-2]) for item in (parts.get("BYDAY") or "").split(",") if item[:-2].strip("+-")]
    except ValueError:
        raise _refuse(field, "无法解析", "it does not parse") from None
    if not all(1 <= m <= 12 for m in months) or not all(1 <= abs(d) <= 31 for d in days) or (
            days and not any(abs(d) <= _MONTH_DAYS[m - 1] for m in (months or range(1, 13)) for d in days)):
        raise _refuse(field, "规则中的日期不存在", "it names days that do not exist")
    if ordinals and (freq not in (_rrule.MONTHLY, _rrule.YEARLY) or days
                     or not all(1 <= abs(n) <= 4 for n in ordinals)):
        raise _refuse(field, "第几个星期几仅限每月或每年的第1至4个（或倒数），且不与日期同用",
                      "an ordinal weekday is for monthly or yearly rules, the 1st to 4th (or last), without month days")


def occurrences(rule: str, starts_on: date, first: date, last: date) -> list[date]:
    """The days of the rule (from ``starts_on``) from ``first`` to ``last``, both included."""
    if last < first:
        return []
    parsed = _rrule.rrulestr(rule, dtstart=datetime.combine(starts_on, time()))
    return [moment.date() for moment in parsed.between(datetime.combine(first, time()),
                                                       datetime.combine(last, time()), inc=True)]


def window(day: date, window_days: int, role: str) -> tuple[datetime, datetime]:
    """(earliest_at, latest_at) of the due visit of ``day`` (aware, Shanghai time)."""
    earliest = datetime.combine(day, time(), tzinfo=clock.SHANGHAI)
    latest = earliest + timedelta(days=window_days)
    if role == "staff":
        last_day = (latest - timedelta(seconds=1)).date()
        if not calendar.is_working_day(last_day)[0]:
            latest = calendar.end_of_day(calendar.next_working_day(last_day)[0])
    return earliest, latest


def _away_all_of(elder: Elder, earliest: datetime, latest: datetime) -> bool:
    if elder.away_from is None:
        return False
    away_from = clock.local(elder.away_from)
    away_until = clock.local(elder.away_until) if elder.away_until is not None else None
    return away_from <= earliest and (away_until is None or away_until >= latest)


def materialise(plan: VisitPlan, elder: Elder, until: date, now: datetime) -> int:
    """Write the plan's due visits from where it stopped (``generated_until``) to ``until`` (in the caller's
    transaction, the plan's row held by the caller); the number written. Idempotent."""
    return materialise_many([(plan, elder)], until, now)


def materialise_many(pairs: list[tuple[VisitPlan, Elder]], until: date, now: datetime) -> int:
    """``materialise`` for a batch of plans (each with its elder, the plans' rows held by the caller): one read of
    the due visits already there and one insert for the batch; a rule's days and a day's window are worked out
    once for plans that share them (the default plans all do)."""
    days_of: dict[tuple, list[date]] = {}
    windows: dict[tuple, tuple[datetime, datetime]] = {}
    wanted: list[tuple[VisitPlan, Elder, list[date]]] = []
    for plan, elder in pairs:
        first = plan.starts_on if plan.generated_until is None else plan.generated_until + timedelta(days=1)
        last = min(until, plan.ends_on) if plan.ends_on is not None else until
        key = (plan.rrule, plan.starts_on, first, last)
        if key not in days_of:
            days_of[key] = occurrences(plan.rrule, plan.starts_on, first, last)
        if days_of[key]:
            wanted.append((plan, elder, days_of[key]))
        if last >= first:
            plan.generated_until = last
    rows = []
    if wanted:
        since = min(datetime.combine(days[0], time(), tzinfo=clock.SHANGHAI) for _, _, days in wanted)
        existing: dict[int, set] = {}
        for plan_id, moment in db.session.execute(sa.select(VisitDue.plan_id, VisitDue.earliest_at).where(
                VisitDue.plan_id.in_(sorted({plan.id for plan, _, _ in wanted})),
                VisitDue.earliest_at >= clock.local(since))):
            existing.setdefault(plan_id, set()).add(clock.local(moment))
        for plan, elder, days in wanted:
            there = existing.get(plan.id, ())
            active = elder.status == "active"
            for day in days:
                key = (day, plan.window_days, plan.role)
                if key not in windows:
                    windows[key] = window(day, plan.window_days, plan.role)
                earliest, latest = windows[key]
                if earliest in there:
                    continue
                cancelled = None if active and not _away_all_of(elder, earliest, latest) else now
                rows.append({"plan_id": plan.id, "elder_id": plan.elder_id,
                             "neighbourhood_id": elder.neighbourhood_id, "role": plan.role,
                             "earliest_at": earliest, "latest_at": latest, "cancelled_at": cancelled})
    db.session.flush()
    if rows:
        db.session.execute(sa.insert(VisitDue), rows)
    return len(rows)


def horizon(now: datetime) -> date:
    return clock.local(now).date() + timedelta(days=rules.current().horizon_days)


def new_plan(elder: Elder, *, role: str, rule: str, window_days: int, starts_on: date, now: datetime,
             actor_user_id: int | None, reason: str, ends_on: date | None = None) -> VisitPlan:
    """A plan of the elder, with its due visits up to the horizon (in the caller's transaction)."""
    plan = VisitPlan(elder_id=elder.id, role=role, rrule=rule, window_days=window_days, starts_on=starts_on,
                     ends_on=ends_on, reason=reason, created_by=actor_user_id)
    db.session.add(plan)
    db.session.flush()
    materialise(plan, elder, horizon(now), now)
    return plan


def default_plans(elder: Elder, now: datetime, actor_user_id: int | None) -> list[VisitPlan]:
    """The rules' default plans for an elder just put on the roster (undecorated: the roster's use-case calls it in
    its transaction): the 老伙伴's contacts for every elder, the 居委会's visits for the tiers the rules list."""
    today = clock.local(now).date()
    return [new_plan(elder, role=plan.role, rule=plan.rrule, window_days=plan.window_days, starts_on=today, now=now,
                     actor_user_id=actor_user_id, reason="default")
            for plan in rules.current().plans.values() if plan.tiers is None or elder.risk_tier in plan.tiers]


def cancel_open(where, now: datetime) -> int:
    """Cancel the open due visits matching ``where`` (a list of conditions): one UPDATE; the number cancelled."""
    return db.session.execute(sa.update(VisitDue).where(
        VisitDue.visit_id.is_(None), VisitDue.cancelled_at.is_(None), *where)
        .values(cancelled_at=now).execution_options(synchronize_session=False)).rowcount
