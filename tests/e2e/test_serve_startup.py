"""`budget-bot serve` and `sandbox` starting as a user starts them: quiet when all is well, one line when not."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness import CHANNEL, Stack, ad_today, exact_account, running_stack, serve_env

ROOT = Path(__file__).parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    # 1,000.00 covers 2.8 days of the 350.00 total daily budget: the first check has an alert to post.
    with running_stack(tmp_path, account=exact_account(ad_today(), balance="1000.00"), start_bot=False) as running:
        yield running


def budget_bot(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**env, "PYTHONPATH": str(ROOT)}, cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )


def one_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    lines = [line for line in done.stderr.splitlines() if not line.startswith("budget-bot: warning:")]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("budget-bot: error: ")
    assert "serving" not in done.stderr
    return lines[0]


def test_serve_on_a_port_in_use_says_so_in_one_line(stack: Stack, tmp_path: Path, taken_port: int) -> None:
    env = serve_env(stack, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    line = one_line(budget_bot("serve", "--host", "127.0.0.1", "--port", str(taken_port), "--no-schedule", env=env, cwd=tmp_path), 2)
    assert line == f"budget-bot: error: configuration: port {taken_port} on 127.0.0.1 is in use; pick another with --port"


def test_sandbox_on_a_port_in_use_says_so_in_one_line(tmp_path: Path, taken_port: int) -> None:
    line = one_line(budget_bot("sandbox", "--port", str(taken_port), env=dict(os.environ), cwd=tmp_path), 2)
    assert line == f"budget-bot: error: configuration: port {taken_port} on 127.0.0.1 is in use; pick another with --port"


def test_serve_with_the_database_down_says_which_and_where(stack: Stack, tmp_path: Path) -> None:
    env = serve_env(stack, "postgresql://budget:hunter2@127.0.0.1:9/budget")
    line = one_line(budget_bot("serve", "--host", "127.0.0.1", "--port", str(_free_port()), env=env, cwd=tmp_path), 1)
    assert line.startswith("budget-bot: error: the database at postgresql://budget:***@127.0.0.1:9/budget is unavailable: ")
    assert "hunter2" not in line


def test_serve_names_every_missing_setting_at_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROPELLERADS_", "BUDGET_BOT_", "SLACK_"))}
    line = one_line(budget_bot("serve", env=env, cwd=tmp_path), 2)
    assert line == (
        "budget-bot: error: configuration: "
        "PROPELLERADS_API_TOKEN, SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, BUDGET_BOT_CHANNEL are not set"
    )


def test_serve_starts_quietly_and_runs_a_health_check_at_once(stack: Stack, tmp_path: Path) -> None:
    port = _free_port()
    env = serve_env(stack, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=tmp_path, text=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        started: list[str] = []
        for line in process.stderr:  # up to the line said once the port is bound
            started.append(line)
            if "serving Slack" in line:
                break
        assert started and started[-1] == f"budget-bot: serving Slack at http://127.0.0.1:{port}/slack/events\n", started
        said = "".join(started)
        assert "alembic" not in said and "`token` will be unused" not in said and "apscheduler" not in said, said
        # The check runs at start, not a whole interval (15 minutes) later: its alert reaches the channel.
        alert = stack.slack.sync.wait_for_message(lambda m: "need attention" in m.text and "• Balance" in m.text, timeout=30)
        assert alert.channel == CHANNEL
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()["ok"] is True
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_serve_with_a_malformed_rule_fails_at_start_in_one_line_naming_the_rule_and_field(stack: Stack, tmp_path: Path) -> None:
    config = tmp_path / "rules.toml"
    config.write_text(
        '[[rules]]\nname = "stop losers"\naction = "pause"\nmode = "auto"\n'
        'conditions = [{metric = "cpa", op = ">", value = 100}]\n'
        '[[rules]]\nname = "grow winners"\naction = "increase"\nmode = "auto"\npercent = 20\n'
        'conditions = [{metric = "cpa", op = "<", value = 20}]\n',
        encoding="utf-8",
    )
    env = serve_env(stack, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", BUDGET_BOT_CONFIG=str(config))
    line = one_line(budget_bot("serve", "--host", "127.0.0.1", "--port", str(_free_port()), "--no-schedule", env=env, cwd=tmp_path), 2)
    assert line == (
        "budget-bot: error: configuration: BUDGET_BOT_RULES[1] (rule 'grow winners'): "
        "mode auto is only for decrease and pause, not increase"
    )
