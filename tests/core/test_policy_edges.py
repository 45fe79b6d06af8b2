"""Edge cases of the adjustment policy that tests/core/test_policy.py leaves open: limits met to the cent, other windows and settings.

Figures by hand; the health analysis is the judge of the low-balance line the guardrails keep.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from core.health import AccountSnapshot, CampaignPerformance, HealthThresholds, RecommendationCode, analyze
from core.models import Campaign
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
)

INCREASE, DECREASE = Direction.INCREASE, Direction.DECREASE


def perf(budget: str, spent: str, conversions: int, window_days: int = 7) -> CampaignPerformance:
    return CampaignPerformance(42, "c42", 6, Decimal(budget), Decimal(spent), conversions, 1000, window_days)


def candidate(from_amount: str, to_amount: str) -> Candidate:
    start, target = Decimal(from_amount), Decimal(to_amount)
    return Candidate(
        42, "c42", "r", INCREASE if target > start else DECREASE, start, target, "because",
        Evidence(7, Decimal(0), 0, None, Decimal("10"), None),
    )


def budget(balance: str, total: str, *, increased_today: str = "0", days: str = "3") -> GuardrailBudget:
    return GuardrailBudget(Decimal(balance), Decimal(total), Decimal(increased_today), Decimal(days))


@pytest.mark.parametrize(
    ("rule", "budget_", "spent", "conversions", "window", "expected"),
    [
        # Tolerance 0: the two lines meet at the target; capped it is an increase, otherwise a decrease.
        pytest.param({"tolerance": "0"}, "100.00", "700.00", 70, 7, (INCREASE, "120.00"), id="tolerance-0-at-target-capped-increases"),
        pytest.param({"tolerance": "0"}, "100.00", "100.00", 10, 7, (DECREASE, "80.00"), id="tolerance-0-at-target-uncapped-decreases"),
        # Another capped share: half the budget spent is enough.
        pytest.param({"capped_share": "0.5"}, "100.00", "350.00", 50, 7, (INCREASE, "120.00"), id="capped-share-0.5-met-exactly"),
        pytest.param({"capped_share": "0.5"}, "100.00", "349.93", 50, 7, None, id="capped-share-0.5-a-cent-a-day-short"),
        # Another window: three days at 80 of 100 is capped.
        pytest.param({"window_days": 3}, "100.00", "240.00", 30, 3, (INCREASE, "120.00"), id="3-day-window-capped"),
        pytest.param({"window_days": 3}, "100.00", "239.97", 30, 3, None, id="3-day-window-a-cent-a-day-short"),
        # min_conversions 0 still needs a conversion to have a CPA to beat.
        pytest.param({"min_conversions": 0}, "100.00", "700.00", 0, 7, (DECREASE, "80.00"), id="min-conversions-0-without-any-is-no-increase"),
        # A step of 100% cuts to zero: the policy proposes it, the guardrails decide.
        pytest.param({"step_percent": "100"}, "100.00", "200.00", 1, 7, (DECREASE, "0.00"), id="step-100-decrease-to-zero"),
    ],
)
def test_evaluate_edges(rule: dict, budget_: str, spent: str, conversions: int, window: int, expected: tuple | None) -> None:
    r = Rule(name="r", target_cpa=Decimal("10"), **{k: Decimal(v) if isinstance(v, str) else v for k, v in rule.items()})
    result = evaluate(r, perf(budget_, spent, conversions, window))
    if expected is None:
        assert result is None
    else:
        assert result is not None and (result.direction, result.to_amount) == (expected[0], Decimal(expected[1]))


def test_a_cut_to_zero_is_raised_to_the_minimum() -> None:
    result = apply_guardrails(candidate("100.00", "0.00"), Guardrails(max_change_percent=Decimal("100")), budget("1000000", "1000"))
    assert isinstance(result, Candidate)
    assert (result.to_amount, result.notes) == (Decimal("10"), ("raised to the 10.00 minimum daily budget",))


def test_a_decrease_on_a_campaign_already_under_the_minimum_is_refused_not_turned_into_an_increase() -> None:
    result = apply_guardrails(candidate("8.00", "6.40"), Guardrails(), budget("1000000", "1000"))
    assert result == Refusal(42, "r", "the guardrails leave no change to make")


def test_an_increase_with_less_than_a_cent_of_low_balance_room_is_refused() -> None:
    b = budget("3000.02", "1000.00")  # room 1000.0066 - 1000 = 0.0066
    result = apply_guardrails(candidate("100.00", "120.00"), Guardrails(), b)
    assert result == Refusal(42, "r", "any increase would leave the balance covering under 3 days of budget")
    assert b.total_daily_budget == Decimal("1000.00") and b.increased_today == 0


@pytest.mark.parametrize(
    ("balance", "total", "allowed"),
    [
        pytest.param("1000.00", "300.00", "133.33", id="room-33.333-rounds-down"),
        pytest.param("1000.01", "300.00", "133.33", id="room-33.3366-rounds-down-not-up"),
        pytest.param("1000.02", "300.00", "133.34", id="room-33.34-exactly"),
    ],
)
def test_an_increase_never_takes_the_balance_under_the_low_balance_line_even_by_a_cent(balance: str, total: str, allowed: str) -> None:
    result = apply_guardrails(candidate("100.00", "150.00"), Guardrails(), budget(balance, total))
    assert isinstance(result, Candidate) and result.to_amount == Decimal(allowed)

    # What the next health check will say about the account once the increase is applied.
    new_total = Decimal(total) + result.to_amount - Decimal("100.00")
    report = analyze(account(Decimal(balance), new_total), HealthThresholds())
    assert report.budget_days is not None and report.budget_days >= 3
    assert not report.has(RecommendationCode.LOW_BALANCE)


def account(balance: Decimal, total_daily_budget: Decimal) -> AccountSnapshot:
    campaign = Campaign.model_validate({"id": 1, "name": "all", "status": 6, "limit_daily_amount": str(total_daily_budget)})
    return AccountSnapshot(
        balance=balance, campaigns=[campaign], stats={}, window_from=date(2024, 2, 26), window_to=date(2024, 3, 3),
        taken_at=datetime(2024, 3, 4, 12, 0, tzinfo=timezone.utc),
    )


@pytest.mark.parametrize(
    ("start", "proposed", "allowed"),
    [
        pytest.param("33.33", "66.66", "49.99", id="increase-step-16.665-rounds-down"),
        pytest.param("33.33", "10.00", "16.67", id="decrease-step-16.665-rounds-down"),
        pytest.param("100.00", "200.00", "150.00", id="exact-step-unchanged"),
    ],
)
def test_one_step_never_exceeds_the_largest_change_even_by_half_a_cent(start: str, proposed: str, allowed: str) -> None:
    result = apply_guardrails(candidate(start, proposed), Guardrails(), budget("1000000", "1000"))
    assert isinstance(result, Candidate) and result.to_amount == Decimal(allowed)
    change = abs(result.to_amount - Decimal(start)) / Decimal(start) * 100
    assert change <= Decimal("50")


def test_the_daily_increase_cap_is_met_to_the_cent() -> None:
    b = budget("1000000", "1000", increased_today="999.99")
    up = apply_guardrails(candidate("100.00", "120.00"), Guardrails(), b)
    assert isinstance(up, Candidate) and up.to_amount == Decimal("100.01")
    assert up.notes == ("trimmed to the 0.01 left of today's increase cap",)
    assert apply_guardrails(candidate("200.00", "240.00"), Guardrails(), b) == Refusal(
        42, "r", "the 1,000.00 daily cap on increases is used up"
    )


# --- the step limit wins over the minimum and maximum daily budget -------------------------------------

ROOMY = dict(balance=Decimal("1000000"), total_daily_budget=Decimal(0), increased_today=Decimal(0), low_balance_days=Decimal(3))


@pytest.mark.parametrize(
    ("start", "wanted", "allowed", "note"),
    [
        # Below the 10.00 minimum: raised toward it, no further than one 50% step.
        ("5.00", "6.00", "7.50", "raised toward the 10.00 minimum daily budget as far as one step allows"),
        ("8.00", "9.00", "10.00", "raised to the 10.00 minimum daily budget"),
        # Above the 10,000.00 maximum: lowered toward it, no further than one step.
        ("30000.00", "24000.00", "15000.00", "lowered toward the 10,000.00 maximum daily budget as far as one step allows"),
        ("12000.00", "11000.00", "10000.00", "capped at the 10,000.00 maximum daily budget"),
    ],
)
def test_the_step_limit_wins_over_the_minimum_and_maximum(start: str, wanted: str, allowed: str, note: str) -> None:
    guarded = apply_guardrails(candidate(start, wanted), Guardrails(), GuardrailBudget(**ROOMY))
    assert not isinstance(guarded, Refusal)
    assert guarded.to_amount == Decimal(allowed)
    assert note in guarded.notes
    assert abs(guarded.to_amount - guarded.from_amount) <= guarded.from_amount * Decimal("0.5")


@pytest.mark.parametrize(("start", "wanted"), [("5.00", "4.00"), ("30000.00", "36000.00")])
def test_a_change_away_from_the_allowed_range_is_refused(start: str, wanted: str) -> None:
    refused = apply_guardrails(candidate(start, wanted), Guardrails(), GuardrailBudget(**ROOMY))
    assert isinstance(refused, Refusal) and refused.reason == "the guardrails leave no change to make"
