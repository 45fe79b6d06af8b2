"""Shared pieces for the core tests: the client's fake clock whose sleep only records, a respx-backed client,
the sandbox with its rate limits out of the way, and the executor's sandbox and bot process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import respx

from core.propellerads import ClientOptions, PropellerAdsClient
from sandbox.adplatform import DEFAULT_RATE_LIMITS, Account, ManualClock, SandboxConfig, start_sandbox
from sandbox.serving import BackgroundServer
from tests.core.executor_support import Ads, Process

BASE_URL = "https://ssp-api.propellerads.com/v5"
# Distinctive enough that finding it in any message can only mean a leak.
TOKEN = "pa-TOKEN-7f3a9c51e2d04b88-never-print"


class FakeClock:
    """Stands in for time.time and asyncio.sleep: sleeping moves the clock on at once."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def api_clock() -> FakeClock:
    """The client's own clock and sleep (rate-limit waits, retries), which move only when it sleeps."""
    return FakeClock(1_759_190_000.0)


@pytest.fixture
def mock_ads() -> Iterator[respx.MockRouter]:
    """The ad platform, mocked with respx for narrow client cases; unmatched requests fail the test."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def make_client(clock: FakeClock, options: ClientOptions | None = None, token: str = TOKEN) -> PropellerAdsClient:
    return PropellerAdsClient(token, BASE_URL, options=options, sleep=clock.sleep, clock=clock)


@pytest.fixture
async def api(api_clock: FakeClock, mock_ads: respx.MockRouter) -> AsyncIterator[PropellerAdsClient]:
    async with make_client(api_clock) as client:
        yield client


@contextmanager
def relaxed_sandbox(account: Account, clock: ManualClock, token: str) -> Iterator[BackgroundServer]:
    """The sandbox on 127.0.0.1 serving `account` on `clock`, no rate limit in the way of tests about something else."""
    limits = {name: 100_000 for name in DEFAULT_RATE_LIMITS}
    server = start_sandbox(account, token=token, config=SandboxConfig(rate_limits=limits), clock=clock)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ads() -> Iterator[Ads]:
    """The sandbox ad platform over HTTP on 127.0.0.1, serving `exact_account`."""
    running = Ads()
    try:
        yield running
    finally:
        running.server.stop()


@pytest.fixture
async def process(db_url: str, ads: Ads, clock: ManualClock) -> AsyncIterator[Process]:
    """One bot process on a fresh store: its executor's lease is two minutes."""
    running = await Process(db_url, ads, clock, lease=timedelta(minutes=2)).start()
    yield running
    await running.stop()
