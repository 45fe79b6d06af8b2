"""`/budget backtest [rule]` over Slack: an ack at once, then per-rule totals and the first rows to the asker.

The account is `exact_account` on the manual clock (2024-03-04 12:00 UTC, 07:00 in the ad account's EST):
on the 8 days before today, 02-25 to 03-03, "Loser DE" (102, 200.00 a day) spent 150.00 a day with one
conversion, and "Unlimited MX" (105, no daily budget) 5.00 a day without a conversion. The replay covers the
14 days before today, 02-19 to 03-03 (2024 is a leap year); the ledger starts empty, so the bot reads 21 days
back first (the CPA rule's 7-day window before 02-19): three statistics reads of at most 8 days.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.adplatform import ManualClock
from sandbox.slack import Message
from tests.harness import APPROVER, CPA_RULE, VIEWER, Stack, running_stack

NO_CONVERSION = {
    "name": "no-conv", "window": "yesterday", "action": "pause",
    "conditions": [{"metric": "spent", "op": ">=", "value": 5}, {"metric": "conversions", "op": "==", "value": 0}],
}


@pytest.fixture
def stack(tmp_path: Path, clock: ManualClock) -> Iterator[Stack]:
    with running_stack(tmp_path, clock=clock, rules=[CPA_RULE, NO_CONVERSION]) as running:
        yield running


def backtest(stack: Stack, text: str, user: str = VIEWER, *, ack_within: float = 3.0) -> tuple[Message, Message]:
    """Sends `/budget <text>`; the first private line and the answer after it."""
    ack = stack.slack.sync.send_command(text, user_id=user)
    assert ack.status == 200 and ack.body == "" and ack.latency < ack_within, ack
    first = stack.slack.sync.wait_for_message(lambda m: m.visible_to == user and m.via == "response_url", since=ack.mark)
    answer = stack.slack.sync.wait_for_message(
        lambda m: m.visible_to == user and m.via == "response_url" and m is not first and m.ts != first.ts, since=ack.mark
    )
    return first, answer


def texts(message: Message) -> list[str]:
    found = []
    for block in message.blocks:
        if block["type"] in ("section", "header"):
            found.append(block["text"]["text"])
        elif block["type"] == "context":
            found.extend(e["text"] for e in block["elements"])
    return found


def test_the_backtest_answers_the_asker_with_totals_and_rows_computed_by_hand(stack: Stack) -> None:
    """cpa-target (7 days before D, target 10): from 02-26 on each window holds Loser DE's days at CPA 150.00 (≥ 12):
    down 20% to 160.00 on the 7 mornings 02-26..03-03, spending 150.00 with 1 conversion each of those days.
    "Winner & Co <US>" (101, 100.00 a day) spent 90.00 a day from 02-25: only on 03-03 does its window
    (02-24..03-02, with 02-29) hold 7 days of it, 630.00 for 88 conversions: CPA 7.16 beats 8.00 and 90% of its
    budget is used: up 20% to 120.00; that day it spent 90.00 with 13 conversions. Steady's CPA 10.00 is within
    the tolerance, Unlimited MX has no daily budget to change.
    no-conv (yesterday, spent ≥ 5 and no conversion): Unlimited MX on the same 7 mornings, 5.00 each day.
    """
    # Every ad API answer takes 1 s: the replay waits for four of them (three statistics reads and the campaign
    # list, for the statuses the ledger never saw), the ack for none.
    stack.sandbox.faults.latency = 1.0
    first, answer = backtest(stack, "backtest", ack_within=0.9)
    stack.sandbox.faults.latency = 0
    assert first.text == "Replaying the rules over the last 14 days; the answer comes here in a moment."
    assert answer.text == "Backtest 2024-02-19 to 2024-03-03: 2 rule(s), 15 action(s)"
    lines = texts(answer)
    assert lines[:4] == [
        "Backtest, the last 14 days",
        "2024-02-19 to 2024-03-03, 4 campaign(s) in the spend ledger.",
        "*cpa-target* · proposes (Approve / Reject): 8 action(s) on 2 campaign(s). On those days they spent "
        "1,140.00 USD with 20 conversion(s); from its first action on each, 1,140.00 USD with 20.\n"
        "*no-conv* · proposes (Approve / Reject): 7 action(s) on 1 campaign(s). On those days they spent "
        "35.00 USD with 0 conversion(s); from its first action on each, 35.00 USD with 0.",
        "*What the rules would have done*\n"
        + "\n".join(
            ("`03-03` Winner &amp; Co &lt;US&gt; (101) · cpa-target: *increase* 100.00 → 120.00; spent 90.00 that day "
             "(13 conv.), 90.00 from then on\n" if day == "03-03" else "")
            + f"`{day}` Loser DE (102) · cpa-target: *decrease* 200.00 → 160.00; spent 150.00 that day (1 conv.), "
            f"{after} from then on\n"
            f"`{day}` Unlimited MX (105) · no-conv: *pause* (0.00 a day); spent 5.00 that day (0 conv.), "
            f"{small} from then on"
            for day, after, small in [
                ("02-26", "1,050.00", "35.00"), ("02-27", "900.00", "30.00"), ("02-28", "750.00", "25.00"),
                ("02-29", "600.00", "20.00"), ("03-01", "450.00", "15.00"), ("03-02", "300.00", "10.00"),
                ("03-03", "150.00", "5.00"),
            ]
        ),
    ]
    assert "A “today” window sees the whole day" in lines[-1]
    assert answer.visible_to == VIEWER
    # The ledger lacked every day: read once, in chunks of at most 8 days, and nothing was written.
    assert len(stack.requests("GET", "statistics")) == 3
    assert len(stack.requests("GET", "campaigns")) == 1
    assert stack.requests("PATCH") == [] and stack.requests("PUT") == []

    # Asked again for one rule: the days are held now, so no statistics call at all.
    stack.sandbox.requests.clear()
    first, answer = backtest(stack, "backtest NO-CONV", user=APPROVER)
    assert first.text == "Replaying rule NO-CONV over the last 14 days; the answer comes here in a moment."
    assert answer.text == "Backtest 2024-02-19 to 2024-03-03: 1 rule(s), 7 action(s)"
    assert texts(answer)[2].startswith("*no-conv* · proposes (Approve / Reject): 7 action(s) on 1 campaign(s).")
    assert stack.requests("GET", "statistics") == []


def test_an_unknown_rule_gets_the_known_names(stack: Stack) -> None:
    first, answer = backtest(stack, "backtest nope")
    assert answer.text == "No backtest: no rule is named 'nope'; the rules are: cpa-target, no-conv."
    assert stack.sandbox.requests.entries() == []


def test_without_rules_the_backtest_says_so(tmp_path: Path, clock: ManualClock) -> None:
    with running_stack(tmp_path, clock=clock, rules=[]) as stack:
        _, answer = backtest(stack, "backtest")
        assert answer.text == (
            "No backtest: no rules are configured: add [[rules]] tables to the configuration file."
        )


def test_when_the_missing_days_cannot_be_read_the_answer_says_so_and_judges_nothing_it_lacks(stack: Stack) -> None:
    stack.sandbox.faults.malformed = {"statistics"}
    _, answer = backtest(stack, "backtest no-conv")
    lines = texts(answer)
    assert lines[2] == (
        "*no-conv* · proposes (Approve / Reject): would not have acted. "
        "_(14 day(s) not judged: its window reaches past the spend ledger)_"
    )
    assert lines[3] == "No rule would have acted on any of these days."
    assert lines[4].startswith(":warning: the days the spend ledger lacks could not be read (")
    assert lines[5] == (
        ":warning: the spend ledger holds none of the days 2024-02-18 to 2024-03-03: nothing could be judged."
    )
    assert stack.requests("PATCH") == [] and stack.requests("PUT") == []
