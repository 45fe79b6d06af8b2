"""Alerts are announced once even when checks on two replicas overlap on one database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from core.propellerads import PropellerAdsClient
from core.service import BudgetService, ServiceConfig
from core.signals import SignalThresholds
from core.store import Store
from sandbox.adplatform import SandboxConfig, start_sandbox
from tests.harness import API_TOKEN, ad_today, exact_account

QUIET = SignalThresholds(enabled=False)
"""On the real clock today's spend signals depend on the hour; this test is about the health alerts."""


@asynccontextmanager
async def two_replicas(url: str, ads_url: str, config: ServiceConfig) -> AsyncIterator[list[BudgetService]]:
    """Two bot processes' services on one database, each with its own connection and client."""
    stores = [Store.connect(url), Store.connect(url)]
    await stores[0].migrate()
    services = [BudgetService(PropellerAdsClient(API_TOKEN, ads_url), store, config) for store in stores]
    try:
        yield services
    finally:
        for service in services:
            await service.api.aclose()
            await service.store.close()


async def _overlapping_checks(url: str, ads_url: str) -> list[list[str]]:
    async with two_replicas(url, ads_url, ServiceConfig(signals=QUIET)) as services:
        results = await asyncio.gather(*(service.run_check() for service in services))
        return [[f"{c.kind.value}:{c.key}" for c in r.alerts] for r in results]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_overlapping_checks_on_two_replicas_announce_each_alert_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else f"sqlite:///{tmp_path / 'bot.db'}"
    # Balance 500 against 350 of daily budgets: 1.4 days covered → low balance; 265 a day of spend:
    # 1.8 days of runway → low runway; 101 (100) and 102 (200) are more than 10% of it → at risk,
    # 103 (50) is exactly 10% → not.
    account = exact_account(ad_today(), balance="500.00")
    ads = start_sandbox(account, token=API_TOKEN, config=SandboxConfig(rate_limits={"statistics": None}))
    try:
        announced = await _overlapping_checks(url, ads.url + "/v5")
    finally:
        ads.stop()
    everything = sorted(a for replica in announced for a in replica)
    assert everything == [
        "raised:campaign_at_risk:101",
        "raised:campaign_at_risk:102",
        "raised:low_balance",
        "raised:low_runway",
    ], "each alert once, by whichever replica stored it first"


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_two_replicas_telling_at_once_tell_one_check_s_alerts_in_one_message(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else f"sqlite:///{tmp_path / 'bot.db'}"
    account = exact_account(ad_today(), balance="500.00")
    ads = start_sandbox(account, token=API_TOKEN, config=SandboxConfig(rate_limits={"statistics": None}))
    messages: list[list[str]] = []

    async def announce(changes: list) -> tuple[str, str]:  # type: ignore[type-arg]
        messages.append(sorted(c.key for c in changes))
        await asyncio.sleep(0)  # the other replica runs while this one posts
        return ("C0BUDGET", f"{len(messages)}.0")

    async def follow_up(*_: object) -> bool:
        raise AssertionError("nothing was told before: nothing to follow up")

    try:
        async with two_replicas(url, ads.url + "/v5", ServiceConfig()) as services:
            await services[0].run_check()
            await asyncio.gather(*(s.tell_alerts(announce, follow_up) for s in services))
    finally:
        ads.stop()
    [told] = messages  # one message, however the replicas interleaved
    assert {"campaign_at_risk:101", "campaign_at_risk:102", "low_balance", "low_runway"} <= set(told)
