"""The spend ledger's background backfill in a running bot: a week a query, no check or command waiting for it, and
a restarted bot going on where the last one stopped."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from sandbox.adplatform import ManualClock
from tests.core.test_ledger import NOW, sandbox_account
from tests.harness import APPROVER, Stack, running_stack

WAIT = 30.0


def statistics_ranges(stack: Stack) -> list[tuple[str, str]]:
    found = []
    for entry in stack.sandbox.requests.entries(endpoint="statistics"):
        params = dict(pair.split("=", 1) for pair in entry.query.split("&"))
        found.append((params["day_from"][:10], params["day_to"][:10]))
    return found


def test_a_check_and_a_command_answer_while_a_backfill_query_is_held_and_a_restart_goes_on_from_there(
    tmp_path: Path,
) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'kept.db'}"
    week_before_today = ("2025-09-21", "2025-09-28")
    with running_stack(tmp_path, account=sandbox_account(), clock=ManualClock(NOW), shared_clock=True, db_url=db_url) as stack:
        assert stack.bot is not None
        gate = stack.sandbox.faults.hold("statistics", first_only=True)
        service = stack.runtime.service
        backfill = asyncio.run_coroutine_threadsafe(service.backfill_ledger(max_chunks=1), stack.bot.loop)
        assert gate.arrived.wait(WAIT), "the backfill asked its first week"

        # Its query held at PropellerAds, a check and a command go by it and answer from what is there.
        ack = stack.slack.sync.send_command("check", user_id=APPROVER)
        stack.slack.sync.wait_for_message(lambda m: m.text.startswith("Health check done"), since=ack.mark, timeout=WAIT)
        ack = stack.slack.sync.send_command("status", user_id=APPROVER)
        stack.slack.sync.wait_for_message(lambda m: m.text.startswith("Budget health"), since=ack.mark, timeout=WAIT)
        assert not backfill.done(), "answered while the backfill still waited"

        gate.release()
        assert backfill.result(WAIT) == 1
        assert statistics_ranges(stack)[0] == week_before_today
        first = stack.on_bot(service.ledger.ledger.coverage)
        assert (first.first_day, first.last_day) == (date(2025, 9, 21), date(2025, 9, 28))

    # A new process on the same store reads only what is still missing, the older weeks, a week a query.
    with running_stack(tmp_path, account=sandbox_account(), clock=ManualClock(NOW), shared_clock=True, db_url=db_url) as again:
        service = again.runtime.service
        assert again.on_bot(service.backfill_ledger) == 3
        assert week_before_today not in statistics_ranges(again)
        assert statistics_ranges(again) == [
            ("2025-09-13", "2025-09-20"), ("2025-09-05", "2025-09-12"), ("2025-08-30", "2025-09-04"),
        ]
        covered = again.on_bot(service.ledger.ledger.coverage)
        assert (covered.first_day, covered.last_day) == (date(2025, 8, 30), date(2025, 9, 28))
        assert again.on_bot(service.backfill_ledger) == 0
