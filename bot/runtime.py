"""Assembles a running bot from settings: store, PropellerAds client, service, Slack app, scheduler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from bot.accounts import Account, Accounts
from bot.app import create_app, make_web_client
from bot.notify import Notifier
from bot.scheduler import Jobs, build_scheduler
from bot.settings import Settings
from bot.wiring import make_client, service_config
from core.errors import PropellerAdsError
from core.service import BudgetService
from core.store import Store
from handlers.context import BotContext

log = logging.getLogger(__name__)
BACKFILL_PAUSE = timedelta(seconds=40)


def describe_database_error(url: str, exc: SQLAlchemyError) -> str:
    """One line naming the database (its password hidden) and the driver's first words on what failed."""
    try:
        where = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        where = "BUDGET_BOT_DATABASE_URL"
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    words = next((line.strip() for line in str(cause).splitlines() if line.strip()), type(cause).__name__)
    return f"the database at {where} is unavailable: {words}"


def build_accounts(
    settings: Settings,
    store: Store,
    client: AsyncWebClient,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> Accounts:
    """Each ad account's service (its own PropellerAds client, so its own rate-limit windows, and its own rows
    of the store), notifier and jobs; their scheduled runs share a bounded number of turns."""
    running = asyncio.Semaphore(settings.max_concurrent_checks)
    found = []
    for own in settings.account_settings():
        service = BudgetService(
            make_client(own),
            store.for_account(own.account),
            service_config(own),
            clock=clock,
            lease=timedelta(seconds=own.reconcile_after_seconds),
        )
        notifier = Notifier(client, own, service)
        jobs = Jobs(
            service,
            notifier,
            zone=own.zone,
            summary_time=own.summary_time,
            check_minutes=own.check_interval_minutes,
            clock=clock,
            account=own.account,
            running=running,
            stale_after=timedelta(seconds=own.run_claim_timeout_seconds),
        )
        found.append(Account(own, service, notifier, jobs))
    return Accounts(found)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    accounts: Accounts
    app: AsyncApp
    scheduler: AsyncIOScheduler | None = None
    _later: list[asyncio.Task[None]] = field(default_factory=list)
    """The finishing of applies a stopped process left, once their leases lapse."""
    _backfill: list[asyncio.Task[None]] = field(default_factory=list)
    """Each account's spend ledger's first 30 days, read in the background."""

    @property
    def service(self) -> BudgetService:
        """The first account's service: what the single-account code talks to."""
        return self.accounts.first.service

    @property
    def notifier(self) -> Notifier:
        return self.accounts.first.notifier

    @property
    def jobs(self) -> Jobs:
        return self.accounts.first.jobs

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        socket_mode: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> "Runtime":
        store = Store.connect(settings.database_url)
        client = make_web_client(settings)
        accounts = build_accounts(settings, store, client, clock=clock)
        first = accounts.first
        app = create_app(BotContext(first.settings, first.service, first.notifier, accounts), client, socket_mode=socket_mode)
        return cls(settings, store, accounts, app)

    async def start(self, *, schedule: bool = True) -> None:
        """Migrates the store, finishes what a previous process left mid-apply, starts the schedule."""
        await self.store.migrate()
        for account in self.accounts:
            await account.notifier.post_decisions(await account.service.reconcile_quietly())
            due = await account.service.next_lapse()
            if due is not None:
                # A stopped process left an apply whose lease still holds: finish it once the lease lapses.
                self._later.append(asyncio.create_task(self._reconcile_at(account, due)))
        if schedule:
            self._backfill = [asyncio.create_task(self._fill_ledger(account)) for account in self.accounts]
            for account in self.accounts:
                await account.jobs.catch_up()
            self.scheduler = build_scheduler([account.jobs for account in self.accounts], check_now=True)
            self.scheduler.start()
            log.info(
                "scheduled: daily summary at %s %s, health check now and every %d min%s",
                self.settings.summary_time.strftime("%H:%M"),
                self.settings.timezone,
                self.settings.check_interval_minutes,
                f", for the ad accounts {', '.join(self.accounts.names)}" if len(self.accounts) > 1 else "",
            )

    async def _reconcile_at(self, account: Account, due: datetime) -> None:
        wait = (due - account.service.clock()).total_seconds()
        await asyncio.sleep(min(max(wait, 0.0), account.settings.reconcile_after_seconds) + 0.05)
        await account.notifier.post_decisions(await account.service.reconcile_quietly())

    async def _fill_ledger(self, account: Account) -> None:
        """One chunk of past days at a time with a pause between, so checks and commands keep the statistics
        limit (2 calls a minute) for themselves; a failure leaves the rest to the next start."""
        try:
            while await account.service.backfill_ledger(max_chunks=1):
                await asyncio.sleep(BACKFILL_PAUSE.total_seconds())
        except PropellerAdsError as exc:
            log.warning("spend ledger backfill of %s stopped: %s", account.name, exc)

    async def stop_background(self) -> None:
        """Stops the schedule and the bot's own background work; each task unwinds (its database session
        closed) before this returns."""
        own = [*self._later, *self._backfill]
        for task in own:
            task.cancel()
        await asyncio.gather(*own, return_exceptions=True)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def stop(self) -> None:
        await self.stop_background()
        for account in self.accounts:
            await account.service.api.aclose()
        await self.store.close()
