"""The Art. 278 arithmetic at its exact boundaries (voting.md §2 and §8), integers only."""
from decimal import Decimal

import pytest

from service.voting import rules
from service.voting.tally import Ledger, approval, centi, decide, quorum

A = centi("24000.00")
N = 300


def test_centi_is_exact_and_refuses_finer_areas():
    assert centi("15999.99") == 1599999 and centi(Decimal("89.37")) == 8937
    with pytest.raises(ValueError):
        centi("1.005")


@pytest.mark.parametrize("n_p, ok", [(199, False), (200, True), (201, True)])
def test_participation_heads_at_exactly_two_thirds(n_p, ok):
    # Example 1: 3×200 = 600 ≥ 600; 199 → 597 < 600.
    assert quorum(centi("16000.00"), n_p, A, N) == (True, ok)


@pytest.mark.parametrize("a_p, ok", [("15999.99", False), ("16000.00", True), ("16000.01", True)])
def test_participation_area_at_exactly_two_thirds(a_p, ok):
    # Example 2: 1,599,999 × 3 = 4,799,997 < 4,800,000 although "66.67%" would display.
    assert quorum(centi(a_p), 210, A, N) == (ok, True)


@pytest.mark.parametrize("n_y, ok", [(110, False), (111, True)])
def test_majority_exactly_half_fails(n_y, ok):
    # Example 3: 过半数 is strictly more than half.
    assert approval("majority", centi("9000.00"), n_y, centi("17600.00"), 220) == (True, ok)


@pytest.mark.parametrize("a_y, ok", [("8800.00", False), ("8800.01", True)])
def test_majority_area_exactly_half_fails(a_y, ok):
    assert approval("majority", centi(a_y), 111, centi("17600.00"), 220) == (ok, True)


@pytest.mark.parametrize("n_y, a_y, expected", [
    (149, "12000.00", (True, False)),   # 596 < 600
    (150, "12000.00", (True, True)),    # exactly 3/4 passes (以上 includes the boundary)
    (150, "11999.99", (False, True)),
])
def test_three_quarters_boundary(n_y, a_y, expected):
    assert approval("three_quarters", centi(a_y), n_y, centi("16000.00"), 200) == expected


def test_example_4_using_funds_passes_raising_fails():
    rules.load()
    assert rules.current().item(5).approval == "majority" and rules.current().item(6).approval == "three_quarters"
    args = (centi("12000.00"), 149, centi("16000.00"), 200)
    assert approval(rules.current().item(5).approval, *args) == (True, True)
    assert approval(rules.current().item(6).approval, *args) == (True, False)


def test_example_5_elevator_exactly_two_thirds_and_three_quarters():
    # 8 × 75 m² + 4 × 60 m²; the 75 m² owners vote 6 yes, 1 no, 1 abstain.
    total_area, total_heads = centi("840.00"), 12
    yes, no, abstain = Ledger(centi("450.00"), 6), Ledger(centi("75.00"), 1), Ledger(centi("75.00"), 1)
    result = decide("three_quarters", total_area=total_area, total_heads=total_heads, yes=yes, no=no,
                    abstain=abstain, spoiled=Ledger())
    assert result["participation"]["met"] and result["approval"]["met"] and result["passed"]
    assert result["participation"]["arithmetic"] == ["3×60000 ≥ 2×84000", "3×8 ≥ 2×12"]
    assert result["approval"]["arithmetic"] == ["4×45000 ≥ 3×60000", "4×6 ≥ 3×8"]
    # One yes turned abstain: 4×5 = 20 < 24.
    result = decide("three_quarters", total_area=total_area, total_heads=total_heads,
                    yes=Ledger(centi("375.00"), 5), no=no, abstain=Ledger(centi("150.00"), 2), spoiled=Ledger())
    assert not result["passed"] and not result["approval"]["heads_met"]


def test_spoiled_and_abstain_take_part_without_consenting():
    result = decide("majority", total_area=300, total_heads=3, yes=Ledger(100, 1), no=Ledger(), abstain=Ledger(100, 1),
                    spoiled=Ledger(100, 1))
    assert result["participation"]["heads"] == 3 and result["approval"]["met"] is False


def test_silent_owners_join_the_majority_only_when_enabled_and_it_is_shown():
    kwargs = dict(total_area=1000, total_heads=10, yes=Ledger(400, 4), no=Ledger(200, 2), abstain=Ledger(),
                  spoiled=Ledger())
    off = decide("majority", **kwargs)
    assert off["participation"]["met"] is False and off["silent_counted_with_majority"] is None
    on = decide("majority", silent_with_majority=True, **kwargs)
    assert on["participation"]["heads"] == 10 and on["approval"]["heads"] == 8 and on["passed"]
    assert on["silent_counted_with_majority"] == {"area": "4.00", "heads": 4, "area_joined": "yes",
                                                  "heads_joined": "yes"}
