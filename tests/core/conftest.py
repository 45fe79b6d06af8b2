"""Shared pieces for the core tests: a fake clock whose sleep only records, and a respx-backed client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import respx

from core.propellerads import ClientOptions, PropellerAdsClient

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
