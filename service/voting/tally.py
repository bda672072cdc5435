"""The Art. 278 arithmetic, in integers only.

Areas are counted in hundredths of a square metre (the register's exact scale) and every comparison is a
cross-multiplication (Art. 1259: 以上 includes the boundary, 过半数 does not):

    quorum     = 3*a_p >= 2*A   and 3*n_p >= 2*N
    pass_3_4   = 4*a_y >= 3*a_p and 4*n_y >= 3*n_p      (items 6–8)
    pass_major = 2*a_y >  a_p   and 2*n_y >  n_p        (items 1–5, 9)
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

CENTI = 100


def centi(area: Decimal | int | str) -> int:
    """An area in m² as an integer count of 0.01 m²; refuses anything finer."""
    value = Decimal(str(area)) * CENTI
    if value != value.to_integral_value():
        raise ValueError(f"{area} m² is finer than 0.01 m²")
    return int(value)


def quorum(a_p: int, n_p: int, total_area: int, total_heads: int) -> tuple[bool, bool]:
    """(area ledger met, heads ledger met): participation ≥ 2/3 of the total."""
    return 3 * a_p >= 2 * total_area, 3 * n_p >= 2 * total_heads


def approval(approval_rule: str, a_y: int, n_y: int, a_p: int, n_p: int) -> tuple[bool, bool]:
    """(area ledger passed, heads ledger passed) among the participants."""
    if approval_rule == "three_quarters":
        return 4 * a_y >= 3 * a_p, 4 * n_y >= 3 * n_p
    if approval_rule == "majority":
        return 2 * a_y > a_p, 2 * n_y > n_p
    raise ValueError(approval_rule)


@dataclass
class Ledger:
    """Sums over ballots: area in 0.01 m², heads."""
    area: int = 0
    heads: int = 0

    def add(self, area: int, heads: int = 1) -> None:
        self.area += area
        self.heads += heads


def fraction(numerator: int, denominator: int) -> str:
    return f"{numerator}/{denominator}"


def decide(approval_rule: str, *, total_area: int, total_heads: int, yes: Ledger, no: Ledger, abstain: Ledger,
           spoiled: Ledger, silent_with_majority: bool = False) -> dict:
    """The decision with both ledgers and the arithmetic as exact fractions."""
    part = Ledger(yes.area + no.area + abstain.area + spoiled.area, yes.heads + no.heads + abstain.heads
                  + spoiled.heads)
    silent = Ledger(total_area - part.area, total_heads - part.heads)
    consent = Ledger(yes.area, yes.heads)
    silent_applied = None
    if silent_with_majority and (silent.area or silent.heads):
        # 计入已表决的多数票: silent owners join the side holding the majority of the ballots cast,
        # decided per ledger; they then count as participants. Only when the assembly's rules provide it.
        dissent = Ledger(part.area - yes.area, part.heads - yes.heads)
        area_to_yes = yes.area > dissent.area
        heads_to_yes = yes.heads > dissent.heads
        consent = Ledger(yes.area + (silent.area if area_to_yes else 0), yes.heads + (silent.heads if heads_to_yes
                                                                                      else 0))
        silent_applied = {"area": _m2(silent.area), "heads": silent.heads,
                          "area_joined": "yes" if area_to_yes else "not_yes",
                          "heads_joined": "yes" if heads_to_yes else "not_yes"}
        part = Ledger(total_area, total_heads)
    quorum_area, quorum_heads = quorum(part.area, part.heads, total_area, total_heads)
    approve_area, approve_heads = approval(approval_rule, consent.area, consent.heads, part.area, part.heads)
    quorum_met = quorum_area and quorum_heads
    approved = approve_area and approve_heads
    if approval_rule == "three_quarters":
        rule_area = f"4×{consent.area} ≥ 3×{part.area}"
        rule_heads = f"4×{consent.heads} ≥ 3×{part.heads}"
    else:
        rule_area = f"2×{consent.area} > {part.area}"
        rule_heads = f"2×{consent.heads} > {part.heads}"
    return {
        "approval_rule": approval_rule,
        "participation": {"area": _m2(part.area), "heads": part.heads,
                          "area_fraction": fraction(part.area, total_area),
                          "heads_fraction": fraction(part.heads, total_heads),
                          "area_met": quorum_area, "heads_met": quorum_heads, "met": quorum_met,
                          "arithmetic": [f"3×{part.area} ≥ 2×{total_area}", f"3×{part.heads} ≥ 2×{total_heads}"]},
        "approval": {"area": _m2(consent.area), "heads": consent.heads,
                     "area_fraction": fraction(consent.area, part.area) if part.area else "0/0",
                     "heads_fraction": fraction(consent.heads, part.heads) if part.heads else "0/0",
                     "area_met": approve_area, "heads_met": approve_heads, "met": approved,
                     "arithmetic": [rule_area, rule_heads]},
        "silent_counted_with_majority": silent_applied,
        "passed": quorum_met and approved,
    }


def _m2(centi_area: int) -> str:
    sign = "-" if centi_area < 0 else ""
    value = abs(centi_area)
    return f"{sign}{value // CENTI}.{value % CENTI:02d}"
