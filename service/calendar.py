"""Working days in Asia/Shanghai: weekends, public holidays and 调休 make-up working days.

Sources, in order: the operator's override file (config/rules/calendar.yaml),
then the chinese_calendar package. A year neither knows falls back to
Monday–Friday, and every answer that depended on the fallback is marked
provisional — never a crash.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import chinese_calendar

from service import rules
from service.clock import SHANGHAI

KINDS = ("holiday", "makeup_workday")
_overrides: dict[date, str] = {}
_override_years: set[int] = set()
_kind_cache: dict[date, str] = {}   # day_kind answers; cleared whenever the overrides change


@dataclass(frozen=True)
class Deadline:
    at: datetime  # aware, the last second of the due day in Asia/Shanghai
    provisional: bool


def load(directory=None) -> None:
    """Read and validate the override file (called at start-up)."""
    global _overrides, _override_years
    data = rules.load("calendar", directory)
    years = data.get("years") or []
    days = data.get("days") or []
    rules.require(isinstance(years, list) and all(isinstance(y, int) for y in years), "calendar.yaml",
                  "'years' must be a list of years")
    rules.require(isinstance(days, list), "calendar.yaml", "'days' must be a list")
    overrides = {}
    for index, entry in enumerate(days):
        rules.require(isinstance(entry, dict) and isinstance(entry.get("date"), date), "calendar.yaml",
                      f"days[{index}] needs a date (YYYY-MM-DD)")
        rules.require(entry.get("kind") in KINDS, "calendar.yaml", f"days[{index}].kind must be one of {KINDS}")
        overrides[entry["date"]] = entry["kind"]
    _overrides, _override_years = overrides, set(years)
    _kind_cache.clear()


def set_overrides(overrides: dict[date, str], years: set[int] | None = None) -> None:
    """Replace the overrides (tests and the admin import)."""
    global _overrides, _override_years
    _overrides, _override_years = dict(overrides), set(years or ())
    _kind_cache.clear()


def is_working_day(day: date) -> tuple[bool, bool]:
    """(working?, provisional?) for one day."""
    kind = _overrides.get(day)
    if kind is not None:
        return kind == "makeup_workday", False
    if day.year not in _override_years:
        try:
            return chinese_calendar.is_workday(day), False
        except NotImplementedError:
            pass
    else:
        return day.weekday() < 5, False
    return day.weekday() < 5, True


def next_working_day(day: date) -> tuple[date, bool]:
    """The first working day strictly after ``day``."""
    provisional = False
    while True:
        day += timedelta(days=1)
        working, guess = is_working_day(day)
        provisional |= guess
        if working:
            return day, provisional


def add_working_days(start: datetime, n: int) -> Deadline:
    """"Within N working days" of ``start``: by 23:59:59 Asia/Shanghai of the N-th working day after the start day."""
    if n < 0:
        raise ValueError("n must be >= 0")
    day = start.astimezone(SHANGHAI).date()
    provisional = False
    for _ in range(n):
        day, guess = next_working_day(day)
        provisional |= guess
    if n == 0:
        working, guess = is_working_day(day)
        provisional |= guess
        if not working:
            day, guess = next_working_day(day)
            provisional |= guess
    return Deadline(end_of_day(day), provisional)


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=SHANGHAI)


def working_days_between(after: date, until: date) -> int:
    """Working days d with after < d <= until."""
    count, day = 0, after
    while day < until:
        day += timedelta(days=1)
        if is_working_day(day)[0]:
            count += 1
    return count


def day_kind(day: date) -> str:
    """What kind of day ``day`` is in Asia/Shanghai: "workday", "weekend", "holiday" (a public
    holiday, including its weekend days) or "makeup_workday" (a 调休 weekend day that is worked).
    Same sources as :func:`is_working_day`; a year neither knows is Monday–Friday."""
    kind = _kind_cache.get(day)
    if kind is None:
        kind = _kind_cache[day] = _day_kind(day)
    return kind


def _day_kind(day: date) -> str:
    kind = _overrides.get(day)
    if kind is not None:
        return kind
    if day.year not in _override_years:
        try:
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            pass
        else:
            if on_holiday:
                return "holiday" if name else "weekend"
            return "makeup_workday" if day.weekday() >= 5 else "workday"
    return "weekend" if day.weekday() >= 5 else "workday"
