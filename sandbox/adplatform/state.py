"""What a running sandbox holds: per account (behind its token) the account, faults, log and limits; the rules it runs by."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.adplatform.account import Account
from sandbox.adplatform.clock import Clock
from sandbox.adplatform.faults import Faults
from sandbox.adplatform.ratelimit import RateLimit, RateLimiter
from sandbox.adplatform.requestlog import RequestLog


@dataclass
class SandboxConfig:
    """Platform rules that tests may change. `rate_limits` is laid over DEFAULT_RATE_LIMITS (None lifts one)."""

    rate_limits: Mapping[str, RateLimit | int | None] = field(default_factory=dict)
    rate_clock: Callable[[], float] = time.time
    """Unix seconds for rate-limit windows: real time unless a test injects e.g. ManualClock.timestamp."""
    min_daily_budget: Decimal = Decimal(10)
    max_daily_budget: Decimal = Decimal(10_000)
    max_page_size: int = 1000
    """The largest campaign page granted; a bigger `page_size` is answered with pages of this size."""
    tz_max_days: int = 7
    """Largest gap in days between day_from and day_to for which `tz` is accepted."""
    fault_seed: int = 0
    state_file: Path | None = None
    """Where the account is saved after every change, if anywhere."""


@dataclass
class Sandbox:
    """One account the sandbox serves behind its token, with its own faults, request log and rate-limit windows.

    The first (or only) account is `app[SANDBOX_KEY]`; all of them are `app[PLATFORM_KEY]`.
    """

    account: Account
    token: str
    config: SandboxConfig
    clock: Clock
    faults: Faults
    requests: RequestLog
    limiter: RateLimiter
    endpoints: dict[Any, str] = field(default_factory=dict)
    """Route object → endpoint name, for rate limits, faults and the request log."""
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    """Set on shutdown, so answers held back by added latency do not hold the shutdown up."""

    def now(self) -> datetime:
        return self.clock()

    def changed(self) -> None:
        """Saves the account when a state file is configured."""
        if self.config.state_file is not None:
            self.account.save(self.config.state_file, saved_at=self.now().isoformat())


class Platform:
    """Every account one sandbox serves, in the order given; the first answers admin calls that name none."""

    def __init__(self, sandboxes: list[Sandbox]) -> None:
        if not sandboxes:
            raise ValueError("the sandbox needs at least one account")
        tokens = [s.token for s in sandboxes]
        if len(set(tokens)) != len(tokens):
            raise ValueError("each sandbox account needs its own token")
        self.sandboxes = sandboxes

    @property
    def first(self) -> Sandbox:
        return self.sandboxes[0]

    def by_token(self, token: str) -> Sandbox | None:
        # Looked up on each call, not indexed: tests swap an account's token while the server runs.
        for sandbox in self.sandboxes:
            if sandbox.token == token:
                return sandbox
        return None

    def by_authorization(self, header: str | None) -> Sandbox | None:
        """The account whose token the `Authorization: Bearer …` header carries, if any."""
        if header is None or not header.startswith("Bearer "):
            return None
        return self.by_token(header.removeprefix("Bearer "))

    def closing(self) -> None:
        for sandbox in self.sandboxes:
            sandbox.closing.set()


SANDBOX_KEY = web.AppKey("sandbox", Sandbox)
PLATFORM_KEY = web.AppKey("platform", Platform)
SERVING_KEY = web.RequestKey("serving", Sandbox)
"""The account a request is answered for: its token's for the API, the `account` query's for admin routes."""

