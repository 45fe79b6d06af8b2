"""What the reliability tests share: real `budget-bot serve` processes, signed clicks, waits on the stand-in."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from sandbox.slack import SlackStandIn, blockkit, payloads
from sandbox.slack.model import Message
from tests.harness import API_TOKEN, APPROVER, BOT_TOKEN, SIGNING_SECRET, Stack, serve_env

T = TypeVar("T")
ROOT = Path(__file__).parents[2]
SECRETS = {"the Slack bot token": BOT_TOKEN, "the signing secret": SIGNING_SECRET, "the PropellerAds token": API_TOKEN}
START_TIMEOUT = 60.0
# What reaches a person must never look like this.
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bot_env(stack: Stack, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of `budget-bot serve` against the stack's sandbox and stand-in (nothing inherited)."""
    return serve_env(
        stack,
        database_url,
        BUDGET_BOT_API_TIMEOUT_SECONDS="10",
        BUDGET_BOT_RATE_LIMIT_MAX_WAIT_SECONDS="5",
        PYTHONUNBUFFERED="1",
        **extra,
    )


def write_rules(path: Path) -> Path:
    """The TOML file of BUDGET_BOT_CONFIG: the CPA rule the harness uses."""
    path.write_text('[[rules]]\nname = "cpa-target"\ntarget_cpa = 10.0\nwindow_days = 7\n', encoding="utf-8")
    return path


@dataclass
class BotProcess:
    """One `budget-bot serve` process on 127.0.0.1, its stderr kept in a file."""

    env: dict[str, str]
    log: Path
    schedule: bool = False
    verbose: bool = False
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    logs: list[str] = field(default_factory=list)
    """The text of every earlier run of this process (a restart starts a new log)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, *, wait: bool = True, **env: str) -> "BotProcess":
        """Starts the process with these variables added; by default returns once it answers /healthz."""
        args = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if not self.schedule:
            args.append("--no-schedule")
        if self.verbose:
            args.append("--verbose")
        if self.log.exists():
            self.logs.append(self.log.read_text(encoding="utf-8", errors="replace"))
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                args, env={**self.env, **env}, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until /healthz answers (the port opens after migration and reconciliation), or the process ends."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5) as http:
            while True:
                try:
                    if http.get(self.url + "/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"bot not ready within {timeout} s:\n{self.text()[-3000:]}")
                try:
                    code = self.process.wait(timeout=0.05)  # the pause between looks is a wait on its exit
                except subprocess.TimeoutExpired:
                    continue
                raise AssertionError(f"bot exited with {code} before it was ready:\n{self.text()[-3000:]}")

    def kill9(self) -> int:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        return self.process.wait(timeout=30)

    def stop(self) -> int | None:
        """SIGTERM, as a container runtime stops a replica; SIGKILL if it has not gone within 20 s."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=10)

    def text(self) -> str:
        """Everything this process logged, earlier runs included."""
        current = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "".join(self.logs) + current


def wait_for_file(path: Path, process: BotProcess, timeout: float = 30.0) -> str:
    """A failpoint's marker file: a bounded poll whose pause is a wait on the process's exit."""
    deadline = time.monotonic() + timeout
    assert process.process is not None
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} not written within {timeout} s:\n{process.text()[-3000:]}")
        try:
            code = process.process.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"bot exited with {code} before the failpoint:\n{process.text()[-3000:]}")
    return path.read_text(encoding="utf-8")


def leaks(texts: Iterable[str]) -> list[str]:
    """Which secrets appear in any of the texts (by name, never the value)."""
    found = []
    joined = "\n".join(texts)
    for name, value in SECRETS.items():
        if value in joined:
            found.append(name)
    return found


def everything_slack_holds(slack: SlackStandIn) -> list[str]:
    """Every message as posted or updated (ephemerals too) and every Web API call's arguments, as text."""
    texts = [m.all_text for m in slack.log]
    texts += [repr(c.args) for c in slack.calls]
    return texts


# --- clicks and waits on the stand-in -------------------------------------------------------------------


def on_standin(stack: Stack, fn: Callable[[], T]) -> T:
    """Runs a plain function on the stand-in's own loop, where its state lives."""

    async def run() -> T:
        return fn()

    return stack.slack_server.call(run)


@dataclass(frozen=True)
class Click:
    """A signed block_actions request as Slack would send it, and the response URL minted for it."""

    body: str
    headers: dict[str, str]
    url_id: str


def click_on(stack: Stack, message: Message, action_id: str, *, user_id: str = APPROVER,
             value: str | None = None, timestamp: int | None = None) -> Click:
    """The click of a button on a channel message, signed now (or at `timestamp`)."""
    slack = stack.slack

    def build() -> Click:
        user = slack.user(user_id)
        block_id, element = blockkit.find_action(message.blocks, action_id)
        response_url = slack.mint_response_url(user.id, message.channel, original=(message.channel, message.ts))
        payload = payloads.block_actions_on_message(
            slack.workspace,
            user=user,
            channel_id=message.channel,
            channel_name=slack.channels.get(message.channel, "budget"),
            message=message,
            block_id=block_id,
            element=element,
            value=value if value is not None else element.get("value"),
            action_ts=slack._next_ts(),
            response_url=response_url,
            trigger_id=slack.mint_trigger_id(user.id),
        )
        body = payloads.payload_form(payload)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **slack.signed_headers(body, timestamp=timestamp)}
        return Click(body, headers, response_url.rsplit("/", 1)[-1])

    return on_standin(stack, build)


async def post(http: httpx.AsyncClient, url: str, click: Click) -> tuple[int, float, str]:
    """Sends a click to one replica; the HTTP status, the seconds to the ack, and the ack's body."""
    started = time.perf_counter()
    response = await http.post(url, content=click.body.encode(), headers=click.headers)
    return response.status_code, time.perf_counter() - started, response.text


class CallWatcher:
    """Follows the stand-in's calls as they come, looking at each once: cheap enough for hundreds of waiters.

    `wait(key, count)` returns once `count` calls with that key have come; `key_of` names a call's key.
    """

    def __init__(self, slack: SlackStandIn, key_of: Callable[[Any], Any]) -> None:
        self.slack = slack
        self.key_of = key_of
        self.seen: Counter[Any] = Counter()
        self._position = 0
        self._waiters: list[tuple[Any, int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "CallWatcher":
        self._task = asyncio.create_task(self._follow())
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._task is not None
        self._task.cancel()

    async def _follow(self) -> None:
        while True:
            revision = self.slack.revision
            calls = self.slack.calls
            for call in calls[self._position :]:
                key = self.key_of(call)
                if key is not None:
                    self.seen[key] += 1
            self._position = len(calls)
            for waiter in list(self._waiters):
                key, count, done = waiter
                if self.seen[key] >= count and not done.done():
                    done.set_result(None)
                    self._waiters.remove(waiter)
            await self.slack.wait_for_change(revision, 3600)

    async def wait(self, key: Any, count: int, timeout: float, what: str) -> None:
        if self.seen[key] >= count:  # already followed: no later change may come to wake a waiter
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((key, count, done))
        try:
            await asyncio.wait_for(done, timeout)
        except TimeoutError:
            raise AssertionError(f"{what}: {self.seen[key]} of {count} within {timeout} s") from None


def replies_to(slack: SlackStandIn, url_ids: set[str]) -> list[Mapping[str, Any]]:
    """What the bot posted to these response URLs, in order."""
    return [c.args for c in slack.calls_to("response_url") if c.args.get("url_id") in url_ids]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


# --- what the store holds ---------------------------------------------------------------------------------


async def read_store(url: str) -> tuple[list[Any], list[Any], list[tuple[str, str, str]]]:
    """Every proposal, every audit entry (oldest first) and every claimed scheduled run, read afresh."""
    from sqlalchemy import select

    from core.store import Store
    from core.store.tables import JobRunRow, ProposalRow
    from core.store.store import proposal_of

    store = Store.connect(url)
    try:
        async with store.session() as s:
            proposals = [proposal_of(r) for r in await s.scalars(select(ProposalRow).order_by(ProposalRow.id))]
            runs = [(r.job, r.slot, r.claimed_by) for r in await s.scalars(select(JobRunRow))]
        audit = list(reversed(await store.history(limit=100_000)))
        return proposals, audit, runs
    finally:
        await store.close()


def read_store_sync(url: str) -> tuple[list[Any], list[Any], list[tuple[str, str, str]]]:
    return asyncio.run(read_store(url))
