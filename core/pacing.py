"""Pacing: how today's spend runs against each daily budget and the balance, from ledger values alone.

Projections use two rates. The end-of-day spend is today's spend stretched over the whole ad day
(spent ÷ share of the day gone), capped by the daily budget: steady, and what the dashboard shows. When
the cap will be hit and when the balance runs out use the current rate (the last hour's samples), since
that is what drains the money next.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from core.adday import AdDay
from core.ledger_types import DailyRow, IntradaySample
from core.models import CampaignStatus

HOUR = timedelta(hours=1)
ZERO = Decimal(0)
CAPPED_SHARE = Decimal("0.95")
"""A campaign counts as capped once it has spent this share of its daily budget: the platform stops it
within the last few impressions, not always on the cent."""
RATE_WINDOW = HOUR
"""How far back the current spend rate looks."""


@dataclass(frozen=True)
class CampaignPacing:
    campaign_id: int
    name: str
    day: date
    status: int | None
    spent: Decimal
    daily_budget: Decimal | None
    budget_share: Decimal | None
    """Today's spend as a share of the daily budget; None without a daily budget."""
    day_share: Decimal
    projected: Decimal
    """End-of-day spend if the day goes on as it went so far, never above the daily budget."""
    rate_per_hour: Decimal
    """The current spend rate."""
    capped: bool
    cap_at: datetime | None
    """On the ad account's clock: when the cap was hit (capped) or will be at the current rate (None: not today)."""

    @property
    def is_working(self) -> bool:
        return self.status == CampaignStatus.WORKING


@dataclass(frozen=True)
class AccountPacing:
    day: date
    day_share: Decimal
    spent: Decimal
    projected: Decimal
    rate_per_hour: Decimal
    balance: Decimal | None
    runs_out_at: datetime | None
    """On the ad account's clock: when the balance runs out at the current rate (None: no spend or no balance)."""
    campaigns: tuple[CampaignPacing, ...]


def hours_between(start: datetime, end: datetime) -> Decimal:
    return Decimal((end - start) // timedelta(seconds=1)) / 3600


def spend_rate(
    samples: Sequence[IntradaySample], now: datetime, day_start: datetime, window: timedelta = RATE_WINDOW
) -> Decimal:
    """Money an hour over the last `window` (since the day began when no sample is that old), from one
    campaign's samples of today, oldest first.

    Samples read as a step: the ledger keeps one only when something moved, so a figure holds until the
    next sample says otherwise.
    """
    if not samples:
        return ZERO
    since = now - window
    base = [s for s in samples if s.at <= since]
    start_at, start_spent = (since, base[-1].spent) if base else (day_start, ZERO)
    hours = hours_between(start_at, now)
    if hours <= 0:
        return ZERO
    return max(ZERO, samples[-1].spent - start_spent) / hours


def crossed_at(samples: Sequence[IntradaySample], amount: Decimal, day_start: datetime) -> datetime | None:
    """When today's cumulative spend first reached `amount`, read between the samples either side of it."""
    before_at, before_spent = day_start, ZERO
    for sample in samples:
        if sample.spent >= amount:
            grown = sample.spent - before_spent
            if grown <= 0:
                return sample.at
            return before_at + (sample.at - before_at) * float((amount - before_spent) / grown)
        before_at, before_spent = sample.at, sample.spent
    return None


def campaign_pacing(
    now: datetime,
    ad_day: AdDay,
    campaign_id: int,
    today: DailyRow | None,
    samples: Sequence[IntradaySample],
) -> CampaignPacing:
    """One campaign's pacing today, from today's ledger row (budget, status) and today's samples, oldest first."""
    day = ad_day.today(now)
    start, end = ad_day.start(day), ad_day.end(day)
    samples = sorted((s for s in samples if s.day == day and s.at <= now), key=lambda s: s.at)
    latest = samples[-1] if samples else None
    spent = max(latest.spent if latest else ZERO, today.spent if today else ZERO)
    status = latest.status if latest and latest.status is not None else (today.status if today else None)
    budget = today.daily_budget if today else None
    day_share = ad_day.share_gone(now)
    rate = spend_rate(samples, now, start)
    if not samples and day_share > 0:
        rate = spent / (day_share * 24)
    working = status == CampaignStatus.WORKING
    projected = spent / day_share if working and day_share > 0 else spent
    cap_at: datetime | None = None
    capped = budget is not None and budget > 0 and spent >= budget * CAPPED_SHARE
    if budget is not None:
        projected = min(projected, max(budget, spent))
        if capped:
            cap_at = crossed_at(samples, budget * CAPPED_SHARE, start)
        elif working and rate > 0:
            hit = now + HOUR * float((budget * CAPPED_SHARE - spent) / rate)
            cap_at = hit if hit < end else None
    return CampaignPacing(
        campaign_id=campaign_id,
        name=today.name if today else "",
        day=day,
        status=status,
        spent=spent,
        daily_budget=budget,
        budget_share=spent / budget if budget else None,
        day_share=day_share,
        projected=projected,
        rate_per_hour=rate if working else ZERO,
        capped=capped,
        cap_at=ad_day.local(cap_at) if cap_at else None,
    )


def account_pacing(
    now: datetime,
    ad_day: AdDay,
    rows: Iterable[DailyRow],
    samples: Iterable[IntradaySample],
    balance: Decimal | None,
) -> AccountPacing:
    """Every campaign seen today, and the account: projected spend today and when the balance runs out."""
    day = ad_day.today(now)
    today_rows = {r.campaign_id: r for r in rows if r.day == day}
    by_campaign: dict[int, list[IntradaySample]] = {}
    for sample in samples:
        if sample.day == day:
            by_campaign.setdefault(sample.campaign_id, []).append(sample)
    campaigns = tuple(
        campaign_pacing(now, ad_day, campaign_id, today_rows.get(campaign_id), by_campaign.get(campaign_id, ()))
        for campaign_id in sorted(set(today_rows) | set(by_campaign))
    )
    spent = sum((c.spent for c in campaigns), ZERO)
    projected = sum((c.projected for c in campaigns), ZERO)
    rate = sum((c.rate_per_hour for c in campaigns if not c.capped), ZERO)
    return AccountPacing(
        day=day,
        day_share=ad_day.share_gone(now),
        spent=spent,
        projected=projected,
        rate_per_hour=rate,
        balance=balance,
        runs_out_at=_runs_out_at(now, ad_day, balance, spent, projected, rate),
        campaigns=campaigns,
    )


def _runs_out_at(
    now: datetime, ad_day: AdDay, balance: Decimal | None, spent: Decimal, projected: Decimal, rate: Decimal
) -> datetime | None:
    """Today at the current rate while today's spend lasts; after that a day's spend like today's, every day."""
    if balance is None:
        return None
    if balance <= 0:
        return ad_day.local(now)
    rest_today = max(ZERO, projected - spent)
    if balance <= rest_today and rate > 0:
        return ad_day.local(min(now + HOUR * float(balance / rate), ad_day.end(ad_day.today(now))))
    if projected <= 0:
        return None
    day_end = ad_day.end(ad_day.today(now))
    return ad_day.local(day_end + timedelta(days=float((balance - rest_today) / projected)))
