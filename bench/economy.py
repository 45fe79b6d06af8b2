"""API economy: calls and wall time of one health check, beside the one-statistics-call-per-campaign pattern."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from bench.common import API_TOKEN, Section, SkippedTime, TimedSleep, duration
from core.health import analyze
from core.propellerads import ClientOptions, PropellerAdsClient
from core.snapshot import read_snapshot, trailing_window
from sandbox.adplatform import DEFAULT_RATE_LIMITS, SANDBOX_KEY, Account, SandboxConfig, start_sandbox
from sandbox.serving import BackgroundServer

SIZES = (10, 100, 1_000, 10_000)
SEED = 7
WINDOW_DAYS = 7
SAMPLE = 20
"""Per-campaign statistics calls actually sent per size; the rest of that pattern is computed."""
STATS_LIMIT = DEFAULT_RATE_LIMITS["statistics"]
METHOD = f"""\
For each size a fresh sandbox account is seeded (seed {SEED}; 60% of the campaigns working) and served with the
live rate limits, statistics at 2 calls a minute. One health check is what the bot does for `/budget status`
and every scheduled check: balance, the pages of working campaigns (1000 a page asked) and statistics grouped by
campaign over the last {WINDOW_DAYS} whole days, read concurrently, then the analysis. Calls are the client's own
count; wall time is real time, waits for a rate-limit window included.

The per-campaign pattern reads the balance and the campaign pages, then asks statistics once per working
campaign. Its first {SAMPLE} statistics calls go over real HTTP through the real client against the live limits,
with every rate-limit wait skipped instead of slept (the sandbox's rate clock skips with the client's). That
gives the latency of one call and how long the client waits per window; its time is then the reads, plus one
call's latency per working campaign, plus ⌈working ÷ 2⌉ − 1 windows at the measured wait. In brackets, the least
the limit itself forces: ⌈working ÷ 2⌉ − 1 minutes.
"""


@dataclass
class CheckRun:
    campaigns: int
    working: int
    calls: dict[str, int]
    wall: float
    waited: float
    refused: int
    """429 answers the sandbox gave."""


@dataclass
class PerCampaign:
    calls: int
    floor: float
    """Seconds the statistics limit forces, at the least, for one call per working campaign."""
    estimate: float
    per_call: float
    sample: int
    sample_skipped: float
    sample_floor: float
    refused: int


def _endpoint_calls(calls: dict[str, int]) -> tuple[int, int, int]:
    return (
        calls.get("GET /adv/balance", 0),
        calls.get("GET /adv/campaigns", 0),
        calls.get("GET /adv/statistics", 0) + calls.get("POST /adv/statistics", 0),
    )


def _refused(server: BackgroundServer) -> int:
    """How many answers the sandbox gave as 429."""
    return sum(1 for r in server.app[SANDBOX_KEY].requests.entries() if r.status == 429)


def limit_floor(calls: int) -> float:
    """The least time `calls` statistics calls can take under the live limit (windows open at the first call)."""
    windows = math.ceil(calls / STATS_LIMIT.limit)
    return max(0, windows - 1) * STATS_LIMIT.window


async def _health_check(url: str) -> tuple[dict[str, int], float, float, int]:
    sleeper = TimedSleep()
    async with PropellerAdsClient(API_TOKEN, url, sleep=sleeper) as api:
        started = time.perf_counter()
        snapshot = await read_snapshot(api, window_days=WINDOW_DAYS)
        analyze(snapshot)
        wall = time.perf_counter() - started
        return dict(api.calls), wall, sleeper.total, len(snapshot.campaigns)


def run_check(size: int) -> CheckRun:
    """One health check against a sandbox with the live rate limits, in real time."""
    server = start_sandbox(Account.seeded(size, SEED), token=API_TOKEN, config=SandboxConfig())
    try:
        calls, wall, waited, working = asyncio.run(_health_check(server.url + "/v5"))
        refused = _refused(server)
    finally:
        server.stop()
    return CheckRun(size, working, calls, wall, waited, refused)


async def _per_campaign(url: str, skipped: SkippedTime) -> tuple[int, int, float, float, int]:
    # The wait ceiling is lifted: this pattern waits as long as the limit says, which is the point.
    options = ClientOptions(max_rate_limit_wait=3600)
    async with PropellerAdsClient(API_TOKEN, url, options=options, sleep=skipped.sleep, clock=skipped.time) as api:
        started = time.perf_counter()
        await api.balance()
        working = [c for c in await api.campaigns(statuses=[6]) if c.is_working]
        reads = time.perf_counter() - started
        window_from, window_to = trailing_window(datetime.now(timezone.utc).date(), WINDOW_DAYS)
        sample = working[:SAMPLE]
        started = time.perf_counter()
        for campaign in sample:
            await api.statistics(window_from, window_to, campaign_ids=[campaign.id])
        per_call = (time.perf_counter() - started) / max(1, len(sample))
        return len(working), api.calls["GET /adv/campaigns"], reads, per_call, len(sample)


def run_per_campaign(size: int) -> PerCampaign:
    """The naive pattern: balance, campaign pages, then one statistics call per working campaign.

    The first SAMPLE statistics calls go over real HTTP to a sandbox with the live limits, through the
    real client, whose rate-limit waits are skipped rather than slept (the sandbox's rate clock skips
    with it). That gives the per-call latency and checks the client waits as long as the limit says;
    the whole pattern is then computed from them.
    """
    skipped = SkippedTime()
    server = start_sandbox(Account.seeded(size, SEED), token=API_TOKEN, config=SandboxConfig(rate_clock=skipped.time))
    try:
        working, pages, reads, per_call, sample = asyncio.run(_per_campaign(server.url + "/v5", skipped))
        refused = _refused(server)
    finally:
        server.stop()
    floor = limit_floor(working)
    # Each window costs what the sample shows the client really waits (the reset, plus its 1 s margin).
    sample_windows = math.ceil(sample / STATS_LIMIT.limit) - 1
    per_window = skipped.skipped / sample_windows if sample_windows else STATS_LIMIT.window
    windows = math.ceil(working / STATS_LIMIT.limit) - 1
    return PerCampaign(
        calls=1 + pages + working,
        floor=floor,
        estimate=reads + working * per_call + max(0, windows) * per_window,
        per_call=per_call,
        sample=sample,
        sample_skipped=skipped.skipped,
        sample_floor=limit_floor(sample),
        refused=refused,
    )


def run() -> Section:
    started = time.perf_counter()
    rows: list[list[str]] = []
    notes: list[str] = []
    for size in SIZES:
        check = run_check(size)
        naive = run_per_campaign(size)
        balance, pages, stats = _endpoint_calls(check.calls)
        rows.append(
            [
                f"{size:,} ({check.working:,})",
                f"{balance} + {pages} + {stats} = {balance + pages + stats}",
                duration(check.wall),
                duration(check.waited) if check.waited else "0",
                f"{naive.calls:,}",
                f"{duration(naive.estimate)} (limit: ≥ {duration(naive.floor)})" if naive.floor else duration(naive.estimate),
            ]
        )
        if stats > 1:
            notes.append(
                f"At {size:,} campaigns the grouped statistics answer spans {stats} pages of 1,000 rows; "
                f"at {STATS_LIMIT.limit} calls a minute the check waited {duration(check.waited)} for the window to reopen "
                f"({check.refused} answers were 429)."
            )
        if pages >= DEFAULT_RATE_LIMITS["campaigns"].limit:
            notes.append(
                f"At {size:,} campaigns the {pages} campaign pages use the sandbox's whole campaigns allowance "
                f"of {DEFAULT_RATE_LIMITS['campaigns'].limit} a minute."
            )
        notes.append(
            f"Per-campaign sample at {size:,}: {naive.sample} statistics calls at {naive.per_call * 1000:.1f} ms each; "
            f"the client waited {duration(naive.sample_skipped)} (skipped) where the limit forces at least "
            f"{duration(naive.sample_floor)}; {naive.refused} answers were 429."
        )
    return Section(
        title="API economy: one full health check (live limits: statistics 2 a minute)",
        columns=[
            "campaigns (working)",
            "calls: balance + pages + statistics",
            "wall time",
            "of it waiting",
            "per-campaign calls",
            "per-campaign time",
        ],
        rows=rows,
        notes=notes,
        method=METHOD,
        seconds=time.perf_counter() - started,
    )
