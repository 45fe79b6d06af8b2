"""The whole bot over real HTTP on 127.0.0.1: sandbox ad platform, Slack stand-in, and the bot between them."""

from __future__ import annotations

import os
import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from bot.runtime import Runtime
from bot.server import build_web_app
from bot.settings import Settings
from core.adday import DEFAULT_AD_TIMEZONE, AdDay
from core.signals import SignalThresholds
from sandbox.adplatform import SANDBOX_KEY, Account, Campaign, Sandbox, SandboxConfig, start_sandbox
from sandbox.serving import BackgroundServer
from sandbox.slack import SlackStandIn, start_standin

T = TypeVar("T")

API_TOKEN = "pa-token-" + secrets.token_hex(8)
BOT_TOKEN = "xoxb-test-" + secrets.token_hex(8)
SIGNING_SECRET = "signing-" + secrets.token_hex(12)
CHANNEL = "C0BUDGET"
APPROVER = "U0APPROVER"
VIEWER = "U0VIEWER"
NOW = datetime(2024, 3, 4, 12, 0, tzinfo=timezone.utc)
"""Monday 2024-03-04 12:00 UTC: where the bot's and the sandbox's manual clocks start unless a test says otherwise."""
POSTGRES_URL = os.environ.get("BUDGET_BOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

# A rule set that gives the exact account below one increase and one decrease.
CPA_RULE = {"name": "cpa-target", "target_cpa": Decimal("10"), "window_days": 7}


def ad_today() -> date:
    """Today on the ad account's default clock (EST), which is what a bot reading the real clock calls today: between
    00:00 and 05:00 UTC it is still yesterday's date in UTC terms."""
    return AdDay.parse(DEFAULT_AD_TIMEZONE).today(datetime.now(timezone.utc))


def exact_account(today: date, *, balance: str = "5000.00") -> Account:
    """A small account whose figures a test can work out by hand.

    Over the 7 days before `today`:
    - 101 "Winner & Co <US>": daily budget 100, spends 90 a day (90% used), 88 conversions:
      CPA 630 / 88 = 7.16 beats 10 × 0.8 → increase by 20% to 120.00.
    - 102 "Loser DE": daily budget 200, spends 150 a day, 7 conversions: CPA 150 → decrease to 160.00.
    - 103 "Steady FR": daily budget 50, spends 20 a day, 14 conversions: CPA 10 → nothing.
    - 104 paused; 105 working without a daily budget (spends 5 a day): never proposed.
    Health: balance 5,000.00, total daily budget 350.00, nothing at risk, 7-day spend 1,855.00,
    runway 5000 / 265 = 18.8 days, budget covered 5000 / 350 = 14.2 days.
    """
    account = Account(
        balance=Decimal(balance),
        campaigns=[
            Campaign(id=101, name="Winner & Co <US>", limit_daily_amount=Decimal("100.00")),
            Campaign(id=102, name="Loser DE", limit_daily_amount=Decimal("200.00")),
            Campaign(id=103, name="Steady FR", limit_daily_amount=Decimal("50.00")),
            Campaign(id=104, name="Paused BR", status=7, limit_daily_amount=Decimal("80.00")),
            Campaign(id=105, name="Unlimited MX", limit_daily_amount=None),
        ],
    )
    for back in range(1, 9):
        day = today - timedelta(days=back)
        account.record(101, day, spent=Decimal("90"), impressions=9000, conversions=13 if back % 2 else 12)
        account.record(102, day, spent=Decimal("150"), impressions=15000, conversions=1)
        account.record(103, day, spent=Decimal("20"), impressions=2000, conversions=2)
        account.record(105, day, spent=Decimal("5"), impressions=500, conversions=0)
    return account


@dataclass
class Stack:
    """Everything running, with handles a test needs."""

    ads: BackgroundServer
    slack_server: BackgroundServer
    slack: SlackStandIn
    bot: BackgroundServer | None
    runtime: Runtime
    settings: Settings

    @property
    def sandbox(self) -> Sandbox:
        return self.ads.app[SANDBOX_KEY]

    @property
    def api_url(self) -> str:
        return self.ads.url + "/v5"

    def on_bot(self, fn: Callable[[], Awaitable[T]], timeout: float = 60) -> T:
        """Runs a coroutine on the bot's own event loop (its store and clients live there)."""
        assert self.bot is not None
        return self.bot.call(fn, timeout)

    def requests(self, method: str, path_part: str = "") -> list[Any]:
        return [r for r in self.sandbox.requests.entries() if r.method == method and path_part in r.path]


def mrkdwn_texts(value: Any) -> Iterator[str]:
    """Every mrkdwn text object inside blocks or a view, however deep (fields, context, confirm dialogs)."""
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            yield value["text"]
        for inner in value.values():
            yield from mrkdwn_texts(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from mrkdwn_texts(inner)


def serve_env(stack: Stack, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `budget-bot serve` process against the stack's sandbox and stand-in.

    Nothing of the project's own settings is inherited from the test's environment.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROPELLERADS_", "BUDGET_BOT_", "SLACK_"))}
    env.update(
        {
            "PROPELLERADS_API_TOKEN": API_TOKEN,
            "PROPELLERADS_BASE_URL": stack.api_url,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": stack.slack_server.url + "/api/",
            "BUDGET_BOT_CHANNEL": CHANNEL,
            "BUDGET_BOT_APPROVERS": APPROVER,
            "BUDGET_BOT_DATABASE_URL": database_url,
            "BUDGET_BOT_SNAPSHOT_TTL_SECONDS": "0",
            # A served process and its sandbox share the real clock, but then today's spend signals (pacing,
            # capped early, underpacing) depend on the hour the suite runs at: tests would pass by daytime.
            "BUDGET_BOT_SIGNALS": '{"enabled": false}',
        }
    )
    env.update(extra)
    return env


def bot_settings(api_url: str, slack_url: str, db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "propellerads_api_token": API_TOKEN,
        "propellerads_base_url": api_url,
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack_url.rstrip("/") + "/api/",
        "channel": CHANNEL,
        "approvers": [APPROVER],
        "database_url": db_url,
        "api_timeout_seconds": 10,
        "rate_limit_max_wait_seconds": 5,
        "snapshot_ttl_seconds": 0,
        "reconcile_after_seconds": 10,
        "rules": [CPA_RULE],
        # Off where the sandbox spends by the real clock: most stacks drive the bot's clock (a ManualClock) but
        # not the sandbox's, so the spend ledger's curve stands still or jumps across hours that never passed
        # for the sandbox, and signals fire from that mismatch, not from the account (tried on: the snooze
        # test in tests/e2e/test_alerts_slack.py gets an extra alert). Signal tests share one clock
        # (`shared_clock=True`) and turn them on.
        "signals": SignalThresholds(enabled=False),
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def running_stack(
    tmp_path: Path,
    *,
    account: Account | None = None,
    sandbox_config: SandboxConfig | None = None,
    clock: Callable[[], datetime] | None = None,
    schedule: bool = False,
    db_url: str | None = None,
    start_bot: bool = True,
    shared_clock: bool = False,
    **settings: Any,
) -> Iterator[Stack]:
    """Starts the sandbox, the Slack stand-in and (unless told not to) the bot in HTTP mode.

    With `shared_clock` the sandbox spends by the bot's `clock` too, so moving it moves the ad day.
    """
    now = (clock or (lambda: datetime.now(timezone.utc)))()
    config = sandbox_config or SandboxConfig(rate_limits={"statistics": None})
    ads_clock = clock if shared_clock else None
    ads = start_sandbox(account or exact_account(now.date()), token=API_TOKEN, config=config, clock=ads_clock)
    slack_server, slack = start_standin(bot_url=None, signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, channel_id=CHANNEL)
    bot_server = None
    try:
        url = db_url or f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        resolved = bot_settings(ads.url + "/v5", slack_server.url, url, **settings)
        runtime = Runtime.build(resolved, clock=clock) if clock else Runtime.build(resolved)
        if start_bot:
            bot_server = BackgroundServer(build_web_app(runtime, schedule=schedule)).start()
            slack.bot_url = bot_server.url + "/slack/events"
        yield Stack(ads, slack_server, slack, bot_server, runtime, resolved)
    finally:
        if bot_server is not None:
            bot_server.stop()
        slack_server.stop()
        ads.stop()
