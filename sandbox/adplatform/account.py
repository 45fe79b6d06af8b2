"""The sandbox's ad account: balance, campaigns, their history of settings and statistics, saved as JSON."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from sandbox.adplatform import seeding
from sandbox.adplatform.clock import utc_now
from sandbox.adplatform.model import CENT, PAUSED, STATUSES, WORKING, Campaign, DayStats, money, optional_money
from sandbox.adplatform.simulation import (
    DAY,
    IDLE,
    ONE,
    PLATFORM_PAUSE,
    PLATFORM_ZONE,
    Episode,
    Setting,
    SpendProfile,
    day_start,
    platform_day,
    simulate_day,
)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_DAY = timedelta(days=1)
STATE_VERSION = 1
EDITABLE = frozenset({"name", "frequency", "capping", "limit_daily_amount", "limit_total_amount"})


class Account:
    """One advertiser account. Statistics come from recorded days first, then from the spend simulation.

    Build an exact account for a test with explicit campaigns and `record()`ed days (the balance then
    stays put), or a lively one with `Account.seeded()` (simulated spend, taken off the balance as the
    sandbox clock runs). Methods that depend on time take `now` from the caller's clock.

    Simulated spend runs by the platform's day (EST); statistics asked in another time zone cut it at
    that zone's midnight. A recorded day counts whole for that date in any zone.
    """

    def __init__(
        self,
        *,
        balance: Decimal | str | int = Decimal(0),
        campaigns: Iterable[Campaign] = (),
        profiles: Mapping[int, SpendProfile] | None = None,
        seed: int = 0,
        balance_since: datetime | None = None,
    ) -> None:
        self.balance = money(balance)
        self.balance_since = balance_since
        """Simulated spend after this moment is taken off `balance`; None keeps the balance fixed."""
        self.seed = seed
        self.campaigns: dict[int, Campaign] = {}
        self.profiles: dict[int, SpendProfile] = dict(profiles or {})
        self.recorded: dict[int, dict[date, DayStats]] = {}
        self._history: dict[int, list[Setting]] = {}
        self.episodes: dict[int, list[Episode]] = {}
        self._sorted_ids: list[int] | None = None
        # Whole past days never change once over, so their simulated figures are kept.
        self._kept_days: dict[int, dict[int | tuple[int, datetime], DayStats | None]] = {}
        self._closed_ranges: dict[int, dict[tuple[int, int, timedelta | None], DayStats]] = {}
        self._spent_before_since: Decimal | None = None
        for campaign in campaigns:
            self.add(campaign)

    @classmethod
    def seeded(
        cls,
        campaigns: int = 30,
        seed: int = 7,
        *,
        now: datetime | None = None,
        balance: Decimal | str | None = None,
    ) -> "Account":
        """A made-up account of `campaigns` campaigns whose history up to `now` follows from `seed` alone."""
        now = now or utc_now()
        book = seeding.generate(campaigns, seed, now.date())
        return cls(
            balance=book.balance if balance is None else balance,
            campaigns=book.campaigns,
            profiles=book.profiles,
            seed=seed,
            balance_since=now,
        )

    # --- reading -----------------------------------------------------------------------------

    def campaign(self, campaign_id: int) -> Campaign:
        """The campaign; KeyError when there is none with that id."""
        return self.campaigns[campaign_id]

    def status_at(self, campaign: Campaign, now: datetime) -> int:
        """The status the API shows: paused (7) while the platform paces a working campaign."""
        if campaign.status == WORKING and any(
            e.kind == PLATFORM_PAUSE and e.covers(now) for e in self.episodes.get(campaign.id, ())
        ):
            return PAUSED
        return campaign.status

    def list_campaigns(
        self, statuses: Iterable[int] | None = None, archived: bool | None = None, now: datetime | None = None
    ) -> list[Campaign]:
        """Campaigns by id, optionally only those in `statuses` (as shown at `now`, if given) and with the given
        archived flag."""
        if self._sorted_ids is None:
            self._sorted_ids = sorted(self.campaigns)
        wanted = frozenset(statuses) if statuses else None
        found = []
        for campaign_id in self._sorted_ids:
            campaign = self.campaigns[campaign_id]
            status = campaign.status if now is None else self.status_at(campaign, now)
            if wanted is not None and status not in wanted:
                continue
            if archived is not None and campaign.is_archived != archived:
                continue
            found.append(campaign)
        return found

    def day_stats(
        self, campaign_id: int, day: date, now: datetime, zone: timezone = PLATFORM_ZONE
    ) -> DayStats | None:
        """What the campaign did on `day` (cut at `zone`'s midnight) as of `now`: the recorded figures if any,
        else the simulated ones."""
        recorded = self.recorded.get(campaign_id)
        if recorded is not None and day in recorded:
            return recorded[day]
        if _is_platform(zone):
            return self._simulated(campaign_id, day, now)
        start = day_start(day, zone)
        return self._simulated_between(campaign_id, start, start + DAY, now)

    def activity(
        self,
        day_from: date,
        day_to: date,
        now: datetime,
        campaign_ids: Iterable[int] | None = None,
        zone: timezone = PLATFORM_ZONE,
    ) -> Iterator[tuple[Campaign, date, DayStats]]:
        """Every (campaign, day, figures) in the range where the campaign did something, by campaign id then day."""
        last_simulated = min(day_to, now.astimezone(zone).date())
        for campaign_id in self._candidates(campaign_ids):
            campaign = self.campaigns[campaign_id]
            recorded = self.recorded.get(campaign_id, {})
            days = {d for d in recorded if day_from <= d <= day_to}
            if campaign_id in self.profiles:
                first = max(day_from, campaign.started_at)
                days.update(first + timedelta(days=n) for n in range((last_simulated - first).days + 1))
            for day in sorted(days):
                stats = self.day_stats(campaign_id, day, now, zone)
                if stats is not None and stats.is_active:
                    yield campaign, day, stats

    def campaign_totals(
        self,
        day_from: date,
        day_to: date,
        now: datetime,
        campaign_ids: Iterable[int] | None = None,
        zone: timezone = PLATFORM_ZONE,
    ) -> Iterator[tuple[Campaign, DayStats]]:
        """Each campaign's figures summed over the range, by id, for those that did something in it."""
        today = now.astimezone(zone).date()
        closed_to = min(day_to, today - ONE_DAY)
        for campaign_id in self._candidates(campaign_ids):
            campaign = self.campaigns[campaign_id]
            total = self._closed_total(campaign, day_from, closed_to, now, zone) if day_from <= closed_to else IDLE
            recorded = self.recorded.get(campaign_id, {})
            later = {d for d in recorded if max(day_from, today) <= d <= day_to}
            if campaign_id in self.profiles and day_from <= today <= day_to:
                later.add(today)
            for day in later:
                stats = self.day_stats(campaign_id, day, now, zone)
                if stats is not None:
                    total = total + stats
            if total.is_active:
                yield campaign, total

    def balance_at(self, now: datetime) -> Decimal:
        """The balance as of `now`: the set balance less simulated spend since it was set, never below zero."""
        if self.balance_since is None or not self.profiles or now <= self.balance_since:
            return self.balance
        if self._spent_before_since is None:
            self._spent_before_since = self._simulated_total(platform_day(self.balance_since), self.balance_since)
        spent = -self._spent_before_since
        day = platform_day(self.balance_since)
        while day <= platform_day(now):
            spent += self._simulated_total(day, now)
            day += timedelta(days=1)
        return max(Decimal(0), self.balance - spent).quantize(CENT)

    def settings_history(self, campaign_id: int) -> list[Setting]:
        """The campaign's status and daily limit over time, oldest first."""
        history = self._history.get(campaign_id)
        if history is not None:
            return list(history)
        campaign = self.campaigns[campaign_id]
        return [Setting(EPOCH, campaign.status, campaign.limit_daily_amount)]

    # --- writing -----------------------------------------------------------------------------

    def add(self, campaign: Campaign) -> Campaign:
        self.campaigns[campaign.id] = campaign
        self._sorted_ids = None
        self._forget(campaign.id)
        return campaign

    def record(self, campaign_id: int, day: date, stats: DayStats | None = None, **figures: Any) -> DayStats:
        """Fixes the campaign's figures for `day` (`spent=`, `impressions=`, `clicks=`, `conversions=`…)."""
        if campaign_id not in self.campaigns:
            raise KeyError(campaign_id)
        stats = stats if stats is not None else DayStats(**figures)
        self.recorded.setdefault(campaign_id, {})[day] = stats
        self._closed_ranges.pop(campaign_id, None)
        return stats

    def simulate(self, campaign_id: int, profile: SpendProfile | None) -> None:
        """Gives the campaign a spend behaviour (None removes it)."""
        if campaign_id not in self.campaigns:
            raise KeyError(campaign_id)
        if profile is None:
            self.profiles.pop(campaign_id, None)
        else:
            self.profiles[campaign_id] = profile
        self._forget(campaign_id)

    def update(self, campaign_id: int, now: datetime, **changes: Any) -> Campaign:
        """Applies already validated changes of the editable fields at `now`."""
        unknown = set(changes) - EDITABLE
        if unknown:
            raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
        campaign = self.campaigns[campaign_id]
        self._keep_history(campaign)
        for name, value in changes.items():
            if name in ("limit_daily_amount", "limit_total_amount"):
                value = optional_money(value)
            setattr(campaign, name, value)
        self._settings_changed(campaign, now)
        return campaign

    def begin(
        self, campaign_id: int, kind: str, now: datetime, *, hours: float | None = None, factor: Decimal = ONE
    ) -> Episode:
        """Starts an episode (simulation.EPISODES) at `now`, for `hours` if given, else until ended."""
        if campaign_id not in self.campaigns:
            raise KeyError(campaign_id)
        until = None if hours is None else now + timedelta(hours=hours)
        episode = Episode(kind, now, until, Decimal(factor))
        self.episodes.setdefault(campaign_id, []).append(episode)
        self._forget(campaign_id)
        return episode

    def end_episodes(self, campaign_id: int, now: datetime) -> None:
        """Ends whatever episode is going on at `now`; the campaign behaves as its profile says again."""
        ended = []
        for episode in self.episodes.get(campaign_id, []):
            if episode.since >= now:
                continue
            ended.append(episode if episode.until is not None and episode.until <= now else replace(episode, until=now))
        self.episodes[campaign_id] = ended
        self._forget(campaign_id)

    def set_status(self, campaign_ids: Iterable[int], status: int, now: datetime) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown campaign status {status}")
        for campaign_id in campaign_ids:
            campaign = self.campaigns[campaign_id]
            self._keep_history(campaign)
            campaign.status = status
            self._settings_changed(campaign, now)

    def set_balance(self, amount: Decimal | str | int, now: datetime) -> None:
        """Sets the balance as of `now`; simulated spend is taken off from then on."""
        self.balance = money(amount)
        if self.balance_since is not None:
            self.balance_since = now
            self._spent_before_since = None

    # --- simulation ----------------------------------------------------------------------------

    def _simulated(self, campaign_id: int, day: date, now: datetime, *, keep: bool = False) -> DayStats | None:
        """The platform day's figures up to `now`; kept when the day is over, or when told (`now` is then a
        past boundary that statistics in another zone cut at again and again)."""
        profile = self.profiles.get(campaign_id)
        campaign = self.campaigns.get(campaign_id)
        if profile is None or campaign is None or day < campaign.started_at:
            return None
        key: int | tuple[int, datetime] | None = None
        if day_start(day) + DAY <= now:
            key = day.toordinal()
        elif keep:
            key = (day.toordinal(), now)
        if key is not None:
            cache = self._kept_days.setdefault(campaign_id, {})
            if key in cache:
                return cache[key]
        history = self.settings_history(campaign_id)
        stats = simulate_day(profile, self.seed, campaign_id, day, history, now, self.episodes.get(campaign_id, ()))
        if key is not None:
            cache[key] = stats
        return stats

    def _simulated_between(self, campaign_id: int, start: datetime, end: datetime, now: datetime) -> DayStats | None:
        """Simulated figures from `start` to `end` (or `now` if sooner), over the platform days the span touches."""
        cut = min(end, now)
        if cut <= start:
            return None
        total: DayStats | None = None
        day = platform_day(start)
        while day_start(day) < cut:
            upto = self._simulated(campaign_id, day, min(cut, day_start(day) + DAY), keep=end <= now)
            if upto is not None:
                before = self._simulated(campaign_id, day, start, keep=True) if start > day_start(day) else None
                piece = upto if before is None else upto - before
                total = piece if total is None else total + piece
            day += ONE_DAY
        return total

    def _candidates(self, campaign_ids: Iterable[int] | None) -> list[int]:
        """Ids of the campaigns that can have figures at all, sorted."""
        candidates = (set(self.profiles) | set(self.recorded)) & set(self.campaigns)
        if campaign_ids is not None:
            candidates &= set(campaign_ids)
        return sorted(candidates)

    def _closed_total(
        self, campaign: Campaign, day_from: date, day_to: date, now: datetime, zone: timezone
    ) -> DayStats:
        """The sum over whole past days, kept: a statistics call pages through the same range again and again."""
        key = (day_from.toordinal(), day_to.toordinal(), zone.utcoffset(None))
        cache = self._closed_ranges.setdefault(campaign.id, {})
        if key in cache:
            return cache[key]
        recorded = self.recorded.get(campaign.id, {})
        if not _is_platform(zone) and not any(day_from <= d <= day_to for d in recorded):
            # Cut elsewhere than the platform's midnight, the days of a range add up to one span, which
            # costs two part-days instead of two per day.
            start, end = day_start(day_from, zone), day_start(day_to + ONE_DAY, zone)
            span = self._simulated_between(campaign.id, start, end, now)
            cache[key] = span or IDLE
            return cache[key]
        total = IDLE
        day = day_from
        while day <= day_to:
            stats = self.day_stats(campaign.id, day, now, zone)
            if stats is not None:
                total = total + stats
            day += ONE_DAY
        cache[key] = total
        return total

    def _simulated_total(self, day: date, upto: datetime) -> Decimal:
        total = Decimal(0)
        for campaign_id in self.profiles:
            stats = self._simulated(campaign_id, day, upto)
            if stats is not None:
                total += stats.spent
        return total

    def _keep_history(self, campaign: Campaign) -> None:
        """Pins the settings in force so far before the campaign object is changed."""
        if campaign.id not in self._history:
            self._history[campaign.id] = self.settings_history(campaign.id)

    def _settings_changed(self, campaign: Campaign, now: datetime) -> None:
        history = self._history[campaign.id]
        last = history[-1]
        if (last.status, last.limit) == (campaign.status, campaign.limit_daily_amount):
            return
        # A clock moved back by a test rewrites what it had said about the later future.
        history = [s for s in history if s.since < now] or history[:1]
        history.append(Setting(now, campaign.status, campaign.limit_daily_amount))
        self._history[campaign.id] = history
        self._forget(campaign.id)

    def _forget(self, campaign_id: int) -> None:
        self._kept_days.pop(campaign_id, None)
        self._closed_ranges.pop(campaign_id, None)
        self._spent_before_since = None

    # --- persistence ---------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """A JSON-ready picture of the account, money as strings."""
        return {
            "version": STATE_VERSION,
            "balance": str(self.balance),
            "balance_since": self.balance_since.isoformat() if self.balance_since else None,
            "seed": self.seed,
            "campaigns": [c.to_state() for c in self.list_campaigns()],
            "profiles": {str(k): p.to_state() for k, p in self.profiles.items()},
            "history": {
                str(k): [[s.since.isoformat(), s.status, None if s.limit is None else str(s.limit)] for s in h]
                for k, h in self._history.items()
            },
            "recorded": {
                str(k): {d.isoformat(): s.to_state() for d, s in days.items()} for k, days in self.recorded.items()
            },
            "episodes": {str(k): [e.to_state() for e in found] for k, found in self.episodes.items() if found},
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> "Account":
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported sandbox state version {state.get('version')!r}")
        since = state.get("balance_since")
        account = cls(
            balance=Decimal(state["balance"]),
            campaigns=[Campaign.from_state(c) for c in state["campaigns"]],
            profiles={int(k): SpendProfile.from_state(p) for k, p in state.get("profiles", {}).items()},
            seed=int(state.get("seed", 0)),
            balance_since=datetime.fromisoformat(since) if since else None,
        )
        for key, settings in state.get("history", {}).items():
            account._history[int(key)] = [
                Setting(datetime.fromisoformat(at), status, optional_money(limit)) for at, status, limit in settings
            ]
        for key, found in state.get("episodes", {}).items():
            account.episodes[int(key)] = [Episode.from_state(e) for e in found]
        for key, days in state.get("recorded", {}).items():
            for day, figures in days.items():
                account.record(int(key), date.fromisoformat(day), DayStats.from_state(figures))
        return account

    def save(self, path: str | os.PathLike[str], **extra: Any) -> None:
        """Writes the state atomically, so a crash mid-write leaves the previous file whole."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        state = self.to_state() | extra
        fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(state, out, indent=1)
        os.replace(tmp, target)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "Account":
        with open(path, encoding="utf-8") as src:
            return cls.from_state(json.load(src))


def _is_platform(zone: timezone) -> bool:
    return zone.utcoffset(None) == PLATFORM_ZONE.utcoffset(None)
