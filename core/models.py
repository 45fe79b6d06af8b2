"""Typed values read from PropellerAds: campaigns and statistics rows."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.money import Money, cpa


class CampaignStatus(IntEnum):
    DRAFT = 1
    MODERATION = 2
    REJECTED = 3
    READY = 4
    TEST_RUN = 5
    WORKING = 6
    PAUSED = 7
    STOPPED = 8
    COMPLETED = 9

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").lower()


class _ApiModel(BaseModel):
    # The API adds fields without notice; keep what we know and ignore the rest.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Campaign(_ApiModel):
    id: int
    name: str = ""
    status: int
    is_archived: bool = False
    daily_budget: Money | None = Field(default=None, alias="limit_daily_amount")
    total_budget: Money | None = Field(default=None, alias="limit_total_amount")
    rate_model: str | None = None
    direction_id: int | None = None
    started_at: str | None = None

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @property
    def is_working(self) -> bool:
        """Status 6 is the only one that spends."""
        return self.status == CampaignStatus.WORKING

    @property
    def status_label(self) -> str:
        try:
            return CampaignStatus(self.status).label
        except ValueError:
            return f"status {self.status}"


class PageMeta(_ApiModel):
    total_items: int
    total_pages: int
    page_size: int
    page: int


class CampaignPage(_ApiModel):
    result: list[Campaign]
    meta: PageMeta


class StatisticsRow(_ApiModel):
    campaign_id: int | None = None
    campaign_name: str | None = None
    day: date | None = Field(default=None, alias="date_time")
    spent: Money = Decimal(0)
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    daily_amount: Money | None = None

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @field_validator("day", mode="before")
    @classmethod
    def _day(cls, value: Any) -> Any:
        # Seen as "2025-09-29" and "2025-09-29 00:00:00"; only the date matters here.
        if isinstance(value, str) and len(value) >= 10:
            return value[:10]
        if isinstance(value, datetime):
            return value.date()
        return value


class StatisticsPage(_ApiModel):
    items: list[StatisticsRow]
    total_pages: int = 1
    total_items: int = 0
    per_page: int = 1000


class CampaignStats(BaseModel):
    """Spend and conversions of one campaign over a window of days."""

    campaign_id: int
    spent: Decimal = Decimal(0)
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0

    @property
    def cpa(self) -> Decimal | None:
        return cpa(self.spent, self.conversions)


def sum_by_campaign(rows: list[StatisticsRow]) -> dict[int, CampaignStats]:
    """Adds up statistics rows (possibly one per day) into one figure per campaign."""
    totals: dict[int, CampaignStats] = {}
    for row in rows:
        if row.campaign_id is None:
            continue
        acc = totals.setdefault(row.campaign_id, CampaignStats(campaign_id=row.campaign_id))
        acc.spent += row.spent
        acc.impressions += row.impressions
        acc.clicks += row.clicks
        acc.conversions += row.conversions
    return totals
