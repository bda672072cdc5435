"""The label catalogues (config/labels/*.yaml): every code the models and rules can put in an answer has a
Chinese and an English label; a malformed catalogue is refused naming the file and the entry."""
from __future__ import annotations

import pytest

from models.cases import OUTCOMES, STATUSES as CASE_STATUSES
from models.life_circle import STATUSES as FACILITY_STATUSES
from models.meals import BOOKING_STATUSES, MEALS, MODES, SITE_KINDS
from models.people import CLAIM_STATUSES, LINK_STATUSES, ROLES, SCOPE_TYPES, VERIFICATION_DOCUMENTS
from models.places import AREA_SOURCES, COORD_SOURCES
from models.voting import BALLOT_STATUSES, CHANNELS, CHOICES, MOTION_KINDS, MOTION_STATUSES
from models.voting import SCOPE_TYPES as VOTING_SCOPES
from service import labels
from service.cases.states import CONTACT_METHODS, TRANSITIONS, VISIT_RESULTS
from service.geo import DATUMS
from service.meals.rules import STATUS_FLAGS
from service.voting.rules import APPROVALS, REVOTES

EVERY_CODE = [
    ("cases", "status", CASE_STATUSES), ("cases", "outcome", OUTCOMES), ("cases", "action", tuple(TRANSITIONS)),
    ("cases", "allowed_actions", tuple(TRANSITIONS)), ("cases", "method", CONTACT_METHODS),
    ("cases", "visit_result", VISIT_RESULTS), ("cases", "result", VISIT_RESULTS),
    ("people", "role", ROLES), ("people", "roles", ROLES), ("people", "type", SCOPE_TYPES),
    ("people", "status", CLAIM_STATUSES + LINK_STATUSES + ("verified", "pending", "missing")),
    ("people", "documents", VERIFICATION_DOCUMENTS),
    ("places", "coord_source", COORD_SOURCES), ("places", "area_source", AREA_SOURCES), ("places", "datum", DATUMS),
    ("life_circle", "status", FACILITY_STATUSES),
    ("meals", "kind", SITE_KINDS), ("meals", "meal", MEALS), ("meals", "mode", MODES),
    ("meals", "status", BOOKING_STATUSES), ("meals", "statuses", STATUS_FLAGS),
    ("voting", "status", MOTION_STATUSES + BALLOT_STATUSES), ("voting", "kind", MOTION_KINDS),
    ("voting", "scope_type", VOTING_SCOPES), ("voting", "channel", CHANNELS), ("voting", "choice", CHOICES),
    ("voting", "approval_rule", APPROVALS), ("voting", "revote", REVOTES),
]


@pytest.mark.parametrize("domain,field,codes", EVERY_CODE, ids=[f"{d}.{f}" for d, f, _ in EVERY_CODE])
def test_every_code_of_the_models_has_a_chinese_and_an_english_label(domain, field, codes):
    missing = set(codes) - labels.codes(domain, field)
    assert not missing, f"config/labels/{domain}.yaml lacks {field}: {sorted(missing)}"
    for code in codes:
        zh, en = labels.name(domain, field, code, "zh"), labels.name(domain, field, code, "en")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), (code, zh)
        assert en.isascii() and en[:1].isupper(), (code, en)


def test_a_label_follows_the_language_and_an_alias_shares_its_codes():
    assert labels.name("cases", "status", "in_progress") == "办理中"
    assert labels.name("cases", "status", "in_progress", "en") == "In progress"
    assert labels.name("cases", "to_status", "closed") == labels.name("cases", "status", "closed") == "已办结"
    assert labels.names("meals", "tags", ["soft", "low_salt", "small_portion"]) == ["软烂", "低盐", "小份"]
    item = labels.attach({"status": "served", "tags": ["soft"], "other": "x"}, "meals", ("status", "tags", "mode"))
    assert item == {"status": "served", "status_name": "已取餐", "tags": ["soft"], "tags_names": ["软烂"],
                    "other": "x"}


def test_an_unknown_code_is_shown_as_itself_and_none_stays_none():
    assert labels.name("meals", "tags", "清真少油") == "清真少油"
    assert labels.name("cases", "status", None) is None


@pytest.mark.parametrize("text,problem", [
    ("- a\n- b\n", "the top level must map fields"),
    ("status:\n  open: 开放\n", "status.open must be [中文, English]"),
    ("status:\n  open: [开放]\n", "status.open must be [中文, English]"),
    ("status: {}\n", "status must map codes"),
    ("to_status: status\n", "to_status names status, which has no codes"),
])
def test_a_malformed_catalogue_is_refused_naming_the_entry(tmp_path, monkeypatch, text, problem):
    (tmp_path / "broken.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setattr(labels, "LABELS_DIR", tmp_path)
    labels.catalogue.cache_clear()
    try:
        with pytest.raises(labels.CatalogueError, match=problem.replace("[", r"\[").replace("]", r"\]")):
            labels.catalogue("broken")
    finally:
        labels.catalogue.cache_clear()


def test_every_catalogue_loads():
    assert {"audit", "cases", "life_circle", "meals", "notifications", "people", "places", "voting"} <= set(
        labels.domains())
    for domain in labels.domains():
        assert labels.catalogue(domain)


def test_every_price_tier_of_the_meal_rules_has_its_label():
    from service.meals import rules as meal_rules

    rules = meal_rules.current()
    tiers = {t.code for t in (*rules.age_tiers, *rules.operator_tiers)} | {"general", "elder"}
    assert tiers - labels.codes("meals", "tier") == set()
    for tier in rules.age_tiers:  # the catalogue's Chinese is the rules' own name
        assert labels.name("meals", "tier", tier.code) == tier.zh
