"""The backtest as the service runs it: the days the spend ledger lacks read once, then the rules replayed."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from datetime import date, timedelta

from core.backtest import DEFAULT_DAYS, Backtest, first_needed, pick_rules, replay, replay_span
from core.errors import PropellerAdsError
from core.ledger import LedgerSync
from core.ledger_types import DailyRow
from core.service.reads import WATCHED_STATUSES, ServiceParts

log = logging.getLogger(__name__)


class Backtests(ServiceParts):
    """What the configured rules would have done over the past days, from the spend ledger."""

    @property
    def _backtest_reads(self) -> asyncio.Lock:
        lock = self.__dict__.get("_backtest_lock")
        if lock is None:
            lock = self.__dict__["_backtest_lock"] = asyncio.Lock()
        return lock

    async def backtest(self, days: int = DEFAULT_DAYS, rule: str | None = None) -> Backtest:
        """Replays the rules (or the one named) over the `days` whole ad days before today.

        The days the ledger lacks are read first, a chunk at a time within the statistics limit; the campaign
        list is read when the ledger never saw a campaign's status. A read that fails leaves the replay to
        what the ledger holds, and the backtest says so. Raises BacktestRefused for no rules or an unknown one.
        """
        rules = pick_rules(list(self.config.rules), rule)
        now = self.clock()
        today = self.ad_day.today(now)
        first, last = replay_span(today, days)
        earliest = first_needed(rules, first)
        notes: list[str] = []
        sync = LedgerSync(self.api, self.store.ledger, self.ad_day, backfill_days=(today - earliest).days)
        try:
            # Backtests asked for at once read the missing days once: the later ones find them held.
            async with self._backtest_reads:
                await sync.backfill(now)
        except PropellerAdsError as exc:
            log.warning("backtest: missing days not read: %s", exc)
            notes.append(f"the days the spend ledger lacks could not be read ({exc.summary()})")
        rows = await self.store.ledger.days(earliest, last)
        held = await self.store.ledger.coverage()
        seen_now: dict[int, tuple[int | None, Decimal | None]] = {}
        if not _every_status_known(rows):
            try:
                campaigns = await self.api.campaigns(statuses=WATCHED_STATUSES)
                seen_now = {c.id: (c.status, c.daily_budget) for c in campaigns}
            except PropellerAdsError as exc:
                log.warning("backtest: campaign list not read: %s", exc)
                notes.append(f"the campaign list could not be read ({exc.summary()}): campaigns the checks never saw are left out")
        span = (held.first_day, held.last_day) if held.first_day and held.last_day else (today, today - timedelta(days=1))
        if span[0] > earliest or span[1] < last:
            notes.append(_lacking(span, earliest, last))
        return replay(
            rules, rows, first, last, self.config.guardrails,
            held=span, all_rules=list(self.config.rules), seen_now=seen_now, notes=notes,
        )


def _every_status_known(rows: list[DailyRow]) -> bool:
    """Whether each campaign has a status on at least one of its days (the others fall back to it)."""
    known = {r.campaign_id for r in rows if r.status is not None}
    return all(r.campaign_id in known for r in rows)


def _lacking(held: tuple[date, date], earliest: date, last: date) -> str:
    if held[0] > held[1]:
        return f"the spend ledger holds none of the days {earliest:%Y-%m-%d} to {last:%Y-%m-%d}: nothing could be judged"
    return (
        f"the spend ledger holds {held[0]:%Y-%m-%d} to {held[1]:%Y-%m-%d} of the {earliest:%Y-%m-%d} to {last:%Y-%m-%d} "
        "the rules' windows need: days whose window reaches outside it are not judged"
    )
