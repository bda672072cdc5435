"""Case categories and limits are data; a bad rules file stops the start with a clear message."""
import shutil

import pytest

from config import RULES_DIR
from service.cases import rules
from service.rules import RulesError


@pytest.fixture
def rules_dir(tmp_path):
    shutil.copy(RULES_DIR / "cases.yaml", tmp_path / "cases.yaml")
    yield tmp_path
    rules.load()


def rewrite(directory, old, new):
    path = directory / "cases.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_rules_load_with_defaults_and_overrides():
    rules.load()
    assert rules.category("corridor_clutter").limits == {"first_contact": 1, "handling": 5, "rehandling": 3,
                                                        "complex": 15, "visit": 1}
    assert rules.category("illegal_building").limits["handling"] == 10
    assert rules.category("group_renting").public is False
    assert [a.code for a in rules.category("elevator").attributes] == ["building"]
    assert rules.policy().satisfied_levels == (5, 4, 3)


@pytest.mark.parametrize("old, new, message", [
    ("handling: 5, rehandling", "handling: -1, rehandling", "defaults.limits.handling"),
    ("kind: 投诉, grid: 事件/市容环境, public: true}", "kind: 抱怨, grid: 事件/市容环境, public: true}", "kind must be one of"),
    ("code: dust,", "code: river,", "duplicate code 'river'"),
    ("limits: {handling: 10}", "limits: {handlng: 10}", "unknown name"),
    ("reopen_within_days: 7", "reopen_within_days: soon", "policy"),
    ("served_radius_m: 3000", "served_radius_m: 0", "policy.served_radius_m"),
    ("datatype: string, required: true", "datatype: colour, required: true", "datatype must be one of"),
])
def test_a_bad_rules_file_names_the_problem(rules_dir, old, new, message):
    rewrite(rules_dir, old, new)
    with pytest.raises(RulesError, match="cases.yaml") as raised:
        rules.load(rules_dir)
    assert message in str(raised.value)


def test_create_app_refuses_to_start_with_a_bad_rules_file(rules_dir, monkeypatch):
    import config
    from api.app import create_app

    rewrite(rules_dir, "handling: 5, rehandling", "handling: 99, rehandling")
    for other in RULES_DIR.glob("*.yaml"):   # every other rules file as shipped: only cases.yaml is bad
        if other.name != "cases.yaml":
            shutil.copy(other, rules_dir / other.name)
    monkeypatch.setattr(config, "RULES_DIR", rules_dir)
    import service.rules as service_rules

    monkeypatch.setattr(service_rules, "RULES_DIR", rules_dir)
    with pytest.raises(RulesError, match="whole number of working days"):
        create_app(profile="test")
