"""PropellerAds misbehaving while a person approves a change or asks for the status: the right outcome, in bounded time.

Each case starts the whole bot over HTTP (tests.harness), runs `/budget check` on the exact account
(proposal #1: Loser DE 200.00 → 160.00), flips one of the sandbox's fault switches and clicks
Approve, or asks `/budget status`. Every case then checks four things:

- the outcome: the proposal's state, and whether PropellerAds' daily budget moved;
- bounded time: click to outcome under a ceiling worked out from the client's settings
  (timeout × 4 attempts + backoff 0.5 + 1 + 2 s per call, a rate-limit wait of at most
  BUDGET_BOT_RATE_LIMIT_MAX_WAIT_SECONDS), and the ack under Slack's 3 s whatever happens;
- the guardrails: every PATCH carries the proposal's amount (inside min/max and the largest step),
  and the live daily budget is the old amount or the new one, never anything else;
- the message: the proposal's message in the channel says what happened in PropellerAds' words,
  with no traceback and nothing raw (no HTML from a proxy).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.policy import Guardrails
from core.proposals import ProposalState
from sandbox.adplatform import ManualClock, RateLimit
from sandbox.slack import Message
from tests.harness import APPROVER, NOW, Stack, running_stack
from tests.reliability.support import TRACEBACK

CAMPAIGN, FROM, TO = 102, Decimal("200.00"), Decimal("160.00")
PROPOSAL = "Proposal #1: Loser DE daily budget 200.00 → 160.00"
HEAD = "Proposal #1 (Loser DE): "
APPLIED_TEXT = HEAD + "Approved by <@U0APPROVER> and applied: daily budget 200.00 → 160.00."
REVIEW = HEAD + "Approved by <@U0APPROVER>; needs manual review: "
PATCH_PATH = f"/adv/campaigns/{CAMPAIGN}"
BACKOFF = 0.5 + 1 + 2
"""The client's waits between its 4 attempts at one call."""
SHORT_TIMEOUT = 0.25
SLACK_ACK_DEADLINE = 3.0


@dataclass
class Case:
    """One fault during an approval."""

    fault: Callable[[Stack], None]
    state: str
    message: str
    """A regular expression the whole outcome message must match."""
    budget: Decimal
    """PropellerAds' daily budget once everything has landed."""
    ceiling: float
    """Seconds from the click to the outcome message, at most."""
    floor: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)
    patches: int | None = None
    """PATCH requests PropellerAds received, when the case pins it."""
    alert: str | None = None


def fail_patch(status: int = 500, **kwargs: Any) -> Callable[[Stack], None]:
    return lambda stack: stack.sandbox.faults.fail_next("PATCH", PATCH_PATH, status, **kwargs)


def short_rate_window(stack: Stack) -> None:
    # A 2-second window: the forced 429 tells the client to come back within its 5 s wait.
    stack.sandbox.limiter.configure({"campaign_update": RateLimit(60, window=2)})
    stack.sandbox.faults.fail_next("PATCH", PATCH_PATH, 429)


def slow_writes(seconds: float) -> Callable[[Stack], None]:
    def apply(stack: Stack) -> None:
        stack.sandbox.faults.latency_by_endpoint = {"campaign_update": seconds}

    return apply


def refuse_connections(stack: Stack) -> None:
    stack.ads.stop()  # nothing listens on the sandbox's port any more


def set_switch(**switches: Any) -> Callable[[Stack], None]:
    def apply(stack: Stack) -> None:
        for name, value in switches.items():
            setattr(stack.sandbox.faults, name, value)

    return apply


APPROVE_CASES: dict[str, Case] = {
    "429, reset within the wait": Case(
        short_rate_window, ProposalState.APPLIED, re.escape(APPLIED_TEXT), TO, ceiling=6.0, floor=0.5, patches=2
    ),
    "429, reset past the wait": Case(
        fail_patch(429), ProposalState.MANUAL_REVIEW,
        re.escape(REVIEW) + r"the change did not go through: You exceeded the rate limit\.", FROM, ceiling=2.0, patches=1,
    ),
    "500 once": Case(fail_patch(500), ProposalState.APPLIED, re.escape(APPLIED_TEXT), TO, ceiling=3.0, patches=2),
    "502 once": Case(fail_patch(502), ProposalState.APPLIED, re.escape(APPLIED_TEXT), TO, ceiling=3.0, patches=2),
    "503 once": Case(fail_patch(503), ProposalState.APPLIED, re.escape(APPLIED_TEXT), TO, ceiling=3.0, patches=2),
    "500 although the write landed": Case(
        fail_patch(500, after_effect=True), ProposalState.APPLIED, re.escape(APPLIED_TEXT), TO, ceiling=3.0, patches=2
    ),
    "502 on every attempt": Case(
        fail_patch(502, times=4), ProposalState.MANUAL_REVIEW,
        re.escape(REVIEW) + r"the change did not go through: 502 Bad Gateway\.", FROM, ceiling=BACKOFF + 2, patches=4,
    ),
    "timeouts, the write lands before the verify": Case(
        slow_writes(1.0), ProposalState.APPLIED, re.escape(APPLIED_TEXT), TO,
        ceiling=4 * SHORT_TIMEOUT + BACKOFF + 2, settings={"api_timeout_seconds": SHORT_TIMEOUT}, patches=4,
    ),
    "timeouts, the write lands after the verify": Case(
        slow_writes(30.0), ProposalState.UNCONFIRMED,
        re.escape(HEAD + "Approved by <@U0APPROVER>; not confirmed yet: ")
        + r"PropellerAds did not confirm the change \(no answer within 0\.25 s\) and still shows 200\.00; "
        r"it may yet apply it\. The campaign gets no new proposal, and the change counts against today's "
        r"increase cap, until the bot sees whether it landed\.",
        TO, ceiling=4 * SHORT_TIMEOUT + BACKOFF + 2, settings={"api_timeout_seconds": SHORT_TIMEOUT}, patches=4,
    ),
    "connection refused": Case(
        refuse_connections, ProposalState.MANUAL_REVIEW,
        re.escape(REVIEW) + r"could not read the campaign before writing: connection refused or host unreachable\.",
        FROM, ceiling=BACKOFF + 2,
    ),
    "connection dropped once": Case(fail_patch(drop=True), ProposalState.APPLIED, re.escape(APPLIED_TEXT), TO, ceiling=3.0, patches=2),
    "malformed JSON on the read": Case(
        set_switch(malformed={"campaign"}), ProposalState.MANUAL_REVIEW,
        re.escape(REVIEW) + r"could not read the campaign before writing: the body is not JSON: .+", FROM, ceiling=2.0,
        patches=0,
    ),
    "malformed JSON answering the write": Case(
        fail_patch(200, malformed=True), ProposalState.APPLIED, re.escape(APPLIED_TEXT), TO, ceiling=2.0, patches=1
    ),
    "403 on writes": Case(
        set_switch(forbid_writes=True), ProposalState.FAILED,
        re.escape(HEAD + "Approved by <@U0APPROVER> but PropellerAds refused the write: insufficient permissions: "
                  "Access denied."),
        FROM, ceiling=2.0, patches=1, alert="Needs attention: ",
    ),
    "very slow answers (1.2 s each)": Case(
        set_switch(latency=1.2), ProposalState.APPLIED, re.escape(APPLIED_TEXT), TO, ceiling=3 * 1.2 + 2, floor=3 * 1.2, patches=1
    ),
}


def channel(stack: Stack) -> list[Message]:
    return [m for m in stack.slack.messages() if not m.ephemeral]


def assert_within_guardrails(stack: Stack, budget: Decimal) -> None:
    g = Guardrails()
    assert g.min_daily_budget <= TO <= g.max_daily_budget
    assert abs(TO - FROM) / FROM * 100 <= g.max_change_percent
    bodies = [p.body for p in stack.sandbox.requests.entries("PATCH", "/adv/campaigns/")]
    assert all(b == {"limit_daily_amount": float(TO)} for b in bodies), bodies
    live = stack.sandbox.account.campaigns[CAMPAIGN].limit_daily_amount
    assert live == budget and live in (FROM, TO)
    # Nothing else was touched.
    others = {c.id: c.limit_daily_amount for c in stack.sandbox.account.campaigns.values() if c.id != CAMPAIGN}
    assert others == {101: Decimal("100.00"), 103: Decimal("50.00"), 104: Decimal("80.00"), 105: None}


@pytest.mark.parametrize("name", list(APPROVE_CASES))
def test_a_fault_during_an_approval(name: str, tmp_path: Path, figures: dict[str, Any]) -> None:
    case = APPROVE_CASES[name]
    with running_stack(tmp_path, clock=ManualClock(NOW), **case.settings) as stack:
        slack = stack.slack
        ack = slack.sync.send_command("check", user_id=APPROVER)
        slack.sync.wait_for_message(lambda m: m.text.startswith("Health check done"), since=ack.mark)
        proposal = next(m for m in channel(stack) if m.text == PROPOSAL)
        stack.sandbox.requests.clear()

        case.fault(stack)
        mark = slack.mark()
        started = time.perf_counter()
        ack = slack.sync.click(proposal.ts, "proposal_approve", user_id=APPROVER)
        outcome = slack.sync.wait_for_message(
            lambda m: m.ts == proposal.ts and m.via == "chat.update", since=mark, timeout=case.ceiling + 5
        )
        took = time.perf_counter() - started
        if case.alert:  # announced after the outcome
            slack.sync.wait_for_message(lambda m: m.via == "chat.postMessage" and m.text.startswith(case.alert), since=mark)
        stored = stack.on_bot(lambda: stack.runtime.store.get(1))
        alerts = [m.text for m in slack.log[mark:] if m.via == "chat.postMessage"]
        everything = [m.all_text for m in slack.log]
    # The stack has stopped: a write PropellerAds was still holding back has landed by now.
    assert ack.status == 200 and ack.latency < SLACK_ACK_DEADLINE
    assert stored is not None and stored.state == case.state, stored
    assert re.fullmatch(case.message, outcome.text), outcome.text
    assert not [b for b in outcome.blocks if b["type"] == "actions"]
    assert case.floor <= took <= case.ceiling, f"{took:.2f} s"
    if case.patches is not None:
        assert len(stack.sandbox.requests.entries("PATCH", "/adv/campaigns/")) == case.patches
    assert_within_guardrails(stack, case.budget)
    if case.alert:
        assert any(text.startswith(case.alert) for text in alerts), alerts
    assert not any(TRACEBACK.search(text) or "<html" in text for text in everything)

    figures.setdefault("faults during an approval", {})[name] = {
        "outcome": case.state,
        "click to message s": round(took, 2),
        "ceiling s": case.ceiling,
        "budget": str(case.budget),
        "message": outcome.text.removeprefix(HEAD),
    }


# --- the same faults while someone asks /budget status ----------------------------------------------------

STATUS_TEXT = "Budget health: balance 5,000.00, runway 18.8 days, total daily budget 350.00, 0 campaign(s) at risk"
COULD_NOT = r"Could not answer /budget: PropellerAds "


@dataclass
class ReadCase:
    fault: Callable[[Stack], None]
    reply: str
    ceiling: float
    floor: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)


def fail_balance(status: int = 500, **kwargs: Any) -> Callable[[Stack], None]:
    return lambda stack: stack.sandbox.faults.fail_next("GET", "/adv/balance", status, **kwargs)


def short_balance_window(stack: Stack) -> None:
    stack.sandbox.limiter.configure({"balance": RateLimit(30, window=2)})
    stack.sandbox.faults.fail_next("GET", "/adv/balance", 429)


READ_CASES: dict[str, ReadCase] = {
    "429, reset within the wait": ReadCase(short_balance_window, re.escape(STATUS_TEXT), ceiling=6.0, floor=0.5),
    "429, reset past the wait": ReadCase(
        fail_balance(429), COULD_NOT + r"rate limit hit \(429\) on GET /adv/balance: You exceeded the rate limit", 2.0
    ),
    "503 once": ReadCase(fail_balance(503), re.escape(STATUS_TEXT), ceiling=3.0),
    "500 on every attempt": ReadCase(
        fail_balance(500, times=4), COULD_NOT + r"server error \(500\) on GET /adv/balance: Internal server error\.",
        ceiling=BACKOFF + 2,
    ),
    "502 on every attempt": ReadCase(
        fail_balance(502, times=4), COULD_NOT + r"server error \(502\) on GET /adv/balance: 502 Bad Gateway",
        ceiling=BACKOFF + 2,
    ),
    "timeouts": ReadCase(
        set_switch(latency_by_endpoint={"balance": 30.0}),
        COULD_NOT + r"unreachable on GET /adv/balance: no answer within 0\.25 s",
        ceiling=4 * SHORT_TIMEOUT + BACKOFF + 2, settings={"api_timeout_seconds": SHORT_TIMEOUT},
    ),
    "connection refused": ReadCase(
        refuse_connections, COULD_NOT + r"unreachable on GET /adv/\w+: connection refused or host unreachable",
        ceiling=BACKOFF + 2,
    ),
    "connection dropped every time": ReadCase(
        set_switch(drop={"balance"}),
        COULD_NOT + r"unreachable on GET /adv/balance: the connection was dropped before an answer", ceiling=BACKOFF + 2,
    ),
    "malformed JSON": ReadCase(
        set_switch(malformed={"statistics"}),
        COULD_NOT + r"sent a malformed answer \(200\) on GET /adv/statistics: the body is not JSON: .+", ceiling=2.0,
    ),
    "very slow answers (1.2 s each)": ReadCase(
        set_switch(latency=1.2), re.escape(STATUS_TEXT), ceiling=1.2 * 3 + 2, floor=1.2
    ),
}


@pytest.mark.parametrize("name", list(READ_CASES))
def test_a_fault_while_reading_the_status(name: str, tmp_path: Path, figures: dict[str, Any]) -> None:
    case = READ_CASES[name]
    with running_stack(tmp_path, clock=ManualClock(NOW), **case.settings) as stack:
        case.fault(stack)
        started = time.perf_counter()
        ack = stack.slack.sync.send_command("status", user_id=APPROVER)
        reply = stack.slack.sync.wait_for_message(
            lambda m: m.via == "response_url", since=ack.mark, timeout=case.ceiling + 5
        )
        took = time.perf_counter() - started
        everything = [m.all_text for m in stack.slack.log]
    assert ack.status == 200 and ack.latency < SLACK_ACK_DEADLINE
    assert reply.visible_to == APPROVER
    assert re.fullmatch(case.reply, reply.text), reply.text
    assert case.floor <= took <= case.ceiling, f"{took:.2f} s"
    assert stack.sandbox.requests.entries("PATCH") == []
    assert not any(TRACEBACK.search(text) or "<html" in text for text in everything)
    figures.setdefault("faults during /budget status", {})[name] = {
        "answer s": round(took, 2),
        "ceiling s": case.ceiling,
        "reply": reply.text,
    }
