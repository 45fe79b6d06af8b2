"""The bot's HTTP server against slow and greedy clients: it closes what does not arrive, and caps what it serves."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bot import server
from tests.harness import Stack, running_stack

# Only a guard against a test hanging on a server that never answers; nothing here measures time.
HANG_GUARD = 30.0


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setattr(server, "HEADER_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(server, "BODY_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(server, "MAX_REQUESTS_IN_FLIGHT", 1)
    with running_stack(tmp_path) as running:
        yield running


def connect(stack: Stack) -> socket.socket:
    assert stack.bot is not None
    where = urlsplit(stack.bot.url)
    conn = socket.create_connection((where.hostname, where.port), timeout=HANG_GUARD)
    return conn


def slow_post(conn: socket.socket) -> None:
    """Headers promising 1,000 bytes of body, and ten of them."""
    conn.sendall(
        b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 1000\r\n\r\ncommand=/b"
    )


def test_a_body_that_does_not_arrive_is_answered_408_and_closed(stack: Stack) -> None:
    with connect(stack) as conn:
        slow_post(conn)
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408 "), answer


def test_headers_that_do_not_arrive_close_the_connection(stack: Stack) -> None:
    with connect(stack) as conn:
        conn.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\n")  # and nothing more
        assert conn.recv(4096) == b""


def test_past_the_cap_a_request_is_refused_at_once_and_served_again_after(stack: Stack) -> None:
    assert stack.bot is not None
    with connect(stack) as held, httpx.Client(timeout=HANG_GUARD) as http:
        slow_post(held)  # one request in flight, its body never coming
        deadline = time.monotonic() + HANG_GUARD
        while (refused := http.get(stack.bot.url + "/healthz")).status_code != 503:
            assert time.monotonic() < deadline, "the slow request was never counted"
        assert refused.headers["Retry-After"] == "1"
        assert held.recv(4096).startswith(b"HTTP/1.1 408 ")
    assert httpx.get(stack.bot.url + "/healthz", timeout=HANG_GUARD).status_code == 200
