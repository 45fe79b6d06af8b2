"""Scale: analysis time and peak memory at 10,000 working campaigns, and the idle bot's resident memory."""

from __future__ import annotations

import asyncio
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import API_TOKEN, Section, median, mib, ms, proc_status, sandbox_child
from bench.responsiveness import running_bot
from core.health import AccountSnapshot, analyze
from core.propellerads import PropellerAdsClient
from core.snapshot import read_snapshot

WORKING = 10_000
ACCOUNT = 16_667
"""A seeded account is 60% working campaigns: 16,667 of them give 10,000 working."""
SEED = 7
REPEATS = 5
IDLE_SAMPLES = 5
IDLE_GAP = 0.5
"""Seconds between samples of the idle bot's resident memory."""

METHOD = f"""\
The sandbox serves a seeded account of {ACCOUNT:,} campaigns ({WORKING:,} working) from a separate process,
with the rate limits lifted: this measures what the bot itself spends, the waits are in the API economy table.
The bot's client reads a snapshot over HTTP; `analyze` (the pure health analysis) is then timed {REPEATS} times and
the median kept. Memory is measured apart, under tracemalloc (which slows the code): the peak while reading
and analysing, the snapshot still held afterwards (the service caches it between reads), and the peak of one
more analysis on top of it. The idle bot is a real `budget-bot serve` process, schedule on, SQLite store: its
VmRSS from /proc/<pid>/status, sampled {IDLE_SAMPLES} times {IDLE_GAP:g} s apart once /healthz answers.
"""

SANDBOX_CHILD = """
import sys
from sandbox.adplatform import SandboxConfig, serve
port, token, campaigns, seed = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
# Limits lifted: this measures the bot's own cost; the waits the limits force are in the API economy table.
serve(port=port, token=token, campaigns=campaigns, seed=seed,
      config=SandboxConfig(rate_limits={"statistics": None, "campaigns": None}))
"""


@contextmanager
def sandbox_process(campaigns: int) -> Iterator[str]:
    """The sandbox in a child process, so tracemalloc here sees the bot's allocations and nothing of the server's."""
    with sandbox_child(SANDBOX_CHILD, API_TOKEN, str(campaigns), str(SEED), timeout=120) as (_, url):
        yield url


async def _read(url: str) -> AccountSnapshot:
    async with PropellerAdsClient(API_TOKEN, url) as api:
        return await read_snapshot(api)


def _analysis(url: str) -> dict[str, float]:
    # Timings first, without tracemalloc, which slows allocation-heavy code several times over.
    started = time.perf_counter()
    snapshot = asyncio.run(_read(url))
    read_time = time.perf_counter() - started
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        analyze(snapshot)
        times.append(time.perf_counter() - started)
    working = len(snapshot.campaigns)
    del snapshot

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        snapshot = asyncio.run(_read(url))
        analyze(snapshot)
        check_peak = tracemalloc.get_traced_memory()[1] - base
        held = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        analyze(snapshot)
        analysis_peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return {
        "working": working,
        "read": read_time,
        "analysis": median(times),
        "analysis_peak": analysis_peak,
        "check_peak": check_peak,
        "held": held,
    }


def idle_bot(api_url: str) -> dict[str, float]:
    """`budget-bot serve` with its schedule on, as deployed, sampled while nobody talks to it; `matplotlib` is 1
    when any of matplotlib's compiled modules is mapped into it (plotting loaded)."""
    with tempfile.TemporaryDirectory(prefix="budget-bot-bench-") as tmp:
        # Nothing is asked of Slack while idle; the address only has to be well formed.
        with running_bot(api_url, "http://127.0.0.1:9/api/", Path(tmp), schedule=True) as bot:
            samples = []
            for _ in range(IDLE_SAMPLES):
                time.sleep(IDLE_GAP)  # idleness is what is measured here
                samples.append(proc_status(bot.process.pid))
            maps = Path(f"/proc/{bot.process.pid}/maps").read_text(encoding="utf-8", errors="replace")
    return {
        "rss": samples[-1]["VmRSS"],
        "rss_max": max(s["VmRSS"] for s in samples),
        "hwm": max(s["VmHWM"] for s in samples),
        "matplotlib": float("matplotlib" in maps),
    }


def run() -> Section:
    started = time.perf_counter()
    with sandbox_process(ACCOUNT) as url:
        found = _analysis(url)
        idle = idle_bot(url)
    rows = [
        [f"analysis of {found['working']:,.0f} working campaigns (`analyze`, median of {REPEATS})", ms(found["analysis"])],
        ["analysis peak memory (tracemalloc)", mib(found["analysis_peak"])],
        ["full check: read over HTTP + analysis, limits lifted", ms(found["read"] + found["analysis"])],
        ["full check peak memory, bot side (tracemalloc)", mib(found["check_peak"])],
        ["snapshot held in memory (cached between checks)", mib(found["held"])],
        ["idle bot resident memory (VmRSS of `budget-bot serve`)", mib(idle["rss"])],
    ]
    notes = [
        f"A seeded sandbox account of {ACCOUNT:,} campaigns, {found['working']:,.0f} of them working, served from a "
        "separate process so tracemalloc counts the bot's allocations only.",
        f"The idle bot is `budget-bot serve` with its schedule on and the SQLite store, sampled {IDLE_SAMPLES} times "
        f"{IDLE_GAP:g} s apart after /healthz first answered (highest sample {mib(idle['rss_max'])}, "
        f"peak since start {mib(idle['hwm'])}).",
    ]
    return Section(
        title="Scale: 10,000 working campaigns",
        columns=["measure", "value"],
        rows=rows,
        notes=notes,
        method=METHOD,
        seconds=time.perf_counter() - started,
    )
