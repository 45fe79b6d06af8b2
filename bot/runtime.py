"""Assembles a running bot from settings: store, PropellerAds client, service, Slack app, scheduler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.async_app import AsyncApp
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

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


@dataclass
class Runtime:
    settings: Settings
    store: Store
    service: BudgetService
    notifier: Notifier
    app: AsyncApp
    jobs: Jobs
    scheduler: AsyncIOScheduler | None = None
    _later: asyncio.Task[None] | None = None
    """The finishing of an apply a stopped process left, once its lease lapses."""
    _backfill: asyncio.Task[None] | None = None
    """The spend ledger's first 30 days, read in the background."""

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        socket_mode: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> "Runtime":
        store = Store.connect(settings.database_url)
        service = BudgetService(
            make_client(settings),
            store,
            service_config(settings),
            clock=clock,
            lease=timedelta(seconds=settings.reconcile_after_seconds),
        )
        client = make_web_client(settings)
        notifier = Notifier(client, settings, service)
        app = create_app(BotContext(settings, service, notifier), client, socket_mode=socket_mode)
        jobs = Jobs(
            service,
            notifier,
            zone=settings.zone,
            summary_time=settings.summary_time,
            check_minutes=settings.check_interval_minutes,
            clock=clock,
        )
        return cls(settings, store, service, notifier, app, jobs)

    async def start(self, *, schedule: bool = True) -> None:
        """Migrates the store, finishes what a previous process left mid-apply, starts the schedule."""
        await self.store.migrate()
        await self.notifier.post_decisions(await self.service.reconcile_quietly())
        due = await self.service.next_lapse()
        if due is not None:
            # A stopped process left an apply whose lease still holds: finish it once the lease lapses.
            self._later = asyncio.create_task(self._reconcile_at(due))
        if schedule:
            self._backfill = asyncio.create_task(self._fill_ledger())
            await self.jobs.catch_up()
            self.scheduler = build_scheduler(self.jobs, check_now=True)
            self.scheduler.start()
            log.info(
                "scheduled: daily summary at %s %s, health check now and every %d min",
                self.settings.summary_time.strftime("%H:%M"),
                self.settings.timezone,
                self.settings.check_interval_minutes,
            )

    async def _reconcile_at(self, due: datetime) -> None:
        wait = (due - self.service.clock()).total_seconds()
        await asyncio.sleep(min(max(wait, 0.0), self.settings.reconcile_after_seconds) + 0.05)
        await self.notifier.post_decisions(await self.service.reconcile_quietly())

    async def _fill_ledger(self) -> None:
        """One chunk of past days at a time with a pause between, so checks and commands keep the statistics
        limit (2 calls a minute) for themselves; a failure leaves the rest to the next start."""
        try:
            while await self.service.backfill_ledger(max_chunks=1):
                await asyncio.sleep(BACKFILL_PAUSE.total_seconds())
        except PropellerAdsError as exc:
            log.warning("spend ledger backfill stopped: %s", exc)

    async def stop_background(self) -> None:
        """Stops the schedule and the bot's own background work; each task unwinds (its database session
        closed) before this returns."""
        own = [task for task in (self._later, self._backfill) if task is not None]
        for task in own:
            task.cancel()
        await asyncio.gather(*own, return_exceptions=True)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def stop(self) -> None:
        await self.stop_background()
        await self.service.api.aclose()
        await self.store.close()
