"""kill -9 of `budget-bot serve` at each point of applying a proposal, then a restart: nothing lost, nothing written twice.

The process is a real `budget-bot serve` on SQLite (the default store) and on PostgreSQL (the one
replicas share). A failpoint (core/failpoints.py) freezes it at the named point and writes a
marker file; the test waits for the marker, sends SIGKILL, and starts the same command again
with BUDGET_BOT_RECONCILE_AFTER_SECONDS=1, so the restarted process finishes the proposal as soon
as the dead one's one-second lease lapses, instead of after the default five minutes.

The proposal is the exact account's decrease of Loser DE (102): 200.00 → 160.00.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from core import failpoints
from core.proposals import ProposalState
from tests.harness import APPROVER, Stack, running_stack
from tests.reliability.support import (
    BotProcess,
    bot_env,
    everything_slack_holds,
    leaks,
    read_store_sync,
    wait_for_file,
    write_rules,
)

pytestmark = pytest.mark.slow

PROPOSAL = "Proposal #1: Loser DE daily budget 200.00 → 160.00"
APPLIED_TEXT = "Proposal #1 (Loser DE): Approved by <@U0APPROVER> and applied: daily budget 200.00 → 160.00."

# What the store holds at the moment of the kill, and how many PATCHes PropellerAds has seen by then.
AT_THE_KILL = {
    failpoints.AFTER_APPROVAL: (ProposalState.APPLYING, 0),  # approved and claimed in one transaction
    failpoints.AFTER_PATCH: (ProposalState.APPLYING, 1),
    failpoints.AFTER_VERIFY: (ProposalState.APPLYING, 1),
}
# How the restart finishes it: the audit's words for the "applied" entry.
FINISHED_BY = {
    failpoints.AFTER_APPROVAL: "verified: the live daily budget matches",
    failpoints.AFTER_PATCH: "confirmed after a restart: the live daily budget already matches",
    failpoints.AFTER_VERIFY: "confirmed after a restart: the live daily budget already matches",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.db'}"
    return request.getfixturevalue("postgres_url")


def patches(stack: Stack) -> list[Any]:
    return stack.sandbox.requests.entries("PATCH", "/adv/campaigns/")


@pytest.mark.parametrize("point", failpoints.POINTS)
def test_kill_9_mid_apply_then_restart_finishes_the_proposal_once(
    point: str, database_url: str, tmp_path: Path, figures: dict[str, Any]
) -> None:
    marker = tmp_path / "failpoint-reached"
    with running_stack(tmp_path, start_bot=False) as stack:
        env = bot_env(
            stack,
            database_url,
            BUDGET_BOT_CONFIG=str(write_rules(tmp_path / "rules.toml")),
            BUDGET_BOT_RECONCILE_AFTER_SECONDS="1",
        )
        bot = BotProcess(env, tmp_path / "bot.log")
        slack = stack.slack
        try:
            bot.start(BUDGET_BOT_FAILPOINT=point, BUDGET_BOT_FAILPOINT_MARKER=str(marker))
            slack.bot_url = bot.events_url
            ack = slack.sync.send_command("check", user_id=APPROVER)
            slack.sync.wait_for_message(lambda m: m.text.startswith("Health check done"), since=ack.mark, timeout=30)
            message = next(m for m in slack.messages() if m.text == PROPOSAL)

            ack = slack.sync.click(message.ts, "proposal_approve", user_id=APPROVER)
            assert ack.status == 200 and ack.latency < 3.0  # Slack's deadline
            assert wait_for_file(marker, bot) == f"{point} {bot.pid}\n"
            assert bot.kill9() == -9

            state, patched = AT_THE_KILL[point]
            [proposal] = [p for p in read_store_sync(database_url)[0] if p.campaign_id == 102]
            assert proposal.state == state
            assert len(patches(stack)) == patched

            mark = slack.mark()
            started = time.perf_counter()
            bot.start()  # no failpoint this time
            outcome = slack.sync.wait_for_message(
                lambda m: m.ts == message.ts and m.via == "chat.update", since=mark, timeout=30
            )
            recovered_in = time.perf_counter() - started
        finally:
            bot.stop()

        # One PATCH in all, with the proposal's amount, and PropellerAds now shows it.
        assert [(p.path, p.body) for p in patches(stack)] == [("/v5/adv/campaigns/102", {"limit_daily_amount": 160.0})]
        assert stack.sandbox.account.campaigns[102].limit_daily_amount == 160
        # The channel's proposal message says how it ended; its buttons are gone.
        assert outcome.text == APPLIED_TEXT
        assert not [b for b in outcome.blocks if b["type"] == "actions"]
        assert [m.text for m in slack.messages() if m.ts == message.ts] == [APPLIED_TEXT]
        secrets_seen = leaks([bot.text(), *everything_slack_holds(slack)])

    proposals, audit, _ = read_store_sync(database_url)
    [proposal] = [p for p in proposals if p.campaign_id == 102]
    assert proposal.state == ProposalState.APPLIED
    assert proposal.detail == FINISHED_BY[point]
    assert proposal.decided_by == APPROVER
    # The audit log tells the story once: proposed, approved, applied.
    story = [(e.action, e.outcome, e.actor) for e in audit if e.proposal_id == proposal.id]
    assert story == [("proposed", "pending", "budget-bot"), ("approved", ProposalState.APPROVED, APPROVER), ("applied", ProposalState.APPLIED, APPROVER)]
    assert secrets_seen == []

    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    figures.setdefault("crash", {})[f"{point} ({backend})"] = {
        "state at kill": AT_THE_KILL[point][0],
        "patches at kill": AT_THE_KILL[point][1],
        "patches in all": 1,
        "final": f"{proposal.state}: {proposal.detail}",
        "restart to message s": round(recovered_in, 2),
    }
