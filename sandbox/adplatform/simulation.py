"""Deterministic spend simulation: what a campaign spends, shows and converts through an ad day.

The platform counts days in EST (UTC-05:00), as PropellerAds does: a daily budget fills up from EST
midnight. Within the day a campaign spends at the rate its demand curve gives, until its daily limit
stops it, so capped campaigns hit their caps at different hours. Episodes switched on by tests and the
demo bend the curve from the moment they start: spend that stops, a spike, conversions that stop, and
the platform's own pauses of CPC push campaigns.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_DOWN, Decimal

from sandbox.adplatform.model import MILL, WORKING, DayStats

ONE = Decimal(1)
ZERO = Decimal(0)
DAY = timedelta(days=1)
IDLE = DayStats()
PLATFORM_ZONE = timezone(timedelta(hours=-5))
"""Where the platform cuts its days: daily budgets, "today" and statistics asked without `tz`."""
_DAY_MICROSECONDS = Decimal(86_400_000_000)
_MASK = (1 << 64) - 1
# Precomputed draws in [-1, 1) keep Decimal division out of the hot path (10,000 campaigns × 30 days).
_SPREAD = [Decimal(i - 5000) / 5000 for i in range(10_000)]
_SHARE = [Decimal(i) / 10_000 for i in range(10_000)]

# A day of traffic that peaks once: 0.4 of the average rate twelve hours from the peak, 1.6 at it.
_SWING = 0.6


def _curve(peak_hour: int) -> tuple[tuple[Decimal, ...], tuple[Decimal, ...]]:
    """Hourly shares of a day's demand peaking at `peak_hour` (platform time), and their running sums."""
    raw = [Decimal(f"{1 + _SWING * math.cos(2 * math.pi * (hour - peak_hour) / 24):.4f}") for hour in range(24)]
    total = sum(raw, ZERO)
    shares = tuple(r / total for r in raw)
    sums = [ZERO]
    for share in shares:
        sums.append(sums[-1] + share)
    sums[-1] = ONE
    return shares, tuple(sums)


_CURVES = [_curve(hour) for hour in range(24)]


# --- what a campaign is and what happens to it ---------------------------------------------------------


@dataclass(frozen=True)
class SpendProfile:
    """How a campaign behaves in the auction. With `jitter` 0 and no `peak_hour` every day is the same and
    spend runs evenly through it, so tests can work figures by hand.

    A day's demand is spent through the day by its curve (even, or peaking at `peak_hour` platform time)
    until the daily limit × reach stops it; reach is `pace` without jitter, else between pace and 1.
    Impressions are spend / cpm × 1000, clicks ctr % of impressions, conversions spend / cpa (none when
    cpa is None). With jitter, demand, cpm and cpa move by up to ±jitter from day to day.
    """

    demand: Decimal
    pace: Decimal = ONE
    cpa: Decimal | None = None
    cpm: Decimal = Decimal(2)
    ctr: Decimal = ZERO
    jitter: Decimal = ZERO
    peak_hour: int | None = None

    def __post_init__(self) -> None:
        for name in ("demand", "pace", "cpm", "ctr", "jitter"):
            object.__setattr__(self, name, Decimal(str(getattr(self, name))))
        if self.cpa is not None:
            object.__setattr__(self, "cpa", Decimal(str(self.cpa)))
        if self.cpm <= 0 or (self.cpa is not None and self.cpa <= 0):
            raise ValueError("cpm and cpa must be positive")
        if not ZERO < self.pace <= ONE or not ZERO <= self.jitter < ONE:
            raise ValueError("pace must be in (0, 1] and jitter in [0, 1)")
        if self.peak_hour is not None:
            object.__setattr__(self, "peak_hour", int(self.peak_hour))
            if not 0 <= self.peak_hour < 24:
                raise ValueError("peak_hour must be an hour of the day, 0 to 23")

    def share_by(self, elapsed: Decimal) -> Decimal:
        """The share of a day's demand the curve has brought by `elapsed` (0 to 1) of the day."""
        if self.peak_hour is None or elapsed in (ZERO, ONE):
            return elapsed
        shares, sums = _CURVES[self.peak_hour]
        hours = elapsed * 24
        hour = min(int(hours), 23)
        return sums[hour] + shares[hour] * (hours - hour)

    def to_state(self) -> dict[str, str | int | None]:
        return {
            "demand": str(self.demand),
            "pace": str(self.pace),
            "cpa": None if self.cpa is None else str(self.cpa),
            "cpm": str(self.cpm),
            "ctr": str(self.ctr),
            "jitter": str(self.jitter),
            "peak_hour": self.peak_hour,
        }

    @classmethod
    def from_state(cls, data: dict[str, str | int | None]) -> "SpendProfile":
        return cls(**data)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Setting:
    """A campaign's spend-relevant settings from `since` until the next change."""

    since: datetime
    status: int
    limit: Decimal | None


STALL = "stall"
"""Working, under its cap, and spending nothing: a creative rejected, a tracking link down."""
SPIKE = "spike"
"""Spending `factor` times its usual rate."""
NO_CONVERSIONS = "no_conversions"
"""Spending as usual with no conversion arriving: a broken postback."""
PLATFORM_PAUSE = "platform_pause"
"""Shown as paused (status 7) by the platform itself, "out of daily impression limit", spending nothing."""
EPISODES = (STALL, SPIKE, NO_CONVERSIONS, PLATFORM_PAUSE)


@dataclass(frozen=True, slots=True)
class Episode:
    """Something that happens to a campaign from `since` until `until` (None: until it is ended)."""

    kind: str
    since: datetime
    until: datetime | None = None
    factor: Decimal = ONE

    def __post_init__(self) -> None:
        if self.kind not in EPISODES:
            raise ValueError(f"unknown episode {self.kind!r}; one of {', '.join(EPISODES)}")
        if self.until is not None and self.until <= self.since:
            raise ValueError("an episode must end after it starts")
        if self.factor <= 0:
            raise ValueError("a factor must be positive")

    def covers(self, moment: datetime) -> bool:
        return self.since <= moment and (self.until is None or moment < self.until)

    def to_state(self) -> list[str | None]:
        until = None if self.until is None else self.until.isoformat()
        return [self.kind, self.since.isoformat(), until, str(self.factor)]

    @classmethod
    def from_state(cls, data: Sequence[str | None]) -> "Episode":
        kind, since, until, factor = data
        assert kind is not None and since is not None and factor is not None
        end = None if until is None else datetime.fromisoformat(until)
        return cls(kind, datetime.fromisoformat(since), end, Decimal(factor))


# --- days ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def day_start(day: date, zone: timezone = PLATFORM_ZONE) -> datetime:
    """The UTC instant a day begins in `zone` (the platform's day unless told)."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(timezone.utc)


def platform_day(moment: datetime) -> date:
    """The platform's day an instant falls in."""
    return moment.astimezone(PLATFORM_ZONE).date()


@dataclass(frozen=True, slots=True)
class _Draws:
    demand: Decimal
    reach: Decimal
    cpm: Decimal
    cpa: Decimal | None
    phase: Decimal


def mix(value: int) -> int:
    """The splitmix64 finaliser: cheap, well spread and stable across runs and Python versions (unlike hash())."""
    x = (value + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _draws(profile: SpendProfile, seed: int, campaign_id: int, day: date) -> _Draws:
    if not profile.jitter:
        return _Draws(profile.demand, profile.pace, profile.cpm, profile.cpa, ZERO)
    # One 64-bit hash gives four independent 4-digit draws; a second one gives the fifth.
    first = mix((seed * 0x100000001B3 + campaign_id) * 0x1000193 + day.toordinal())
    second = mix(first)
    j = profile.jitter
    cpa = None if profile.cpa is None else profile.cpa * (ONE + j * _SPREAD[(first // 10**8) % 10_000])
    return _Draws(
        demand=profile.demand * (ONE + j * _SPREAD[first % 10_000]),
        reach=profile.pace + (ONE - profile.pace) * _SHARE[(first // 10**12) % 10_000],
        cpm=profile.cpm * (ONE + j * _SPREAD[(first // 10**4) % 10_000]),
        cpa=cpa,
        phase=_SHARE[second % 10_000],
    )


def _elapsed(start: datetime, moment: datetime) -> Decimal:
    if moment == start:
        return ZERO
    if moment - start == DAY:
        return ONE
    return Decimal((moment - start) // timedelta(microseconds=1)) / _DAY_MICROSECONDS


def _moments(
    start: datetime, end: datetime, settings: Sequence[Setting], episodes: Sequence[Episode]
) -> list[datetime]:
    """The day's instants where something changes, from start to end."""
    inside = {s.since for s in settings if start < s.since < end}
    for episode in episodes:
        inside.update(m for m in (episode.since, episode.until) if m is not None and start < m < end)
    return [start, *sorted(inside), end]


def _in_force(settings: Sequence[Setting], moment: datetime) -> Setting:
    current = settings[0]
    for setting in settings:
        if setting.since > moment:
            break
        current = setting
    return current


def simulate_day(
    profile: SpendProfile,
    seed: int,
    campaign_id: int,
    day: date,
    settings: Sequence[Setting],
    upto: datetime,
    episodes: Sequence[Episode] = (),
) -> DayStats | None:
    """What the campaign did on the platform's `day` until `upto` (the whole day if later), or None if the
    day has not begun.

    Spend accrues by the curve at the rate the settings and episodes of the moment allow and stops at
    the daily limit, so a budget change mid-day bends the curve from then on.
    """
    start = day_start(day)
    end = min(start + DAY, upto)
    if end <= start:
        return None
    if all(setting.status != WORKING for setting in settings):
        return IDLE
    draws = _draws(profile, seed, campaign_id, day)
    spent = converting = ZERO
    moments = _moments(start, end, settings, episodes)
    for seg_start, seg_end in zip(moments, moments[1:]):
        setting = _in_force(settings, seg_start)
        active = [e for e in episodes if e.covers(seg_start)]
        if setting.status != WORKING or any(e.kind in (STALL, PLATFORM_PAUSE) for e in active):
            continue
        rate = ONE
        for episode in active:
            if episode.kind == SPIKE:
                rate *= episode.factor
        share = profile.share_by(_elapsed(start, seg_end)) - profile.share_by(_elapsed(start, seg_start))
        gained = draws.demand * rate * share
        if setting.limit is not None:
            gained = min(gained, max(ZERO, setting.limit * draws.reach - spent))
        spent += gained
        if not any(e.kind == NO_CONVERSIONS for e in active):
            converting += gained
    spent = spent.quantize(MILL, rounding=ROUND_DOWN)
    if not spent:
        return IDLE
    impressions = int(spent * 1000 / draws.cpm)
    clicks = int(impressions * profile.ctr / 100)
    conversions = int(converting / draws.cpa + draws.phase) if draws.cpa is not None else 0
    return DayStats(
        spent=spent,
        impressions=impressions,
        clicks=clicks,
        conversions=conversions,
        conversions2=conversions * 4,
        conversions3=conversions // 5,
    )
