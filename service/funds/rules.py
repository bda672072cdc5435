"""Fund periods and account categories, loaded from config/rules/funds.yaml and checked at start-up."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from models.funds import FUNDS
from service import rules

_WHERE = "funds.yaml"


@dataclass(frozen=True)
class Rules:
    period_months: dict[str, int]
    categories: dict[str, dict[str, tuple[str, ...]]]   # fund → kind (income, expense) → codes
    query_escalation_days: int
    statement_due_days: int
    remind_days_before: int
    escalate_days_after: int
    annual_audit_due: tuple[int, int]     # (month, day) of the next year
    audit_posted_days: int
    reelection_audit_due_days: int
    commitment_due_days: int
    query_remind_days: int

    def codes(self, fund: str, kind: str) -> tuple[str, ...]:
        return ("bank",) if kind == "bank" else self.categories[fund].get(kind, ())


_rules: Rules | None = None


def load(directory=None) -> Rules:
    global _rules
    data = rules.load("funds", directory)
    funds, categories = data.get("funds") or {}, data.get("categories") or {}
    rules.require(set(funds) == set(FUNDS) and set(categories) == set(FUNDS), _WHERE,
                  f"'funds' and 'categories' must name exactly {FUNDS}")
    months = {}
    for fund, spec in funds.items():
        value = (spec or {}).get("period_months")
        rules.require(value in (1, 2, 3, 4, 6, 12), _WHERE, f"funds.{fund}.period_months must divide a year")
        months[fund] = value
    # The law's floor: 维修资金 at least every half year, 公共收益 every quarter (Art. 66).
    rules.require(months["maint"] <= 6 and months["public_income"] <= 3, _WHERE,
                  "periods may not be longer than the law allows (maint 6 months, public_income 3)")
    cats = {}
    for fund, kinds in categories.items():
        rules.require(isinstance(kinds, dict) and set(kinds) == {"income", "expense"}, _WHERE,
                      f"categories.{fund} must list income and expense")
        cats[fund] = {kind: tuple(codes) for kind, codes in kinds.items()}
    days = data.get("query_escalation_days")
    rules.require(isinstance(days, int) and 1 <= days <= 60, _WHERE, "query_escalation_days must be 1–60")
    calendar = [data.get(k) for k in ("statement_due_days", "remind_days_before", "escalate_days_after")]
    rules.require(all(isinstance(v, int) and 1 <= v <= 90 for v in calendar), _WHERE,
                  "statement_due_days, remind_days_before and escalate_days_after must be 1–90 days")
    try:
        month, day = (int(part) for part in str(data.get("annual_audit_due")).split("-"))
        date(2001, month, day)
    except (TypeError, ValueError):
        raise rules.RulesError(f"{_WHERE}: annual_audit_due must be MM-DD") from None
    posted = data.get("audit_posted_days")
    rules.require(isinstance(posted, int) and posted >= 30, _WHERE, "audit_posted_days must be at least 30 (Art. 67)")
    reelection_audit = data.get("reelection_audit_due_days")
    rules.require(isinstance(reelection_audit, int) and 1 <= reelection_audit <= 365, _WHERE,
                  "reelection_audit_due_days must be 1–365")
    commitment = data.get("commitment_due_days")
    rules.require(isinstance(commitment, int) and 1 <= commitment <= 30, _WHERE,
                  "commitment_due_days must be 1–30 (Arts. 20, 23: within 30 days of the election)")
    remind = data.get("query_remind_days")
    rules.require(isinstance(remind, int) and 1 <= remind < days, _WHERE,
                  "query_remind_days must be at least 1 and less than query_escalation_days")
    _rules = Rules(months, cats, days, *calendar, (month, day), posted, reelection_audit, commitment, remind)
    return _rules


def current() -> Rules:
    assert _rules is not None, "funds rules not loaded"
    return _rules
