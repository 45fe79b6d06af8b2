"""Several ad accounts in one bot, each on its own sandbox with its own token, over real HTTP: every account's
check reads only its own API and writes only its own rows and channels, and one account that is refused or slow
holds up no other."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.runtime import Runtime
from bot.server import build_web_app
from bot.scheduler import CHECK, SUMMARY, build_scheduler, check_slot, summary_slot
from bot.settings import AccountConfig, Settings
from core.proposals import Outcome, ProposalState
from core.store.tables import AlertRow, AuditRow, JobRunRow, ProposalRow
from sandbox.adplatform import SANDBOX_KEY, Sandbox, SandboxConfig, start_sandbox
from sandbox.serving import BackgroundServer
from sandbox.slack import SlackStandIn, start_standin
from tests.harness import BOT_TOKEN, SIGNING_SECRET, bot_settings, exact_account

TOKENS = {"acme": "pa-acme-token-51e2d04b", "beta": "pa-beta-token-9c7a3f10"}
CHANNELS = {"acme": "C0ACME", "beta": "C0BETA"}
# A check time of today's (the sandboxes' figures are of the days before the real today).
SLOT = check_slot(datetime.now(timezone.utc), 15)
NOW_PG = datetime.strptime(SLOT, "%Y-%m-%dT%H:%MZ").replace(tzinfo=timezone.utc)


@dataclass
class TwoAccounts:
    sandboxes: dict[str, BackgroundServer]
    slack: SlackStandIn
    settings: Settings

    def sandbox(self, name: str) -> Sandbox:
        return self.sandboxes[name].app[SANDBOX_KEY]

    def texts(self, channel: str) -> list[str]:
        return [m.text for m in self.slack.messages(channel) if not m.ephemeral]


@pytest.fixture
def two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwoAccounts]:
    """acme and beta on sandboxes of their own with their own tokens; beta's balance is low."""
    today = datetime.now(timezone.utc).date()
    config = SandboxConfig(rate_limits={"statistics": None})
    books = {"acme": exact_account(today), "beta": exact_account(today, balance="1000.00")}
    sandboxes = {name: start_sandbox(books[name], token=TOKENS[name], config=config) for name in books}
    slack_server, slack = start_standin(bot_url=None, signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, channel_id="C0TOP")
    for name, channel in CHANNELS.items():
        slack.channels[channel] = name
    for name, token in TOKENS.items():
        monkeypatch.setenv(f"{name.upper()}_PA_TOKEN", token)
    accounts = [
        AccountConfig(name=name, api_token_env=f"{name.upper()}_PA_TOKEN", base_url=server.url + "/v5", channel=CHANNELS[name])
        for name, server in sandboxes.items()
    ]
    settings = bot_settings(
        "http://127.0.0.1:9/v5", slack_server.url, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        propellerads_api_token="", channel="C0TOP", accounts=accounts,
    )
    try:
        yield TwoAccounts(sandboxes, slack, settings)
    finally:
        slack_server.stop()
        for server in sandboxes.values():
            server.stop()


async def started(settings: Settings, **build: Any) -> Runtime:
    runtime = Runtime.build(settings, **build)
    await runtime.start(schedule=False)
    return runtime


async def rows(runtime: Runtime, table: Any) -> list[Any]:
    """Every account's rows: a session of the engine's own, which no store limits to an account."""
    async with AsyncSession(runtime.store.engine) as s:
        return list(await s.scalars(select(table)))


async def test_each_accounts_check_reads_its_own_api_and_writes_its_own_rows_and_channel(two: TwoAccounts) -> None:
    runtime = await started(two.settings)
    try:
        assert runtime.accounts.names == ["acme", "beta"]
        assert runtime.service is runtime.accounts.get("acme").service
        ran = await asyncio.gather(*(account.jobs.fire(CHECK) for account in runtime.accounts))
        assert ran == [True, True]

        proposals = await rows(runtime, ProposalRow)
        assert sorted((p.account, p.campaign_id) for p in proposals) == [
            ("acme", 101), ("acme", 102), ("beta", 101), ("beta", 102)
        ]
        alerts = {(a.account, a.key) for a in await rows(runtime, AlertRow)}
        assert ("beta", "low_balance") in alerts and ("acme", "low_balance") not in alerts
        assert {(r.account, r.job) for r in await rows(runtime, JobRunRow)} == {("acme", CHECK), ("beta", CHECK)}
        assert all(r.finished_at is not None for r in await rows(runtime, JobRunRow))

        # Each sandbox answered only its own token: nothing refused, and both were asked.
        for name in TOKENS:
            statuses = {r.status for r in two.sandbox(name).requests.entries()}
            assert statuses == {200}, name
        beta_said, acme_said = " ".join(two.texts("C0BETA")), " ".join(two.texts("C0ACME"))
        assert "Balance 1,000.00" in beta_said and "Balance" not in acme_said
        assert "Winner &amp; Co" in acme_said and "Winner &amp; Co" in beta_said
        assert two.texts("C0TOP") == []
        # A proposal decided in beta is beta's: acme's store does not know its number.
        beta_pending = await runtime.accounts.get("beta").service.store.proposals([ProposalState.PENDING])
        acme_store = runtime.accounts.get("acme").service.store
        assert beta_pending and [await acme_store.get(p.id) for p in beta_pending] == [None] * len(beta_pending)
    finally:
        await runtime.stop()


async def test_a_slow_account_leaves_the_others_check_on_time(two: TwoAccounts) -> None:
    runtime = await started(two.settings)
    gate = two.sandbox("acme").faults.hold("balance")
    try:
        acme, beta = runtime.accounts
        held = asyncio.create_task(acme.jobs.fire(CHECK))
        assert await asyncio.to_thread(gate.arrived.wait, 30)
        # acme's read hangs in its sandbox; beta's check runs to its end meanwhile.
        assert await asyncio.wait_for(beta.jobs.fire(CHECK), 30)
        assert not held.done()
        assert any("Winner &amp; Co" in text for text in two.texts("C0BETA"))
        assert two.texts("C0ACME") == []
        gate.release()
        assert await asyncio.wait_for(held, 30)
        assert any("Winner &amp; Co" in text for text in two.texts("C0ACME"))
    finally:
        gate.release()
        await runtime.stop()


async def test_a_refused_token_is_told_in_its_accounts_channel_while_the_other_is_checked(
    two: TwoAccounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_PA_TOKEN", "pa-acme-token-revoked")
    runtime = await started(two.settings)
    try:
        assert await asyncio.gather(*(account.jobs.fire(CHECK) for account in runtime.accounts)) == [True, True]
        alerts = {(a.account, a.key) for a in await rows(runtime, AlertRow)}
        assert ("acme", "api_token_refused") in alerts and ("beta", "api_token_refused") not in alerts
        acme_said, beta_said = " ".join(two.texts("C0ACME")), " ".join(two.texts("C0BETA"))
        assert "refused" in acme_said.lower() and "refused" not in beta_said.lower()
        assert "Winner &amp; Co" in beta_said and "Winner &amp; Co" not in acme_said
        assert "pa-acme-token-revoked" not in acme_said + beta_said
        assert {r.status for r in two.sandbox("acme").requests.entries()} == {401}
    finally:
        await runtime.stop()


async def test_an_account_whose_api_fails_is_told_once_in_its_own_channel(two: TwoAccounts) -> None:
    runtime = await started(two.settings)
    try:
        acme, beta = runtime.accounts
        two.sandbox("acme").faults.fail_next("GET", "/adv/balance", status=400, times=10, body='{"errors": ["Bad request."]}')
        assert await acme.jobs.fire(CHECK, datetime(2030, 1, 1, 10, 0, tzinfo=timezone.utc))
        assert await acme.jobs.fire(CHECK, datetime(2030, 1, 1, 10, 15, tzinfo=timezone.utc))
        failures = [t for t in two.texts("C0ACME") if "Bad request." in t]
        assert len(failures) == 1, two.texts("C0ACME")
        assert two.texts("C0BETA") == [] and two.texts("C0TOP") == []
        await beta.jobs.fire(CHECK, datetime(2030, 1, 1, 10, 0, tzinfo=timezone.utc))
        assert not any("Bad request." in t for t in two.texts("C0BETA"))
    finally:
        await runtime.stop()


@pytest.mark.postgres
async def test_two_replicas_on_postgresql_run_each_accounts_check_once(two: TwoAccounts, postgres_url: str) -> None:
    settings = two.settings.model_copy(update={"database_url": postgres_url})
    first = await started(settings, clock=lambda: NOW_PG)
    second = await started(settings, clock=lambda: NOW_PG)
    try:
        fires = [account.jobs.fire(CHECK) for runtime in (first, second) for account in runtime.accounts]
        ran = await asyncio.gather(*fires)
        assert sum(ran) == 2
        runs = await rows(first, JobRunRow)
        assert sorted(r.account for r in runs) == ["acme", "beta"]
        assert len({r.claimed_by for r in runs}) <= 2 and all(r.finished_at is not None for r in runs)
        for name in TOKENS:  # one check each: one balance read per account
            assert [r.endpoint for r in two.sandbox(name).requests.entries()].count("balance") == 1, name
    finally:
        await first.stop()
        await second.stop()


@pytest.mark.postgres
async def test_a_check_left_unfinished_by_a_dead_replica_is_run_by_another_after_the_timeout(
    two: TwoAccounts, postgres_url: str
) -> None:
    settings = two.settings.model_copy(update={"database_url": postgres_url, "run_claim_timeout_seconds": 600})
    now = [NOW_PG]
    runtime = await started(settings, clock=lambda: now[0])
    try:
        acme = runtime.accounts.get("acme")
        # A replica claimed acme's check and died before finishing it.
        assert await acme.service.claim_run(CHECK, SLOT, "dead-replica", NOW_PG)
        assert not await acme.jobs.fire(CHECK, NOW_PG + timedelta(minutes=5))
        assert two.texts("C0ACME") == []
        now[0] = NOW_PG + timedelta(minutes=10)
        assert await acme.jobs.fire(CHECK, NOW_PG + timedelta(seconds=10))
        (run,) = [r for r in await rows(runtime, JobRunRow) if r.account == "acme"]
        assert run.claimed_by == acme.jobs.owner and run.finished_at == now[0]
        assert any("Winner &amp; Co" in text for text in two.texts("C0ACME"))
    finally:
        await runtime.stop()


def test_healthz_names_the_account_whose_token_is_refused(two: TwoAccounts, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BETA_PA_TOKEN", "pa-beta-token-revoked")
    runtime = Runtime.build(two.settings)
    server = BackgroundServer(build_web_app(runtime, schedule=False)).start()
    try:
        answer = httpx.get(server.url + "/healthz", timeout=30).json()
        assert answer["ok"] is False and answer["database"] == "ok"
        assert answer["propellerads"].startswith("beta: PropellerAds refused the API token (401)")
        assert "acme" not in answer["propellerads"] and "pa-beta-token-revoked" not in answer["propellerads"]
    finally:
        server.stop()


async def test_checks_beyond_the_bound_wait_for_a_turn(two: TwoAccounts) -> None:
    runtime = await started(two.settings.model_copy(update={"max_concurrent_checks": 1}))
    gate = two.sandbox("acme").faults.hold("balance")
    try:
        acme, beta = runtime.accounts
        first = asyncio.create_task(acme.jobs.fire(CHECK))
        assert await asyncio.to_thread(gate.arrived.wait, 30)
        assert acme.jobs.running is beta.jobs.running and acme.jobs.running.locked()
        second = asyncio.create_task(beta.jobs.fire(CHECK))
        gate.release()
        assert await asyncio.wait_for(asyncio.gather(first, second), 30) == [True, True]
        acme_last = max(r.at for r in two.sandbox("acme").requests.entries())
        beta_first = min(r.at for r in two.sandbox("beta").requests.entries())
        assert beta_first >= acme_last  # beta's check began only once acme's had ended
    finally:
        gate.release()
        await runtime.stop()


def test_each_account_has_its_own_scheduled_jobs(two: TwoAccounts) -> None:
    runtime = Runtime.build(two.settings)
    scheduler = build_scheduler([account.jobs for account in runtime.accounts], check_now=True)
    assert {job.id for job in scheduler.get_jobs()} == {
        f"{job}{suffix}:{name}" for name in TOKENS for job, suffix in ((SUMMARY, ""), (CHECK, ""), (CHECK, "_at_start"))
    }


async def test_a_summary_left_unfinished_by_a_dead_replica_is_made_up_for_after_the_timeout(two: TwoAccounts) -> None:
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    settings = two.settings.model_copy(
        update={"summary_time": (start - timedelta(hours=1)).time(), "timezone": "UTC", "run_claim_timeout_seconds": 600}
    )
    now = [start]
    runtime = await started(settings, clock=lambda: now[0])
    try:
        acme = runtime.accounts.get("acme")
        slot = summary_slot(start, acme.jobs.zone, acme.jobs.summary_time)
        assert await acme.service.claim_run(SUMMARY, slot, "dead-replica", start)
        assert not await acme.jobs.catch_up()  # its replica may still be at it
        now[0] = start + timedelta(minutes=10)
        assert await acme.jobs.catch_up()
        assert not await acme.jobs.catch_up()  # made up for once
        summaries = [t for t in two.texts("C0ACME") if t.startswith("Daily budget summary")]
        assert len(summaries) == 1 and two.texts("C0BETA") == []
    finally:
        await runtime.stop()


async def test_an_approval_in_one_account_writes_only_to_its_api_and_only_by_its_approvers(two: TwoAccounts) -> None:
    own = [a.model_copy(update={"approvers": [f"U0{a.name.upper()}"]}) for a in two.settings.accounts]
    runtime = await started(two.settings.model_copy(update={"accounts": own}))
    try:
        acme, beta = runtime.accounts
        await asyncio.gather(acme.jobs.fire(CHECK), beta.jobs.fire(CHECK))
        # beta's low balance holds its increase back; its decrease is the change to approve.
        (decrease,) = [p for p in await beta.service.store.proposals([ProposalState.PENDING]) if p.campaign_id == 102]

        assert (await acme.service.decide(decrease.id, "U0ACME", approve=True))[0].outcome is Outcome.NOT_FOUND
        assert (await beta.service.decide(decrease.id, "U0ACME", approve=True))[0].outcome is Outcome.NOT_ALLOWED
        decision, _ = await beta.service.decide(decrease.id, "U0BETA", approve=True)
        assert decision.outcome is Outcome.APPLIED

        beta_writes = [r for r in two.sandbox("beta").requests.entries() if r.method == "PATCH"]
        assert [(r.path, r.status) for r in beta_writes] == [("/v5/adv/campaigns/102", 200)]
        assert [r for r in two.sandbox("acme").requests.entries() if r.method != "GET"] == []
        assert two.sandbox("beta").account.campaigns[102].limit_daily_amount == Decimal("160.00")
        assert two.sandbox("acme").account.campaigns[102].limit_daily_amount == Decimal("200.00")
        audit = [(e.account, e.action, e.actor) for e in await rows(runtime, AuditRow) if e.action == "applied"]
        assert audit == [("beta", "applied", "U0BETA")]
    finally:
        await runtime.stop()
