"""For every reliability test: no secret in what the bot logs in-process; the figures kept for RELIABILITY.md.

The figures are printed after the run and stored in pytest's cache (`budget-bot/reliability`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability.support import leaks

FIGURES: dict[str, Any] = {}
CACHE_KEY = "budget-bot/reliability"


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))  # with the traceback, when there is one


@pytest.fixture(autouse=True)
def no_secret_in_logs() -> Iterator[None]:
    """Whatever the bot, the sandbox and the stand-in log at INFO and above in this process holds no secret."""
    keep = _Keep()
    root = logging.getLogger()
    level = root.level
    root.addHandler(keep)
    root.setLevel(min(level, logging.INFO))
    try:
        yield
    finally:
        root.removeHandler(keep)
        root.setLevel(level)
    assert leaks(keep.lines) == []


@pytest.fixture
def figures() -> dict[str, Any]:
    """Where a test records what it measured: `figures["replicas"] = {...}`."""
    return FIGURES


def pytest_sessionfinish(session: pytest.Session) -> None:
    cache = getattr(session.config, "cache", None)  # absent under -p no:cacheprovider
    if FIGURES and cache is not None:
        cache.set(CACHE_KEY, FIGURES)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("reliability figures")
        terminalreporter.write_line(json.dumps(FIGURES, indent=1, sort_keys=True, default=str))
