"""Budget proposals end to end over real HTTP: `/budget check`, the buttons and the modal, between the
Slack stand-in, the bot and the sandbox ad platform.

The account is `exact_account` on a ManualClock at 2024-03-04 12:00 UTC. The CPA rule (target
10.00) proposes #1 for 102 "Loser DE": 200.00 → 160.00 (CPA 1,050.00 / 7 = 150.00, 75% of its
budget used) and #2 for 101 "Winner & Co <US>": 100.00 → 120.00 (CPA 630.00 / 88 = 7.16, 90% used).
PATCH requests are counted in the sandbox's own request log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.runtime import Runtime
from bot.scheduler import SUMMARY
from core.proposals import AuditEntry, Proposal
from core.proposals import ProposalState
from sandbox.adplatform import PAUSED, ManualClock
from sandbox.slack import Message
from tests.harness import APPROVER, CHANNEL, NOW, VIEWER, Stack, running_stack

T = TypeVar("T")

APPROVE, REJECT, EDIT = "proposal_approve", "proposal_reject", "proposal_edit"
LOSER, WINNER = 102, 101

LOSER_SECTION = ":arrow_down: *Proposal #1: Loser DE* (102)\nCPA 150.00 misses the 10.00 target by 1400%."
LOSER_FIELDS = [
    "*Current → proposed*\n200.00 → *160.00* USD",
    "*Spend, 7 days*\n1,050.00",
    "*Conversions*\n7",
    "*CPA vs target*\n150.00 vs 10.00",
    "*Budget used*\n75%",
    "*Rule*\ncpa-target",
]
WINNER_SECTION = (
    ":arrow_up: *Proposal #2: Winner &amp; Co &lt;US&gt;* (101)\n"
    "CPA 7.16 beats the 10.00 target with 88 conversions, and it spends 90% of its daily budget."
)
WINNER_FIELDS = [
    "*Current → proposed*\n100.00 → *120.00* USD",
    "*Spend, 7 days*\n630.00",
    "*Conversions*\n88",
    "*CPA vs target*\n7.16 vs 10.00",
    "*Budget used*\n90%",
    "*Rule*\ncpa-target",
]


# --- helpers ---------------------------------------------------------------------------------


def check(stack: Stack, *, expect: str | None = None) -> dict[int, Message]:
    """Runs `/budget check` as the approver; returns the channel's pending proposal messages by campaign."""
    ack = stack.slack.sync.send_command("check", user_id=APPROVER)
    assert ack.status == 200, ack
    done = stack.slack.sync.wait_for_message(lambda m: m.text.startswith("Health check done"), since=ack.mark)
    if expect is not None:
        assert done.text == f"Health check done: {expect}"
    return {p.campaign_id: message_of(stack, p) for p in pending(stack)}


def pending(stack: Stack) -> list[Proposal]:
    return stack.on_bot(lambda: stack.runtime.store.proposals([ProposalState.PENDING]))


def proposal(stack: Stack, proposal_id: int) -> Proposal:
    found = stack.on_bot(lambda: stack.runtime.store.get(proposal_id))
    assert found is not None
    return found


def message_of(stack: Stack, p: Proposal) -> Message:
    assert p.channel == CHANNEL and p.message_ts, p
    found = stack.slack.message(p.message_ts)
    assert found is not None
    return found


def audit(stack: Stack) -> list[AuditEntry]:
    """The audit log, oldest first."""
    return list(reversed(stack.on_bot(lambda: stack.runtime.store.history(limit=200))))


def actions_of(stack: Stack, proposal_id: int) -> list[str]:
    return [e.action for e in audit(stack) if e.proposal_id == proposal_id]


def patches(stack: Stack) -> list[Any]:
    return stack.requests("PATCH")


def buttons(message: Message) -> list[tuple[str, str]]:
    return [(e["action_id"], e["value"]) for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


def sections(message: Message) -> list[str]:
    return [b["text"]["text"] for b in message.blocks if b["type"] == "section" and "text" in b]


def fields(message: Message) -> list[str]:
    return [f["text"] for b in message.blocks if b["type"] == "section" for f in b.get("fields", [])]


def contexts(message: Message) -> list[str]:
    return [e["text"] for b in message.blocks if b["type"] == "context" for e in b["elements"]]


def click(stack: Stack, message: Message, action: str, *, user: str = APPROVER, value: str | None = None) -> int:
    """Clicks a button as `user`; returns the message-log mark to wait from."""
    mark = stack.slack.mark()
    ack = stack.slack.sync.click(message.ts, action, user_id=user, value=value)
    assert ack.status == 200 and ack.latency < 3, ack
    return mark


def decided(stack: Stack, message: Message, since: int) -> Message:
    """The channel message once rewritten without buttons."""
    return stack.slack.sync.wait_for_message(
        lambda m: m.ts == message.ts and not m.ephemeral and not buttons(m), since=since
    )


def private_reply(stack: Stack, user: str, since: int) -> Message:
    return stack.slack.sync.wait_for_message(lambda m: m.visible_to == user and m.via == "response_url", since=since)


def answers_to_clicks(stack: Stack, message: Message, since: int, clicks: int) -> tuple[list[Message], list[Message]] | None:
    """Once every click is answered (by redrawing the message without buttons, or privately): both kinds."""
    log = stack.slack.log[since:]
    updates = [m for m in log if m.ts == message.ts and not m.ephemeral and not buttons(m)]
    replies = [m for m in log if m.visible_to == APPROVER and m.via == "response_url"]
    return (updates, replies) if len(updates) + len(replies) >= clicks else None


def wait_until(stack: Stack, find: Callable[[], T | None], timeout: float = 10) -> T:
    """Waits on the stand-in's change events until `find` returns something."""
    deadline = time.monotonic() + timeout
    while True:
        revision = stack.slack.revision  # taken before looking, so a change in between still wakes us
        found = find()
        if found:
            return found
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("condition not met in time")
        stack.slack.sync.wait_for_change(revision, left)


def set_live_budget(stack: Stack, campaign_id: int, amount: str) -> None:
    """Someone changes the daily budget on PropellerAds' own pages (on the sandbox's loop, not via the API log)."""
    sandbox = stack.sandbox

    async def change() -> None:
        sandbox.account.update(campaign_id, sandbox.now(), limit_daily_amount=Decimal(amount))

    stack.ads.call(change)


def live_budget(stack: Stack, campaign_id: int) -> Decimal | None:
    return stack.sandbox.account.campaigns[campaign_id].limit_daily_amount


# --- /budget check -------------------------------------------------------------------------------


def test_check_posts_each_proposal_with_the_numbers_behind_it(stack: Stack) -> None:
    posted = check(stack, expect="0 alert change(s), 2 new proposal(s), 0 still waiting")

    assert sorted(posted) == [WINNER, LOSER]  # 103 is on target, 104 paused, 105 without a limit
    loser, winner = posted[LOSER], posted[WINNER]
    assert loser.text == "Proposal #1: Loser DE daily budget 200.00 → 160.00"
    assert sections(loser) == [LOSER_SECTION] and fields(loser) == LOSER_FIELDS
    assert winner.text == "Proposal #2: Winner &amp; Co &lt;US&gt; daily budget 100.00 → 120.00"
    assert sections(winner) == [WINNER_SECTION] and fields(winner) == WINNER_FIELDS
    assert buttons(winner) == [(APPROVE, "2:1"), (REJECT, "2:1"), (EDIT, "2:1")]
    assert contexts(winner) == ["Expires 2024-03-05 12:00 UTC"]
    [approve] = [e for b in winner.blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == APPROVE]
    assert approve["confirm"]["text"]["text"] == (
        "Set the daily budget of Winner &amp; Co &lt;US&gt; from 100.00 to 120.00 USD on PropellerAds."
    )
    assert patches(stack) == []  # proposing writes nothing


def test_a_second_check_keeps_what_waits_and_posts_nothing_twice(stack: Stack) -> None:
    first = check(stack)
    before = len(stack.slack.log)
    again = check(stack, expect="0 alert change(s), 0 new proposal(s), 2 still waiting")
    assert {c: m.ts for c, m in again.items()} == {c: m.ts for c, m in first.items()}
    assert [m for m in stack.slack.log[before:] if m.text.startswith("Proposal #")] == []


# --- approving ------------------------------------------------------------------------------


def test_an_approval_writes_once_and_the_message_says_who_decided_without_buttons(stack: Stack) -> None:
    winner = check(stack)[WINNER]
    after = decided(stack, winner, click(stack, winner, APPROVE))

    assert after.text == "Proposal #2 (Winner &amp; Co &lt;US&gt;): Approved by <@U0APPROVER> and applied: daily budget 100.00 → 120.00."
    assert sections(after) == [
        WINNER_SECTION,
        ":white_check_mark: Approved by <@U0APPROVER> and applied: daily budget 100.00 → 120.00.",
    ]
    assert buttons(after) == [] and contexts(after) == []
    assert [(r.path, r.body, r.status) for r in patches(stack)] == [("/v5/adv/campaigns/101", {"limit_daily_amount": 120.0}, 200)]
    assert live_budget(stack, WINNER) == Decimal("120.00")
    assert proposal(stack, 2).state == ProposalState.APPLIED
    assert actions_of(stack, 2) == ["proposed", "approved", "applied"]


def test_a_non_approver_is_told_privately_and_nothing_changes(stack: Stack) -> None:
    winner = check(stack)[WINNER]
    answers = {}
    for action in (APPROVE, REJECT, EDIT):
        answers[action] = private_reply(stack, VIEWER, click(stack, winner, action, user=VIEWER)).text
    assert answers == {
        APPROVE: "Only the configured approvers can decide on budget proposals; nothing was changed.",
        REJECT: "Only the configured approvers can decide on budget proposals; nothing was changed.",
        EDIT: "Only the configured approvers can change a proposal; nothing was changed.",
    }
    assert stack.slack.message(winner.ts) == winner  # not even redrawn
    assert stack.slack.modal(VIEWER) is None and stack.slack.calls_to("views.open") == []
    assert patches(stack) == []
    assert proposal(stack, 2).state == ProposalState.PENDING
    assert actions_of(stack, 2) == ["proposed"]
    # Every answer went to the viewer alone.
    assert [m.text for m in stack.slack.ephemerals(APPROVER) if "approvers" in m.text] == []


def test_a_double_click_writes_once_and_the_second_click_is_answered_politely(stack: Stack) -> None:
    winner = check(stack)[WINNER]
    # The write takes a moment, so the second click lands while the first is being applied.
    stack.sandbox.faults.latency_by_endpoint = {"campaign_update": 0.5}
    mark = click(stack, winner, APPROVE)
    click(stack, winner, APPROVE)

    updates, replies = wait_until(stack, lambda: answers_to_clicks(stack, winner, mark, 2))
    assert [r.text for r in replies] == ["<@U0APPROVER> already approved this; it is being applied."]
    assert [sections(u)[-1] for u in updates] == [
        ":white_check_mark: Approved by <@U0APPROVER> and applied: daily budget 100.00 → 120.00."
    ]
    assert len(patches(stack)) == 1
    assert actions_of(stack, 2) == ["proposed", "approved", "applied"]


def test_a_click_on_an_old_copy_after_the_decision_changes_nothing(stack: Stack) -> None:
    check(stack)
    ack = stack.slack.sync.send_command("proposals", user_id=APPROVER)
    listing = stack.slack.sync.wait_for_message(lambda m: m.text == "2 pending proposal(s)", since=ack.mark)
    winner = message_of(stack, proposal(stack, 2))
    decided(stack, winner, click(stack, winner, APPROVE))

    late = private_reply(stack, APPROVER, click(stack, listing, APPROVE, value="2"))
    assert late.text == "Already decided by <@U0APPROVER>: applied. Nothing more was changed."
    assert len(patches(stack)) == 1
    assert actions_of(stack, 2) == ["proposed", "approved", "applied"]


async def test_five_simultaneous_clicks_give_exactly_one_patch_and_one_applied_entry(stack: Stack) -> None:
    await five_clicks_at_once(stack)


@pytest.mark.postgres
async def test_five_simultaneous_clicks_on_postgresql_give_exactly_one_patch(
    tmp_path: Path, clock: ManualClock, postgres_url: str
) -> None:
    with running_stack(tmp_path, clock=clock, db_url=postgres_url) as stack:
        await five_clicks_at_once(stack)


async def five_clicks_at_once(stack: Stack) -> None:
    winner = check(stack)[WINNER]
    mark = stack.slack.mark()
    acks = await asyncio.gather(*(stack.slack.click(winner.ts, APPROVE, user_id=APPROVER) for _ in range(5)))
    assert [a.status for a in acks] == [200] * 5

    updates, replies = await asyncio.to_thread(wait_until, stack, lambda: answers_to_clicks(stack, winner, mark, 5))
    assert len(updates) == 1 and len(replies) == 4
    assert {r.text for r in replies} <= {
        "<@U0APPROVER> already approved this; it is being applied.",
        "Already decided by <@U0APPROVER>: applied. Nothing more was changed.",
    }
    assert len(patches(stack)) == 1
    assert [e.action for e in audit(stack) if e.proposal_id == 2] == ["proposed", "approved", "applied"]
    assert live_budget(stack, WINNER) == Decimal("120.00")


# --- what PropellerAds says decides the outcome -------------------------------------------------


def test_a_budget_changed_before_approving_makes_the_proposal_stale_without_a_write(stack: Stack) -> None:
    winner = check(stack)[WINNER]
    set_live_budget(stack, WINNER, "110.00")
    after = decided(stack, winner, click(stack, winner, APPROVE))

    assert sections(after)[-1] == (
        ":information_source: Approved by <@U0APPROVER> but not applied: the live daily budget is 110.00, "
        "no longer the 100.00 this proposal started from. The proposal is stale; the next check will look again."
    )
    assert patches(stack) == [] and live_budget(stack, WINNER) == Decimal("110.00")
    assert proposal(stack, 2).state == ProposalState.STALE


def test_a_campaign_paused_before_approving_makes_the_proposal_stale(stack: Stack) -> None:
    loser = check(stack)[LOSER]
    sandbox = stack.sandbox

    async def pause() -> None:
        sandbox.account.set_status([LOSER], PAUSED, sandbox.now())

    stack.ads.call(pause)
    after = decided(stack, loser, click(stack, loser, APPROVE))
    assert "not applied: the campaign is no longer working (now paused)." in sections(after)[-1]
    assert patches(stack) == []


def test_403_on_the_write_fails_it_and_alerts_the_channel_until_a_write_succeeds(stack: Stack) -> None:
    posted = check(stack)
    loser, winner = posted[LOSER], posted[WINNER]
    stack.sandbox.faults.forbid_writes = True
    mark = click(stack, loser, APPROVE)

    after = decided(stack, loser, mark)
    assert sections(after)[-1] == (
        ":information_source: Approved by <@U0APPROVER> but PropellerAds refused the write: "
        "insufficient permissions: Access denied."
    )
    alert = stack.slack.sync.wait_for_message(lambda m: m.text.startswith("Needs attention"), since=mark)
    assert alert.visible_to is None and alert.channel == CHANNEL
    assert alert.text == (
        "Needs attention: Insufficient permissions: PropellerAds refused a budget change "
        "(Loser DE (102) 200.00 → 160.00: Access denied.)."
    )
    assert [r.status for r in patches(stack)] == [403]
    assert proposal(stack, 1).state == ProposalState.FAILED and live_budget(stack, LOSER) == Decimal("200.00")

    # Once a write goes through again, the channel hears that it is resolved.
    stack.sandbox.faults.forbid_writes = False
    mark = click(stack, winner, APPROVE)
    resolved = stack.slack.sync.wait_for_message(lambda m: m.text.startswith("Resolved"), since=mark)
    assert resolved.text.startswith("Resolved: Insufficient permissions: PropellerAds refused a budget change")


def test_a_500_then_success_is_applied_after_a_retry_with_one_effective_write(stack: Stack) -> None:
    winner = check(stack)[WINNER]
    stack.sandbox.faults.fail_next("PATCH", "/adv/campaigns/", status=500)
    after = decided(stack, winner, click(stack, winner, APPROVE))

    assert sections(after)[-1] == ":white_check_mark: Approved by <@U0APPROVER> and applied: daily budget 100.00 → 120.00."
    assert [(r.status, r.body) for r in patches(stack)] == [(500, {"limit_daily_amount": 120.0}), (200, {"limit_daily_amount": 120.0})]
    changes = [s.limit for s in stack.sandbox.account.settings_history(WINNER)]
    assert changes == [Decimal("100.00"), Decimal("120.00")]  # the 500 changed nothing; one write took effect
    assert [e.action for e in audit(stack) if e.proposal_id == 2] == ["proposed", "approved", "applied"]


# --- rejecting, editing, expiring, superseding ---------------------------------------------------


def test_a_rejection_writes_nothing_and_the_same_change_is_not_proposed_again(stack: Stack) -> None:
    loser = check(stack)[LOSER]
    after = decided(stack, loser, click(stack, loser, REJECT))

    assert after.text == "Proposal #1 (Loser DE): Rejected by <@U0APPROVER>. The daily budget stays at 200.00."
    assert sections(after) == [LOSER_SECTION, ":no_entry_sign: Rejected by <@U0APPROVER>. The daily budget stays at 200.00."]
    assert stack.sandbox.requests.entries("PATCH") == [] and stack.sandbox.requests.entries("GET", "/adv/campaigns/102") == []
    assert proposal(stack, 1).state == ProposalState.REJECTED
    check(stack, expect="0 alert change(s), 0 new proposal(s), 1 still waiting")


def test_edit_amount_refuses_what_the_guardrails_forbid_in_the_modal_and_redraws_a_valid_amount(stack: Stack) -> None:
    winner = check(stack)[WINNER]
    calls = len(stack.slack.calls)
    click(stack, winner, EDIT)
    stack.slack.sync.wait_for_call("views.open", since=calls)  # the modal opens after the ack
    modal = stack.slack.modal(APPROVER)
    assert modal is not None and modal.spec["private_metadata"] == "2:1"
    assert modal.blocks[0]["text"]["text"] == "*Winner &amp; Co &lt;US&gt;* (101)\nNow 100.00 USD a day; proposed 120.00 USD."
    assert modal.blocks[1]["element"]["initial_value"] == "120.00"

    refusals = {
        "500": "The guardrails allow at most 150.00 (trimmed to the 50% largest step).",
        # A decimal comma is one (it was read as 1,250.00), and a decrease is trimmed from below.
        "12,50": "The guardrails allow at least 50.00 (trimmed to the 50% largest step).",
        "١١٠": "'١١٠' is not an amount; write it like 180 or 180.50.",
        "5": "The daily budget must be between 10.00 and 10,000.00.",
        "100": "100.00 is the current daily budget; reject the proposal to keep it.",
        "lots": "'lots' is not an amount; write it like 180 or 180.50.",
    }
    for typed, error in refusals.items():
        stack.slack.sync.submit_view({"amount_input": typed}, user_id=APPROVER)
        still_open = stack.slack.modal(APPROVER)
        assert still_open is not None and still_open.errors == {"amount": error}, typed
    assert proposal(stack, 2).to_amount == Decimal("120.00")

    mark = stack.slack.mark()
    stack.slack.sync.submit_view({"amount_input": "110,5"}, user_id=APPROVER)
    assert stack.slack.modal(APPROVER) is None
    redrawn = stack.slack.sync.wait_for_message(lambda m: m.ts == winner.ts, since=mark)
    assert redrawn.text == "Proposal #2: Winner &amp; Co &lt;US&gt; daily budget 100.00 → 110.50"
    assert fields(redrawn)[0] == "*Current → proposed*\n100.00 → *110.50* USD"
    # What happened, plainly: not "Guardrails: amount set by …".
    assert contexts(redrawn)[0] == "Amount set by <@U0APPROVER> (it was 120.00)."
    assert buttons(redrawn) == [(APPROVE, "2:2"), (REJECT, "2:2"), (EDIT, "2:2")]  # the edit moved its version
    assert actions_of(stack, 2) == ["proposed", "edited"]
    edited = audit(stack)[-1]
    # The history line reads "edited … 100.00 → 110.50 … (it was 120.00)", not "100.00 → 120.00 … (to 110.50)".
    assert (edited.from_amount, edited.to_amount, edited.detail) == (Decimal("100.00"), Decimal("110.50"), "it was 120.00")

    # The next check keeps the approver's amount rather than proposing the rule's 120.00 again.
    check(stack, expect="0 alert change(s), 0 new proposal(s), 2 still waiting")
    assert proposal(stack, 2).to_amount == Decimal("110.50")

    after = decided(stack, redrawn, click(stack, redrawn, APPROVE))
    assert sections(after)[-1] == ":white_check_mark: Approved by <@U0APPROVER> and applied: daily budget 100.00 → 110.50."
    assert [r.body for r in patches(stack)] == [{"limit_daily_amount": 110.5}]


def test_an_undecided_proposal_expires_after_its_time_to_live(tmp_path: Path, clock: ManualClock) -> None:
    with running_stack(tmp_path, clock=clock, proposal_ttl_hours=1) as stack:
        posted = check(stack)
        assert contexts(posted[WINNER]) == ["Expires 2024-03-04 13:00 UTC"]
        clock.advance(hours=1)

        winner = posted[WINNER]
        after = decided(stack, winner, click(stack, winner, APPROVE))
        assert sections(after)[-1] == (
            ":information_source: This proposal expired; the next check will propose again if it still applies."
        )
        assert patches(stack) == [] and proposal(stack, 2).state == ProposalState.EXPIRED

        # The next check expires the other one in its message and asks both questions again.
        mark = stack.slack.mark()
        again = check(stack, expect="0 alert change(s), 2 new proposal(s), 0 still waiting")
        loser_then = stack.slack.sync.wait_for_message(lambda m: m.ts == posted[LOSER].ts, since=mark)
        assert sections(loser_then)[-1] == ":information_source: Expired: nobody decided within its time to live."
        assert buttons(loser_then) == []
        assert {c: (p.id, p.state) for c, p in ((p.campaign_id, p) for p in pending(stack))} == {
            LOSER: (3, ProposalState.PENDING), WINNER: (4, ProposalState.PENDING),
        }
        assert sorted(again) == [WINNER, LOSER]
        assert patches(stack) == []


def test_a_newer_check_supersedes_a_proposal_whose_numbers_changed(stack: Stack) -> None:
    first = check(stack)
    set_live_budget(stack, LOSER, "300.00")
    mark = stack.slack.mark()
    now = check(stack, expect="0 alert change(s), 1 new proposal(s), 1 still waiting")

    old = stack.slack.sync.wait_for_message(lambda m: m.ts == first[LOSER].ts, since=mark)
    assert sections(old)[-1] == ":information_source: Superseded: replaced by a newer check."
    assert buttons(old) == []
    assert proposal(stack, 1).state == ProposalState.SUPERSEDED
    new = now[LOSER]
    assert new.ts != first[LOSER].ts
    assert new.text == "Proposal #3: Loser DE daily budget 300.00 → 240.00"
    assert fields(new)[0] == "*Current → proposed*\n300.00 → *240.00* USD"
    assert fields(new)[4] == "*Budget used*\n50%"
    assert now[WINNER].ts == first[WINNER].ts  # unchanged, kept
    assert patches(stack) == []


def test_a_campaign_changed_by_an_applied_proposal_rests(stack: Stack) -> None:
    loser = check(stack)[LOSER]
    decided(stack, loser, click(stack, loser, APPROVE))
    assert live_budget(stack, LOSER) == Decimal("160.00")
    # At 160.00 the CPA rule would cut again (to 128.00); the cool-down says not today.
    check(stack, expect="0 alert change(s), 0 new proposal(s), 1 still waiting")
    assert [p.campaign_id for p in pending(stack)] == [WINNER]


# --- the lists ----------------------------------------------------------------------------------


def test_budget_proposals_lists_the_pending_ones_with_buttons_that_work(stack: Stack) -> None:
    check(stack)
    ack = stack.slack.sync.send_command("proposals", user_id=APPROVER)
    listing = stack.slack.sync.wait_for_message(lambda m: m.via == "response_url", since=ack.mark)
    assert listing.visible_to == APPROVER
    assert listing.text == "2 pending proposal(s)"
    assert [s.split("\n")[0] for s in sections(listing)] == [LOSER_SECTION.split("\n")[0], WINNER_SECTION.split("\n")[0]]
    assert buttons(listing) == [(APPROVE, "1:1"), (REJECT, "1:1"), (EDIT, "1:1"), (APPROVE, "2:1"), (REJECT, "2:1"), (EDIT, "2:1")]

    # Approving from the private list redraws that copy and the channel's message alike.
    mark = click(stack, listing, APPROVE)
    copy = stack.slack.sync.wait_for_message(lambda m: m.ts == listing.ts, since=mark)
    channel = decided(stack, message_of(stack, proposal(stack, 1)), mark)
    assert sections(copy)[-1] == sections(channel)[-1] == (
        ":white_check_mark: Approved by <@U0APPROVER> and applied: daily budget 200.00 → 160.00."
    )
    assert [r.path for r in patches(stack)] == ["/v5/adv/campaigns/102"]

    ack = stack.slack.sync.send_command("proposals", user_id=APPROVER)
    listing = stack.slack.sync.wait_for_message(lambda m: m.via == "response_url", since=ack.mark)
    assert listing.text == "1 pending proposal(s)" and buttons(listing) == [(APPROVE, "2:1"), (REJECT, "2:1"), (EDIT, "2:1")]


def test_budget_history_shows_who_when_from_to_rule_and_outcome(stack: Stack, clock: ManualClock) -> None:
    posted = check(stack)
    clock.advance(minutes=5)
    decided(stack, posted[WINNER], click(stack, posted[WINNER], APPROVE))
    clock.advance(minutes=5)
    stack.sandbox.faults.forbid_writes = True
    decided(stack, posted[LOSER], click(stack, posted[LOSER], APPROVE))

    ack = stack.slack.sync.send_command("history", user_id=VIEWER)
    reply = stack.slack.sync.wait_for_message(lambda m: m.via == "response_url", since=ack.mark)
    assert reply.visible_to == VIEWER
    assert reply.text == "Budget history: 6 entries"
    assert sections(reply) == [
        "\n".join(
            [
                "`03-04 12:10` *failed* Loser DE (102) 200.00 → 160.00 by <@U0APPROVER> · rule cpa-target "
                "(insufficient permissions: Access denied.)",
                "`03-04 12:10` *approved* Loser DE (102) 200.00 → 160.00 by <@U0APPROVER> · rule cpa-target",
                "`03-04 12:05` *applied* Winner &amp; Co &lt;US&gt; (101) 100.00 → 120.00 by <@U0APPROVER> · rule cpa-target "
                "(verified: the live daily budget matches)",
                "`03-04 12:05` *approved* Winner &amp; Co &lt;US&gt; (101) 100.00 → 120.00 by <@U0APPROVER> · rule cpa-target",
                "`03-04 12:00` *proposed* Winner &amp; Co &lt;US&gt; (101) 100.00 → 120.00 by the bot · rule cpa-target",
                "`03-04 12:00` *proposed* Loser DE (102) 200.00 → 160.00 by the bot · rule cpa-target",
            ]
        ),
        # The applied change, with its Undo.
        "Change #2: Winner &amp; Co &lt;US&gt; 100.00 → 120.00 (03-04 12:05)",
    ]
    assert [b["accessory"]["action_id"] for b in reply.blocks if b.get("accessory")] == ["proposal_undo"]


# --- a restart between the PATCH and the record ------------------------------------------------


@pytest.mark.parametrize(
    ("left", "landed", "writes"),
    [
        pytest.param(ProposalState.APPLYING, True, [], id="patch-landed-then-stopped: zero PATCHes"),
        pytest.param(ProposalState.APPLYING, False, [{"limit_daily_amount": 120.0}], id="claimed-then-stopped-before-the-patch"),
        pytest.param(ProposalState.APPROVED, False, [{"limit_daily_amount": 120.0}], id="approved-then-stopped"),
    ],
)
def test_a_restarted_bot_finishes_what_the_stopped_one_left_mid_apply(
    stack: Stack, clock: ManualClock, left: str, landed: bool, writes: list[dict[str, float]]
) -> None:
    winner = check(stack)[WINNER]

    async def stopped_mid_apply() -> None:
        store = stack.runtime.store
        p = await store.get(2)
        assert p is not None
        approved = await store.transition(
            p.id, [ProposalState.PENDING], ProposalState.APPROVED, now=NOW, decided_by=APPROVER, decided_at=NOW,
            audit=AuditEntry.of(p, NOW, APPROVER, "approved", outcome=ProposalState.APPROVED),
        )
        assert approved is not None
        if left == ProposalState.APPLYING:
            assert await store.transition(p.id, [ProposalState.APPROVED], ProposalState.APPLYING, now=NOW) is not None

    stack.on_bot(stopped_mid_apply)
    if landed:
        set_live_budget(stack, WINNER, "120.00")
    clock.advance(minutes=3)

    mark = stack.slack.mark()

    async def restart() -> None:
        runtime = Runtime.build(stack.settings, clock=clock)
        await runtime.start(schedule=False)
        await runtime.stop()

    asyncio.run(restart())
    after = decided(stack, winner, mark)
    assert sections(after)[-1] == ":white_check_mark: Approved by <@U0APPROVER> and applied: daily budget 100.00 → 120.00."
    assert [r.body for r in patches(stack)] == writes
    assert live_budget(stack, WINNER) == Decimal("120.00")
    assert proposal(stack, 2).state == ProposalState.APPLIED
    assert actions_of(stack, 2) == ["proposed", "approved", "applied"]
    [applied] = [e for e in audit(stack) if e.action == "applied"]
    expected = (
        "confirmed after a restart: the live daily budget already matches" if landed
        else "verified: the live daily budget matches"
    )
    assert (applied.actor, applied.detail) == (APPROVER, expected)


@pytest.mark.postgres
def test_a_campaign_name_past_500_characters_is_stored_cut_on_postgresql(
    tmp_path: Path, clock: ManualClock, postgres_url: str
) -> None:
    # The store keeps 500 characters of a name; PostgreSQL refused more and the whole check failed.
    long_name = "Loser DE " + "x" * 600
    with running_stack(tmp_path, clock=clock, db_url=postgres_url) as stack:
        stack.sandbox.account.campaigns[LOSER].name = long_name
        check(stack, expect="0 alert change(s), 2 new proposal(s), 0 still waiting")
        loser = next(p for p in pending(stack) if p.campaign_id == LOSER)
        assert len(loser.campaign_name) == 500
        assert loser.campaign_name == long_name[:499] + "…"


def test_the_next_daily_summary_tells_what_changed_since_yesterday(stack: Stack, clock: ManualClock) -> None:
    """A day's check sees the account; an approval cuts Loser DE's budget, a rejection leaves Winner's, and
    moderation rejects Steady FR. The next morning's summary names each of them once, with the currency."""
    proposals = check(stack)
    approved = click(stack, proposals[LOSER], APPROVE)
    decided(stack, proposals[LOSER], approved)
    rejected = click(stack, proposals[WINNER], REJECT)
    decided(stack, proposals[WINNER], rejected)
    stack.sandbox.account.set_status([103], 3, clock())  # REJECTED by moderation

    morning = clock.advance(timedelta(days=1))
    mark = stack.slack.mark()
    assert stack.on_bot(lambda: stack.runtime.jobs.fire(SUMMARY, morning)) is True
    summary = stack.slack.sync.wait_for_message(lambda m: m.text.startswith("Daily budget summary"), since=mark)
    since = next(s for s in sections(summary) if s.startswith(":memo: *Since yesterday*"))
    assert since.splitlines() == [
        ":memo: *Since yesterday*",
        "• *Loser DE* (102): daily budget 200.00 USD → 160.00 USD",
        "• *Steady FR* (103) stopped working (rejected)",
        f"• *Winner &amp; Co &lt;US&gt;* (101): 100.00 USD → 120.00 USD rejected (<@{APPROVER}>, Mon 12:00 UTC)",
        f"• *Loser DE* (102): 200.00 USD → 160.00 USD applied (<@{APPROVER}>, Mon 12:00 UTC)",
    ]
