"""What the notifier owes the channel when Slack refused a post the first time, and only then."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sandbox.adplatform import ManualClock
from tests.harness import CHANNEL, running_stack


def test_a_proposal_whose_post_slack_refused_is_posted_by_the_next_check(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2024, 3, 4, 12, 0, tzinfo=timezone.utc))
    rules = [{"name": "cpa-target", "target_cpa": "10", "campaign_ids": [102]}]
    with running_stack(tmp_path, clock=clock, rules=rules) as stack:
        # Every try of the first check's proposal post is refused (the client retries twice).
        stack.slack.rate_limit("chat.postMessage", times=3, retry_after=0)
        first = stack.on_bot(stack.runtime.service.run_check)
        stack.on_bot(lambda: stack.runtime.notifier.post_check(first, with_summary=False))
        assert [p.campaign_id for p in first.created] == [102]
        assert not [m for m in stack.slack.messages(CHANNEL) if "Proposal #" in m.text]

        clock.advance(minutes=15)
        second = stack.on_bot(stack.runtime.service.run_check)
        stack.on_bot(lambda: stack.runtime.notifier.post_check(second, with_summary=False))
        assert second.created == [] and [p.campaign_id for p in second.kept] == [102]
        posted = [m for m in stack.slack.messages(CHANNEL) if "Proposal #" in m.text]
        assert len(posted) == 1 and "Loser DE" in posted[0].text

        third = stack.on_bot(stack.runtime.service.run_check)
        stack.on_bot(lambda: stack.runtime.notifier.post_check(third, with_summary=False))
        assert len([m for m in stack.slack.messages(CHANNEL) if "Proposal #" in m.text]) == 1, "posted once, not again"
