"""The adjustment policy, table-driven: when a rule proposes a change, and how guardrails trim or refuse it."""

from __future__ import annotations

from decimal import Decimal

import pydantic
import pytest

from core.health import CampaignPerformance
from core.policy import (
    Candidate,
    Direction,
    Evidence,
    GuardrailBudget,
    Guardrails,
    Refusal,
    Rule,
    apply_guardrails,
    evaluate,
    rule_for,
)

INCREASE, DECREASE = Direction.INCREASE, Direction.DECREASE

# Target CPA 10.00, tolerance 20%: increase at CPA <= 8.00, decrease at CPA >= 12.00.
# Budget-capped: average daily spend >= 80% of the daily budget; over 7 days at 100.00 a day, 560.00.
RULE = Rule(name="default", target_cpa=Decimal("10"))


def perf(budget: str | None, spent: str, conversions: int, window_days: int = 7) -> CampaignPerformance:
    return CampaignPerformance(
        id=42,
        name="c42",
        status=6,
        daily_budget=None if budget is None else Decimal(budget),
        spent=Decimal(spent),
        conversions=conversions,
        impressions=1000,
        window_days=window_days,
    )


EVALUATE_CASES = [
    # name, daily budget, spent over 7 days, conversions, expected (direction, new amount) or None
    ("increase-at-exactly-the-cpa-line-and-exactly-80-percent-spent", "100.00", "560.00", 70, (INCREASE, "120.00")),
    ("increase-well-under-target-fully-capped", "100.00", "700.00", 100, (INCREASE, "120.00")),
    ("no-increase-a-tenth-of-a-cent-over-the-cpa-line", "100.00", "560.07", 70, None),  # CPA 8.001
    ("no-increase-a-cent-short-of-80-percent-spent", "100.00", "559.93", 70, None),  # 79.99 a day
    ("no-increase-under-min-conversions", "2.00", "14.00", 2, None),  # CPA 7, capped, 2 < 3
    ("increase-at-exactly-min-conversions", "3.00", "21.00", 3, (INCREASE, "3.60")),
    ("no-increase-when-not-capped-however-cheap", "100.00", "70.00", 70, None),  # CPA 1, 10 a day
    ("decrease-at-exactly-the-cpa-line", "100.00", "120.00", 10, (DECREASE, "80.00")),
    ("nothing-a-tenth-of-a-cent-under-the-decrease-line", "100.00", "119.99", 10, None),  # CPA 11.999
    ("nothing-at-target", "100.00", "100.00", 10, None),
    ("nothing-between-the-lines-even-when-capped", "100.00", "700.00", 70, None),  # CPA 10
    ("decrease-on-high-cpa-even-with-few-conversions", "100.00", "50.00", 1, (DECREASE, "80.00")),
    ("decrease-when-spent-exactly-2x-target-without-conversion", "100.00", "20.00", 0, (DECREASE, "80.00")),
    ("nothing-when-spent-a-cent-under-2x-target-without-conversion", "100.00", "19.99", 0, None),
    ("nothing-without-spend", "100.00", "0", 0, None),
    ("never-without-a-daily-limit-however-bad", None, "1000.00", 0, None),
    ("never-without-a-daily-limit-however-good", None, "700.00", 100, None),
    ("never-with-a-zero-daily-limit", "0", "1000.00", 0, None),
]


@pytest.mark.parametrize(
    ("budget", "spent", "conversions", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in EVALUATE_CASES],
)
def test_evaluate(budget: str | None, spent: str, conversions: int, expected: tuple[Direction, str] | None) -> None:
    candidate = evaluate(RULE, perf(budget, spent, conversions))
    if expected is None:
        assert candidate is None
    else:
        assert candidate is not None
        assert (candidate.direction, candidate.to_amount) == (expected[0], Decimal(expected[1]))
        assert candidate.from_amount == Decimal(budget)
        assert candidate.rule == "default"
        assert candidate.notes == ()


def test_evaluate_carries_the_evidence_and_reason() -> None:
    candidate = evaluate(RULE, perf("100.00", "560.00", 70))
    assert candidate is not None
    assert candidate.evidence == Evidence(
        window_days=7,
        spent=Decimal("560.00"),
        conversions=70,
        cpa=Decimal("8.00"),
        target_cpa=Decimal("10"),
        budget_use=Decimal("0.8"),
    )
    assert candidate.reason == (
        "CPA 8.00 beats the 10.00 target with 70 conversions, and it spends 80% of its daily budget."
    )


def test_the_no_conversion_decrease_explains_itself() -> None:
    candidate = evaluate(RULE, perf("100.00", "20.00", 0))
    assert candidate is not None
    assert candidate.reason == "Spent 20.00 in 7 days without a conversion."


@pytest.mark.parametrize(
    ("budget", "step", "spent", "conversions", "to_amount"),
    [
        pytest.param("33.33", "20", "233.31", 30, "40.00", id="increase-39.996-to-40.00"),
        pytest.param("33.33", "20", "50.00", 1, "26.66", id="decrease-26.664-to-26.66"),
        pytest.param("10.02", "25", "70.14", 10, "12.53", id="increase-half-cent-rounds-up"),  # 12.525
        pytest.param("10.02", "25", "50.00", 1, "7.52", id="decrease-half-cent-rounds-up"),  # 7.515
    ],
)
def test_proposed_amounts_are_rounded_to_cents_half_up(
    budget: str, step: str, spent: str, conversions: int, to_amount: str
) -> None:
    rule = Rule(name="r", target_cpa=Decimal("10"), step_percent=Decimal(step))
    candidate = evaluate(rule, perf(budget, spent, conversions))
    assert candidate is not None
    assert candidate.to_amount == Decimal(to_amount)
    assert candidate.to_amount.as_tuple().exponent == -2


# --- guardrails -----------------------------------------------------------------------------


def candidate(from_amount: str, to_amount: str, campaign_id: int = 42) -> Candidate:
    start, target = Decimal(from_amount), Decimal(to_amount)
    return Candidate(
        campaign_id=campaign_id,
        campaign_name=f"c{campaign_id}",
        rule="default",
        direction=INCREASE if target > start else DECREASE,
        from_amount=start,
        to_amount=target,
        reason="because",
        evidence=Evidence(7, Decimal(0), 0, None, Decimal("10"), None),
    )


def roomy(total_daily_budget: str = "1000.00") -> GuardrailBudget:
    """A balance so large that only the per-campaign guardrails can bite."""
    return GuardrailBudget(
        balance=Decimal("1000000"),
        total_daily_budget=Decimal(total_daily_budget),
        increased_today=Decimal(0),
        low_balance_days=Decimal(3),
    )


GUARDRAIL_CASES = [
    # name, from, proposed, expected amount or a refusal reason, expected notes
    ("within-every-limit", "100.00", "120.00", "120.00", ()),
    ("increase-trimmed-to-a-50-percent-step", "100.00", "200.00", "150.00", ("trimmed to the 50% largest step",)),
    ("decrease-trimmed-to-a-50-percent-step", "100.00", "20.00", "50.00", ("trimmed to the 50% largest step",)),
    ("exactly-a-50-percent-step-is-not-trimmed", "100.00", "150.00", "150.00", ()),
    ("capped-at-the-max-daily-budget", "9000.00", "10800.00", "10000", ("capped at the 10,000.00 maximum daily budget",)),
    (
        "trimmed-then-capped",
        "9500.00",
        "19000.00",
        "10000",
        ("trimmed to the 50% largest step", "capped at the 10,000.00 maximum daily budget"),
    ),
    ("raised-to-the-min-daily-budget", "12.00", "9.60", "10", ("raised to the 10.00 minimum daily budget",)),
    ("above-the-max-a-decrease-still-passes", "12000.00", "9600.00", "9600.00", ()),
    ("refused-at-the-min-already", "10.00", "8.00", Refusal(42, "default", "the guardrails leave no change to make"), None),
    ("refused-at-the-max-already", "10000.00", "12000.00", Refusal(42, "default", "the guardrails leave no change to make"), None),
    (
        "refused-when-the-max-would-turn-an-increase-into-a-decrease",
        "20000.00",
        "24000.00",
        Refusal(42, "default", "the guardrails leave no change to make"),
        None,
    ),
]


@pytest.mark.parametrize(
    ("start", "proposed", "expected", "notes"),
    [pytest.param(*case[1:], id=case[0]) for case in GUARDRAIL_CASES],
)
def test_guardrails_on_one_candidate(start: str, proposed: str, expected: str | Refusal, notes: tuple[str, ...] | None) -> None:
    result = apply_guardrails(candidate(start, proposed), Guardrails(), roomy())
    if isinstance(expected, Refusal):
        assert result == expected
    else:
        assert isinstance(result, Candidate)
        assert result.to_amount == Decimal(expected)
        assert result.notes == notes
        assert result.from_amount == Decimal(start)


def test_daily_increase_cap_is_shared_across_candidates() -> None:
    guardrails = Guardrails(max_daily_increase=Decimal("100"))
    budget = roomy("1000.00")
    a = apply_guardrails(candidate("200.00", "240.00", 1), guardrails, budget)  # +40, 60 left
    b = apply_guardrails(candidate("300.00", "390.00", 2), guardrails, budget)  # +90 wanted, 60 given
    c = apply_guardrails(candidate("100.00", "120.00", 3), guardrails, budget)  # nothing left
    d = apply_guardrails(candidate("500.00", "400.00", 4), guardrails, budget)  # decreases are not capped
    assert isinstance(a, Candidate) and (a.to_amount, a.notes) == (Decimal("240.00"), ())
    assert isinstance(b, Candidate)
    assert (b.to_amount, b.notes) == (Decimal("360.00"), ("trimmed to the 60.00 left of today's increase cap",))
    assert c == Refusal(3, "default", "the 100.00 daily cap on increases is used up")
    assert isinstance(d, Candidate) and d.to_amount == Decimal("400.00")
    assert budget.increased_today == Decimal("100.00")
    assert budget.total_daily_budget == Decimal("1000.00")  # +40 +60 -100


def test_daily_increase_cap_counts_what_was_already_increased_today() -> None:
    budget = roomy()
    budget.increased_today = Decimal("995")  # of the default 1000
    result = apply_guardrails(candidate("100.00", "120.00"), Guardrails(), budget)
    assert isinstance(result, Candidate)
    assert result.to_amount == Decimal("105.00")


def low_balance_budget(total_daily_budget: str) -> GuardrailBudget:
    """A balance of 3,000.00 covers 3 days of at most 1,000.00 of daily budgets."""
    return GuardrailBudget(
        balance=Decimal("3000.00"),
        total_daily_budget=Decimal(total_daily_budget),
        increased_today=Decimal(0),
        low_balance_days=Decimal(3),
    )


def test_an_increase_up_to_exactly_the_low_balance_line_passes_then_the_next_is_refused() -> None:
    budget = low_balance_budget("900.00")  # room for exactly +100
    first = apply_guardrails(candidate("500.00", "600.00", 1), Guardrails(), budget)
    second = apply_guardrails(candidate("200.00", "240.00", 2), Guardrails(), budget)
    assert isinstance(first, Candidate) and (first.to_amount, first.notes) == (Decimal("600.00"), ())
    assert second == Refusal(2, "default", "any increase would leave the balance covering under 3 days of budget")
    assert budget.total_daily_budget == Decimal("1000.00")


def test_an_increase_past_the_low_balance_line_is_trimmed_with_a_note() -> None:
    result = apply_guardrails(candidate("500.00", "700.00"), Guardrails(), low_balance_budget("900.00"))
    assert isinstance(result, Candidate)
    assert result.to_amount == Decimal("600.00")
    assert result.notes == ("trimmed to keep 3 days of budget covered by the balance",)


def test_a_decrease_passes_even_when_the_balance_is_already_low() -> None:
    budget = low_balance_budget("2000.00")  # 3000 covers only 1.5 days
    result = apply_guardrails(candidate("500.00", "400.00"), Guardrails(), budget)
    assert isinstance(result, Candidate) and result.to_amount == Decimal("400.00")
    assert budget.total_daily_budget == Decimal("1900.00")
    assert budget.increased_today == Decimal(0)


def test_guardrail_limits_are_configurable() -> None:
    guardrails = Guardrails(min_daily_budget=Decimal("50"), max_daily_budget=Decimal("500"), max_change_percent=Decimal("10"))
    up = apply_guardrails(candidate("480.00", "576.00"), guardrails, roomy())
    down = apply_guardrails(candidate("52.00", "41.60"), guardrails, roomy())
    assert isinstance(up, Candidate) and up.to_amount == Decimal("500")
    assert up.notes == ("trimmed to the 10% largest step", "capped at the 500.00 maximum daily budget")
    assert isinstance(down, Candidate) and down.to_amount == Decimal("50")


def test_guardrails_refuse_a_min_above_the_max() -> None:
    with pytest.raises(pydantic.ValidationError, match="min_daily_budget is above max_daily_budget"):
        Guardrails(min_daily_budget=Decimal("100"), max_daily_budget=Decimal("50"))


# --- which rule applies ---------------------------------------------------------------------


def test_rule_for_prefers_a_rule_naming_the_campaign() -> None:
    catch_all = Rule(name="all", target_cpa=Decimal("10"))
    named = Rule(name="vip", target_cpa=Decimal("20"), campaign_ids=[7, 8])
    assert rule_for([catch_all, named], 7) is named
    assert rule_for([catch_all, named], 9) is catch_all


def test_rule_for_takes_the_first_of_several_matches() -> None:
    first, second = Rule(name="a", target_cpa=Decimal("1")), Rule(name="b", target_cpa=Decimal("2"))
    named_1, named_2 = (Rule(name=n, target_cpa=Decimal("3"), campaign_ids=[5]) for n in ("n1", "n2"))
    assert rule_for([first, second], 5) is first
    assert rule_for([first, named_1, named_2], 5) is named_1


def test_rule_for_without_a_catch_all_leaves_other_campaigns_alone() -> None:
    assert rule_for([Rule(name="vip", target_cpa=Decimal("20"), campaign_ids=[7])], 9) is None
    assert rule_for([], 9) is None


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"target_cpa": 0}, id="zero-target"),
        pytest.param({"target_cpa": 10, "tolerance": 1}, id="tolerance-of-100-percent"),
        pytest.param({"target_cpa": 10, "step_percent": 0}, id="zero-step"),
        pytest.param({"target_cpa": 10, "name": ""}, id="no-name"),
    ],
)
def test_rules_refuse_nonsense(bad: dict) -> None:
    with pytest.raises(pydantic.ValidationError):
        Rule(**{"name": "r", **bad})
