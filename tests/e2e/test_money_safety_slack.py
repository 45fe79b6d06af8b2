"""Money safety over Slack: what the approver is told when Slack or the database fails around a write,
alerts and summaries that must not vanish, and proposals posted once by overlapping checks.

The stack is the Slack stand-in, the bot over signed HTTP and the sandbox ad platform (`exact_account`);
see tests/e2e/test_proposals.py for the proposals the CPA rule makes of it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timezone
from decimal import Decimal
from pathlib import Path

from bot.runtime import Runtime
from core.proposals import ProposalState
from sandbox.adplatform import ManualClock
from tests.e2e.test_proposals import (
    APPROVE,
    EDIT,
    LOSER,
    WINNER,
    buttons,
    check,
    click,
    live_budget,
    patches,
    proposal,
    sections,
    wait_until,
)
from tests.harness import APPROVER, CHANNEL, Stack, running_stack


def replies(stack: Stack, since: int) -> list[str]:
    return [m.text for m in stack.slack.log[since:] if m.visible_to == APPROVER and m.via == "response_url"]


def test_an_approval_whose_message_cannot_be_updated_says_it_was_applied_and_is_redrawn_later(stack: Stack) -> None:
    winner = check(stack)[WINNER]
    stack.slack.drop("chat.update")  # the connection drops without an answer
    mark = click(stack, winner, APPROVE)
    told = wait_until(stack, lambda: [t for t in replies(stack, mark) if "could not be updated" in t])

    assert told == [
        "Approved by <@U0APPROVER> and applied: daily budget 100.00 → 120.00. "
        "The proposal's message could not be updated yet; the bot redraws it at the next check."
    ]
    assert not any("Nothing was changed" in t for t in replies(stack, mark))
    assert len(patches(stack)) == 1 and live_budget(stack, WINNER) == Decimal("120.00")
    assert proposal(stack, 2).state is ProposalState.APPLIED

    # The next check redraws the message without its buttons, once.
    check(stack)
    redrawn = stack.slack.message(winner.ts)
    assert redrawn is not None and buttons(redrawn) == []
    assert sections(redrawn)[-1].startswith(":white_check_mark: Approved by <@U0APPROVER> and applied")
    check(stack)
    assert len([c for c in stack.slack.calls_to("chat.update") if c.args.get("ts") == winner.ts and c.error is None]) == 1


def test_a_click_on_a_copy_edited_since_is_refused_and_shows_the_proposal_as_it_is_now(stack: Stack) -> None:
    loser = check(stack)[LOSER]  # 200.00 → 160.00 with buttons for version 1
    calls = len(stack.slack.calls)
    click(stack, loser, EDIT)
    stack.slack.sync.wait_for_call("views.open", since=calls)
    stack.slack.sync.submit_view({"amount_input": "250"}, user_id=APPROVER)  # an increase now

    mark = stack.slack.mark()
    # The approver's own older copy (e.g. from /budget proposals) still carries version 1.
    stack.slack.sync.click(loser.ts, APPROVE, user_id=APPROVER, value="1:1")
    told = wait_until(stack, lambda: [t for t in replies(stack, mark) if "changed since you saw it" in t])
    assert told == [
        "This proposal changed since you saw it: it now proposes 200.00 → 250.00 (amount set by <@U0APPROVER>). "
        "Nothing was changed; decide on it as it is now."
    ]
    assert patches(stack) == [] and live_budget(stack, LOSER) == Decimal("200.00")
    assert proposal(stack, 1).state is ProposalState.PENDING


def test_an_alert_slack_refused_is_announced_by_the_next_check(tmp_path: Path, clock: ManualClock) -> None:
    with running_stack(tmp_path, clock=clock, rules=[]) as stack:
        stack.sandbox.account.set_balance("1000.00", clock())
        stack.slack.drop("chat.postMessage", times=2)  # the check's summary and its alerts' message are lost
        check(stack)
        assert [m.text for m in stack.slack.messages() if "need attention" in m.text] == []

        check(stack)
        check(stack)  # told once, not again
        alerts = [m.text for m in stack.slack.messages() if "need attention" in m.text]
        assert alerts == [
            "2 alerts need attention:\n"
            "• Loser DE (102) has a daily budget of 200.00, HIGH risk against the 1,000.00 balance.\n"
            "• Balance 1,000.00 covers 2.8 days of the 350.00 total daily budget."
        ]


def test_a_summary_missed_across_a_pause_is_posted_late_and_says_so(tmp_path: Path) -> None:
    # 09:20 in UTC: the 09:00 summary's run was dropped (the process was paused or down at 09:00).
    clock = ManualClock(datetime(2024, 3, 4, 9, 20, tzinfo=timezone.utc))
    with running_stack(tmp_path, clock=clock, rules=[], summary_time=time(9, 0), timezone="UTC") as stack:
        stack.on_bot(stack.runtime.jobs.run_check)
        summaries = [m for m in stack.slack.messages() if m.text.startswith("Daily budget summary")]
        assert [m.text.split(":")[0] for m in summaries] == ["Daily budget summary (late)"]
        late = [e["text"] for b in summaries[0].blocks if b["type"] == "context" for e in b["elements"]]
        assert late[0] == ":hourglass: Due at 09:00 (UTC), posted at 09:20: the bot was stopped or paused at its time."
        stack.on_bot(stack.runtime.jobs.run_check)  # made up for once
        assert len([m for m in stack.slack.messages() if m.text.startswith("Daily budget summary")]) == 1


def test_the_scheduler_runs_a_job_whatever_its_delay() -> None:
    from bot.scheduler import build_scheduler

    class NoJobs:
        zone, summary_time, check_minutes = timezone.utc, time(9, 0), 15

        async def run_summary(self) -> None: ...

        async def run_check(self) -> None: ...

    scheduler = build_scheduler(NoJobs())  # type: ignore[arg-type]
    assert {job.misfire_grace_time for job in scheduler.get_jobs()} == {None}


def test_two_overlapping_checks_post_each_proposal_once(stack: Stack) -> None:
    other = Runtime.build(stack.settings, clock=stack.runtime.service.clock)

    async def overlapping() -> None:
        await other.store.migrate()
        first = await stack.runtime.service.run_check()
        second = await other.service.run_check()  # sees the first check's proposals, not yet posted
        await asyncio.gather(
            stack.runtime.notifier.post_check(first, with_summary=False),
            other.notifier.post_check(second, with_summary=False),
        )
        await other.stop()

    stack.on_bot(overlapping)
    posted = [m.text for m in stack.slack.messages() if m.text.startswith("Proposal #")]
    assert sorted(posted) == [
        "Proposal #1: Loser DE daily budget 200.00 → 160.00",
        "Proposal #2: Winner &amp; Co &lt;US&gt; daily budget 100.00 → 120.00",
    ]
    assert {proposal(stack, i).channel for i in (1, 2)} == {CHANNEL}


def test_undo_on_an_applied_change_restores_the_budget_once_and_says_so_in_its_thread(stack: Stack) -> None:
    winner = check(stack)[WINNER]
    click(stack, winner, APPROVE)
    applied = wait_until(stack, lambda: next((m for m in stack.slack.messages() if m.ts == winner.ts and "applied" in m.text), None))
    assert [b["accessory"]["action_id"] for b in applied.blocks if b.get("accessory")] == ["proposal_undo"]

    mark = click(stack, applied, "proposal_undo")
    undone = wait_until(stack, lambda: next((m for m in stack.slack.log[mark:] if m.thread_ts == winner.ts), None))
    assert undone.text == "Undone by <@U0APPROVER>: daily budget 120.00 → 100.00 (proposal #2 reversed)."
    assert live_budget(stack, WINNER) == Decimal("100.00")

    mark = click(stack, applied, "proposal_undo")  # again: nothing more is written
    told = wait_until(stack, lambda: replies(stack, mark))
    assert told == ["Nothing was undone: proposal #3 undid it already."]
    assert [r.body for r in patches(stack)] == [{"limit_daily_amount": 120.0}, {"limit_daily_amount": 100.0}]
