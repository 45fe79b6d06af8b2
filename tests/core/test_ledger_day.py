"""An ad day run through the sandbox over HTTP: the ledger kept by LedgerSync every 15 minutes, and the signals
worked out from it, each for the campaign that earned it and none for the steady ones."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from core.adday import AdDay
from core.ledger import LedgerSync
from core.propellerads import PropellerAdsClient
from core.signals import SignalCode, detect
from core.store import Store
from core.store.ledger import SpendLedger
from sandbox.adplatform import Account, Campaign, ManualClock, SpendProfile
from sandbox.serving import BackgroundServer
from tests.core.conftest import relaxed_sandbox

EST = AdDay.parse("-05:00")
DAY = date(2025, 9, 29)
START = EST.start(DAY)
TOKEN = "ledger-day-token"
STEADY, STALLS, REJECTED, CAPS_EARLY, UNDERPACES, SPIKES, NEVER_CONVERTS, PACED = range(1, 9)
# What happens, at which hour of the ad day, over the sandbox's admin routes.
SCENARIOS = {
    10: [{"scenario": "stop_spending", "campaign_ids": [STALLS]}],
    11: [{"scenario": "reject", "campaign_ids": [REJECTED]}],
    12: [{"scenario": "platform_pause", "campaign_ids": [PACED], "hours": 2}],
    14: [{"scenario": "spike", "campaign_ids": [SPIKES], "factor": 6, "hours": 1}],
    15: [{"scenario": "stop_conversions"}],
}


def account() -> Account:
    """Campaigns spending 240 a day evenly against daily budgets of 300, a conversion per 10 spent, but for:
    one that wants 600 a day against 200, one that wants 100 a day, and one that never converts."""
    demand = {CAPS_EARLY: Decimal(600), UNDERPACES: Decimal(100)}
    budget = {CAPS_EARLY: Decimal(200)}
    campaigns = [Campaign(id=i, name=f"C{i}", limit_daily_amount=budget.get(i, Decimal(300))) for i in range(1, 9)]
    book = Account(balance="1500.00", campaigns=campaigns, balance_since=START)
    for i in range(1, 9):
        cpa = None if i == NEVER_CONVERTS else Decimal(10)
        book.simulate(i, SpendProfile(demand=demand.get(i, Decimal(240)), cpa=cpa))
    return book


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def ads(clock: ManualClock) -> Iterator[BackgroundServer]:
    with relaxed_sandbox(account(), clock, TOKEN) as server:
        yield server


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[SpendLedger]:
    store = Store.connect(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await store.migrate()
    yield SpendLedger(store.engine)
    await store.close()


async def test_every_signal_fires_for_the_campaign_that_earned_it_through_the_day(
    ads: BackgroundServer, clock: ManualClock, ledger: SpendLedger
) -> None:
    raised: dict[tuple[str, int | None], str] = {}
    async with PropellerAdsClient(TOKEN, ads.url + "/v5") as api, httpx.AsyncClient(base_url=ads.url) as admin:
        sync = LedgerSync(api, ledger, EST)
        assert await sync.backfill(START) > 0
        for step in range(1, 20 * 4 + 1):  # every 15 minutes until 20:00
            now = clock.advance(minutes=15)
            hour = (now - START) / timedelta(hours=1)
            for scenario in SCENARIOS.get(int(hour), []) if hour == int(hour) else []:
                assert (await admin.post("/_sandbox/scenarios", json=scenario)).status_code == 200
            await sync.read_today(now, await api.campaigns())
            rows = await ledger.days(DAY - timedelta(days=8), DAY)
            samples = await ledger.samples(now - timedelta(days=8))
            for signal in detect(now, EST, rows, samples, await api.balance()):
                raised.setdefault((signal.code.value, signal.campaign_id), EST.local(now).strftime("%H:%M"))

    by_campaign: dict[int | None, set[str]] = {}
    for code, campaign_id in raised:
        by_campaign.setdefault(campaign_id, set()).add(code)
    assert by_campaign == {
        STALLS: {"STOPPED_SPENDING", "UNDERPACING"},  # after stopping it is also on course for too little
        REJECTED: {"STATUS_CHANGED"},
        CAPS_EARLY: {"CAPPED_EARLY"},
        UNDERPACES: {"UNDERPACING"},
        SPIKES: {"SPEND_SPIKE"},
        NEVER_CONVERTS: {"SPEND_WITHOUT_CONVERSIONS"},
        None: {"BALANCE_RUNS_OUT", "CONVERSIONS_STOPPED"},
    }
    # Each when it became true: two quiet hours, a check after the news, the first interval of the spike.
    assert raised[(SignalCode.STOPPED_SPENDING.value, STALLS)] == "12:00"
    assert raised[(SignalCode.STATUS_CHANGED.value, REJECTED)] == "11:00"
    assert raised[(SignalCode.SPEND_SPIKE.value, SPIKES)] == "14:15"
    assert raised[(SignalCode.CONVERSIONS_STOPPED.value, None)] == "18:00"
