"""Events API listeners: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from core.errors import PropellerAdsError
from handlers.common import budget
from handlers.context import BotContext



def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(home_opened)


async def home_opened(event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
    user = event.get("user")
    if event.get("tab", "home") != "home" or not user:
        return
    await publish_home(budget(context), client, user)


async def publish_home(ctx: BotContext, client: AsyncWebClient, user: str) -> None:
    """The App Home of one user: health now, pending proposals, and the automation switch (with its button for approvers)."""
    report, today, error = None, None, None
    try:
        report = await ctx.service.health()
        today = await ctx.service.money_today(report.balance)
    except PropellerAdsError as exc:
        error = exc
    pending = await ctx.service.pending_proposals()
    view = render.home_view(
        report, pending, error, today, currency=ctx.settings.currency,
        automation=await ctx.service.automation(), may_switch=ctx.service.may_decide(user),
    )
    await client.views_publish(user_id=user, view=view)
