"""Budget health analysis: from balance, campaigns and spend to a report with risks and recommendations."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from enum import Enum

from pydantic import BaseModel, Field

from core.models import Campaign, CampaignStats, StatisticsRow, UnreadableItem, named
from core.money import cents, cpa, fmt_money, fmt_percent


class HealthThresholds(BaseModel):
    """When the analysis raises a flag; every figure is configurable."""

    campaign_share_of_balance: Decimal = Field(Decimal("0.10"), gt=0)
    """A working campaign whose daily budget is more than this share of the balance is at HIGH risk."""
    low_balance_days: Decimal = Field(Decimal("3"), gt=0)
    """Recommend a top-up when the balance covers fewer days than this of the total daily budget."""
    window_days: int = Field(7, ge=1, le=31)
    """Days of actual spend behind runway and per-campaign performance."""


class RiskLevel(str, Enum):
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class RecommendationCode(str, Enum):
    LOW_BALANCE = "LOW_BALANCE"
    """The balance covers fewer than the configured days of the total daily budget."""
    LOW_RUNWAY = "LOW_RUNWAY"
    """At the actual spend of the window, the balance runs out within the configured days."""
    UNLIMITED_DAILY_BUDGET = "UNLIMITED_DAILY_BUDGET"
    """Working campaigns without a daily budget can spend the whole balance in a day."""
    REVIEW_CAMPAIGN_AT_RISK = "REVIEW_CAMPAIGN_AT_RISK"
    """A campaign's daily budget is out of proportion to the balance."""
    UNREADABLE_FIGURES = "UNREADABLE_FIGURES"
    """PropellerAds sent figures the bot cannot read (out of range, malformed); those items are left out."""


@dataclass(frozen=True)
class CampaignRisk:
    id: int
    name: str
    daily_budget: Decimal
    share_of_balance: Decimal | None
    risk_level: RiskLevel


@dataclass(frozen=True)
class Recommendation:
    code: RecommendationCode
    message: str
    campaign_id: int | None = None


@dataclass(frozen=True)
class CampaignPerformance:
    """One campaign over the window: what it spent and what it bought."""

    id: int
    name: str
    status: int | None
    daily_budget: Decimal | None
    spent: Decimal
    conversions: int
    impressions: int
    window_days: int

    @property
    def cpa(self) -> Decimal | None:
        """Rounded to cents, as the proposal shows it."""
        exact = cpa(self.spent, self.conversions)
        return None if exact is None else cents(exact)

    @property
    def average_daily_spend(self) -> Decimal:
        return self.spent / self.window_days

    @property
    def budget_use(self) -> Decimal | None:
        """Average daily spend as a share of the daily budget (1 = spends it all)."""
        if not self.daily_budget:
            return None
        return self.average_daily_spend / self.daily_budget


@dataclass(frozen=True)
class AccountSnapshot:
    """What the analysis needs, read from the ad platform in three kinds of call."""

    balance: Decimal
    campaigns: list[Campaign]
    stats: dict[int, CampaignStats]
    window_from: date
    window_to: date
    taken_at: datetime
    stat_names: dict[int, str] = field(default_factory=dict)
    unreadable: list[UnreadableItem] = field(default_factory=list)
    """Campaigns and statistics rows left out because their figures could not be read."""
    seen: list[Campaign] = field(default_factory=list)
    """Every campaign the read returned, working or not: the spend ledger keeps the status of each."""
    today: list[StatisticsRow] | None = None
    """Today so far by campaign, when the read asked for it (the spend ledger's today comes from it)."""

    @property
    def window_days(self) -> int:
        return (self.window_to - self.window_from).days + 1


@dataclass(frozen=True)
class HealthReport:
    balance: Decimal
    total_daily_budget: Decimal
    active_campaigns: list[Campaign]
    unlimited_campaigns: list[Campaign]
    campaigns_at_risk: list[CampaignRisk]
    recommendations: list[Recommendation]
    window_spend: Decimal
    window_from: date
    window_to: date
    runway_days: Decimal | None
    """Days the balance lasts at the window's average daily spend; None when nothing was spent."""
    budget_days: Decimal | None
    """Days the balance lasts if every limited working campaign spends its whole daily budget."""
    performance: list[CampaignPerformance]
    generated_at: datetime
    unreadable: list[UnreadableItem] = field(default_factory=list)

    @property
    def window_days(self) -> int:
        return (self.window_to - self.window_from).days + 1

    @property
    def average_daily_spend(self) -> Decimal:
        return self.window_spend / self.window_days

    def has(self, code: RecommendationCode) -> bool:
        return any(r.code == code for r in self.recommendations)


def total_daily_budget(campaigns: Iterable[Campaign]) -> Decimal:
    """The daily budgets of the working campaigns added up; one without a limit adds nothing."""
    return sum((c.daily_budget for c in campaigns if c.is_working and c.daily_budget is not None), Decimal(0))


def analyze(snapshot: AccountSnapshot, thresholds: HealthThresholds | None = None) -> HealthReport:
    """Turns a snapshot of the account into a health report. Pure: no I/O, no clock."""
    t = thresholds or HealthThresholds()
    balance = snapshot.balance
    active = sorted((c for c in snapshot.campaigns if c.is_working), key=lambda c: c.id)
    limited = [c for c in active if c.daily_budget is not None]
    unlimited = [c for c in active if c.daily_budget is None]
    total_daily = total_daily_budget(active)

    at_risk = [risk for c in limited if (risk := _risk_of(c, balance, t)) is not None]
    at_risk.sort(key=lambda r: (r.risk_level != RiskLevel.CRITICAL, -r.daily_budget, r.id))

    window_days = snapshot.window_days
    window_spend = sum((s.spent for s in snapshot.stats.values()), Decimal(0))
    runway = _days(balance, window_spend / window_days) if window_spend > 0 else None
    budget_days = _days(balance, total_daily) if total_daily > 0 else None

    recommendations: list[Recommendation] = []
    if budget_days is not None and budget_days < t.low_balance_days:
        needed = cents(total_daily * t.low_balance_days - balance)
        recommendations.append(
            Recommendation(
                RecommendationCode.LOW_BALANCE,
                f"Top up the balance: {fmt_money(balance)} covers {budget_days} days of the "
                f"{fmt_money(total_daily)} total daily budget; add at least {fmt_money(needed)} "
                f"to cover {t.low_balance_days} days.",
            )
        )
    if runway is not None and runway < t.low_balance_days:
        recommendations.append(
            Recommendation(
                RecommendationCode.LOW_RUNWAY,
                f"At the last {window_days} days' average spend of {fmt_money(window_spend / window_days)} "
                f"a day, the balance runs out in {runway} days.",
            )
        )
    if unlimited:
        names = ", ".join(named(c.name, c.id) for c in unlimited[:5])
        more = f" and {len(unlimited) - 5} more" if len(unlimited) > 5 else ""
        recommendations.append(
            Recommendation(
                RecommendationCode.UNLIMITED_DAILY_BUDGET,
                f"{len(unlimited)} working campaign(s) have no daily budget and can spend the whole "
                f"balance in a day: {names}{more}. Set a daily budget.",
            )
        )
    for risk in at_risk:
        share = fmt_percent(risk.share_of_balance) if risk.share_of_balance else "all"
        recommendations.append(
            Recommendation(
                RecommendationCode.REVIEW_CAMPAIGN_AT_RISK,
                f"{named(risk.name, risk.id)}: its daily budget of {fmt_money(risk.daily_budget)} is {share} "
                f"of the balance. Lower it or top up.",
                campaign_id=risk.id,
            )
        )

    if snapshot.unreadable:
        items = "; ".join(_unreadable_words(u) for u in snapshot.unreadable[:5])
        more = f"; and {len(snapshot.unreadable) - 5} more" if len(snapshot.unreadable) > 5 else ""
        recommendations.append(
            Recommendation(
                RecommendationCode.UNREADABLE_FIGURES,
                f"PropellerAds sent figures that cannot be read, left out of everything above: {items}{more}. "
                "Check these campaigns in PropellerAds.",
            )
        )

    return HealthReport(
        balance=balance,
        total_daily_budget=total_daily,
        active_campaigns=active,
        unlimited_campaigns=unlimited,
        campaigns_at_risk=at_risk,
        recommendations=recommendations,
        window_spend=window_spend,
        window_from=snapshot.window_from,
        window_to=snapshot.window_to,
        runway_days=runway,
        budget_days=budget_days,
        performance=_performance(snapshot),
        generated_at=snapshot.taken_at,
        unreadable=list(snapshot.unreadable),
    )


def _unreadable_words(item: UnreadableItem) -> str:
    if item.campaign_id is None:
        return f"a {item.what} ({item.reason})"
    who = named(item.name, item.campaign_id) if item.name else f"campaign {item.campaign_id}"
    return who + (f": {item.reason}" if item.what == "campaign" else f", a statistics row: {item.reason}")


def _risk_of(campaign: Campaign, balance: Decimal, t: HealthThresholds) -> CampaignRisk | None:
    budget = campaign.daily_budget
    assert budget is not None
    share = budget / balance if balance > 0 else None
    if share is None or budget > balance:
        level = RiskLevel.CRITICAL
    elif share > t.campaign_share_of_balance:
        level = RiskLevel.HIGH
    else:
        return None
    return CampaignRisk(campaign.id, campaign.name, budget, share, level)


def _performance(snapshot: AccountSnapshot) -> list[CampaignPerformance]:
    by_id = {c.id: c for c in snapshot.campaigns}
    ids = {c.id for c in snapshot.campaigns if c.is_working} | set(snapshot.stats)
    rows = []
    for campaign_id in ids:
        campaign = by_id.get(campaign_id)
        stats = snapshot.stats.get(campaign_id) or CampaignStats(campaign_id=campaign_id)
        rows.append(
            CampaignPerformance(
                id=campaign_id,
                name=campaign.name if campaign else snapshot.stat_names.get(campaign_id, str(campaign_id)),
                status=campaign.status if campaign else None,
                daily_budget=campaign.daily_budget if campaign else None,
                spent=stats.spent,
                conversions=stats.conversions,
                impressions=stats.impressions,
                window_days=snapshot.window_days,
            )
        )
    rows.sort(key=lambda p: (-p.spent, p.id))
    return rows


def _days(balance: Decimal, per_day: Decimal) -> Decimal:
    """Days to one decimal, rounded down: a runway should never look longer than it is."""
    if per_day <= 0:
        raise ValueError("per_day must be positive")
    days = max(balance, Decimal(0)) / per_day
    return days.quantize(Decimal("0.1"), rounding=ROUND_DOWN)


__all__ = [
    "AccountSnapshot",
    "CampaignPerformance",
    "CampaignRisk",
    "HealthReport",
    "HealthThresholds",
    "Recommendation",
    "RecommendationCode",
    "RiskLevel",
    "analyze",
]
