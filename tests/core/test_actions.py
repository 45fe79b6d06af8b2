"""Pause, resume and undo through the exactly-once executor, against the sandbox ad platform over HTTP.

Stopping and starting go through `PUT /adv/campaigns/stop` and `/play`, verified by re-reading the
campaign's status; an undo is a proposal of its own that reverses an applied one, once, and only
while PropellerAds still shows what the bot set.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from typing import Any

from bot.render import decision_words as words
from core.policy import Guardrails
from core.proposals import ActionKind, Outcome, ProposalState
from sandbox.adplatform import STOPPED, WORKING
from tests.core.executor_support import LOSER, WINNER, Ads, Process, propose, trail
from tests.harness import APPROVER

PAUSE_102 = replace(LOSER, action=ActionKind.PAUSE, to_amount=LOSER.from_amount, reason="Spent 1,050.00 in 7 days without a conversion.")


def puts(ads: Ads, what: str) -> list[Any]:
    return ads.sandbox.requests.entries("PUT", f"/adv/campaigns/{what}")


def status(ads: Ads, campaign_id: int) -> int:
    return ads.sandbox.account.campaigns[campaign_id].status


async def test_a_pause_approved_five_times_at_once_stops_the_campaign_with_one_request(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store, PAUSE_102)
    decisions = await asyncio.gather(*(process.executor.approve(p.id, APPROVER) for _ in range(5)))
    assert [d.outcome for d in decisions].count(Outcome.APPLIED) == 1
    assert [r.body for r in puts(ads, "stop")] == [{"campaign_ids": [102]}]
    assert status(ads, 102) == STOPPED
    final = await process.store.get(p.id)
    assert final is not None and final.detail == "verified: the live status matches"
    [done] = [d for d in decisions if d.outcome is Outcome.APPLIED]
    assert words(done) == "Approved by <@U0APPROVER> and applied: campaign stopped."
    assert ads.patches() == []


async def test_a_pause_of_a_campaign_already_stopped_is_stale_without_a_request(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store, PAUSE_102)
    ads.sandbox.account.set_status([102], STOPPED, ads.sandbox.now())
    decision = await process.executor.approve(p.id, APPROVER)
    assert decision.outcome is Outcome.STALE
    assert decision.detail == "the campaign is no longer working (now stopped)"
    assert puts(ads, "stop") == []


async def test_undo_restores_the_daily_budget_once(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store, LOSER)  # 200.00 → 160.00
    assert (await process.executor.approve(p.id, APPROVER)).outcome is Outcome.APPLIED

    undos = await asyncio.gather(*(process.executor.undo(p.id, APPROVER) for _ in range(3)))
    assert [u.outcome for u in undos].count(Outcome.APPLIED) == 1
    assert {u.outcome for u in undos} == {Outcome.APPLIED, Outcome.CANNOT_UNDO}
    assert ads.budget(102) == Decimal("200.00")
    assert [r.body for r in ads.patches(102)] == [{"limit_daily_amount": 160.0}, {"limit_daily_amount": 200.0}]
    [done] = [u for u in undos if u.outcome is Outcome.APPLIED]
    assert done.proposal is not None and done.proposal.undoes == p.id
    assert words(done) == f"Undone by <@U0APPROVER>: daily budget 160.00 → 200.00 (proposal #{p.id} reversed)."
    assert [a for a, _, _ in await trail(process.store, done.proposal.id)] == ["approved", "applied"]

    again = await process.executor.undo(p.id, APPROVER)
    assert again.outcome is Outcome.CANNOT_UNDO and len(ads.patches(102)) == 2


async def test_undo_refuses_when_someone_changed_the_budget_since(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store, LOSER)
    await process.executor.approve(p.id, APPROVER)
    ads.set_budget(102, "170.00")
    decision = await process.executor.undo(p.id, APPROVER)
    assert decision.outcome is Outcome.CANNOT_UNDO and decision.is_private
    assert decision.detail == (
        "PropellerAds now shows a daily budget of 170.00, not the 160.00 the bot set; someone changed it since"
    )
    assert len(ads.patches(102)) == 1 and ads.budget(102) == Decimal("170.00")


async def test_undo_is_exempt_from_the_step_limit_but_not_from_the_maximum(db_url: str, ads: Ads, clock: Any) -> None:
    process = await Process(db_url, ads, clock, guardrails=Guardrails()).start()
    try:
        [p] = await propose(process.store, WINNER)  # 100.00 → 120.00
        await process.executor.approve(p.id, APPROVER)
    finally:
        await process.stop()
    # Since then the step limit became 5%: 120.00 → 100.00 is a 17% step, and an undo may take it.
    strict = await Process(db_url, ads, clock, guardrails=Guardrails(max_change_percent=Decimal("5"))).start()
    try:
        assert (await strict.executor.undo(p.id, APPROVER)).outcome is Outcome.APPLIED
        assert ads.budget(101) == Decimal("100.00")
    finally:
        await strict.stop()


async def test_undo_of_a_pause_starts_the_campaign_again(process: Process, ads: Ads) -> None:
    [p] = await propose(process.store, PAUSE_102)
    await process.executor.approve(p.id, APPROVER)
    decision = await process.executor.undo(p.id, APPROVER)
    assert decision.outcome is Outcome.APPLIED
    assert decision.proposal is not None and decision.proposal.action is ActionKind.RESUME
    assert [r.body for r in puts(ads, "play")] == [{"campaign_ids": [102]}]
    assert status(ads, 102) == WORKING
    assert (await process.store.get(p.id)).state is ProposalState.APPLIED  # type: ignore[union-attr]
