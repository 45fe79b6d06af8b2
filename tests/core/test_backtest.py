"""The backtest on a hand-seeded spend ledger: every row and total below is worked out by hand in the docstrings."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from core.backtest import BacktestRefused, first_needed, pick_rules, replay, replay_span
from core.ledger_types import DailyRow
from core.policy import Guardrails, Rule
from core.proposals import RuleMode
from core.rules import ConditionRule

D = Decimal
FIRST, LAST = date(2024, 3, 6), date(2024, 3, 10)
"""Five ad days replayed: the 5 days before 2024-03-11."""
GUARDRAILS = Guardrails(max_change_percent=D(25), max_daily_budget=D(115))

STOP_LOSERS = ConditionRule.model_validate({
    "name": "stop-losers", "window": "3 days",  # exclude_today by default: D-3..D-1
    "conditions": [{"metric": "spent", "op": ">=", "value": 100}, {"metric": "conversions", "op": "==", "value": 0}],
    "action": "pause", "cooldown": "48 h",
})
TRIM = ConditionRule.model_validate({
    "name": "trim", "window": "yesterday", "conditions": [{"metric": "cpa", "op": ">", "value": 20}],
    "action": "decrease", "percent": 30, "mode": "notify",
})
CPA = Rule(name="cpa", target_cpa=D(10), window_days=2, min_conversions=3, campaign_ids=[3])
RULES = [STOP_LOSERS, TRIM, CPA]


def day(n: int) -> date:
    return date(2024, 3, n)


def history() -> list[DailyRow]:
    """The ledger from 03-03 (the pause rule's 3-day window before 03-06) to 03-10.

    1 Loser: working, 100.00 a day, spends 50 a day without a conversion.
    2 Pricey: working, 100.00 a day, spends 60 a day; conversions 2, 2, 4, 2, 3, 6, 2, 3 from 03-03.
    3 Winner: working, 100.00 a day, spends 90 a day (30 on 03-08), 15 conversions a day.
    4 Stopped: status 7 (paused), 50.00 a day, 40 a day spent without a conversion: no rule may touch it.
    6 Late: working, 100.00 a day, nothing until 200 on 03-09 and 20 on 03-10, no conversion.
    """
    pricey = {3: 2, 4: 2, 5: 4, 6: 2, 7: 3, 8: 6, 9: 2, 10: 3}
    rows = []
    for n in range(3, 11):
        rows.append(DailyRow(1, day(n), D(50), 1000, 10, 0, D(100), 6, "Loser"))
        rows.append(DailyRow(2, day(n), D(60), 2000, 40, pricey[n], D(100), 6, "Pricey"))
        rows.append(DailyRow(3, day(n), D(30 if n == 8 else 90), 5000, 100, 15, D(100), 6, "Winner"))
        rows.append(DailyRow(4, day(n), D(40), 800, 8, 0, D(50), 7, "Stopped"))
        late = {9: D(200), 10: D(20)}.get(n, D(0))
        rows.append(DailyRow(6, day(n), late, 0, 0, 0, D(100), 6, "Late"))
    return rows


def test_the_replay_span_and_the_earliest_day_read() -> None:
    assert replay_span(date(2024, 3, 11), 5) == (FIRST, LAST)
    # The pause rule reaches 3 days back, the CPA rule 2, "yesterday" 1.
    assert first_needed(RULES, FIRST) == day(3)


def test_rows_on_a_hand_seeded_history() -> None:
    """What each rule would have done, morning by morning.

    stop-losers (3 days to yesterday, spent >= 100 and no conversion, 48 h cooldown):
      1 Loser: 150 spent, 0 conversions in every window: pauses on 03-06; the cooldown keeps it from 03-07,
        so again on 03-08 and 03-10.
      6 Late: on 03-09 its window 03-06..03-08 spent 0 (its 200 of 03-09 is that day's own, excluded);
        on 03-10 the window 03-07..03-09 holds the 200: paused.
      4 Stopped is paused already: not covered, whatever it spends.
    trim (yesterday, CPA > 20, decrease by 30%): 2 Pricey's yesterday CPA is 60 / conversions:
      03-06 ← 4: 15; 03-07 ← 2: 30, acts; 03-08 ← 3: 20 (not above); 03-09 ← 6: 10; 03-10 ← 2: 30, acts.
      100.00 − 30% = 70.00, but the step limit is 25%: 75.00.
    cpa (2 days before D, target 10, only campaign 3): 3 Winner spent 180 for 30 conversions (CPA 6 ≤ 8) and
      90 of its 100.00 a day (90% ≥ 80%) on 03-06, 03-07, 03-08: +20% is 120.00, capped at the 115.00 maximum.
      From 03-09 its window holds the 30 of 03-08: 120 / 200 = 60% of the budget used, so no increase.
    """
    bt = replay(RULES, history(), FIRST, LAST, GUARDRAILS, held=(day(3), day(10)))
    assert [(r.day, r.campaign_id, r.rule, r.action, r.from_amount, r.to_amount) for r in bt.rows] == [
        (day(6), 1, "stop-losers", "pause", D("100.00"), D("100.00")),
        (day(6), 3, "cpa", "increase", D("100.00"), D("115.00")),
        (day(7), 2, "trim", "decrease", D("100.00"), D("75.00")),
        (day(7), 3, "cpa", "increase", D("100.00"), D("115.00")),
        (day(8), 1, "stop-losers", "pause", D("100.00"), D("100.00")),
        (day(8), 3, "cpa", "increase", D("100.00"), D("115.00")),
        (day(10), 1, "stop-losers", "pause", D("100.00"), D("100.00")),
        (day(10), 2, "trim", "decrease", D("100.00"), D("75.00")),
        (day(10), 6, "stop-losers", "pause", D("100.00"), D("100.00")),
    ]
    trimmed = bt.rows[2]
    assert trimmed.notes == ("trimmed to the 25% largest step",)
    assert bt.rows[1].notes == ("capped at the 115.00 maximum daily budget",)
    # What the campaign then did: that day's figures, and from that day to the last one replayed.
    assert (trimmed.spent, trimmed.conversions, trimmed.spent_after, trimmed.conversions_after) == (D(60), 3, D(240), 14)
    late = bt.rows[-1]
    assert (late.campaign_name, late.spent, late.spent_after) == ("Late", D(20), D(20))
    assert bt.campaigns == 5 and bt.days == 5


def test_totals_per_rule_on_a_hand_seeded_history() -> None:
    """stop-losers: 4 actions on 2 campaigns; on those days Loser spent 3 × 50 and Late 20 (170, no conversion);
    from the first pause on, Loser spent 5 × 50 = 250 and Late 20: 270.
    trim: 2 actions on Pricey: 60 + 60 = 120 spent with 3 + 3 conversions; from 03-07 on 4 × 60 = 240 with
    3 + 6 + 2 + 3 = 14 conversions.
    cpa: 3 actions on Winner: 90 + 90 + 30 = 210 with 45 conversions; from 03-06 on 90 + 90 + 30 + 90 + 90 = 390
    with 5 × 15 = 75."""
    bt = replay(RULES, history(), FIRST, LAST, GUARDRAILS, held=(day(3), day(10)))
    got = {t.rule: (t.actions, t.campaigns, t.spent, t.conversions, t.spent_after, t.conversions_after, t.refused)
           for t in bt.totals}
    assert got == {
        "stop-losers": (4, 2, D(170), 0, D(270), 0, 0),
        "trim": (2, 1, D(120), 6, D(240), 14, 0),
        "cpa": (3, 1, D(210), 45, D(390), 75, 0),
    }
    assert [t.mode for t in bt.totals] == [RuleMode.PROPOSE, RuleMode.NOTIFY, RuleMode.PROPOSE]


def test_a_cooldown_of_a_day_lets_the_rule_act_every_morning() -> None:
    """The same pause rule with the default 24 h cooldown pauses Loser on each of the 5 days."""
    daily = STOP_LOSERS.model_copy(update={"cooldown": timedelta(hours=24)})
    bt = replay([daily], history(), FIRST, LAST, GUARDRAILS, held=(day(3), day(10)))
    assert [(r.day, r.campaign_id) for r in bt.rows if r.campaign_id == 1] == [(day(n), 1) for n in range(6, 11)]
    # 25 h rests a campaign two mornings, as 48 h does.
    longer = STOP_LOSERS.model_copy(update={"cooldown": timedelta(hours=25)})
    bt = replay([longer], history(), FIRST, LAST, GUARDRAILS, held=(day(3), day(10)))
    assert [r.day for r in bt.rows if r.campaign_id == 1] == [day(6), day(8), day(10)]


def test_a_today_window_sees_the_whole_day_and_an_including_window_counts_it() -> None:
    """"today" reads D's own row, whole: Late's 200 of 03-09 pauses it on 03-09. "3 days" with
    exclude_today = false reads D-2..D: the same 200 counts on 03-09, 03-10 (and Loser's 150 from 03-06)."""
    today = ConditionRule.model_validate({
        "name": "today", "window": "today", "conditions": [{"metric": "spent", "op": ">=", "value": 100}], "action": "pause",
    })
    bt = replay([today], history(), FIRST, LAST, GUARDRAILS, held=(day(3), day(10)))
    assert [(r.day, r.campaign_id) for r in bt.rows] == [(day(9), 6)]
    including = STOP_LOSERS.model_copy(update={"exclude_today": False, "cooldown": timedelta(hours=24)})
    bt = replay([including], history(), FIRST, LAST, GUARDRAILS, held=(day(3), day(10)))
    assert [(r.day, r.campaign_id) for r in bt.rows if r.campaign_id == 6] == [(day(9), 6), (day(10), 6)]


def test_days_whose_window_reaches_past_the_ledger_are_not_judged() -> None:
    """The ledger holds 03-05..03-10: the pause rule's windows for 03-06 (03-03..) and 03-07 (03-04..) reach
    outside it and wait; from 03-08 it acts on Loser (03-08, 03-10) and Late (03-10)."""
    rows = [r for r in history() if r.day >= day(5)]
    bt = replay([STOP_LOSERS], rows, FIRST, LAST, GUARDRAILS, held=(day(5), day(10)))
    assert [(r.day, r.campaign_id) for r in bt.rows] == [(day(8), 1), (day(10), 1), (day(10), 6)]
    assert bt.totals[0].days_waiting == 2


def test_status_and_budget_fall_back_to_the_day_before_then_to_the_first_seen_after() -> None:
    """Campaign 9 spends 50 a day without a conversion. The ledger saw its status only on 03-08 (stopped, 8)
    and 03-10 (working); its budget only on 03-04 (80.00). 03-06 and 03-07 take the first status seen after
    (stopped): not covered; 03-08 stopped; 03-09 the day before's, stopped; 03-10 working: paused, with 80.00."""
    status = {8: 8, 10: 6}
    rows = [DailyRow(9, day(n), D(50), 0, 0, 0, D(80) if n == 4 else None, status.get(n), "Nine") for n in range(3, 11)]
    bt = replay([STOP_LOSERS], rows, FIRST, LAST, GUARDRAILS, held=(day(3), day(10)))
    assert [(r.day, r.from_amount) for r in bt.rows] == [(day(10), D(80))]
    # Never seen by the ledger: the status read now is the last fallback.
    unseen = [DailyRow(9, day(n), D(50), name="Nine") for n in range(3, 11)]
    bt = replay([STOP_LOSERS], unseen, FIRST, LAST, GUARDRAILS, held=(day(3), day(10)), seen_now={9: (6, D(70))})
    assert [(r.day, r.from_amount) for r in bt.rows] == [(day(6), D(70)), (day(8), D(70)), (day(10), D(70))]


def test_a_change_the_guardrails_leave_nothing_of_is_counted_as_refused() -> None:
    """Pricey at the 10.00 minimum: trim's 30% cut to 7.00 is raised back to 10.00, no change, on 03-07 and 03-10."""
    rows = [DailyRow(2, r.day, r.spent, r.impressions, r.clicks, r.conversions, D(10), 6, "Pricey")
            for r in history() if r.campaign_id == 2]
    bt = replay([TRIM], rows, FIRST, LAST, GUARDRAILS, held=(day(3), day(10)))
    assert bt.rows == [] and bt.totals[0].refused == 2


def test_a_cpa_rule_covers_the_campaigns_rule_for_gives_it() -> None:
    """A catch-all CPA rule replayed alone still leaves campaign 3 to the rule that names it."""
    catch_all = Rule(name="all", target_cpa=D(10), window_days=2, min_conversions=3)
    bt = replay([catch_all], history(), FIRST, LAST, GUARDRAILS, held=(day(3), day(10)), all_rules=[CPA, catch_all])
    assert 3 not in {r.campaign_id for r in bt.rows}
    bt = replay([catch_all], history(), FIRST, LAST, GUARDRAILS, held=(day(3), day(10)))
    assert 3 in {r.campaign_id for r in bt.rows}


def test_picking_rules_says_what_is_wrong_in_one_line() -> None:
    assert pick_rules(RULES, None) == RULES
    assert pick_rules(RULES, " TRIM ") == [TRIM]
    with pytest.raises(BacktestRefused, match=r"^no rule is named 'nope'; the rules are: stop-losers, trim, cpa$"):
        pick_rules(RULES, "nope")
    with pytest.raises(BacktestRefused, match="no rules are configured"):
        pick_rules([], None)
    with pytest.raises(BacktestRefused, match="--days must be 1 to 60, not 0"):
        replay_span(LAST, 0)
