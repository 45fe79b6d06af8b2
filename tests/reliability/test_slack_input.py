"""Hostile or broken requests at /slack/events: 401 and nothing else for bad signatures, polite refusals, never a 500.

The proposal in play is the exact account's #1 (Loser DE 200.00 → 160.00), its Approve button
clicked the way Slack sends it; "nothing happens" means no PATCH reached PropellerAds, the
proposal is still pending, and the stand-in recorded no Web API call or response-URL post.

Replays follow Slack's own rule: a signed request is good for five minutes from its timestamp.
Within them Bolt accepts a replayed click (Slack itself retries), so what must hold is that the
replay changes nothing; a replay older than five minutes is refused with 401.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from core.proposals import ProposalState
from sandbox.adplatform import ManualClock
from sandbox.slack import Message, payloads
from tests.harness import APPROVER, NOW, VIEWER, Stack, running_stack
from tests.reliability.support import TRACEBACK, Click, click_on, on_standin

PROPOSAL = "Proposal #1: Loser DE daily budget 200.00 → 160.00"
FORM = "application/x-www-form-urlencoded"


def check(stack: Stack) -> Message:
    """Runs /budget check and returns the channel message of proposal #1."""
    ack = stack.slack.sync.send_command("check", user_id=APPROVER)
    stack.slack.sync.wait_for_message(lambda m: m.text.startswith("Health check done"), since=ack.mark)
    return next(m for m in stack.slack.messages() if m.text == PROPOSAL)


def send(stack: Stack, body: str | bytes, headers: dict[str, str]) -> tuple[int, str]:
    assert stack.bot is not None
    response = httpx.post(stack.bot.url + "/slack/events", content=body, headers=headers, timeout=10)
    return response.status_code, response.text


def proposal_state(stack: Stack, proposal_id: int = 1) -> str:
    found = stack.on_bot(lambda: stack.runtime.store.get(proposal_id))
    assert found is not None
    return found.state


def wait_reply(stack: Stack, click: Click, count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
    """The bot's posts to the click's response URL, once there are `count` of them."""

    def found() -> list[Any] | None:
        replies = [c.args for c in stack.slack.calls_to("response_url") if c.args.get("url_id") == click.url_id]
        return replies if len(replies) >= count else None

    stack.slack.sync.wait_for_call("response_url", lambda c: bool(found()), timeout=timeout)
    replies = found()
    assert replies is not None
    return replies


def assert_private(reply: dict[str, Any], text: str) -> None:
    assert reply["text"] == text
    assert reply.get("response_type") == "ephemeral" and reply.get("replace_original") is False


# --- signatures --------------------------------------------------------------------------------------------


def test_forged_stale_and_unsigned_clicks_get_401_and_change_nothing(stack: Stack, figures: dict[str, Any]) -> None:
    message = check(stack)
    genuine = click_on(stack, message, "proposal_approve")
    body, good = genuine.body, genuine.headers
    now = int(time.time())
    sign = stack.slack.signed_headers
    attempts: dict[str, dict[str, str]] = {
        "wrong secret": sign(body, secret="not-the-signing-secret"),
        "signed 5 min 10 s ago": sign(body, timestamp=now - 310),
        "signed 5 min 10 s ahead": sign(body, timestamp=now + 310),
        "no headers": {},
        "no signature": {"X-Slack-Request-Timestamp": good["X-Slack-Request-Timestamp"]},
        "no timestamp": {"X-Slack-Signature": good["X-Slack-Signature"]},
        "empty signature": {**good, "X-Slack-Signature": ""},
        "another scheme": {**good, "X-Slack-Signature": good["X-Slack-Signature"].replace("v0=", "v1=")},
        "timestamp not a number": {**good, "X-Slack-Request-Timestamp": "soon"},
        "timestamp changed after signing": {**good, "X-Slack-Request-Timestamp": str(int(good["X-Slack-Request-Timestamp"]) - 1)},
        "signature of another body": sign(body.replace("proposal_approve", "proposal_reject")),
    }
    calls_before = len(stack.slack.calls)
    answers = {}
    for what, headers in attempts.items():
        answers[what] = send(stack, body, {"Content-Type": FORM, **headers})
    # The body altered after signing: the approval of proposal 1 turned into a click by someone else.
    altered = body.replace("U0APPROVER", "U0VIEWER")
    answers["body changed after signing"] = send(stack, altered, good)

    assert {what: status for what, (status, _) in answers.items()} == {what: 401 for what in answers}
    figures["refused with 401"] = sorted(answers)
    assert all(not TRACEBACK.search(text) for _, text in answers.values())
    assert stack.sandbox.requests.entries("PATCH") == []
    assert proposal_state(stack) == ProposalState.PENDING
    assert stack.slack.calls[calls_before:] == []


def test_a_replayed_click_writes_once_and_one_older_than_5_minutes_gets_401(stack: Stack) -> None:
    message = check(stack)
    # A click captured 4 min 50 s ago: still inside Slack's window, so Bolt takes it, and it applies.
    captured = click_on(stack, message, "proposal_approve", timestamp=int(time.time()) - 290)
    assert send(stack, captured.body, captured.headers)[0] == 200
    stack.slack.sync.wait_for_call("chat.update", lambda c: c.args.get("ts") == message.ts)
    assert proposal_state(stack) == ProposalState.APPLIED

    # The same bytes again, twice: accepted, and answered privately; nothing more is written.
    for _ in range(2):
        assert send(stack, captured.body, captured.headers)[0] == 200
    replies = wait_reply(stack, captured, count=2)
    for reply in replies:
        assert_private(reply, "Already decided by <@U0APPROVER>: applied. Nothing more was changed.")

    # A click captured 5 min 10 s ago is refused outright, Reject or Approve.
    for action in ("proposal_approve", "proposal_reject"):
        old = click_on(stack, message, action, timestamp=int(time.time()) - 310)
        assert send(stack, old.body, old.headers)[0] == 401
    patches = stack.sandbox.requests.entries("PATCH")
    assert [(p.path, p.body) for p in patches] == [("/v5/adv/campaigns/102", {"limit_daily_amount": 160.0})]
    assert proposal_state(stack) == ProposalState.APPLIED
    assert len(stack.slack.calls_to("chat.update")) == 1


# --- clicks that cannot do anything -----------------------------------------------------------------------


def test_clicks_on_unknown_expired_or_decided_proposals_get_a_polite_private_answer(
    stack: Stack, clock: ManualClock
) -> None:
    message = check(stack)
    winner = next(m for m in stack.slack.messages() if m.text.startswith("Proposal #2"))
    cases: list[tuple[str, Click, str]] = []

    def click(what: str, on: Message, action: str, answer: str, **kwargs: Any) -> None:
        c = click_on(stack, on, action, **kwargs)
        assert send(stack, c.body, c.headers)[0] == 200, what
        cases.append((what, c, answer))

    click("an unknown proposal", message, "proposal_approve", "That proposal no longer exists.", value="999")
    click("a value that is no proposal", message, "proposal_approve",
          "That button does not name a proposal I know; nothing was changed.", value="drop table")
    click("someone who may not decide", message, "proposal_approve",
          "Only the configured approvers can decide on budget proposals; nothing was changed.", user_id=VIEWER)
    click("Edit by someone who may not decide", message, "proposal_edit",
          "Only the configured approvers can change a proposal; nothing was changed.", user_id=VIEWER)
    for what, c, answer in cases:
        [reply] = wait_reply(stack, c)
        assert_private(reply, answer)

    # #2 is rejected; a click on a copy of its message from before (another device, the proposals list) changes nothing.
    c = click_on(stack, winner, "proposal_reject")
    send(stack, c.body, c.headers)
    stack.slack.sync.wait_for_call("chat.update", lambda call: call.args.get("ts") == winner.ts)
    for action in ("proposal_approve", "proposal_reject"):
        stale = click_on(stack, winner, action)
        assert send(stack, stale.body, stale.headers)[0] == 200
        [reply] = wait_reply(stack, stale)
        assert_private(reply, "Already decided by <@U0APPROVER>: rejected. Nothing more was changed.")
    stale = click_on(stack, winner, "proposal_edit")
    send(stack, stale.body, stale.headers)
    assert_private(wait_reply(stack, stale)[0], "This proposal is no longer pending; nothing was changed.")

    # #1 outlives its 24 hours unanswered; the Approve click that comes after says so.
    clock.advance(hours=24, seconds=1)
    late = click_on(stack, message, "proposal_approve")
    assert send(stack, late.body, late.headers)[0] == 200
    [reply] = wait_reply(stack, late)
    assert_private(reply, "This proposal expired; the next check will propose again if it still applies.")

    assert stack.sandbox.requests.entries("PATCH") == []
    assert proposal_state(stack, 1) == ProposalState.EXPIRED
    assert proposal_state(stack, 2) == ProposalState.REJECTED


# --- anything at all in /budget --------------------------------------------------------------------------

COMMAND_WORDS = st.sampled_from(["status", "STATUS", "check", "proposals", "history", "help", "", "Status", "hístory"])
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=120)
COMMAND_TEXT = st.one_of(
    ANY_TEXT,
    st.tuples(COMMAND_WORDS, ANY_TEXT).map(" ".join),
    st.tuples(COMMAND_WORDS, st.from_regex(r"[0-9²³¹٣৪]{1,40}", fullmatch=True)).map(" ".join),
)


def test_no_budget_text_gets_a_500_or_a_traceback(stack: Stack, figures: dict[str, Any]) -> None:
    slack = stack.slack
    answered: list[str] = []
    texts: list[str] = []

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(text=COMMAND_TEXT)
    @example(text="status ²")
    @example(text="history ³")
    @example(text="status " + "9" * 30)
    @example(text="history " + "9" * 30)
    @example(text="status <@U0APPROVER> & <!channel>")
    @example(text="\x00")
    def one(text: str) -> None:
        texts.append(text)
        fields = slack.command_form(text, user_id=APPROVER)
        body = payloads.form(fields)
        status, reply_body = send(stack, body, {"Content-Type": FORM, **slack.signed_headers(body)})
        assert status == 200, (text, status, reply_body)
        url_id = fields["response_url"].rsplit("/", 1)[-1]
        words = payloads.escape(text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").split()
        expected = 2 if words and words[0].lower() == "check" else 1

        def replies() -> list[str] | None:
            found = [c.args.get("text", "") for c in slack.calls_to("response_url") if c.args.get("url_id") == url_id]
            return found if len(found) >= expected else None

        slack.sync.wait_for_call("response_url", lambda c: bool(replies()), timeout=20)
        for reply in replies() or []:
            assert not TRACEBACK.search(reply), (text, reply)
            assert "Something went wrong" not in reply, (text, reply)
            answered.append(reply)

    one()
    assert answered
    assert stack.sandbox.requests.entries("PATCH") == []
    figures["/budget texts"] = {"sent": len(texts), "different": len(set(texts)), "answers": len(answered)}


# --- broken payloads, correctly signed ---------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
NOWHERE = "http://response-url.invalid/placeholder"
"""Swapped for a fresh response URL of the stand-in as each body is sent, so the bot's answers are seen."""
INTERACTION_KEYS = ["type", "user", "actions", "container", "response_url", "trigger_id", "channel", "message", "view",
                    "team", "api_app_id", "state"]
ACTION_KEYS = ["action_id", "value", "block_id", "type", "action_ts"]


def block_actions(action_id: str = "proposal_approve", value: Any = "1") -> dict[str, Any]:
    """A click's payload for a proposal that does not exist in this test's store (no check ran)."""
    return {
        "type": "block_actions",
        "user": {"id": APPROVER, "username": "alex", "team_id": "T0STANDIN"},
        "api_app_id": "A0BUDGETBOT",
        "team": {"id": "T0STANDIN", "domain": "budget-standin"},
        "container": {"type": "message", "message_ts": "1.000001", "channel_id": "C0BUDGET", "is_ephemeral": False},
        "channel": {"id": "C0BUDGET", "name": "budget"},
        "trigger_id": "1.2.3",
        "response_url": NOWHERE,
        "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value, "action_ts": "1.2"}],
    }


@st.composite
def broken_bodies(draw: st.DrawFn) -> tuple[str, str]:
    """(content type, body): a click's payload with parts replaced by anything, or no sensible body at all."""
    kind = draw(st.sampled_from(["mutated click", "mutated action", "payload not an object", "form", "json", "bytes"]))
    if kind == "mutated click":
        payload = block_actions(draw(st.sampled_from(["proposal_approve", "proposal_reject", "proposal_edit"])))
        for key in draw(st.lists(st.sampled_from(INTERACTION_KEYS), min_size=1, max_size=3, unique=True)):
            if draw(st.booleans()):
                payload.pop(key, None)
            else:
                payload[key] = draw(JSON_VALUES)
        return FORM, payloads.payload_form(payload)
    if kind == "mutated action":
        payload = block_actions(draw(st.sampled_from(["proposal_approve", "proposal_reject", "proposal_edit"])))
        action = payload["actions"][0]
        for key in draw(st.lists(st.sampled_from(ACTION_KEYS), min_size=1, max_size=3, unique=True)):
            action[key] = draw(JSON_VALUES)
        return FORM, payloads.payload_form(payload)
    if kind == "payload not an object":
        raw = draw(st.one_of(JSON_VALUES.map(json.dumps), st.text(max_size=60)))
        return FORM, payloads.form({"payload": raw})
    if kind == "form":
        fields = draw(st.dictionaries(st.sampled_from(["command", "text", "user_id", "response_url", "trigger_id",
                                                       "channel_id", "team_id", "payload", "ssl_check", "x"]),
                                      st.text(max_size=40), max_size=6))
        return FORM, payloads.form(fields)
    if kind == "json":
        return "application/json", json.dumps(draw(JSON_VALUES))
    return draw(st.sampled_from([FORM, "application/json", "text/plain", "multipart/form-data"])), draw(
        st.binary(max_size=200)
    ).decode("latin-1")


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")  # the bot's threads use random
def test_broken_payloads_signed_correctly_never_get_a_500(tmp_path: Path, figures: dict[str, Any]) -> None:
    statuses: dict[int, int] = {}
    with running_stack(tmp_path, clock=ManualClock(NOW)) as stack:
        slack = stack.slack

        @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        @given(sent=broken_bodies())
        @example(sent=(FORM, payloads.payload_form(block_actions(value="1e999"))))
        @example(sent=(FORM, payloads.payload_form(block_actions(value="9" * 40))))
        @example(sent=(FORM, payloads.payload_form(block_actions(value=None))))
        @example(sent=(FORM, payloads.payload_form({**block_actions(), "actions": []})))
        @example(sent=(FORM, payloads.payload_form({**block_actions(), "user": None})))
        @example(sent=(FORM, payloads.payload_form({**block_actions(), "view": None, "type": None})))
        @example(sent=(FORM, payloads.form({"payload": "{not json"})))
        @example(sent=("application/json", json.dumps({"type": "url_verification", "challenge": "c"})))
        @example(sent=("application/json", json.dumps({"type": "event_callback", "event": {"type": "app_home_opened"}})))
        @example(sent=(FORM, ""))
        def one(sent: tuple[str, str]) -> None:
            content_type, body = sent
            fresh = on_standin(stack, lambda: slack.mint_response_url(APPROVER, "C0BUDGET"))
            body = body.replace(quote_plus(NOWHERE), quote_plus(fresh)).replace(NOWHERE, fresh)
            headers = {"Content-Type": content_type, **slack.signed_headers(body)}
            status, text = send(stack, body.encode("utf-8", "surrogatepass"), headers)
            statuses[status] = statuses.get(status, 0) + 1
            assert status < 500, (sent, status, text)
            assert not TRACEBACK.search(text), (sent, text)

        one()
        # Every answer the bot gave through a response URL was a sentence, not a failure.
        settle(stack)
        replies = [c.args.get("text", "") for c in slack.calls_to("response_url")]
        everything = [m.all_text for m in slack.log]
    assert replies
    assert not [r for r in replies if "Something went wrong" in r]
    assert not any(TRACEBACK.search(t) for t in everything)
    assert stack.sandbox.requests.entries("PATCH") == []
    assert set(statuses) <= {200, 400, 401, 404}, statuses
    figures["broken payloads"] = {"sent": sum(statuses.values()), "statuses": dict(sorted(statuses.items())),
                                  "answers through a response URL": len(replies)}


def settle(stack: Stack) -> None:
    """Waits until the bot has nothing left in flight: the answers to the last requests have all come."""

    async def idle() -> None:
        current = asyncio.current_task()
        while pending := [t for t in asyncio.all_tasks() if t is not current and not t.done() and _is_listener(t)]:
            await asyncio.wait(pending, timeout=10)

    stack.on_bot(idle)


def _is_listener(task: asyncio.Task[Any]) -> bool:
    """Bolt runs a listener after its ack as a task of its own; the server's own tasks never end."""
    return "run_ack_function_asynchronously" in repr(task.get_coro())
