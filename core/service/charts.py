"""What the charts show, read from the spend ledger as plain values: spend per ad day and today's spend curve."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from core.ledger_types import DailyRow, IntradaySample
from core.models import CampaignStatus
from core.pacing import AccountPacing
from core.service.reads import ServiceParts

CHART_DAYS = 14
TOP_CAMPAIGNS = 3
ZERO = Decimal(0)


@dataclass(frozen=True)
class DaySpend:
    """One whole ad day: what was spent, the daily budgets seen that day added up (None: none seen), conversions."""

    day: date
    spent: Decimal
    daily_budget: Decimal | None
    conversions: int


@dataclass(frozen=True)
class SpendHistory:
    """Spend per whole ad day up to yesterday, of the account or of one campaign (`campaign_id`)."""

    days: tuple[DaySpend, ...]
    day_label: str
    campaign_id: int | None = None
    name: str = ""
    balance: Decimal | None = None
    runs_out_at: datetime | None = None
    """On the ad account's clock: when the balance runs out at today's pace (None: not known)."""

    @property
    def spent(self) -> Decimal:
        return sum((d.spent for d in self.days), ZERO)

    @property
    def conversions(self) -> int:
        return sum(d.conversions for d in self.days)

    @property
    def last_budget(self) -> Decimal | None:
        return self.days[-1].daily_budget if self.days else None


@dataclass(frozen=True)
class SpendCurve:
    """Cumulative spend through today, one point per change, on the ad account's clock."""

    name: str
    points: tuple[tuple[datetime, Decimal], ...]
    campaign_id: int | None = None

    @property
    def spent(self) -> Decimal:
        return self.points[-1][1] if self.points else ZERO


@dataclass(frozen=True)
class TodayCurves:
    """Today's spend against an even pace of the working campaigns' total daily budget: the account first, then
    the top campaigns."""

    day: date
    day_label: str
    starts: datetime
    ends: datetime
    now: datetime
    daily_budget: Decimal | None
    account: SpendCurve
    campaigns: tuple[SpendCurve, ...]

    @property
    def even_now(self) -> Decimal | None:
        """What an even pace of the daily budget would have spent by now."""
        if self.daily_budget is None:
            return None
        share = Decimal((self.now - self.starts) // timedelta(seconds=1)) / Decimal(
            (self.ends - self.starts) // timedelta(seconds=1)
        )
        return self.daily_budget * min(Decimal(1), max(ZERO, share))


class ChartReads(ServiceParts):
    """The ledger reads behind the charts; no call to PropellerAds."""

    async def account_history(self, pacing: AccountPacing | None = None, days: int = CHART_DAYS) -> SpendHistory:
        """The account's spend per whole ad day for the last `days`, with the balance and its run-out from
        today's `pacing` when given."""
        rows = await self._whole_days(days)
        return SpendHistory(
            days=_per_day(rows),
            day_label=self.ad_day.label,
            balance=pacing.balance if pacing else None,
            runs_out_at=pacing.runs_out_at if pacing else None,
        )

    async def campaign_history(self, campaign_id: int, name: str = "", days: int = CHART_DAYS) -> SpendHistory:
        """One campaign's spend and conversions per whole ad day for the last `days`."""
        rows = await self._whole_days(days, [campaign_id])
        named = name or next((r.name for r in reversed(rows) if r.name), "")
        return SpendHistory(days=_per_day(rows), day_label=self.ad_day.label, campaign_id=campaign_id, name=named)

    async def today_curves(self, top: int = TOP_CAMPAIGNS) -> TodayCurves:
        """Today's cumulative spend from the ledger's samples: the account's and the `top` spenders' so far."""
        now = self.clock()
        day = self.ad_day.today(now)
        rows = await self.ledger.ledger.days(day, day)
        samples = [s for s in await self.ledger.ledger.samples(self.ad_day.start(day)) if s.day == day]
        by_campaign: dict[int, list[IntradaySample]] = {}
        for sample in samples:
            by_campaign.setdefault(sample.campaign_id, []).append(sample)
        names = {r.campaign_id: r.name for r in rows}
        local = self.ad_day.local
        campaigns = [
            SpendCurve(names.get(i) or f"#{i}", tuple((local(s.at), s.spent) for s in kept), campaign_id=i)
            for i, kept in by_campaign.items()
        ]
        campaigns.sort(key=lambda c: (-c.spent, c.campaign_id))
        # Paused and stopped campaigns keep a daily budget they are not spending today.
        budgets = [r.daily_budget for r in rows if r.daily_budget is not None and r.status == CampaignStatus.WORKING]
        return TodayCurves(
            day=day,
            day_label=self.ad_day.label,
            starts=local(self.ad_day.start(day)),
            ends=local(self.ad_day.end(day)),
            now=local(now),
            daily_budget=sum(budgets, ZERO) if budgets else None,
            account=SpendCurve("Account", tuple((local(at), spent) for at, spent in account_steps(samples))),
            campaigns=tuple(c for c in campaigns[:top] if c.spent > 0),
        )

    async def _whole_days(self, days: int, campaign_ids: Iterable[int] | None = None) -> list[DailyRow]:
        yesterday = self.ad_day.today(self.clock()) - timedelta(days=1)
        return await self.ledger.ledger.days(yesterday - timedelta(days=days - 1), yesterday, campaign_ids)


def _per_day(rows: Iterable[DailyRow]) -> tuple[DaySpend, ...]:
    spent: dict[date, Decimal] = {}
    budget: dict[date, Decimal] = {}
    conversions: dict[date, int] = {}
    for row in rows:
        spent[row.day] = spent.get(row.day, ZERO) + row.spent
        conversions[row.day] = conversions.get(row.day, 0) + row.conversions
        if row.daily_budget is not None:
            budget[row.day] = budget.get(row.day, ZERO) + row.daily_budget
    return tuple(DaySpend(day, spent[day], budget.get(day), conversions[day]) for day in sorted(spent))


def account_steps(samples: Sequence[IntradaySample]) -> list[tuple[datetime, Decimal]]:
    """The account's cumulative spend at each sample time: every campaign's latest figure added up (samples
    read as a step, each figure holding until the campaign's next one)."""
    latest: dict[int, Decimal] = {}
    steps: list[tuple[datetime, Decimal]] = []
    for sample in sorted(samples, key=lambda s: (s.at, s.campaign_id)):
        latest[sample.campaign_id] = sample.spent
        total = sum(latest.values(), ZERO)
        if steps and steps[-1][0] == sample.at:
            steps[-1] = (sample.at, total)
        else:
            steps.append((sample.at, total))
    return steps
