"""Alerts without spam over Slack: Snooze and Acknowledge from the alert's menu, and quiet hours.

The stack is the Slack stand-in, the bot over signed HTTP and the sandbox ad platform (`exact_account`:
daily budgets 101: 100, 102: 200, 103: 50, total 350.00), no rules, on a ManualClock; only the balance
changes between checks.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sandbox.adplatform import ManualClock
from sandbox.slack import Message
from tests.e2e.test_proposals import wait_until
from tests.harness import APPROVER, VIEWER, Stack, running_stack

LOW_1000 = "Balance 1,000.00 covers 2.8 days of the 350.00 total daily budget."


def check(stack: Stack, clock: ManualClock, balance: str, *, after: timedelta = timedelta(minutes=15)) -> list[Message]:
    """Moves the clock on, sets the balance, runs `/budget check`; the alerts it told the channel, threads included
    (not the summary and its pacing chart)."""
    clock.advance(after)
    stack.sandbox.account.set_balance(balance, clock())
    before = len([m for m in stack.slack.messages() if not m.ephemeral])
    ack = stack.slack.sync.send_command("check", user_id=APPROVER)
    stack.slack.sync.wait_for_message(lambda m: m.text.startswith("Health check done"), since=ack.mark)
    posted = [m for m in stack.slack.messages() if not m.ephemeral][before:]
    return [m for m in posted if not m.text.startswith("Budget health check") and not m.files]


def contexts(message: Message) -> list[str]:
    return [e["text"] for b in message.blocks if b["type"] == "context" for e in b["elements"]]


def test_anyone_in_the_channel_snoozes_an_alert_for_its_time_and_the_message_says_who(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2024, 3, 4, 12, 0, tzinfo=timezone.utc))
    with running_stack(tmp_path, clock=clock, rules=[], timezone="UTC") as stack:
        [digest] = [m for m in check(stack, clock, "1000.00") if "need attention" in m.text]

        mark = stack.slack.mark()
        stack.slack.sync.click(digest.ts, "alert_menu", user_id=VIEWER, value="snooze_4h|low_balance")
        redrawn = wait_until(stack, lambda: next((m for m in stack.slack.log[mark:] if m.ts == digest.ts), None))
        assert ":zzz: Snoozed until Mon 16:15 by <@U0VIEWER>" in contexts(redrawn)

        stack.slack.sync.click(digest.ts, "alert_menu", user_id=VIEWER, value="acknowledge|campaign_at_risk:102")
        acknowledged = wait_until(
            stack, lambda: next((m for m in stack.slack.log[mark:] if m.ts == digest.ts and "Acknowledged" in str(m.blocks)), None)
        )
        assert ":eyes: Acknowledged by <@U0VIEWER>" in contexts(acknowledged)

        # 400.00: the snoozed low balance worsens, and says nothing while the snooze lasts.
        told = [m.text for m in check(stack, clock, "400.00")]
        assert not any("Balance 400.00 covers" in t for t in told), told
        assert check(stack, clock, "400.00") == []
        # Once the snooze is over, the channel hears it, in the thread of the message that first told it.
        [worse] = check(stack, clock, "400.00", after=timedelta(hours=4))
        assert worse.text == "Worse: Balance 400.00 covers 1.1 days of the 350.00 total daily budget."
        assert worse.thread_ts == digest.ts


def test_quiet_hours_hold_all_but_critical_alerts_until_they_end(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2024, 3, 4, 22, 30, tzinfo=timezone.utc))
    with running_stack(tmp_path, clock=clock, rules=[], timezone="UTC", quiet_hours="22:00-07:00") as stack:
        assert check(stack, clock, "1000.00") == []  # a warning and a HIGH risk: they wait for the morning
        [critical] = check(stack, clock, "150.00")  # 150.00 is under one day of budget: critical, told at night
        assert critical.text == (
            "3 alerts need attention:\n"
            "• Balance 150.00 covers 0.4 days of the 350.00 total daily budget.\n"
            "• At the last 7 days' spend the balance runs out in 0.5 days.\n"
            "• Loser DE (102) has a daily budget of 200.00, CRITICAL risk against the 150.00 balance."
        )
        # At 07:15 the rest, serious, is told.
        [morning] = check(stack, clock, "150.00", after=timedelta(hours=8))
        assert morning.text == (
            "2 alerts need attention:\n"
            "• Winner &amp; Co &lt;US&gt; (101) has a daily budget of 100.00, HIGH risk against the 150.00 balance.\n"
            "• Steady FR (103) has a daily budget of 50.00, HIGH risk against the 150.00 balance."
        )
