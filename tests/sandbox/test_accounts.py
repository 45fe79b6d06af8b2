"""One sandbox serves several accounts, each behind its own token: its own campaigns, balance, log, faults and limits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import httpx
import pytest

from sandbox.adplatform import (
    Account,
    Campaign,
    ManualClock,
    SandboxConfig,
    create_app,
    seeded_accounts,
    start_sandbox,
)
from tests.sandbox.conftest import NOON, Running
from tests.sandbox.test_adplatform import WEEK_WITH_TZ, free_port

Launch = Callable[..., Running]
A, B = "token-of-a", "token-of-b"


def account_a() -> Account:
    account = Account(
        balance="1000.00",
        campaigns=[Campaign(id=101, name="Alpha", limit_daily_amount="50"), Campaign(id=102, name="Beta")],
    )
    account.record(101, date(2025, 9, 28), spent="45.5", impressions=25_000, conversions=5)
    return account


def account_b() -> Account:
    """Shares campaign id 101 with A, so a mix-up between the accounts would show."""
    account = Account(
        balance="250.00",
        campaigns=[Campaign(id=101, name="Gamma", limit_daily_amount="80"), Campaign(id=301, name="Delta")],
    )
    account.record(101, date(2025, 9, 28), spent="7.25", impressions=900, conversions=1)
    return account


@pytest.fixture
def two(launch: Launch) -> Running:
    return launch(accounts={A: account_a(), B: account_b()})


def names(client: httpx.Client) -> list[str]:
    return [c["name"] for c in client.get("/adv/campaigns").json()["result"]]


def test_each_token_sees_its_own_campaigns_balance_and_statistics(two: Running) -> None:
    a, b = two.api_as(A), two.api_as(B)

    assert names(a) == ["Alpha", "Beta"]
    assert names(b) == ["Gamma", "Delta"]
    assert (a.get("/adv/balance").json(), b.get("/adv/balance").json()) == ("1000.00", "250.00")
    assert a.get("/adv/campaigns/301").status_code == 404
    spent = {
        token: [row["spent"] for row in two.api_as(token).get("/adv/statistics", params=WEEK_WITH_TZ).json()["items"]]
        for token in (A, B)
    }
    assert spent == {A: [45.5], B: [7.25]}


def test_a_patch_through_one_token_changes_only_that_account(two: Running) -> None:
    changed = two.api_as(A).patch("/adv/campaigns/101", json={"limit_daily_amount": 120})
    stopped = two.api_as(A).put("/adv/campaigns/stop", json={"campaign_ids": [101]})

    assert changed.status_code == 200 and stopped.status_code == 200
    assert two.api_as(A).get("/adv/campaigns/101").json()["limit_daily_amount"] == 120
    untouched = two.api_as(B).get("/adv/campaigns/101").json()
    assert (untouched["limit_daily_amount"], untouched["status"]) == (80, 6)
    assert [r.method for r in two.state_of(A).requests.entries()] == ["PATCH", "PUT", "GET"]
    assert [r.method for r in two.state_of(B).requests.entries()] == ["GET"]


def test_the_statistics_limit_counts_per_token(launch: Launch, rate_clock: ManualClock) -> None:
    config = SandboxConfig(rate_clock=rate_clock.timestamp)
    running = launch(accounts={A: account_a(), B: account_b()}, config=config)
    a, b = running.api_as(A), running.api_as(B)

    from_a = [a.get("/adv/statistics", params=WEEK_WITH_TZ).status_code for _ in range(3)]
    from_b = [b.get("/adv/statistics", params=WEEK_WITH_TZ) for _ in range(2)]
    rate_clock.advance(seconds=61)
    a_again = a.get("/adv/statistics", params=WEEK_WITH_TZ)

    assert from_a == [200, 200, 429]
    assert [r.status_code for r in from_b] == [200, 200]
    assert from_b[1].headers["X-RateLimit-Remaining"] == "0"
    assert a_again.status_code == 200


def test_an_unknown_token_is_refused_as_a_wrong_one_is_on_a_single_account(launch: Launch, two: Running) -> None:
    single = launch(account_a(), token=A)
    wrong_single = single.api_as("nope").get("/adv/campaigns")
    unknown = two.api_as("nope").get("/adv/campaigns")
    missing = httpx.get(two.server.url + "/v5/adv/balance")

    for refused in (unknown, missing):
        assert refused.status_code == wrong_single.status_code == 401
        assert refused.json() == wrong_single.json() == {"errors": ["Unauthorized."]}
        assert refused.headers["Content-Type"] == wrong_single.headers["Content-Type"]
    # Refused before any account is known, they are logged with the first account's requests.
    assert [r.status for r in two.state_of(A).requests.entries()] == [401, 401]
    assert two.state_of(B).requests.entries() == []


def test_a_refused_token_for_one_account_leaves_the_other_answering(two: Running) -> None:
    forced = {"fail_next": [{"method": "*", "path": "/adv/", "status": 401, "times": 1000}]}
    assert two.admin.post("/faults", params={"account": A}, json=forced).status_code == 200

    assert two.api_as(A).get("/adv/balance").status_code == 401
    assert two.api_as(A).get("/adv/campaigns").status_code == 401
    assert two.api_as(B).get("/adv/balance").json() == "250.00"
    assert two.admin.get("/faults", params={"account": B}).json()["fail_next"] == []
    assert two.admin.get("/faults").json()["fail_next"][0]["times"] == 998


def test_a_429_that_never_clears_for_one_account_leaves_the_other_answering(two: Running) -> None:
    forced = {"fail_next": [{"method": "GET", "path": "/adv/statistics", "status": 429, "times": 1000}]}
    two.admin.post("/faults", params={"account": B}, json=forced)

    from_b = [two.api_as(B).get("/adv/statistics", params=WEEK_WITH_TZ).status_code for _ in range(3)]
    from_a = two.api_as(A).get("/adv/statistics", params=WEEK_WITH_TZ)

    assert from_b == [429, 429, 429]
    assert from_a.status_code == 200


def test_a_timing_out_account_does_not_hold_the_other_up(launch: Launch) -> None:
    running = launch(accounts={A: account_a(), B: account_b()}, timeout=0.5)
    running.admin.post("/faults", params={"account": A}, json={"latency": 30})

    with pytest.raises(httpx.ReadTimeout):
        running.api_as(A).get("/adv/balance")
    assert running.api_as(B).get("/adv/balance").json() == "250.00"
    assert running.admin.get("/faults", params={"account": B}).json()["latency"] == 0


def test_admin_routes_read_the_log_and_switch_scenarios_per_account(two: Running) -> None:
    two.api_as(A).get("/adv/balance")
    two.api_as(B).get("/adv/campaigns/301")

    log_a = two.admin.get("/requests").json()
    log_b = two.admin.get("/requests", params={"account": B}).json()
    rejected = two.admin.post("/scenarios", params={"account": B}, json={"scenario": "reject", "campaign_ids": [101]})
    topped_up = two.admin.post("/balance", params={"account": A}, json={"balance": "5000"})

    assert [r["endpoint"] for r in log_a["requests"]] == ["balance"]
    assert [r["path"] for r in log_b["requests"]] == ["/v5/adv/campaigns/301"]
    assert rejected.status_code == 200 and topped_up.status_code == 200
    assert two.api_as(B).get("/adv/campaigns/101").json()["status"] == 3
    assert two.api_as(A).get("/adv/campaigns/101").json()["status"] == 6
    assert two.api_as(A).get("/adv/balance").json() == "5000.00"
    assert two.api_as(B).get("/adv/balance").json() == "250.00"
    assert two.admin.get("/campaigns/301", params={"account": B}).json()["name"] == "Delta"


def test_rate_limits_set_over_http_apply_to_the_named_account_only(two: Running) -> None:
    two.admin.post("/rate-limits", params={"account": B}, json={"balance": 1})

    from_b = [two.api_as(B).get("/adv/balance").status_code for _ in range(2)]
    from_a = [two.api_as(A).get("/adv/balance").status_code for _ in range(2)]

    assert from_b == [200, 429]
    assert from_a == [200, 200]


def test_an_admin_call_naming_no_account_it_serves_is_a_404(two: Running) -> None:
    answer = two.admin.get("/requests", params={"account": "nope"})

    assert answer.status_code == 404
    assert answer.json() == {"errors": ["No sandbox account has that token."]}


def test_seeded_accounts_have_their_own_tokens_and_books() -> None:
    accounts = seeded_accounts(3, campaigns=6, seed=7, now=NOON)

    assert list(accounts) == ["sandbox-token-1", "sandbox-token-2", "sandbox-token-3"]
    assert all(len(a.campaigns) == 6 for a in accounts.values())
    assert len({a.balance for a in accounts.values()}) == 3
    assert len({frozenset(a.campaigns) for a in accounts.values()}) == 3


def test_the_sandbox_refuses_a_mix_of_one_account_and_several() -> None:
    with pytest.raises(ValueError, match="not both"):
        create_app(account_a(), token=A, accounts={B: account_b()})
    with pytest.raises(ValueError, match="not both"):
        start_sandbox(account_a(), accounts={B: account_b()})
    with pytest.raises(ValueError, match="at least one account"):
        create_app(accounts={})
    with pytest.raises(ValueError, match="keeps one account"):
        create_app(accounts={A: account_a(), B: account_b()}, config=SandboxConfig(state_file=Path("x.json")))


def test_the_sandbox_command_serves_several_seeded_accounts() -> None:
    port = free_port()
    command = [
        sys.executable, "-m", "bot.cli", "sandbox", "--port", str(port), "--accounts", "3", "--campaigns", "4",
    ]
    env = {k: v for k, v in os.environ.items() if k != "PROPELLERADS_API_TOKEN"} | {"PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2], env=env)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()  # printed once the socket listens
        base = f"http://127.0.0.1:{port}/v5"
        listed = {
            n: httpx.get(base + "/adv/campaigns", headers={"Authorization": f"Bearer sandbox-token-{n}"}).json()
            for n in (1, 2, 3)
        }
        refused = httpx.get(base + "/adv/balance", headers={"Authorization": "Bearer sandbox-token"})
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)
    assert "3 accounts of 4 campaigns" in banner, banner
    assert [listed[n]["meta"]["total_items"] for n in (1, 2, 3)] == [4, 4, 4]
    assert len({listed[n]["result"][0]["id"] for n in (1, 2, 3)}) == 3
    assert refused.status_code == 401
