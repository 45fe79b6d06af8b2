"""Reads an account snapshot from PropellerAds: balance, working campaigns, one grouped statistics call."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone

from core.adday import UTC_DAY, AdDay
from core.health import AccountSnapshot
from core.models import CampaignStatus, UnreadableItem, sum_by_campaign
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
) -> AccountSnapshot:
    """Three kinds of call whatever the account size: balance, the campaign pages, one statistics query.

    The window is the whole ad days (as the account counts them) before the one `now` falls in; campaigns
    are read in `statuses` (those that left working, for the spend ledger) and analysed when working.
    """
    now = now or datetime.now(timezone.utc)
    window_from, window_to = trailing_window(ad_day.today(now), window_days)
    unreadable: list[UnreadableItem] = []
    try:
        async with asyncio.TaskGroup() as group:
            balance_task = group.create_task(api.balance())
            campaigns_task = group.create_task(api.campaigns(statuses=list(statuses), unreadable=unreadable))
            rows_task = group.create_task(
                api.statistics(window_from, window_to, group_by=("campaign_id",), ad_day=ad_day, unreadable=unreadable)
            )
    except BaseExceptionGroup as failed:
        # The first failure is the one to report; the others were cancelled because of it.
        raise failed.exceptions[0] from None
    balance, campaigns, rows = balance_task.result(), campaigns_task.result(), rows_task.result()
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
    )
