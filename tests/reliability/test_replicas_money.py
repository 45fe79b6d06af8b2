"""Two `budget-bot serve` replicas on one PostgreSQL database, tried where money was once written twice.

Each test seeds 50 pending increases of 20.00 (campaigns at 100.00 a day, a balance of 1,000,000.00),
has one replica post them, then approves every one with a click on each replica at once, several
proposals in flight together. The sandbox's request log holds the truth about what was written.

- The increase cap: with a 300.00 cap, approvals racing on two processes apply at most 15 increases
  (300.00) in the day, one PATCH each; the others go stale with the cap in their words.
- The lease: every write is slow (1.5 s) against a 1-second lease, and both replicas run `/budget check`
  (which reconciles) over and over meanwhile; no running apply is taken over, one PATCH per approval.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.policy import Candidate, Direction, Evidence
from core.models import CampaignStatus
from core.proposals import ActionKind, ProposalState
from core.store import Store
from sandbox.adplatform import Account, Campaign, SandboxConfig
from tests.harness import APPROVER, Stack, running_stack
from tests.reliability.support import BotProcess, CallWatcher, bot_env, click_on, post, read_store

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROUNDS = 50
IN_FLIGHT = 10
FIRST_ID = 8001
LIFTED = SandboxConfig(rate_limits={"statistics": None, "campaign": None, "campaign_update": None, "balance": None,
                                    "campaigns": None})


def increases() -> list[Candidate]:
    return [
        Candidate(
            FIRST_ID + i, f"Scale test {i:02d}", "cpa-target", Direction.INCREASE, Decimal("100.00"), Decimal("120.00"),
            "CPA 5.00 beats the 10.00 target.", Evidence(7, Decimal("500"), 100, Decimal("5"), Decimal("10"), Decimal("0.95")),
        )
        for i in range(ROUNDS)
    ]


@pytest.fixture
def stack(tmp_path: Path) -> Any:
    account = Account(
        balance=Decimal("1000000.00"),
        campaigns=[Campaign(id=FIRST_ID + i, name=f"Scale test {i:02d}", limit_daily_amount=Decimal(100)) for i in range(ROUNDS)],
    )
    with running_stack(tmp_path, account=account, sandbox_config=LIFTED, start_bot=False) as running:
        yield running


def pauses() -> list[Candidate]:
    return [
        Candidate(
            FIRST_ID + i, f"Scale test {i:02d}", "stop losers", Direction.DECREASE, Decimal("100.00"), Decimal("100.00"),
            "Over the last 7 days to yesterday: cpa 150.00 > 100.00.",
            Evidence(7, Decimal("1050"), 7, Decimal("150"), None, Decimal("1.5")), action=ActionKind.PAUSE,
        )
        for i in range(ROUNDS)
    ]


async def seed(url: str, candidates: list[Candidate] | None = None) -> None:
    store = Store.connect(url)
    try:
        await store.migrate()
        made = candidates if candidates is not None else increases()
        created = (await store.save_candidates(made, now=datetime.now(timezone.utc), ttl=timedelta(hours=24))).created
        assert len(created) == ROUNDS
    finally:
        await store.close()


async def start_replicas(
    stack: Stack, url: str, tmp_path: Path, config: str = "", candidates: list[Candidate] | None = None, **env: str
) -> list[BotProcess]:
    await seed(url, candidates)
    path = tmp_path / "config.toml"
    path.write_text(config, encoding="utf-8")  # no rules: checks propose nothing new
    environment = bot_env(stack, url, BUDGET_BOT_CONFIG=str(path), **env)
    replicas = [BotProcess(environment, tmp_path / f"replica-{n}.log") for n in range(2)]
    for replica in replicas:
        replica.start(wait=False)
    for replica in replicas:
        replica.wait_ready()
    # A check on the first replica posts the seeded proposals.
    stack.slack.bot_url = replicas[0].events_url
    ack = await stack.slack.send_command("check", user_id=APPROVER)
    await stack.slack.wait_for_message(lambda m: m.text.startswith("Health check done"), since=ack.mark, timeout=60)
    return replicas


async def approve_every_proposal(stack: Stack, replicas: list[BotProcess]) -> None:
    """Each proposal's Approve clicked on both replicas at once, IN_FLIGHT proposals at a time."""
    messages = sorted(
        (m for m in stack.slack.messages() if m.text.startswith("Proposal #")),
        key=lambda m: int(m.text.split("#")[1].split(":")[0]),
    )
    assert len(messages) == ROUNDS
    gate = asyncio.Semaphore(IN_FLIGHT)

    def key_of(call: Any) -> Any:
        return ("update", call.args.get("ts")) if call.method == "chat.update" else None

    async def one_round(i: int, http: httpx.AsyncClient, watcher: CallWatcher) -> None:
        message = messages[i]
        clicks = [click_on(stack, message, "proposal_approve") for _ in replicas]
        async with gate:
            answers = await asyncio.gather(*(post(http, r.events_url, c) for r, c in zip(replicas, clicks)))
            assert {status for status, _, _ in answers} == {200}
            await watcher.wait(("update", message.ts), 1, 60, f"round {i}: the outcome")

    async with httpx.AsyncClient(timeout=30) as http, CallWatcher(stack.slack, key_of) as watcher:
        await asyncio.gather(*(one_round(i, http, watcher) for i in range(ROUNDS)))


def patches_per_campaign(stack: Stack) -> Counter[int]:
    return Counter(int(p.path.rsplit("/", 1)[1]) for p in stack.sandbox.requests.entries("PATCH", "/adv/campaigns/"))


async def test_approvals_racing_on_two_replicas_never_pass_the_increase_cap(
    stack: Stack, postgres_url: str, tmp_path: Path, figures: dict[str, Any]
) -> None:
    stack.sandbox.faults.latency_by_endpoint = {"campaign": 0.05}  # widens the window between the cap's read and the write
    replicas = await start_replicas(stack, postgres_url, tmp_path, "[guardrails]\nmax_daily_increase = 300\n")
    try:
        await approve_every_proposal(stack, replicas)
    finally:
        for replica in replicas:
            replica.stop()

    proposals, audit, _ = await read_store(postgres_url)
    states = Counter(p.state for p in proposals)
    applied = [p for p in proposals if p.state is ProposalState.APPLIED]
    added = sum((p.to_amount - p.from_amount for p in applied), Decimal(0))
    assert added <= Decimal("300.00")
    assert states == Counter({ProposalState.APPLIED: 15, ProposalState.STALE: ROUNDS - 15}), states
    assert all("of the 300.00 cap" in (p.detail or "") for p in proposals if p.state is ProposalState.STALE)
    per_campaign = patches_per_campaign(stack)
    assert set(per_campaign.values()) == {1} and set(per_campaign) == {p.campaign_id for p in applied}
    assert Counter(e.action for e in audit)["applied"] == 15
    figures["replicas: increase cap"] = {
        "rounds": ROUNDS, "clicks": 2 * ROUNDS, "applied": len(applied), "increases applied": str(added),
        "cap": "300.00", "patches": sum(per_campaign.values()),
    }


async def test_a_slow_write_is_never_taken_over_by_the_other_replicas_checks(
    stack: Stack, postgres_url: str, tmp_path: Path, figures: dict[str, Any]
) -> None:
    replicas = await start_replicas(stack, postgres_url, tmp_path, BUDGET_BOT_RECONCILE_AFTER_SECONDS="1")
    stack.sandbox.faults.latency_by_endpoint = {"campaign_update": 1.5}  # every write outlasts the lease
    done = asyncio.Event()
    checks = 0

    async def keep_checking() -> None:
        """Both replicas reconcile at each check: a bounded stream of them while the writes run."""
        nonlocal checks
        deadline = time.monotonic() + 120
        while not done.is_set() and time.monotonic() < deadline and checks < 400:
            stack.slack.bot_url = replicas[checks % 2].events_url
            ack = await stack.slack.send_command("check", user_id=APPROVER)
            await stack.slack.wait_for_message(
                lambda m: m.text.startswith(("Health check done", "Could not")), since=ack.mark, timeout=60
            )
            checks += 1

    checking = asyncio.create_task(keep_checking())
    try:
        await approve_every_proposal(stack, replicas)
    finally:
        done.set()
        await checking
        for replica in replicas:
            replica.stop()

    proposals, audit, _ = await read_store(postgres_url)
    assert Counter(p.state for p in proposals) == Counter({ProposalState.APPLIED: ROUNDS})
    assert patches_per_campaign(stack) == Counter({FIRST_ID + i: 1 for i in range(ROUNDS)})
    assert all(p.detail == "verified: the live daily budget matches" for p in proposals)
    actions = Counter((e.proposal_id, e.action) for e in audit)
    assert all(actions[(p.id, "applied")] == 1 for p in proposals)
    assert checks >= 4, "the checks did not overlap the writes"
    figures["replicas: slow writes against a 1 s lease"] = {
        "rounds": ROUNDS, "clicks": 2 * ROUNDS, "checks meanwhile": checks,
        "patches per proposal": sorted(set(patches_per_campaign(stack).values())),
    }


async def test_pause_approvals_clicked_on_both_replicas_stop_each_campaign_with_one_request(
    stack: Stack, postgres_url: str, tmp_path: Path, figures: dict[str, Any]
) -> None:
    stack.sandbox.faults.latency_by_endpoint = {"campaigns_stop": 0.05}
    replicas = await start_replicas(stack, postgres_url, tmp_path, candidates=pauses())
    try:
        await approve_every_proposal(stack, replicas)
    finally:
        for replica in replicas:
            replica.stop()

    proposals, audit, _ = await read_store(postgres_url)
    assert Counter(p.state for p in proposals) == Counter({ProposalState.APPLIED: ROUNDS})
    stops = stack.sandbox.requests.entries("PUT", "/adv/campaigns/stop")
    stopped = Counter(i for r in stops for i in r.body["campaign_ids"])
    assert stopped == Counter({FIRST_ID + i: 1 for i in range(ROUNDS)})
    assert {c.status for c in stack.sandbox.account.campaigns.values()} == {CampaignStatus.STOPPED}
    assert Counter(e.action for e in audit)["applied"] == ROUNDS
    figures["replicas: pause approvals"] = {"rounds": ROUNDS, "clicks": 2 * ROUNDS, "stop requests": len(stops)}
