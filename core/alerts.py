"""Channel alerts: which conditions hold now, and what changed since the last check (deduplicated)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum

from core.health import HealthReport, RecommendationCode, RiskLevel
from core.models import named
from core.money import fmt_money

LOW_BALANCE = "low_balance"
LOW_RUNWAY = "low_runway"
TOKEN_REFUSED = "api_token_refused"
WRITE_DENIED = "api_write_denied"
AT_RISK_PREFIX = "campaign_at_risk:"
UNREADABLE = "unreadable_figures"

WARNING, SERIOUS, CRITICAL = 1, 2, 3


@dataclass(frozen=True)
class Condition:
    """Something that needs attention now; `key` names it across checks, `severity` orders it."""

    key: str
    severity: int
    summary: str


class ChangeKind(str, Enum):
    RAISED = "raised"
    RETURNED = "returned"
    """Raised again soon after it resolved: a flapping condition, told in its first message's thread."""
    WORSENED = "worsened"
    RESOLVED = "resolved"


FLAPPING_WINDOW = timedelta(hours=1)
"""A condition back within this long of resolving is not announced to the channel again."""


@dataclass(frozen=True)
class AlertChange:
    kind: ChangeKind
    key: str
    severity: int
    summary: str


@dataclass(frozen=True)
class Alert:
    """An alert as the store remembers it: the condition, and what the channel was told of it."""

    key: str
    severity: int
    active: bool
    summary: str
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None
    told_severity: int | None = None
    told_active: bool | None = None
    """What the channel last heard: None when it heard nothing of this alert yet."""
    message_channel: str | None = None
    message_ts: str | None = None
    """The message that first told it; later changes go to its thread."""
    snoozed_until: datetime | None = None
    snoozed_by: str | None = None
    acknowledged_by: str | None = None

    def snoozed(self, now: datetime) -> bool:
        return self.snoozed_until is not None and self.snoozed_until > now


def conditions_of(report: HealthReport, low_balance_days: Decimal) -> list[Condition]:
    found: list[Condition] = []
    if report.has(RecommendationCode.LOW_BALANCE) and report.budget_days is not None:
        found.append(
            Condition(
                LOW_BALANCE,
                _days_severity(report.budget_days, low_balance_days),
                f"Balance {fmt_money(report.balance)} covers {report.budget_days} days of the "
                f"{fmt_money(report.total_daily_budget)} total daily budget.",
            )
        )
    if report.has(RecommendationCode.LOW_RUNWAY) and report.runway_days is not None:
        found.append(
            Condition(
                LOW_RUNWAY,
                _days_severity(report.runway_days, low_balance_days),
                f"At the last {report.window_days} days' spend the balance runs out in {report.runway_days} days.",
            )
        )
    if report.unreadable:
        found.append(
            Condition(
                UNREADABLE,
                WARNING,
                f"PropellerAds sent figures the bot cannot read for {len(report.unreadable)} campaign(s) or "
                "statistics row(s); they are left out of the health check. /budget status names them.",
            )
        )
    for risk in report.campaigns_at_risk:
        found.append(
            Condition(
                f"{AT_RISK_PREFIX}{risk.id}",
                CRITICAL if risk.risk_level is RiskLevel.CRITICAL else SERIOUS,
                f"{named(risk.name, risk.id)} has a daily budget of {fmt_money(risk.daily_budget)}, "
                f"{risk.risk_level.value} risk against the {fmt_money(report.balance)} balance.",
            )
        )
    return found


def token_refused(detail: str) -> Condition:
    return Condition(TOKEN_REFUSED, CRITICAL, f"PropellerAds refused the bot's API token: {detail}")


def write_denied(detail: str) -> Condition:
    return Condition(
        WRITE_DENIED, SERIOUS, f"Insufficient permissions: PropellerAds refused a budget change ({detail})."
    )


def diff(
    previous: Mapping[str, Alert], current: Iterable[Condition], *, judged: Iterable[str] | None = None
) -> list[AlertChange]:
    """What to tell the channel: new conditions, worse ones, and cleared ones.

    `judged` limits which previous alerts this check could have seen clear: a check that only
    learned the token was refused says nothing about the balance. None means all of them.
    """
    now = {c.key: c for c in current}
    changes: list[AlertChange] = []
    for key, condition in now.items():
        before = previous.get(key)
        if before is None or not before.active:
            changes.append(AlertChange(ChangeKind.RAISED, key, condition.severity, condition.summary))
        elif condition.severity > before.severity:
            changes.append(AlertChange(ChangeKind.WORSENED, key, condition.severity, condition.summary))
    judged_keys = set(previous) if judged is None else set(judged)
    for key, before in previous.items():
        if before.active and key not in now and key in judged_keys:
            changes.append(AlertChange(ChangeKind.RESOLVED, key, before.severity, before.summary))
    return changes


def untold(alert: Alert) -> bool:
    """The channel has not heard the alert as it stands (nothing to hear of one that never held)."""
    if not alert.active and not alert.told_active:
        return False
    return (alert.severity, alert.active) != (alert.told_severity, alert.told_active)


def to_tell(alert: Alert) -> AlertChange | None:
    """What to announce of an untold alert; None when the change is not news (it only got better)."""
    told_active = bool(alert.told_active)
    if alert.active and not told_active:
        back_soon = alert.cleared_at is not None and alert.raised_at - alert.cleared_at < FLAPPING_WINDOW
        kind = ChangeKind.RETURNED if back_soon and alert.message_ts else ChangeKind.RAISED
        return AlertChange(kind, alert.key, alert.severity, alert.summary)
    if alert.active and alert.severity > (alert.told_severity or 0):
        return AlertChange(ChangeKind.WORSENED, alert.key, alert.severity, alert.summary)
    if not alert.active and told_active:
        return AlertChange(ChangeKind.RESOLVED, alert.key, alert.severity, alert.summary)
    return None


def _days_severity(days: Decimal, threshold: Decimal) -> int:
    if days < 1:
        return CRITICAL
    if days < threshold / 2:
        return SERIOUS
    return WARNING
