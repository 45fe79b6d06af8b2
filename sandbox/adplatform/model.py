"""The sandbox account's records: campaigns and per-day statistics, with money as Decimal."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

DRAFT, MODERATION, REJECTED, READY, TEST_RUN, WORKING, PAUSED, STOPPED, COMPLETED = range(1, 10)
STATUSES = frozenset(range(1, 10))
"""The live status codes; only WORKING (6) spends."""

RATE_MODELS = ("cpm", "scpm", "cpc", "scpc", "scpa", "cpag")
CENT = Decimal("0.01")
MILL = Decimal("0.001")


def money(value: Any) -> Decimal:
    """An amount as Decimal cents; floats go through str so 180.1 stays 180.10, not 180.0999…"""
    if isinstance(value, bool):
        raise TypeError("an amount cannot be a bool")
    if isinstance(value, float):
        value = repr(value)
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def optional_money(value: Any) -> Decimal | None:
    return None if value is None else money(value)


def api_float(amount: Decimal | None, places: Decimal = MILL) -> float | None:
    """The JSON edge: the live API sends money as floats with at most three decimals."""
    if amount is None:
        return None
    return float(amount.quantize(places, rounding=ROUND_HALF_UP))


@dataclass
class Campaign:
    """One advertiser campaign as the platform keeps it."""

    id: int
    name: str = ""
    status: int = WORKING
    limit_daily_amount: Decimal | None = Decimal("100.00")
    limit_total_amount: Decimal | None = None
    is_archived: bool = False
    rate_model: str = "cpm"
    direction_id: int = 1
    started_at: date = date(2025, 1, 1)
    target_url: str = "https://example.com/offer?zoneid={zone_id}&campaignid={campaign_id}&cost={cost}"
    capping: int = 1
    frequency: int = 1
    win_rate: str = "-"
    """Shown in statistics rows only; the live API sends "-" when it has no figure."""

    def __post_init__(self) -> None:
        self.id = int(self.id)
        if self.status not in STATUSES:
            raise ValueError(f"unknown campaign status {self.status}")
        self.name = self.name or f"Campaign {self.id}"
        self.limit_daily_amount = optional_money(self.limit_daily_amount)
        self.limit_total_amount = optional_money(self.limit_total_amount)
        if isinstance(self.started_at, str):
            self.started_at = date.fromisoformat(self.started_at)

    def to_api(self, *, detail: bool = False, status: int | None = None) -> dict[str, Any]:
        """The campaign as the API shows it, in the recorded key order; `detail` adds capping and frequency.

        `status` is the one to show when the platform's own pause stands in for the campaign's.
        """
        body: dict[str, Any] = {
            "name": self.name,
            "target_url": self.target_url,
            "started_at": self.started_at.isoformat(),
            "direction_id": self.direction_id,
            "rate_model": self.rate_model,
        }
        if detail:
            body["capping"] = self.capping
        body["limit_total_amount"] = api_float(self.limit_total_amount)
        body["limit_daily_amount"] = api_float(self.limit_daily_amount)
        body["id"] = self.id
        if detail:
            body["frequency"] = self.frequency
        body["status"] = self.status if status is None else status
        body["is_archived"] = int(self.is_archived)
        return body

    def to_state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "limit_daily_amount": _str_or_none(self.limit_daily_amount),
            "limit_total_amount": _str_or_none(self.limit_total_amount),
            "is_archived": self.is_archived,
            "rate_model": self.rate_model,
            "direction_id": self.direction_id,
            "started_at": self.started_at.isoformat(),
            "target_url": self.target_url,
            "capping": self.capping,
            "frequency": self.frequency,
            "win_rate": self.win_rate,
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> "Campaign":
        return cls(**data)


@dataclass(frozen=True, slots=True)
class DayStats:
    """What one campaign did on one day. Spend is kept to the mill, as the API reports it."""

    spent: Decimal = field(default=Decimal(0))
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    conversions2: int = 0
    conversions3: int = 0

    def __post_init__(self) -> None:
        spent = self.spent
        if isinstance(spent, float):
            spent = repr(spent)
        object.__setattr__(self, "spent", Decimal(spent).quantize(MILL, rounding=ROUND_DOWN))

    def __add__(self, other: "DayStats") -> "DayStats":
        return self._combine(other, operator.add)

    def __sub__(self, other: "DayStats") -> "DayStats":
        """The figures between two moments of one day: the later cumulative figures less the earlier."""
        return self._combine(other, operator.sub)

    def _combine(self, other: "DayStats", op: Callable[[Any, Any], Any]) -> "DayStats":
        return DayStats(
            op(self.spent, other.spent),
            op(self.impressions, other.impressions),
            op(self.clicks, other.clicks),
            op(self.conversions, other.conversions),
            op(self.conversions2, other.conversions2),
            op(self.conversions3, other.conversions3),
        )

    @property
    def is_active(self) -> bool:
        """Whether the day earns a statistics row: the live API lists only campaigns that did something."""
        return bool(self.spent or self.impressions or self.clicks or self.conversions)

    def to_state(self) -> list[Any]:
        return [str(self.spent), self.impressions, self.clicks, self.conversions, self.conversions2, self.conversions3]

    @classmethod
    def from_state(cls, data: list[Any]) -> "DayStats":
        spent, *counts = data
        return cls(Decimal(spent), *counts)


def _str_or_none(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)
