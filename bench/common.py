"""What every benchmark shares: result sections, percentiles, a skippable clock, child processes, the machine."""

from __future__ import annotations

import asyncio
import math
import os
import platform
import secrets
import selectors
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
API_TOKEN = "pa-bench-" + secrets.token_hex(8)
# Ad-platform and Slack settings a child process must not inherit from whoever runs the benchmarks.
FOREIGN_ENV_PREFIXES = ("BUDGET_BOT_", "PROPELLERADS_", "SLACK_")


@dataclass
class Section:
    """One benchmark's table, plus the lines that say how to read it."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    method: str = ""
    """How the figures are made, for docs/benchmarks.md."""
    seconds: float = 0.0
    """How long the benchmark itself ran."""


def percentile(values: Sequence[float], pct: float) -> float:
    """The pct-th percentile, interpolated between the closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else duration(seconds)


def duration(seconds: float) -> str:
    """Seconds as a person reads them: 850 ms, 12.3 s, 2 min 04 s, 29 min, 49.9 h."""
    if seconds < 1:
        return f"{seconds * 1000:,.0f} ms"
    if seconds < 120:
        return f"{seconds:,.1f} s"
    if seconds < 600:
        return f"{int(seconds // 60)} min {seconds % 60:02.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:,.0f} min"
    return f"{seconds / 3600:,.1f} h"


def mib(size: float) -> str:
    return f"{size / 2**20:,.1f} MiB"


class SkippedTime:
    """Real time plus every wait that was skipped instead of slept.

    Given as `clock`/`sleep` to the PropellerAds client and as the sandbox's rate clock, it lets the
    real client meet the real rate limiter over real HTTP while a minute's wait costs nothing.
    """

    def __init__(self) -> None:
        self.skipped = 0.0
        self.waits: list[float] = []

    def time(self) -> float:
        return time.time() + self.skipped

    async def sleep(self, seconds: float) -> None:
        self.skipped += max(0.0, seconds)
        self.waits.append(seconds)
        await asyncio.sleep(0)


class TimedSleep:
    """asyncio.sleep that adds up how long it slept: the client's rate-limit waits in a real-time run."""

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0

    async def __call__(self, seconds: float) -> None:
        self.count += 1
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        self.total += time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_ENV_PREFIXES)}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(values)
    return env


def budget_bot_command() -> list[str]:
    """The installed `budget-bot` script beside this Python, or the module it runs."""
    script = Path(sys.executable).with_name("budget-bot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The child's next line of stdout, or TimeoutError; used for 'listening' banners."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"no output from {process.args!r} within {timeout:g} s")
    line = process.stdout.readline()
    if not line:
        raise RuntimeError(f"{process.args!r} exited with {process.wait()} before it was ready")
    return line


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 60) -> float:
    """Polls `url` until it answers 200 (the child prints nothing once it listens); seconds it took."""
    started = time.perf_counter()
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode} before it answered")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout:g} s")


@contextmanager
def sandbox_child(script: str, *args: str, timeout: float) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The sandbox served by `script` (given a free port and `args`) in a child process; yields the process and the
    API's URL once the sandbox prints its banner, and stops it after."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(port), *args],
        env=child_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        read_line(process, timeout=timeout)
        yield process, f"http://127.0.0.1:{port}/v5"
    finally:
        stop(process)


def stop(process: subprocess.Popen[str]) -> None:
    """Ends one child this benchmark started, by its own pid."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident) of a process, in bytes, from /proc/<pid>/status."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) * 1024
    return found


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram = "unknown"
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    ram = f"{int(line.split()[1]) / 2**20:,.1f} GiB"
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count() or "unknown"),
        "RAM": ram,
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "OS": platform.platform(terse=True),
        "commit (HEAD)": commit or "unknown",
    }
