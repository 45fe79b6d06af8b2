"""The backtest's speed: 30 days × 1,000 campaigns × 10 rules replayed from the spend ledger."""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from bench.common import Section, ms
from core.backtest import first_needed, replay
from core.ledger_types import DailyRow
from core.policy import Guardrails, Rule
from core.rules import ConditionRule
from core.store import Store

SIZES = (100, 1_000)
DAYS = 30
RUNS = 5
SEED = 7
LAST_DAY = date(2024, 3, 31)
LIMIT = Decimal("2")
"""The issue's bound, in seconds, for 30 days × 1,000 campaigns × 10 rules."""

METHOD = f"""\
A spend ledger is seeded (seed {SEED}): every campaign working with a daily budget of 20 to 200, spending 0 to
100% of it each day with random impressions, clicks and conversions, over the {DAYS} days replayed plus the
longest window before them. Ten rules replay it: the CPA rule (target 10 over 7 days) and nine condition rules
over `today`, `yesterday`, `3 days`, `7 days` and `14 days` (pause without conversions, decrease on a high CPA
and a low CTR, increase on a full budget and a good conversion rate). The replay is the pure core function
(`core.backtest.replay`) on the rows the ledger returns, the median of {RUNS} runs; the read of those rows from
the ledger (SQLite) is timed on its own."""


def rules() -> list[Rule | ConditionRule]:
    found: list[Rule | ConditionRule] = [Rule(name="cpa", target_cpa=Decimal(10), window_days=7)]
    windows = ["today", "yesterday", "3 days", "7 days", "14 days"]
    for i in range(9):
        kind = i % 3
        conditions = [
            [{"metric": "spent", "op": ">=", "value": 50 + 10 * i}, {"metric": "conversions", "op": "==", "value": 0}],
            [{"metric": "cpa", "op": ">", "value": 12}, {"metric": "ctr", "op": "<", "value": 1}],
            [{"metric": "budget_use", "op": ">=", "value": 80}, {"metric": "cr", "op": ">", "value": 1}],
        ][kind]
        found.append(ConditionRule.model_validate({
            "name": f"rule {i + 1}", "window": windows[i % len(windows)], "conditions": conditions,
            "action": ["pause", "decrease", "increase"][kind], **({"percent": 20} if kind else {}),
        }))
    return found


def ledger_rows(campaigns: int, first: date, last: date) -> list[DailyRow]:
    rng = random.Random(SEED)
    rows = []
    for campaign_id in range(1, campaigns + 1):
        budget = Decimal(rng.choice([20, 50, 100, 200]))
        day = first
        while day <= last:
            spent = (budget * rng.randint(0, 100) / 100).quantize(Decimal("0.01"))
            impressions = rng.randint(0, 20_000)
            clicks = impressions * rng.randint(0, 30) // 1000
            rows.append(DailyRow(campaign_id, day, spent, impressions, clicks, rng.randint(0, 12), budget, 6, f"Campaign {campaign_id}"))
            day += timedelta(days=1)
    return rows


async def _through_the_ledger(rows: list[DailyRow], first: date, last: date) -> tuple[list[DailyRow], float]:
    with tempfile.TemporaryDirectory() as folder:
        store = Store.connect(f"sqlite+aiosqlite:///{folder}/bench.db")
        try:
            await store.migrate()
            await store.ledger.upsert_days(rows, datetime.now(timezone.utc), seen=True)
            await store.ledger.cover(first, last)
            began = time.perf_counter()
            read = await store.ledger.days(first, last)
            return read, time.perf_counter() - began
        finally:
            await store.close()


def run() -> Section:
    started = time.perf_counter()
    replayed = rules()
    first_day = LAST_DAY - timedelta(days=DAYS - 1)
    earliest = first_needed(replayed, first_day)
    table: list[list[str]] = []
    notes: list[str] = []
    for size in SIZES:
        rows, read_time = asyncio.run(_through_the_ledger(ledger_rows(size, earliest, LAST_DAY), earliest, LAST_DAY))
        times = []
        for _ in range(RUNS):
            began = time.perf_counter()
            result = replay(replayed, rows, first_day, LAST_DAY, Guardrails(), held=(earliest, LAST_DAY))
            times.append(time.perf_counter() - began)
        median = statistics.median(times)
        verdict = "" if size != 1_000 else (" (limit 2 s: met)" if median < float(LIMIT) else " (limit 2 s: MISSED)")
        table.append([
            f"{size:,}", str(DAYS), str(len(replayed)), f"{size * DAYS * len(replayed):,}", f"{len(rows):,}",
            f"{len(result.rows):,}", ms(median) + verdict, ms(max(times)), ms(read_time),
        ])
    notes.append(
        "Windows are summed from prefix sums per campaign, so a 14-day window costs what a 1-day one does; "
        "the time goes to judging each campaign on each morning, and to trimming each verdict that holds by the guardrails."
    )
    return Section(
        title=f"Backtest: {DAYS} days × campaigns × {len(replayed)} rules",
        columns=["campaigns", "days", "rules", "judgements", "ledger rows", "actions found", "replay (median)",
                 "replay (slowest)", "ledger read (SQLite)"],
        rows=table,
        notes=notes,
        method=METHOD,
        seconds=time.perf_counter() - started,
    )
