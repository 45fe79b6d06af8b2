"""The ad account's day: where PropellerAds cuts "today" for daily budgets, spend and statistics."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_AD_TIMEZONE = "-05:00"
"""PropellerAds' dashboard and daily budgets count days in EST, all year round."""

_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
# Offsets in use run from -12:00 to +14:00.
_WEST_MOST, _EAST_MOST = timedelta(hours=-12), timedelta(hours=14)


@dataclass(frozen=True)
class AdDay:
    """Days as the ad account counts them, from a fixed UTC offset or an IANA time zone.

    Instants passed in must be timezone-aware; every instant returned is in UTC.
    """

    name: str
    zone: tzinfo

    @classmethod
    def parse(cls, value: str) -> AdDay:
        """`-05:00`, `+0000` or `America/New_York`; anything else is a ValueError saying so."""
        text = value.strip()
        offset = _OFFSET.match(text)
        if offset:
            sign, hours, minutes = offset.groups()
            delta = timedelta(hours=int(hours), minutes=int(minutes)) * (-1 if sign == "-" else 1)
            if int(minutes) >= 60 or not _WEST_MOST <= delta <= _EAST_MOST:
                raise ValueError(f"{value!r} is not a UTC offset between -12:00 and +14:00")
            return cls(text, timezone(delta))
        try:
            return cls(text, ZoneInfo(text))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is neither a UTC offset like -05:00 nor a time zone name like America/New_York"
            ) from None

    @property
    def label(self) -> str:
        """How reports name the day's clock: "EST" for PropellerAds' own, else the zone or offset."""
        if isinstance(self.zone, ZoneInfo):
            return self.name
        offset = self.zone.utcoffset(None) or timedelta(0)
        if offset == timedelta(hours=-5):
            return "EST"
        if not offset:
            return "UTC"
        text = format_api_tz(offset)
        return f"UTC{text[:3]}:{text[3:]}"

    def day_start(self, at: datetime) -> datetime:
        """The UTC instant the instant's ad day began: where the daily cap on increases starts over."""
        return self.start(self.today(at))

    def today(self, at: datetime) -> date:
        """The ad day the instant falls in."""
        return self.local(at).date()

    def local(self, at: datetime) -> datetime:
        """The instant on the ad account's wall clock."""
        if at.tzinfo is None:
            raise ValueError("an instant needs its time zone")
        return at.astimezone(self.zone)

    def start(self, day: date) -> datetime:
        """The UTC instant the ad day begins."""
        return datetime.combine(day, time.min, tzinfo=self.zone).astimezone(timezone.utc)

    def end(self, day: date) -> datetime:
        """The UTC instant the ad day ends: the start of the next one (23 or 25 hours away on a DST change)."""
        return self.start(day + timedelta(days=1))

    def share_gone(self, at: datetime) -> Decimal:
        """How much of the instant's ad day is behind it, from 0 to 1."""
        day = self.today(at)
        start, end = self.start(day), self.end(day)
        elapsed = (at - start) // timedelta(microseconds=1)
        length = (end - start) // timedelta(microseconds=1)
        return min(Decimal(1), max(Decimal(0), Decimal(elapsed) / Decimal(length)))

    def offset(self, day: date) -> timedelta:
        """The UTC offset at the start of the ad day; an IANA zone's changes with daylight saving."""
        return datetime.combine(day, time.min, tzinfo=self.zone).utcoffset() or timedelta(0)

    def api_tz(self, day: date) -> str:
        """The statistics API's `tz` for a day: `-0500`, `+0000`, `+0530`."""
        return format_api_tz(self.offset(day))


def format_api_tz(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{minutes:02d}"


UTC_DAY = AdDay("+00:00", timezone.utc)
