"""Builds and runs the Slack stand-in's aiohttp app: in a test thread, or on the demo's own loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from sandbox.serving import BackgroundServer
from sandbox.slack import page, webapi
from sandbox.slack.model import User
from sandbox.slack.standin import STANDIN, SlackStandIn


@web.middleware
async def _learn_own_url(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Response URLs need the stand-in's address; when no runner told us, the first request does."""
    standin = request.app[STANDIN]
    if standin.base_url is None:
        standin.base_url = f"{request.scheme}://{request.host}"
    return await handler(request)


def create_app(
    *,
    bot_url: str | None,
    signing_secret: str,
    bot_token: str,
    channel_id: str = "C0BUDGET",
    channel_name: str = "budget",
    users: Sequence[User | Mapping[str, Any]] | None = None,
    command: str = "/budget",
) -> web.Application:
    """The stand-in as an aiohttp app; its SlackStandIn is `app[STANDIN]` (or `standin_of(app)`).

    `bot_url` is where Slack would post commands, interactions and events (Bolt's
    `/slack/events`); it may be None now and set later as `standin.bot_url`.
    """
    standin = SlackStandIn(
        bot_url=bot_url,
        signing_secret=signing_secret,
        bot_token=bot_token,
        channel_id=channel_id,
        channel_name=channel_name,
        users=users,
        command=command,
    )
    app = web.Application(middlewares=[_learn_own_url])
    app[STANDIN] = standin

    async def attach(_: web.Application) -> None:
        await standin.attach()

    async def closing(_: web.Application) -> None:
        await standin.closing()

    async def detach(_: web.Application) -> None:
        await standin.detach()

    app.on_startup.append(attach)
    app.on_shutdown.append(closing)
    app.on_cleanup.append(detach)
    webapi.add_routes(app)
    page.add_routes(app)
    return app


def standin_of(app: web.Application) -> SlackStandIn:
    return app[STANDIN]


def start_standin(*, port: int = 0, **options: Any) -> tuple[BackgroundServer, SlackStandIn]:
    """Serves a stand-in from a background thread (stop it with `server.stop()`).

    Takes create_app's keyword arguments; port 0 picks a free port, `server.url` tells it.
    """
    app = create_app(**options)
    server = BackgroundServer(app, port=port).start()
    standin = app[STANDIN]
    standin.base_url = server.url
    return server, standin


@asynccontextmanager
async def running(app: web.Application, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serves `app` on the current loop for the block's duration; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = runner.addresses[0][1]
        url = f"http://{host}:{bound_port}"
        app[STANDIN].base_url = url
        yield url
    finally:
        await runner.cleanup()


async def serve(
    app: web.Application,
    *,
    host: str = "127.0.0.1",
    port: int = 3001,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serves the stand-in on the current loop until cancelled; `on_ready` gets its URL."""
    async with running(app, host=host, port=port) as url:
        if on_ready is not None:
            on_ready(url)
        await asyncio.Event().wait()
