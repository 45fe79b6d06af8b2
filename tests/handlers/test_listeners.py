"""Each Slack listener on its own: called with a fake `ack`/`respond`/`client`, the way Bolt would call it.

The service behind the listeners is the real one, on a SQLite store, reading the sandbox ad platform
over HTTP (the exact account of `tests.harness.exact_account`, bot clock 2024-03-04 12:00 UTC). The
fakes record each call with how many requests the ad platform had seen by then, which is how the
tests tell that the ack went out before any slow work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.runtime import Runtime
from handlers import actions, commands, events, views
from handlers.context import CONTEXT_KEY, BotContext
from sandbox.adplatform import SANDBOX_KEY, Sandbox, SandboxConfig, start_sandbox
from sandbox.serving import BackgroundServer
from tests.harness import API_TOKEN, APPROVER, CHANNEL, NOW, VIEWER, bot_settings, exact_account

NOT_ALLOWED = "Only the configured approvers can decide on budget proposals; nothing was changed."


@pytest.fixture
def ads() -> Iterator[BackgroundServer]:
    """The sandbox ad platform over HTTP, with the exact account."""
    server = start_sandbox(exact_account(NOW.date()), token=API_TOKEN, config=SandboxConfig(rate_limits={"statistics": None}))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox(ads: BackgroundServer) -> Sandbox:
    return ads.app[SANDBOX_KEY]


class FakeSlack:
    """The Web API methods the listeners and the notifier use, recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append((method, kwargs))
        return {"ok": True, "ts": f"1709553600.{len(self.calls):06d}", "channel": kwargs.get("channel")}

    async def chat_postMessage(self, **kwargs: Any) -> dict[str, Any]:  # noqa: N802 - slack_sdk's name
        return await self._call("chat.postMessage", **kwargs)

    async def chat_update(self, **kwargs: Any) -> dict[str, Any]:
        return await self._call("chat.update", **kwargs)

    async def views_open(self, **kwargs: Any) -> dict[str, Any]:
        return await self._call("views.open", **kwargs)

    async def views_publish(self, **kwargs: Any) -> dict[str, Any]:
        return await self._call("views.publish", **kwargs)

    async def files_upload_v2(self, **kwargs: Any) -> dict[str, Any]:
        return await self._call("files.upload_v2", **kwargs)

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]


class Trail:
    """Fake ack and respond; each call remembers how many ad platform requests came before it."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.events: list[tuple[str, tuple[Any, ...], dict[str, Any], int]] = []

    def _seen(self) -> int:
        return len(self.sandbox.requests.entries())

    async def ack(self, *args: Any, **kwargs: Any) -> None:
        self.events.append(("ack", args, kwargs, self._seen()))

    async def respond(self, *args: Any, **kwargs: Any) -> None:
        self.events.append(("respond", args, kwargs, self._seen()))

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, *_ in self.events]

    @property
    def replies(self) -> list[dict[str, Any]]:
        return [kwargs for kind, _, kwargs, _ in self.events if kind == "respond"]

    @property
    def texts(self) -> list[str]:
        return [reply["text"] for reply in self.replies]


@pytest.fixture
async def runtime(tmp_path: Path, ads: BackgroundServer) -> AsyncIterator[Runtime]:
    settings = bot_settings(ads.url + "/v5", "http://127.0.0.1:9", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    built = Runtime.build(settings, clock=lambda: NOW)
    built.notifier.client = FakeSlack()  # type: ignore[assignment]
    await built.store.migrate()
    try:
        yield built
    finally:
        await built.stop()


@pytest.fixture
def slack(runtime: Runtime) -> FakeSlack:
    return runtime.notifier.client  # type: ignore[return-value]


@pytest.fixture
def context(runtime: Runtime) -> dict[str, Any]:
    return {CONTEXT_KEY: BotContext(runtime.settings, runtime.service, runtime.notifier)}


@pytest.fixture
def trail(sandbox: Sandbox) -> Trail:
    return Trail(sandbox)


def command_body(text: str, user: str = APPROVER) -> dict[str, Any]:
    return {"command": "/budget", "text": text, "user_id": user, "channel_id": CHANNEL}


def click_body(action_id: str, value: str | None, user: str = APPROVER, *, ephemeral: bool = False) -> dict[str, Any]:
    action = {"action_id": action_id, "block_id": "proposal", "type": "button"}
    if value is not None:
        action["value"] = value
    return {
        "type": "block_actions",
        "user": {"id": user},
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": "1709553600.000001", "is_ephemeral": ephemeral},
        "trigger_id": "trigger-1",
        "actions": [action],
    }


def edit_view(proposal_id: str, amount: str | None) -> dict[str, Any]:
    return {
        "callback_id": "proposal_edit_submit",
        "private_metadata": proposal_id,
        "state": {"values": {"amount": {"amount_input": {"type": "plain_text_input", "value": amount}}}},
    }


async def run_budget(trail: Trail, context: dict[str, Any], text: str, user: str = APPROVER) -> None:
    await commands.budget_command(ack=trail.ack, command=command_body(text, user), respond=trail.respond, context=context)


async def proposals_from_a_check(runtime: Runtime, sandbox: Sandbox) -> None:
    """#1: 102 200.00 → 160.00, #2: 101 100.00 → 120.00, both pending."""
    result = await runtime.service.run_check()
    assert [(p.id, p.campaign_id, str(p.to_amount)) for p in result.created] == [(1, 102, "160.00"), (2, 101, "120.00")]
    sandbox.requests.clear()


# --- /budget --------------------------------------------------------------------------------------


async def test_status_acks_empty_before_reading_the_account(trail: Trail, context: dict[str, Any], sandbox: Sandbox) -> None:
    sandbox.faults.latency = 0.2
    await run_budget(trail, context, "status")
    assert trail.kinds == ["ack", "respond"]
    _, args, kwargs, seen_at_ack = trail.events[0]
    assert (args, kwargs, seen_at_ack) == ((), {}, 0)  # an empty ack, before any ad platform request
    assert trail.events[1][3] == 3  # balance, working campaigns, one statistics call
    [reply] = trail.replies
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == (
        "Budget health: balance 5,000.00, runway 18.8 days, total daily budget 350.00, 0 campaign(s) at risk"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Usage: /budget status | check | proposals | history | rules | automation | backtest | help"),
        ("help", "Usage: /budget status | check | proposals | history | rules | automation | backtest | help"),
        ("HELP", "Usage: /budget status | check | proposals | history | rules | automation | backtest | help"),
        ("frobnicate now", "I don't know “frobnicate now”. Usage: /budget status | check | proposals | history | rules | automation | backtest | help"),
        ("  Status   101 ", "Winner &amp; Co &lt;US&gt; (101): working, daily budget 100.00, spent 0.00 today (EST)"),
        # Slack sends &, < and > escaped; the name is matched on the real characters.
        ("status Winner &amp; Co &lt;US&gt;", "Winner &amp; Co &lt;US&gt; (101): working, daily budget 100.00, spent 0.00 today (EST)"),
        ("status steady", "Steady FR (103): working, daily budget 50.00, spent 0.00 today (EST)"),
        ("status e", "5 campaigns match “e”"),
        ("status 4242", "No campaign matches “4242”."),
        ("proposals", "No proposal is waiting for a decision."),
        ("history", "No budget changes recorded."),
        ("history 101", "No budget changes recorded for campaign 101."),
    ],
)
async def test_command_text_is_parsed_into_one_answer(
    trail: Trail, context: dict[str, Any], text: str, expected: str
) -> None:
    await run_budget(trail, context, text)
    assert trail.kinds == ["ack", "respond"]
    assert trail.texts == [expected]
    assert trail.replies[0]["response_type"] == "ephemeral"


async def test_usage_of_an_unknown_verb_is_clipped_and_escaped(trail: Trail, context: dict[str, Any]) -> None:
    await run_budget(trail, context, "&lt;!channel&gt; " + "x" * 300)
    [text] = trail.texts
    assert text.startswith("I don't know “&lt;!channel&gt; xxx")
    assert "<!channel>" not in text
    assert len(text) < 230  # the verb clipped to 100 characters, then the usage line


async def test_check_answers_twice_and_posts_to_the_channel(
    trail: Trail, context: dict[str, Any], slack: FakeSlack, sandbox: Sandbox
) -> None:
    await run_budget(trail, context, "check", user=APPROVER)
    assert trail.kinds == ["ack", "respond", "respond"]
    assert trail.events[0][3] == 0 and trail.events[1][3] == 0  # "running" goes out before the check reads anything
    assert trail.texts == [
        "Running a health check; results go to the channel.",
        "Health check done: 0 alert change(s), 2 new proposal(s), 0 still waiting",
    ]
    assert trail.replies[1]["blocks"][0]["elements"][0]["text"] == (
        "Health check done for <@U0APPROVER>: 0 alert change(s), 2 new proposal(s), 0 still waiting."
    )
    # The summary, today's pacing chart beside it, then the proposals.
    assert slack.methods() == ["chat.postMessage", "files.upload_v2", "chat.postMessage", "chat.postMessage"]
    assert [kwargs.get("text") or kwargs["initial_comment"][:50] for _, kwargs in slack.calls] == [
        "Budget health check: balance 5,000.00, runway 18.8 days, total daily budget 350.00, 0 campaign(s) at risk",
        "*Spend today* Mon Mar 04 (EST), at 07:00: 0.00 USD",
        "Proposal #1: Loser DE daily budget 200.00 → 160.00",
        "Proposal #2: Winner &amp; Co &lt;US&gt; daily budget 100.00 → 120.00",
    ]
    upload = slack.calls[1][1]
    assert upload["content"][:8] == b"\x89PNG\r\n\x1a\n" and upload["initial_comment"].startswith("*Spend today*")
    assert {kwargs["channel"] for _, kwargs in slack.calls} == {CHANNEL}


async def test_check_that_cannot_read_the_account_says_so_and_alerts(
    trail: Trail, context: dict[str, Any], slack: FakeSlack, sandbox: Sandbox
) -> None:
    sandbox.token = "revoked"
    await run_budget(trail, context, "check")
    assert trail.kinds == ["ack", "respond", "respond"]
    assert trail.texts[1].startswith("Could not run the health check: PropellerAds refused the API token (401)")
    assert [kwargs["text"] for _, kwargs in slack.calls] == [
        "Needs attention: PropellerAds refused the bot's API token: Unauthorized."
    ]


async def test_proposals_and_history_list_what_the_store_holds(
    trail: Trail, context: dict[str, Any], runtime: Runtime, sandbox: Sandbox
) -> None:
    await proposals_from_a_check(runtime, sandbox)
    await run_budget(trail, context, "proposals")
    await run_budget(trail, context, "history loser")
    assert trail.texts == ["2 pending proposal(s)", "Budget history for campaign loser: 1 entries"]
    assert sandbox.requests.entries() == []  # both come from the store alone


async def test_an_ad_platform_failure_is_one_clear_private_line(
    trail: Trail, context: dict[str, Any], sandbox: Sandbox
) -> None:
    sandbox.faults.fail_next("GET", "/adv/statistics", 400, body='{"day_from": ["Invalid date."]}',
                             content_type="application/json")
    await run_budget(trail, context, "status 4242")  # a 404 by id is "no such campaign", not a failure
    await run_budget(trail, context, "status 101")
    assert trail.kinds == ["ack", "respond", "ack", "respond"]
    assert trail.texts[0] == "No campaign matches “4242”."
    assert trail.texts[1] == (
        "Could not answer /budget: PropellerAds rejected the request (400) on GET /adv/statistics: day_from: Invalid date."
    )
    assert trail.replies[1]["response_type"] == "ephemeral" and trail.replies[1]["replace_original"] is False


async def test_an_unexpected_failure_is_a_generic_private_line(
    trail: Trail, context: dict[str, Any], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("database is on fire")

    monkeypatch.setattr(runtime.service.store, "proposals", broken)
    await run_budget(trail, context, "proposals")
    assert trail.kinds == ["ack", "respond"]
    assert trail.texts == ["Something went wrong while trying to answer /budget; it has been logged. Nothing was changed."]


async def test_a_failing_response_url_does_not_escape_the_listener(context: dict[str, Any], sandbox: Sandbox) -> None:
    acked: list[bool] = []

    async def ack() -> None:
        acked.append(True)

    async def respond(**_: Any) -> None:
        raise ConnectionError("response URL unreachable")

    sandbox.token = "revoked"
    await commands.budget_command(ack=ack, command=command_body("status"), respond=respond, context=context)
    assert acked == [True]


# --- buttons ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("listener", [actions.approve, actions.reject])
async def test_a_decision_by_someone_not_allowed_changes_nothing(
    listener: Any, trail: Trail, context: dict[str, Any], runtime: Runtime, sandbox: Sandbox, slack: FakeSlack
) -> None:
    await proposals_from_a_check(runtime, sandbox)
    await listener(ack=trail.ack, body=click_body("proposal_approve", "2", VIEWER), respond=trail.respond, context=context, client=slack)
    assert trail.kinds == ["ack", "respond"]
    assert trail.texts == [NOT_ALLOWED]
    assert trail.replies[0]["response_type"] == "ephemeral" and trail.replies[0]["replace_original"] is False
    assert (await runtime.store.get(2)).state == "pending"  # type: ignore[union-attr]
    assert sandbox.requests.entries() == [] and slack.calls == []


@pytest.mark.parametrize("value", [None, "", "two", "12abc"])
async def test_a_button_without_a_proposal_id_is_told_so(
    value: str | None, trail: Trail, context: dict[str, Any], slack: FakeSlack
) -> None:
    await actions.approve(ack=trail.ack, body=click_body("proposal_approve", value), respond=trail.respond, context=context, client=slack)
    assert trail.kinds == ["ack", "respond"]
    assert trail.texts == ["That button does not name a proposal I know; nothing was changed."]


async def test_approve_acks_before_writing_and_applies_once(
    trail: Trail, context: dict[str, Any], runtime: Runtime, sandbox: Sandbox, slack: FakeSlack
) -> None:
    await proposals_from_a_check(runtime, sandbox)
    sandbox.faults.latency = 0.1
    await actions.approve(ack=trail.ack, body=click_body("proposal_approve", "2", APPROVER, ephemeral=True),
                          respond=trail.respond, context=context, client=slack)
    assert trail.kinds == ["ack", "respond"]
    assert trail.events[0][3] == 0
    assert sandbox.account.campaign(101).limit_daily_amount == 120
    assert (await runtime.store.get(2)).state == "applied"  # type: ignore[union-attr]
    # Clicked in the /budget proposals list (ephemeral, no channel message known): that copy is redrawn.
    assert trail.replies[0]["replace_original"] is True
    writes = [r for r in sandbox.requests.entries() if r.method != "GET"]
    assert len(writes) == 1

    await actions.approve(ack=trail.ack, body=click_body("proposal_approve", "2", APPROVER),
                          respond=trail.respond, context=context, client=slack)
    assert [r for r in sandbox.requests.entries() if r.method != "GET"] == writes
    assert trail.kinds[2:] == ["ack", "respond"]
    assert trail.replies[1]["response_type"] == "ephemeral"


async def test_reject_by_an_approver_rewrites_the_proposal(
    trail: Trail, context: dict[str, Any], runtime: Runtime, sandbox: Sandbox, slack: FakeSlack
) -> None:
    await proposals_from_a_check(runtime, sandbox)
    await actions.reject(ack=trail.ack, body=click_body("proposal_reject", "1", APPROVER), respond=trail.respond, context=context, client=slack)
    assert trail.kinds == ["ack", "respond"]
    assert trail.replies[0]["replace_original"] is True
    assert trail.texts[0].startswith("Proposal #1 (Loser DE): ")
    assert (await runtime.store.get(1)).state == "rejected"  # type: ignore[union-attr]
    assert sandbox.requests.entries() == []


async def test_edit_opens_the_modal_only_for_an_approver_and_a_pending_proposal(
    trail: Trail, context: dict[str, Any], runtime: Runtime, sandbox: Sandbox, slack: FakeSlack
) -> None:
    await proposals_from_a_check(runtime, sandbox)
    body = click_body("proposal_edit", "1", VIEWER)
    await actions.edit(ack=trail.ack, body=body, respond=trail.respond, context=context, client=slack)
    assert trail.texts == ["Only the configured approvers can change a proposal; nothing was changed."]
    assert slack.calls == []

    body = click_body("proposal_edit", "1", APPROVER)
    await actions.edit(ack=trail.ack, body=body, respond=trail.respond, context=context, client=slack)
    assert slack.methods() == ["views.open"]
    view = slack.calls[0][1]["view"]
    assert slack.calls[0][1]["trigger_id"] == "trigger-1"
    assert (view["callback_id"], view["private_metadata"]) == ("proposal_edit_submit", "1:1")

    await runtime.service.decide(1, APPROVER, approve=False)
    await actions.edit(ack=trail.ack, body=body, respond=trail.respond, context=context, client=slack)
    assert trail.texts[-1] == "This proposal is no longer pending; nothing was changed."
    assert trail.kinds == ["ack", "respond", "ack", "ack", "respond"]


# --- the Edit amount modal -------------------------------------------------------------------------


async def submit(trail: Trail, context: dict[str, Any], slack: FakeSlack, view: dict[str, Any], user: str = APPROVER) -> None:
    await views.edit_submitted(ack=trail.ack, body={"user": {"id": user}}, view=view, context=context, client=slack)


@pytest.mark.parametrize(
    ("metadata", "amount", "user", "error"),
    [
        ("not-a-number", "150", APPROVER, "This form is out of date; open it again."),
        ("1", "abc", APPROVER, "'abc' is not an amount; write it like 180 or 180.50."),
        ("1", "-5", APPROVER, "The daily budget must be a positive amount."),
        ("1", "200", APPROVER, "200.00 is the current daily budget; reject the proposal to keep it."),
        ("1", "90", APPROVER, "The guardrails allow at least 100.00 (trimmed to the 50% largest step)."),
        ("1", "150", VIEWER, "Only the configured approvers can change a proposal."),
    ],
)
async def test_an_amount_that_cannot_be_saved_keeps_the_modal_open_with_the_reason(
    metadata: str, amount: str, user: str, error: str,
    trail: Trail, context: dict[str, Any], runtime: Runtime, sandbox: Sandbox, slack: FakeSlack,
) -> None:
    await proposals_from_a_check(runtime, sandbox)
    await submit(trail, context, slack, edit_view(metadata, amount), user)
    assert trail.events == [("ack", (), {"response_action": "errors", "errors": {"amount": error}}, trail.events[0][3])]
    assert str((await runtime.store.get(1)).to_amount) == "160.00"  # type: ignore[union-attr]
    assert slack.calls == []


async def test_a_good_amount_is_saved_and_the_modal_closes(
    trail: Trail, context: dict[str, Any], runtime: Runtime, sandbox: Sandbox, slack: FakeSlack
) -> None:
    await proposals_from_a_check(runtime, sandbox)
    await submit(trail, context, slack, edit_view("1", "150"))
    assert trail.kinds == ["ack"] and trail.events[0][1:3] == ((), {})
    saved = await runtime.store.get(1)
    assert saved is not None and str(saved.to_amount) == "150.00" and saved.state == "pending"
    assert slack.calls == []  # the proposal has no channel message to redraw


async def test_a_slow_check_of_the_amount_acks_in_time_and_reports_by_message(
    trail: Trail, context: dict[str, Any], runtime: Runtime, sandbox: Sandbox, slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await proposals_from_a_check(runtime, sandbox)
    monkeypatch.setattr(views, "ACK_BUDGET_SECONDS", 0.05)
    sandbox.faults.latency = 0.3
    await submit(trail, context, slack, edit_view("2", "1000"))
    # Acked (closing the modal) before the guardrails were known; the refusal then came as a DM.
    assert trail.events[0][:3] == ("ack", (), {})
    assert slack.methods() == ["chat.postMessage"]
    dm = slack.calls[0][1]
    assert dm["channel"] == APPROVER
    assert dm["text"].startswith("The new amount for proposal #2 was not saved: The guardrails allow at most 150.00")
    assert str((await runtime.store.get(2)).to_amount) == "120.00"  # type: ignore[union-attr]


# --- App Home ------------------------------------------------------------------------------------


async def test_home_opened_publishes_the_health_and_the_pending_count(
    context: dict[str, Any], runtime: Runtime, sandbox: Sandbox, slack: FakeSlack
) -> None:
    await events.home_opened(event={"type": "app_home_opened", "user": VIEWER, "tab": "messages"}, context=context, client=slack)
    assert slack.calls == [] and sandbox.requests.entries() == []

    await proposals_from_a_check(runtime, sandbox)
    await events.home_opened(event={"type": "app_home_opened", "user": VIEWER, "tab": "home"}, context=context, client=slack)
    [(method, kwargs)] = slack.calls
    assert method == "views.publish" and kwargs["user_id"] == VIEWER
    blocks = kwargs["view"]["blocks"]
    assert kwargs["view"]["type"] == "home"
    assert blocks[0]["text"]["text"] == "Budget health now"
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]
    assert "*2 proposal(s) waiting for a decision*" in texts
    # Each pending proposal with its buttons, to decide from App Home.
    actions = [[e["action_id"] for e in b["elements"]] for b in blocks if b["type"] == "actions"]
    assert actions == [["proposal_approve", "proposal_reject", "proposal_edit"]] * 2


async def test_home_opened_shows_an_ad_platform_failure_instead_of_nothing(
    context: dict[str, Any], sandbox: Sandbox, slack: FakeSlack
) -> None:
    sandbox.token = "revoked"
    await events.home_opened(event={"type": "app_home_opened", "user": VIEWER}, context=context, client=slack)
    [(_, kwargs)] = slack.calls
    first = kwargs["view"]["blocks"][0]["text"]["text"]
    assert first.startswith(":x: Could not read the account: PropellerAds refused the API token (401)")


def home_click_body(action_id: str, value: str, user: str) -> dict[str, Any]:
    """A click in App Home: a view container, no channel and no response URL (Bolt hands `respond=None`)."""
    return {
        "type": "block_actions",
        "user": {"id": user},
        "container": {"type": "view", "view_id": "V0HOME"},
        "trigger_id": "trigger-1",
        "actions": [{"action_id": action_id, "block_id": "proposal:2", "type": "button", "value": value}],
    }


async def test_a_refused_click_in_app_home_is_told_on_top_of_the_home(
    trail: Trail, context: dict[str, Any], runtime: Runtime, sandbox: Sandbox, slack: FakeSlack
) -> None:
    await proposals_from_a_check(runtime, sandbox)
    slack.calls.clear()
    await actions.approve(ack=trail.ack, body=home_click_body("proposal_approve", "2", VIEWER), respond=None,
                          context=context, client=slack)
    [(method, kwargs)] = slack.calls
    assert method == "views.publish" and kwargs["user_id"] == VIEWER
    first = kwargs["view"]["blocks"][0]["text"]["text"]
    assert "not" in first and "approver" in first, first
    assert sandbox.requests.entries(method="PATCH") == []


async def test_a_failure_in_an_app_home_click_is_told_on_top_of_the_home(
    trail: Trail, context: dict[str, Any], runtime: Runtime, sandbox: Sandbox, slack: FakeSlack
) -> None:
    await proposals_from_a_check(runtime, sandbox)
    slack.calls.clear()
    body = home_click_body("proposal_reject", "2", APPROVER)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the store went away")

    runtime.service.decide = broken  # type: ignore[method-assign]
    await actions.reject(ack=trail.ack, body=body, respond=None, context=context, client=slack)
    [(method, kwargs)] = slack.calls
    assert method == "views.publish"
    assert kwargs["view"]["blocks"][0]["text"]["text"] == (
        "Something went wrong while trying to reject the proposal; it has been logged. Nothing was changed."
    )
