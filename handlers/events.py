"""Events API listeners: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from core.errors import PropellerAdsError
from handlers.common import budget



def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(home_opened)


async def home_opened(event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
    user = event.get("user")
    if event.get("tab", "home") != "home" or not user:
        return
    ctx = budget(context)
    report, today, error = None, None, None
    try:
        report = await ctx.service.health()
        today = await ctx.service.money_today(report.balance)
    except PropellerAdsError as exc:
        error = exc
    pending = await ctx.service.pending_proposals()
    await client.views_publish(user_id=user, view=render.home_view(report, pending, error, today, currency=ctx.settings.currency))
