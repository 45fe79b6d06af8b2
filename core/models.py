"""Typed values read from PropellerAds: campaigns and statistics rows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.money import Money, cpa


MAX_NAME_LENGTH = 500
"""How much of a campaign's name the store keeps (its column is VARCHAR(500) on PostgreSQL)."""


def stored_name(name: str) -> str:
    """A campaign's name cut to what the store keeps, an ellipsis showing the cut; shorter names as they are."""
    return name if len(name) <= MAX_NAME_LENGTH else name[: MAX_NAME_LENGTH - 1] + "…"


def carries_id(name: str, campaign_id: int) -> bool:
    """True when the name already holds the campaign's ID as a number of its own ("… Desktop 9419825")."""
    return re.search(rf"\b{campaign_id}\b", name) is not None


def named(name: str, campaign_id: int) -> str:
    """"Name (123)", or the name alone when it carries its ID: the ID said once."""
    return name if carries_id(name, campaign_id) else f"{name} ({campaign_id})"


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
    daily_budget: Money | None = Field(default=None, alias="limit_daily_amount", ge=0)
    total_budget: Money | None = Field(default=None, alias="limit_total_amount", ge=0)
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


@dataclass(frozen=True)
class UnreadableItem:
    """An item of an answer the bot could not read (money out of range, say): left out and reported."""

    what: str
    """"campaign" or "statistics row"."""
    campaign_id: int | None
    name: str | None
    reason: str


def _leaving_out_unreadable(key: str, model: type[_ApiModel], what: str) -> Any:
    """A page's validator that reads its `key` list item by item, setting aside what cannot be read."""

    def split(cls: type, data: Any) -> Any:
        if isinstance(data, dict) and key in data:
            data = dict(data)
            data[key], data["unreadable"] = _readable(model, what, data[key])
        return data

    return model_validator(mode="before")(classmethod(split))


def _readable(model: type[_ApiModel], what: str, items: Any) -> Any:
    """Splits raw items into those the model reads and the rest, so one bad figure spoils only its own item."""
    if not isinstance(items, list):
        return items, []
    good: list[Any] = []
    bad: list[UnreadableItem] = []
    for item in items:
        if not isinstance(item, dict):
            good.append(item)  # not an object at all: the page itself is malformed, and says so
            continue
        try:
            good.append(model.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or what
            message = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
            given = f" {first['input']!r}" if first.get("type") != "value_error" and "input" in first else ""
            campaign_id = item.get("id" if what == "campaign" else "campaign_id")
            name = item.get("name" if what == "campaign" else "campaign_name")
            bad.append(
                UnreadableItem(
                    what,
                    campaign_id if isinstance(campaign_id, int) and not isinstance(campaign_id, bool) else None,
                    name if isinstance(name, str) else None,
                    f"{field}{given}: {message}",
                )
            )
    return good, bad


class CampaignPage(_ApiModel):
    result: list[Campaign]
    meta: PageMeta
    unreadable: list[UnreadableItem] = Field(default_factory=list)

    _leave_out_unreadable = _leaving_out_unreadable("result", Campaign, "campaign")


class StatisticsRow(_ApiModel):
    campaign_id: int | None = None
    campaign_name: str | None = None
    day: date | None = Field(default=None, alias="date_time")
    spent: Money = Field(Decimal(0), ge=0)
    impressions: int = Field(0, ge=0)
    clicks: int = Field(0, ge=0)
    conversions: int = Field(0, ge=0)
    daily_amount: Money | None = Field(None, ge=0)

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
    unreadable: list[UnreadableItem] = Field(default_factory=list)

    _leave_out_unreadable = _leaving_out_unreadable("items", StatisticsRow, "statistics row")


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
