"""Reading the account: shared, cached reads of PropellerAds, the health report, one campaign's status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from core.adday import AdDay
from core.errors import PropellerAdsError
from core.executor import Executor
from core.health import AccountSnapshot, HealthReport, analyze
from core.ledger import LedgerSync
from core.ledger_types import DailyRow, IntradaySample
from core.models import Campaign, CampaignStatus, CampaignStats, StatisticsRow, sum_by_campaign
from core.pacing import campaign_pacing
from core.propellerads import PropellerAdsClient
from core.snapshot import read_snapshot, trailing_window
from core.store import Store
from core.store.ledger import SAMPLES_KEPT
from core.service.values import CampaignLookup, CampaignStatusReport, ServiceConfig


MAX_PICK_LIST = 10
WATCHED_STATUSES = (
    CampaignStatus.WORKING,
    CampaignStatus.PAUSED,
    CampaignStatus.MODERATION,
    CampaignStatus.REJECTED,
    CampaignStatus.STOPPED,
    CampaignStatus.COMPLETED,
)
"""Read with the working ones, in the same pages: a campaign that left working is news to the spend ledger."""
T = TypeVar("T")


def campaign_id_in(text: str) -> int | None:
    """A campaign ID written as ASCII digits; None for anything else ("²" is a digit to str.isdigit, not to int)."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


class SharedReads:
    """Values read from the ad platform, kept for a while; one fetch per value at a time, shared by all
    who ask meanwhile. A kept value young enough is answered at once, even while a fresh read is under
    way: a status read never queues behind a check that waits out PropellerAds' statistics limit."""

    def __init__(self, ttl: timedelta) -> None:
        self.ttl = ttl.total_seconds()
        self._values: dict[str, tuple[Any, float]] = {}
        self._fetching: dict[str, asyncio.Future[Any]] = {}
        self._generation = 0

    async def get(self, key: str, fetch: Callable[[], Awaitable[T]], *, fresh: bool = False) -> T:
        kept = self._values.get(key)
        if kept and not fresh and time.monotonic() - kept[1] < self.ttl:
            return kept[0]
        running = self._fetching.get(key)
        if running is None:  # a read already under way is as fresh as a new one would be
            running = self._fetching[key] = asyncio.ensure_future(self._fetch(key, fetch))
        # One caller giving up (a Slack request cancelled) must not cancel the read the others wait for.
        return await asyncio.shield(running)

    async def _fetch(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        generation = self._generation
        try:
            value = await fetch()
        finally:
            if self._fetching.get(key) is asyncio.current_task():  # after clear() another may have begun
                del self._fetching[key]
        if generation == self._generation:  # not kept if the account was written meanwhile
            self._values[key] = (value, time.monotonic())
        return value

    def clear(self) -> None:
        self._values.clear()
        self._fetching.clear()
        self._generation += 1


class ServiceParts:
    """What every part of the service shares; `BudgetService` sets it up and joins the parts."""

    api: PropellerAdsClient
    store: Store
    config: ServiceConfig
    clock: Callable[[], datetime]
    ad_day: AdDay
    day_start: Callable[[datetime], datetime]
    executor: Executor
    ledger: LedgerSync
    _reads: SharedReads
    _alerts_lock: asyncio.Lock


class AccountReads(ServiceParts):
    """The account as the service sees it: the snapshot, the health report, campaign lookups and status."""

    async def snapshot(self, *, fresh: bool = False, with_today: bool = False) -> AccountSnapshot:
        """The account, shared and kept a while. `with_today` (a check's read, if it starts one): today's
        statistics too, for the spend ledger; a kept snapshot may lack them."""

        async def read() -> AccountSnapshot:
            # The window's whole days come from the spend ledger when it holds them all: a check then asks
            # statistics once, for today (a page per 1,000 campaigns that spent), and a status read not at all.
            now = self.clock()
            window_days = self.config.thresholds.window_days
            return await read_snapshot(
                self.api,
                ad_day=self.ad_day,
                window_days=window_days,
                now=now,
                statuses=WATCHED_STATUSES,
                held_window=await self.ledger.held_window(*trailing_window(self.ad_day.today(now), window_days)),
                with_today=with_today,
            )

        return await self._reads.get("snapshot", read, fresh=fresh)

    async def health(self, *, fresh: bool = False) -> HealthReport:
        return analyze(await self.snapshot(fresh=fresh), self.config.thresholds)

    def forget_reads(self) -> None:
        """Drops cached reads, after a write changed the account."""
        self._reads.clear()

    async def find_campaign(self, query: str) -> CampaignLookup:
        """By ID, or by a part of the name (case-insensitive); one match comes with its status."""
        query = query.strip()
        campaign_id = campaign_id_in(query)
        if campaign_id is not None:
            try:
                matches = [await self.api.campaign(campaign_id)]
            except PropellerAdsError as exc:
                if exc.status == 404:
                    matches = []
                else:
                    raise
        else:
            needle = query.casefold()
            campaigns = await self._all_campaigns()
            matches = [c for c in campaigns if needle in c.name.casefold()]
            current = [c for c in matches if not c.is_archived]
            matches = sorted(current or matches, key=lambda c: (not c.is_working, c.name, c.id))
        if len(matches) != 1:
            return CampaignLookup(query, matches[:MAX_PICK_LIST], total=len(matches))
        return CampaignLookup(query, matches, await self._status_of(matches[0]), total=1)

    async def _all_campaigns(self) -> list[Campaign]:
        return await self._reads.get("campaigns", self.api.campaigns)

    async def _recent_days(self) -> list[StatisticsRow]:
        """Yesterday's and today's statistics of every campaign: one grouped call shared by all lookups."""

        async def read() -> list[StatisticsRow]:
            today = self.ad_day.today(self.clock())
            return await self.api.statistics(
                today - timedelta(days=1), today, group_by=("campaign_id", "date_time"), ad_day=self.ad_day
            )

        return await self._reads.get("recent_days", read)

    async def ledger_today(
        self, now: datetime, campaign_ids: Iterable[int] | None = None
    ) -> tuple[list[DailyRow], list[IntradaySample]]:
        """The spend ledger's rows of the baseline days up to today, and the samples it keeps."""
        today = self.ad_day.today(now)
        held = self.ledger.ledger
        rows = await held.days(today - timedelta(days=self.config.signals.baseline_days + 1), today, campaign_ids)
        samples = await held.samples(now - SAMPLES_KEPT)
        if campaign_ids is not None:
            wanted = set(campaign_ids)
            samples = [s for s in samples if s.campaign_id in wanted]
        return rows, samples

    async def _status_of(self, campaign: Campaign) -> CampaignStatusReport:
        # The window's figures come from the shared snapshot, the last two days from one shared read:
        # looking up campaigns one after another costs no statistics call per campaign.
        snap = await self.snapshot()
        rows = [r for r in await self._recent_days() if r.campaign_id == campaign.id]
        now = self.clock()
        today = self.ad_day.today(now)

        def on(day: date) -> CampaignStats:
            return sum_by_campaign([r for r in rows if r.day == day]).get(campaign.id) or CampaignStats(
                campaign_id=campaign.id
            )

        # Pacing from today's live figures and the curve the checks sampled into the spend ledger.
        live = on(today)
        _, samples = await self.ledger_today(now, [campaign.id])
        row = DailyRow(
            campaign.id, today, live.spent, conversions=live.conversions, daily_budget=campaign.daily_budget,
            status=campaign.status, name=campaign.name,
        )
        return CampaignStatusReport(
            campaign=campaign,
            today_pacing=campaign_pacing(now, self.ad_day, campaign.id, row, samples),
            today=on(today),
            yesterday=on(today - timedelta(days=1)),
            window=snap.stats.get(campaign.id) or CampaignStats(campaign_id=campaign.id),
            window_days=snap.window_days,
            day_elapsed=self.ad_day.share_gone(now),
            day_label=self.ad_day.label,
        )
