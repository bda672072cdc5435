"""Meal rules, loaded from config/rules/meals.yaml and validated at start-up (see the file's comments)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import time
from decimal import Decimal, InvalidOperation

from service import rules

WHERE = "meals.yaml"
STATUS_FLAGS = ("low_income", "lives_alone", "disabled", "limited_mobility", "civility")
RESIDENCE = ("street", "district", "any")
MEALS = ("lunch", "dinner")
OVERRIDABLE = ("window_days", "cutoff", "meal_times", "reserve_percent", "delivery_fee", "max_quantity")


@dataclass(frozen=True)
class Tier:
    code: str
    zh: str
    min_age: int
    amount: Decimal
    max_age: int | None = None


@dataclass(frozen=True)
class StatusSubsidy:
    code: str
    zh: str
    amount: Decimal


@dataclass(frozen=True)
class Group:
    code: str
    rank: int
    when: tuple[str, ...] = ()
    min_age: int | None = None


@dataclass(frozen=True)
class Rules:
    elder_min_age: int
    residence: str
    window_days: int
    cutoff: dict            # meal → time
    meal_times: dict        # meal → (starts, ends)
    max_quantity: int
    staff_cancel_after_cutoff: bool
    reserve_percent: int
    reserve_days_before: int
    reserve_at: time
    civility_enabled: bool
    groups: tuple[Group, ...]
    age_tiers: tuple[Tier, ...]
    statuses: tuple[StatusSubsidy, ...]
    min_payable: Decimal
    operator_tiers: tuple[Tier, ...]
    delivery_min_age: int
    delivery_flags: tuple[str, ...]
    delivery_fee: Decimal
    group_min_orders: int
    followup_count: int
    followup_window_days: int
    welfare_check_lives_alone: bool
    mark_after_minutes: int
    eve_at: time
    morning_at: time
    stopped_lookback_days: int
    stopped_min_bookings: int
    site_overrides: dict = field(default_factory=dict)

    def for_site(self, site_code: str | None) -> Rules:
        """The rules with a site's overrides applied."""
        override = self.site_overrides.get(site_code or "")
        return replace(self, **override) if override else self


_rules: Rules | None = None


def _time(value, at: str) -> time:
    text = str(value)
    rules.require(bool(re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text)), WHERE, f"{at} must be a time HH:MM")
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _money(value, at: str) -> Decimal:
    rules.require(isinstance(value, (str, int)) and not isinstance(value, bool), WHERE,
                  f"{at} must be an amount written as a string, e.g. \"3.50\"")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise rules.RulesError(f"{WHERE}: {at} is not an amount") from None
    rules.require(amount.is_finite() and amount >= 0 and amount == amount.quantize(Decimal("0.01")), WHERE,
                  f"{at} must be a non-negative amount with at most 2 decimals")
    return amount.quantize(Decimal("0.01"))


def _int(value, at: str, low: int, high: int) -> int:
    rules.require(isinstance(value, int) and not isinstance(value, bool) and low <= value <= high, WHERE,
                  f"{at} must be a whole number from {low} to {high}")
    return value


def _section(data: dict, name: str) -> dict:
    section = data.get(name)
    rules.require(isinstance(section, dict), WHERE, f"'{name}' must be a mapping")
    return section


def _cutoff(value, at: str) -> dict:
    rules.require(isinstance(value, dict) and set(value) <= set(MEALS) and "lunch" in value, WHERE,
                  f"{at} must give lunch (and optionally dinner)")
    return {meal: _time(v, f"{at}.{meal}") for meal, v in value.items()}


def _meal_times(value, at: str) -> dict:
    rules.require(isinstance(value, dict) and set(value) <= set(MEALS) and "lunch" in value, WHERE,
                  f"{at} must give lunch (and optionally dinner)")
    result = {}
    for meal, spec in value.items():
        rules.require(isinstance(spec, dict), WHERE, f"{at}.{meal} needs starts and ends")
        starts, ends = _time(spec.get("starts"), f"{at}.{meal}.starts"), _time(spec.get("ends"), f"{at}.{meal}.ends")
        rules.require(starts < ends, WHERE, f"{at}.{meal}: starts must be before ends")
        result[meal] = (starts, ends)
    return result


def _tiers(items, at: str, *, with_max: bool = False) -> tuple[Tier, ...]:
    rules.require(isinstance(items, list), WHERE, f"{at} must be a list")
    tiers, codes = [], set()
    for i, item in enumerate(items):
        where = f"{at}[{i}]"
        rules.require(isinstance(item, dict) and isinstance(item.get("code"), str) and item["code"], WHERE,
                      f"{where} needs a code")
        rules.require(item["code"] not in codes and item["code"] != "general", WHERE,
                      f"{where}: duplicate or reserved code {item['code']!r}")
        codes.add(item["code"])
        max_age = _int(item["max_age"], f"{where}.max_age", 0, 150) if with_max and "max_age" in item else None
        tiers.append(Tier(item["code"], str(item.get("zh", item["code"])),
                          _int(item.get("min_age"), f"{where}.min_age", 0, 150),
                          _money(item.get("amount"), f"{where}.amount"), max_age))
    return tuple(sorted(tiers, key=lambda t: t.min_age))


def parse(data: dict) -> Rules:
    eligibility, booking = _section(data, "eligibility"), _section(data, "booking")
    priority, subsidy = _section(data, "priority"), _section(data, "subsidy")
    delivery, no_show, reminders = _section(data, "delivery"), _section(data, "no_show"), _section(data, "reminders")
    residence = eligibility.get("residence")
    rules.require(residence in RESIDENCE, WHERE, f"eligibility.residence must be one of {RESIDENCE}")
    release = priority.get("reserve_release") or {}
    groups = []
    for i, item in enumerate(priority.get("groups") or []):
        at = f"priority.groups[{i}]"
        rules.require(isinstance(item, dict) and isinstance(item.get("code"), str), WHERE, f"{at} needs a code")
        when = tuple(item.get("when") or ())
        rules.require(set(when) <= set(STATUS_FLAGS), WHERE, f"{at}.when: flags must be among {STATUS_FLAGS}")
        min_age = _int(item["min_age"], f"{at}.min_age", 0, 150) if "min_age" in item else None
        rules.require(bool(when) or min_age is not None, WHERE, f"{at} needs 'when' flags or a min_age")
        groups.append(Group(item["code"], _int(item.get("rank"), f"{at}.rank", 1, 8), when, min_age))
    statuses = []
    for i, item in enumerate(subsidy.get("statuses") or []):
        at = f"subsidy.statuses[{i}]"
        rules.require(isinstance(item, dict) and item.get("code") in STATUS_FLAGS, WHERE,
                      f"{at}.code must be one of {STATUS_FLAGS}")
        statuses.append(StatusSubsidy(item["code"], str(item.get("zh", item["code"])),
                                      _money(item.get("amount"), f"{at}.amount")))
    flags = tuple(delivery.get("flags") or ())
    rules.require(set(flags) <= set(STATUS_FLAGS), WHERE, f"delivery.flags must be among {STATUS_FLAGS}")
    base = Rules(
        elder_min_age=_int(eligibility.get("elder_min_age"), "eligibility.elder_min_age", 0, 120),
        residence=residence,
        window_days=_int(booking.get("window_days"), "booking.window_days", 0, 60),
        cutoff=_cutoff(booking.get("cutoff"), "booking.cutoff"),
        meal_times=_meal_times(booking.get("meal_times"), "booking.meal_times"),
        max_quantity=_int(booking.get("max_quantity"), "booking.max_quantity", 1, 10),
        staff_cancel_after_cutoff=bool(booking.get("staff_cancel_after_cutoff", True)),
        reserve_percent=_int(priority.get("reserve_percent"), "priority.reserve_percent", 0, 100),
        reserve_days_before=_int(release.get("days_before"), "priority.reserve_release.days_before", 0, 60),
        reserve_at=_time(release.get("at"), "priority.reserve_release.at"),
        civility_enabled=bool(priority.get("civility_enabled", False)),
        groups=tuple(sorted(groups, key=lambda g: g.rank)),
        age_tiers=_tiers(subsidy.get("age_tiers") or [], "subsidy.age_tiers"),
        statuses=tuple(statuses),
        min_payable=_money(subsidy.get("min_payable", "0.00"), "subsidy.min_payable"),
        operator_tiers=_tiers(subsidy.get("operator_tiers") or [], "subsidy.operator_tiers", with_max=True),
        delivery_min_age=_int(delivery.get("min_age"), "delivery.min_age", 0, 150),
        delivery_flags=flags,
        delivery_fee=_money(delivery.get("fee"), "delivery.fee"),
        group_min_orders=_int(delivery.get("group_min_orders"), "delivery.group_min_orders", 1, 100),
        followup_count=_int(no_show.get("followup_count"), "no_show.followup_count", 1, 100),
        followup_window_days=_int(no_show.get("followup_window_days"), "no_show.followup_window_days", 1, 365),
        welfare_check_lives_alone=bool(no_show.get("welfare_check_lives_alone", True)),
        mark_after_minutes=_int(no_show.get("mark_after_minutes"), "no_show.mark_after_minutes", 0, 720),
        eve_at=_time(reminders.get("eve_at"), "reminders.eve_at"),
        morning_at=_time(reminders.get("morning_at"), "reminders.morning_at"),
        stopped_lookback_days=_int(reminders.get("stopped_lookback_days"), "reminders.stopped_lookback_days", 7, 365),
        stopped_min_bookings=_int(reminders.get("stopped_min_bookings"), "reminders.stopped_min_bookings", 1, 200),
    )
    sites = data.get("sites") or {}
    rules.require(isinstance(sites, dict), WHERE, "'sites' must be a mapping of site code → overrides")
    overrides = {}
    for code, spec in sites.items():
        at = f"sites.{code}"
        rules.require(isinstance(spec, dict) and set(spec) <= set(OVERRIDABLE), WHERE,
                      f"{at}: overrides must be among {OVERRIDABLE}")
        o = {}
        if "window_days" in spec:
            o["window_days"] = _int(spec["window_days"], f"{at}.window_days", 0, 60)
        if "cutoff" in spec:
            o["cutoff"] = {**base.cutoff, **_cutoff({"lunch": base.cutoff["lunch"].strftime("%H:%M"),
                                                     **spec["cutoff"]}, f"{at}.cutoff")}
        if "meal_times" in spec:
            o["meal_times"] = {**base.meal_times, **_meal_times(spec["meal_times"], f"{at}.meal_times")}
        if "reserve_percent" in spec:
            o["reserve_percent"] = _int(spec["reserve_percent"], f"{at}.reserve_percent", 0, 100)
        if "delivery_fee" in spec:
            o["delivery_fee"] = _money(spec["delivery_fee"], f"{at}.delivery_fee")
        if "max_quantity" in spec:
            o["max_quantity"] = _int(spec["max_quantity"], f"{at}.max_quantity", 1, 10)
        overrides[str(code)] = o
    return replace(base, site_overrides=overrides)


def load(directory=None) -> Rules:
    global _rules
    _rules = parse(rules.load("meals", directory))
    return _rules


def current() -> Rules:
    assert _rules is not None, "meal rules not loaded"
    return _rules
