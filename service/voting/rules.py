"""Art. 278 item types and voting policy, loaded from config/rules/voting.yaml and validated at start-up."""
from __future__ import annotations

from dataclasses import dataclass

from service import rules

APPROVALS = ("majority", "three_quarters")
REVOTES = ("first_final", "last_wins")


@dataclass(frozen=True)
class Item:
    number: int
    zh: str
    en: str
    approval: str
    reelection_locked: bool
    reelection_locked_if_major_repair: bool

    def name(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True)
class Policy:
    notice_days: int
    publication_days: int
    extension_days: int
    extension_max_days: int
    max_principals_per_proxy: int
    revote_default: str
    spoiled_counts_as: str
    remind_days_before_close: int
    max_window_days: int


@dataclass(frozen=True)
class Rules:
    """The loaded voting rules: the nine Art. 278 items and the policy."""
    by_number: dict[int, Item]
    policy: Policy

    def item(self, number: int) -> Item | None:
        return self.by_number.get(number)

    def items(self) -> list[Item]:
        return [self.by_number[k] for k in sorted(self.by_number)]


_rules: Rules | None = None


def load(directory=None) -> Rules:
    global _rules
    data = rules.load("voting", directory)
    _rules = Rules(_items(data.get("items")), _policy(data.get("policy") or {}))
    return _rules


def current() -> Rules:
    assert _rules is not None, "voting rules not loaded"
    return _rules


_WHERE = "voting.yaml"


def _items(raw) -> dict[int, Item]:
    rules.require(isinstance(raw, dict), _WHERE, "'items' must be a mapping of item number → rule")
    items = {}
    for key, spec in raw.items():
        rules.require(isinstance(key, int) and 1 <= key <= 9, _WHERE, f"items: {key!r} is not an Art. 278 item 1–9")
        rules.require(isinstance(spec, dict) and spec.get("zh") and spec.get("en"), _WHERE,
                      f"items.{key} needs zh and en")
        rules.require(spec.get("approval") in APPROVALS, _WHERE, f"items.{key}.approval must be one of {APPROVALS}")
        items[key] = Item(key, spec["zh"], spec["en"], spec["approval"], bool(spec.get("reelection_locked")),
                          bool(spec.get("reelection_locked_if_major_repair")))
    rules.require(set(items) == set(range(1, 10)), _WHERE, "items must define every Art. 278 item 1–9")
    return items


def _policy(policy: dict) -> Policy:
    try:
        p = Policy(
            notice_days=int(policy["notice_days"]), publication_days=int(policy["publication_days"]),
            extension_days=int(policy["extension_days"]), extension_max_days=int(policy["extension_max_days"]),
            max_principals_per_proxy=int(policy["max_principals_per_proxy"]),
            revote_default=str(policy["revote_default"]), spoiled_counts_as=str(policy["spoiled_counts_as"]),
            remind_days_before_close=int(policy["remind_days_before_close"]),
            max_window_days=int(policy["max_window_days"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise rules.RulesError(f"{_WHERE}: policy is incomplete or not numeric ({exc})") from None
    where = _WHERE
    rules.require(p.notice_days >= 15, where, "policy.notice_days must be at least 15 (物业管理条例 Art. 14)")
    rules.require(p.publication_days >= 7, where, "policy.publication_days must be at least 7")
    rules.require(0 <= p.extension_max_days <= 92, where, "policy.extension_max_days must be 0–92 (at most 3 months)")
    rules.require(0 <= p.extension_days <= p.extension_max_days, where,
                  "policy.extension_days must be between 0 and extension_max_days")
    rules.require(1 <= p.max_principals_per_proxy <= 10, where, "policy.max_principals_per_proxy must be 1–10")
    rules.require(p.revote_default in REVOTES, where, f"policy.revote_default must be one of {REVOTES}")
    rules.require(p.spoiled_counts_as == "abstain", where, "policy.spoiled_counts_as supports only 'abstain'")
    rules.require(1 <= p.remind_days_before_close <= 30, where, "policy.remind_days_before_close must be 1–30")
    rules.require(1 <= p.max_window_days <= 366, where, "policy.max_window_days must be 1–366")
    return p
