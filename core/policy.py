"""The adjustment policy: performance rules propose daily budget changes, guardrails trim or forbid them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from enum import Enum

from pydantic import BaseModel, Field, model_validator

from core.health import CampaignPerformance
from core.proposals import ActionKind, RuleMode
from core.models import stored_name
from core.money import CENT, Money, cents, fmt_money, fmt_percent
from core.money import cpa as cpa_of


class Rule(BaseModel):
    """A performance rule from the `[[rules]]` tables of the configuration file."""

    name: str = Field(min_length=1, max_length=200)
    """Kept with every proposal and audit entry (the store's column holds 200 characters)."""
    campaign_ids: list[int] = Field(default_factory=list)
    """Empty: every working campaign."""
    window_days: int = Field(7, ge=1, le=31)
    target_cpa: Money = Field(gt=0)
    min_conversions: int = Field(3, ge=0)
    tolerance: Decimal = Field(Decimal("0.2"), ge=0, lt=1)
    step_percent: Decimal = Field(Decimal("20"), gt=0, le=100)
    capped_share: Decimal = Field(Decimal("0.8"), gt=0, le=1)
    """Average daily spend at or above this share of the daily budget counts as budget-capped."""

    def covers(self, campaign_id: int) -> bool:
        return not self.campaign_ids or campaign_id in self.campaign_ids

    def words(self) -> str:
        """The rule in plain words, for `/budget rules`."""
        where = "campaigns " + ", ".join(str(i) for i in self.campaign_ids) if self.campaign_ids else "every working campaign"
        return (
            f"Over the last {self.window_days} days, aim at a CPA of {fmt_money(self.target_cpa)}: raise the daily budget "
            f"by {self.step_percent.normalize():f}% when the CPA beats it by {fmt_percent(self.tolerance)} with at least "
            f"{self.min_conversions} conversions and {fmt_percent(self.capped_share)} of the budget spent; cut it by as much "
            f"when the CPA misses by {fmt_percent(self.tolerance)}, or after {fmt_money(2 * self.target_cpa)} without a "
            f"conversion. For {where}."
        )


class Guardrails(BaseModel):
    """Limits no proposal may cross, whatever a rule says."""

    min_daily_budget: Money = Field(Decimal("10"), gt=0)
    max_daily_budget: Money = Field(Decimal("10000"), gt=0)
    max_change_percent: Decimal = Field(Decimal("50"), gt=0, le=100)
    max_daily_increase: Money = Field(Decimal("1000"), ge=0)
    """The most all increases together may add to the account's daily budgets in one day."""

    @model_validator(mode="after")
    def _ordered(self) -> "Guardrails":
        if self.min_daily_budget > self.max_daily_budget:
            raise ValueError("min_daily_budget is above max_daily_budget")
        return self


class Direction(str, Enum):
    INCREASE = "increase"
    DECREASE = "decrease"


@dataclass(frozen=True)
class Evidence:
    """The numbers behind a proposal, shown to the person who decides."""

    window_days: int
    spent: Decimal
    conversions: int
    cpa: Decimal | None
    target_cpa: Decimal | None
    budget_use: Decimal | None
    window: str | None = None
    """The window in words ("the last 7 days to yesterday"), when it is not simply the last `window_days` days."""


@dataclass(frozen=True)
class Candidate:
    """What a rule proposes for one campaign, before or after the guardrails."""

    campaign_id: int
    campaign_name: str
    rule: str
    direction: Direction
    from_amount: Decimal
    to_amount: Decimal
    reason: str
    evidence: Evidence
    notes: tuple[str, ...] = field(default=())
    """Guardrails that trimmed the amount, in words."""
    action: ActionKind = ActionKind.SET_DAILY_BUDGET
    mode: RuleMode = RuleMode.PROPOSE
    cooldown: timedelta | None = None
    """How long the campaign rests from this rule after it fired (a condition rule's `cooldown`)."""


@dataclass(frozen=True)
class Refusal:
    campaign_id: int
    rule: str
    reason: str
    wanted: Decimal = field(default=Decimal(0), compare=False)
    """What the refused change would have added to the daily budgets (0 for a decrease or a pause)."""
    held_by: str | None = field(default=None, compare=False)
    """`balance` or `cap` when a guardrail on money held back an increase: a winner that could scale."""


@dataclass(frozen=True)
class HeldBack:
    """Increases the guardrails refused for lack of money: the winners a top-up (or a higher cap) would let scale."""

    campaigns: int
    wanted: Decimal
    """What they would add to the daily budgets together."""
    top_up: Decimal
    """What the balance lacks for the increases held by the balance guard (0 when only the cap held them)."""
    capped: int
    """How many were held by today's cap on increases (a top-up does not help them)."""


def held_back(refused: list[Refusal], balance: Decimal, total_daily_budget: Decimal, low_balance_days: Decimal) -> HeldBack | None:
    """The winners held back by the balance guard or today's cap, and the top-up that would let them scale:
    enough balance to cover `low_balance_days` of the daily budgets with their increases added."""
    held = [r for r in refused if r.held_by in ("balance", "cap") and r.wanted > 0]
    if not held:
        return None
    by_balance = sum((r.wanted for r in held if r.held_by == "balance"), Decimal(0))
    top_up = Decimal(0)
    if by_balance > 0:
        needed = (total_daily_budget + by_balance) * low_balance_days
        top_up = max(Decimal(0), (needed - balance).quantize(CENT, rounding=ROUND_UP))
    return HeldBack(len(held), sum((r.wanted for r in held), Decimal(0)), top_up, sum(1 for r in held if r.held_by == "cap"))


def rule_for(rules: list[Rule], campaign_id: int) -> Rule | None:
    """A rule naming the campaign wins over a catch-all; otherwise the first in the file."""
    named = [r for r in rules if r.campaign_ids and campaign_id in r.campaign_ids]
    if named:
        return named[0]
    return next((r for r in rules if not r.campaign_ids), None)


def evaluate(rule: Rule, perf: CampaignPerformance) -> Candidate | None:
    """The rule's verdict on one campaign's window, or None when it should stay as it is."""
    budget = perf.daily_budget
    if budget is None or budget <= 0:
        return None  # without a daily limit there is nothing to adjust
    # Compare the exact CPA: rounding it to cents first moved campaigns across the tolerance lines.
    cpa = cpa_of(perf.spent, perf.conversions)
    use = perf.budget_use
    evidence = Evidence(perf.window_days, perf.spent, perf.conversions, perf.cpa, rule.target_cpa, use)
    step = rule.step_percent / 100
    low = rule.target_cpa * (1 - rule.tolerance)
    high = rule.target_cpa * (1 + rule.tolerance)

    direction: Direction | None = None
    if (
        cpa is not None
        and perf.conversions >= rule.min_conversions
        and cpa <= low
        and use is not None
        and use >= rule.capped_share
    ):
        direction = Direction.INCREASE
        reason = (
            f"CPA {fmt_money(cpa)} beats the {fmt_money(rule.target_cpa)} target with "
            f"{perf.conversions} conversions, and it spends {fmt_percent(use)} of its daily budget."
        )
    elif cpa is not None and cpa >= high:
        direction = Direction.DECREASE
        reason = f"CPA {fmt_money(cpa)} misses the {fmt_money(rule.target_cpa)} target by {fmt_percent(cpa / rule.target_cpa - 1)}."
    elif perf.conversions == 0 and perf.spent >= 2 * rule.target_cpa:
        direction = Direction.DECREASE
        reason = f"Spent {fmt_money(perf.spent)} in {perf.window_days} days without a conversion."
    if direction is None:
        return None
    factor = 1 + step if direction is Direction.INCREASE else 1 - step
    return Candidate(
        campaign_id=perf.id,
        # A proposal's name goes to the store, which keeps 500 characters: cut here, knowingly, not refused there.
        campaign_name=stored_name(perf.name),
        rule=rule.name,
        direction=direction,
        from_amount=cents(budget),
        to_amount=cents(budget * factor),
        reason=reason,
        evidence=evidence,
    )


@dataclass
class GuardrailBudget:
    """What is left to spend on increases in one pass over the account."""

    balance: Decimal
    total_daily_budget: Decimal
    increased_today: Decimal
    low_balance_days: Decimal


def apply_guardrails(
    candidate: Candidate, g: Guardrails, budget: GuardrailBudget, *, step_limit: bool = True
) -> Candidate | Refusal:
    """Trims the candidate to the guardrails, or refuses it. Updates `budget` for an accepted increase.

    The step limit wins over the minimum and maximum daily budget: no change moves a daily budget
    by more than `max_change_percent`. A budget already outside [min, max] may only move toward that
    range, as far as one step allows (30,000 with a 10,000 maximum goes to 15,000 first, not to 10,000).
    """
    start = candidate.from_amount
    target = candidate.to_amount
    notes: list[str] = []

    # Limits round down: half a cent more would already be over them. An undo is exempt from the step limit.
    max_step = _cents_down(start * g.max_change_percent / 100) if step_limit else abs(target - start)
    lowest, highest = start - max_step, start + max_step
    if not lowest <= target <= highest:
        target = min(max(target, lowest), highest)
        notes.append(f"trimmed to the {g.max_change_percent}% largest step")
    if target > g.max_daily_budget:
        target = max(g.max_daily_budget, lowest)
        notes.append(f"capped at the {fmt_money(g.max_daily_budget)} maximum daily budget" if target == g.max_daily_budget
                     else f"lowered toward the {fmt_money(g.max_daily_budget)} maximum daily budget as far as one step allows")
    if target < g.min_daily_budget:
        target = min(g.min_daily_budget, highest)
        notes.append(f"raised to the {fmt_money(g.min_daily_budget)} minimum daily budget" if target == g.min_daily_budget
                     else f"raised toward the {fmt_money(g.min_daily_budget)} minimum daily budget as far as one step allows")

    if target > start:
        room_today = g.max_daily_increase - budget.increased_today
        if target - start > room_today:
            if room_today <= 0:
                return _refuse(candidate, f"the {fmt_money(g.max_daily_increase)} daily cap on increases is used up", "cap")
            target = start + cents(room_today)
            notes.append(f"trimmed to the {fmt_money(room_today)} left of today's increase cap")
        # An increase may not bring the balance's coverage of daily budgets under the low-balance line.
        affordable = _cents_down(budget.balance / budget.low_balance_days - budget.total_daily_budget)
        if target - start > affordable:
            if affordable < Decimal("0.01"):
                return _refuse(
                    candidate,
                    f"any increase would leave the balance covering under {budget.low_balance_days} days of budget",
                    "balance",
                )
            target = start + affordable
            notes.append(f"trimmed to keep {budget.low_balance_days} days of budget covered by the balance")

    target = cents(target)
    if target == start or (target > start) != (candidate.to_amount > start):
        return _refuse(candidate, "the guardrails leave no change to make")
    if target > start:
        budget.increased_today += target - start
        budget.total_daily_budget += target - start
    else:
        budget.total_daily_budget -= start - target
    return replace(candidate, to_amount=target, notes=tuple(notes))


def guard(candidate: Candidate, g: Guardrails, budget: GuardrailBudget) -> Candidate | Refusal:
    """The guardrails for any action: a stop spends nothing, a start must leave the balance covering the
    daily budgets (its own added), a daily budget change goes through `apply_guardrails`."""
    if candidate.action is ActionKind.PAUSE:
        budget.total_daily_budget -= candidate.from_amount
        return candidate
    if candidate.action is ActionKind.RESUME:
        room = budget.balance / budget.low_balance_days - budget.total_daily_budget
        if candidate.to_amount > room:
            return _refuse(
                candidate,
                f"starting it with {fmt_money(candidate.to_amount)} a day would leave the balance covering under "
                f"{budget.low_balance_days} days of budget",
                "balance",
            )
        budget.total_daily_budget += candidate.to_amount
        return candidate
    return apply_guardrails(candidate, g, budget)


def _cents_down(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_DOWN)


def _refuse(candidate: Candidate, reason: str, held_by: str | None = None) -> Refusal:
    adds = candidate.to_amount if candidate.action is ActionKind.RESUME else max(candidate.to_amount - candidate.from_amount, Decimal(0))
    return Refusal(candidate.campaign_id, candidate.rule, reason, adds, held_by)

