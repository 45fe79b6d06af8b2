"""The store's proposals: a check's candidates saved once (kept, superseded, cooled down), atomic transitions, expiry, the audit log.

Every test runs on SQLite; those about concurrency run on PostgreSQL too (`postgres` mark), with one
`Store` per simulated replica, each with its own engine and connections.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from core.policy import Candidate, Direction, Evidence
from core.store import Store
from core.proposals import BOT_ACTOR, AuditAction, AuditEntry, Proposal
from core.store.tables import AuditRow, ProposalRow
from core.proposals import ProposalState
from tests.harness import NOW

TTL = timedelta(hours=24)
APPROVER = "U0APPROVER"


def candidate(campaign_id: int = 101, from_amount: str = "100.00", to_amount: str = "120.00", *, name: str | None = None) -> Candidate:
    start, target = Decimal(from_amount), Decimal(to_amount)
    return Candidate(
        campaign_id=campaign_id,
        campaign_name=name if name is not None else f"Campaign {campaign_id}",
        rule="cpa-target",
        direction=Direction.INCREASE if target > start else Direction.DECREASE,
        from_amount=start,
        to_amount=target,
        reason="CPA 7.16 beats the 10.00 target.",
        evidence=Evidence(7, Decimal("630.00"), 88, Decimal("7.16"), Decimal("10"), Decimal("0.9")),
    )


async def connect(url: str) -> Store:
    store = Store.connect(url)
    await store.migrate()
    return store


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await connect(sqlite_url(tmp_path))
    yield s
    await s.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on SQLite and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return request.getfixturevalue("postgres_url")


async def replicas(url: str, n: int) -> list[Store]:
    first = await connect(url)  # migrate once before the others connect
    return [first, *[Store.connect(url) for _ in range(n - 1)]]


async def close_all(stores: list[Store]) -> None:
    for s in stores:
        await s.close()


async def save(store: Store, *candidates: Candidate, now: datetime = NOW):  # noqa: ANN201 - SaveOutcome
    return await store.save_candidates(candidates, now=now, ttl=TTL)


async def move(store: Store, p: Proposal, *states: str, at: datetime = NOW, **fields: Any) -> Proposal:
    """Walks a proposal through states the way the executor would, each step audited."""
    current = p
    for state in states:
        moved = await store.transition(
            current.id, [current.state], state, now=at, audit=AuditEntry.of(current, at, APPROVER, state, outcome=state), **fields
        )
        assert moved is not None, f"{current.state} → {state} refused"
        current = moved
    return current


async def actions(store: Store, proposal_id: int) -> list[str]:
    return [e.action for e in reversed(await store.history(limit=100)) if e.proposal_id == proposal_id]


# --- saving a check's candidates -----------------------------------------------------------------


async def test_a_candidate_becomes_a_pending_proposal_with_its_numbers_and_an_audit_entry(store: Store) -> None:
    outcome = await save(store, candidate(101, "100.00", "120.00", name="Winner & Co <US>"))

    assert [p.id for p in outcome.created] == [1] and outcome.kept == outcome.superseded == []
    p = await store.get(1)
    assert p is not None
    assert (p.campaign_id, p.campaign_name, p.rule, p.direction) == (101, "Winner & Co <US>", "cpa-target", "increase")
    assert (p.from_amount, p.to_amount) == (Decimal("100.00"), Decimal("120.00"))
    assert p.evidence == {
        "window_days": 7, "spent": "630.00", "conversions": 88, "cpa": "7.16", "target_cpa": "10", "budget_use": "0.9",
    }
    assert (p.state, p.created_at, p.expires_at, p.updated_at) == (ProposalState.PENDING, NOW, NOW + TTL, NOW)
    assert (p.decided_by, p.decided_at, p.channel, p.message_ts, p.notes) == (None, None, None, None, [])
    [entry] = await store.history()
    assert (entry.action, entry.outcome, entry.actor, entry.proposal_id, entry.rule) == ("proposed", ProposalState.PENDING, BOT_ACTOR, 1, "cpa-target")
    assert (entry.from_amount, entry.to_amount, entry.at) == (Decimal("100.00"), Decimal("120.00"), NOW)


async def test_money_round_trips_exactly_to_the_cent(store: Store) -> None:
    await save(store, candidate(101, "12345678.91", "9999999.99"), candidate(102, "0.10", "0.20"))
    big, small = await store.get(1), await store.get(2)
    assert big is not None and small is not None
    assert (big.from_amount, big.to_amount) == (Decimal("12345678.91"), Decimal("9999999.99"))
    assert (small.from_amount, small.to_amount) == (Decimal("0.10"), Decimal("0.20"))
    assert str(small.to_amount) == "0.20"


async def test_the_same_candidate_again_is_kept_not_posted_twice(store: Store) -> None:
    first = (await save(store, candidate())).created[0]
    again = await save(store, candidate(), now=NOW + timedelta(minutes=15))
    assert again.created == [] and again.superseded == []
    assert [p.id for p in again.kept] == [first.id]
    assert await store.count(ProposalRow) == 1
    assert await actions(store, first.id) == ["proposed"]


async def test_other_amounts_supersede_the_pending_proposal(store: Store) -> None:
    old = (await save(store, candidate(102, "200.00", "160.00"))).created[0]
    later = NOW + timedelta(minutes=15)
    outcome = await save(store, candidate(102, "300.00", "240.00"), now=later)

    [superseded] = outcome.superseded
    [new] = outcome.created
    assert (superseded.id, superseded.state, superseded.detail, superseded.updated_at) == (old.id, ProposalState.SUPERSEDED, "replaced by a newer check", later)
    assert (new.id, new.state, new.from_amount, new.to_amount) == (old.id + 1, ProposalState.PENDING, Decimal("300.00"), Decimal("240.00"))
    assert await actions(store, old.id) == ["proposed", "superseded"]
    assert [p.id for p in await store.proposals([ProposalState.PENDING])] == [new.id]


@pytest.mark.parametrize("state", [ProposalState.APPROVED, ProposalState.APPLYING])
async def test_a_campaign_with_a_change_in_flight_gets_no_new_proposal(store: Store, state: str) -> None:
    p = (await save(store, candidate())).created[0]
    states = [ProposalState.APPROVED] if state == ProposalState.APPROVED else [ProposalState.APPROVED, ProposalState.APPLYING]
    await move(store, p, *states)
    outcome = await save(store, candidate(101, "100.00", "130.00"), now=NOW + timedelta(days=3))
    assert (outcome.created, outcome.kept, outcome.superseded) == ([], [], [])
    assert (await store.get(p.id)).state == state  # type: ignore[union-attr]


async def test_a_campaign_changed_by_an_applied_proposal_rests_for_the_time_to_live(store: Store) -> None:
    p = (await save(store, candidate(102, "200.00", "160.00"))).created[0]
    await move(store, p, ProposalState.APPROVED, ProposalState.APPLYING, ProposalState.APPLIED, at=NOW + timedelta(hours=1))
    # The live budget is now 160.00 and the rule would cut again to 128.00.
    again = candidate(102, "160.00", "128.00")
    assert (await save(store, again, now=NOW + timedelta(hours=1) + TTL)).created == []
    later = await save(store, again, now=NOW + timedelta(hours=1) + TTL + timedelta(seconds=1))
    assert [(p.from_amount, p.to_amount) for p in later.created] == [(Decimal("160.00"), Decimal("128.00"))]


async def test_a_rejected_change_is_not_proposed_again_within_the_time_to_live(store: Store) -> None:
    p = (await save(store, candidate(101, "100.00", "120.00"))).created[0]
    await move(store, p, ProposalState.REJECTED)
    assert (await save(store, candidate(101, "100.00", "120.00"), now=NOW + timedelta(hours=23))).created == []
    # Another change for the same campaign is a new question.
    other = await save(store, candidate(101, "100.00", "110.00"), now=NOW + timedelta(hours=23))
    assert [(c.to_amount, c.state) for c in other.created] == [(Decimal("110.00"), ProposalState.PENDING)]


async def test_a_rejected_change_may_come_back_after_the_time_to_live(store: Store) -> None:
    p = (await save(store, candidate())).created[0]
    await move(store, p, ProposalState.REJECTED)
    back = await save(store, candidate(), now=NOW + TTL + timedelta(seconds=1))
    assert [c.id for c in back.created] == [p.id + 1]


@pytest.mark.parametrize("end", [ProposalState.EXPIRED, ProposalState.STALE])
async def test_an_expired_or_stale_proposal_does_not_block_the_next_check(store: Store, end: str) -> None:
    p = (await save(store, candidate())).created[0]
    if end == ProposalState.EXPIRED:
        await move(store, p, ProposalState.EXPIRED)
    else:
        await move(store, p, ProposalState.APPROVED, ProposalState.APPLYING, ProposalState.STALE)
    again = await save(store, candidate(), now=NOW + timedelta(minutes=15))
    assert [c.id for c in again.created] == [p.id + 1]


async def test_a_pending_amount_set_by_an_approver_survives_the_next_check(store: Store) -> None:
    """The rule still says 120.00; a person chose 110.00. The next check must not throw that away."""
    p = (await save(store, candidate(101, "100.00", "120.00"))).created[0]
    edited = await store.transition(
        p.id, [ProposalState.PENDING], ProposalState.PENDING, now=NOW + timedelta(minutes=5), not_expired=True, to_amount=Decimal("110.00"),
        edited_by=APPROVER,
        audit=AuditEntry.of(p, NOW + timedelta(minutes=5), APPROVER, AuditAction.EDITED, detail="to 110.00"),
    )
    assert edited is not None

    outcome = await save(store, candidate(101, "100.00", "120.00"), now=NOW + timedelta(minutes=15))
    assert outcome.created == [] and outcome.superseded == []
    assert [(k.id, k.to_amount) for k in outcome.kept] == [(p.id, Decimal("110.00"))]
    # Once the live budget moves, the edit answered an old question: a new proposal replaces it.
    moved = await save(store, candidate(101, "105.00", "126.00"), now=NOW + timedelta(minutes=30))
    assert [s.id for s in moved.superseded] == [p.id]
    assert [(c.from_amount, c.to_amount) for c in moved.created] == [(Decimal("105.00"), Decimal("126.00"))]


async def test_candidates_of_one_check_are_saved_independently(store: Store) -> None:
    await save(store, candidate(101))
    p = (await save(store, candidate(102, "200.00", "160.00"))).created[0]
    await move(store, p, ProposalState.APPROVED)
    outcome = await save(store, candidate(101), candidate(102, "200.00", "150.00"), candidate(103, "50.00", "40.00"))
    assert [k.campaign_id for k in outcome.kept] == [101]
    assert [c.campaign_id for c in outcome.created] == [103]


# --- transitions -----------------------------------------------------------------------------


async def test_a_transition_happens_only_from_the_named_states_and_is_audited_with_it(store: Store) -> None:
    p = (await save(store, candidate())).created[0]
    at = NOW + timedelta(minutes=1)
    won = await store.transition(
        p.id, [ProposalState.PENDING], ProposalState.APPROVED, now=at, decided_by=APPROVER, decided_at=at,
        audit=AuditEntry.of(p, at, APPROVER, "approved", outcome=ProposalState.APPROVED),
    )
    assert won is not None
    assert (won.state, won.decided_by, won.decided_at, won.updated_at) == (ProposalState.APPROVED, APPROVER, at, at)
    lost = await store.transition(
        p.id, [ProposalState.PENDING], ProposalState.REJECTED, now=at, decided_by="U0OTHER", audit=AuditEntry.of(p, at, "U0OTHER", "rejected", outcome=ProposalState.REJECTED),
    )
    assert lost is None
    assert (await store.get(p.id)).decided_by == APPROVER  # type: ignore[union-attr]
    assert await actions(store, p.id) == ["proposed", "approved"]  # the loser wrote no audit entry


async def test_a_transition_on_an_unknown_proposal_changes_nothing(store: Store) -> None:
    assert await store.transition(42, [ProposalState.PENDING], ProposalState.APPROVED, now=NOW) is None
    assert await store.get(42) is None


async def test_not_expired_refuses_at_the_expiry_instant(store: Store) -> None:
    p = (await save(store, candidate())).created[0]
    assert await store.transition(p.id, [ProposalState.PENDING], ProposalState.APPROVED, now=p.expires_at, not_expired=True) is None
    just_before = p.expires_at - timedelta(microseconds=1)
    assert (await store.transition(p.id, [ProposalState.PENDING], ProposalState.APPROVED, now=just_before, not_expired=True)) is not None


async def test_expire_due_expires_only_pending_proposals_past_their_time_to_live(store: Store) -> None:
    old = (await save(store, candidate(101))).created[0]
    approved = await move(store, (await save(store, candidate(102, "200.00", "160.00"))).created[0], ProposalState.APPROVED)
    young = (await save(store, candidate(103, "50.00", "40.00"), now=NOW + timedelta(hours=2))).created[0]

    assert await store.expire_due(NOW + TTL - timedelta(microseconds=1)) == []
    expired = await store.expire_due(NOW + TTL)
    assert [(p.id, p.state, p.detail) for p in expired] == [(old.id, ProposalState.EXPIRED, "nobody decided within its time to live")]
    assert (await store.get(approved.id)).state == ProposalState.APPROVED  # type: ignore[union-attr]
    assert (await store.get(young.id)).state == ProposalState.PENDING  # type: ignore[union-attr]
    assert await actions(store, old.id) == ["proposed", "expired"]
    assert (await store.history(101))[0].actor == BOT_ACTOR


async def test_increased_since_counts_applied_increases_only(store: Store) -> None:
    up = (await save(store, candidate(101, "100.00", "120.00"))).created[0]
    down = (await save(store, candidate(102, "200.00", "160.00"))).created[0]
    refused = (await save(store, candidate(103, "50.00", "75.00"))).created[0]
    await move(store, up, ProposalState.APPROVED, ProposalState.APPLYING)
    await store.transition(up.id, [ProposalState.APPLYING], ProposalState.APPLIED, now=NOW, audit=AuditEntry.of(up, NOW, APPROVER, "applied", outcome=ProposalState.APPLIED))
    await move(store, down, ProposalState.APPROVED, ProposalState.APPLYING)
    await store.transition(down.id, [ProposalState.APPLYING], ProposalState.APPLIED, now=NOW, audit=AuditEntry.of(down, NOW, APPROVER, "applied", outcome=ProposalState.APPLIED))
    await move(store, refused, ProposalState.APPROVED, ProposalState.APPLYING)
    await store.transition(refused.id, [ProposalState.APPLYING], ProposalState.FAILED, now=NOW, audit=AuditEntry.of(refused, NOW, APPROVER, "failed", outcome=ProposalState.FAILED))

    assert await store.increased_since(NOW) == Decimal("20.00")
    assert await store.increased_since(NOW + timedelta(microseconds=1)) == Decimal(0)


async def test_history_is_newest_first_and_filters_by_campaign(store: Store) -> None:
    a = (await save(store, candidate(101))).created[0]
    await save(store, candidate(102, "200.00", "160.00"), now=NOW + timedelta(minutes=1))
    await move(store, a, ProposalState.REJECTED, at=NOW + timedelta(minutes=2))
    assert [(e.campaign_id, e.action) for e in await store.history()] == [(101, ProposalState.REJECTED), (102, "proposed"), (101, "proposed")]
    assert [(e.campaign_id, e.action) for e in await store.history(101)] == [(101, ProposalState.REJECTED), (101, "proposed")]
    assert [e.action for e in await store.history(limit=1)] == [ProposalState.REJECTED]


# --- one open proposal per campaign, enforced by the database -----------------------------------


async def test_the_database_refuses_a_second_open_proposal_for_a_campaign(db_url: str) -> None:
    store = await connect(db_url)
    try:
        p = (await save(store, candidate())).created[0]
        with pytest.raises(IntegrityError):
            async with store.session() as s, s.begin():
                s.add(_row(p, state=ProposalState.APPLYING))
        # A closed one beside it is fine.
        async with store.session() as s, s.begin():
            s.add(_row(p, state=ProposalState.MANUAL_REVIEW))
        assert await store.count(ProposalRow) == 2
    finally:
        await store.close()


def _row(p: Proposal, *, state: str) -> ProposalRow:
    return ProposalRow(
        campaign_id=p.campaign_id, campaign_name=p.campaign_name, rule=p.rule, direction=p.direction,
        from_amount=p.from_amount, to_amount=p.to_amount, reason=p.reason, evidence="{}", notes="[]",
        state=state, created_at=NOW, expires_at=NOW + TTL, updated_at=NOW,
    )


async def test_replicas_saving_the_same_check_at_once_open_one_proposal(db_url: str) -> None:
    stores = await replicas(db_url, 5)
    try:
        outcomes = await asyncio.gather(*(save(s, candidate(101), candidate(102, "200.00", "160.00")) for s in stores))
        created = sorted((p.campaign_id for o in outcomes for p in o.created))
        assert created == [101, 102]
        open_rows = await stores[0].proposals([ProposalState.PENDING, ProposalState.APPROVED, ProposalState.APPLYING])
        assert sorted(p.campaign_id for p in open_rows) == [101, 102]
        async with stores[0].session() as s:
            proposed = (await s.scalars(select(AuditRow.campaign_id).where(AuditRow.action == "proposed"))).all()
        assert sorted(proposed) == [101, 102]
    finally:
        await close_all(stores)


async def test_replicas_superseding_at_once_leave_one_open_proposal(db_url: str) -> None:
    stores = await replicas(db_url, 5)
    try:
        await save(stores[0], candidate(102, "200.00", "160.00"))
        later = NOW + timedelta(minutes=15)
        outcomes = await asyncio.gather(*(save(s, candidate(102, "300.00", "240.00"), now=later) for s in stores))
        assert sum(len(o.created) for o in outcomes) == 1
        [open_one] = await stores[0].proposals([ProposalState.PENDING, ProposalState.APPROVED, ProposalState.APPLYING])
        assert (open_one.from_amount, open_one.to_amount) == (Decimal("300.00"), Decimal("240.00"))
        assert (await stores[0].get(1)).state == ProposalState.SUPERSEDED  # type: ignore[union-attr]
    finally:
        await close_all(stores)


async def test_five_replicas_approving_at_once_have_one_winner(db_url: str) -> None:
    stores = await replicas(db_url, 5)
    try:
        p = (await save(stores[0], candidate())).created[0]
        at = NOW + timedelta(minutes=1)
        results = await asyncio.gather(
            *(
                s.transition(
                    p.id, [ProposalState.PENDING], ProposalState.APPROVED, now=at, not_expired=True, decided_by=f"U0CLICK{i}", decided_at=at,
                    audit=AuditEntry.of(p, at, f"U0CLICK{i}", "approved", outcome=ProposalState.APPROVED),
                )
                for i, s in enumerate(stores)
            )
        )
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        final = await stores[0].get(p.id)
        assert final is not None and (final.state, final.decided_by) == (ProposalState.APPROVED, winners[0].decided_by)
        assert await actions(stores[0], p.id) == ["proposed", "approved"]
    finally:
        await close_all(stores)


async def test_a_click_landing_while_a_check_saves_is_never_overwritten(db_url: str) -> None:
    """Another replica approves between the check's read of the pending proposal and its supersede.

    Either the approval waits for the check (and then finds the proposal superseded), or the check
    sees the approval; never an approved proposal silently turned into a superseded one.
    """
    store = await connect(db_url)
    try:
        p = (await save(store, candidate(101, "100.00", "120.00"))).created[0]
        approve = _approver_on_the_side(db_url, p.id)
        fired: list[bool] = []

        @event.listens_for(store.engine.sync_engine, "after_cursor_execute")
        def approve_meanwhile(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if not fired and statement.lstrip().upper().startswith("SELECT") and "FROM proposals" in statement:
                fired.append(approve())

        outcome = await save(store, candidate(101, "100.00", "130.00"), now=NOW + timedelta(minutes=15))
        assert len(fired) == 1
        final = await store.get(p.id)
        assert final is not None
        if fired[0]:  # the click committed first: the check must leave the campaign alone
            assert (final.state, outcome.created, outcome.superseded) == (ProposalState.APPROVED, [], [])
        else:  # the click waited on the check and lost
            assert final.state == ProposalState.SUPERSEDED
            assert [(c.to_amount, c.state) for c in outcome.created] == [(Decimal("130.00"), ProposalState.PENDING)]
    finally:
        await store.close()


def _approver_on_the_side(db_url: str, proposal_id: int) -> Callable[[], bool]:
    """A click on another replica, on its own connection: True when it approved, False when it had to give up waiting."""
    sql = "UPDATE proposals SET state = 'approved', decided_by = 'U0OTHER' WHERE id = {0} AND state = 'pending'"
    if db_url.startswith("sqlite"):
        path = db_url.split(":///", 1)[1]

        def approve_sqlite() -> bool:
            with sqlite3.connect(path, timeout=0.3, isolation_level=None) as other:
                try:
                    return other.execute(sql.format("?"), (proposal_id,)).rowcount == 1
                except sqlite3.OperationalError:  # database is locked: the check holds the write lock
                    return False

        return approve_sqlite

    import psycopg

    def approve_postgres() -> bool:
        with psycopg.connect(db_url, autocommit=True) as other:
            other.execute("SET lock_timeout = '300ms'")
            try:
                return other.execute(sql.format("%s"), (proposal_id,)).rowcount == 1
            except psycopg.errors.LockNotAvailable:
                return False

    return approve_postgres
