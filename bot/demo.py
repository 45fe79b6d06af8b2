"""`budget-bot demo`: the sandbox ad platform, a Slack stand-in in the browser and the real bot, wired together."""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from aiohttp import web

from bot.runtime import Runtime
from bot.server import build_web_app
from bot.settings import Settings
from core.policy import Rule


DEMO_CHANNEL = "C0BUDGET"
DEMO_APPROVER = "U0APPROVER"


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


def demo_settings(ads_api: str, slack_url: str, database: Path, api_token: str, bot_token: str, secret: str) -> Settings:
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
) -> None:
    """Runs everything on this event loop until `stop` is set (or Ctrl-C), then shuts down in order."""
    from sandbox.adplatform import Account, SandboxConfig, SpeedClock, create_app as create_ads
    from sandbox.slack import create_app as create_slack, standin_of

    stop = stop or asyncio.Event()
    state_dir.mkdir(parents=True, exist_ok=True)
    database = state_dir / "budget-bot.db"
    database.unlink(missing_ok=True)  # every demo starts from the same story
    api_token, bot_token = "demo-" + secrets.token_hex(8), "xoxb-demo-" + secrets.token_hex(8)
    secret = secrets.token_hex(16)

    clock = SpeedClock(speed)
    account = Account.seeded(campaigns, 7, now=clock())
    # The live statistics limit (2 a minute) would make a demo wait; the bot's economy is shown in bench/.
    ads_app = create_ads(account, token=api_token, config=SandboxConfig(rate_limits={"statistics": 30}), clock=clock)
    slack_app = create_slack(bot_url=None, signing_secret=secret, bot_token=bot_token, channel_id=DEMO_CHANNEL)

    async with AsyncExitStack() as stack:
        ads_url = await stack.enter_async_context(_served(ads_app, "127.0.0.1", 0))
        page_url = await stack.enter_async_context(_served(slack_app, host, port))
        standin_of(slack_app).base_url = page_url
        settings = demo_settings(ads_url + "/v5", page_url, database.resolve(), api_token, bot_token, secret)
        runtime = Runtime.build(settings)
        bot_url = await stack.enter_async_context(_served(build_web_app(runtime), "127.0.0.1", 0))
        standin_of(slack_app).bot_url = bot_url + "/slack/events"

        # So the page is never empty: a summary and a check at once, as the schedule would.
        report = await runtime.service.health(fresh=True)
        today = await runtime.service.money_today(report.balance)
        await runtime.notifier.post_summary(report, title="Daily budget summary", today=today)
        await runtime.notifier.post_check(await runtime.service.run_check(), with_summary=False)

        if on_ready:
            on_ready(DemoUrls(page=page_url, ads_api=ads_url + "/v5", bot=bot_url))
        await stop.wait()


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
