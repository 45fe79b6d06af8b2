"""Fixtures every part of the suite may use: a fresh PostgreSQL database, skipped with a reason if none."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.harness import POSTGRES_URL


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
