"""`budget-bot demo`: the sandbox ad platform, a Slack stand-in in the browser and the real bot, wired together."""

from __future__ import annotations

import asyncio
import math
import secrets
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from bot.runtime import Runtime
from bot.scheduler import CHECK
from bot.server import build_web_app
from bot.settings import Settings
from core.adday import DEFAULT_AD_TIMEZONE, AdDay
from core.policy import Rule



DEMO_CHANNEL = "C0BUDGET"
DEMO_APPROVER = "U0APPROVER"
STORY_FROM_HOUR = 6
"""The demo's ad day starts at 06:00 on the account's clock, so the story below plays the same at any hour."""
STORY_CHECK_MINUTES = 15
"""A check every quarter of an hour of the demo's clock (at --speed 60, every 15 real seconds)."""
# Campaigns added to the seeded account, each to earn one signal in the ad day: (id, name, daily budget, demand).
STALLS, REJECTED, CAPS_EARLY, UNDERPACES, SPIKES, NEVER_CONVERTS = range(990001, 990007)
STORY_CAMPAIGNS = (
    (STALLS, "Story: stops spending at 10:00", 300, 240),
    (REJECTED, "Story: rejected at 11:00", 300, 240),
    (CAPS_EARLY, "Story: capped by 08:00", 200, 600),
    (UNDERPACES, "Story: underpacing", 300, 100),
    (SPIKES, "Story: spikes at 14:00", 300, 240),
    (NEVER_CONVERTS, "Story: never converts", 300, 240),
)
# What happens, at which hour of the ad day, over the sandbox's admin routes (None: every campaign).
STORY: dict[int, list[dict[str, Any]]] = {
    10: [{"scenario": "stop_spending", "campaign_ids": [STALLS]}],
    11: [{"scenario": "reject", "campaign_ids": [REJECTED]}],
    14: [{"scenario": "spike", "campaign_ids": [SPIKES], "factor": 6, "hours": 1}],
    15: [{"scenario": "stop_conversions"}],
}


STATISTICS_CALLS_PER_CHECK = 4
"""What a story check may ask of the statistics at most: today, the hourly re-read of the last days, a rule's days."""


def statistics_limit(speed: float) -> int:
    """The sandbox's statistics calls a real minute for the demo. The live limit (2 a minute) would make the story
    wait, and so would any limit below what its checks ask: a check held back for the limit samples today's spend too
    seldom to see a campaign go quiet for two hours of the story's clock. The bot's economy is shown in bench/."""
    checks_a_minute = speed / STORY_CHECK_MINUTES
    return max(30, math.ceil(STATISTICS_CALLS_PER_CHECK * checks_a_minute))


@dataclass(frozen=True)
class DemoUrls:
    page: str
    ads_api: str
    bot: str


@asynccontextmanager
async def _served(app: web.Application, host: str, port: int) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        yield f"http://{host}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def demo_settings(
    ads_api: str, slack_url: str, database: Path, api_token: str, bot_token: str, secret: str, *, summary_at: time = time(9, 0)
) -> Settings:
    return Settings(
        propellerads_api_token=api_token,
        propellerads_base_url=ads_api,
        slack_bot_token=bot_token,
        slack_signing_secret=secret,
        slack_api_url=slack_url + "/api/",
        channel=DEMO_CHANNEL,
        approvers=[DEMO_APPROVER],
        database_url=f"sqlite+aiosqlite:///{database}",
        check_interval_minutes=5,
        snapshot_ttl_seconds=30,
        summary_time=summary_at,
        rules=[Rule(name="cpa-target", target_cpa=Decimal("10"))],
    )


async def run_demo(
    *,
    port: int = 8000,
    host: str = "127.0.0.1",
    campaigns: int = 30,
    speed: float = 60.0,
    state_dir: Path = Path("demo-state"),
    on_ready: Callable[[DemoUrls], None] | None = None,
    stop: asyncio.Event | None = None,
    on_slack: Callable[[Any], None] | None = None,
) -> None:
    """Runs everything on this event loop until `stop` is set (or Ctrl-C), then shuts down in order.

    `on_slack` is handed the Slack stand-in, for a test to watch the channel."""
    from sandbox.adplatform import Account, Campaign, SandboxConfig, SpeedClock, SpendProfile, create_app as create_ads
    from sandbox.slack import create_app as create_slack, standin_of

    stop = stop or asyncio.Event()
    state_dir.mkdir(parents=True, exist_ok=True)
    database = state_dir / "budget-bot.db"
    database.unlink(missing_ok=True)  # every demo starts from the same story
    api_token, bot_token = "demo-" + secrets.token_hex(8), "xoxb-demo-" + secrets.token_hex(8)
    secret = secrets.token_hex(16)

    ad_day = AdDay.parse(DEFAULT_AD_TIMEZONE)
    real_now = datetime.now(timezone.utc)
    clock = SpeedClock(speed, origin=ad_day.start(ad_day.today(real_now)) + timedelta(hours=STORY_FROM_HOUR))
    account = Account.seeded(campaigns, 7, now=clock())
    for campaign_id, name, budget, demand in STORY_CAMPAIGNS:
        account.add(Campaign(id=campaign_id, name=name, limit_daily_amount=Decimal(budget)))
        cpa = None if campaign_id == NEVER_CONVERTS else Decimal(10)
        account.simulate(campaign_id, SpendProfile(demand=Decimal(demand), cpa=cpa))
    ads_app = create_ads(account, token=api_token, config=SandboxConfig(rate_limits={"statistics": statistics_limit(speed)}), clock=clock)
    slack_app = create_slack(bot_url=None, signing_secret=secret, bot_token=bot_token, channel_id=DEMO_CHANNEL)

    async with AsyncExitStack() as stack:
        ads_url = await stack.enter_async_context(_served(ads_app, "127.0.0.1", 0))
        page_url = await stack.enter_async_context(_served(slack_app, host, port))
        standin_of(slack_app).base_url = page_url
        # The daily summary is due as the story starts (its clock's UTC time), so the page opens on it.
        summary_at = clock().astimezone(timezone.utc).time().replace(second=0, microsecond=0)
        settings = demo_settings(ads_url + "/v5", page_url, database.resolve(), api_token, bot_token, secret, summary_at=summary_at)
        # The bot keeps the demo's clock, so the ad day it watches is the one the sandbox spends.
        runtime = Runtime.build(settings, clock=clock)
        # The seeded days go into the spend ledger first (the sandbox's limit lets them come at once), so the
        # summary the bot posts as it starts has its table and its chart.
        await runtime.store.migrate()
        await runtime.service.backfill_ledger()
        bot_url = await stack.enter_async_context(_served(build_web_app(runtime), "127.0.0.1", 0))
        standin_of(slack_app).bot_url = bot_url + "/slack/events"
        # So the page is never empty: a check at once, as the schedule would.
        await runtime.notifier.post_check(await runtime.service.run_check(), with_summary=False)

        if on_slack:
            on_slack(standin_of(slack_app))
        if on_ready:
            on_ready(DemoUrls(page=page_url, ads_api=ads_url + "/v5", bot=bot_url))
        story = asyncio.create_task(_tell_the_story(runtime, ads_url, clock, ad_day, speed, stop))
        try:
            await stop.wait()
        finally:
            story.cancel()
            with suppress(asyncio.CancelledError):
                await story


async def _tell_the_story(
    runtime: Runtime, ads_url: str, clock: Callable[[], datetime], ad_day: AdDay, speed: float, stop: asyncio.Event
) -> None:
    """Checks every quarter of an hour of the demo's clock, and at their hours the scenarios that earn each
    signal: the day's signals all show within minutes at --speed."""
    told: set[int] = set()
    every = STORY_CHECK_MINUTES * 60 / speed
    async with httpx.AsyncClient(base_url=ads_url) as admin:
        while not stop.is_set():
            now = clock()
            hour = (now - ad_day.start(ad_day.today(now))) // timedelta(hours=1)
            for at, scenarios in STORY.items():
                if at <= hour and at not in told:
                    told.add(at)
                    for scenario in scenarios:
                        (await admin.post("/_sandbox/scenarios", json=scenario)).raise_for_status()
            await runtime.jobs.fire(CHECK, now)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)


def main(port: int, campaigns: int, speed: float, print_line: Callable[[str], None]) -> None:
    async def go() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def ready(urls: DemoUrls) -> None:
            print_line(f"budget-bot demo is running. Open {urls.page} in a browser.")
            print_line(f"  sandbox PropellerAds API: {urls.ads_api}   bot: {urls.bot}/slack/events")
            print_line("  Try /budget status, /budget check, then Approve a proposal. Ctrl-C stops it all.")

        await run_demo(port=port, campaigns=campaigns, speed=speed, on_ready=ready, stop=stop)
        print_line("budget-bot demo stopped.")

    asyncio.run(go())
