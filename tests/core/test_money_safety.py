"""Paths that once wrote a daily budget nobody approved, each pinned over HTTP against the sandbox ad platform.

Every test here plays the attacker or the unlucky team: clicks at the same moment, writes that time out
and land later, an approval of a copy someone edited since, a reconciliation during a slow write, a
balance that fell after the proposal, a database that fails after the write.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.render import decision_words as words
from core.policy import Candidate, Direction, Evidence, Guardrails
from core.proposals import Outcome, Proposal, ProposalState
from core.service import BudgetService, ServiceConfig
from core.store import Store
from tests.core.executor_support import LOSER, TTL, WINNER, Ads, Process, propose, trail
from tests.harness import APPROVER, NOW

# Campaign 102 at 200.00 a day, raised by 20.00: the same size of increase as WINNER's, on another campaign.
RAISE_102 = Candidate(
    102, "Loser DE", "cpa-target", Direction.INCREASE, Decimal("200.00"), Decimal("220.00"),
    "CPA 7.00 beats the 10.00 target.", Evidence(7, Decimal("700"), 100, Decimal("7"), Decimal("10"), Decimal("0.9")),
)
CAP_30 = Guardrails(max_daily_increase=Decimal("30.00"))
OTHER_APPROVER = "U0OTHERAPPROVER"


async def applied_increases(store: Store) -> Decimal:
    return sum(
        (e.to_amount - e.from_amount for e in await store.history(limit=100)
         if e.action == "applied" and e.to_amount is not None and e.from_amount is not None and e.to_amount > e.from_amount),
        Decimal(0),
    )


# --- 1. today's increase cap is checked and claimed atomically ----------------------------------------


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_two_increases_approved_at_once_never_pass_the_cap_together(
    database: str, db_url: str, ads: Ads, clock: Any, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if database == "postgres" else db_url
    ads.sandbox.faults.latency_by_endpoint = {"campaign": 0.05}  # the window in which both once read the cap
    replicas = [await Process(url, ads, clock, guardrails=CAP_30).start() for _ in range(2)]
    try:
        first, second = await propose(replicas[0].store, WINNER, RAISE_102)
        decisions = await asyncio.gather(
            replicas[0].executor.approve(first.id, APPROVER), replicas[1].executor.approve(second.id, APPROVER)
        )
        assert sorted(d.outcome.value for d in decisions) == ["applied", "stale"]
        [refused] = [d for d in decisions if d.outcome is Outcome.STALE]
        assert "of the 30.00 cap, so 20.00 more would cross it" in (refused.detail or "")
        assert len(ads.patches()) == 1
        assert await applied_increases(replicas[0].store) == Decimal("20.00")
    finally:
        for r in replicas:
            await r.stop()


# --- 2. an increase that timed out counts, and rests the campaign, until it is known ---------------------


async def test_an_unconfirmed_increase_counts_against_the_cap_and_rests_the_campaign(
    db_url: str, ads: Ads, clock: Any
) -> None:
    process = await Process(db_url, ads, clock, guardrails=CAP_30, lease=timedelta(minutes=2)).start()
    try:
        [p] = await propose(process.store, WINNER)
        # Every try of the write loses its connection: PropellerAds may or may not have it.
        ads.sandbox.faults.fail_next("PATCH", "/adv/campaigns/101", drop=True, times=4)
        decision = await process.executor.approve(p.id, APPROVER)
        assert decision.outcome is Outcome.UNCONFIRMED
        assert (await process.store.get(p.id)).state is ProposalState.UNCONFIRMED  # type: ignore[union-attr]
        ads.set_budget(101, "120.00")  # ...and the write lands after all

        # The same day: another +20.00 would cross the 30.00 cap with the unconfirmed +20.00.
        [other] = await propose(process.store, RAISE_102)
        refused = await process.executor.approve(other.id, APPROVER)
        assert refused.outcome is Outcome.STALE
        assert "already add 20.00 of the 30.00 cap" in (refused.detail or "")
        # The campaign whose write is unconfirmed gets no new proposal.
        again = await process.store.save_candidates([WINNER], now=NOW, ttl=TTL)
        assert again.created == [] and again.kept == []
        assert len(ads.patches(102)) == 0

        # Once its lease lapses, reconciliation reads the live budget and records what happened.
        clock.advance(minutes=3)
        [settled] = await process.executor.reconcile()
        assert settled.outcome is Outcome.APPLIED
        assert (await process.store.get(p.id)).detail == "confirmed later: the live daily budget matches"  # type: ignore[union-attr]
        assert await applied_increases(process.store) == Decimal("20.00")
    finally:
        await process.stop()


async def test_an_unconfirmed_write_that_never_lands_fails_after_it_settles(db_url: str, ads: Ads, clock: Any) -> None:
    process = await Process(db_url, ads, clock, lease=timedelta(minutes=2)).start()
    try:
        [p] = await propose(process.store, LOSER)
        ads.sandbox.faults.fail_next("PATCH", "/adv/campaigns/102", drop=True, times=4)
        assert (await process.executor.approve(p.id, APPROVER)).outcome is Outcome.UNCONFIRMED
        clock.advance(minutes=3)
        assert await process.executor.reconcile() == []  # may still land: it waits
        clock.advance(minutes=30)
        [failed] = await process.executor.reconcile()
        assert failed.outcome is Outcome.FAILED
        assert failed.detail == "the write never landed: PropellerAds still shows 200.00"
        assert words(failed) == (
            "Approved by <@U0APPROVER> but not applied: the write never landed: PropellerAds still shows 200.00."
        )
    finally:
        await process.stop()


# --- 3. an approval is bound to the version the approver saw -----------------------------------------------


async def test_an_approval_of_a_copy_edited_since_is_refused_with_the_proposal_as_it_is_now(
    db_url: str, ads: Ads, clock: Any
) -> None:
    store = Store.connect(db_url)
    await store.migrate()
    from core.propellerads import PropellerAdsClient
    from tests.core.executor_support import FAST_RETRIES, TOKEN

    api = PropellerAdsClient(TOKEN, ads.url, options=FAST_RETRIES)
    service = BudgetService(
        api, store, ServiceConfig(approvers=frozenset({APPROVER, OTHER_APPROVER})), clock=clock
    )
    try:
        [p] = await propose(store, LOSER)  # 200.00 → 160.00, a cut
        seen = p.version
        edited = await service.edit_amount(p.id, OTHER_APPROVER, "300")  # another approver makes it an increase
        assert edited.error is None and edited.proposal is not None and edited.proposal.version == seen + 1

        decision, _ = await service.decide(p.id, APPROVER, approve=True, version=seen)
        assert decision.outcome is Outcome.OUTDATED and decision.is_private
        assert words(decision) == (
            "This proposal changed since you saw it: it now proposes 200.00 → 300.00 (amount set by <@U0OTHERAPPROVER>). "
            "Nothing was changed; decide on it as it is now."
        )
        assert ads.patches() == [] and ads.budget(102) == Decimal("200.00")
        assert (await store.get(p.id)).state is ProposalState.PENDING  # type: ignore[union-attr]

        # A reject of the old copy changes nothing either; the current version can be decided on.
        stale_reject, _ = await service.decide(p.id, APPROVER, approve=False, version=seen)
        assert stale_reject.outcome is Outcome.OUTDATED
        current, _ = await service.decide(p.id, APPROVER, approve=True, version=seen + 1)
        assert current.outcome is Outcome.APPLIED and ads.budget(102) == Decimal("300.00")
    finally:
        await api.aclose()
        await store.close()


# --- 4. reconciliation never takes over a write that is still running ---------------------------------------


async def test_reconciliation_during_a_slow_write_leaves_it_alone(db_url: str, ads: Ads, clock: Any) -> None:
    beats: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()

    async def controlled_sleep(_seconds: float) -> None:
        """The heartbeat's wait between renewals, ended by the test instead of by time."""
        tick: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await beats.put(tick)
        await tick

    lease = timedelta(seconds=30)
    writer = await Process(db_url, ads, clock, lease=lease, sleep=controlled_sleep).start()
    other = await Process(db_url, ads, clock, lease=lease).start()
    try:
        [p] = await propose(writer.store, LOSER)
        gate = ads.sandbox.faults.hold("campaign_update")
        approving = asyncio.create_task(writer.executor.approve(p.id, APPROVER))
        assert await asyncio.to_thread(gate.arrived.wait, 10), "the write never reached PropellerAds"

        # The write takes ten minutes: far past the lease, which the running apply keeps renewing.
        first_beat = await asyncio.wait_for(beats.get(), 10)
        clock.advance(minutes=10)
        first_beat.set_result(None)
        await asyncio.wait_for(beats.get(), 10)  # renewed, and waiting for the next beat

        assert await other.executor.reconcile() == []
        gate.release()
        decision = await asyncio.wait_for(approving, 30)
        assert decision.outcome is Outcome.APPLIED
        assert len(ads.patches()) == 1
        assert [a for a, _, _ in await trail(writer.store, p.id)] == ["proposed", "approved", "applied"]
    finally:
        await writer.stop()
        await other.stop()


async def test_an_apply_whose_process_stopped_renewing_is_finished_by_another(db_url: str, ads: Ads, clock: Any) -> None:
    lease = timedelta(seconds=30)
    process = await Process(db_url, ads, clock, lease=lease).start()
    try:
        [p] = await propose(process.store, LOSER)
        # A claim as a process leaves it when it dies right after: applying, with a lease nobody renews.
        claimed = await process.store.transition(
            p.id, [ProposalState.PENDING], ProposalState.APPLYING, now=NOW, decided_by=APPROVER, decided_at=NOW,
            lease_owner=None, lease_until=NOW + lease,
        )
        assert claimed is not None
        assert await process.executor.reconcile() == []  # the lease still holds
        clock.advance(lease)
        [decision] = await process.executor.reconcile()
        assert decision.outcome is Outcome.APPLIED and len(ads.patches()) == 1
    finally:
        await process.stop()


# --- 5. every guardrail holds again at write time, on fresh reads --------------------------------------------


async def test_the_balance_guard_is_checked_again_on_a_fresh_balance_at_approval(db_url: str, ads: Ads, clock: Any) -> None:
    process = await Process(db_url, ads, clock, guardrails=Guardrails()).start()
    try:
        [p] = await propose(process.store, WINNER)  # 100.00 → 120.00, fine against a 5,000.00 balance
        ads.sandbox.account.balance = Decimal("1100.00")  # 1,100 / 3 days - 350.00 of daily budgets = 16.66 of room
        decision = await process.executor.approve(p.id, APPROVER)
        assert decision.outcome is Outcome.STALE
        assert decision.detail == (
            "the guardrails now allow at most 116.66 (trimmed to keep 3 days of budget covered by the balance)"
        )
        assert ads.patches() == [] and ads.budget(101) == Decimal("100.00")
    finally:
        await process.stop()


async def test_a_change_past_the_step_limit_is_not_written_whatever_the_store_holds(db_url: str, ads: Ads, clock: Any) -> None:
    process = await Process(db_url, ads, clock, guardrails=Guardrails(max_change_percent=Decimal("10"))).start()
    try:
        [p] = await propose(process.store, WINNER)  # +20% against a 10% step limit set since
        decision = await process.executor.approve(p.id, APPROVER)
        assert decision.outcome is Outcome.STALE
        assert decision.detail == "the guardrails now allow at most 110.00 (trimmed to the 10% largest step)"
        assert ads.patches() == []
    finally:
        await process.stop()


# --- 6. a change that happened is never reported as not made --------------------------------------------------


class DatabaseGoneAfterTheWrite(Store):
    """A store whose database stops answering just as the outcome of a write is recorded."""

    async def transition(self, proposal_id: int, from_states: Any, to_state: Any, **kwargs: Any) -> Proposal | None:
        if to_state is ProposalState.APPLIED:
            raise OperationalError("UPDATE proposals", {}, ConnectionRefusedError("the database is unreachable"))
        return await super().transition(proposal_id, from_states, to_state, **kwargs)


async def test_a_write_that_could_not_be_recorded_is_reported_as_applied_and_recorded_later(
    db_url: str, ads: Ads, clock: Any
) -> None:
    failing = await Process(db_url, ads, clock, lease=timedelta(seconds=30)).start()
    await failing.store.close()
    failing.store = failing.executor.store = DatabaseGoneAfterTheWrite(Store.connect(db_url).engine)
    try:
        [p] = await propose(failing.store, LOSER)
        decision = await failing.executor.approve(p.id, APPROVER)
        assert (decision.outcome, decision.recorded) == (Outcome.APPLIED, False)
        assert words(decision) == (
            "Approved by <@U0APPROVER> and applied: daily budget 200.00 → 160.00. "
            "The bot could not record it yet; the next check finishes the record."
        )
    finally:
        await failing.stop()

    clock.advance(seconds=30)
    after = await Process(db_url, ads, clock, lease=timedelta(seconds=30)).start()
    try:
        [recorded] = await after.executor.reconcile()
        assert recorded.outcome is Outcome.APPLIED and recorded.recorded
        assert len(ads.patches()) == 1
    finally:
        await after.stop()
