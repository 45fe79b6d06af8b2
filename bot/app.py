"""The Bolt app factory: one AsyncApp, request signing on, listeners registered from handlers/."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings
from handlers import register_listeners
from handlers.context import CONTEXT_KEY, BotContext


def make_web_client(settings: Settings) -> AsyncWebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )


def create_app(ctx: BotContext, client: AsyncWebClient, *, socket_mode: bool = False) -> AsyncApp:
    secret = ctx.settings.slack_signing_secret.get_secret_value() if ctx.settings.slack_signing_secret else None
    app = AsyncApp(
        client=client,
        # Socket Mode traffic is not signed; over HTTP every request must be.
        signing_secret=secret if not socket_mode else (secret or "unused-in-socket-mode"),
        request_verification_enabled=not socket_mode,
        process_before_response=False,
    )

    @app.middleware
    async def hand_over_context(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:  # noqa: A002 - Bolt's name
        context[CONTEXT_KEY] = ctx
        await next()

    register_listeners(app)
    return app
