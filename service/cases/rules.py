"""Case categories and time limits, loaded from config/rules/cases.yaml and validated at start-up."""
from __future__ import annotations

from dataclasses import dataclass, field

from service import notifications, rules

# The mini-program pages a case notice opens, by the notification kind whose WeChat template
# (config/rules/notifications.yaml, `page`) names the page, with the page used when it names none.
DETAIL_PAGE = ("case.status_changed", "pages/cases/detail")
RATE_PAGE = ("case.visit_survey", "pages/cases/rate")

LIMIT_NAMES = ("first_contact", "handling", "rehandling", "complex", "visit")
KINDS = ("咨询", "求助", "投诉", "举报", "建议", "感谢", "其他")
DATATYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
ROUTINGS = ("location", "street")


@dataclass(frozen=True)
class Attribute:
    code: str
    zh: str
    en: str
    datatype: str
    required: bool
    values: tuple = ()


@dataclass(frozen=True)
class Category:
    code: str
    zh: str
    en: str
    kind: str
    grid: str
    public: bool
    routing: str
    limits: dict
    attributes: tuple[Attribute, ...] = field(default_factory=tuple)

    def name(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True)
class Policy:
    reopen_within_days: int
    nearby_radius_m: int
    served_radius_m: int
    nearby_days: int
    max_photos: int
    description_max: int
    escalate_after_overdue_working_days: int
    due_soon_hours: int
    satisfied_levels: tuple[int, ...]
    metrics_fresh_seconds: int = 60


@dataclass(frozen=True)
class Rules:
    """The loaded case rules: the categories by code, and the policy."""
    categories: dict[str, Category]
    policy: Policy


_rules: Rules | None = None
WHERE = "cases.yaml"


def load(directory=None) -> Rules:
    """Load and check config/rules/cases.yaml (or the one in ``directory``); a bad file raises RulesError
    naming the problem, and the rules loaded before stay."""
    global _rules
    data = rules.load("cases", directory)
    defaults = data.get("defaults") or {}
    default_limits = defaults.get("limits") or {}
    rules.require(set(default_limits) == set(LIMIT_NAMES), WHERE,
                  f"defaults.limits must give exactly {', '.join(LIMIT_NAMES)}")
    _check_limits(default_limits, "defaults.limits")
    default_routing = defaults.get("routing", "location")
    rules.require(default_routing in ROUTINGS, WHERE, f"defaults.routing must be one of {ROUTINGS}")
    policy = _policy(data.get("policy") or {})
    categories: dict[str, Category] = {}
    for index, item in enumerate(data.get("categories") or []):
        category = _category(f"categories[{index}]", item, categories, default_limits, default_routing)
        categories[category.code] = category
    rules.require(bool(categories), WHERE, "at least one category is required")
    _rules = Rules(categories, policy)
    return _rules


def _policy(policy: dict) -> Policy:
    try:
        loaded = Policy(
            reopen_within_days=int(policy["reopen_within_days"]), nearby_radius_m=int(policy["nearby_radius_m"]),
            served_radius_m=int(policy["served_radius_m"]), nearby_days=int(policy["nearby_days"]),
            max_photos=int(policy["max_photos"]), description_max=int(policy["description_max"]),
            escalate_after_overdue_working_days=int(policy["escalate_after_overdue_working_days"]),
            due_soon_hours=int(policy["due_soon_hours"]),
            satisfied_levels=tuple(int(x) for x in policy["satisfied_levels"]),
            metrics_fresh_seconds=int(policy.get("metrics_fresh_seconds", 60)))
    except (KeyError, TypeError, ValueError) as exc:
        raise rules.RulesError(f"{WHERE}: policy is incomplete or not numeric ({exc})") from None
    rules.require(100 <= loaded.served_radius_m <= 20000, WHERE,
                  "policy.served_radius_m must be a distance in metres from 100 to 20000")
    return loaded


def _category(at: str, item, earlier: dict, default_limits: dict, default_routing: str) -> Category:
    rules.require(isinstance(item, dict), WHERE, f"{at} must be a mapping")
    for key in ("code", "zh", "en", "kind", "grid"):
        rules.require(isinstance(item.get(key), str) and item[key], WHERE, f"{at}.{key} is required")
    rules.require(item["code"] not in earlier, WHERE, f"{at}: duplicate code {item['code']!r}")
    rules.require(item["kind"] in KINDS, WHERE, f"{at}.kind must be one of {KINDS}")
    limits = {**default_limits, **(item.get("limits") or {})}
    rules.require(set(limits) == set(LIMIT_NAMES), WHERE, f"{at}.limits has an unknown name")
    _check_limits(limits, f"{at}.limits")
    routing = item.get("routing", default_routing)
    rules.require(routing in ROUTINGS, WHERE, f"{at}.routing must be one of {ROUTINGS}")
    attributes = tuple(_attribute(f"{at}.attributes[{j}]", attr) for j, attr in enumerate(item.get("attributes") or []))
    return Category(item["code"], item["zh"], item["en"], item["kind"], item["grid"], bool(item.get("public", True)),
                    routing, limits, attributes)


def _attribute(at: str, attr) -> Attribute:
    rules.require(isinstance(attr, dict) and attr.get("code") and attr.get("zh") and attr.get("en"), WHERE,
                  f"{at} needs code, zh and en")
    rules.require(attr.get("datatype", "string") in DATATYPES, WHERE, f"{at}.datatype must be one of {DATATYPES}")
    return Attribute(attr["code"], attr["zh"], attr["en"], attr.get("datatype", "string"),
                     bool(attr.get("required", False)), tuple(attr.get("values") or ()))


def _check_limits(limits: dict, at: str) -> None:
    for name, value in limits.items():
        rules.require(isinstance(value, int) and 0 <= value <= 60, WHERE,
                      f"{at}.{name} must be a whole number of working days from 0 to 60")


def current() -> Rules:
    """The rules loaded at start-up."""
    assert _rules is not None, "case rules not loaded"
    return _rules


def categories() -> list[Category]:
    return list(current().categories.values())


def category(code: str) -> Category | None:
    return current().categories.get(code)


def policy() -> Policy:
    return current().policy


def page_link(case_id: int, page: tuple[str, str] = DETAIL_PAGE) -> str:
    """The link of a notice about one case: its mini-program page with the case id, e.g.
    ``pages/cases/detail?id=302`` (the inbox opens it; a WeChat subscribe message sends the same page)."""
    kind, default = page
    return f"{(notifications.template_for(kind) or {}).get('page') or default}?id={case_id}"
