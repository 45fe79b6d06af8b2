"""The spend ledger's storage: daily rows and intraday samples per ad account, on SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.ledger_types import DailyRow, IntradaySample
from core.store.ledger_tables import DEFAULT_ACCOUNT, SpendCoverageRow, SpendDayRow, SpendSampleRow

SAMPLES_KEPT = timedelta(days=8)
"""Enough for same-hour baselines over the week before today."""
# Rows per statement: far under SQLite's limit of 32,766 bound values at 11 columns a row.
BATCH = 1000


@dataclass(frozen=True)
class Coverage:
    """The whole past days the ledger holds, first to last, and when the latest were last re-read."""

    first_day: date | None = None
    last_day: date | None = None
    settled_at: datetime | None = None


class SpendLedger:
    """One ad account's spend history. Every write is one short transaction; reads return ledger values."""

    def __init__(self, engine: AsyncEngine, account: str = DEFAULT_ACCOUNT) -> None:
        self.engine = engine
        self.account = account
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    def _session(self) -> AsyncSession:
        return self._sessions()

    def _insert(self, table: Any) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT."""
        return (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(table)

    # --- daily rows -------------------------------------------------------------------------------

    async def upsert_days(self, rows: Iterable[DailyRow], now: datetime, *, seen: bool = False) -> int:
        """Writes each campaign's figures for its day. With `seen` the rows carry the daily budget as seen now
        (None: no limit); without, their budget only fills in where none was seen. A status or name not
        given keeps the one known."""
        values = [
            {
                "account": self.account,
                "campaign_id": row.campaign_id,
                "day": row.day,
                "spent": row.spent,
                "impressions": row.impressions,
                "clicks": row.clicks,
                "conversions": row.conversions,
                "daily_budget": row.daily_budget,
                "status": row.status,
                "name": row.name,
                "updated_at": now,
            }
            for row in rows
        ]
        if not values:
            return 0
        async with self._session() as s, s.begin():
            insert = self._insert(SpendDayRow)
            fresh = insert.excluded
            statement = insert.on_conflict_do_update(
                index_elements=["account", "campaign_id", "day"],
                set_={
                    "spent": fresh.spent,
                    "impressions": fresh.impressions,
                    "clicks": fresh.clicks,
                    "conversions": fresh.conversions,
                    "daily_budget": fresh.daily_budget
                    if seen
                    else func.coalesce(SpendDayRow.daily_budget, fresh.daily_budget),
                    "status": func.coalesce(fresh.status, SpendDayRow.status),
                    "name": func.coalesce(func.nullif(fresh.name, ""), SpendDayRow.name),
                    "updated_at": fresh.updated_at,
                },
            )
            for start in range(0, len(values), BATCH):
                await s.execute(statement, values[start : start + BATCH])
        return len(values)

    async def days(self, first: date, last: date, campaign_ids: Iterable[int] | None = None) -> list[DailyRow]:
        """Daily rows from `first` to `last`, by campaign then day."""
        # Plain columns, not ORM objects: a backtest reads tens of thousands of rows, and tracking each as an
        # entity cost several times the query itself.
        query = select(
            SpendDayRow.campaign_id, SpendDayRow.day, SpendDayRow.spent, SpendDayRow.impressions, SpendDayRow.clicks,
            SpendDayRow.conversions, SpendDayRow.daily_budget, SpendDayRow.status, SpendDayRow.name,
        ).where(SpendDayRow.account == self.account, SpendDayRow.day >= first, SpendDayRow.day <= last)
        if campaign_ids is not None:
            query = query.where(SpendDayRow.campaign_id.in_(list(campaign_ids)))
        async with self._session() as s:
            found = (await s.execute(query.order_by(SpendDayRow.campaign_id, SpendDayRow.day))).all()
        return [DailyRow(*r) for r in found]

    # --- intraday samples -----------------------------------------------------------------------

    async def record_samples(self, samples: Sequence[IntradaySample]) -> int:
        """Keeps the samples that say something new: a campaign's first of its day, or one whose spend,
        conversions or status moved since its latest. A flat stretch is one sample, read as a step."""
        if not samples:
            return 0
        earliest_day = min(s.day for s in samples)
        async with self._session() as s, s.begin():
            latest = await self._latest_samples(s, earliest_day)
            values = []
            for sample in samples:
                before = latest.get(sample.campaign_id)
                if before is not None and before.day == sample.day and before.at >= sample.at:
                    continue
                if before is not None and (before.day, before.spent, before.conversions, before.status) == (
                    sample.day,
                    sample.spent,
                    sample.conversions,
                    sample.status,
                ):
                    continue
                values.append(
                    {
                        "account": self.account,
                        "campaign_id": sample.campaign_id,
                        "sampled_at": sample.at,
                        "day": sample.day,
                        "spent": sample.spent,
                        "conversions": sample.conversions,
                        "status": sample.status,
                    }
                )
            if values:
                statement = self._insert(SpendSampleRow).on_conflict_do_nothing(
                    index_elements=["account", "campaign_id", "sampled_at"]
                )
                for start in range(0, len(values), BATCH):
                    await s.execute(statement, values[start : start + BATCH])
        return len(values)

    async def _latest_samples(self, s: AsyncSession, since_day: date) -> dict[int, IntradaySample]:
        newest = (
            select(SpendSampleRow.campaign_id, func.max(SpendSampleRow.sampled_at).label("at"))
            .where(SpendSampleRow.account == self.account, SpendSampleRow.day >= since_day)
            .group_by(SpendSampleRow.campaign_id)
            .subquery()
        )
        query = select(SpendSampleRow).join(
            newest,
            and_(
                SpendSampleRow.account == self.account,
                SpendSampleRow.campaign_id == newest.c.campaign_id,
                SpendSampleRow.sampled_at == newest.c.at,
            ),
        )
        return {row.campaign_id: _sample(row) for row in (await s.scalars(query)).all()}

    async def samples(
        self, since: datetime, until: datetime | None = None, campaign_ids: Iterable[int] | None = None
    ) -> list[IntradaySample]:
        """Samples taken from `since` (to `until`), oldest first."""
        query = select(SpendSampleRow).where(SpendSampleRow.account == self.account, SpendSampleRow.sampled_at >= since)
        if until is not None:
            query = query.where(SpendSampleRow.sampled_at <= until)
        if campaign_ids is not None:
            query = query.where(SpendSampleRow.campaign_id.in_(list(campaign_ids)))
        async with self._session() as s:
            found = (await s.scalars(query.order_by(SpendSampleRow.sampled_at, SpendSampleRow.campaign_id))).all()
        return [_sample(row) for row in found]

    async def prune(self, now: datetime, keep: timedelta = SAMPLES_KEPT) -> int:
        """Drops samples older than `keep`; daily rows stay."""
        async with self._session() as s, s.begin():
            done = await s.execute(
                delete(SpendSampleRow).where(
                    SpendSampleRow.account == self.account, SpendSampleRow.sampled_at < now - keep
                )
            )
        return int(getattr(done, "rowcount", 0) or 0)

    # --- which days are held ----------------------------------------------------------------------

    async def coverage(self) -> Coverage:
        async with self._session() as s:
            row = await s.get(SpendCoverageRow, self.account)
        if row is None:
            return Coverage()
        return Coverage(row.first_day, row.last_day, row.settled_at)

    async def cover(self, first: date, last: date, *, settled_at: datetime | None = None) -> Coverage:
        """Records that whole days `first`..`last` were read; joined to what was held when they touch it."""
        async with self._session() as s, s.begin():
            row = await s.get(SpendCoverageRow, self.account, with_for_update=True)
            if row is None:
                row = SpendCoverageRow(account=self.account)
                s.add(row)
            held = Coverage(row.first_day, row.last_day, row.settled_at)
            if held.first_day is None or held.last_day is None or not _touch(held, first, last):
                # A range apart from what is held (the bot was off for days) starts the coverage anew: the
                # days before it will be read again, which costs a few calls and leaves no hole unseen.
                row.first_day, row.last_day = first, last
            else:
                row.first_day, row.last_day = min(held.first_day, first), max(held.last_day, last)
            if settled_at is not None:
                row.settled_at = settled_at
            return Coverage(row.first_day, row.last_day, row.settled_at)


def _touch(held: Coverage, first: date, last: date) -> bool:
    assert held.first_day is not None and held.last_day is not None
    return first <= held.last_day + timedelta(days=1) and last >= held.first_day - timedelta(days=1)


def _sample(row: SpendSampleRow) -> IntradaySample:
    return IntradaySample(
        campaign_id=row.campaign_id,
        at=row.sampled_at,
        day=row.day,
        spent=row.spent,
        conversions=row.conversions,
        status=row.status,
    )
