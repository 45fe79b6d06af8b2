"""Replicas on one PostgreSQL database: each scheduled run happens once, whichever process gets there first.

APScheduler fires on whole minutes, so letting two `budget-bot serve` processes reach a fire time
by themselves means waiting for the wall clock. Instead two separate Python processes build the
bot exactly as `serve` does (settings from the environment, `Runtime.build`, `runtime.start`) and
then fire the same jobs for the same fire times at the same moment; the Slack stand-in counts what
reached the channel. A second test starts two real `budget-bot serve` processes side by side on a
fresh database and has them share one store through Slack commands.
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

import httpx
import psycopg
import pytest

from bot.scheduler import CHECK, SUMMARY
from tests.harness import APPROVER, VIEWER, Stack, running_stack, serve_env

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).parents[2]
START_TIMEOUT = 60

# What `budget-bot serve` does before it listens, then the same jobs fired for times read from stdin.
DRIVER = r"""
import asyncio, json, sys
from datetime import datetime
from bot.runtime import Runtime
from bot.settings import load_settings

async def main():
    settings = load_settings(slack="http")
    runtime = Runtime.build(settings)
    await runtime.start(schedule=False)
    print(json.dumps({"ready": runtime.jobs.owner}), flush=True)
    plan = json.loads(await asyncio.to_thread(sys.stdin.readline))
    results = []
    for job, at in plan:
        results.append([job, at, await runtime.jobs.fire(job, datetime.fromisoformat(at))])
    await runtime.stop()
    print(json.dumps({"results": results}), flush=True)

asyncio.run(main())
"""


def replica_env(stack: Stack, database_url: str, **extra: str) -> dict[str, str]:
    return serve_env(
        stack,
        database_url,
        PYTHONPATH=str(ROOT),
        BUDGET_BOT_TIMEZONE="Europe/Berlin",
        BUDGET_BOT_SUMMARY_TIME="09:00",
        BUDGET_BOT_CHECK_INTERVAL_MINUTES="1",
        BUDGET_BOT_RULES=json.dumps([{"name": "cpa-target", "target_cpa": 10, "window_days": 7}]),
        **extra,
    )


class Lines:
    """A process's output lines as they come, read by a thread: waiting on one never blocks past a timeout."""

    def __init__(self, process: subprocess.Popen[str], stream: TextIO, log: Path | None = None) -> None:
        self.process = process
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._log = log
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: TextIO) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def next(self, timeout: float = START_TIMEOUT) -> str:
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout} s; so far:\n{self._told()}") from None
        if line is None:
            self.process.wait(timeout=10)
            raise AssertionError(f"process ended ({self.process.returncode}); output:\n{self._told()}")
        self.seen.append(line)
        return line

    def until(self, text: str, timeout: float = START_TIMEOUT) -> str:
        while text not in (line := self.next(timeout)):
            pass
        return line

    def _told(self) -> str:
        logged = self._log.read_text() if self._log is not None and self._log.exists() else ""
        return (logged + "".join(self.seen))[-3000:]


@pytest.fixture
def stack(tmp_path: Path, postgres_url: str) -> Iterator[Stack]:
    """The sandbox and the Slack stand-in; the bot runs in the test's own processes."""
    with running_stack(tmp_path, db_url=postgres_url, start_bot=False) as running:
        yield running


def test_two_processes_on_postgresql_post_one_summary_per_fire_time(
    stack: Stack, tmp_path: Path, postgres_url: str
) -> None:
    # 1,000.00 covers 2.8 days of the 350.00 budget and makes 102 (20%) HIGH: the check has two alerts to post.
    stack.sandbox.account.set_balance("1000.00", datetime.now(timezone.utc))
    env = replica_env(stack, postgres_url)
    processes = []
    for n in range(2):
        log = tmp_path / f"replica-{n}.log"
        process = subprocess.Popen(
            [sys.executable, "-c", DRIVER], env=env, cwd=tmp_path, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("w"),
        )
        assert process.stdout is not None
        processes.append((process, Lines(process, process.stdout, log)))
    try:
        owners = [json.loads(out.next())["ready"] for _, out in processes]
        assert owners[0] != owners[1]

        # Three mornings (09:00 in Berlin, a few hundred ms late as a scheduler fires) and one check time.
        mornings = [datetime(2024, 3, 4 + d, 8, 0, 0, 200_000, tzinfo=timezone.utc) for d in range(3)]
        check_at = datetime(2024, 3, 4, 10, 0, 0, 300_000, tzinfo=timezone.utc)
        plan = [[SUMMARY, at.isoformat()] for at in mornings] + [[CHECK, check_at.isoformat()]]
        # Both get the plan at once and race for every fire time.
        for process, _ in processes:
            assert process.stdin is not None
            process.stdin.write(json.dumps(plan) + "\n")
            process.stdin.flush()
        results = [json.loads(out.next())["results"] for _, out in processes]
        for process, _ in processes:
            assert process.wait(timeout=30) == 0
    finally:
        for process, _ in processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    # Each fire time was run by exactly one of the two.
    ran = Counter((job, at) for result in results for job, at, won in result if won)
    assert ran == Counter({(job, at): 1 for job, at in plan})

    posted = [m.text for m in stack.slack.messages() if not m.ephemeral]
    summary = (
        "Daily budget summary: balance 1,000.00, runway 3.7 days, total daily budget 350.00, 1 campaign(s) at risk"
    )
    # One message tells the check's alerts (the pacing signals of a day with no spend yet among them).
    [alerts] = [text for text in posted if "alerts need attention" in text]
    for line in (
        "• Loser DE (102) has a daily budget of 200.00, HIGH risk against the 1,000.00 balance.",
        "• Balance 1,000.00 covers 2.8 days of the 350.00 total daily budget.",
    ):
        assert alerts.count(line) == 1, alerts
    # The ledger holds no whole ad day here: no chart goes with the summaries, and nothing says so twice.
    assert Counter(posted) == Counter({summary: 3, alerts: 1, **PROPOSALS})
    assert len(stack.requests("GET", "/adv/balance")) == 4  # three summaries and one check, no more

    with psycopg.connect(postgres_url, autocommit=True) as db:
        rows = db.execute("SELECT job, slot, claimed_by FROM job_runs ORDER BY job, slot").fetchall()
    assert [(job, slot) for job, slot, _ in rows] == [
        (SUMMARY, "2024-03-04"), (SUMMARY, "2024-03-05"), (SUMMARY, "2024-03-06"), (CHECK, "2024-03-04T10:00Z"),
    ]
    assert {owner for _, _, owner in rows} <= set(owners)


# The check's proposals, each posted once: 102 down to 160.00 and 101 up to 120.00.
PROPOSALS = {
    "Proposal #1: Loser DE daily budget 200.00 → 160.00": 1,
    "Proposal #2: Winner &amp; Co &lt;US&gt; daily budget 100.00 → 120.00": 1,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_budget_bot_serve_processes_start_together_and_share_one_store(
    stack: Stack, tmp_path: Path, postgres_url: str
) -> None:
    env = replica_env(stack, postgres_url)
    replicas: list[tuple[subprocess.Popen[str], Lines, str]] = []
    for n in range(2):
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=tmp_path, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        assert process.stderr is not None
        replicas.append((process, Lines(process, process.stderr), f"http://127.0.0.1:{port}"))
    try:
        for _, output, _ in replicas:
            # Logged from the startup hook once the store is migrated, just before the port opens.
            line = output.until("scheduled:")
            assert "scheduled: daily summary at 09:00 Europe/Berlin, health check now and every 1 min" in line
        # Connection attempts are retried for the moment between the log line and the listening socket.
        with httpx.Client(transport=httpx.HTTPTransport(retries=5), timeout=10) as http:
            for _, _, url in replicas:
                assert http.get(url + "/healthz").json() == {
                    "ok": True, "database": "ok", "slack": "ok", "propellerads": "ok"
                }
        # One of them ran the health check at start and posted the two proposals; let it finish first.
        stack.slack.sync.wait_for_message(
            lambda m: sum(t.text in PROPOSALS for t in stack.slack.messages()) == len(PROPOSALS), timeout=30
        )

        first, second = (url + "/slack/events" for _, _, url in replicas)
        stack.slack.bot_url = first
        ack = stack.slack.sync.send_command("check", user_id=APPROVER)
        assert ack.status == 200 and ack.latency < 1.0
        stack.slack.sync.wait_for_message(
            lambda m: m.via == "response_url" and m.text.startswith("Health check done"), since=ack.mark, timeout=20
        )
        # The other replica sees the proposals the first one stored.
        stack.slack.bot_url = second
        ack = stack.slack.sync.send_command("proposals", user_id=VIEWER)
        assert ack.status == 200 and ack.latency < 1.0
        listed = stack.slack.sync.wait_for_message(lambda m: m.via == "response_url", since=ack.mark, timeout=20)
        assert listed.text == "2 pending proposal(s)"
        posted = Counter(m.text for m in stack.slack.messages() if m.text.startswith("Proposal #"))
        assert posted == Counter(PROPOSALS)
    finally:
        for process, _, _ in replicas:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process, _, _ in replicas:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
