"""Fixtures for the ad platform sandbox tests: hand-moved clocks and sandboxes running over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx
import pytest

from sandbox.adplatform import (
    DEFAULT_RATE_LIMITS,
    PLATFORM_KEY,
    SANDBOX_KEY,
    Account,
    ManualClock,
    Sandbox,
    SandboxConfig,
    start_sandbox,
)
from sandbox.serving import BackgroundServer

NOON = datetime(2025, 9, 29, 12, 0, tzinfo=timezone.utc)
TOKEN = "test-token"


@dataclass
class Running:
    """A started sandbox with an API client (base URL …/v5, bearer token set) and an admin client (…/_sandbox)."""

    server: BackgroundServer
    api: httpx.Client
    admin: httpx.Client
    timeout: float = 10.0
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    @property
    def state(self) -> Sandbox:
        return self.server.app[SANDBOX_KEY]

    def api_as(self, token: str) -> httpx.Client:
        """An API client (base URL …/v5) that sends `token`, for sandboxes serving several accounts."""
        if token not in self.clients:
            self.clients[token] = httpx.Client(
                base_url=self.server.url + "/v5", headers={"Authorization": f"Bearer {token}"}, timeout=self.timeout
            )
        return self.clients[token]

    def state_of(self, token: str) -> Sandbox:
        found = self.server.app[PLATFORM_KEY].by_token(token)
        assert found is not None, "no account behind that token"
        return found

    def close(self) -> None:
        for client in (self.api, self.admin, *self.clients.values()):
            client.close()


@pytest.fixture
def clock() -> ManualClock:
    """The sandbox's clock: 2025-09-29 12:00 UTC until a test moves it."""
    return ManualClock(NOON)


@pytest.fixture
def rate_clock() -> ManualClock:
    """The rate-limit windows' clock, kept apart from the sandbox clock as in production."""
    return ManualClock(NOON)


@pytest.fixture
def relaxed(rate_clock: ManualClock) -> Callable[..., SandboxConfig]:
    """A config whose rate limits never get in the way, for tests about something else."""

    def make(**overrides: object) -> SandboxConfig:
        limits = {name: 100_000 for name in DEFAULT_RATE_LIMITS}
        return SandboxConfig(rate_limits=limits, rate_clock=rate_clock.timestamp, **overrides)  # type: ignore[arg-type]

    return make


@pytest.fixture
def launch(clock: ManualClock, relaxed: Callable[..., SandboxConfig]) -> Iterator[Callable[..., Running]]:
    """Starts sandboxes (seeded from the clock unless given an account, or several `accounts` by token) and stops
    them after the test; `api` then sends the first account's token."""
    started: list[Running] = []

    def start(
        account: Account | None = None,
        *,
        config: SandboxConfig | None = None,
        token: str = TOKEN,
        accounts: Mapping[str, Account] | None = None,
        timeout: float = 10.0,
        **kwargs: object,
    ) -> Running:
        config = config or relaxed()
        if accounts is not None:
            server = start_sandbox(accounts=accounts, config=config, clock=clock, **kwargs)  # type: ignore[arg-type]
            token = next(iter(accounts))
        else:
            server = start_sandbox(account, token=token, config=config, clock=clock, **kwargs)  # type: ignore[arg-type]
        running = Running(
            server=server,
            api=httpx.Client(
                base_url=server.url + "/v5", headers={"Authorization": f"Bearer {token}"}, timeout=timeout
            ),
            admin=httpx.Client(base_url=server.url + "/_sandbox", timeout=timeout),
            timeout=timeout,
        )
        started.append(running)
        return running

    yield start
    for running in started:
        running.close()
        running.server.stop()
