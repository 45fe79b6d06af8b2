"""Reads an account snapshot from PropellerAds: balance, working campaigns, grouped statistics of the window and today."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone

from core.adday import UTC_DAY, AdDay
from core.health import AccountSnapshot
from core.models import CampaignStatus, StatisticsRow, UnreadableItem, sum_by_campaign
from core.propellerads import PropellerAdsClient


def trailing_window(today: date, days: int) -> tuple[date, date]:
    """The last `days` whole days before today: today itself is still spending."""
    return today - timedelta(days=days), today - timedelta(days=1)


async def read_snapshot(
    api: PropellerAdsClient,
    *,
    ad_day: AdDay = UTC_DAY,
    window_days: int = 7,
    now: datetime | None = None,
    statuses: Iterable[int] = (CampaignStatus.WORKING,),
    held_window: Sequence[StatisticsRow] | None = None,
    with_today: bool = False,
) -> AccountSnapshot:
    """Three kinds of call whatever the account size: balance, the campaign pages, grouped statistics.

    The window is the whole ad days (as the account counts them) before the one `now` falls in; campaigns
    are read in `statuses` (those that left working, for the spend ledger) and analysed when working.
    `held_window`: the window's rows as the caller already holds them (the spend ledger), so the window is
    not asked again. `with_today`: today so far is read too (grouped by campaign), for the spend ledger.
    """
    now = now or datetime.now(timezone.utc)
    window_from, window_to = trailing_window(ad_day.today(now), window_days)
    unreadable: list[UnreadableItem] = []
    try:
        async with asyncio.TaskGroup() as group:
            balance_task = group.create_task(api.balance())
            campaigns_task = group.create_task(api.campaigns(statuses=list(statuses), unreadable=unreadable))
            # One statistics query at a time: two at once against a limit of 2 a minute meet more 429s.
            stats_task = group.create_task(
                _statistics(api, ad_day, now, window_from, window_to, held_window, with_today, unreadable)
            )
    except BaseExceptionGroup as failed:
        # The first failure is the one to report; the others were cancelled because of it.
        raise failed.exceptions[0] from None
    balance, campaigns = balance_task.result(), campaigns_task.result()
    rows, today_rows = stats_task.result()
    return AccountSnapshot(
        balance=balance,
        # The status filter is a server-side courtesy; the analysis relies only on what it checks.
        campaigns=[c for c in campaigns if c.is_working],
        stats=sum_by_campaign(rows),
        window_from=window_from,
        window_to=window_to,
        taken_at=now,
        stat_names={r.campaign_id: r.campaign_name for r in rows if r.campaign_id and r.campaign_name},
        unreadable=unreadable,
        seen=campaigns,
        today=today_rows,
    )


async def _statistics(
    api: PropellerAdsClient,
    ad_day: AdDay,
    now: datetime,
    window_from: date,
    window_to: date,
    held_window: Sequence[StatisticsRow] | None,
    with_today: bool,
    unreadable: list[UnreadableItem],
) -> tuple[list[StatisticsRow], list[StatisticsRow] | None]:
    """The window's rows (asked unless held) and today's (when wanted), one query after the other."""
    if held_window is None:
        rows = await api.statistics(window_from, window_to, group_by=("campaign_id",), ad_day=ad_day, unreadable=unreadable)
    else:
        rows = list(held_window)
    if not with_today:
        return rows, None
    today = ad_day.today(now)
    return rows, await api.statistics(today, today, group_by=("campaign_id",), ad_day=ad_day, unreadable=unreadable)
