"""Notice categories and policy, loaded from config/rules/notices.yaml and checked at start-up."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from service import rules

PUBLISHER_ROLES = ("staff", "admin", "committee", "property_company")
_WHERE = "notices.yaml"


@dataclass(frozen=True)
class Category:
    code: str
    publishers: tuple[str, ...]
    ack_required: bool


@dataclass(frozen=True)
class Policy:
    max_pinned_per_scope: int
    publish_at_past_minutes: int
    max_publish_ahead_days: int
    max_valid_days: int
    max_scopes: int
    max_attachments: int
    urgent_chase_after_minutes: int
    chase_from: time
    chase_until: time
    outage_eve_deadline: time


@dataclass(frozen=True)
class Rules:
    categories: dict[str, Category]
    policy: Policy

    def category(self, code: str) -> Category | None:
        return self.categories.get(code)


_rules: Rules | None = None


def load(directory=None) -> Rules:
    global _rules
    data = rules.load("notices", directory)
    _rules = Rules(_categories(data.get("categories")), _policy(data.get("policy")))
    return _rules


def current() -> Rules:
    assert _rules is not None, "notice rules not loaded"
    return _rules


def _categories(raw) -> dict[str, Category]:
    rules.require(isinstance(raw, dict) and raw, _WHERE, "'categories' must be a mapping of code → rule")
    found = {}
    for code, spec in raw.items():
        rules.require(isinstance(spec, dict), _WHERE, f"categories.{code} must be a mapping")
        publishers = spec.get("publishers")
        rules.require(isinstance(publishers, list) and publishers and set(publishers) <= set(PUBLISHER_ROLES),
                      _WHERE, f"categories.{code}.publishers must be a list of {PUBLISHER_ROLES}")
        found[code] = Category(code, tuple(publishers), bool(spec.get("ack_required")))
    rules.require("outage" in found, _WHERE, "categories must define 'outage' (its acknowledgements are chased)")
    return found


def _clock(value, field: str) -> time:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except (TypeError, ValueError):
        raise rules.RulesError(f"{_WHERE}: policy.{field} must be HH:MM") from None


def _policy(raw) -> Policy:
    rules.require(isinstance(raw, dict), _WHERE, "'policy' must be a mapping")
    window = raw.get("chase_window")
    rules.require(isinstance(window, list) and len(window) == 2, _WHERE, "policy.chase_window must be [from, until]")
    try:
        p = Policy(int(raw["max_pinned_per_scope"]), int(raw["publish_at_past_minutes"]),
                   int(raw["max_publish_ahead_days"]), int(raw["max_valid_days"]), int(raw["max_scopes"]),
                   int(raw["max_attachments"]), int(raw["urgent_chase_after_minutes"]),
                   _clock(window[0], "chase_window"), _clock(window[1], "chase_window"),
                   _clock(raw["outage_eve_deadline"], "outage_eve_deadline"))
    except (KeyError, TypeError, ValueError) as exc:
        raise rules.RulesError(f"{_WHERE}: policy is incomplete or not numeric ({exc})") from None
    rules.require(1 <= p.max_pinned_per_scope <= 10, _WHERE, "policy.max_pinned_per_scope must be 1–10")
    rules.require(0 <= p.publish_at_past_minutes <= 60, _WHERE, "policy.publish_at_past_minutes must be 0–60")
    rules.require(1 <= p.max_scopes <= 200 and 0 <= p.max_attachments <= 20, _WHERE,
                  "policy.max_scopes must be 1–200 and max_attachments 0–20")
    rules.require(p.chase_from < p.chase_until, _WHERE, "policy.chase_window must run forwards within a day")
    return p
