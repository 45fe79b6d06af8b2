"""From a campaign that stops spending to its STOPPED_SPENDING alert in Slack, with the bot's checks at its interval."""

from __future__ import annotations

import asyncio
import json
import secrets
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

from bench.common import API_TOKEN, Section, ms
from bot.runtime import Runtime
from bot.scheduler import CHECK
from bot.settings import Settings
from core.adday import AdDay
from core.signals import SignalThresholds
from sandbox.adplatform import DEFAULT_RATE_LIMITS, Account, Campaign, ManualClock, SandboxConfig, SpendProfile, start_sandbox
from sandbox.slack import start_standin

SIZES = (10, 1_000)
EST = AdDay.parse("-05:00")
DAY = date(2026, 11, 2)
START = EST.start(DAY)
INTERVAL = 15
"""Minutes between checks: the default `check_interval_minutes`."""
FIRST_CHECK_HOUR, STOP_HOUR, LAST_HOUR = 6, 10, 14
STOP_OFFSETS = (0, 5, 10)
"""Minutes after a check that each stopped campaign stops: a stop rarely falls on a check."""
CHANNEL, APPROVER = "C0BENCH01", "U0BENCH01"
THRESHOLD = SignalThresholds().stopped_spending_hours

METHOD = f"""\
The sandbox (statistics limit lifted: the calls a check costs are in the tables above) and the Slack stand-in
serve over HTTP on 127.0.0.1; the bot is the real `Runtime` of `budget-bot serve` on a SQLite store, with the
default signals and its check every {INTERVAL} minutes, on a clock the benchmark moves and the sandbox spends by.
Each campaign spends evenly through the ad day (240 a day against a daily budget of 300). The backfill runs
first; then the scheduled check is fired at every {INTERVAL}-minute slot from {FIRST_CHECK_HOUR}:00 to
{LAST_HOUR}:00 of the ad day (EST). At {STOP_HOUR}:00 three campaigns are switched to `stop_spending` over the
sandbox's admin route, {", ".join(str(m) for m in STOP_OFFSETS)} minutes after a check. For each, the clock
delay runs from its stop to the check whose STOPPED_SPENDING alert reached the stand-in's channel; the signal
waits for {THRESHOLD} hours without spend, so the part the bot adds is that delay less {THRESHOLD} hours:
how long after the threshold the next check notices it (at most one interval, as the spend last moved at the
first check after the stop). The wall time is the real time of that check, from the job's start to
its alert recorded by the stand-in (read, ledger writes, signals, the Slack post)."""


def account(size: int) -> Account:
    campaigns = [Campaign(id=i, name=f"C{i}", limit_daily_amount=Decimal(300)) for i in range(1, size + 1)]
    book = Account(balance=f"{size * 3000}.00", campaigns=campaigns, balance_since=START - timedelta(days=40))
    for i in range(1, size + 1):
        book.simulate(i, SpendProfile(demand=Decimal(240), cpa=Decimal(10)))
    return book


def _alerted(messages: list, key: str) -> bool:
    return any(key in json.dumps(m.blocks) for m in messages if not m.ephemeral)


async def _run(size: int, folder: Path) -> list[tuple[int, timedelta, float]]:
    clock = ManualClock(START + timedelta(hours=FIRST_CHECK_HOUR))
    limits = SandboxConfig(rate_limits={name: None for name in DEFAULT_RATE_LIMITS})
    ads = start_sandbox(account(size), token=API_TOKEN, config=limits, clock=clock)
    secret, bot_token = secrets.token_hex(16), "xoxb-bench-" + secrets.token_hex(8)
    slack_server, slack = start_standin(bot_url=None, signing_secret=secret, bot_token=bot_token, channel_id=CHANNEL)
    settings = Settings(
        propellerads_api_token=API_TOKEN,
        propellerads_base_url=ads.url + "/v5",
        propellerads_timezone="-05:00",
        slack_bot_token=bot_token,
        slack_signing_secret=secret,
        slack_api_url=slack_server.url + "/api/",
        channel=CHANNEL,
        approvers=[APPROVER],
        database_url=f"sqlite+aiosqlite:///{folder / f'stop-{size}.db'}",
        check_interval_minutes=INTERVAL,
        snapshot_ttl_seconds=0,
        rules=[],
    )
    runtime = Runtime.build(settings, clock=clock)
    stopped = {i + 1: offset for i, offset in enumerate(STOP_OFFSETS)}
    stop_at: dict[int, datetime] = {}
    found: dict[int, tuple[timedelta, float]] = {}
    try:
        await runtime.store.migrate()
        await runtime.service.backfill_ledger()
        async with httpx.AsyncClient(base_url=ads.url) as admin:
            while clock() <= START + timedelta(hours=LAST_HOUR) and len(found) < len(stopped):
                slot = clock()
                for campaign_id, offset in stopped.items():
                    at = START + timedelta(hours=STOP_HOUR, minutes=offset)
                    if slot <= at < slot + timedelta(minutes=INTERVAL) and campaign_id not in stop_at:
                        clock.set(at)
                        answer = await admin.post(
                            "/_sandbox/scenarios", json={"scenario": "stop_spending", "campaign_ids": [campaign_id]}
                        )
                        answer.raise_for_status()
                        stop_at[campaign_id] = at
                clock.set(slot)
                began = time.perf_counter()
                await runtime.jobs.fire(CHECK, slot)
                took = time.perf_counter() - began
                messages = slack.messages()
                for campaign_id in stop_at:
                    if campaign_id not in found and _alerted(messages, f"signal:STOPPED_SPENDING:{campaign_id}"):
                        found[campaign_id] = (slot - stop_at[campaign_id], took)
                clock.set(slot + timedelta(minutes=INTERVAL))
    finally:
        await runtime.stop()
        slack_server.stop()
        ads.stop()
    missing = set(stopped) - set(found)
    if missing:
        raise RuntimeError(f"no STOPPED_SPENDING alert for campaigns {sorted(missing)} by {LAST_HOUR}:00")
    return [(stopped[c], *found[c]) for c in sorted(found)]


def _clock(delay: timedelta) -> str:
    minutes = int(delay.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def run() -> Section:
    started = time.perf_counter()
    rows: list[list[str]] = []
    notes: list[str] = []
    threshold = timedelta(hours=float(THRESHOLD))
    for size in SIZES:
        with tempfile.TemporaryDirectory() as folder:
            results = asyncio.run(_run(size, Path(folder)))
        for offset, delay, took in results:
            rows.append([f"{size:,}", f"{offset} min after a check", _clock(delay), _clock(delay - threshold), ms(took)])
        worst = max(delay - threshold for _, delay, _ in results)
        notes.append(
            f"At {size:,} campaigns: every stop was told by the first check {THRESHOLD} h after the spend last moved; "
            f"at most {_clock(worst)} past the threshold (the interval is {INTERVAL} min)."
        )
    return Section(
        title=f"Stop to alert: STOPPED_SPENDING with a check every {INTERVAL} minutes",
        columns=["campaigns", "stopped", "stop to alert (bot's clock)", "of it past the threshold", "wall time of the check"],
        rows=rows,
        notes=notes,
        method=METHOD,
        seconds=time.perf_counter() - started,
    )
