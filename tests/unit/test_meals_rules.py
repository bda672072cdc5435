"""config/rules/meals.yaml: the shipped file loads; a bad file stops the start with a clear message;
per-site overrides apply."""
from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from config import RULES_DIR
from service.meals import rules as meal_rules
from service.rules import RulesError


def shipped() -> dict:
    return yaml.safe_load((RULES_DIR / "meals.yaml").read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict) -> Path:
    (tmp_path / "meals.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return tmp_path


def test_the_shipped_rules_give_the_brief_defaults():
    r = meal_rules.parse(shipped())
    assert r.elder_min_age == 60 and r.window_days == 7
    assert r.cutoff == {"lunch": time(9, 0), "dinner": time(14, 0)}
    assert r.reserve_percent == 20 and (r.reserve_days_before, r.reserve_at) == (1, time(18, 0))
    assert r.delivery_min_age == 80 and r.group_min_orders == 5
    assert (r.followup_count, r.followup_window_days) == (3, 30)
    assert [t.min_age for t in r.age_tiers] == [60, 70, 80, 90]
    assert all(isinstance(t.amount, Decimal) for t in r.age_tiers)
    assert [g.code for g in r.groups] == ["hardship", "age80", "civility"]
    assert r.civility_enabled is False


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["booking"]["cutoff"].update(lunch="9am"), "booking.cutoff.lunch must be a time HH:MM"),
    (lambda d: d["booking"]["cutoff"].update(lunch="24:00"), "booking.cutoff.lunch must be a time HH:MM"),
    (lambda d: d["subsidy"]["age_tiers"][0].update(amount=2.5), "must be an amount written as a string"),
    (lambda d: d["subsidy"]["age_tiers"][0].update(amount="2.005"), "at most 2 decimals"),
    (lambda d: d["subsidy"]["age_tiers"][0].update(amount="-1.00"), "non-negative"),
    (lambda d: d["subsidy"]["statuses"].append({"code": "rich", "amount": "1.00"}), "subsidy.statuses[3].code"),
    (lambda d: d["eligibility"].update(residence="planet"), "eligibility.residence must be one of"),
    (lambda d: d["eligibility"].update(elder_min_age="sixty"), "eligibility.elder_min_age must be a whole number"),
    (lambda d: d["booking"].update(window_days=-1), "booking.window_days"),
    (lambda d: d["booking"]["meal_times"].update(lunch={"starts": "13:00", "ends": "11:00"}), "starts must be before"),
    (lambda d: d.pop("delivery"), "'delivery' must be a mapping"),
    (lambda d: d["delivery"].update(flags=["wealthy"]), "delivery.flags"),
    (lambda d: d.update(sites={"X": {"colour": "red"}}), "sites.X: overrides must be among"),
    (lambda d: d["priority"]["groups"].append({"code": "x", "rank": 2}), "needs 'when' flags or a min_age"),
])
def test_a_bad_file_stops_the_start_with_a_clear_message(tmp_path, mutate, message):
    data = shipped()
    mutate(data)
    with pytest.raises(RulesError) as info:
        meal_rules.load(write(tmp_path, data))
    assert message in str(info.value) and "meals.yaml" in str(info.value)
    meal_rules.load()  # put the shipped rules back


def test_site_overrides_apply_to_that_site_only(tmp_path):
    data = shipped()
    data["sites"] = {"XQ": {"cutoff": {"lunch": "10:30"}, "window_days": 3, "reserve_percent": 0,
                            "delivery_fee": "0.00"}}
    try:
        r = meal_rules.load(write(tmp_path, data))
        site = r.for_site("XQ")
        assert site.cutoff == {"lunch": time(10, 30), "dinner": time(14, 0)}
        assert (site.window_days, site.reserve_percent, site.delivery_fee) == (3, 0, Decimal("0.00"))
        assert r.for_site("OTHER").cutoff["lunch"] == time(9, 0)
    finally:
        meal_rules.load()


def test_app_refuses_to_start_with_a_broken_meals_file(tmp_path, monkeypatch):
    import config
    from api.app import create_app

    for path in RULES_DIR.glob("*.yaml"):  # every other rules file as shipped
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "meals.yaml").write_text("eligibility: [", encoding="utf-8")
    monkeypatch.setattr(config, "RULES_DIR", tmp_path)
    monkeypatch.setattr("service.rules.RULES_DIR", tmp_path)
    try:
        with pytest.raises(RulesError, match="meals.yaml: not valid YAML"):
            create_app(profile="test")
    finally:
        monkeypatch.undo()
        meal_rules.load()
