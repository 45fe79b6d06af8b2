"""Many ad accounts: one round of 200 accounts' scheduled checks on 1 and on 2 replicas sharing PostgreSQL."""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from bench.common import (
    API_TOKEN,
    Section,
    budget_bot_command,
    child_env,
    duration,
    free_port,
    sandbox_child,
    stop,
    wait_healthy,
)
from bench.responsiveness import BOT_TOKEN, CHANNEL, SIGNING_SECRET
from bot.scheduler import CHECK
from core.adday import DEFAULT_AD_TIMEZONE, AdDay
from core.ledger import BACKFILL_DAYS
from sandbox.adplatform import DEFAULT_RATE_LIMITS
from sandbox.slack import start_standin

ACCOUNTS = 200
CAMPAIGNS = 50
REPLICAS = (1, 2)
FIRST_START_TURNS = 64
"""Checks at once on the first start (the most the settings allow); the timed rounds keep the default 4."""
FIRST_START = f"first start ({FIRST_START_TURNS} at once)"
HELD = "ledgers held"
SEED = 7
POSTGRES_URL = os.environ.get("BUDGET_BOT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
"""A PostgreSQL server where the benchmark may create (and drop) a scratch database."""
ROUND_TIMEOUT = 20 * 60
BACKFILL_TIMEOUT = 15 * 60
POLL = 0.5
"""Seconds between looks at the run ledger while a round goes on."""
QUIET = 90
"""Seconds without a check claimed or ended after which a round that has not reached every account is over."""
WINDOW = DEFAULT_RATE_LIMITS["statistics"].window + 1
"""Seconds after which every rate-limit window the previous round opened has closed."""

METHOD = f"""\
One sandbox PropellerAds API (in a process of its own, live rate limits, each counted per token) serves
{ACCOUNTS} seeded accounts of {CAMPAIGNS} campaigns, each behind its own token. `budget-bot serve` runs as
deployed, from a TOML file of {ACCOUNTS} `[[accounts]]` tables (name, `api_token_env`, `base_url`, `channel`),
default settings otherwise, against a scratch PostgreSQL database on 127.0.0.1 and the Slack stand-in. At
start every replica fires each account's check for the same fire time; exactly one replica claims each (the
run ledger's key), the other skips it.

The round runs from the first check's fire time to the last check's end, both as the run ledger records them;
checks per minute is the checks over that. *First start*: an empty database, so every account's
{BACKFILL_DAYS}-day spend ledger backfill (one statistics call a chunk) runs beside the checks and shares each
token's statistics limit of 2 a minute; a check waiting out its token's window holds its turn, so this round
runs {FIRST_START_TURNS} checks at once (the settings' most) where the default is 4. Then, once every
account's ledger holds its days, the run ledger is emptied, the statistics windows of the round before are
let close, and the round is timed again on 1 and on 2 replicas started together.
"""


@dataclass
class Round:
    label: str
    replicas: int
    checks: int
    seconds: float
    by_replica: list[int]
    reads: Counter[int]
    """How many accounts had their campaigns listed how many times during the round, by the sandbox's logs."""
    sandbox_cpu: float
    """CPU seconds the sandbox used from the replicas' start to the round's end."""
    replicas_cpu: float
    """CPU seconds the replicas used from the first claim seen to the round's end."""


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A database of its own on the server of `server_url`, dropped afterwards."""
    name = "budget_bot_bench_" + secrets.token_hex(4)
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


SANDBOX_CHILD = """
import sys
from sandbox.adplatform import serve
port, token, accounts, campaigns, seed = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
serve(port=port, token=token, accounts=accounts, campaigns=campaigns, seed=seed)
"""


@contextmanager
def sandbox_process(accounts: int, campaigns: int) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The sandbox serving `accounts` accounts behind tokens API_TOKEN-1 … -N, in its own process."""
    with sandbox_child(SANDBOX_CHILD, API_TOKEN, str(accounts), str(campaigns), str(SEED), timeout=300) as served:
        yield served


def accounts_toml(accounts: int, api_url: str, summary_at: datetime) -> str:
    """Every account by name with its token's variable; the summary hours away, so no summary runs meanwhile."""
    lines = [
        f'channel = "{CHANNEL}"',
        'timezone = "UTC"',
        f'summary_time = "{summary_at:%H:%M}"',
        # Only the check at start and the one at midnight UTC: no interval check falls inside a round.
        "check_interval_minutes = 1440",
        "",
    ]
    for n in range(1, accounts + 1):
        lines += [
            "[[accounts]]",
            f'name = "client-{n:03d}"',
            f'api_token_env = "BENCH_PROPELLERADS_TOKEN_{n}"',
            f'base_url = "{api_url}"',
            f'channel = "{CHANNEL}"',
            "",
        ]
    return "\n".join(lines)


@contextmanager
def replicas(count: int, env: dict[str, str], workdir: Path) -> Iterator[list[subprocess.Popen[str]]]:
    """`count` `budget-bot serve` processes, schedule on, started together; yields once all answer /healthz."""
    with ExitStack() as stack:
        started = []
        for n in range(count):
            port = free_port()
            log = stack.enter_context(open(workdir / f"replica-{n + 1}.log", "a", encoding="utf-8"))
            command = [*budget_bot_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
            process = subprocess.Popen(command, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, text=True)
            stack.callback(stop, process)
            started.append((process, port))
        for n, (process, port) in enumerate(started):
            try:
                wait_healthy(f"http://127.0.0.1:{port}/healthz", process, timeout=300)
            except (RuntimeError, TimeoutError) as exc:
                said = (workdir / f"replica-{n + 1}.log").read_text(encoding="utf-8").strip().splitlines()
                raise RuntimeError(f"{exc}: {said[-1] if said else 'it said nothing'}") from None
        yield [process for process, _ in started]


def _await_round(
    database_url: str, accounts: int, processes: list[subprocess.Popen[str]]
) -> tuple[list[tuple], float]:
    """The round's check claims once all are finished, (account, claimed_by, claimed_at, finished_at), and the
    replicas' CPU seconds when the first claim was seen. The round is over when every account's check is, or
    when none has come or ended for QUIET seconds (a check whose claim failed never runs)."""
    deadline = time.monotonic() + ROUND_TIMEOUT
    seen, changed = None, time.monotonic()
    cpu_at_first: float | None = None
    with psycopg.connect(database_url, autocommit=True) as db:
        while True:
            rows = db.execute(
                "SELECT account, claimed_by, claimed_at, finished_at FROM job_runs WHERE job = %s", (CHECK,)
            ).fetchall()
            if rows and cpu_at_first is None:
                cpu_at_first = sum(cpu_seconds(p.pid) for p in processes)
            done = sum(r[3] is not None for r in rows)
            if (len(rows), done) != seen:
                seen, changed = (len(rows), done), time.monotonic()
            if cpu_at_first is not None and done == len(rows):
                if len(rows) >= accounts or time.monotonic() - changed > QUIET:
                    return rows, cpu_at_first
            for process in processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a replica exited with {process.returncode} during the round")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{done} of {accounts} checks finished within {ROUND_TIMEOUT} s")
            time.sleep(POLL)


def _await_ledgers(database_url: str, accounts: int, now: datetime) -> None:
    """Returns once every account's spend ledger holds its backfill days up to yesterday (ad days)."""
    today = AdDay.parse(DEFAULT_AD_TIMEZONE).today(now)
    wanted_first, yesterday = today - timedelta(days=BACKFILL_DAYS), today - timedelta(days=1)
    deadline = time.monotonic() + BACKFILL_TIMEOUT
    with psycopg.connect(database_url, autocommit=True) as db:
        while True:
            (held,) = db.execute(
                "SELECT count(*) FROM spend_coverage WHERE first_day <= %s AND last_day >= %s", (wanted_first, yesterday)
            ).fetchone()
            if held >= accounts:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{held} of {accounts} spend ledgers filled within {BACKFILL_TIMEOUT} s")
            time.sleep(POLL)


def _forget_runs(database_url: str, admin: httpx.Client, accounts: int) -> None:
    """Empties the run ledger and every account's request log in the sandbox."""
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute("DELETE FROM job_runs")
    for token in _tokens(accounts):
        admin.post("/reset-log", params={"account": token}).raise_for_status()


def _campaign_reads(admin: httpx.Client, accounts: int) -> Counter[int]:
    """Accounts by how often the sandbox was asked for their campaign list: each check asks once."""
    found: Counter[int] = Counter()
    for token in _tokens(accounts):
        answer = admin.get("/requests", params={"account": token, "endpoint": "campaigns"})
        answer.raise_for_status()
        found[answer.json()["count"]] += 1
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tokens(accounts: int) -> list[str]:
    return [f"{API_TOKEN}-{n}" for n in range(1, accounts + 1)]


def _timed_round(
    label: str,
    count: int,
    env: dict[str, str],
    workdir: Path,
    database: str,
    admin: httpx.Client,
    accounts: int,
    sandbox: subprocess.Popen[str],
) -> Round:
    """Starts `count` replicas, times their round of checks, and stops them (after the ledgers are full, on a first start)."""
    sandbox_before = cpu_seconds(sandbox.pid)
    with replicas(count, env, workdir) as processes:
        rows, cpu_at_first = _await_round(database, accounts, processes)
        replicas_cpu = sum(cpu_seconds(p.pid) for p in processes) - cpu_at_first
        sandbox_cpu = cpu_seconds(sandbox.pid) - sandbox_before
        reads = _campaign_reads(admin, accounts)
        if label == FIRST_START:
            _await_ledgers(database, accounts, datetime.now(timezone.utc))
    first = min(r[2] for r in rows)
    last = max(r[3] for r in rows)
    split = sorted(Counter(r[1] for r in rows).values(), reverse=True)
    return Round(label, count, len(rows), (last - first).total_seconds(), split, reads, sandbox_cpu, replicas_cpu)


def measure(accounts: int = ACCOUNTS, campaigns: int = CAMPAIGNS) -> list[Round]:
    rounds: list[Round] = []
    now = datetime.now(timezone.utc)
    slack_server, _ = start_standin(bot_url=None, signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, channel_id=CHANNEL)
    try:
        with (
            scratch_database(POSTGRES_URL) as database,
            sandbox_process(accounts, campaigns) as (sandbox, api_url),
            httpx.Client(base_url=api_url.removesuffix("/v5") + "/_sandbox", timeout=30) as admin,
            tempfile.TemporaryDirectory(prefix="budget-bot-bench-") as tmp,
        ):
            workdir = Path(tmp)
            config = workdir / "budget-bot.toml"
            config.write_text(accounts_toml(accounts, api_url, now + timedelta(hours=6)), encoding="utf-8")
            env = child_env(
                SLACK_BOT_TOKEN=BOT_TOKEN,
                SLACK_SIGNING_SECRET=SIGNING_SECRET,
                SLACK_API_URL=slack_server.url + "/api/",
                BUDGET_BOT_CONFIG=str(config),
                BUDGET_BOT_DATABASE_URL=database,
                **{f"BENCH_PROPELLERADS_TOKEN_{n}": f"{API_TOKEN}-{n}" for n in range(1, accounts + 1)},
            )
            # The first start's checks wait out each token's statistics window behind the backfill, holding
            # their turn meanwhile: with the default 4 turns the round would take an hour.
            first_start = env | {"BUDGET_BOT_MAX_CONCURRENT_CHECKS": str(FIRST_START_TURNS)}
            rounds.append(_timed_round(FIRST_START, 1, first_start, workdir, database, admin, accounts, sandbox))
            for count in REPLICAS:
                _forget_runs(database, admin, accounts)
                # Rounds are a day apart in production: no token's statistics window is still open from the last.
                time.sleep(WINDOW)
                rounds.append(_timed_round(HELD, count, env, workdir, database, admin, accounts, sandbox))
    finally:
        slack_server.stop()
    return rounds


def run() -> Section:
    started = time.perf_counter()
    rounds = measure()
    rows = [
        [
            r.label,
            str(r.replicas),
            f"{r.checks}" if r.checks == ACCOUNTS else f"{r.checks} of {ACCOUNTS}",
            duration(r.seconds),
            f"{r.checks / (r.seconds / 60):,.0f}",
            " + ".join(str(n) for n in r.by_replica),
            ", ".join(f"{accounts} × {times}" for times, accounts in sorted(r.reads.items())),
            f"{r.sandbox_cpu:,.1f} s",
            f"{r.replicas_cpu:,.1f} s",
        ]
        for r in rounds
    ]
    notes = [
        f"{ACCOUNTS} accounts × {CAMPAIGNS} campaigns; the bot's default of 4 checks at once per replica, except on"
        f" the first start ({FIRST_START_TURNS}). No account's check ran twice in a round (the run ledger's key); an"
        " account missing from a round is one whose claim itself failed (see the replica's log).",
        f"*Campaign lists* comes from the sandbox's per-account request logs: every check lists its account's"
        f" campaigns once, so `{ACCOUNTS} × 1` says each account was checked once in the round, by one replica only.",
        "CPU is user + system time from /proc: the sandbox's from the replicas' start, the replicas' from the first"
        " claim seen (polled every half second; a replica still starting then counts the rest of its start-up) to"
        f" the round's end, on a machine of {os.cpu_count()} cores shared by all of them and PostgreSQL.",
    ]
    held = {r.replicas: r for r in rounds if r.label == HELD}
    if len(held) == 2:
        one, two = held[1], held[2]
        cores = os.cpu_count() or 1
        busy = max((r.replicas_cpu + r.sandbox_cpu) / r.seconds for r in (one, two))
        bound = (
            "the round is bound by CPU here, and more replicas shorten it only where each has cores of its own"
            if busy >= 0.8 * cores
            else "CPU is not what bounds the round here"
        )
        notes.append(
            f"With the ledgers held, two replicas split the round {' + '.join(str(n) for n in two.by_replica)} and"
            f" take {two.seconds / one.seconds:.2f}× the time of one; replicas and sandbox kept {busy:.1f} of the"
            f" {cores} cores busy at most: {bound}."
        )
    return Section(
        title=f"Many accounts: {ACCOUNTS} accounts' scheduled checks on 1 and 2 replicas",
        columns=[
            "round", "replicas", "checks", "time to check all", "checks a minute", "claimed per replica",
            "campaign lists read (accounts × times)", "sandbox CPU", "replicas' CPU",
        ],
        rows=rows,
        notes=notes,
        method=METHOD,
        seconds=time.perf_counter() - started,
    )
