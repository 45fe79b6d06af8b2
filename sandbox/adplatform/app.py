"""Entry points: the sandbox (one account or several) as an aiohttp app, a background server for tests, a blocking `serve()`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.adplatform.account import Account
from sandbox.adplatform.admin import ADMIN_ROUTES
from sandbox.adplatform.api import ADMIN_PREFIX, API_PREFIX, API_ROUTES, api_middleware
from sandbox.adplatform.clock import Clock, SpeedClock, utc_now
from sandbox.adplatform.faults import Faults
from sandbox.adplatform.ratelimit import DEFAULT_RATE_LIMITS, RateLimiter
from sandbox.adplatform.requestlog import RequestLog
from sandbox.adplatform.state import PLATFORM_KEY, SANDBOX_KEY, Platform, Sandbox, SandboxConfig
from sandbox.serving import BackgroundServer

DEFAULT_TOKEN = "sandbox-token"


def create_app(
    account: Account | None = None,
    *,
    token: str | None = None,
    accounts: Mapping[str, Account] | None = None,
    config: SandboxConfig | None = None,
    clock: Clock | None = None,
) -> web.Application:
    """The sandbox as an aiohttp app: one `account` behind `token`, or several `accounts` by token.

    The first account's state is `app[SANDBOX_KEY]`; every account's is in `app[PLATFORM_KEY]`.
    """
    by_token = _accounts_by_token(account, token, accounts)
    config = config or SandboxConfig()
    if config.state_file is not None and len(by_token) > 1:
        raise ValueError("a state file keeps one account: leave it out when serving several")
    clock = clock or utc_now
    endpoints: dict[Any, str] = {}
    platform = Platform(
        [
            Sandbox(
                account=each,
                token=each_token,
                config=config,
                clock=clock,
                faults=Faults(seed=config.fault_seed),
                requests=RequestLog(),
                limiter=RateLimiter({**DEFAULT_RATE_LIMITS, **config.rate_limits}, clock=config.rate_clock),
                endpoints=endpoints,
            )
            for each_token, each in by_token.items()
        ]
    )
    app = web.Application(middlewares=[api_middleware])
    app[PLATFORM_KEY] = platform
    app[SANDBOX_KEY] = platform.first
    for method, path, handler, endpoint in API_ROUTES:
        route = app.router.add_route(method, API_PREFIX + path, handler)
        endpoints[route] = endpoint
    for method, path, handler in ADMIN_ROUTES:
        app.router.add_route(method, ADMIN_PREFIX + path, handler)

    async def stop_waiting(_: web.Application) -> None:
        platform.closing()

    app.on_shutdown.append(stop_waiting)
    return app


def _accounts_by_token(
    account: Account | None, token: str | None, accounts: Mapping[str, Account] | None
) -> dict[str, Account]:
    if accounts is None:
        if account is None:
            raise ValueError("the sandbox needs an account")
        if not token:
            raise ValueError("the sandbox needs a token to expect")
        return {token: account}
    if account is not None or token is not None:
        raise ValueError("give the sandbox one account and its token, or several accounts by token, not both")
    if not accounts:
        raise ValueError("the sandbox needs at least one account")
    if not all(accounts):
        raise ValueError("every sandbox account needs a token")
    return dict(accounts)


def seeded_accounts(
    count: int, campaigns: int = 30, seed: int = 7, *, now: datetime | None = None, token: str = DEFAULT_TOKEN
) -> dict[str, Account]:
    """`count` seeded accounts behind tokens `{token}-1` … `{token}-{count}`, each from its own seed."""
    if count < 1:
        raise ValueError("the sandbox needs at least one account")
    now = now or utc_now()
    return {f"{token}-{n}": Account.seeded(campaigns, seed + n - 1, now=now) for n in range(1, count + 1)}


def start_sandbox(
    account: Account | None = None,
    *,
    token: str = DEFAULT_TOKEN,
    accounts: Mapping[str, Account] | None = None,
    config: SandboxConfig | None = None,
    clock: Clock | None = None,
    campaigns: int = 30,
    seed: int = 7,
    port: int = 0,
) -> BackgroundServer:
    """A running sandbox on 127.0.0.1; the API is at `server.url + "/v5"`.

    It serves `accounts` by token when given, else `account` (seeded unless given) behind `token`.
    """
    if accounts is not None:
        if account is not None:
            raise ValueError("give the sandbox one account or several accounts by token, not both")
        app = create_app(accounts=accounts, config=config, clock=clock)
    else:
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
    accounts: int | None = None,
    config: SandboxConfig | None = None,
) -> None:
    """Runs the sandbox on host:port until interrupted (Ctrl-C), printing one line once it listens.

    With `state_file` the account is loaded from it when it exists, else seeded and written there, and
    saved after every change and on exit. `speed` 60 makes a real second a sandbox minute. With
    `accounts` N it serves N seeded accounts of `campaigns` each behind tokens `{token}-1` … `{token}-N`
    (kept in memory only).
    """
    if accounts is not None and state_file:
        raise ValueError("a state file keeps one account: leave it out when serving several")
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
    pace = f", time x{speed:g}" if speed != 1 else ""
    if accounts is not None:
        by_token = seeded_accounts(accounts, campaigns, seed, now=clock(), token=token)
        app = create_app(accounts=by_token, config=config, clock=clock)
        tokens = list(by_token)
        named = f"token {tokens[0]!r}" if len(tokens) == 1 else f"tokens {tokens[0]!r} … {tokens[-1]!r}"
        served = f"{len(tokens)} accounts of {campaigns} campaigns, {named}"
    else:
        if account is None:
            account = Account.seeded(campaigns, seed, now=clock())
        app = create_app(account, token=token, config=replace(config or SandboxConfig(), state_file=path), clock=clock)
        sandbox = app[SANDBOX_KEY]
        sandbox.changed()

        async def save_on_exit(_: web.Application) -> None:
            sandbox.changed()

        app.on_cleanup.append(save_on_exit)
        served = f"token {token!r}, {len(account.campaigns)} campaigns"
    banner = (
        f"PropellerAds sandbox on http://{host}:{port}{API_PREFIX} "
        f"({served}{pace}); admin at {ADMIN_PREFIX}/. Ctrl-C stops it."
    )
    web.run_app(app, host=host, port=port, access_log=None, print=lambda *_: print(banner, flush=True))
