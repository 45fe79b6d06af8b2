"""A store for one ad account reads and writes only that account's rows, on SQLite and on PostgreSQL;
migration 0007 gives the rows written before it to the account `default`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from core.ledger_types import DailyRow
from core.proposals import AuditAction, AuditEntry, ProposalState
from core.store import Store
from core.store.migrate import alembic_config
from core.store.tables import Base, ProposalRow
from tests.core.test_store import TTL, candidate, connect, db_url  # noqa: F401  (db_url is a fixture)
from tests.harness import NOW


@pytest.fixture
async def both(db_url: str) -> AsyncIterator[tuple[Store, Store]]:
    base = await connect(db_url)
    yield base.for_account("acme"), base.for_account("beta")
    await base.close()


async def test_the_same_campaign_has_an_open_proposal_in_each_account(both: tuple[Store, Store]) -> None:
    acme, beta = both
    made_a = (await acme.save_candidates([candidate(101, "100.00", "120.00")], now=NOW, ttl=TTL)).created
    made_b = (await beta.save_candidates([candidate(101, "50.00", "40.00")], now=NOW, ttl=TTL)).created

    assert len(made_a) == len(made_b) == 1
    assert [p.to_amount for p in await acme.proposals([ProposalState.PENDING])] == [Decimal("120.00")]
    assert [p.to_amount for p in await beta.proposals([ProposalState.PENDING])] == [Decimal("40.00")]
    assert [e.action for e in await acme.history()] == [AuditAction.PROPOSED]
    assert await acme.count(ProposalRow) == await beta.count(ProposalRow) == 1


async def test_an_account_cannot_read_or_move_another_accounts_proposal(both: tuple[Store, Store]) -> None:
    acme, beta = both
    (mine,) = (await acme.save_candidates([candidate(101)], now=NOW, ttl=TTL)).created

    assert await beta.get(mine.id) is None
    assert await beta.transition(mine.id, [ProposalState.PENDING], ProposalState.REJECTED, now=NOW) is None
    assert await beta.expire_due(NOW + TTL * 2) == []
    assert await beta.claim_telling(mine.id, NOW, NOW + timedelta(seconds=30)) is None
    assert (await acme.get(mine.id)).state is ProposalState.PENDING

    moved = await acme.transition(mine.id, [ProposalState.PENDING], ProposalState.REJECTED, now=NOW)
    assert moved is not None and moved.state is ProposalState.REJECTED
    assert await beta.history() == []


async def test_audit_entries_recorded_by_an_account_stay_its_own(both: tuple[Store, Store]) -> None:
    acme, beta = both
    (mine,) = (await acme.save_candidates([candidate(101)], now=NOW, ttl=TTL)).created
    await beta.record(AuditEntry.of(mine, NOW, "U0BETA", AuditAction.REJECTED, outcome=ProposalState.REJECTED))
    assert [e.actor for e in await beta.history()] == ["U0BETA"]
    assert [e.action for e in await acme.history(campaign_id=101)] == [AuditAction.PROPOSED]


async def test_alerts_switches_and_runs_of_the_same_name_are_kept_per_account(both: tuple[Store, Store]) -> None:
    acme, beta = both
    assert await acme.put_alert("low_balance", severity=2, active=True, summary="acme low", now=NOW, expected=None)
    assert await beta.put_alert("low_balance", severity=1, active=True, summary="beta low", now=NOW, expected=None)
    assert (await acme.alerts())["low_balance"].summary == "acme low"
    assert (await beta.alerts())["low_balance"].summary == "beta low"
    told = await acme.claim_alerts_telling(["low_balance"], NOW, NOW + timedelta(seconds=30))
    assert [a.summary for a in told] == ["acme low"]
    assert [a.summary for a in await beta.claim_alerts_telling(["low_balance"], NOW, NOW)] == ["beta low"]
    await acme.alert_told("low_balance", (2, True), message=("C0ACME", "1.0001"))
    assert [a.key for a in await acme.alerts_in_message("C0ACME", "1.0001")] == ["low_balance"]
    assert await beta.alerts_in_message("C0ACME", "1.0001") == []
    assert await beta.snooze_alert("low_balance", "U0BETA", None) is not None
    assert (await acme.alerts())["low_balance"].acknowledged_by is None

    await acme.set_switch("automation", "on", "U0ACME", NOW)
    assert (await acme.switch("automation")).value == "on"
    assert await beta.switch("automation") is None
    await beta.set_switch("automation", "off", "U0BETA", NOW)
    assert (await acme.switch("automation")).value == "on"

    assert await acme.claim_run("health_check", "2025-09-29T10:00Z", "replica-1", NOW)
    assert not await beta.has_run("health_check", "2025-09-29T10:00Z")
    assert await beta.claim_run("health_check", "2025-09-29T10:00Z", "replica-1", NOW)
    assert not await acme.claim_run("health_check", "2025-09-29T10:00Z", "replica-2", NOW)


async def test_each_account_has_its_own_spend_ledger(both: tuple[Store, Store]) -> None:
    acme, beta = both
    day = date(2025, 9, 28)
    row = DailyRow(campaign_id=101, day=day, spent=Decimal("12.500"), impressions=10, clicks=2, conversions=1)
    await acme.ledger.upsert_days([row], NOW)
    assert [r.spent for r in await acme.ledger.days(day, day)] == [Decimal("12.500")]
    assert await beta.ledger.days(day, day) == []


def test_migration_gives_the_rows_written_before_it_to_the_default_account(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
        connection.execute(text("INSERT INTO alerts (key, severity, active, summary, raised_at, updated_at) "
                                "VALUES ('low_balance', 2, 1, 'low', '2025-09-29 10:00:00', '2025-09-29 10:00:00')"))
        connection.execute(text("INSERT INTO job_runs (job, slot, claimed_by, claimed_at) "
                                "VALUES ('health_check', 's1', 'r1', '2025-09-29 10:00:00')"))
        command.upgrade(config, "head")
        assert connection.execute(text("SELECT account, key FROM alerts")).all() == [("default", "low_balance")]
        assert connection.execute(text("SELECT account, finished_at FROM job_runs")).all() == [("default", None)]
        command.downgrade(config, "0006")
        assert connection.execute(text("SELECT key FROM alerts")).all() == [("low_balance",)]
    engine.dispose()


async def test_todays_increases_and_each_rules_last_verdict_are_counted_per_account(both: tuple[Store, Store]) -> None:
    acme, beta = both
    (mine,) = (await acme.save_candidates([candidate(101, "100.00", "120.00")], now=NOW, ttl=TTL)).created
    await acme.record(AuditEntry.of(mine, NOW, "U0ACME", AuditAction.APPLIED, outcome=ProposalState.APPLIED))
    assert await acme.increased_since(NOW - timedelta(hours=1)) == Decimal("20.00")
    assert await beta.increased_since(NOW - timedelta(hours=1)) == Decimal("0.00")
    assert set(await acme.last_fired(["cpa-target"])) == {"cpa-target"}
    assert await beta.last_fired(["cpa-target"]) == {}


async def test_the_migrations_create_exactly_the_tables_the_store_maps(db_url: str) -> None:
    store = await connect(db_url)
    try:
        async with store.engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await store.close()
    assert [d for d in differences if d[0] != "remove_table" or d[1].name != "alembic_version"] == []
