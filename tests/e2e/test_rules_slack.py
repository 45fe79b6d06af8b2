"""Rules that act, over Slack as a team uses them: a pause proposal, a notice, an automatic decrease with Undo,
the automation switch and its brakes, and `/budget rules`.

The account is `exact_account` (tests/harness.py) on the manual clock: over the 7 days before today
"Loser DE" (102, daily budget 200.00) spent 1,050.00 for 7 conversions (CPA 150.00), "Winner & Co <US>"
(101, 100.00) 630.00 for 88 (CPA 7.16) and "Steady FR" (103, 50.00) 140.00 for 14 (CPA 10.00). The spend
ledger is filled first, as the bot's background backfill would, so 7-day windows can be judged.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.models import CampaignStatus
from core.proposals import Proposal, ProposalState, RuleMode
from sandbox.adplatform import ManualClock
from tests.e2e.test_proposals import APPROVE, LOSER, WINNER, buttons, check, contexts, live_budget, patches, sections, wait_until
from tests.harness import APPROVER, CHANNEL, VIEWER, Stack, running_stack

STEADY = 103
LOSERS = [{"metric": "cpa", "op": ">", "value": 100}]


def rules_stack(tmp_path: Path, clock: ManualClock, *rules: dict[str, Any], **settings: Any) -> Iterator[Stack]:
    with running_stack(tmp_path, clock=clock, rules=list(rules), **settings) as stack:
        stack.on_bot(lambda: stack.runtime.service.backfill_ledger())
        yield stack


def of_state(stack: Stack, *states: ProposalState) -> list[Proposal]:
    return stack.on_bot(lambda: stack.runtime.store.proposals(list(states)))


def stops(stack: Stack) -> list[Any]:
    return [r for r in stack.requests("PUT") if r.path.endswith("/stop")]


def say(stack: Stack, text: str, user: str = APPROVER) -> list[str]:
    """Runs `/budget <text>` and returns the private answers."""
    ack = stack.slack.sync.send_command(text, user_id=user)
    assert ack.status == 200 and ack.latency < 3, ack
    answer = stack.slack.sync.wait_for_message(lambda m: m.visible_to == user and m.via == "response_url", since=ack.mark)
    return [answer.text]


@pytest.fixture
def pausing(tmp_path: Path, clock: ManualClock) -> Iterator[Stack]:
    yield from rules_stack(tmp_path, clock, {"name": "stop losers", "action": "pause", "conditions": LOSERS})


def test_a_pause_rule_proposes_and_approve_stops_the_campaign_with_one_request_under_double_clicks(pausing: Stack) -> None:
    stack = pausing
    posted = check(stack, expect="0 alert change(s), 1 new proposal(s), 0 still waiting")
    assert list(posted) == [LOSER]
    message = posted[LOSER]
    assert message.text == "Proposal #1: Loser DE campaign stopped"
    assert sections(message)[0] == (
        ":double_vertical_bar: *Proposal #1: Loser DE* (102)\n"
        "Over the last 7 days to yesterday: cpa 150.00 &gt; 100.00. The rule says: pause the campaign."
    )
    assert [a for a, _ in buttons(message)] == [APPROVE, "proposal_reject", "proposal_edit"]

    # Five impatient clicks at once: one stop request, the campaign stopped, verified.
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        acks = list(pool.map(lambda _: stack.slack.sync.click(message.ts, APPROVE, user_id=APPROVER), range(5)))
    assert all(a.status == 200 and a.latency < 3 for a in acks)
    done = wait_until(stack, lambda: next((m for m in stack.slack.messages() if m.ts == message.ts and "applied" in m.text), None))
    assert len(stops(stack)) == 1 and stops(stack)[0].body == {"campaign_ids": [LOSER]}
    assert stack.sandbox.account.campaigns[LOSER].status == CampaignStatus.STOPPED
    assert any("Approved by <@U0APPROVER> and applied: campaign stopped." in s for s in sections(done))
    assert patches(stack) == []


def test_a_notify_rule_posts_what_it_would_do_once_and_writes_nothing(tmp_path: Path, clock: ManualClock) -> None:
    for stack in rules_stack(tmp_path, clock, {"name": "watch losers", "action": "decrease", "percent": 20,
                                                "mode": "notify", "conditions": LOSERS}):
        assert check(stack, expect="0 alert change(s), 1 new proposal(s), 0 still waiting") == {}
        notice = wait_until(stack, lambda: next((m for m in stack.slack.messages() if m.text.startswith("Rule watch losers")), None))
        assert notice.channel == CHANNEL and buttons(notice) == []
        assert notice.text == "Rule watch losers would change Loser DE: daily budget 200.00 → 160.00. Notify only: nothing was changed."
        assert contexts(notice)[-1].startswith("Notify only: nothing was changed on PropellerAds")
        check(stack)  # within the rule's cooldown: not told again
        assert len([m for m in stack.slack.messages() if m.text.startswith("Rule watch losers")]) == 1
        assert [p.state for p in of_state(stack, *ProposalState)] == [ProposalState.NOTIFIED]
        assert patches(stack) == [] and stack.requests("PUT") == []
        assert live_budget(stack, LOSER) == Decimal("200.00")


@pytest.fixture
def cutting(tmp_path: Path, clock: ManualClock) -> Iterator[Stack]:
    yield from rules_stack(tmp_path, clock, {"name": "cut losers", "action": "decrease", "percent": 20,
                                              "mode": "auto", "conditions": LOSERS})


def test_an_auto_decrease_applies_without_a_click_and_undo_restores_it_with_one_write(cutting: Stack) -> None:
    stack = cutting
    assert check(stack, expect="0 alert change(s), 1 new proposal(s), 0 still waiting") == {}
    told = wait_until(stack, lambda: next((m for m in stack.slack.messages() if "auto mode" in m.text), None))
    assert told.channel == CHANNEL
    assert told.text == "Proposal #1 (Loser DE): Done on its own by rule *cut losers* (auto mode): daily budget 200.00 → 160.00. An approver can Undo it."
    assert [b["accessory"]["action_id"] for b in told.blocks if b.get("accessory")] == ["proposal_undo"]
    assert [r.body for r in patches(stack)] == [{"limit_daily_amount": 160.0}]
    assert live_budget(stack, LOSER) == Decimal("160.00")

    mark = stack.slack.mark()
    stack.slack.sync.click(told.ts, "proposal_undo", user_id=APPROVER)
    undone = wait_until(stack, lambda: next((m for m in stack.slack.log[mark:] if m.thread_ts == told.ts), None))
    assert undone.text == "Undone by <@U0APPROVER>: daily budget 160.00 → 200.00 (proposal #1 reversed)."
    assert [r.body for r in patches(stack)] == [{"limit_daily_amount": 160.0}, {"limit_daily_amount": 200.0}]
    assert live_budget(stack, LOSER) == Decimal("200.00")


def test_automation_off_leaves_the_rules_change_to_an_approver_and_only_approvers_switch_it(cutting: Stack) -> None:
    stack = cutting
    assert say(stack, "automation off", user=VIEWER) == [
        "Only the configured approvers can turn automation on or off; nothing was changed."
    ]
    assert say(stack, "automation off") == [
        "<@U0APPROVER> turned automation off. Automation is off by <@U0APPROVER>: rules in auto mode propose instead, "
        "and an approver decides."
    ]
    assert any(m.text.startswith("<@U0APPROVER> turned automation off") and not m.ephemeral for m in stack.slack.messages())

    posted = check(stack, expect="0 alert change(s), 1 new proposal(s), 0 still waiting")
    assert patches(stack) == []
    held = posted[LOSER]
    assert [a for a, _ in buttons(held)] == [APPROVE, "proposal_reject", "proposal_edit"]
    assert contexts(held)[-1].startswith("Rule cut losers acts on its own, but automation is off: an approver decides.")

    assert say(stack, "automation on")[0].startswith("<@U0APPROVER> turned automation on. Automation is *on*".replace("*", ""))
    assert say(stack, "automation") == [
        "Automation is on: rules in auto mode decrease budgets and pause campaigns on their own, each with Undo."
    ]


def test_the_hourly_cap_holds_automatic_actions_past_it(tmp_path: Path, clock: ManualClock) -> None:
    spenders = [{"metric": "spent", "op": ">", "value": 100}]  # all three working campaigns with a budget
    for stack in rules_stack(tmp_path, clock, {"name": "trim", "action": "decrease", "percent": 10, "mode": "auto",
                                                "conditions": spenders}, automation={"max_per_hour": 1}):
        posted = check(stack)
        assert len(patches(stack)) == 1
        patched = int(patches(stack)[0].path.rsplit("/", 1)[1])
        assert sorted(posted) == sorted({WINNER, LOSER, STEADY} - {patched})
        for message in posted.values():
            assert "the cap of 1 automatic actions an hour is reached" in contexts(message)[-1]


def test_after_propellerads_refuses_an_automatic_write_the_rest_wait(tmp_path: Path, clock: ManualClock) -> None:
    spenders = [{"metric": "spent", "op": ">", "value": 100}]
    for stack in rules_stack(tmp_path, clock, {"name": "trim", "action": "decrease", "percent": 10, "mode": "auto",
                                                "conditions": spenders}):
        stack.sandbox.faults.forbid_writes = True
        posted = check(stack)
        assert len(patches(stack)) == 1  # refused; nothing more is tried on its own
        assert len(posted) == 2
        for message in posted.values():
            assert "PropellerAds failed at 12:00 UTC" in contexts(message)[-1]
        failed = of_state(stack, ProposalState.FAILED)
        assert len(failed) == 1 and failed[0].mode is RuleMode.AUTO


def test_budget_rules_says_each_rule_in_plain_words_with_its_mode_and_last_action(cutting: Stack) -> None:
    stack = cutting
    check(stack)
    wait_until(stack, lambda: next((m for m in stack.slack.messages() if "auto mode" in m.text), None))
    ack = stack.slack.sync.send_command("rules", user_id=VIEWER)
    answer = stack.slack.sync.wait_for_message(lambda m: m.visible_to == VIEWER and m.via == "response_url", since=ack.mark)
    assert sections(answer) == [
        "*cut losers* · auto (acts on its own, with Undo)\nOver the last 7 days to yesterday, when cpa &gt; 100.00: "
        "decrease the daily budget by 20%, for every working campaign.\n"
        "_last fired 2024-03-04 12:00 UTC on Loser DE: daily budget 200.00 → 160.00, applied_"
    ]
    assert contexts(answer) == [
        "Automation is *on*: rules in auto mode decrease budgets and pause campaigns on their own, each with Undo."
    ]


def test_the_cpa_rule_has_a_campaign_first_and_a_notice_does_not_stand_in_its_way(tmp_path: Path, clock: ManualClock) -> None:
    from tests.harness import CPA_RULE

    pause = {"name": "stop losers", "action": "pause", "conditions": LOSERS}
    watch = {"name": "watch losers", "action": "pause", "mode": "notify", "conditions": LOSERS}
    for stack in rules_stack(tmp_path, clock, CPA_RULE, pause, watch):
        posted = check(stack, expect="0 alert change(s), 3 new proposal(s), 0 still waiting")
        assert posted[LOSER].text == "Proposal #1: Loser DE daily budget 200.00 → 160.00"  # the CPA rule's cut
        made = of_state(stack, *ProposalState)
        assert sorted((p.rule, p.state.value) for p in made) == [
            ("cpa-target", "pending"), ("cpa-target", "pending"), ("watch losers", "notified"),
        ]


def test_a_winner_the_balance_holds_back_is_named_in_the_summary_with_the_top_up(tmp_path: Path, clock: ManualClock) -> None:
    """Balance 900.00, daily budgets 350.00, 3 days to cover: the Winner's +20.00 is refused by the balance guard.
    Letting it scale needs (350.00 + 20.00) × 3 = 1,110.00 of balance: a top-up of 210.00."""
    from tests.harness import CPA_RULE, NOW, exact_account

    with running_stack(tmp_path, clock=clock, account=exact_account(NOW.date(), balance="900.00"), rules=[CPA_RULE]) as stack:
        posted = check(stack)
        assert list(posted) == [LOSER]  # the cut goes ahead; the raise is held back
        summary = wait_until(stack, lambda: next((m for m in stack.slack.messages() if m.text.startswith("Budget health check")), None))
        assert ":seedling: 1 campaign would scale (+20.00 USD a day): top up 210.00 USD to let it." in sections(summary)


def test_app_home_shows_the_automation_switch_and_an_approver_flips_it_there(cutting: Stack) -> None:
    stack = cutting

    def home_of(user: str) -> Any:
        since = len(stack.slack.calls)
        stack.slack.sync.open_home(user)
        stack.slack.sync.wait_for_call("views.publish", since=since)
        return stack.slack.home(user)

    viewer = home_of(VIEWER)
    assert ":robot_face: Automation is *on*: rules in auto mode decrease budgets and pause campaigns on their own, each with Undo." in [b["text"]["text"] for b in viewer.blocks if b["type"] == "section" and "text" in b]
    assert not [b for b in viewer.blocks if b.get("accessory", {}).get("action_id") == "automation_toggle"]

    home = home_of(APPROVER)
    [toggle] = [b["accessory"] for b in home.blocks if b.get("accessory", {}).get("action_id") == "automation_toggle"]
    assert (toggle["text"]["text"], toggle["value"]) == ("Turn automation off", "off")
    since = len(stack.slack.calls)
    ack = stack.slack.sync.click_view("automation_toggle", user_id=APPROVER, view_id=home.id)
    assert ack.status == 200 and ack.latency < 3
    told = wait_until(stack, lambda: next((m for m in stack.slack.messages() if m.text.startswith("<@U0APPROVER> turned automation off")), None))
    assert told.channel == CHANNEL
    stack.slack.sync.wait_for_call("views.publish", since=since)
    redrawn = stack.slack.home(APPROVER)
    assert [b["accessory"]["text"]["text"] for b in redrawn.blocks if b.get("accessory", {}).get("action_id") == "automation_toggle"] == ["Turn automation on"]
    assert check(stack) and patches(stack) == []  # the auto rule now proposes instead
