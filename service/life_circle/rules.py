"""Life-circle categories, thresholds and paces, loaded from config/rules/life_circle.yaml
and validated at start-up."""
from __future__ import annotations

from dataclasses import dataclass

from service import rules

WHERE = "life_circle.yaml"


@dataclass(frozen=True)
class Category:
    code: str
    zh: str
    en: str
    dimension: str
    threshold_m: int
    required: bool
    subtypes: tuple[str, ...]

    def name(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True)
class Pace:
    code: str
    zh: str
    en: str
    m_per_min: int

    def name(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True)
class Walk:
    detour_factor: float
    default_minutes: int
    max_minutes: int
    default_limit: int
    max_limit: int
    coverage_search_m: int
    strict_threshold_m: int


@dataclass(frozen=True)
class Rules:
    """The loaded rules: categories with their thresholds, paces, dimensions, target groups, walking."""
    by_code: dict[str, Category]
    paces_by_code: dict[str, Pace]
    dimensions: dict[str, str]                 # name → English name
    target_groups: dict[str, tuple[str, str]]  # code → (zh, en)
    walk: Walk

    def categories(self) -> list[Category]:
        return list(self.by_code.values())

    def category(self, code: str) -> Category | None:
        return self.by_code.get(code)

    def required_codes(self) -> list[str]:
        return [c.code for c in self.by_code.values() if c.required]

    def paces(self) -> list[Pace]:
        return list(self.paces_by_code.values())

    def pace(self, code: str) -> Pace | None:
        return self.paces_by_code.get(code)

    def category_name(self, code: str, lang: str = "zh") -> str:
        """A category's label (the code itself if the rules do not name it)."""
        found = self.by_code.get(code)
        return found.name(lang) if found else code

    def pace_name(self, code: str, lang: str = "zh") -> str:
        found = self.paces_by_code.get(code)
        return found.name(lang) if found else code

    def target_group_name(self, code: str, lang: str = "zh") -> str:
        names = self.target_groups.get(code)
        return (names[1] if lang == "en" else names[0]) if names else code


_current: Rules | None = None


def _positive_int(value, at: str, low: int = 1, high: int = 100000) -> int:
    rules.require(isinstance(value, int) and not isinstance(value, bool) and low <= value <= high, WHERE,
                  f"{at} must be a whole number from {low} to {high}")
    return value


def load(directory=None) -> Rules:
    """Read and check config/rules/life_circle.yaml (or ``directory``'s); the loaded rules become current."""
    global _current
    _current = parse(rules.load("life_circle", directory))
    return _current


def current() -> Rules:
    assert _current is not None, "life-circle rules not loaded"
    return _current


def parse(data: dict) -> Rules:
    paces = {}
    for code, item in (data.get("paces") or {}).items():
        rules.require(isinstance(item, dict) and item.get("zh") and item.get("en"), WHERE,
                      f"paces.{code} needs zh and en")
        paces[code] = Pace(code, item["zh"], item["en"], _positive_int(item.get("m_per_min"), f"paces.{code}.m_per_min",
                                                                       10, 200))
    rules.require(set(paces) >= {"standard", "elder"}, WHERE, "paces must define 'standard' and 'elder'")
    walk = data.get("walk") or {}
    rules.require(isinstance(walk, dict), WHERE, "walk must be a mapping")
    detour = walk.get("detour_factor")
    rules.require(isinstance(detour, (int, float)) and not isinstance(detour, bool) and 1.0 <= detour <= 3.0, WHERE,
                  "walk.detour_factor must be a number from 1.0 to 3.0")
    w = Walk(float(detour), _positive_int(walk.get("default_minutes"), "walk.default_minutes", 1, 120),
             _positive_int(walk.get("max_minutes"), "walk.max_minutes", 1, 120),
             _positive_int(walk.get("default_limit"), "walk.default_limit", 1, 500),
             _positive_int(walk.get("max_limit"), "walk.max_limit", 1, 500),
             _positive_int(walk.get("coverage_search_m"), "walk.coverage_search_m", 100, 20000),
             _positive_int(walk.get("strict_threshold_m"), "walk.strict_threshold_m", 50, 5000))
    rules.require(w.default_minutes <= w.max_minutes and w.default_limit <= w.max_limit, WHERE,
                  "walk defaults must not exceed their maxima")
    dimensions = {}
    for name, item in (data.get("dimensions") or {}).items():
        rules.require(isinstance(item, dict) and item.get("en"), WHERE, f"dimensions.{name} needs en")
        dimensions[name] = item["en"]
    rules.require(bool(dimensions), WHERE, "dimensions are required")
    groups = {}
    for code, item in (data.get("target_groups") or {}).items():
        rules.require(isinstance(item, dict) and item.get("zh") and item.get("en"), WHERE,
                      f"target_groups.{code} needs zh and en")
        groups[code] = (item["zh"], item["en"])
    rules.require("everyone" in groups, WHERE, "target_groups must define 'everyone'")
    categories = {}
    for index, item in enumerate(data.get("categories") or []):
        at = f"categories[{index}]"
        rules.require(isinstance(item, dict), WHERE, f"{at} must be a mapping")
        for key in ("code", "zh", "en", "dimension"):
            rules.require(isinstance(item.get(key), str) and item[key], WHERE, f"{at}.{key} is required")
        code = item["code"]
        rules.require(code not in categories, WHERE, f"{at}: duplicate code {code!r}")
        rules.require(item["dimension"] in dimensions, WHERE, f"{at}.dimension must be one of {list(dimensions)}")
        threshold = _positive_int(item.get("threshold_m"), f"{at}.threshold_m", 50, 5000)
        subtypes = item.get("subtypes") or []
        rules.require(isinstance(subtypes, list) and all(isinstance(s, str) for s in subtypes), WHERE,
                      f"{at}.subtypes must be a list of names")
        categories[code] = Category(code, item["zh"], item["en"], item["dimension"], threshold,
                                    bool(item.get("required", False)), tuple(subtypes))
    rules.require(bool(categories), WHERE, "at least one category is required")
    rules.require(any(c.required for c in categories.values()), WHERE, "at least one category must be required")
    return Rules(categories, paces, dimensions, groups, w)
