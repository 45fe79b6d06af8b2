"""The App Home tab of one user: the account now, and what can be acted on from there."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from bot.accounts import Account
from bot.notify import SLACK_FAILURES
from core.errors import PropellerAdsError
from handlers.context import BotContext

log = logging.getLogger(__name__)


HOME_READ_SECONDS = 8.0
"""How long App Home waits for one ad account's read before it shows that account as not read."""
HOME_READS_AT_ONCE = 8


async def publish_home(ctx: BotContext, client: AsyncWebClient, user: str, *, notice: str | None = None) -> bool:
    """Health and pacing now, pending proposals with their buttons, open alerts with their menus, and the automation
    switch (its button for approvers); `notice` on top says what the user's last click there did. With several ad
    accounts, each one the user may see, side by side."""
    if ctx.accounts is not None and len(ctx.accounts) > 1:
        return await _publish(client, user, await _accounts_home(ctx, user, notice))
    report, today, error = None, None, None
    try:
        report = await ctx.service.health()
        today = await ctx.service.money_today(report.balance)
    except PropellerAdsError as exc:
        error = exc
    view = render.home_view(
        report, await ctx.service.pending_proposals(), error, today, currency=ctx.settings.currency,
        automation=await ctx.service.automation(), may_switch=ctx.service.may_decide(user),
        open_alerts=await ctx.service.open_alerts(), notice=notice,
        now=ctx.service.clock(), zone=ctx.settings.zone, chart=ctx.notifier.latest_chart,
    )
    return await _publish(client, user, view)


async def _accounts_home(ctx: BotContext, user: str, notice: str | None) -> dict[str, Any]:
    """Every ad account the user approves for (all of them for someone who approves for none), each read at most
    HOME_READ_SECONDS and a few at once, so one slow account leaves the others on the screen."""
    assert ctx.accounts is not None
    accounts = [a for a in ctx.accounts if a.service.may_decide(user)] or list(ctx.accounts)
    gate = asyncio.Semaphore(HOME_READS_AT_ONCE)

    async def read(account: Account) -> render.AccountHome:
        service = account.service
        report, error = None, None
        async with gate:
            try:
                report = await asyncio.wait_for(service.health(), HOME_READ_SECONDS)
            except PropellerAdsError as exc:
                error = str(exc)
            except asyncio.TimeoutError:
                error = f"PropellerAds did not answer within {HOME_READ_SECONDS:g} s"
        return render.AccountHome(
            account.name, report, error, await service.pending_proposals(), await service.open_alerts(),
            may_decide=service.may_decide(user), currency=account.settings.currency,
        )

    homes = await asyncio.gather(*(read(a) for a in accounts[: render.HOME_ACCOUNTS]))
    return render.accounts_home(homes, more=len(accounts) - len(homes), notice=notice)


async def _publish(client: AsyncWebClient, user: str, view: dict[str, Any]) -> bool:
    try:
        await client.views_publish(user_id=user, view=view)
    except SLACK_FAILURES as exc:
        why = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        log.error("could not publish the App Home of %s: %s", user, why)
        return False
    return True
