"""Events API listeners: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.common import budget
from handlers.home import publish_home


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(home_opened)


async def home_opened(event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
    user = event.get("user")
    if event.get("tab", "home") != "home" or not user:
        return
    await publish_home(budget(context), client, user)
