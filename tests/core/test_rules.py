"""Condition rules: windows, metrics, guards, actions and modes, judged without eval."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from core.ledger_types import DailyRow
from core.policy import Direction
from core.proposals import ActionKind, RuleMode
from core.rules import ConditionRule, Figures, Metric, Window, figures_of, holds, judge, parse_duration

D = Decimal
TODAY = date(2026, 11, 28)


def rule(**fields) -> ConditionRule:
    base = {"name": "r", "action": "pause", "conditions": [{"metric": "spent", "op": ">=", "value": 300}]}
    return ConditionRule.model_validate({**base, **fields})


@pytest.mark.parametrize(
    ("text", "exclude_today", "span"),
    [
        ("today", True, (TODAY, TODAY)),
        ("yesterday", True, (TODAY - timedelta(days=1), TODAY - timedelta(days=1))),
        ("7 days", True, (TODAY - timedelta(days=7), TODAY - timedelta(days=1))),
        ("7 days", False, (TODAY - timedelta(days=6), TODAY)),
        ("1 day", True, (TODAY, TODAY)),
    ],
)
def test_a_window_names_the_ad_days_it_reads(text: str, exclude_today: bool, span: tuple[date, date]) -> None:
    assert Window.parse(text).span(TODAY, exclude_today) == span


def test_figures_sum_the_rows_and_derive_the_ratios() -> None:
    rows = [
        DailyRow(1, TODAY - timedelta(days=2), D("120.00"), impressions=10_000, clicks=200, conversions=4),
        DailyRow(1, TODAY - timedelta(days=1), D("80.00"), impressions=6_000, clicks=100, conversions=1),
    ]
    f = figures_of(rows, 2, D("125.00"), pacing=D("0.5"))
    assert (f.spent, f.impressions, f.clicks, f.conversions) == (D("200.00"), 16_000, 300, 5)
    assert f.value(Metric.CPA) == D("40")
    assert f.value(Metric.CTR) == D("300") * 100 / 16_000  # 1.875 %
    assert f.value(Metric.CR) == D(5) * 100 / 300
    assert f.value(Metric.BUDGET_USE) == D("80")  # 200 over 2 days of a 125 budget
    assert f.value(Metric.PACING) == D("50.0")


def test_an_undefined_metric_holds_no_condition() -> None:
    """A CPA without conversions is not "above 50": a buyer who means that writes conversions == 0."""
    no_conversions = Figures(7, spent=D("900"))
    assert not holds(rule(conditions=[{"metric": "cpa", "op": ">", "value": 50}]), no_conversions)
    assert holds(rule(conditions=[{"metric": "conversions", "op": "==", "value": 0}]), no_conversions)


def test_every_condition_and_the_guards_must_hold() -> None:
    r = rule(conditions=[{"metric": "spent", "op": ">=", "value": 300}, {"metric": "conversions", "op": "<", "value": 2}],
             min_spent=500)
    assert not holds(r, Figures(7, spent=D("400"), conversions=0))  # under min_spent
    assert holds(r, Figures(7, spent=D("500"), conversions=1))
    assert not holds(r, Figures(7, spent=D("500"), conversions=2))
    assert not holds(rule(min_conversions=3), Figures(7, spent=D("900"), conversions=2))


def test_a_decrease_by_percent_becomes_a_candidate_in_cents_with_its_mode() -> None:
    r = rule(action="decrease", percent=15, mode="auto", conditions=[{"metric": "cpa", "op": ">", "value": 40}])
    c = judge(r, 7, "Push US", D("133.33"), Figures(7, spent=D("500"), conversions=5))
    assert c is not None
    assert (c.action, c.direction, c.from_amount, c.to_amount) == (ActionKind.SET_DAILY_BUDGET, Direction.DECREASE, D("133.33"), D("113.33"))
    assert c.mode is RuleMode.AUTO and c.cooldown == timedelta(hours=24)
    assert "cpa 100.00 > 40.00" in c.reason and "the last 7 days to yesterday" in c.reason


def test_pause_resume_and_set_keep_or_name_the_budget() -> None:
    pause = judge(rule(), 7, "Push", D("50"), Figures(7, spent=D("300")))
    assert pause is not None and (pause.action, pause.from_amount, pause.to_amount) == (ActionKind.PAUSE, D("50.00"), D("50"))
    resume = judge(rule(action="resume"), 7, "Push", D("50"), Figures(7, spent=D("300")))
    assert resume is not None and (resume.action, resume.direction) == (ActionKind.RESUME, Direction.INCREASE)
    set_to = judge(rule(action="set", amount=80), 7, "Push", D("50"), Figures(7, spent=D("300")))
    assert set_to is not None and (set_to.to_amount, set_to.direction) == (D("80.00"), Direction.INCREASE)
    assert judge(rule(action="set", amount=50), 7, "Push", D("50"), Figures(7, spent=D("300"))) is None  # already there
    assert judge(rule(action="increase", percent=10), 7, "Push", None, Figures(7, spent=D("300"))) is None  # no limit


def test_resume_rules_watch_stopped_campaigns_and_the_others_working_ones() -> None:
    assert rule().covers(1, 6) and not rule().covers(1, 8)
    assert rule(action="resume").covers(1, 8) and not rule(action="resume").covers(1, 6)
    assert not rule(campaign_ids=[2]).covers(1, 6)


@pytest.mark.parametrize(("text", "hours"), [("24 h", 24), ("90 min", 1.5), ("2 days", 48), (6, 6)])
def test_a_cooldown_reads_like_a_person_writes_it(text, hours) -> None:
    assert parse_duration(text) == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"action": "increase"}, "action increase needs percent"),
        ({"action": "set"}, "action set needs amount"),
        ({"action": "pause", "percent": 10}, "percent does not go with action pause"),
        ({"action": "decrease", "percent": 100}, "use action pause"),
        ({"action": "resume", "mode": "auto"}, "mode auto is only for decrease and pause"),
        ({"conditions": []}, "at least 1 item"),
        ({"cooldown": "soon"}, "is not a duration"),
        ({"cooldwn": "1 h"}, "Extra inputs are not permitted"),
    ],
)
def test_a_malformed_rule_is_refused_with_its_reason(fields, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        rule(**fields)
    assert words in str(caught.value)


def test_a_rule_reads_in_plain_words() -> None:
    r = rule(window="3 days", min_spent=100, conditions=[{"metric": "ctr", "op": "<", "value": "0.5"}])
    assert r.words() == (
        "Over the last 3 days to yesterday, when ctr < 0.5% (once it has spent at least 100.00): pause the campaign, "
        "for every working campaign."
    )


def test_guard_lets_a_pause_through_and_frees_its_budget_for_increases() -> None:
    from core.policy import GuardrailBudget, Guardrails, Refusal, guard

    budget = GuardrailBudget(balance=D("1000"), total_daily_budget=D("300"), increased_today=D(0), low_balance_days=D(3))
    pause = judge(rule(), 7, "Push", D("50"), Figures(7, spent=D("300")))
    assert pause is not None and guard(pause, Guardrails(), budget) == pause
    assert budget.total_daily_budget == D("250")

    resume = judge(rule(action="resume"), 8, "Pop", D("90"), Figures(7, spent=D("300")))
    assert resume is not None
    refused = guard(resume, Guardrails(), budget)  # 1000 / 3 = 333.33 covers 250 + 90? no: 340 > 333.33
    assert isinstance(refused, Refusal)
    assert refused.reason == "starting it with 90.00 a day would leave the balance covering under 3 days of budget"
    budget.balance = D("1100")
    assert guard(resume, Guardrails(), budget) == resume and budget.total_daily_budget == D("340")


def test_held_back_winners_add_up_and_name_the_top_up_that_lets_them_scale() -> None:
    from core.policy import Refusal, held_back

    refused = [
        Refusal(1, "r", "balance", D("20.00"), "balance"),
        Refusal(2, "r", "balance", D("30.00"), "balance"),
        Refusal(3, "r", "cap", D("50.00"), "cap"),
        Refusal(4, "r", "no change", D(0), None),
    ]
    held = held_back(refused, D("1000.00"), D("350.00"), D(3))
    assert held is not None
    # (350 + 50) × 3 = 1,200 of balance covers them: 200 more than there is.
    assert (held.campaigns, held.wanted, held.top_up, held.capped) == (3, D("100.00"), D("200.00"), 1)
    assert held_back(refused[3:], D("1000"), D("350"), D(3)) is None
