"""Keeps the spend ledger current within the statistics limit: today on every check, the last days hourly
while late conversions settle, and the 30 days before a chunk at a time; and gives back the whole days it holds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from core.adday import AdDay
from core.ledger_types import DailyRow, IntradaySample
from core.models import Campaign, StatisticsRow, stored_name
from core.propellerads import MAX_TZ_SPAN_DAYS, PropellerAdsClient
from core.store.ledger import Coverage, SpendLedger

BACKFILL_DAYS = 30
SETTLE_DAYS = 2
"""Conversions arrive hours or a day late (postbacks): yesterday and the day before still move."""
SETTLE_EVERY = timedelta(hours=1)


class LedgerSync:
    """Reads PropellerAds into one account's spend ledger. Each method is a few statistics calls at most,
    so a caller can run the backfill in the background without ever holding a check up."""

    def __init__(
        self,
        api: PropellerAdsClient,
        ledger: SpendLedger,
        ad_day: AdDay,
        *,
        backfill_days: int = BACKFILL_DAYS,
        settle_days: int = SETTLE_DAYS,
        settle_every: timedelta = SETTLE_EVERY,
    ) -> None:
        self.api = api
        self.ledger = ledger
        self.ad_day = ad_day
        self.backfill_days = backfill_days
        self.settle_days = settle_days
        self.settle_every = settle_every

    async def read_today(
        self, now: datetime, campaigns: Iterable[Campaign] = (), stats: Sequence[StatisticsRow] | None = None
    ) -> list[DailyRow]:
        """Today so far, in one grouped statistics call: each campaign's row, and a sample of its spend.

        `campaigns` (as the check read them) give the daily budget and status seen, and a row even to those
        that spent nothing today. `stats`: today's rows as read at `now` with the check's snapshot, so today
        is not asked twice.
        """
        day = self.ad_day.today(now)
        if stats is None:
            stats = await self.api.statistics(day, day, group_by=("campaign_id",), ad_day=self.ad_day)
        seen, others = today_rows(day, stats, campaigns)
        await self.ledger.upsert_days(seen, now, seen=True)
        await self.ledger.upsert_days(others, now)
        rows = sorted(seen + others, key=lambda r: r.campaign_id)
        await self.ledger.record_samples(
            [IntradaySample(r.campaign_id, now, day, r.spent, r.conversions, r.status) for r in rows]
        )
        await self.ledger.prune(now)
        return rows

    async def held_window(self, first: date, last: date) -> list[StatisticsRow] | None:
        """The whole days `first`..`last` as grouped statistics rows, when the ledger holds every one of them
        (None: some are missing, ask PropellerAds). A check then asks only today."""
        held = await self.ledger.coverage()
        if held.first_day is None or held.last_day is None or held.first_day > first or held.last_day < last:
            return None
        return [
            StatisticsRow(
                campaign_id=r.campaign_id, campaign_name=r.name or None, day=r.day, spent=r.spent,
                impressions=r.impressions, clicks=r.clicks, conversions=r.conversions,
            )
            for r in await self.ledger.days(first, last)
            # The ledger keeps a zero row for each campaign a check saw; the API leaves those out.
            if r.spent or r.impressions or r.clicks or r.conversions
        ]

    async def settle(self, now: datetime) -> bool:
        """Re-reads the last few whole days, when `settle_every` has passed since the last time or a new day
        began (yesterday is then whole, and the window of whole days can come from the ledger again)."""
        coverage = await self.ledger.coverage()
        today = self.ad_day.today(now)
        new_day = coverage.last_day is not None and coverage.last_day < today - timedelta(days=1)
        if coverage.settled_at is not None and now - coverage.settled_at < self.settle_every and not new_day:
            return False
        first, last = today - timedelta(days=self.settle_days), today - timedelta(days=1)
        await self._read_days(first, last, now)
        await self.ledger.cover(first, last, settled_at=now)
        return True

    async def backfill(self, now: datetime, *, max_chunks: int | None = None) -> int:
        """Reads the whole days of the last `backfill_days` the ledger lacks, one statistics query a chunk;
        how many chunks it read (0: nothing was missing)."""
        read = 0
        while max_chunks is None or read < max_chunks:
            chunk = self.next_chunk(self.ad_day.today(now), await self.ledger.coverage())
            if chunk is None:
                break
            await self._read_days(*chunk, now)
            await self.ledger.cover(*chunk)
            read += 1
        return read

    def next_chunk(self, today: date, held: Coverage) -> tuple[date, date] | None:
        """The next days to read: the newest first when nothing is held, then forward to yesterday, then back.

        A chunk spans at most what one query with `tz` may (day_to 7 days after day_from).
        """
        span = timedelta(days=MAX_TZ_SPAN_DAYS)
        wanted_first, yesterday = today - timedelta(days=self.backfill_days), today - timedelta(days=1)
        if held.first_day is None or held.last_day is None:
            return max(wanted_first, yesterday - span), yesterday
        if held.last_day < yesterday:
            start = max(held.last_day + timedelta(days=1), wanted_first)
            return start, min(start + span, yesterday)
        if held.first_day > wanted_first:
            end = held.first_day - timedelta(days=1)
            return max(wanted_first, end - span), end
        return None

    async def _read_days(self, first: date, last: date, now: datetime) -> None:
        stats = await self.api.statistics(first, last, group_by=("campaign_id", "date_time"), ad_day=self.ad_day)
        await self.ledger.upsert_days([_row(r, r.day) for r in stats if r.campaign_id is not None and r.day], now)


def today_rows(day: date, stats: Iterable[StatisticsRow], campaigns: Iterable[Campaign]) -> tuple[list[DailyRow], list[DailyRow]]:
    """Today's rows: of the campaigns read (figures, and the daily budget and status seen), and of the others
    that spent (figures only)."""
    figures = {stat.campaign_id: _row(stat, day) for stat in stats if stat.campaign_id is not None}
    seen = []
    for campaign in campaigns:
        known = figures.pop(campaign.id, None) or DailyRow(campaign.id, day, spent=Decimal(0))
        seen.append(
            replace(known, daily_budget=campaign.daily_budget, status=campaign.status, name=stored_name(campaign.name) or known.name)
        )
    return seen, list(figures.values())


def _row(stat: StatisticsRow, day: date) -> DailyRow:
    assert stat.campaign_id is not None
    return DailyRow(
        campaign_id=stat.campaign_id,
        day=day,
        spent=stat.spent,
        impressions=stat.impressions,
        clicks=stat.clicks,
        conversions=stat.conversions,
        # Statistics say 0 for a campaign without a daily limit.
        daily_budget=stat.daily_amount or None,
        name=stored_name(stat.campaign_name or ""),
    )
