"""Rules with conditions: `{metric, op, value}` over a window of the spend ledger, guards, an action, a mode.

A rule reads like a buyer's note: "over the last 7 days (to yesterday), if spent >= 300 and
conversions == 0, pause it". It is judged on one campaign's figures at a time, with plain
comparisons (no `eval`); what it would do becomes a `Candidate` the guardrails then trim or refuse.
Money metrics are amounts; `ctr`, `cr`, `budget_use` and `pacing` are percentages.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.models import CampaignStatus, stored_name
from core.money import Money, cents, fmt_money
from core.money import cpa as cpa_of
from core.policy import Candidate, Direction, Evidence
from core.proposals import ActionKind, RuleMode

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class Metric(str, Enum):
    SPENT = "spent"
    CONVERSIONS = "conversions"
    CPA = "cpa"
    IMPRESSIONS = "impressions"
    CLICKS = "clicks"
    CTR = "ctr"
    """Clicks per 100 impressions."""
    CR = "cr"
    """Conversions per 100 clicks."""
    BUDGET_USE = "budget_use"
    """Average daily spend over the window per 100 of today's daily budget."""
    PACING = "pacing"
    """Today's projected end-of-day spend per 100 of the daily budget (the same whatever the window)."""

    @property
    def is_percent(self) -> bool:
        return self in (Metric.CTR, Metric.CR, Metric.BUDGET_USE, Metric.PACING)

    @property
    def is_money(self) -> bool:
        return self in (Metric.SPENT, Metric.CPA)


class Op(str, Enum):
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    EQ = "=="


COMPARE: dict[Op, Callable[[Decimal, Decimal], bool]] = {
    Op.LT: operator.lt, Op.LE: operator.le, Op.GT: operator.gt, Op.GE: operator.ge, Op.EQ: operator.eq,
}


class RuleAction(str, Enum):
    INCREASE = "increase"
    DECREASE = "decrease"
    SET = "set"
    PAUSE = "pause"
    RESUME = "resume"

    @property
    def reduces_risk(self) -> bool:
        """Spends less, never more: the only actions a rule may take without a click."""
        return self in (RuleAction.DECREASE, RuleAction.PAUSE)


class Condition(BaseModel):
    """One comparison; all of a rule's must hold."""

    model_config = ConfigDict(extra="forbid")

    metric: Metric
    op: Op
    value: Decimal

    def words(self) -> str:
        return f"{self.metric.value} {self.op.value} {_figure(self.metric, self.value)}"


@dataclass(frozen=True)
class Window:
    """Which ad days a rule reads: today, yesterday, or the last N days."""

    days: int
    yesterday: bool = False

    @classmethod
    def parse(cls, text: str) -> Window:
        value = text.strip().lower()
        if value == "today":
            return cls(1)
        if value == "yesterday":
            return cls(1, yesterday=True)
        found = re.fullmatch(r"(\d+)\s*days?", value)
        if not found or not 1 <= int(found.group(1)) <= 90:
            raise ValueError(f"{text!r} is not a window: say today, yesterday, or N days (1 to 90)")
        return cls(int(found.group(1)))

    def span(self, today: date, exclude_today: bool) -> tuple[date, date]:
        """The first and last ad day read, on the ad day `today`."""
        if self.yesterday:
            return today - timedelta(days=1), today - timedelta(days=1)
        if self.days == 1 or not exclude_today:
            return today - timedelta(days=self.days - 1), today
        return today - timedelta(days=self.days), today - timedelta(days=1)

    def words(self, exclude_today: bool) -> str:
        if self.yesterday:
            return "yesterday"
        if self.days == 1:
            return "today"
        return f"the last {self.days} days" + (" to yesterday" if exclude_today else " with today")


def parse_duration(value: Any) -> timedelta:
    """`24 h`, `90 min`, `2 days`, or a number of hours."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(hours=value)
    found = re.fullmatch(r"\s*(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?)\s*", str(value).lower())
    if not found:
        raise ValueError(f"{value!r} is not a duration like 24 h, 90 min or 2 days")
    amount, unit = int(found.group(1)), found.group(2)[0]
    return {"m": timedelta(minutes=amount), "h": timedelta(hours=amount), "d": timedelta(days=amount)}[unit]


class ConditionRule(BaseModel):
    """A rule from `[[rules]]` with `conditions` and an `action` (the other kind has a `target_cpa`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    campaign_ids: list[int] = Field(default_factory=list)
    """Empty: every working campaign (every stopped one for `resume`)."""
    window: str = "7 days"
    exclude_today: bool = True
    """For windows of several days: today's conversions are still arriving, so today is left out."""
    conditions: list[Condition] = Field(min_length=1)
    min_spent: Money = Field(ZERO, ge=0)
    min_conversions: int = Field(0, ge=0)
    action: RuleAction
    percent: Decimal | None = Field(None, gt=0, le=1000)
    amount: Money | None = Field(None, gt=0)
    mode: RuleMode = RuleMode.PROPOSE
    cooldown: timedelta = timedelta(hours=24)
    """How long a campaign rests from this rule after it fired for it."""

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        Window.parse(value)
        return value

    @field_validator("cooldown", mode="before")
    @classmethod
    def _cooldown(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @model_validator(mode="after")
    def _action_fits(self) -> ConditionRule:
        a = self.action
        if a in (RuleAction.INCREASE, RuleAction.DECREASE) and self.percent is None:
            raise ValueError(f"action {a.value} needs percent")
        if a is RuleAction.DECREASE and self.percent is not None and self.percent >= 100:
            raise ValueError("a decrease of 100 percent or more leaves nothing: use action pause")
        if a is RuleAction.SET and self.amount is None:
            raise ValueError("action set needs amount")
        if a not in (RuleAction.INCREASE, RuleAction.DECREASE) and self.percent is not None:
            raise ValueError(f"percent does not go with action {a.value}")
        if a is not RuleAction.SET and self.amount is not None:
            raise ValueError(f"amount does not go with action {a.value}")
        if self.mode is RuleMode.AUTO and not a.reduces_risk:
            raise ValueError(f"mode auto is only for decrease and pause, not {a.value}")
        return self

    @property
    def span_window(self) -> Window:
        return Window.parse(self.window)

    def covers(self, campaign_id: int, status: int | None) -> bool:
        wanted = CampaignStatus.STOPPED if self.action is RuleAction.RESUME else CampaignStatus.WORKING
        if status != wanted:
            return False
        return not self.campaign_ids or campaign_id in self.campaign_ids

    def action_words(self) -> str:
        if self.action is RuleAction.SET:
            return f"set the daily budget to {fmt_money(self.amount)}"
        if self.percent is not None:
            return f"{self.action.value} the daily budget by {_number(self.percent)}%"
        return f"{self.action.value} the campaign"

    def words(self) -> str:
        """The rule in plain words, for `/budget rules`."""
        span = self.span_window.words(self.exclude_today)
        conditions = " and ".join(c.words() for c in self.conditions)
        guards = []
        if self.min_spent > 0:
            guards.append(f"spent at least {fmt_money(self.min_spent)}")
        if self.min_conversions > 0:
            guards.append(f"at least {self.min_conversions} conversions")
        guarded = f" (once it has {' and '.join(guards)})" if guards else ""
        where = "every stopped campaign" if self.action is RuleAction.RESUME else "every working campaign"
        if self.campaign_ids:
            where = "campaigns " + ", ".join(str(i) for i in self.campaign_ids)
        return f"Over {span}, when {conditions}{guarded}: {self.action_words()}, for {where}."


@dataclass(frozen=True)
class Figures:
    """One campaign's figures over a rule's window."""

    days: int
    spent: Decimal = ZERO
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    daily_budget: Decimal | None = None
    pacing: Decimal | None = None
    """Today's projected end-of-day spend as a share of the daily budget."""

    def value(self, metric: Metric) -> Decimal | None:
        """The metric's value, or None where it is undefined (a CPA without conversions): no condition holds on it."""
        if metric is Metric.SPENT:
            return self.spent
        if metric is Metric.CONVERSIONS:
            return Decimal(self.conversions)
        if metric is Metric.IMPRESSIONS:
            return Decimal(self.impressions)
        if metric is Metric.CLICKS:
            return Decimal(self.clicks)
        if metric is Metric.CPA:
            return cpa_of(self.spent, self.conversions)
        if metric is Metric.CTR:
            return Decimal(self.clicks) * HUNDRED / self.impressions if self.impressions else None
        if metric is Metric.CR:
            return Decimal(self.conversions) * HUNDRED / self.clicks if self.clicks else None
        if metric is Metric.BUDGET_USE:
            if not self.daily_budget:
                return None
            return self.spent * HUNDRED / (self.daily_budget * self.days)
        if metric is Metric.PACING:
            return None if self.pacing is None else self.pacing * HUNDRED
        raise AssertionError(metric)


def holds(rule: ConditionRule, figures: Figures) -> bool:
    """Whether the guards and every condition hold on the figures."""
    if figures.spent < rule.min_spent or figures.conversions < rule.min_conversions:
        return False
    for condition in rule.conditions:
        value = figures.value(condition.metric)
        if value is None or not COMPARE[condition.op](value, condition.value):
            return False
    return True


def target_amount(rule: ConditionRule, budget: Decimal | None) -> Decimal | None:
    """The daily budget the rule's action asks for (the same budget for pause and resume); None: nothing to do."""
    if rule.action in (RuleAction.PAUSE, RuleAction.RESUME):
        return budget or ZERO
    if budget is None or budget <= 0:
        return None  # without a daily limit there is nothing to scale
    if rule.action is RuleAction.SET:
        assert rule.amount is not None
        to = cents(rule.amount)
    else:
        assert rule.percent is not None
        sign = 1 if rule.action is RuleAction.INCREASE else -1
        to = cents(budget * (1 + sign * rule.percent / HUNDRED))
    return None if to == cents(budget) else to


def change_of(
    rule: ConditionRule, campaign_id: int, name: str, budget: Decimal | None, *, reason: str, evidence: Evidence
) -> Candidate | None:
    """The change the rule's action makes of a campaign's daily budget (or status), or None when there is none."""
    to = target_amount(rule, budget)
    if to is None:
        return None
    start = cents(budget or ZERO)
    kind = {RuleAction.PAUSE: ActionKind.PAUSE, RuleAction.RESUME: ActionKind.RESUME}.get(rule.action, ActionKind.SET_DAILY_BUDGET)
    raises = rule.action is RuleAction.RESUME or (kind is ActionKind.SET_DAILY_BUDGET and to > start)
    return Candidate(
        campaign_id=campaign_id,
        campaign_name=stored_name(name),
        rule=rule.name,
        direction=Direction.INCREASE if raises else Direction.DECREASE,
        from_amount=start,
        to_amount=to,
        reason=reason,
        evidence=evidence,
        action=kind,
        mode=rule.mode,
        cooldown=rule.cooldown,
    )


def judge(rule: ConditionRule, campaign_id: int, name: str, budget: Decimal | None, figures: Figures) -> Candidate | None:
    """What the rule would do to one campaign (already known to be covered), with the figures in words, or None."""
    if not holds(rule, figures) or target_amount(rule, budget) is None:
        return None
    span = rule.span_window.words(rule.exclude_today)
    found = "; ".join(f"{c.metric.value} {_figure(c.metric, figures.value(c.metric))} {c.op.value} {_figure(c.metric, c.value)}"
                      for c in rule.conditions)
    cpa = cpa_of(figures.spent, figures.conversions)
    use = figures.value(Metric.BUDGET_USE)
    evidence = Evidence(
        window_days=figures.days,
        spent=figures.spent,
        conversions=figures.conversions,
        cpa=None if cpa is None else cents(cpa),
        target_cpa=None,
        budget_use=None if use is None else use / HUNDRED,
        window=span,
    )
    return change_of(rule, campaign_id, name, budget, reason=f"Over {span}: {found}. The rule says: {rule.action_words()}.",
                     evidence=evidence)


def figures_of(rows: Iterable[Any], days: int, budget: Decimal | None, pacing: Decimal | None = None) -> Figures:
    """Sums a campaign's ledger rows (anything with spent, impressions, clicks, conversions) into figures."""
    spent, impressions, clicks, conversions = ZERO, 0, 0, 0
    for row in rows:
        spent += row.spent
        impressions += row.impressions
        clicks += row.clicks
        conversions += row.conversions
    return Figures(days, spent, impressions, clicks, conversions, budget, pacing)


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _figure(metric: Metric, value: Decimal | None) -> str:
    if value is None:
        return "none"
    if metric.is_money:
        return fmt_money(value)
    if metric.is_percent:
        return f"{_number(value.quantize(Decimal('0.01')))}%"
    return _number(value)
