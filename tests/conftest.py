"""Fixtures every part of the suite may use: a fresh PostgreSQL database, skipped with a reason if none."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.adplatform import ManualClock
from tests.harness import NOW, POSTGRES_URL, Stack, running_stack


@pytest.fixture
def clock() -> ManualClock:
    """The bot's (and the sandbox's) manual clock, at NOW until a test moves it."""
    return ManualClock(NOW)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A store on a fresh SQLite file."""
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
def stack(tmp_path: Path, clock: ManualClock) -> Iterator[Stack]:
    """The sandbox ad platform, the Slack stand-in and the bot over HTTP, on the manual clock, with the CPA rule."""
    with running_stack(tmp_path, clock=clock) as running:
        yield running


def _admin_connect():  # noqa: ANN202 - psycopg connection
    import psycopg

    return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    try:
        admin = _admin_connect()
    except Exception as exc:  # no server here: the suite still passes on a laptop
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}")
    name = "budget_bot_" + secrets.token_hex(6)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
