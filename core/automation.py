"""Brakes on rules that act without a click: the team's switch, caps per hour and per day, and API trouble."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.rules import parse_duration

AUTOMATION_SWITCH = "automation"
"""The switch `/budget automation off|on` flips; its value is "on" or "off"."""
API_TROUBLE = "api_trouble"
"""When PropellerAds last failed the bot (a read or an automatic write), and in what words."""


class AutomationLimits(BaseModel):
    """The `[automation]` table: how much rules in auto mode may do on their own."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Whether automation is on until an approver switches it in Slack (the stored switch wins from then on)."""
    max_per_hour: int = Field(5, ge=0)
    max_per_day: int = Field(20, ge=0)
    """Counted over the last 24 hours."""
    error_hold: timedelta = timedelta(minutes=30)
    """After PropellerAds fails a read or an automatic write, nothing is done on its own for this long."""

    @field_validator("error_hold", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


@dataclass(frozen=True)
class AutomationState:
    """Whether rules may act on their own now, and if not, why (in words for the channel)."""

    on: bool
    changed_by: str | None = None
    changed_at: datetime | None = None
    held: str | None = None
    """Why automatic actions wait although the switch is on (a cap reached, PropellerAds failing)."""

    @property
    def acts(self) -> bool:
        return self.on and self.held is None


def hold_reason(
    limits: AutomationLimits, now: datetime, last_hour: int, last_day: int, trouble_at: datetime | None,
    trouble: str | None = None,
) -> str | None:
    """Why automatic actions must wait now (the switch aside), or None."""
    if trouble_at is not None and now - trouble_at < limits.error_hold:
        words = f" ({trouble})" if trouble else ""
        return f"PropellerAds failed at {trouble_at:%H:%M} UTC{words}; automatic actions wait {_span(limits.error_hold)} after that"
    if last_hour >= limits.max_per_hour:
        return f"the cap of {limits.max_per_hour} automatic actions an hour is reached"
    if last_day >= limits.max_per_day:
        return f"the cap of {limits.max_per_day} automatic actions in 24 hours is reached"
    return None


def _span(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
