"""The backtest: what the configured rules would have done over the spend ledger's past days, and what followed.

Each ad day D of the replay is judged as a check on the morning of D would have judged it: a rule reads its
window as it stood that morning ("7 days" with `exclude_today` is the 7 days before D, "yesterday" is D−1,
and the CPA rule's window is the `window_days` before D). Two windows can only be replayed with hindsight and
say so: "today" sees D's whole row, not the morning's few hours; and `pacing`, a projection made during the
day, is unknown afterwards, so a condition on it never holds here.

What the ledger does not tell is assumed, and the assumptions are the backtest's limits:
- A campaign's daily budget and status on D are those the ledger saw on D, else the latest seen before D,
  else the first seen after it (the days read back from statistics carry a budget but no status; the status
  comes from the checks, or from the campaign list read now).
- The history is what happened: the backtest does not play its own actions forward. A campaign a rule would
  have paused on D went on spending in the ledger, and that spend is what the rule would have stopped.
- Each rule is replayed on its own, as if it were the only one (the bot itself gives a campaign one change at
  a time: the first rule's). Which CPA rule covers a campaign is decided as the bot decides it (`rule_for`).
- Guardrails per change apply (the step limit, the minimum and maximum daily budget); the balance and the
  day's cap on increases are not known for past days, so neither limits anything here.
- The cooldown holds: a rule that acted for a campaign on D acts for it again on the first day at least its
  cooldown after D (24 h: the next day). The CPA rule has no cooldown of its own: it may act every day.

Windows are summed from per-campaign prefix sums, so a replay costs the same whatever the windows' length.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import accumulate

from core.health import CampaignPerformance
from core.ledger_types import DailyRow
from core.models import CampaignStatus
from core.policy import (
    Candidate,
    Evidence,
    GuardrailBudget,
    Guardrails,
    Refusal,
    Rule,
    apply_guardrails,
    evaluate,
    rule_for,
)
from core.proposals import ActionKind, RuleMode
from core.rules import ConditionRule, Figures, change_of, holds

ZERO = Decimal(0)
DEFAULT_DAYS = 14
MAX_DAYS = 60
NO_LIMIT = Decimal(10) ** 12
"""Stands in for the balance and the cap on increases, which a backtest cannot know for past days."""
ONE_DAY = timedelta(days=1)
UNSHOWN = Evidence(0, ZERO, 0, None, None, None)
"""A backtest row shows the campaign's own figures, not a proposal's evidence."""

AnyRule = Rule | ConditionRule


class BacktestRefused(ValueError):
    """The backtest cannot run as asked (no rules, an unknown rule, a bad number of days); one line says why."""


@dataclass(frozen=True)
class BacktestRow:
    """What one rule would have done to one campaign on the morning of one ad day, and what the campaign then did."""

    day: date
    campaign_id: int
    campaign_name: str
    rule: str
    action: str
    """pause, resume, increase or decrease (a `set` is whichever of the two it comes to)."""
    from_amount: Decimal
    to_amount: Decimal
    """After the guardrails; for pause and resume the daily budget it keeps."""
    spent: Decimal
    """What the campaign spent on that day, as it happened."""
    conversions: int
    spent_after: Decimal
    """What it spent from that day to the last day of the replay."""
    conversions_after: int
    notes: tuple[str, ...] = ()
    """Guardrails that trimmed the amount."""


@dataclass
class RuleTotals:
    """One rule over the whole replay."""

    rule: str
    mode: RuleMode
    actions: int = 0
    campaigns: int = 0
    spent: Decimal = ZERO
    """What the campaigns it acted on spent on the days it acted."""
    conversions: int = 0
    spent_after: Decimal = ZERO
    """What those campaigns spent from the first day it acted on each to the end of the replay."""
    conversions_after: int = 0
    refused: int = 0
    """Verdicts the guardrails left no change to make for (already at the minimum, say)."""
    days_waiting: int = 0
    """Days of the replay the rule's window reached past what the spend ledger holds: not judged."""


@dataclass(frozen=True)
class Backtest:
    first_day: date
    last_day: date
    rows: list[BacktestRow]
    totals: list[RuleTotals]
    campaigns: int
    """Campaigns the ledger holds over the replay's windows."""
    notes: tuple[str, ...] = field(default=())
    """What limited the replay (days the ledger lacks, a read that failed)."""

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1


def pick_rules(rules: Sequence[AnyRule], name: str | None) -> list[AnyRule]:
    """The rules to replay: all of them, or the one named (case-insensitive)."""
    if not rules:
        raise BacktestRefused("no rules are configured: add [[rules]] tables to the configuration file")
    if not name:
        return list(rules)
    wanted = name.strip().casefold()
    found = [r for r in rules if r.name.casefold() == wanted]
    if not found:
        raise BacktestRefused(f"no rule is named {name.strip()!r}; the rules are: " + ", ".join(r.name for r in rules))
    return found


def replay_span(today: date, days: int) -> tuple[date, date]:
    """The whole ad days replayed: the `days` before today (today's outcome is not known yet)."""
    if not 1 <= days <= MAX_DAYS:
        raise BacktestRefused(f"--days must be 1 to {MAX_DAYS}, not {days}")
    return today - timedelta(days=days), today - ONE_DAY


def reach(rule: AnyRule) -> tuple[int, int]:
    """How many days before D the rule's window starts and ends, judged on the morning of D (0: D itself)."""
    if isinstance(rule, Rule):
        return rule.window_days, 1
    first, last = rule.span_window.span(date(2000, 1, 1), rule.exclude_today)
    return (date(2000, 1, 1) - first).days, (date(2000, 1, 1) - last).days


def first_needed(rules: Iterable[AnyRule], first_day: date) -> date:
    """The earliest ad day the replay reads: the longest window back from the first day replayed."""
    return first_day - timedelta(days=max((reach(r)[0] for r in rules), default=0))


@dataclass
class _Campaign:
    """One campaign's history as arrays over the days from the earliest read, with prefix sums of its figures."""

    name: str
    spent: list[Decimal]
    impressions: list[int]
    clicks: list[int]
    conversions: list[int]
    budget: list[Decimal | None]
    status: list[int | None]


def _histories(rows: Iterable[DailyRow], base: date, size: int, seen_now: dict[int, tuple[int | None, Decimal | None]]) -> dict[int, _Campaign]:
    by_campaign: dict[int, list[DailyRow]] = defaultdict(list)
    for row in rows:
        if 0 <= (row.day - base).days < size:
            by_campaign[row.campaign_id].append(row)
    found = {}
    for campaign_id, held in by_campaign.items():
        spent, impressions, clicks, conversions = [ZERO] * size, [0] * size, [0] * size, [0] * size
        budget: list[Decimal | None] = [None] * size
        status: list[int | None] = [None] * size
        name = ""
        for row in held:
            i = (row.day - base).days
            spent[i], impressions[i], clicks[i], conversions[i] = row.spent, row.impressions, row.clicks, row.conversions
            budget[i], status[i] = row.daily_budget, row.status
            name = row.name or name
        now_status, now_budget = seen_now.get(campaign_id, (None, None))
        found[campaign_id] = _Campaign(
            name,
            [ZERO, *accumulate(spent)],
            [0, *accumulate(impressions)],
            [0, *accumulate(clicks)],
            [0, *accumulate(conversions)],
            _filled(budget, now_budget),
            _filled(status, now_status),
        )
    return found


def _filled(values: list, last_resort: object) -> list:
    """Each day's value, else the latest before it, else the first after it, else `last_resort` (seen now)."""
    later = next((v for v in values if v is not None), last_resort)
    out, known = [], None
    for value in values:
        known = value if value is not None else known
        out.append(known if known is not None else later)
    return out


def replay(
    rules: Sequence[AnyRule],
    rows: Iterable[DailyRow],
    first_day: date,
    last_day: date,
    guardrails: Guardrails,
    *,
    held: tuple[date, date] | None = None,
    all_rules: Sequence[AnyRule] | None = None,
    seen_now: dict[int, tuple[int | None, Decimal | None]] | None = None,
    notes: Sequence[str] = (),
) -> Backtest:
    """Replays `rules` over the ad days `first_day`..`last_day` of the ledger rows.

    `held`: the whole days the ledger holds (its coverage); a window reaching outside them is not judged,
    since a missing day would read as a day without spend. None: every day asked for counts as held.
    `all_rules`: every configured rule, so that a CPA rule covers the campaigns `rule_for` gives it even when
    only it is replayed. `seen_now`: each campaign's status and daily budget as read now, the last fallback.
    """
    base = first_needed(rules, first_day)
    size = (last_day - base).days + 1
    histories = _histories(rows, base, size, seen_now or {})
    cpa_rules = [r for r in (all_rules if all_rules is not None else rules) if isinstance(r, Rule)]
    unbounded = guardrails.model_copy(update={"max_daily_increase": NO_LIMIT})
    first_i, last_i = (first_day - base).days, (last_day - base).days
    held_from = (held[0] - base).days if held else 0
    held_to = (held[1] - base).days if held else size - 1

    # By place in the list, not by name: two rules of one name still get a line each.
    totals = [RuleTotals(r.name, r.mode if isinstance(r, ConditionRule) else RuleMode.PROPOSE) for r in rules]
    reaches = [reach(r) for r in rules]
    judged_days: list[list[int]] = []
    for order, (back_first, back_last) in enumerate(reaches):
        days = [d for d in range(first_i, last_i + 1) if d - back_first >= held_from and d - back_last <= held_to]
        totals[order].days_waiting = (last_i - first_i + 1) - len(days)
        judged_days.append(days)
    # Rules that act again only after their cooldown: how many days on from the day they acted.
    rests = [
        max(1, math.ceil(r.cooldown / ONE_DAY)) if isinstance(r, ConditionRule) else 1 for r in rules
    ]

    found: list[tuple[int, int, int, BacktestRow]] = []
    for campaign_id, h in histories.items():
        cpa_rule = rule_for(cpa_rules, campaign_id) if cpa_rules else None
        acted_first: dict[int, int] = {}
        shared: dict[int, Figures] = {}
        for order, (rule, (back_first, back_last), days, rest) in enumerate(zip(rules, reaches, judged_days, rests)):
            is_cpa = isinstance(rule, Rule)
            if is_cpa and rule is not cpa_rule:
                continue
            if not is_cpa and rule.campaign_ids and campaign_id not in rule.campaign_ids:
                continue
            width = back_first - back_last + 1
            # Whether the rule covers the campaign depends only on its status: asked once per status.
            covered = {s: (s == CampaignStatus.WORKING if is_cpa else rule.covers(campaign_id, s)) for s in set(h.status)}
            free_from = -1
            spent_sum, impressions_sum, clicks_sum, conversions_sum = h.spent, h.impressions, h.clicks, h.conversions
            for d in days:
                if d < free_from:
                    continue
                status = h.status[d]
                if not covered[status]:
                    continue
                budget = h.budget[d]
                lo, hi = d - back_first, d - back_last + 1
                spent = spent_sum[hi] - spent_sum[lo]
                if is_cpa:
                    perf = CampaignPerformance(
                        campaign_id, h.name, status, budget, spent, conversions_sum[hi] - conversions_sum[lo],
                        impressions_sum[hi] - impressions_sum[lo], width,
                    )
                    candidate = evaluate(rule, perf)
                else:
                    # Rules over the same window share the campaign's figures of the day.
                    key = (lo * 4096 + hi) * 4096 + d
                    figures = shared.get(key)
                    if figures is None:
                        figures = shared[key] = Figures(
                            width, spent, impressions_sum[hi] - impressions_sum[lo], clicks_sum[hi] - clicks_sum[lo],
                            conversions_sum[hi] - conversions_sum[lo], budget,
                        )
                    candidate = _verdict(rule, campaign_id, h.name, budget, figures) if holds(rule, figures) else None
                if candidate is None:
                    continue
                guarded = _guarded(candidate, unbounded)
                if isinstance(guarded, Refusal):
                    totals[order].refused += 1
                    continue
                free_from = d + rest
                acted_first.setdefault(order, d)
                row = BacktestRow(
                    day=base + timedelta(days=d),
                    campaign_id=campaign_id,
                    campaign_name=h.name,
                    rule=rule.name,
                    action=_action(guarded),
                    from_amount=guarded.from_amount,
                    to_amount=guarded.to_amount,
                    spent=h.spent[d + 1] - h.spent[d],
                    conversions=h.conversions[d + 1] - h.conversions[d],
                    spent_after=h.spent[last_i + 1] - h.spent[d],
                    conversions_after=h.conversions[last_i + 1] - h.conversions[d],
                    notes=guarded.notes,
                )
                found.append((d, campaign_id, order, row))
                t = totals[order]
                t.actions += 1
                t.spent += row.spent
                t.conversions += row.conversions
        for order, d in acted_first.items():
            t = totals[order]
            t.campaigns += 1
            t.spent_after += h.spent[last_i + 1] - h.spent[d]
            t.conversions_after += h.conversions[last_i + 1] - h.conversions[d]
    found.sort(key=lambda item: item[:3])
    return Backtest(
        first_day, last_day, [item[3] for item in found], totals, len(histories), tuple(notes)
    )


def _verdict(rule: ConditionRule, campaign_id: int, name: str, budget: Decimal | None, figures: Figures) -> Candidate | None:
    """`judge` without the words a proposal shows (a backtest row does not show them): the rule's conditions
    are known to hold."""
    return change_of(rule, campaign_id, name, budget, reason="", evidence=UNSHOWN)


def _guarded(candidate: Candidate, g: Guardrails) -> Candidate | Refusal:
    """The guardrails of one change alone: a pause or resume as it is, a budget change trimmed to the step
    limit and the minimum and maximum daily budget."""
    if candidate.action in (ActionKind.PAUSE, ActionKind.RESUME):
        return candidate
    room = GuardrailBudget(balance=NO_LIMIT, total_daily_budget=ZERO, increased_today=ZERO, low_balance_days=Decimal(1))
    return apply_guardrails(candidate, g, room)


def _action(candidate: Candidate) -> str:
    if candidate.action is ActionKind.PAUSE:
        return "pause"
    if candidate.action is ActionKind.RESUME:
        return "resume"
    return "increase" if candidate.to_amount > candidate.from_amount else "decrease"
