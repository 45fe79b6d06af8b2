"""`budget-bot check` and `budget-bot accounts` over several ad accounts, run as a user runs them, against two
sandboxes with their own tokens over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sandbox.adplatform import SANDBOX_KEY, SandboxConfig, start_sandbox
from sandbox.serving import BackgroundServer
from tests.harness import exact_account

ROOT = Path(__file__).parents[2]
TOKENS = {"acme": "pa-acme-cli-token-3e1f", "beta": "pa-beta-cli-token-8a2c"}


@pytest.fixture
def sandboxes() -> Iterator[dict[str, BackgroundServer]]:
    today = datetime.now(timezone.utc).date()
    config = SandboxConfig(rate_limits={"statistics": None})
    books = {"acme": exact_account(today), "beta": exact_account(today, balance="300.00")}
    started = {name: start_sandbox(books[name], token=TOKENS[name], config=config) for name in books}
    try:
        yield started
    finally:
        for server in started.values():
            server.stop()


def run(tmp_path: Path, sandboxes: dict[str, BackgroundServer], *args: str, **tokens: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "budget-bot.toml"
    config.write_text(
        f'database_url = "sqlite+aiosqlite:///{tmp_path / "bot.db"}"\nchannel = "C0TOP"\n'
        + "".join(
            f'[[accounts]]\nname = "{name}"\napi_token_env = "{name.upper()}_PA_TOKEN"\n'
            f'base_url = "{server.url}/v5"\nchannel = "C0{name.upper()}"\n'
            for name, server in sandboxes.items()
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROPELLERADS_", "BUDGET_BOT_", "SLACK_"))}
    env.update({f"{name.upper()}_PA_TOKEN": token for name, token in TOKENS.items()})
    env.update(tokens)
    env.update({"BUDGET_BOT_CONFIG": str(config), "PYTHONPATH": str(ROOT), "COLUMNS": "200"})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def test_check_reads_every_account_and_prints_a_list_with_each_accounts_figures(tmp_path: Path, sandboxes) -> None:
    done = run(tmp_path, sandboxes, "check", "--json")
    found = json.loads(done.stdout)
    assert [(o["account"], o["account_balance"]) for o in found] == [("acme", "5000.00"), ("beta", "300.00")]
    assert done.returncode == 3  # beta's balance covers under a day of budget
    for server in sandboxes.values():  # each answered only its own token, and each was asked
        statuses = [r.status for r in server.app[SANDBOX_KEY].requests.entries()]
        assert statuses and set(statuses) == {200}
    one = json.loads(run(tmp_path, sandboxes, "check", "--account", "acme", "--json").stdout)
    assert one["account"] == "acme" and one["account_balance"] == "5000.00"


def test_check_of_an_unknown_account_is_one_line_naming_the_accounts(tmp_path: Path, sandboxes) -> None:
    done = run(tmp_path, sandboxes, "check", "--account", "gamma")
    assert done.returncode == 2
    assert done.stderr.strip() == "budget-bot: error: configuration: --account 'gamma' is none of the ad accounts (acme, beta)"


def test_an_account_refused_fails_the_check_while_the_others_are_reported(tmp_path: Path, sandboxes) -> None:
    done = run(tmp_path, sandboxes, "check", "--json", ACME_PA_TOKEN="pa-acme-revoked")
    acme, beta = json.loads(done.stdout)
    assert acme["account"] == "acme" and "refused the API token (401)" in acme["error"]
    assert beta["account_balance"] == "300.00"
    assert done.returncode == 1
    assert "pa-acme-revoked" not in done.stdout + done.stderr


def test_accounts_lists_channels_and_whether_each_token_works(tmp_path: Path, sandboxes) -> None:
    done = run(tmp_path, sandboxes, "accounts", BETA_PA_TOKEN="pa-beta-revoked")
    assert done.returncode == 1
    lines = [" ".join(line.replace("│", " ").split()) for line in done.stdout.splitlines()]
    assert any(line.startswith("acme C0ACME C0ACME C0ACME works") for line in lines), done.stdout
    assert any(line.startswith("beta C0BETA C0BETA C0BETA PropellerAds refused the API token (401)") for line in lines), done.stdout
    assert "pa-beta-revoked" not in done.stdout + done.stderr
    assert sum(1 for r in sandboxes["beta"].app[SANDBOX_KEY].requests.entries() if r.endpoint == "balance") == 1
