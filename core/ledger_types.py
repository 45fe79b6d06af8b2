"""What the spend ledger holds, as values: a campaign's figures per ad day, and its spend sampled through today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class DailyRow:
    """What one campaign did on one ad day, with the daily budget and status last seen that day."""

    campaign_id: int
    day: date
    spent: Decimal
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    daily_budget: Decimal | None = None
    status: int | None = None
    name: str = ""


@dataclass(frozen=True)
class IntradaySample:
    """A campaign's spend and conversions so far on ad day `day`, as one check read them at `at` (aware)."""

    campaign_id: int
    at: datetime
    day: date
    spent: Decimal
    conversions: int = 0
    status: int | None = None
