"""The App Home tab of one user: the account now, and what can be acted on from there."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from bot.notify import SLACK_FAILURES
from core.errors import PropellerAdsError
from handlers.context import BotContext

log = logging.getLogger(__name__)


async def publish_home(ctx: BotContext, client: AsyncWebClient, user: str, *, notice: str | None = None) -> bool:
    """Health and pacing now, pending proposals with their buttons, open alerts with their menus, and the automation
    switch (its button for approvers); `notice` on top says what the user's last click there did."""
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
        now=ctx.service.clock(), zone=ctx.settings.zone,
    )
    try:
        await client.views_publish(user_id=user, view=view)
    except SLACK_FAILURES as exc:
        why = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        log.error("could not publish the App Home of %s: %s", user, why)
        return False
    return True
