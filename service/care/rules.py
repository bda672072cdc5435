"""Elder care rules, loaded from config/rules/care.yaml and checked at start-up: the roster's limits, the
visit plans, the device rules and the alarm ladders (retention: config/rules/privacy.yaml)."""
from __future__ import annotations

from dataclasses import dataclass

from dateutil import rrule as _rrule

from models.care import DEVICE_KINDS, EVENT_KINDS, SEVERITIES, VISITOR_ROLES
from service import rules

_WHERE = "care.yaml"
TARGETS = ("elder", "family", "duty", "visitor", "street_desk")
SIGNALS = ("meals_no_show", "meals_stopped", "notice_unacknowledged")


@dataclass(frozen=True)
class Plan:
    role: str
    rrule: str
    window_days: int
    tiers: tuple[int, ...] | None   # the risk tiers it applies to; None: every elder


@dataclass(frozen=True)
class Immediate:
    device_kind: str
    event_kinds: tuple[str, ...]
    severity: str


@dataclass(frozen=True)
class NoActivity:
    code: str
    device_kind: str
    hours: int
    severity: str
    with_rule: str | None


@dataclass(frozen=True)
class Step:
    after_minutes: int
    target: str


@dataclass(frozen=True)
class Rules:
    partner_max_elders: int
    partner_age: tuple[int, int]
    consent_review_month: int
    plans: dict[str, Plan]
    weather_window_days: int
    horizon_days: int
    escalate_after_days: int
    immediate: dict[str, Immediate]
    no_activity: dict[str, NoActivity]
    silence_hours: int
    future_skew_seconds: int
    replay_window_seconds: int
    signature_skew_seconds: int
    vendor_requests_per_minute: int
    ladders: dict[str, tuple[Step, ...]]
    taken_timeout_minutes: int
    close_needs_visit: tuple[str, ...]
    signals: dict[str, bool]
    visits: "Visits"


@dataclass(frozen=True)
class Visits:
    future_minutes: int
    max_age_days: int
    starts_past_days: int
    starts_ahead_days: int
    weather_ahead_days: int
    case_category: str


_rules: Rules | None = None


def load(directory=None) -> Rules:
    global _rules
    data = rules.load("care", directory)
    try:
        _rules = _build(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise rules.RulesError(f"{_WHERE}: incomplete or not of the right type ({type(exc).__name__}: {exc})") \
            from None
    return _rules


def current() -> Rules:
    assert _rules is not None, "care rules not loaded"
    return _rules


def _int(value, field: str, low: int, high: int) -> int:
    rules.require(isinstance(value, int) and not isinstance(value, bool) and low <= value <= high, _WHERE,
                  f"{field} must be a whole number {low}–{high}")
    return value


def check_rrule(text: str, field: str = "rrule") -> str:
    """An RRULE the plans accept: parsable, and at most daily (a rule more frequent than daily is a mistake)."""
    rules.require(isinstance(text, str) and 0 < len(text) <= 200, _WHERE, f"{field} must be an RRULE text")
    try:
        parsed = _rrule.rrulestr(text, dtstart=None, forceset=False)
    except (ValueError, TypeError) as exc:
        raise rules.RulesError(f"{_WHERE}: {field} is not a valid RRULE ({exc})") from None
    rules.require(getattr(parsed, "_freq", None) in (_rrule.YEARLY, _rrule.MONTHLY, _rrule.WEEKLY, _rrule.DAILY),
                  _WHERE, f"{field} must repeat daily, weekly, monthly or yearly")
    return text


def _plans(raw: dict) -> dict[str, Plan]:
    plans = {}
    for role in VISITOR_ROLES:
        spec = raw.get(role)
        if spec is None:
            continue
        tiers = spec.get("tiers")
        rules.require(tiers is None or (isinstance(tiers, list) and set(tiers) <= {1, 2, 3}), _WHERE,
                      f"plans.{role}.tiers must be a list of 1–3")
        plans[role] = Plan(role, check_rrule(spec["rrule"], f"plans.{role}.rrule"),
                           _int(spec["window_days"], f"plans.{role}.window_days", 1, 62),
                           tuple(tiers) if tiers else None)
    rules.require("partner" in plans, _WHERE, "plans.partner must be set (the 老伙伴's contacts)")
    unknown = set(raw) - set(VISITOR_ROLES) - {"weather", "horizon_days", "escalate_after_days"}
    rules.require(not unknown, _WHERE, f"plans: unknown keys {sorted(unknown)}")
    return plans


def _devices(raw: dict) -> tuple[dict[str, Immediate], dict[str, NoActivity]]:
    immediate = {}
    for kind, spec in (raw.get("immediate") or {}).items():
        rules.require(kind in DEVICE_KINDS, _WHERE, f"devices.immediate.{kind}: not a device kind {DEVICE_KINDS}")
        kinds = tuple(spec["kinds"])
        rules.require(kinds and set(kinds) <= set(EVENT_KINDS), _WHERE, f"devices.immediate.{kind}.kinds")
        rules.require(spec["severity"] in SEVERITIES, _WHERE, f"devices.immediate.{kind}.severity")
        immediate[kind] = Immediate(kind, kinds, spec["severity"])
    no_activity = {}
    for code, spec in (raw.get("no_activity") or {}).items():
        rules.require(isinstance(code, str) and len(code) <= 32, _WHERE, f"devices.no_activity.{code}: code too long")
        rules.require(spec["kind"] in DEVICE_KINDS, _WHERE, f"devices.no_activity.{code}.kind")
        rules.require(spec["severity"] in SEVERITIES, _WHERE, f"devices.no_activity.{code}.severity")
        no_activity[code] = NoActivity(code, spec["kind"], _int(spec["hours"], f"devices.no_activity.{code}.hours",
                                                                1, 168), spec["severity"], spec.get("with"))
    for rule in no_activity.values():
        rules.require(rule.with_rule is None or (rule.with_rule in no_activity and rule.with_rule != rule.code),
                      _WHERE, f"devices.no_activity.{rule.code}.with must name another no-activity rule")
    return immediate, no_activity


def _ladders(raw: dict) -> dict[str, tuple[Step, ...]]:
    ladders = {}
    for severity in SEVERITIES:
        steps = raw.get(severity)
        rules.require(isinstance(steps, list) and steps, _WHERE, f"ladders.{severity} must be a list of steps")
        built = tuple(Step(_int(s["after_minutes"], f"ladders.{severity}[].after_minutes", 0, 24 * 60), s["target"])
                      for s in steps)
        rules.require(all(s.target in TARGETS for s in built), _WHERE, f"ladders.{severity}[].target ∈ {TARGETS}")
        rules.require(all(a.after_minutes <= b.after_minutes for a, b in zip(built, built[1:])), _WHERE,
                      f"ladders.{severity}: steps must be in time order")
        ladders[severity] = built
    return ladders


def _build(data: dict) -> Rules:
    roster, plans, devices = data["roster"], data["plans"], data["devices"]
    immediate, no_activity = _devices(devices)
    age = roster["partner_age"]
    rules.require(isinstance(age, list) and len(age) == 2 and 40 <= age[0] < age[1] <= 90, _WHERE,
                  "roster.partner_age must be [from, to] within 40–90")
    signals = data.get("signals") or {}
    rules.require(set(signals) <= set(SIGNALS), _WHERE, f"signals: known signals are {SIGNALS}")
    close = tuple(data["close_needs_visit"])
    rules.require(set(close) <= {"device", "no_activity", *SIGNALS}, _WHERE, "close_needs_visit: unknown source")
    return Rules(
        partner_max_elders=_int(roster["partner_max_elders"], "roster.partner_max_elders", 1, 20),
        partner_age=(age[0], age[1]),
        consent_review_month=_int(roster["consent_review_month"], "roster.consent_review_month", 1, 12),
        plans=_plans(plans),
        weather_window_days=_int(plans["weather"]["window_days"], "plans.weather.window_days", 1, 7),
        horizon_days=_int(plans["horizon_days"], "plans.horizon_days", 7, 62),
        escalate_after_days=_int(plans["escalate_after_days"], "plans.escalate_after_days", 0, 14),
        immediate=immediate, no_activity=no_activity,
        silence_hours=_int(devices["silence_hours"], "devices.silence_hours", 1, 168),
        future_skew_seconds=_int(devices["future_skew_seconds"], "devices.future_skew_seconds", 0, 3600),
        replay_window_seconds=_int(devices["replay_window_seconds"], "devices.replay_window_seconds", 60,
                                   7 * 86400),
        signature_skew_seconds=_int(devices["signature_skew_seconds"], "devices.signature_skew_seconds", 30, 3600),
        vendor_requests_per_minute=_int(devices["vendor_requests_per_minute"], "devices.vendor_requests_per_minute",
                                        1, 1_000_000),
        ladders=_ladders(data["ladders"]),
        taken_timeout_minutes=_int(data["taken_timeout_minutes"], "taken_timeout_minutes", 10, 24 * 60),
        close_needs_visit=close,
        signals={k: bool(signals.get(k, False)) for k in SIGNALS},
        visits=_visits(data["visits"]),
    )


def _visits(raw: dict) -> Visits:
    unknown = set(raw) - {"future_minutes", "max_age_days", "starts_past_days", "starts_ahead_days",
                          "weather_ahead_days", "case_category"}
    rules.require(not unknown, _WHERE, f"visits: unknown keys {sorted(unknown)}")
    category = raw["case_category"]
    rules.require(isinstance(category, str) and 0 < len(category) <= 32, _WHERE,
                  "visits.case_category must name a case category")
    return Visits(future_minutes=_int(raw["future_minutes"], "visits.future_minutes", 0, 60),
                  max_age_days=_int(raw["max_age_days"], "visits.max_age_days", 1, 366),
                  starts_past_days=_int(raw["starts_past_days"], "visits.starts_past_days", 0, 366),
                  starts_ahead_days=_int(raw["starts_ahead_days"], "visits.starts_ahead_days", 1, 731),
                  weather_ahead_days=_int(raw["weather_ahead_days"], "visits.weather_ahead_days", 0, 31),
                  case_category=category)
