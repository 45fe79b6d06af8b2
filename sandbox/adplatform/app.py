"""Entry points: the sandbox as an aiohttp app, as a background server for tests, and as a blocking `serve()`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from aiohttp import web

from sandbox.adplatform.account import Account
from sandbox.adplatform.admin import ADMIN_ROUTES
from sandbox.adplatform.api import ADMIN_PREFIX, API_PREFIX, API_ROUTES, api_middleware
from sandbox.adplatform.clock import Clock, SpeedClock, utc_now
from sandbox.adplatform.faults import Faults
from sandbox.adplatform.ratelimit import DEFAULT_RATE_LIMITS, RateLimiter
from sandbox.adplatform.requestlog import RequestLog
from sandbox.adplatform.state import SANDBOX_KEY, Sandbox, SandboxConfig
from sandbox.serving import BackgroundServer

DEFAULT_TOKEN = "sandbox-token"


def create_app(
    account: Account, *, token: str, config: SandboxConfig | None = None, clock: Clock | None = None
) -> web.Application:
    """The sandbox as an aiohttp app; its state is `app[SANDBOX_KEY]`."""
    if not token:
        raise ValueError("the sandbox needs a token to expect")
    config = config or SandboxConfig()
    sandbox = Sandbox(
        account=account,
        token=token,
        config=config,
        clock=clock or utc_now,
        faults=Faults(seed=config.fault_seed),
        requests=RequestLog(),
        limiter=RateLimiter({**DEFAULT_RATE_LIMITS, **config.rate_limits}, clock=config.rate_clock),
    )
    app = web.Application(middlewares=[api_middleware])
    app[SANDBOX_KEY] = sandbox
    for method, path, handler, endpoint in API_ROUTES:
        route = app.router.add_route(method, API_PREFIX + path, handler)
        sandbox.endpoints[route] = endpoint
    for method, path, handler in ADMIN_ROUTES:
        app.router.add_route(method, ADMIN_PREFIX + path, handler)

    async def stop_waiting(_: web.Application) -> None:
        sandbox.closing.set()

    app.on_shutdown.append(stop_waiting)
    return app


def start_sandbox(
    account: Account | None = None,
    *,
    token: str = DEFAULT_TOKEN,
    config: SandboxConfig | None = None,
    clock: Clock | None = None,
    campaigns: int = 30,
    seed: int = 7,
    port: int = 0,
) -> BackgroundServer:
    """A running sandbox on 127.0.0.1 (a seeded account unless one is given); the API is at `server.url + "/v5"`."""
    if account is None:
        account = Account.seeded(campaigns, seed, now=(clock or utc_now)())
    app = create_app(account, token=token, config=config, clock=clock)
    return BackgroundServer(app, port=port).start()


def serve(
    host: str = "127.0.0.1",
    port: int = 8081,
    token: str = DEFAULT_TOKEN,
    campaigns: int = 30,
    seed: int = 7,
    state_file: str | Path | None = None,
    speed: float = 1.0,
    *,
    config: SandboxConfig | None = None,
) -> None:
    """Runs the sandbox on host:port until interrupted (Ctrl-C), printing one line once it listens.

    With `state_file` the account is loaded from it when it exists, else seeded and written there, and
    saved after every change and on exit. `speed` 60 makes a real second a sandbox minute.
    """
    path = Path(state_file) if state_file else None
    origin = utc_now()
    account = None
    if path is not None and path.exists():
        state = json.loads(path.read_text(encoding="utf-8"))
        account = Account.from_state(state)
        if state.get("saved_at"):
            # A sped-up run may have lived ahead of real time; carry on from where it stopped.
            origin = max(origin, datetime.fromisoformat(state["saved_at"]))
    clock = SpeedClock(speed, origin)
    if account is None:
        account = Account.seeded(campaigns, seed, now=clock())
    app = create_app(account, token=token, config=replace(config or SandboxConfig(), state_file=path), clock=clock)
    sandbox = app[SANDBOX_KEY]
    sandbox.changed()

    async def save_on_exit(_: web.Application) -> None:
        sandbox.changed()

    app.on_cleanup.append(save_on_exit)
    pace = f", time x{speed:g}" if speed != 1 else ""
    banner = (
        f"PropellerAds sandbox on http://{host}:{port}{API_PREFIX} "
        f"(token {token!r}, {len(account.campaigns)} campaigns{pace}); admin at {ADMIN_PREFIX}/. Ctrl-C stops it."
    )
    web.run_app(app, host=host, port=port, access_log=None, print=lambda *_: print(banner, flush=True))
