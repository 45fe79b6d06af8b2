"""Two `budget-bot serve` replicas on one PostgreSQL database: one write per proposal, one run per fire time.

An account of 200 working campaigns, each spending 50.00 a day for one conversion a day (CPA
50.00 against a 10.00 target), so the health check run at start proposes 200 decreases of 20%. Then 200
rounds: each proposal's Approve is clicked two to four times at once, the clicks split across the
two processes, one of them the very same signed request sent again (a Slack retry reaching the
other replica). The sandbox's request log then holds the truth: how many PATCHes each campaign got.

Meanwhile both replicas run their real schedulers: a health check every minute and the daily
summary at the first whole minute at least LEAD + NEAREST_SLOT seconds after the start, so the test also sees
each fire time run by one replica while the other logs that it was run elsewhere.
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.scheduler import CHECK, SUMMARY, check_slot
from core.proposals import ProposalState
from sandbox.adplatform import Account, Campaign, SandboxConfig
from tests.harness import APPROVER, Stack, ad_today, running_stack
from tests.reliability.support import (
    BotProcess,
    CallWatcher,
    Click,
    bot_env,
    click_on,
    everything_slack_holds,
    leaks,
    percentile,
    post,
    read_store,
    replies_to,
    write_rules,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROUNDS = 200
IN_FLIGHT = 4
"""Rounds under way at once; each round's own clicks are sent together."""
LEAD = 15
"""Seconds from the start to the earliest summary time, so the setup is done before it fires."""
NEAREST_SLOT = 30
"""The check a replica runs as it starts claims the nearest whole minute, the next one when it starts after :30;
the summary's fire time lies beyond that minute, so its check slot is the interval's and not the start's."""
FIRST_ID = 7001
SLACK_ACK_DEADLINE = 3.0

IN_PROGRESS = "<@U0APPROVER> already approved this; it is being applied."
ALREADY_APPLIED = "Already decided by <@U0APPROVER>: applied. Nothing more was changed."


def many_campaigns(today: date, n: int = ROUNDS) -> Account:
    """n working campaigns with daily budgets 100.00, 101.00, …; nothing at risk against a balance of 1,000,000."""
    account = Account(
        balance=Decimal("1000000.00"),
        campaigns=[
            Campaign(id=FIRST_ID + i, name=f"Replica test {i:03d}", limit_daily_amount=Decimal(100 + i)) for i in range(n)
        ],
    )
    for i in range(n):
        for back in range(1, 9):
            account.record(FIRST_ID + i, today - timedelta(days=back), spent=Decimal("50"), impressions=5000, conversions=1)
    return account


def proposed_amount(i: int) -> Decimal:
    return (Decimal(100 + i) * Decimal("0.8")).quantize(Decimal("0.01"))


@pytest.fixture
def stack(tmp_path: Path) -> Any:
    # PropellerAds allows 60 PATCHes and 150 campaign reads a minute; 200 approvals in half a minute would be
    # rate limited (and end in manual review, see test_faults). Here the limits are lifted: the point is the race.
    unlimited = SandboxConfig(rate_limits={"statistics": None, "campaign": None, "campaign_update": None})
    account = many_campaigns(ad_today())
    with running_stack(tmp_path, account=account, sandbox_config=unlimited, start_bot=False) as running:
        yield running


async def test_two_replicas_200_rounds_of_simultaneous_approvals_write_once_each(
    stack: Stack, postgres_url: str, tmp_path: Path, figures: dict[str, Any]
) -> None:
    slack = stack.slack
    fire_at = datetime.fromtimestamp(math.ceil((time.time() + LEAD + NEAREST_SLOT) / 60) * 60, timezone.utc)
    env = bot_env(
        stack,
        postgres_url,
        BUDGET_BOT_CONFIG=str(write_rules(tmp_path / "rules.toml")),
        BUDGET_BOT_SUMMARY_TIME=fire_at.strftime("%H:%M"),
        BUDGET_BOT_CHECK_INTERVAL_MINUTES="1",
    )
    replicas = [BotProcess(env, tmp_path / f"replica-{n}.log", schedule=True) for n in range(2)]
    try:
        for replica in replicas:
            replica.start(wait=False)  # side by side, as an orchestrator starts them
        for replica in replicas:
            replica.wait_ready()

        # The health check one replica runs at start proposes the 200 decreases; a check asked for on the
        # first replica then finds them all waiting.
        await slack.wait_for_message(
            lambda m: sum(x.text.startswith("Proposal #") for x in slack.messages()) == ROUNDS, timeout=60
        )
        slack.bot_url = replicas[0].events_url
        ack = await slack.send_command("check", user_id=APPROVER)
        done = await slack.wait_for_message(lambda m: m.text.startswith("Health check done"), since=ack.mark, timeout=60)
        assert done.text.endswith(f"0 new proposal(s), {ROUNDS} still waiting"), done.text
        checked_at = datetime.now(timezone.utc)
        assert checked_at < fire_at, "the setup ran into the summary's fire time; raise LEAD"
        messages = sorted(
            (m for m in slack.messages() if m.text.startswith("Proposal #")),
            key=lambda m: int(m.text.split("#")[1].split(":")[0]),
        )
        assert len(messages) == ROUNDS

        acks: list[tuple[int, float, str]] = []
        per_replica: Counter[int] = Counter()
        click_urls: set[str] = set()
        loser_replies: list[str] = []
        gate = asyncio.Semaphore(IN_FLIGHT)
        started = time.perf_counter()

        def key_of(call: Any) -> Any:
            if call.method == "chat.update":
                return ("update", call.args.get("ts"))
            if call.method == "response_url":
                return ("reply", round_of_url.get(call.args.get("url_id")))
            return None

        round_of_url: dict[str, int] = {}

        async def one_round(i: int, http: httpx.AsyncClient, watcher: CallWatcher) -> None:
            message = messages[i]
            first = click_on(stack, message, "proposal_approve")
            clicks: list[tuple[BotProcess, Click]] = [
                (replicas[i % 2], first),
                (replicas[(i + 1) % 2], click_on(stack, message, "proposal_approve")),
            ]
            if i % 3 >= 1:  # the same signed request again, on the other replica: a Slack retry
                clicks.append((replicas[(i + 1) % 2], first))
            if i % 3 == 2:  # a third click of the button
                clicks.append((replicas[i % 2], click_on(stack, message, "proposal_approve")))
            urls = {c.url_id for _, c in clicks}
            round_of_url.update((url, i) for url in urls)
            click_urls.update(urls)
            async with gate:
                answers = await asyncio.gather(*(post(http, r.events_url, c) for r, c in clicks))
                acks.extend(answers)
                per_replica.update(replicas.index(r) for r, _ in clicks)
                # Done when the message shows the outcome and every other click has had its private answer.
                await watcher.wait(("update", message.ts), 1, 60, f"round {i}: the outcome")
                await watcher.wait(("reply", i), len(clicks) - 1, 60, f"round {i}: the other clicks' answers")
            loser_replies.extend(r.get("text", "") for r in replies_to(slack, urls))

        async with httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=50)) as http:
            async with CallWatcher(slack, key_of) as watcher:
                await asyncio.gather(*(one_round(i, http, watcher) for i in range(ROUNDS)))
        rounds_took = time.perf_counter() - started

        # The summary's fire time: both schedulers fire, one replica runs each job.
        await slack.wait_for_message(
            lambda m: m.text.startswith("Daily budget summary"), timeout=(fire_at - datetime.now(timezone.utc)).total_seconds() + 30
        )
        await until_requests(stack, lambda found: len(found) >= 1, fire_at, "the summary's and the check's reads")
    finally:
        for replica in replicas:
            replica.stop()

    # --- one write per proposal --------------------------------------------------------------------
    patches = stack.sandbox.requests.entries("PATCH", "/adv/campaigns/")
    proposals, audit, runs = await read_store(postgres_url)
    assert Counter(p.state for p in proposals) == Counter({ProposalState.APPLIED: ROUNDS}), Counter(p.detail for p in proposals)
    per_campaign = Counter(int(p.path.rsplit("/", 1)[1]) for p in patches)
    assert per_campaign == Counter({FIRST_ID + i: 1 for i in range(ROUNDS)})
    assert all(p.status == 200 for p in patches)
    for i in range(ROUNDS):
        assert stack.sandbox.account.campaigns[FIRST_ID + i].limit_daily_amount == proposed_amount(i)
    assert {p.body["limit_daily_amount"] for p in patches} == {float(proposed_amount(i)) for i in range(ROUNDS)}

    # Every click was acked in time; every click but the winner got a polite private answer.
    clicks_sent = sum(2 + (1 if i % 3 >= 1 else 0) + (1 if i % 3 == 2 else 0) for i in range(ROUNDS))
    assert len(acks) == clicks_sent
    assert {status for status, _, _ in acks} == {200}
    latencies = [latency for _, latency, _ in acks]
    assert max(latencies) < SLACK_ACK_DEADLINE
    assert len(loser_replies) == clicks_sent - ROUNDS
    assert set(loser_replies) <= {IN_PROGRESS, ALREADY_APPLIED}, set(loser_replies)
    for call in slack.calls_to("response_url"):
        if call.args["url_id"] in click_urls:
            assert call.args.get("response_type") == "ephemeral" and call.args.get("replace_original") is False
    updates = Counter(c.args["ts"] for c in slack.calls_to("chat.update"))
    assert set(updates.values()) == {1}  # the winner redrew the proposal once; nobody else touched it

    actions = Counter((e.proposal_id, e.action) for e in audit)
    for p in proposals:
        assert actions[(p.id, "approved")] == 1 and actions[(p.id, "applied")] == 1, p
        assert p.detail == "verified: the live daily budget matches"

    # --- one run per fire time ---------------------------------------------------------------------
    summaries = [m for m in slack.messages() if m.text.startswith("Daily budget summary")]
    assert len(summaries) == 1
    owners = {f"{socket.gethostname()}:{r.pid}" for r in replicas}
    assert all(owner in owners for _, _, owner in runs), (runs, owners)
    fire_slot = check_slot(fire_at, 1)
    ran = {(job, slot) for job, slot, _ in runs}
    assert (SUMMARY, fire_at.date().isoformat()) in ran and (CHECK, fire_slot) in ran
    logs = [r.text() for r in replicas]
    for job, slot in [(SUMMARY, fire_at.date().isoformat()), (CHECK, fire_slot)]:
        # The replica that did not run it says so.
        elsewhere = [log for log in logs if f"{job} for {slot} already run elsewhere" in log]
        assert len(elsewhere) == 1, (job, slot)
    # PropellerAds saw at most one balance read per scheduled run after the setup: the fire time's two runs
    # (one, when one replica ran both: they share the read under way), and at most one check on any other minute.
    reads = [r.at for r in stack.sandbox.requests.entries("GET", "/adv/balance") if r.at >= checked_at]
    per_minute = Counter(at.replace(second=0, microsecond=0) for at in reads)
    assert per_minute[fire_at] in (1, 2), per_minute
    assert all(count == 1 for minute, count in per_minute.items() if minute != fire_at), per_minute

    assert leaks([*logs, *everything_slack_holds(slack)]) == []

    replies = Counter(loser_replies)
    figures["replicas"] = {
        "rounds": ROUNDS,
        "clicks": clicks_sent,
        "clicks per replica": [per_replica[0], per_replica[1]],
        "patches per proposal": sorted(set(per_campaign.values())),
        "patches in all": len(patches),
        "losing clicks answered 'being applied'": replies[IN_PROGRESS],
        "losing clicks answered 'already decided'": replies[ALREADY_APPLIED],
        "ack ms p50": round(percentile(latencies, 0.5) * 1000, 1),
        "ack ms p99": round(percentile(latencies, 0.99) * 1000, 1),
        "ack ms max": round(max(latencies) * 1000, 1),
        "rounds took s": round(rounds_took, 1),
        "scheduled runs": len(runs),
        "summaries posted": len(summaries),
    }


async def until_requests(stack: Stack, enough: Any, since: datetime, what: str, timeout: float = 30) -> None:
    """A bounded poll of the sandbox's request log (it has no change notification)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in stack.sandbox.requests.entries("GET", "/adv/balance") if r.at >= since]
        if enough(found):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s ({len(found)} seen)")
        await asyncio.sleep(0.05)
