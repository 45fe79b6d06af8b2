"""Scheduled work: the daily summary and the periodic health check, once per fire time across replicas."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import SQLAlchemyError
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.notify import Notifier
from core.errors import AuthenticationError, PermissionDeniedError, PropellerAdsError
from core.service import BudgetService
from core.store.tables import DEFAULT_ACCOUNT

log = logging.getLogger(__name__)

SUMMARY, CHECK = "daily_summary", "health_check"
# Interval checks are anchored here so every replica computes the same fire times.
EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
LATE_AFTER = timedelta(minutes=5)
"""A summary posted this long after its time says that it is late, and why."""


def summary_slot(at: datetime, zone: ZoneInfo, summary_time: time) -> str:
    """The summary a fire at `at` belongs to: that local day's (the nearest scheduled time)."""
    local = at.astimezone(zone)
    scheduled = datetime.combine(local.date(), summary_time, tzinfo=zone)
    if local - scheduled > timedelta(hours=12):
        scheduled += timedelta(days=1)
    elif scheduled - local > timedelta(hours=12):
        scheduled -= timedelta(days=1)
    return scheduled.date().isoformat()


def check_slot(at: datetime, minutes: int) -> str:
    """The nearest scheduled check time: replicas whose clocks differ by seconds agree on it."""
    period = timedelta(minutes=minutes)
    n = round((at.astimezone(timezone.utc) - EPOCH) / period)
    return (EPOCH + n * period).strftime("%Y-%m-%dT%H:%MZ")


class Jobs:
    """The scheduled jobs; `fire` runs one for a given time, which is how tests drive them."""

    def __init__(
        self,
        service: BudgetService,
        notifier: Notifier,
        *,
        zone: ZoneInfo,
        summary_time: time,
        check_minutes: int,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        owner: str | None = None,
        account: str = DEFAULT_ACCOUNT,
        running: asyncio.Semaphore | None = None,
        stale_after: timedelta | None = None,
    ) -> None:
        self.service = service
        self.notifier = notifier
        self.zone = zone
        self.summary_time = summary_time
        self.check_minutes = check_minutes
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.account = account
        self.running = running
        """Shared by every account's jobs: how many of them run at once in this process."""
        self.stale_after = stale_after
        """How long a claim may stay unfinished before another replica takes it over (None: never)."""
        self._failing = False

    async def fire(self, job: str, at: datetime | None = None) -> bool:
        """Runs `job` for the fire time `at` unless a replica already did; True when this one ran it."""
        at = at or self.clock()
        slot = summary_slot(at, self.zone, self.summary_time) if job == SUMMARY else check_slot(at, self.check_minutes)
        async with AsyncExitStack() as turn:
            # The turn before the claim: a replica whose turns are all taken leaves the slot to another.
            if self.running is not None:
                await turn.enter_async_context(self.running)
            # Claimed at the clock's time, not the fire time's: a stale claim is one left unfinished that long.
            try:
                claimed = await self.service.claim_run(job, slot, self.owner, self.clock(), stale_after=self.stale_after)
            except SQLAlchemyError as exc:
                # The store could not be asked (its connections all busy, or down): the next fire time tries again.
                log.error("%s for %s not run (ad account %s): the store did not answer: %s", job, slot, self.account, exc)
                return False
            if not claimed:
                log.info("%s for %s already run elsewhere (ad account %s)", job, slot, self.account)
                return False
            try:
                if job == SUMMARY:
                    await self._summary(at, slot)
                else:
                    result = await self.service.run_check()
                    if result.error is not None:
                        log.warning("scheduled health check of %s could not read the account: %s", self.account, result.error)
                    await self.notifier.post_check(result, with_summary=False)
                    await self._note_outcome(result.error)
            except PropellerAdsError as exc:
                log.warning("%s for %s failed (ad account %s): %s", job, slot, self.account, exc)
                if job != SUMMARY:  # the summary has told its channel already
                    await self._note_outcome(exc)
            except Exception:
                # A job failure must not stop the scheduler; the next fire time tries again.
                log.exception("%s for %s failed (ad account %s)", job, slot, self.account)
            finally:
                await self.service.finish_run(job, slot, self.owner, self.clock())
        return True

    async def _note_outcome(self, error: PropellerAdsError | None) -> None:
        """A check that could not read the account says so in the channel once, when it starts failing; a refused
        token is told as its alert instead."""
        failing, self._failing = self._failing, error is not None
        if error is not None and not failing and not isinstance(error, (AuthenticationError, PermissionDeniedError)):
            await self._tell_failure(error)

    async def _tell_failure(self, exc: PropellerAdsError) -> None:
        try:
            await self.notifier.post_failure(exc, doing="run the scheduled health check")
        except Exception:
            log.exception("could not tell %s's channel that its check failed", self.account)

    async def _summary(self, at: datetime, slot: str) -> None:
        due = datetime.combine(date.fromisoformat(slot), self.summary_time, tzinfo=self.zone)
        late = None
        if at - due > LATE_AFTER:
            late = (
                f"Due at {due:%H:%M} ({self.zone.key}), posted at {at.astimezone(self.zone):%H:%M}: "
                "the bot was stopped or paused at its time."
            )
        try:
            summary = await self.service.summary_now()
        except PropellerAdsError as exc:
            # The channel waits for this summary: a morning without it must say why.
            await self.notifier.post_failure(exc, doing="prepare the daily budget summary")
            raise
        await self.notifier.post_daily_summary(summary, late=late)

    async def catch_up(self, at: datetime | None = None) -> bool:
        """Runs today's summary late when its time has passed and no replica ran it: the bot was down or paused.

        A summary is made up for until 12 hours past its time; after that the next day's is the one due.
        """
        at = at or self.clock()
        local = at.astimezone(self.zone)
        due = datetime.combine(local.date(), self.summary_time, tzinfo=self.zone)
        if due - local > timedelta(hours=12):
            due -= timedelta(days=1)
        if not timedelta(0) <= local - due <= timedelta(hours=12):
            return False
        # A summary whose replica died mid-run is made up for once its claim is stale.
        if await self.service.has_run(SUMMARY, due.date().isoformat(), now=self.clock(), stale_after=self.stale_after):
            return False
        log.warning("the daily summary due at %s did not run; running it late", due.isoformat())
        return await self.fire(SUMMARY, at)

    async def run_summary(self) -> None:
        await self.fire(SUMMARY)

    async def run_check(self) -> None:
        await self.fire(CHECK)
        # A summary lost to a pause or a restart across its time is made up for here.
        await self.catch_up()


def triggers(zone: ZoneInfo, summary_time: time, check_minutes: int) -> dict[str, CronTrigger | IntervalTrigger]:
    return {
        SUMMARY: CronTrigger(hour=summary_time.hour, minute=summary_time.minute, timezone=zone),
        CHECK: IntervalTrigger(minutes=check_minutes, start_date=EPOCH, timezone=timezone.utc),
    }


def build_scheduler(jobs: Jobs | Sequence[Jobs], *, check_now: bool = False) -> AsyncIOScheduler:
    """Each account's daily summary and interval check, as jobs of their own so that a slow account delays no
    other; with `check_now` also a check as soon as the scheduler starts, so a fresh start does not wait a whole
    interval (a replica that finds the nearest slot taken skips it)."""
    scheduler = AsyncIOScheduler(timezone=timezone.utc)
    every = list(jobs) if isinstance(jobs, Sequence) else [jobs]
    for one in every:
        # One account keeps the plain job names; several are told apart by theirs.
        of = "" if len(every) == 1 else f":{one.account}"
        found = triggers(one.zone, one.summary_time, one.check_minutes)
        # No misfire limit: a run delayed by a pause still runs (its slot keeps it once across replicas).
        common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        scheduler.add_job(one.run_summary, found[SUMMARY], id=SUMMARY + of, name=f"daily budget summary{of}", **common)
        scheduler.add_job(one.run_check, found[CHECK], id=CHECK + of, name=f"health check{of}", **common)
        if check_now:
            # A job of its own: moving the interval job's first run would shift all its later runs off the
            # EPOCH-anchored times every replica shares. Its slot is the nearest check time, claimed like any other.
            scheduler.add_job(
                one.run_check, DateTrigger(one.clock()), id=f"{CHECK}_at_start{of}", name=f"health check at start{of}",
                **common,
            )
    return scheduler
