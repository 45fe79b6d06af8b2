"""Deterministic spend simulation: what a campaign spends, shows and converts on a day, given its settings over time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_DOWN, Decimal

from sandbox.adplatform.model import MILL, WORKING, DayStats

ONE = Decimal(1)
ZERO = Decimal(0)
DAY = timedelta(days=1)
IDLE = DayStats()
_DAY_MICROSECONDS = Decimal(86_400_000_000)
_MASK = (1 << 64) - 1
# Precomputed draws in [-1, 1) keep Decimal division out of the hot path (10,000 campaigns × 30 days).
_SPREAD = [Decimal(i - 5000) / 5000 for i in range(10_000)]
_SHARE = [Decimal(i) / 10_000 for i in range(10_000)]


@dataclass(frozen=True)
class SpendProfile:
    """How a campaign behaves in the auction. With `jitter` 0 every day is the same, so tests can work figures by hand.

    A day's spend is min(demand, daily limit × pace), spread evenly over the day; impressions are
    spend / cpm × 1000, clicks ctr % of impressions, conversions spend / cpa (none when cpa is None).
    With jitter, demand, cpm and cpa move by up to ±jitter from day to day, and the share of a binding
    limit reached lies between pace and 1.
    """

    demand: Decimal
    pace: Decimal = ONE
    cpa: Decimal | None = None
    cpm: Decimal = Decimal(2)
    ctr: Decimal = ZERO
    jitter: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("demand", "pace", "cpm", "ctr", "jitter"):
            object.__setattr__(self, name, Decimal(str(getattr(self, name))))
        if self.cpa is not None:
            object.__setattr__(self, "cpa", Decimal(str(self.cpa)))
        if self.cpm <= 0 or (self.cpa is not None and self.cpa <= 0):
            raise ValueError("cpm and cpa must be positive")
        if not ZERO < self.pace <= ONE or not ZERO <= self.jitter < ONE:
            raise ValueError("pace must be in (0, 1] and jitter in [0, 1)")

    def to_state(self) -> dict[str, str | None]:
        return {
            "demand": str(self.demand),
            "pace": str(self.pace),
            "cpa": None if self.cpa is None else str(self.cpa),
            "cpm": str(self.cpm),
            "ctr": str(self.ctr),
            "jitter": str(self.jitter),
        }

    @classmethod
    def from_state(cls, data: dict[str, str | None]) -> "SpendProfile":
        return cls(**{k: (None if v is None else Decimal(v)) for k, v in data.items()})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Setting:
    """A campaign's spend-relevant settings from `since` until the next change."""

    since: datetime
    status: int
    limit: Decimal | None


@dataclass(frozen=True, slots=True)
class _Draws:
    demand: Decimal
    reach: Decimal
    cpm: Decimal
    cpa: Decimal | None
    phase: Decimal


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


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


def _full_day(draws: _Draws, limit: Decimal | None) -> Decimal:
    if limit is None:
        return draws.demand
    return min(draws.demand, limit * draws.reach)


def _share_of_day(start: datetime, end: datetime) -> Decimal:
    if end - start == DAY:
        return ONE
    return Decimal((end - start) // timedelta(microseconds=1)) / _DAY_MICROSECONDS


def simulate_day(
    profile: SpendProfile,
    seed: int,
    campaign_id: int,
    day: date,
    settings: Sequence[Setting],
    upto: datetime,
) -> DayStats | None:
    """What the campaign did on `day` until `upto` (the whole day if later), or None if the day has not begun.

    Spend accrues evenly at the pace the settings of the moment allow and stops at the daily limit,
    so a budget change mid-day bends the curve from then on.
    """
    start = day_start(day)
    end = min(start + DAY, upto)
    if end <= start:
        return None
    if all(setting.status != WORKING for setting in settings):
        return IDLE
    segments = []
    for index, setting in enumerate(settings):
        until = settings[index + 1].since if index + 1 < len(settings) else end
        seg_start, seg_end = max(setting.since, start), min(until, end)
        if seg_end > seg_start and setting.status == WORKING:
            segments.append((setting.limit, _share_of_day(seg_start, seg_end)))
    if not segments:
        return IDLE
    draws = _draws(profile, seed, campaign_id, day)
    spent = ZERO
    for limit, share in segments:
        gained = _full_day(draws, limit) * share
        if limit is not None:
            gained = min(gained, max(ZERO, limit - spent))
        spent += gained
    spent = spent.quantize(MILL, rounding=ROUND_DOWN)
    if not spent:
        return IDLE
    impressions = int(spent * 1000 / draws.cpm)
    clicks = int(impressions * profile.ctr / 100)
    conversions = int(spent / draws.cpa + draws.phase) if draws.cpa is not None else 0
    return DayStats(
        spent=spent,
        impressions=impressions,
        clicks=clicks,
        conversions=conversions,
        conversions2=conversions * 4,
        conversions3=conversions // 5,
    )
