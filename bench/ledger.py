"""The spend ledger's cost: calls per check as the bot runs it, and the ledger's size and write time at 10,000 campaigns."""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from bench.common import API_TOKEN, Section, SkippedTime, mib, ms
from core.adday import AdDay
from core.ledger_types import DailyRow, IntradaySample
from core.propellerads import ClientOptions, PropellerAdsClient
from core.service import BudgetService, ServiceConfig
from core.store import Store
from sandbox.adplatform import Account, SandboxConfig, start_sandbox

SIZES = (10, 100, 1_000, 10_000)
SEED = 7
EST = AdDay.parse("-05:00")
CHECKS_A_DAY = 96
"""A check every 15 minutes."""
WRITE_SIZE = 10_000

METHOD = f"""\
For each size a fresh sandbox account is seeded (seed {SEED}) and served with the live rate limits; the bot's
service runs on a fresh SQLite store as the bot does: a health check (which also re-reads the two settling days),
the background backfill of the 30 days before, then a check a quarter of an hour later, as every other check of
the day is. Calls are the client's own count (rate-limit waits skipped, not slept). The issue's floor is
1 + ⌈campaigns ÷ 1,000⌉ + ⌈spending campaigns ÷ 1,000⌉ (spending: campaigns with a statistics row today). Once
the ledger holds the window's whole days, a check asks statistics only for today: the window comes from the
ledger. The first check, with nothing held yet, asks the window too.

The ledger's writes at {WRITE_SIZE:,} campaigns: what a check writes (one day row and one intraday sample per
campaign that moved) into SQLite, {CHECKS_A_DAY} times for a day, every campaign's spend moving each time; size is
the database file's growth over that day."""


async def _checks(url: str, db_url: str, skipped: SkippedTime) -> tuple[dict[str, int], dict[str, int], dict[str, int], int]:
    """The first check, the backfill that follows it, and a check a quarter of an hour later: each one's calls."""
    store = Store.connect(db_url)
    await store.migrate()
    now = datetime.now(timezone.utc)
    current = [now]

    def clock() -> datetime:
        return current[0]

    options = ClientOptions(max_rate_limit_wait=3600)
    try:
        async with PropellerAdsClient(API_TOKEN, url, options=options, sleep=skipped.sleep, clock=skipped.time) as api:
            service = BudgetService(api, store, ServiceConfig(ad_day=EST), clock=clock)

            async def counted(step: Callable[[], Awaitable[object]]) -> dict[str, int]:
                before = dict(api.calls)
                await step()
                return {k: v - before.get(k, 0) for k, v in api.calls.items()}

            first = await counted(service.run_check)
            backfill = await counted(service.backfill_ledger)
            current[0] = now + timedelta(minutes=15)
            later = await counted(service.run_check)
            return first, backfill, later, len((await service.snapshot()).today or [])
    finally:
        await store.close()


def _calls(size: int) -> tuple[dict[str, int], dict[str, int], dict[str, int], int]:
    skipped = SkippedTime()
    server = start_sandbox(Account.seeded(size, SEED), token=API_TOKEN, config=SandboxConfig(rate_clock=skipped.time))
    try:
        with tempfile.TemporaryDirectory() as folder:
            return asyncio.run(_checks(server.url + "/v5", f"sqlite+aiosqlite:///{folder}/bench.db", skipped))
    finally:
        server.stop()


def _split(calls: dict[str, int]) -> str:
    balance = sum(v for k, v in calls.items() if k.endswith("/adv/balance"))
    pages = sum(v for k, v in calls.items() if k.endswith("/adv/campaigns"))
    stats = sum(v for k, v in calls.items() if "statistics" in k)
    return f"{balance} + {pages} + {stats} = {balance + pages + stats}"


async def _writes(folder: Path) -> tuple[float, float, int, int]:
    path = folder / "ledger.db"
    store = Store.connect(f"sqlite+aiosqlite:///{path}")
    await store.migrate()
    ledger = store.ledger
    start = EST.start(datetime.now(timezone.utc).date())
    day = EST.today(start)
    empty = path.stat().st_size
    times: list[float] = []
    try:
        for check in range(1, CHECKS_A_DAY + 1):
            at = start + timedelta(minutes=15 * check)
            rows = [
                DailyRow(i, day, spent=Decimal(check) * Decimal("0.25"), daily_budget=Decimal(100), status=6)
                for i in range(1, WRITE_SIZE + 1)
            ]
            began = time.perf_counter()
            await ledger.upsert_days(rows, at, seen=True)
            await ledger.record_samples([IntradaySample(r.campaign_id, at, day, r.spent, 0, 6) for r in rows])
            times.append(time.perf_counter() - began)
        samples = len(await ledger.samples(start))
    finally:
        await store.close()
    return times[0], sorted(times)[len(times) // 2], path.stat().st_size - empty, samples


def run() -> Section:
    started = time.perf_counter()
    rows: list[list[str]] = []
    for size in SIZES:
        first, backfill, steady, spending = _calls(size)
        floor = 1 + math.ceil(size / 1000) + math.ceil(spending / 1000)
        stats = sum(v for k, v in backfill.items() if "statistics" in k)
        rows.append([f"{size:,}", _split(first), str(stats), _split(steady), str(floor)])
    with tempfile.TemporaryDirectory() as folder:
        first_write, median_write, grown, samples = asyncio.run(_writes(Path(folder)))
    notes = [
        f"Ledger writes of one check at {WRITE_SIZE:,} campaigns (SQLite): {ms(first_write)} the first of the day, "
        f"{ms(median_write)} the median of {CHECKS_A_DAY}.",
        f"A day of it ({CHECKS_A_DAY} checks, every campaign moving each time: {samples:,} intraday samples and "
        f"{WRITE_SIZE:,} day rows) grows the database by {mib(grown)}; samples are kept 8 days.",
    ]
    return Section(
        title="Spend ledger: calls per check, and writes at 10,000 campaigns",
        columns=[
            "campaigns", "first check: balance + pages + statistics", "backfill (30 days): statistics", "later checks",
            "floor (issue)",
        ],
        rows=rows,
        notes=notes,
        method=METHOD,
        seconds=time.perf_counter() - started,
    )

