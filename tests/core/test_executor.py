"""The executor against the sandbox ad platform over HTTP: approve, check, write, verify, record; and finishing after a restart.

The account is `exact_account`: 101 "Winner & Co <US>" at 100.00 a day, 102 "Loser DE" at 200.00.
Proposals are the two the CPA rule makes of it (101: 100.00 → 120.00, 102: 200.00 → 160.00),
saved straight into a store on a temporary SQLite file (or PostgreSQL where concurrency matters).
Each `Executor` with its own `Store` and client plays one process or replica.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.render import decision_words as words
from core.proposals import Decision, Outcome
from core.policy import Guardrails
from core.store import Store
from core.proposals import Proposal
from core.proposals import ProposalState
from sandbox.adplatform import PAUSED, ManualClock, SandboxConfig
from tests.harness import NOW
from tests.core.executor_support import (
    LOSER, TTL, Ads, Process, left_mid_apply, propose, trail,
)
from tests.harness import APPROVER


# --- the path of one approval ---------------------------------------------------------------


async def test_an_approval_writes_once_verifies_and_records_who_when_from_to_and_rule(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store)
    decision = await process.executor.approve(p.id, APPROVER)

    assert decision.outcome is Outcome.APPLIED
    assert words(decision) == "Approved by <@U0APPROVER> and applied: daily budget 100.00 → 120.00."
    assert [(r.body, r.status) for r in ads.patches()] == [({"limit_daily_amount": 120.0}, 200)]
    assert ads.budget(101) == Decimal("120.00")
    final = await process.store.get(p.id)
    assert final is not None
    assert (final.state, final.decided_by, final.decided_at, final.detail) == (
        ProposalState.APPLIED, APPROVER, NOW, "verified: the live daily budget matches",
    )
    assert await trail(process.store, p.id) == [
        ("proposed", "budget-bot", None),
        ("approved", APPROVER, None),
        ("applied", APPROVER, "verified: the live daily budget matches"),
    ]
    [applied] = [e for e in await process.store.history() if e.action == "applied"]
    assert (applied.at, applied.rule, applied.from_amount, applied.to_amount, applied.outcome) == (
        NOW, "cpa-target", Decimal("100.00"), Decimal("120.00"), ProposalState.APPLIED,
    )


async def test_a_second_approval_or_a_reject_after_it_changes_nothing(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store)
    await process.executor.approve(p.id, APPROVER)
    again = await process.executor.approve(p.id, "U0SOMEONE")
    reject = await process.executor.reject(p.id, "U0SOMEONE")
    for late in (again, reject):
        assert late.outcome is Outcome.ALREADY_DECIDED and late.is_private
        assert words(late) == "Already decided by <@U0APPROVER>: applied. Nothing more was changed."
    assert len(ads.patches()) == 1
    assert [a for a, _, _ in await trail(process.store, p.id)] == ["proposed", "approved", "applied"]


async def test_a_reject_writes_nothing_and_an_approval_after_it_is_refused(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store, LOSER)
    rejected = await process.executor.reject(p.id, APPROVER)
    assert rejected.outcome is Outcome.REJECTED
    assert words(rejected) == "Rejected by <@U0APPROVER>. The daily budget stays at 200.00."
    late = await process.executor.approve(p.id, APPROVER)
    assert late.outcome is Outcome.ALREADY_DECIDED
    assert words(late) == "Already decided by <@U0APPROVER>: rejected. Nothing more was changed."
    assert ads.sandbox.requests.entries() == []  # not even a read
    assert (await process.store.get(p.id)).state == ProposalState.REJECTED  # type: ignore[union-attr]


async def test_an_approval_after_the_time_to_live_expires_the_proposal(process: Process, ads: Ads, clock: ManualClock) -> None:
    [p] = await propose(process.store)
    clock.advance(TTL)
    decision = await process.executor.approve(p.id, APPROVER)
    assert decision.outcome is Outcome.EXPIRED and not decision.is_private
    assert words(decision) == "This proposal expired; the next check will propose again if it still applies."
    assert ads.sandbox.requests.entries() == []
    assert (await process.store.get(p.id)).state == ProposalState.EXPIRED  # type: ignore[union-attr]
    assert [a for a, _, _ in await trail(process.store, p.id)] == ["proposed", "expired"]


async def test_an_unknown_proposal_is_not_found(process: Process, ads: Ads) -> None:
    decision = await process.executor.approve(999, APPROVER)
    assert (decision.outcome, decision.proposal, words(decision)) == (Outcome.NOT_FOUND, None, "That proposal no longer exists.")


async def test_five_approvals_at_once_in_one_process_write_once(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store)
    decisions = await asyncio.gather(*(process.executor.approve(p.id, APPROVER) for _ in range(5)))
    assert sorted(d.outcome.value for d in decisions).count(Outcome.APPLIED.value) == 1
    assert {d.outcome for d in decisions} <= {Outcome.APPLIED, Outcome.IN_PROGRESS, Outcome.ALREADY_DECIDED}
    assert len(ads.patches()) == 1
    assert [a for a, _, _ in await trail(process.store, p.id)] == ["proposed", "approved", "applied"]


# --- the live campaign decides -----------------------------------------------------------------


async def test_a_budget_changed_since_the_proposal_makes_it_stale_without_a_write(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store)
    ads.set_budget(101, "110.00")
    decision = await process.executor.approve(p.id, APPROVER)

    assert decision.outcome is Outcome.STALE
    detail = "the live daily budget is 110.00, no longer the 100.00 this proposal started from"
    assert words(decision) == (
        f"Approved by <@U0APPROVER> but not applied: {detail}. The proposal is stale; the next check will look again."
    )
    assert ads.patches() == [] and ads.budget(101) == Decimal("110.00")
    final = await process.store.get(p.id)
    assert final is not None and (final.state, final.detail) == (ProposalState.STALE, detail)
    assert await trail(process.store, p.id) == [
        ("proposed", "budget-bot", None), ("approved", APPROVER, None), ("stale", APPROVER, detail),
    ]


async def test_a_campaign_stopped_since_the_proposal_makes_it_stale(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store)
    ads.sandbox.account.set_status([101], PAUSED, ads.sandbox.now())
    decision = await process.executor.approve(p.id, APPROVER)
    assert decision.outcome is Outcome.STALE
    assert (await process.store.get(p.id)).detail == "the campaign is no longer working (now paused)"  # type: ignore[union-attr]
    assert ads.patches() == []


async def test_403_on_the_write_fails_and_asks_for_an_alert(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store, LOSER)
    ads.sandbox.faults.forbid_writes = True
    decision = await process.executor.approve(p.id, APPROVER)

    assert (decision.outcome, decision.write_denied) == (Outcome.FAILED, True)
    assert words(decision) == (
        "Approved by <@U0APPROVER> but PropellerAds refused the write: insufficient permissions: Access denied."
    )
    assert [r.status for r in ads.patches()] == [403]  # a 403 is not retried
    assert ads.budget(102) == Decimal("200.00")
    final = await process.store.get(p.id)
    assert final is not None and (final.state, final.detail) == (ProposalState.FAILED, "insufficient permissions: Access denied.")


async def test_a_500_then_success_is_retried_and_applied_once(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store)
    ads.sandbox.faults.fail_next("PATCH", "/adv/campaigns/", status=500)
    decision = await process.executor.approve(p.id, APPROVER)

    assert decision.outcome is Outcome.APPLIED
    assert [(r.status, r.body) for r in ads.patches()] == [
        (500, {"limit_daily_amount": 120.0}), (200, {"limit_daily_amount": 120.0}),
    ]
    assert ads.effective_budgets(101) == [Decimal("100.00"), Decimal("120.00")]


async def test_a_write_that_landed_behind_500s_is_recognised_by_the_verify(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store)
    # Every try answers 500, but the first one took effect before the answer was lost.
    ads.sandbox.faults.fail_next("PATCH", "/adv/campaigns/", status=500, after_effect=True)
    ads.sandbox.faults.fail_next("PATCH", "/adv/campaigns/", status=500, times=3)
    decision = await process.executor.approve(p.id, APPROVER)

    assert [r.status for r in ads.patches()] == [500, 500, 500, 500]
    assert decision.outcome is Outcome.APPLIED
    assert (await process.store.get(p.id)).detail == "verified: the live daily budget matches"  # type: ignore[union-attr]
    assert ads.effective_budgets(101) == [Decimal("100.00"), Decimal("120.00")]


async def test_500s_on_every_try_leave_it_for_manual_review(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store)
    ads.sandbox.faults.fail_next("PATCH", "/adv/campaigns/", status=500, times=4)
    decision = await process.executor.approve(p.id, APPROVER)

    assert decision.outcome is Outcome.MANUAL_REVIEW
    assert (await process.store.get(p.id)).detail == "the change did not go through: Internal server error."  # type: ignore[union-attr]
    assert ads.budget(101) == Decimal("100.00")


async def test_a_verify_showing_another_amount_asks_for_manual_review(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store, LOSER)
    # PropellerAds answers 200 but keeps the old budget.
    ads.sandbox.faults.fail_next("PATCH", "/adv/campaigns/102", status=200, body='{"id":102}')
    decision = await process.executor.approve(p.id, APPROVER)

    assert decision.outcome is Outcome.MANUAL_REVIEW
    detail = "after the write PropellerAds shows a daily budget of 200.00, not 160.00"
    assert words(decision) == f"Approved by <@U0APPROVER>; needs manual review: {detail}."
    assert (await process.store.get(p.id)).state == ProposalState.MANUAL_REVIEW  # type: ignore[union-attr]
    assert [a for a, _, d in await trail(process.store, p.id)][-1] == "manual_review"
    assert len(ads.patches()) == 1


async def test_404_on_the_write_asks_for_manual_review_in_the_apis_words(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store)
    ads.sandbox.faults.fail_next("PATCH", "/adv/campaigns/101", status=404, body='{"errors":["Campaign not found."]}')
    decision = await process.executor.approve(p.id, APPROVER)

    assert decision.outcome is Outcome.MANUAL_REVIEW and not decision.write_denied
    assert (await process.store.get(p.id)).detail == "PropellerAds refused the change: Campaign not found."  # type: ignore[union-attr]
    assert words(decision) == "Approved by <@U0APPROVER>; needs manual review: PropellerAds refused the change: Campaign not found."
    assert [r.status for r in ads.patches()] == [404]


async def test_400_on_the_write_asks_for_manual_review_in_the_apis_words(db_url: str, clock: ManualClock) -> None:
    # The platform's minimum is above what the bot's guardrails allowed: a real validation answer.
    ads = Ads(SandboxConfig(rate_limits={"statistics": None}, min_daily_budget=Decimal("170")))
    process = await Process(db_url, ads, clock).start()
    try:
        [p] = await propose(process.store, LOSER)
        decision = await process.executor.approve(p.id, APPROVER)
        assert decision.outcome is Outcome.MANUAL_REVIEW
        assert (await process.store.get(p.id)).detail == (  # type: ignore[union-attr]
            "PropellerAds refused the change: limit_daily_amount: This value should be greater than or equal to 170."
        )
        assert [r.status for r in ads.patches()] == [400]
        assert ads.budget(102) == Decimal("200.00")
    finally:
        await process.stop()
        ads.server.stop()


async def test_a_campaign_gone_before_the_write_asks_for_manual_review_without_writing(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store)
    ads.sandbox.faults.fail_next("GET", "/adv/campaigns/101", status=404, body='{"errors":["Campaign not found."]}')
    decision = await process.executor.approve(p.id, APPROVER)
    assert decision.outcome is Outcome.MANUAL_REVIEW
    assert (await process.store.get(p.id)).detail == (  # type: ignore[union-attr]
        "could not read the campaign before writing: Campaign not found."
    )
    assert ads.patches() == []


# --- a restart in the middle ---------------------------------------------------------------------


async def test_a_restart_between_the_patch_and_the_record_finishes_without_writing_again(
    db_url: str, ads: Ads, clock: ManualClock
) -> None:
    before = await Process(db_url, ads, clock).start()
    [p] = await propose(before.store)
    await left_mid_apply(before.store, p, ProposalState.APPLYING, NOW)
    ads.set_budget(101, "120.00")  # the PATCH reached PropellerAds; then the process died
    await before.stop()

    clock.advance(minutes=5)
    after = await Process(db_url, ads, clock).start()
    try:
        [decision] = await after.executor.reconcile()
        assert decision.outcome is Outcome.APPLIED
        assert words(decision) == "Approved by <@U0APPROVER> and applied: daily budget 100.00 → 120.00."
        assert ads.patches() == []
        final = await after.store.get(p.id)
        assert final is not None and final.state == ProposalState.APPLIED
        assert await trail(after.store, p.id) == [
            ("proposed", "budget-bot", None),
            ("approved", APPROVER, None),
            ("applied", APPROVER, "confirmed after a restart: the live daily budget already matches"),
        ]
        assert await after.executor.reconcile() == []  # nothing left to finish
    finally:
        await after.stop()


class DiesBeforeRecording(Store):
    """A store whose process is killed just as it would record the outcome of a write."""

    async def transition(self, proposal_id: int, from_states: Any, to_state: str, **kwargs: Any) -> Proposal | None:
        if to_state == ProposalState.APPLIED:
            raise SystemExit("killed")
        return await super().transition(proposal_id, from_states, to_state, **kwargs)


async def test_a_process_killed_after_its_patch_is_finished_by_the_next_one_with_one_patch(
    db_url: str, ads: Ads, clock: ManualClock
) -> None:
    dying = await Process(db_url, ads, clock).start()
    await dying.store.close()
    dying.store = DiesBeforeRecording(Store.connect(db_url).engine)
    dying.executor.store = dying.store
    [p] = await propose(dying.store)
    with pytest.raises(SystemExit):
        await dying.executor.approve(p.id, APPROVER)
    assert (await dying.store.get(p.id)).state == ProposalState.APPLYING  # type: ignore[union-attr]
    assert len(ads.patches()) == 1
    await dying.stop()

    clock.advance(minutes=6)  # past the default reconcile_after of 5 minutes
    after = await Process(db_url, ads, clock).start()
    try:
        [decision] = await after.executor.reconcile()
        assert decision.outcome is Outcome.APPLIED
        assert len(ads.patches()) == 1
        assert ads.effective_budgets(101) == [Decimal("100.00"), Decimal("120.00")]
    finally:
        await after.stop()


@pytest.mark.parametrize("state", [ProposalState.APPROVED, ProposalState.APPLYING])
async def test_a_restart_before_the_patch_writes_exactly_once(db_url: str, ads: Ads, clock: ManualClock, state: str) -> None:
    before = await Process(db_url, ads, clock).start()
    [p] = await propose(before.store, LOSER)
    await left_mid_apply(before.store, p, state, NOW)
    await before.stop()

    clock.advance(minutes=5)
    after = await Process(db_url, ads, clock).start()
    try:
        [decision] = await after.executor.reconcile()
        assert decision.outcome is Outcome.APPLIED
        assert [r.body for r in ads.patches()] == [{"limit_daily_amount": 160.0}]
        assert ads.budget(102) == Decimal("160.00")
        assert [a for a, _, _ in await trail(after.store, p.id)] == ["proposed", "approved", "applied"]
    finally:
        await after.stop()


async def test_a_restart_finds_the_budget_changed_by_someone_else_and_calls_it_stale(
    db_url: str, ads: Ads, clock: ManualClock
) -> None:
    before = await Process(db_url, ads, clock).start()
    [p] = await propose(before.store, LOSER)
    await left_mid_apply(before.store, p, ProposalState.APPLYING, NOW)
    await before.stop()
    ads.set_budget(102, "250.00")

    clock.advance(minutes=5)
    after = await Process(db_url, ads, clock).start()
    try:
        [decision] = await after.executor.reconcile()
        assert decision.outcome is Outcome.STALE
        assert ads.patches() == []
    finally:
        await after.stop()


async def test_reconcile_leaves_alone_what_another_replica_may_still_be_applying(process: Process, ads: Ads, clock: ManualClock) -> None:
    [p] = await propose(process.store)
    await left_mid_apply(process.store, p, ProposalState.APPLYING, NOW)
    clock.advance(timedelta(minutes=2) - timedelta(microseconds=1))  # just under reconcile_after
    assert await process.executor.reconcile() == []
    assert ads.sandbox.requests.entries() == []
    clock.advance(timedelta(microseconds=1))
    assert [d.outcome for d in await process.executor.reconcile()] == [Outcome.APPLIED]


async def test_replicas_reconciling_at_once_write_once(db_url: str, ads: Ads, clock: ManualClock) -> None:
    first = await Process(db_url, ads, clock).start()
    [p] = await propose(first.store, LOSER)
    await left_mid_apply(first.store, p, ProposalState.APPLYING, NOW)
    clock.advance(minutes=5)
    others = [Process(db_url, ads, clock) for _ in range(2)]
    replicas = [first, *others]
    try:
        results: list[list[Decision]] = await asyncio.gather(*(r.executor.reconcile() for r in replicas))
        outcomes = [d.outcome for batch in results for d in batch]
        assert outcomes.count(Outcome.APPLIED) == 1
        assert [r.body for r in ads.patches()] == [{"limit_daily_amount": 160.0}]
        assert [a for a, _, _ in await trail(first.store, p.id)] == ["proposed", "approved", "applied"]
    finally:
        for r in replicas:
            await r.stop()


@pytest.mark.postgres
async def test_five_replicas_approving_at_once_on_postgresql_write_once(postgres_url: str, ads: Ads, clock: ManualClock) -> None:
    first = await Process(postgres_url, ads, clock).start()
    replicas = [first, *(Process(postgres_url, ads, clock) for _ in range(4))]
    try:
        [p] = await propose(first.store)
        decisions = await asyncio.gather(*(r.executor.approve(p.id, APPROVER) for r in replicas))
        assert [d.outcome for d in decisions].count(Outcome.APPLIED) == 1
        assert {d.outcome for d in decisions} <= {Outcome.APPLIED, Outcome.IN_PROGRESS, Outcome.ALREADY_DECIDED}
        assert len(ads.patches()) == 1
        assert [a for a, _, _ in await trail(first.store, p.id)] == ["proposed", "approved", "applied"]
    finally:
        for r in replicas:
            await r.stop()


@pytest.mark.postgres
async def test_replicas_reconciling_at_once_on_postgresql_write_once(postgres_url: str, ads: Ads, clock: ManualClock) -> None:
    first = await Process(postgres_url, ads, clock).start()
    replicas = [first, *(Process(postgres_url, ads, clock) for _ in range(2))]
    try:
        [p] = await propose(first.store, LOSER)
        await left_mid_apply(first.store, p, ProposalState.APPLYING, NOW)
        clock.advance(minutes=5)
        results = await asyncio.gather(*(r.executor.reconcile() for r in replicas))
        assert [d.outcome for batch in results for d in batch].count(Outcome.APPLIED) == 1
        assert len(ads.patches()) == 1
    finally:
        for r in replicas:
            await r.stop()


async def test_an_increase_past_todays_cap_is_not_written_even_when_approved(
    db_url: str, ads: Ads, clock: ManualClock
) -> None:
    # The cap is 15.00 a day; Winner's proposal adds 20.00 (100.00 → 120.00), e.g. after an edit.
    capped = await Process(db_url, ads, clock, guardrails=Guardrails(max_daily_increase=Decimal("15.00"))).start()
    try:
        [p] = await propose(capped.store)
        decision = await capped.executor.approve(p.id, APPROVER)
        assert decision.outcome is Outcome.STALE
        assert "15.00 cap" in words(decision) and "20.00 more" in words(decision)
        assert ads.patches() == []
        assert ads.budget(101) == Decimal("100.00")
    finally:
        await capped.stop()


async def test_an_increase_within_todays_cap_is_written(db_url: str, ads: Ads, clock: ManualClock) -> None:
    capped = await Process(db_url, ads, clock, guardrails=Guardrails(max_daily_increase=Decimal("20.00"))).start()
    try:
        [p] = await propose(capped.store)
        assert (await capped.executor.approve(p.id, APPROVER)).outcome is Outcome.APPLIED
        assert len(ads.patches(101)) == 1
    finally:
        await capped.stop()
