"""Ledger values for pacing and signal tests: campaign days written as spend an hour, sampled every 15 minutes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from core.adday import AdDay
from core.ledger_types import DailyRow, IntradaySample

EST = AdDay.parse("-05:00")
TODAY = date(2025, 9, 29)
STEP = Decimal("0.25")
"""Hours between two samples: a check every 15 minutes."""
WORKING, PAUSED, REJECTED, STOPPED = 6, 7, 3, 8


def at(hour: float, day: date = TODAY) -> datetime:
    """An hour of an ad day, as an aware UTC instant."""
    return EST.start(day) + timedelta(hours=hour)


def steady(_: Decimal) -> Decimal:
    return Decimal(10)


@dataclass
class Book:
    """Daily rows and intraday samples of several campaigns, as the ledger would hold them."""

    rows: list[DailyRow] = field(default_factory=list)
    samples: list[IntradaySample] = field(default_factory=list)

    def day(
        self,
        campaign_id: int,
        day: date,
        *,
        rate: Callable[[Decimal], Decimal] = steady,
        budget: Decimal | None = Decimal(300),
        until: float = 24,
        cpa: Decimal | None = Decimal(10),
        status: Callable[[Decimal], int] = lambda _: WORKING,
        converting: Callable[[Decimal], bool] = lambda _: True,
    ) -> Book:
        """One ad day up to hour `until`: spend an hour by `rate(hour)` while working, stopped by the daily budget."""
        spent = converted = Decimal(0)
        hour = Decimal(0)
        while hour < Decimal(str(until)):
            if status(hour) == WORKING:
                gained = rate(hour) * STEP
                if budget is not None:
                    gained = min(gained, budget - spent)
                spent += gained
                if converting(hour):
                    converted += gained
            hour += STEP
            conversions = int(converted / cpa) if cpa else 0
            self.samples.append(IntradaySample(campaign_id, at(float(hour), day), day, spent, conversions, status(hour)))
        self.rows.append(
            DailyRow(campaign_id, day, spent, conversions=conversions, daily_budget=budget, status=status(hour), name=f"C{campaign_id}")
        )
        return self

    def as_stored(self) -> Book:
        """The samples the ledger keeps: a campaign's first of each day, then only those where something moved."""
        kept: list[IntradaySample] = []
        last: dict[int, IntradaySample] = {}
        for sample in sorted(self.samples, key=lambda s: s.at):
            before = last.get(sample.campaign_id)
            if before is None or (before.day, before.spent, before.conversions, before.status) != (
                sample.day,
                sample.spent,
                sample.conversions,
                sample.status,
            ):
                kept.append(sample)
                last[sample.campaign_id] = sample
        return Book(self.rows, kept)

    def week(self, campaign_id: int, **story: object) -> Book:
        """The seven whole days before today, each the same."""
        for back in range(7, 0, -1):
            self.day(campaign_id, TODAY - timedelta(days=back), **story)  # type: ignore[arg-type]
        return self
