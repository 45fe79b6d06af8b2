"""The spend ledger on SQLite and PostgreSQL, and its sync from the sandbox over real HTTP: backfill in chunks
with tz, today's rows and samples, the hourly re-read of the last days."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from core.adday import AdDay
from core.ledger import LedgerSync
from core.ledger_types import DailyRow, IntradaySample
from core.models import Campaign as ApiCampaign, sum_by_campaign
from core.propellerads import PropellerAdsClient
from core.store import Store
from core.store.ledger import Coverage, SpendLedger
from core.store.ledger_tables import SpendCoverageRow, SpendDayRow, SpendSampleRow
from sandbox.adplatform import SANDBOX_KEY, Account, Campaign, ManualClock, SpendProfile
from sandbox.serving import BackgroundServer
from tests.core.conftest import relaxed_sandbox

EST = AdDay.parse("-05:00")
TODAY = date(2025, 9, 29)
NOW = EST.start(TODAY) + timedelta(hours=10)
TOKEN = "ledger-test-token"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    store = Store.connect(db_url)
    await store.migrate()
    yield store
    await store.close()


@pytest.fixture
def ledger(store: Store) -> SpendLedger:
    return SpendLedger(store.engine)


def row(campaign_id: int, day: date, spent: str, **more: object) -> DailyRow:
    return DailyRow(campaign_id, day, Decimal(spent), **more)  # type: ignore[arg-type]


def sample(campaign_id: int, minutes: int, spent: str, conversions: int = 0, status: int = 6) -> IntradaySample:
    at = NOW + timedelta(minutes=minutes)
    return IntradaySample(campaign_id, at, EST.today(at), Decimal(spent), conversions, status)


# --- storage ------------------------------------------------------------------------------------------


async def test_the_migration_creates_exactly_the_ledger_tables(store: Store) -> None:
    wanted = MetaData()
    for table in (SpendDayRow, SpendSampleRow, SpendCoverageRow):
        table.__table__.to_metadata(wanted)

    def ours(name: str | None, kind: str, parent: object) -> bool:
        return kind != "table" or name in wanted.tables

    async with store.engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"include_name": ours}), wanted)
        )

    assert differences == []


async def test_daily_rows_keep_spend_to_the_mill_and_update_in_place(ledger: SpendLedger) -> None:
    first = row(1, TODAY, "97.137", impressions=188_809, conversions=23, daily_budget=Decimal("150.5"), status=6, name="A")
    await ledger.upsert_days([first], NOW)
    await ledger.upsert_days([row(1, TODAY, "120.001", impressions=200_000, conversions=25)], NOW + timedelta(hours=1))

    [found] = await ledger.days(TODAY, TODAY)

    assert (found.spent, found.impressions, found.conversions) == (Decimal("120.001"), 200_000, 25)
    # Statistics alone say nothing of status or name, and only fill in a daily budget.
    assert (found.daily_budget, found.status, found.name) == (Decimal("150.50"), 6, "A")


async def test_a_daily_budget_seen_replaces_the_last_one_even_when_the_limit_is_gone(ledger: SpendLedger) -> None:
    await ledger.upsert_days([row(1, TODAY, "1", daily_budget=Decimal(100), status=6)], NOW, seen=True)
    await ledger.upsert_days([row(1, TODAY, "2", daily_budget=None, status=7)], NOW, seen=True)

    [found] = await ledger.days(TODAY, TODAY)

    assert (found.daily_budget, found.status) == (None, 7)


async def test_accounts_are_kept_apart(store: Store) -> None:
    first, second = SpendLedger(store.engine, "first"), SpendLedger(store.engine, "second")

    await first.upsert_days([row(1, TODAY, "10")], NOW)
    await second.upsert_days([row(1, TODAY, "20")], NOW)
    await second.record_samples([sample(1, 0, "20")])

    assert [r.spent for r in await first.days(TODAY, TODAY)] == [Decimal(10)]
    assert [r.spent for r in await second.days(TODAY, TODAY)] == [Decimal(20)]
    assert await first.samples(NOW - timedelta(days=1)) == []


async def test_samples_are_kept_only_when_something_moved(ledger: SpendLedger) -> None:
    written = [
        await ledger.record_samples([sample(1, 0, "5"), sample(2, 0, "1")]),
        await ledger.record_samples([sample(1, 15, "5"), sample(2, 15, "2")]),  # 1 did not move
        await ledger.record_samples([sample(1, 30, "5", status=7)]),  # its status did
        await ledger.record_samples([sample(1, 45, "5", conversions=1, status=7)]),
    ]

    found = await ledger.samples(NOW - timedelta(hours=1))

    assert written == [2, 1, 1, 1]
    assert [(s.campaign_id, s.at - NOW, s.spent) for s in found] == [
        (1, timedelta(0), Decimal(5)),
        (2, timedelta(0), Decimal(1)),
        (2, timedelta(minutes=15), Decimal(2)),
        (1, timedelta(minutes=30), Decimal(5)),
        (1, timedelta(minutes=45), Decimal(5)),
    ]
    assert all(s.at.tzinfo is not None for s in found)


async def test_a_new_day_s_first_sample_is_kept_even_unchanged(ledger: SpendLedger) -> None:
    midnight = EST.end(TODAY)
    before = IntradaySample(1, midnight - timedelta(minutes=5), TODAY, Decimal(0), 0, 6)
    after = IntradaySample(1, midnight + timedelta(minutes=5), TODAY + timedelta(days=1), Decimal(0), 0, 6)

    assert [await ledger.record_samples([before]), await ledger.record_samples([after])] == [1, 1]


async def test_samples_older_than_8_days_are_pruned(ledger: SpendLedger) -> None:
    old = IntradaySample(1, NOW - timedelta(days=8, minutes=1), TODAY - timedelta(days=8), Decimal(1), 0, 6)
    recent = IntradaySample(1, NOW - timedelta(days=7), TODAY - timedelta(days=7), Decimal(2), 0, 6)
    await ledger.record_samples([old])
    await ledger.record_samples([recent])

    pruned = await ledger.prune(NOW)

    assert pruned == 1
    assert [s.spent for s in await ledger.samples(NOW - timedelta(days=30))] == [Decimal(2)]


async def test_coverage_grows_by_touching_ranges_and_restarts_past_a_hole(ledger: SpendLedger) -> None:
    day = TODAY - timedelta(days=10)

    first = await ledger.cover(day, day + timedelta(days=3))
    joined = await ledger.cover(day - timedelta(days=4), day - timedelta(days=1))
    settled = await ledger.cover(day + timedelta(days=4), day + timedelta(days=5), settled_at=NOW)
    apart = await ledger.cover(TODAY - timedelta(days=2), TODAY - timedelta(days=1))

    assert first == Coverage(day, day + timedelta(days=3))
    assert joined == Coverage(day - timedelta(days=4), day + timedelta(days=3))
    assert settled == Coverage(day - timedelta(days=4), day + timedelta(days=5), NOW)
    assert apart == Coverage(TODAY - timedelta(days=2), TODAY - timedelta(days=1), NOW)
    assert await ledger.coverage() == apart


# --- sync from the sandbox over HTTP --------------------------------------------------------------------


def sandbox_account() -> Account:
    """Two campaigns spending 240 a day (10 an hour), a conversion per 10 spent; 1 without a daily limit."""
    campaigns = [Campaign(id=1, name="One", limit_daily_amount=None), Campaign(id=2, name="Two", limit_daily_amount="500")]
    account = Account(balance="5000.00", campaigns=campaigns)
    for campaign_id in (1, 2):
        account.simulate(campaign_id, SpendProfile(demand=Decimal(240), cpa=Decimal(10)))
    return account


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def ads(clock: ManualClock) -> Iterator[BackgroundServer]:
    with relaxed_sandbox(sandbox_account(), clock, TOKEN) as server:
        yield server


@pytest.fixture
async def api(ads: BackgroundServer) -> AsyncIterator[PropellerAdsClient]:
    async with PropellerAdsClient(TOKEN, ads.url + "/v5") as client:
        yield client


def statistics_asked(ads: BackgroundServer) -> list[tuple[str, str, str]]:
    found = []
    for entry in ads.app[SANDBOX_KEY].requests.entries(endpoint="statistics"):
        params = dict(pair.split("=", 1) for pair in entry.query.split("&"))
        found.append((params["day_from"][:10], params["day_to"][:10], params["tz"].replace("%2B", "+")))
    return found


async def test_backfill_reads_30_days_a_week_at_a_time_with_tz_newest_first(
    ledger: SpendLedger, api: PropellerAdsClient, ads: BackgroundServer
) -> None:
    sync = LedgerSync(api, ledger, EST)

    chunks = await sync.backfill(NOW)
    again = await sync.backfill(NOW)

    assert (chunks, again) == (4, 0)
    assert statistics_asked(ads) == [
        ("2025-09-21", "2025-09-28", "-0500"),
        ("2025-09-13", "2025-09-20", "-0500"),
        ("2025-09-05", "2025-09-12", "-0500"),
        ("2025-08-30", "2025-09-04", "-0500"),
    ]
    rows = await ledger.days(date(2025, 8, 1), TODAY)
    assert len(rows) == 2 * 30
    assert {(r.spent, r.conversions) for r in rows} == {(Decimal(240), 24)}
    assert {r.daily_budget for r in rows if r.campaign_id == 2} == {Decimal(500)}
    assert await ledger.coverage() == Coverage(date(2025, 8, 30), date(2025, 9, 28))


async def test_a_stopped_backfill_goes_on_where_it_left_off(
    ledger: SpendLedger, api: PropellerAdsClient, ads: BackgroundServer
) -> None:
    assert await LedgerSync(api, ledger, EST).backfill(NOW, max_chunks=1) == 1
    # A day later, another process: yesterday is new, the older days still missing.
    later = NOW + timedelta(days=1)
    assert await LedgerSync(api, ledger, EST).backfill(later) == 4

    assert statistics_asked(ads)[1:3] == [("2025-09-29", "2025-09-29", "-0500"), ("2025-09-13", "2025-09-20", "-0500")]
    assert await ledger.coverage() == Coverage(date(2025, 8, 31), date(2025, 9, 29))


async def test_today_is_read_into_rows_and_samples(
    ledger: SpendLedger, api: PropellerAdsClient, ads: BackgroundServer, clock: ManualClock
) -> None:
    sync = LedgerSync(api, ledger, EST)
    seen = [
        ApiCampaign(id=2, name="Two", status=6, limit_daily_amount=Decimal(500)),
        ApiCampaign(id=3, name="Three", status=3),
    ]

    first = await sync.read_today(NOW, seen)
    again = await sync.read_today(NOW + timedelta(seconds=30), seen)  # nothing moved in between
    clock.advance(hours=1)
    later = await sync.read_today(NOW + timedelta(hours=1), seen)

    assert [(r.campaign_id, r.spent, r.status, r.daily_budget) for r in first] == [
        (1, Decimal(100), None, None),
        (2, Decimal(100), 6, Decimal(500)),
        (3, Decimal(0), 3, None),
    ]
    assert [r.spent for r in again] == [Decimal(100), Decimal(100), Decimal(0)]
    assert [r.spent for r in later] == [Decimal(110), Decimal(110), Decimal(0)]
    samples = await ledger.samples(NOW - timedelta(hours=1))
    assert [(s.campaign_id, s.at - NOW, s.spent) for s in samples] == [
        (1, timedelta(0), Decimal(100)),
        (2, timedelta(0), Decimal(100)),
        (3, timedelta(0), Decimal(0)),
        (1, timedelta(hours=1), Decimal(110)),
        (2, timedelta(hours=1), Decimal(110)),
    ]
    stored = {r.campaign_id: r for r in await ledger.days(TODAY, TODAY)}
    assert (stored[3].status, stored[3].name, stored[2].conversions) == (3, "Three", 11)


async def test_the_last_two_days_are_re_read_at_most_hourly(
    ledger: SpendLedger, api: PropellerAdsClient, ads: BackgroundServer
) -> None:
    sync = LedgerSync(api, ledger, EST)
    first = await sync.settle(NOW)
    # A late conversion lands on yesterday's figures.
    ads.app[SANDBOX_KEY].account.record(1, TODAY - timedelta(days=1), spent=Decimal(240), impressions=120_000, conversions=25)
    too_soon = await sync.settle(NOW + timedelta(minutes=59))
    later = await sync.settle(NOW + timedelta(hours=1))

    assert (first, too_soon, later) == (True, False, True)
    assert statistics_asked(ads) == [("2025-09-27", "2025-09-28", "-0500")] * 2
    day = TODAY - timedelta(days=1)
    assert {r.campaign_id: r.conversions for r in await ledger.days(day, day)} == {1: 25, 2: 24}
    assert (await ledger.coverage()).settled_at == NOW + timedelta(hours=1)


async def test_the_window_held_adds_up_as_the_api_s_and_is_given_only_when_every_day_is_held(
    ledger: SpendLedger, api: PropellerAdsClient, ads: BackgroundServer
) -> None:
    sync = LedgerSync(api, ledger, EST)
    first, last = TODAY - timedelta(days=7), TODAY - timedelta(days=1)
    assert await sync.held_window(first, last) is None
    # A campaign seen on a past day without spending: a zero row the API would not send.
    await ledger.upsert_days([row(3, first, "0", status=7)], NOW, seen=True)
    await sync.settle(NOW)
    assert await sync.held_window(first, last) is None, "two days held, not seven"

    await sync.backfill(NOW, max_chunks=1)
    held = await sync.held_window(first, last)
    asked = await api.statistics(first, last, group_by=("campaign_id",), ad_day=EST)

    assert held is not None
    assert sum_by_campaign(held) == sum_by_campaign(asked)
    assert {r.campaign_id for r in held} == {1, 2}
    # A new day begun, yesterday is not held yet: it is re-read at once, not an hour after the last time.
    late_evening, past_midnight = NOW + timedelta(hours=13, minutes=30), NOW + timedelta(hours=14, minutes=10)
    assert await sync.settle(late_evening)
    assert await sync.held_window(first + timedelta(days=1), last + timedelta(days=1)) is None
    assert await sync.settle(past_midnight), "40 minutes after the last, but a new day"
    assert await sync.held_window(first + timedelta(days=1), last + timedelta(days=1)) is not None
