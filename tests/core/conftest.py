"""Shared pieces for the core tests: a fake clock whose sleep only records, a respx-backed client, and the
sandbox with its rate limits out of the way."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
import respx

from core.propellerads import ClientOptions, PropellerAdsClient
from sandbox.adplatform import DEFAULT_RATE_LIMITS, Account, ManualClock, SandboxConfig, start_sandbox
from sandbox.serving import BackgroundServer

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
def clock() -> FakeClock:
    return FakeClock(1_759_190_000.0)


@pytest.fixture
def ads() -> Iterator[respx.MockRouter]:
    """The ad platform, mocked; unmatched requests fail the test."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def make_client(clock: FakeClock, options: ClientOptions | None = None, token: str = TOKEN) -> PropellerAdsClient:
    return PropellerAdsClient(token, BASE_URL, options=options, sleep=clock.sleep, clock=clock)


@pytest.fixture
async def api(clock: FakeClock, ads: respx.MockRouter) -> AsyncIterator[PropellerAdsClient]:
    async with make_client(clock) as client:
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
