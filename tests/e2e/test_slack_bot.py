"""The real Bolt app over HTTP on 127.0.0.1: signed requests from the Slack stand-in, the sandbox ad platform behind it.

Every test drives the bot the way Slack does (a signed POST to /slack/events) and reads what the
bot did from the stand-in's record of Web API calls and response-URL posts. The bot's clock is a
ManualClock at 2024-03-04 12:00 UTC, so the exact account's figures (see `exact_account`) hold:
balance 5,000.00, total daily budget 350.00, 7-day spend 1,855.00 (265.00 a day), runway 18.8
days, budget covered 14.2 days; the CPA rule proposes 102 200.00 → 160.00 and 101 100.00 → 120.00.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.adplatform import Campaign as SandboxCampaign, ManualClock
from sandbox.slack import Ack, Message, payloads
from tests.harness import APPROVER, CHANNEL, NOW, VIEWER, Stack, mrkdwn_texts, running_stack

SLACK_ACK_DEADLINE = 3.0
# Well under Slack's 3 s, and under one 1.5 s ad API call: the ack cannot have waited on the API.
ACK_LIMIT = 1.0

SUMMARY_FIELDS = [
    "*Balance*\n5,000.00 USD",
    "*Runway*\n18.8 days at the 265.00 USD a day spent",
    "*Total daily budget*\n350.00 USD",
    "*Budget covered*\n14.2 days at the 350.00 USD a day budgeted",
    "*Working campaigns*\n4 (1 without a limit)",
    "*Spend, last 7 days*\n1,855.00 USD",
]
CAMPAIGN_101_FIELDS = [
    "*Status*\nworking",
    "*Daily budget*\n100.00 USD",
    "*Spend today (EST)*\n0.00 USD",
    "*Spend yesterday*\n90.00 USD",
    "*Spend, last 7 days*\n630.00 USD",
    "*Conversions, last 7 days*\n88",
    "*CPA, last 7 days*\n7.16 USD",
    "*Pacing today (EST)*\n0% of an even spread (behind pace); 29% of the day gone",
    "*Share of daily budget (EST)*\n0%",
    "*Share of the ad day gone*\n29%",
    "*Projected end-of-day spend*\n0.00 USD",
    "*Daily budget cap (EST)*\nnot today at the current rate",
]
USAGE_LINES = [
    "*`/budget status`*: balance, runway, total daily budget, campaigns at risk, recommendations",
    "*`/budget status <campaign id or part of its name>`*: one campaign: limit, spend, conversions, CPA, pacing",
    "*`/budget check`*: run a health check now and post what it finds to the channel",
    "*`/budget proposals`*: the budget changes waiting for a decision",
    "*`/budget history [campaign id]`*: who changed which daily budget, and how it went",
    "*`/budget rules`*: the rules in plain words, their mode, when each last fired and what it did",
    "*`/budget automation [on|off]`*: whether rules in auto mode act on their own (approvers switch it)",
    "*`/budget backtest [rule]`*: what the rules would have done over the last 14 days, and what those campaigns then spent",
    "*`/budget help`*: this list",
]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path, clock=ManualClock(NOW)) as running:
        yield running


# --- helpers ---------------------------------------------------------------------------------


def command(stack: Stack, text: str, *, user: str = APPROVER, skip: str | None = None) -> tuple[Ack, Message, float]:
    """Sends `/budget <text>`; returns the ack, the first reply through the response URL, and seconds until it came.

    `skip` passes over a reply containing that text (the "running…" line before a check's result).
    """
    started = time.perf_counter()
    ack = stack.slack.sync.send_command(text, user_id=user)
    assert ack.status == 200, ack
    reply = stack.slack.sync.wait_for_message(
        lambda m: m.via == "response_url" and (skip is None or skip not in m.text), since=ack.mark
    )
    return ack, reply, time.perf_counter() - started


def fields(message: Message | dict[str, Any]) -> list[str]:
    blocks = message.blocks if isinstance(message, Message) else message["blocks"]
    return [f["text"] for b in blocks if b["type"] == "section" for f in b.get("fields", [])]


def sections(message: Message | dict[str, Any]) -> list[str]:
    blocks = message.blocks if isinstance(message, Message) else message["blocks"]
    return [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]


def contexts(message: Message | dict[str, Any]) -> list[str]:
    blocks = message.blocks if isinstance(message, Message) else message["blocks"]
    return [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"] if "text" in e]


def header(message: Message) -> str:
    return next(b["text"]["text"] for b in message.blocks if b["type"] == "header")


def channel_messages(stack: Stack) -> list[Message]:
    """What everyone in the channel sees: no ephemerals."""
    return [m for m in stack.slack.messages() if not m.ephemeral]


def assert_escaped(text: str) -> None:
    """Only user mentions (<@U…>) and the three entities may carry <, > or & in mrkdwn."""
    bare = re.sub(r"<@U[A-Z0-9]+>", "", text)
    bare = re.sub(r"&(amp|lt|gt);", "", bare)
    assert not re.search(r"[<>&]", bare), f"unescaped mrkdwn: {text!r}"


# --- the "done when" of the Slack side --------------------------------------------------------


def test_acks_come_back_well_under_3_s_while_each_ad_api_call_takes_1_5_s(stack: Stack, record_property: Any) -> None:
    stack.sandbox.faults.latency = 1.5

    ack, reply, took = command(stack, "status")
    status_ack = ack.latency
    assert ack.body == ""  # an empty ack: the answer comes through the response URL
    assert took >= 1.5  # the answer did wait on the slowed ad API, the ack did not
    assert reply.visible_to == APPROVER
    assert reply.text == (
        "Budget health: balance 5,000.00, runway 18.8 days, total daily budget 350.00, 0 campaign(s) at risk"
    )
    assert header(reply) == "Budget health"
    assert fields(reply) == SUMMARY_FIELDS
    assert sections(reply)[:2] == [
        ":chart_with_upwards_trend: *Today (EST)*: spent 0.00 USD, projected 0.00 USD by the end of the ad day, 29% of it gone; "
        "at the current rate nothing is spending the balance down.",
        ":white_check_mark: No daily budget is out of proportion to the balance.",
    ]
    assert sections(reply)[2] == (
        "*Recommendations*\n• `UNLIMITED_DAILY_BUDGET` 1 working campaign(s) have no daily budget and can spend "
        "the whole balance in a day: Unlimited MX (105). Set a daily budget."
    )

    ack, reply, took = command(stack, "status 101")
    campaign_ack = ack.latency
    assert ack.body == ""
    assert took >= 3.0  # the campaign first, then its figures: at least two slowed calls one after the other
    assert header(reply) == "Winner & Co <US> (101)"
    assert fields(reply) == CAMPAIGN_101_FIELDS

    ack, reply, _ = command(stack, "make it rain")
    nonsense_ack = ack.latency
    assert reply.text == "I don't know “make it rain”. Usage: /budget status | check | proposals | history | rules | automation | backtest | help"
    assert sections(reply) == ["I don't know “make it rain”. What `/budget` can do:\n" + "\n".join(USAGE_LINES)]

    latencies = {"status": status_ack, "status 101": campaign_ack, "nonsense": nonsense_ack}
    record_property("ack_latency_ms", {k: round(v * 1000, 1) for k, v in latencies.items()})
    for what, latency in latencies.items():
        assert latency < ACK_LIMIT < SLACK_ACK_DEADLINE, f"/budget {what} acked in {latency:.3f} s"
    assert all(a.status == 200 and a.error is None for a in stack.slack.acks)
    # Nothing went to the channel: replies to commands are for the caller only.
    assert channel_messages(stack) == []


def test_forged_stale_and_unsigned_requests_get_401_and_nothing_else_happens(stack: Stack) -> None:
    slack = stack.slack
    body = payloads.form(slack.command_form("check", user_id=APPROVER))
    event = json.dumps(
        {"type": "event_callback", "team_id": "T0STANDIN", "api_app_id": "A0BUDGETBOT", "event_id": "Ev0FORGED",
         "event_time": int(time.time()), "event": {"type": "app_home_opened", "user": APPROVER, "tab": "home"}}
    )
    now = int(time.time())
    attempts = {
        "wrong secret": (body, slack.signed_headers(body, secret="not-the-signing-secret"), None),
        "10 minutes old": (body, slack.signed_headers(body, timestamp=now - 600), None),
        "10 minutes ahead": (body, slack.signed_headers(body, timestamp=now + 600), None),
        "no signature": (body, {}, None),
        "body changed after signing": (body.replace("check", "status"), slack.signed_headers(body), None),
        "forged event": (event, slack.signed_headers(event, secret="not-the-signing-secret"), "application/json"),
    }
    for what, (raw, headers, content_type) in attempts.items():
        sent = dict(headers)
        if content_type:
            sent["Content-Type"] = content_type
        ack = slack.sync.send_raw(raw, sent)
        assert ack.status == 401, f"{what}: {ack}"
    assert slack.calls == []

    # A genuine request after them is answered; by then nothing the forgeries asked for has happened.
    ack, reply, _ = command(stack, "help")
    assert reply.text.startswith("Usage: /budget")
    assert [m.text for m in slack.messages(user_id=APPROVER)] == [reply.text]
    # auth.test: Bolt learns who it is on the first genuine request.
    assert [c.method for c in slack.calls] == ["auth.test", "response_url"]
    assert slack.home(APPROVER) is None
    assert stack.sandbox.requests.entries() == []
    assert [a.status for a in slack.acks] == [401] * len(attempts) + [200]


# --- each command ------------------------------------------------------------------------------


def test_help_and_an_empty_command_answer_the_usage_privately(stack: Stack) -> None:
    for text in ("help", ""):
        _, reply, _ = command(stack, text, user=VIEWER)
        assert reply.visible_to == VIEWER
        assert reply.text == "Usage: /budget status | check | proposals | history | rules | automation | backtest | help"
        assert sections(reply) == ["What `/budget` can do:\n" + "\n".join(USAGE_LINES)]
    assert stack.sandbox.requests.entries() == []


def test_check_posts_summary_alerts_and_proposals_to_the_channel(tmp_path: Path) -> None:
    """Balance 900.00 covers 900 / 350 = 2.5 days (LOW_BALANCE, a warning: not under 1.5); runway 900 / 265 = 3.3
    days (no alert). 102's 200.00 is 22% of the balance and 101's 100.00 is 11%: both HIGH. The decrease of 102 to
    160.00 goes first and leaves 310.00 a day; the increase of 101 would need 900 / 3 − 310 = −10.00 of room, so
    the guardrails forbid it and it is not posted."""
    with running_stack(tmp_path, clock=ManualClock(NOW)) as stack:
        stack.sandbox.account.set_balance("900.00", NOW)
        ack, first, _ = command(stack, "check")
        assert first.text == "Running a health check; results go to the channel."
        done = stack.slack.sync.wait_for_message(
            lambda m: m.via == "response_url" and m.text.startswith("Health check done"), since=ack.mark
        )
        assert done.visible_to == APPROVER
        assert done.blocks[0]["elements"][0]["text"] == (
            "Health check done for <@U0APPROVER>: 3 alert change(s), 1 new proposal(s), 0 still waiting."
        )

        # Today's pacing chart goes up right after the summary, its figures in its words.
        posted = channel_messages(stack)
        assert [bool(m.files) for m in posted] == [False, True, False, False]
        assert [m.text for m in posted] == [
            "Budget health check: balance 900.00, runway 3.3 days, total daily budget 350.00, 2 campaign(s) at risk",
            "*Spend today* Mon Mar 04 (EST), at 07:00: 0.00 USD against 102.08 USD at an even pace of 350.00 USD total daily budget.",
            "3 alerts need attention:\n"
            "• Loser DE (102) has a daily budget of 200.00, HIGH risk against the 900.00 balance.\n"
            "• Winner &amp; Co &lt;US&gt; (101) has a daily budget of 100.00, HIGH risk against the 900.00 balance.\n"
            "• Balance 900.00 covers 2.5 days of the 350.00 total daily budget.",
            "Proposal #1: Loser DE daily budget 200.00 → 160.00",
        ]
        summary, chart, digest, proposal = posted
        assert [f["mimetype"] for f in chart.files] == ["image/png"]  # today's pacing chart, its figures in its words
        assert all(m.channel == CHANNEL for m in posted)
        assert [m.via for m in posted if m is not chart] == ["chat.postMessage"] * 3
        assert header(summary) == "Budget health check"
        assert fields(summary)[:4] == [
            "*Balance*\n900.00 USD",
            "*Runway*\n3.3 days at the 265.00 USD a day spent",
            "*Total daily budget*\n350.00 USD",
            "*Budget covered*\n2.5 days at the 350.00 USD a day budgeted",
        ]
        today, top, changed, risks, _, open_alerts, held = sections(summary)
        assert today.startswith(":chart_with_upwards_trend: *Today (EST)*: spent 0.00 USD, projected 0.00 USD")
        # Yesterday's spend (the seeded account's last day) by campaign, largest first; CPA is yesterday's.
        assert top == (
            "*Top campaigns by spend* (USD; Pace: share of today's daily budget spent)\n```"
            "Campaign                 Yesterday Conv     CPA     Today  Pace\n"
            "Loser DE (102)              150.00    1  150.00      0.00    0%\n"
            "Winner &amp; Co &lt;US&gt; (101)       90.00   13    6.92      0.00    0%\n"
            "Steady FR (103)              20.00    2   10.00      0.00    0%\n"
            "Unlimited MX (105)            5.00    0       -      0.00     -```"
        )
        assert changed == ":memo: *Since yesterday*: no daily budget changed, no campaign started or stopped, no proposal ended."
        assert open_alerts.startswith(":rotating_light: *Open alerts (3)*\n• :large_orange_circle: ")
        assert held == ":seedling: 1 campaign would scale (+20.00 USD a day): top up 210.00 USD to let it."
        assert risks == (
            ":warning: *Campaigns at risk (2)*\n"
            "• *Loser DE* (102): 200.00 USD a day, 22% of the balance, *HIGH*\n"
            "• *Winner &amp; Co &lt;US&gt;* (101): 100.00 USD a day, 11% of the balance, *HIGH*"
        )
        # One message for the check's new alerts, the most severe first, each with Snooze / Acknowledge.
        assert sections(digest) == [
            ":rotating_light: *3 alerts need attention*",
            ":large_orange_circle: *Needs attention:* Loser DE (102) has a daily budget of 200.00, HIGH risk against the 900.00 balance.",
            ":large_orange_circle: *Needs attention:* Winner &amp; Co &lt;US&gt; (101) has a daily budget of 100.00, HIGH risk against the 900.00 balance.",
            ":large_yellow_circle: *Needs attention:* Balance 900.00 covers 2.5 days of the 350.00 total daily budget.",
        ]
        menus = [b["accessory"] for b in digest.blocks if b.get("accessory")]
        assert [m["type"] for m in menus] == ["overflow"] * 3
        assert [o["text"]["text"] for o in menus[0]["options"]] == ["Snooze 1 h", "Snooze 4 h", "Snooze until tomorrow", "Acknowledge"]
        assert sections(proposal)[0] == (
            ":arrow_down: *Proposal #1: Loser DE* (102)\nCPA 150.00 misses the 10.00 target by 1400%."
        )
        assert "*Current → proposed*\n200.00 → *160.00* USD" in fields(proposal)
        buttons = [e["action_id"] for b in proposal.blocks if b["type"] == "actions" for e in b["elements"]]
        assert buttons == ["proposal_approve", "proposal_reject", "proposal_edit"]
        # Nothing was written to the ad platform: a proposal waits for a person.
        assert stack.requests("PATCH") == [] and stack.requests("PUT") == []


def test_proposals_lists_what_waits_for_a_decision(stack: Stack) -> None:
    _, reply, _ = command(stack, "proposals")
    assert reply.text == "No proposal is waiting for a decision."

    command(stack, "check", skip="Running")
    _, reply, _ = command(stack, "proposals", user=VIEWER)
    assert reply.visible_to == VIEWER
    assert reply.text == "2 pending proposal(s)"
    assert header(reply) == "Pending proposals (2)"
    heads = [s.split("\n")[0] for s in sections(reply)]
    assert heads == [
        ":arrow_down: *Proposal #1: Loser DE* (102)",
        ":arrow_up: *Proposal #2: Winner &amp; Co &lt;US&gt;* (101)",
    ]
    values = [
        (e["action_id"], e["value"]) for b in reply.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert values == [
        ("proposal_approve", "1:1"), ("proposal_reject", "1:1"), ("proposal_edit", "1:1"),
        ("proposal_approve", "2:1"), ("proposal_reject", "2:1"), ("proposal_edit", "2:1"),
    ]


def test_history_shows_the_audit_log_whole_and_by_campaign(stack: Stack) -> None:
    _, reply, _ = command(stack, "history")
    assert reply.text == "No budget changes recorded."

    command(stack, "check", skip="Running")
    _, reply, _ = command(stack, "history")
    assert reply.text == "Budget history: 2 entries"
    assert sections(reply) == [
        "`03-04 12:00` *proposed* Winner &amp; Co &lt;US&gt; (101) 100.00 → 120.00 by the bot · rule cpa-target\n"
        "`03-04 12:00` *proposed* Loser DE (102) 200.00 → 160.00 by the bot · rule cpa-target"
    ]
    _, reply, _ = command(stack, "history 102")
    assert header(reply) == "Budget history for campaign 102"
    assert sections(reply) == ["`03-04 12:00` *proposed* Loser DE (102) 200.00 → 160.00 by the bot · rule cpa-target"]
    _, reply, _ = command(stack, "history winner & co")
    assert sections(reply) == ["`03-04 12:00` *proposed* Winner &amp; Co &lt;US&gt; (101) 100.00 → 120.00 by the bot · rule cpa-target"]
    _, reply, _ = command(stack, "history 999")
    assert reply.text == "No budget changes recorded for campaign 999."


def test_campaign_status_by_name_and_pick_list(stack: Stack) -> None:
    # Slack escapes & in the typed text; the bot matches on the real name.
    _, reply, _ = command(stack, "status winner & co")
    assert header(reply) == "Winner & Co <US> (101)"
    assert fields(reply) == CAMPAIGN_101_FIELDS

    _, reply, _ = command(stack, "status r")
    assert reply.text == "4 campaigns match “r”"
    assert sections(reply) == [
        "*Several campaigns match “r”*; ask again with the ID:\n"
        "• `102` Loser DE (working, daily budget 200.00 USD)\n"
        "• `103` Steady FR (working, daily budget 50.00 USD)\n"
        "• `101` Winner &amp; Co &lt;US&gt; (working, daily budget 100.00 USD)\n"
        "• `104` Paused BR (paused, daily budget 80.00 USD)"
    ]
    _, reply, _ = command(stack, "status 999")
    assert reply.text == "No campaign matches “999”."


def test_a_pick_list_past_ten_says_how_many_more_and_shows_each_id_once(stack: Stack) -> None:
    for n in range(12):
        campaign_id = 2001 + n
        # Names that carry their own ID, as many accounts' do: the ID is marked in the name, not repeated.
        stack.sandbox.account.campaigns[campaign_id] = SandboxCampaign(
            id=campaign_id, name=f"Bulk {n:02} {campaign_id}", limit_daily_amount=None if n == 0 else Decimal("20")
        )
    _, reply, _ = command(stack, "status bulk")
    assert reply.text == "12 campaigns match “bulk”"
    lines = sections(reply)[0].split("\n")
    assert lines[0] == "*Several campaigns match “bulk”*; ask again with the ID:"
    assert lines[1] == "• Bulk 00 `2001` (working, no daily budget)"
    assert lines[2] == "• Bulk 01 `2002` (working, daily budget 20.00 USD)"
    assert len(lines) == 1 + 10 + 1
    assert lines[-1] == "…and 2 more: ask with the ID or more of the name."


# --- failures of the ad platform ---------------------------------------------------------------


def test_a_refused_token_is_a_clear_private_answer_and_a_check_alerts_the_channel(stack: Stack) -> None:
    stack.sandbox.token = "a-token-the-bot-does-not-have"
    _, reply, _ = command(stack, "status")
    assert reply.visible_to == APPROVER
    assert re.fullmatch(
        r"Could not answer /budget: PropellerAds refused the API token \(401\) on GET /adv/\w+: Unauthorized\.",
        reply.text,
    ), reply.text
    assert sections(reply) == [f":x: {reply.text}"]

    ack, _, _ = command(stack, "check")
    done = stack.slack.sync.wait_for_message(
        lambda m: m.via == "response_url" and m.text.startswith("Could not run the health check"), since=ack.mark
    )
    assert done.visible_to == APPROVER
    assert "refused the API token (401)" in done.text
    [alert] = channel_messages(stack)
    assert re.fullmatch(
        r"Needs attention: PropellerAds refused the bot's API token: Unauthorized\.", alert.text
    ), alert.text


def test_ad_api_500s_become_a_clear_private_answer_not_silence(stack: Stack) -> None:
    # The client tries a call 4 times in all; all four fail.
    stack.sandbox.faults.fail_next("GET", "/adv/campaigns/101", 500, times=4)
    _, reply, _ = command(stack, "status 101")
    assert reply.visible_to == APPROVER
    assert reply.text.startswith("Could not answer /budget: PropellerAds server error (500) on GET /adv/campaigns/101")
    assert len(stack.requests("GET", "/adv/campaigns/101")) == 4
    # The next ask, with the platform back, is answered normally.
    _, reply, _ = command(stack, "status 101")
    assert fields(reply) == CAMPAIGN_101_FIELDS


# --- mrkdwn safety, App Home, health -----------------------------------------------------------


def test_campaign_names_with_ampersand_and_angle_brackets_are_escaped_everywhere(stack: Stack) -> None:
    command(stack, "check", skip="Running")
    command(stack, "status 101")
    command(stack, "status r")
    command(stack, "proposals")
    command(stack, "history")
    stack.slack.sync.open_home(APPROVER)
    stack.slack.sync.wait_for_call("views.publish")

    everything = stack.slack.messages(user_id=APPROVER)
    assert any("Winner" in m.all_text for m in everything)
    for message in everything:
        assert_escaped(message.text)
        for text in mrkdwn_texts(message.blocks):
            assert_escaped(text)
    home = stack.slack.home(APPROVER)
    assert home is not None
    for text in mrkdwn_texts(home.blocks):
        assert_escaped(text)
    confirm = next(
        e["confirm"]["text"]["text"]
        for m in channel_messages(stack) if "Winner" in m.text
        for b in m.blocks if b["type"] == "actions" for e in b["elements"] if "confirm" in e
    )
    assert confirm == "Set the daily budget of Winner &amp; Co &lt;US&gt; from 100.00 to 120.00 USD on PropellerAds."


def home_of(stack: Stack, user: str, since: int) -> Any:
    stack.slack.sync.wait_for_call("views.publish", since=since)
    home = stack.slack.home(user)
    assert home is not None and home.type == "home"
    return home


def test_app_home_publishes_the_health_and_pending_proposals(stack: Stack) -> None:
    ack = stack.slack.sync.open_home(VIEWER)
    assert ack.status == 200 and ack.latency < ACK_LIMIT
    call = stack.slack.sync.wait_for_call("views.publish")
    assert call.ok and call.args["user_id"] == VIEWER
    home = home_of(stack, VIEWER, 0)
    assert home.blocks[0]["text"]["text"] == "Budget health now"
    assert fields({"blocks": home.blocks}) == SUMMARY_FIELDS
    assert "*0 proposal(s) waiting for a decision*." in sections({"blocks": home.blocks})

    command(stack, "check", skip="Running")
    since = len(stack.slack.calls)
    stack.slack.sync.open_home(VIEWER)
    home = home_of(stack, VIEWER, since)
    texts = sections({"blocks": home.blocks})
    assert "*2 proposal(s) waiting for a decision*" in texts
    assert ":arrow_down: *Proposal #1: Loser DE* (102)\nCPA 150.00 misses the 10.00 target by 1400%." in texts
    assert ":white_check_mark: No open alerts." in texts
    # The latest chart the bot posted (the check's pacing chart) is shown by its Slack file.
    [chart] = [m for m in channel_messages(stack) if m.files]
    images = [b for b in home.blocks if b["type"] == "image"]
    assert [i["slack_file"]["id"] for i in images] == [chart.files[0]["id"]]


def test_an_approver_decides_and_snoozes_from_app_home(stack: Stack) -> None:
    """Approve in App Home writes once, redraws the channel's proposal and the home; Snooze there quiets the alert
    in the channel's message too."""
    stack.sandbox.account.set_balance("900.00", NOW)  # two campaigns at risk and a low balance: three alerts
    command(stack, "check", skip="Running")
    since = len(stack.slack.calls)
    stack.slack.sync.open_home(APPROVER)
    home = home_of(stack, APPROVER, since)
    assert ":rotating_light: *Open alerts (3)*" in sections({"blocks": home.blocks})

    since = len(stack.slack.calls)
    ack = stack.slack.sync.click_view("proposal_approve", user_id=APPROVER, view_id=home.id, block_id="proposal:1")
    assert ack.status == 200 and ack.latency < SLACK_ACK_DEADLINE
    home = home_of(stack, APPROVER, since)
    texts = sections({"blocks": home.blocks})
    assert texts[0] == f"*Proposal #1: Loser DE* (102): Approved by <@{APPROVER}> and applied: daily budget 200.00 → 160.00."
    assert "*0 proposal(s) waiting for a decision*." in texts  # the increase waits for a top-up, not a decision
    assert [(p.path, p.body) for p in stack.requests("PATCH")] == [("/v5/adv/campaigns/102", {"limit_daily_amount": 160.0})]
    redrawn = stack.slack.sync.wait_for_message(
        lambda m: m.text.startswith("Proposal #1") and "applied" in json.dumps(m.blocks), since=0
    )
    assert not [b for b in redrawn.blocks if b["type"] == "actions"]

    since = len(stack.slack.calls)
    menu = next(b for b in home.blocks if b.get("accessory", {}).get("action_id") == "alert_menu")
    key = menu["accessory"]["options"][0]["value"]
    stack.slack.sync.click_view("alert_menu", user_id=APPROVER, view_id=home.id, option=key)
    home = home_of(stack, APPROVER, since)
    assert sections({"blocks": home.blocks})[0].startswith(":zzz: Snoozed until ")
    assert any(c.startswith(":zzz: Snoozed until ") and f"<@{APPROVER}>" in c for c in contexts({"blocks": home.blocks}))
    alert_message = stack.slack.sync.wait_for_message(lambda m: ":zzz: Snoozed until" in json.dumps(m.blocks), since=0)
    assert alert_message.channel == CHANNEL and not alert_message.ephemeral


def test_app_home_says_when_the_ad_platform_refuses(stack: Stack) -> None:
    stack.sandbox.token = "a-token-the-bot-does-not-have"
    stack.slack.sync.open_home(VIEWER)
    stack.slack.sync.wait_for_call("views.publish")
    home = stack.slack.home(VIEWER)
    assert home is not None
    assert re.fullmatch(
        r":x: Could not read the account: PropellerAds refused the API token \(401\) on GET /adv/\w+: Unauthorized\.",
        home.blocks[0]["text"]["text"],
    )


def test_healthz_answers_ok_naming_each_service(stack: Stack) -> None:
    assert stack.bot is not None
    response = httpx.get(stack.bot.url + "/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": "ok", "slack": "ok", "propellerads": "ok"}


def test_healthz_says_which_service_does_not_answer(tmp_path: Path) -> None:
    # It used to say {"ok": true} whatever Slack and PropellerAds did.
    unreachable = "http://127.0.0.1:9"
    with running_stack(tmp_path, slack_api_url=unreachable + "/api/", propellerads_base_url=unreachable + "/v5") as stack:
        assert stack.bot is not None
        response = httpx.get(stack.bot.url + "/healthz", timeout=30)
    assert response.status_code == 200, "the bot still answers Slack; only a database failure takes it out"
    found = response.json()
    assert (found["ok"], found["database"]) == (False, "ok")
    assert found["slack"].startswith("unreachable (")
    assert found["propellerads"] == (
        "PropellerAds unreachable on GET /adv/balance: connection refused or host unreachable"
    )


def test_healthz_says_when_slack_refuses_the_bot_token(tmp_path: Path) -> None:
    with running_stack(tmp_path, slack_bot_token="xoxb-a-token-slack-does-not-know") as stack:
        assert stack.bot is not None
        found = httpx.get(stack.bot.url + "/healthz", timeout=5).json()
    assert found == {"ok": False, "database": "ok", "slack": "refused the bot token (invalid_auth)", "propellerads": "ok"}


def test_two_checks_asked_for_at_once_post_each_alert_once(stack: Stack) -> None:
    stack.sandbox.account.set_balance("1000.00", NOW)
    stack.sandbox.faults.latency = 0.3  # long enough for the two checks to overlap
    first = stack.slack.sync.send_command("check", user_id=APPROVER)
    stack.slack.sync.send_command("check", user_id=APPROVER)
    done: list[Message] = []

    def both_done(message: Message) -> bool:
        if message.via == "response_url" and message.text.startswith("Health check done"):
            done.append(message)
        return len(done) == 2

    stack.slack.sync.wait_for_message(both_done, since=first.mark)
    posted = [m.text for m in channel_messages(stack)]
    assert [t for t in posted if "need attention" in t] == [
        "2 alerts need attention:\n"
        "• Loser DE (102) has a daily budget of 200.00, HIGH risk against the 1,000.00 balance.\n"
        "• Balance 1,000.00 covers 2.8 days of the 350.00 total daily budget."
    ]
    assert [t for t in posted if t.startswith("Proposal #")] == [
        "Proposal #1: Loser DE daily budget 200.00 → 160.00",
        "Proposal #2: Winner &amp; Co &lt;US&gt; daily budget 100.00 → 120.00",
    ]
    # Between them the two checks found each alert and each proposal new once; which check found which depends on
    # how they interleaved, and the other found it already there.
    found = [re.fullmatch(r"Health check done: (\d+) alert change\(s\), (\d+) new proposal\(s\), (\d+) still waiting", m.text)
             for m in done]
    assert all(found), [m.text for m in done]
    assert [sum(int(f.group(i)) for f in found if f) for i in (1, 2, 3)] == [2, 2, 2]


def test_a_check_is_for_approvers_and_one_asked_again_soon_reuses_the_read(tmp_path: Path) -> None:
    # Anyone could post a summary to the channel and spend the statistics limit (2 a minute).
    with running_stack(tmp_path, snapshot_ttl_seconds=60) as stack:
        _, reply, _ = command(stack, "check", user=VIEWER)
        assert reply.text == (
            "Only the configured approvers can run a health check; nothing was run. "
            "The scheduled check runs on its own, and /budget status shows the account now."
        )
        assert stack.requests("GET", "/adv/statistics") == [] and channel_messages(stack) == []

        for _ in range(2):
            command(stack, "check", skip="Running")
        # The health window (the seven whole ad days before today) is read once for both checks; the spend
        # ledger's own reads (today, the backfill) are another matter.
        windows = [r for r in stack.requests("GET", "/adv/statistics") if "day_from" in r.query and _seven_days(r.query)]
        assert len(windows) == 1, "the second check used the first one's read"


def _seven_days(query: str) -> bool:
    from urllib.parse import parse_qs

    args = parse_qs(query)
    first, last = (date.fromisoformat(args[k][0][:10]) for k in ("day_from", "day_to"))
    return (last - first).days == 6


def test_amounts_show_the_configured_currency(tmp_path: Path) -> None:
    with running_stack(tmp_path, currency="EUR") as stack:
        _, reply, _ = command(stack, "status")
        assert fields(reply)[0] == "*Balance*\n5,000.00 EUR"
        _, reply, _ = command(stack, "status 101")
        assert fields(reply)[1] == "*Daily budget*\n100.00 EUR"
        command(stack, "check", skip="Running")
        proposal = next(m for m in channel_messages(stack) if m.text.startswith("Proposal #1"))
        assert fields(proposal)[0] == "*Current → proposed*\n200.00 → *160.00* EUR"
