"""Charts: how long each takes to draw at 14 ad days × 10 campaigns, and the idle bot's memory without matplotlib."""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from bench.common import API_TOKEN, Section, mib, ms, percentile
from bench.scale import IDLE_GAP, IDLE_SAMPLES, idle_bot, sandbox_process
from bot.charts import Chart, account_chart, campaign_chart, pacing_chart
from core.adday import AdDay
from core.ledger_types import DailyRow, IntradaySample
from core.propellerads import PropellerAdsClient
from core.service import BudgetService, ServiceConfig
from core.store import Store

DAYS, CAMPAIGNS, RENDERS = 14, 10, 30
CHECKS_TODAY = 48
"""Samples of today so far: a check every 15 minutes for the first 12 hours of the ad day."""
EST = AdDay.parse("-05:00")
P50_TARGET = 0.300
RSS_TARGET = 107 * 2**20
CURRENCY = "USD"

METHOD = f"""\
A SQLite spend ledger is filled with {DAYS} whole ad days of {CAMPAIGNS} campaigns (daily budgets 50 to 500, spend
and conversions varying by day) and {CHECKS_TODAY} intraday samples of each campaign today; the bot's service
reads what each chart needs from it (as the jobs do), then each chart is drawn {RENDERS} times in this process
(matplotlib's Agg canvas, 1000 × 625 px PNG). The first draw of the run, which imports matplotlib, is counted
apart; p50 and p95 are over the {RENDERS} draws after it. The issue's target: p50 under {P50_TARGET * 1000:.0f} ms.

The idle bot is a real `budget-bot serve` process, schedule on, SQLite store, as in the scale benchmark: VmRSS
sampled {IDLE_SAMPLES} times {IDLE_GAP:g} s apart after /healthz answers, and /proc/<pid>/maps read for any of
matplotlib's compiled modules (loaded only when a chart is drawn). The issue's target: at most
{RSS_TARGET / 2**20:.0f} MiB."""


async def _read(folder: Path) -> tuple[object, object, object, float]:
    """The three charts' data, read from a filled ledger through the service; and how long the reads took."""
    store = Store.connect(f"sqlite+aiosqlite:///{folder / 'charts.db'}")
    await store.migrate()
    now = EST.start(datetime.now(timezone.utc).date()) + timedelta(hours=12)
    today = EST.today(now)
    rows, samples = [], []
    for campaign in range(1, CAMPAIGNS + 1):
        budget = Decimal(50 * campaign)
        for back in range(1, DAYS + 1):
            spent = budget * Decimal(60 + (campaign * back) % 40) / 100
            rows.append(DailyRow(campaign, today - timedelta(days=back), spent, conversions=(campaign + back) % 9,
                                 daily_budget=budget, status=6, name=f"Campaign {campaign:02d} US"))
        rows.append(DailyRow(campaign, today, Decimal(0), daily_budget=budget, status=6, name=f"Campaign {campaign:02d} US"))
        for check in range(1, CHECKS_TODAY + 1):
            at = EST.start(today) + timedelta(minutes=15 * check)
            samples.append(IntradaySample(campaign, at, today, budget * check / 100, check // 8, 6))
    try:
        await store.ledger.upsert_days(rows, now, seen=True)
        await store.ledger.record_samples(samples)
        async with PropellerAdsClient(API_TOKEN, "http://127.0.0.1:9/v5") as api:  # never called: ledger reads only
            service = BudgetService(api, store, ServiceConfig(ad_day=EST), clock=lambda: now)
            began = time.perf_counter()
            account = await service.account_history()
            curves = await service.today_curves()
            campaign = await service.campaign_history(CAMPAIGNS)
            read = time.perf_counter() - began
    finally:
        await store.close()
    return account, curves, campaign, read


def _timed(draw: object, data: object) -> tuple[list[float], Chart]:
    times, chart = [], None
    for _ in range(RENDERS):
        began = time.perf_counter()
        chart = draw(data, CURRENCY)  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    assert chart is not None
    return times, chart


def run() -> Section:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        account, curves, campaign, read = asyncio.run(_read(Path(folder)))
    began = time.perf_counter()
    account_chart(account, CURRENCY)  # type: ignore[arg-type]
    first = time.perf_counter() - began
    rows = []
    for name, draw, data in (
        ("account: 14 ad days against the total daily budget", account_chart, account),
        ("pacing: today, account + top 3 campaigns", pacing_chart, curves),
        ("campaign: 14 ad days of spend and conversions", campaign_chart, campaign),
    ):
        times, chart = _timed(draw, data)
        p50 = percentile(times, 50)
        rows.append([name, ms(p50), ms(percentile(times, 95)), f"{len(chart.png) / 1024:,.0f} KiB",
                     "yes" if p50 < P50_TARGET else "NO"])
    with sandbox_process(CAMPAIGNS) as url:
        idle = idle_bot(url)
    rows.append(["idle bot resident memory (VmRSS of `budget-bot serve`)", mib(idle["rss"]), "", "",
                 "yes" if idle["rss"] <= RSS_TARGET and not idle["matplotlib"] else "NO"])
    notes = [
        f"The first draw of the run, matplotlib's import included: {ms(first)}. The ledger reads behind all three "
        f"charts took {ms(read)} together.",
        f"The idle bot: peak since start {mib(idle['hwm'])}; matplotlib "
        + ("loaded (it should not be)." if idle["matplotlib"] else "not loaded."),
    ]
    return Section(
        title=f"Charts: {DAYS} ad days × {CAMPAIGNS} campaigns, and the idle bot",
        columns=["chart", "p50", "p95", "PNG", "within target"],
        rows=rows,
        notes=notes,
        method=METHOD,
        seconds=time.perf_counter() - started,
    )
