"""Slack responsiveness: ack latency under a burst of /budget status, and Approve click to budget written."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from bench.common import (
    API_TOKEN,
    Section,
    budget_bot_command,
    child_env,
    free_port,
    mib,
    ms,
    percentile,
    proc_status,
    stop,
    wait_healthy,
)
from bot.render import APPROVE
from sandbox.adplatform import SANDBOX_KEY, Account, Campaign, SandboxConfig, start_sandbox
from sandbox.serving import BackgroundServer
from sandbox.slack import SlackStandIn, blockkit, start_standin
from sandbox.slack.model import Call

BURST = 50
LATENCY = 1.5
"""Seconds the sandbox adds before every ad API answer during the burst."""
PROPOSALS = 40
BOT_TOKEN = "xoxb-bench-" + secrets.token_hex(8)
SIGNING_SECRET = "signing-" + secrets.token_hex(12)
CHANNEL = "C0BUDGET"
APPROVER = "U0APPROVER"
VIEWER = "U0VIEWER"
METHOD = f"""\
The sandbox (live rate limits) and the Slack stand-in run in the benchmark's process; the bot runs as
`budget-bot serve --no-schedule` in a process of its own, with default settings (an account read is reused for
60 s, and one read at a time) and a SQLite store. Everything talks real HTTP on 127.0.0.1, with Slack's
request signatures. One `/budget help` first, so that Bolt's once-only `auth.test` is not counted.

Burst: the sandbox delays every ad API answer by {LATENCY:g} s, and the stand-in sends {BURST} signed
`/budget status` at the same moment, with nothing cached yet. *Ack* is the time to the HTTP answer of each
command as the stand-in measures it (Slack gives up after 3 s); *answer posted* runs from sending the burst to
each of the bot's posts to the command's response URL.

Approve: the latency is back to 0 and one `/budget check` posts {PROPOSALS} proposals (campaigns whose CPA is
far over the rule's target, each to be cut from 200 to 160 a day). Each proposal's Approve button is clicked
in turn, as the approver. From the click: the ack; the moment the PATCH of the daily budget reaches the
sandbox (its request log, after the executor re-read the live campaign); and the moment the stand-in records
the `chat.update` that rewrites the proposal message (after the executor verified the write).
"""
RULES_TOML = f"""\
channel = "{CHANNEL}"
approvers = ["{APPROVER}"]

[[rules]]
name = "cpa-target"
target_cpa = 10.0
window_days = 7
"""


def proposal_account(today: date) -> Account:
    """PROPOSALS campaigns that each earn one decrease: daily budget 200, 150 spent a day, CPA 150 against 10."""
    campaigns = [
        Campaign(id=5000 + i, name=f"Bench DE {i:02d}", limit_daily_amount=Decimal("200.00")) for i in range(PROPOSALS)
    ]
    account = Account(balance=Decimal("100000.00"), campaigns=campaigns)
    for back in range(1, 9):
        day = today - timedelta(days=back)
        for campaign in campaigns:
            account.record(campaign.id, day, spent=Decimal("150"), impressions=15000, conversions=1)
    return account


@dataclass
class Bot:
    process: subprocess.Popen[str]
    url: str
    started_in: float


@contextmanager
def running_bot(api_url: str, slack_api_url: str, workdir: Path, *, schedule: bool = False) -> Iterator[Bot]:
    """`budget-bot serve` in its own process, as deployed, configured through its environment and a TOML file."""
    config = workdir / "budget-bot.toml"
    config.write_text(RULES_TOML, encoding="utf-8")
    port = free_port()
    env = child_env(
        PROPELLERADS_API_TOKEN=API_TOKEN,
        PROPELLERADS_BASE_URL=api_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_api_url,
        BUDGET_BOT_CONFIG=str(config),
        BUDGET_BOT_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'bot.db'}",
    )
    command = [*budget_bot_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if not schedule:
        command.append("--no-schedule")
    with open(workdir / "bot.log", "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            url = f"http://127.0.0.1:{port}"
            started_in = wait_healthy(url + "/healthz", process)
            yield Bot(process, url, started_in)
        finally:
            stop(process)


async def _calls(slack: SlackStandIn, method: str, since: int, count: int, timeout: float) -> list[Call]:
    """The first `count` calls to `method` after position `since`, waiting on the stand-in's changes."""
    deadline = time.monotonic() + timeout
    while True:
        revision = slack.revision
        found = [c for c in slack.calls[since:] if c.method == method]
        if len(found) >= count:
            return found[:count]
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{len(found)} of {count} {method} calls within {timeout:g} s")
        await slack.wait_for_change(revision, left)


def _has_button(blocks: list[dict], action_id: str) -> bool:
    try:
        blockkit.find_action(blocks, action_id)
    except LookupError:
        return False
    return True


@dataclass
class Results:
    acks: list[float] = field(default_factory=list)
    ack_errors: int = 0
    replies: list[float] = field(default_factory=list)
    burst_requests: Counter[str] = field(default_factory=Counter)
    burst_refused: int = 0
    written: list[float] = field(default_factory=list)
    updated: list[float] = field(default_factory=list)
    click_acks: list[float] = field(default_factory=list)
    applied: int = 0
    proposals: int = 0
    rss_after: dict[str, int] = field(default_factory=dict)
    bot_start: float = 0.0


async def _drive(slack: SlackStandIn, ads: BackgroundServer, results: Results) -> None:
    sandbox = ads.app[SANDBOX_KEY]
    # Bolt checks the bot token with auth.test on its first request; that once-only cost is not the burst's.
    warm = await slack.send_command("help", user_id=APPROVER)
    assert warm.ok, warm

    sandbox.faults.latency = LATENCY
    log_mark = sandbox.requests.count()
    call_mark = len(slack.calls)
    started = time.time()
    users = (APPROVER, VIEWER)
    acks = await asyncio.gather(*(slack.send_command("status", user_id=users[i % 2]) for i in range(BURST)))
    replies = await _calls(slack, "response_url", call_mark, BURST, timeout=300)
    results.acks = [a.latency for a in acks]
    results.ack_errors = sum(1 for a in acks if not a.ok)
    results.replies = [c.at - started for c in replies]
    burst = sandbox.requests.entries()[log_mark:]
    results.burst_requests = Counter(r.endpoint or r.path for r in burst)
    results.burst_refused = sum(1 for r in burst if r.status == 429)
    sandbox.faults.latency = 0.0

    # One check turns the account into PROPOSALS proposals in the channel, each with an Approve button.
    mark = slack.mark()
    await slack.send_command("check", user_id=APPROVER)
    await slack.wait_for_message(lambda m: "Health check done" in m.all_text, since=mark, timeout=300)
    proposals = [m for m in slack.messages() if _has_button(m.blocks, APPROVE)]
    results.proposals = len(proposals)

    for message in proposals:
        call_mark = len(slack.calls)
        log_mark = sandbox.requests.count()
        clicked = time.time()
        ack = await slack.click(message.ts, APPROVE, user_id=APPROVER)
        update = await slack.wait_for_call(
            "chat.update", lambda c, ts=message.ts: c.args.get("ts") == ts, since=call_mark, timeout=60
        )
        patches = [r for r in sandbox.requests.entries()[log_mark:] if r.method == "PATCH" and r.status == 200]
        results.click_acks.append(ack.latency)
        results.updated.append(update.at - clicked)
        if patches:
            results.written.append(patches[0].at.timestamp() - clicked)
    results.applied = sum(
        1 for c in sandbox.account.campaigns.values() if c.limit_daily_amount == Decimal("160.00")
    )


def run() -> Section:
    started = time.perf_counter()
    results = Results()
    ads = start_sandbox(
        proposal_account(datetime.now(timezone.utc).date()), token=API_TOKEN, config=SandboxConfig()
    )
    slack_server, slack = start_standin(
        bot_url=None, signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, channel_id=CHANNEL
    )
    try:
        with tempfile.TemporaryDirectory(prefix="budget-bot-bench-") as tmp:
            with running_bot(ads.url + "/v5", slack_server.url + "/api/", Path(tmp)) as bot:
                slack.bot_url = bot.url + "/slack/events"
                results.bot_start = bot.started_in
                asyncio.run(_drive(slack, ads, results))
                results.rss_after = proc_status(bot.process.pid)
    finally:
        slack_server.stop()
        ads.stop()

    requests = ", ".join(f"{name} {count}" for name, count in sorted(results.burst_requests.items()))

    def row(scenario: str, what: str, samples: list[float]) -> list[str]:
        return [scenario, what, ms(percentile(samples, 50)), ms(percentile(samples, 99)), ms(max(samples))]

    rows = [
        row(f"{BURST} simultaneous /budget status, ad API {LATENCY:g} s a call", "ack", results.acks),
        row("", "answer posted (from the burst)", results.replies),
        row(f"Approve click, {len(results.updated)} proposals one after another", "ack", results.click_acks),
        row("", "budget written (PATCH reaches the ad API)", results.written),
        row("", "message updated (chat.update)", results.updated),
    ]
    notes = [
        f"The burst cost the ad API {sum(results.burst_requests.values())} requests ({requests}), "
        f"{results.burst_refused} of them answered 429; {results.ack_errors} acks failed or came after Slack's 3 s.",
        f"{results.proposals} proposals were posted by one /budget check; {results.applied} daily budgets were "
        f"written ({len(results.written)} PATCH answers seen), and every click's message was updated.",
        f"The bot ran as `budget-bot serve --no-schedule` in its own process (ready {ms(results.bot_start)} after launch; "
        f"resident {mib(results.rss_after.get('VmRSS', 0))} after the run, peak {mib(results.rss_after.get('VmHWM', 0))}).",
    ]
    return Section(
        title="Slack responsiveness",
        columns=["scenario", "time to", "p50", "p99", "max"],
        rows=rows,
        notes=notes,
        method=METHOD,
        seconds=time.perf_counter() - started,
    )
