"""`budget-bot backtest` as a user runs it, against the sandbox over HTTP: the days the ledger lacks read once, exact rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from core.adday import DEFAULT_AD_TIMEZONE, AdDay
from sandbox.adplatform import SANDBOX_KEY, Account, Campaign, SandboxConfig, start_sandbox
from sandbox.serving import BackgroundServer

TOKEN = "backtest-cli-token-51c2"
ROOT = Path(__file__).parents[2]
RULES = """
[[rules]]
name = "stop-losers"
window = "3 days"
conditions = [{metric = "spent", op = ">=", value = 100}, {metric = "conversions", op = "==", value = 0}]
action = "pause"
cooldown = "48 h"

[[rules]]
name = "cpa-target"
target_cpa = 10
window_days = 7
campaign_ids = [11, 12]
"""


def ad_today() -> date:
    return AdDay.parse(DEFAULT_AD_TIMEZONE).today(datetime.now(timezone.utc))


def seeded(today: date) -> Account:
    """12 days back: 11 Loser spends 50.00 a day of its 100.00 without a conversion; 12 Fine spends 50.00 with 10
    conversions a day; 13 is paused (status 7) and spends 50.00 a day without a conversion, as if it had not stopped."""
    account = Account(
        balance=Decimal("5000.00"),
        campaigns=[
            Campaign(id=11, name="Loser", limit_daily_amount=Decimal("100.00")),
            Campaign(id=12, name="Fine", limit_daily_amount=Decimal("100.00")),
            Campaign(id=13, name="Stopped", status=7, limit_daily_amount=Decimal("100.00")),
        ],
    )
    for back in range(1, 13):
        day = today - timedelta(days=back)
        account.record(11, day, spent=Decimal("50"), impressions=5000, clicks=50, conversions=0)
        account.record(12, day, spent=Decimal("50"), impressions=5000, clicks=50, conversions=10)
        account.record(13, day, spent=Decimal("50"), impressions=5000, clicks=50, conversions=0)
    return account


@pytest.fixture
def ads() -> Iterator[BackgroundServer]:
    server = start_sandbox(seeded(ad_today()), token=TOKEN, config=SandboxConfig(rate_limits={"statistics": None}))
    try:
        yield server
    finally:
        server.stop()


def run_backtest(ads_url: str, tmp_path: Path, *extra: str, rules: str = RULES) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "budget-bot.toml"
    config.write_text(rules, encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PROPELLERADS_", "BUDGET_BOT_"))}
    environment.update({
        "PROPELLERADS_BASE_URL": ads_url + "/v5",
        "PROPELLERADS_API_TOKEN": TOKEN,
        "PYTHONPATH": str(ROOT),
        "BUDGET_BOT_CONFIG": str(config),
        "BUDGET_BOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "COLUMNS": "200",
    })
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "backtest", *extra], env=environment, capture_output=True, text=True, timeout=120
    )


def test_backtest_json_rows_and_totals_match_the_hand_computation(ads: BackgroundServer, tmp_path: Path) -> None:
    """Five mornings, today−5 to today−1.

    stop-losers (3 days to yesterday, 48 h cooldown): Loser's every window holds 150.00 without a conversion:
    paused on today−5, then (the cooldown) today−3 and today−1; each of those days it spent 50.00; from the first
    on, 5 × 50.00 = 250.00. Stopped is paused: not covered. Fine converts.
    cpa-target (7 days before D, target 10): Loser spent 350.00 without a conversion (≥ 2 × 10): down 20% to 80.00
    every morning (the rule has no cooldown); Fine's CPA 5.00 beats 8.00 but it spends 50% of its budget (< 80%).
    Its 12 days are two statistics reads: the 8 newest days, then the 4 before.
    """
    today = ad_today()
    sandbox = ads.app[SANDBOX_KEY]
    done = run_backtest(ads.url, tmp_path, "--days", "5", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["first_day"], result["last_day"], result["days"]) == (
        (today - timedelta(days=5)).isoformat(), (today - timedelta(days=1)).isoformat(), 5,
    )

    def day(back: int) -> str:
        return (today - timedelta(days=back)).isoformat()

    rows = [{k: r[k] for k in ("day", "campaign_id", "rule", "action", "from_amount", "to_amount")} for r in result["rows"]]
    pause = {"campaign_id": 11, "rule": "stop-losers", "action": "pause", "from_amount": "100.00", "to_amount": "100.00"}
    cut = {"campaign_id": 11, "rule": "cpa-target", "action": "decrease", "from_amount": "100.00", "to_amount": "80.00"}
    assert rows == [
        {"day": day(5), **pause}, {"day": day(5), **cut},
        {"day": day(4), **cut},
        {"day": day(3), **pause}, {"day": day(3), **cut},
        {"day": day(2), **cut},
        {"day": day(1), **pause}, {"day": day(1), **cut},
    ]
    first = result["rows"][0]
    assert (first["campaign_name"], first["spent"], first["conversions"], first["spent_after"]) == ("Loser", "50.00", 0, "250.00")
    totals = {t["rule"]: t for t in result["totals"]}
    assert {k: totals["stop-losers"][k] for k in ("actions", "campaigns", "spent", "conversions", "spent_after")} == {
        "actions": 3, "campaigns": 1, "spent": "150.00", "conversions": 0, "spent_after": "250.00",
    }
    assert {k: totals["cpa-target"][k] for k in ("actions", "campaigns", "spent", "spent_after")} == {
        "actions": 5, "campaigns": 1, "spent": "250.00", "spent_after": "250.00",
    }
    assert result["notes"] == []
    assert sandbox.requests.count(endpoint="statistics") == 2

    # The ledger now holds those days: a second backtest reads no statistics at all.
    sandbox.requests.clear()
    again = run_backtest(ads.url, tmp_path, "--days", "5", "--json", "--rule", "STOP-LOSERS")
    assert again.returncode == 0, again.stderr
    assert [r["rule"] for r in json.loads(again.stdout)["rows"]] == ["stop-losers"] * 3
    assert sandbox.requests.count(endpoint="statistics") == 0


def test_backtest_prints_tables_for_people(ads: BackgroundServer, tmp_path: Path) -> None:
    done = run_backtest(ads.url, tmp_path, "--days", "5")
    assert done.returncode == 0, done.stderr
    assert "Backtest, " in done.stdout and "stop-losers" in done.stdout
    assert "100.00 → 80.00" in done.stdout and "Loser (11)" in done.stdout
    assert "A \"today\" window sees the whole day" in " ".join(done.stdout.split())


def test_an_unknown_rule_or_no_rules_is_one_line(ads: BackgroundServer, tmp_path: Path) -> None:
    done = run_backtest(ads.url, tmp_path, "--rule", "nope")
    assert done.returncode == 2
    assert done.stderr.strip() == "budget-bot: error: no rule is named 'nope'; the rules are: stop-losers, cpa-target"
    done = run_backtest(ads.url, tmp_path, rules="")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "budget-bot: error: no rules are configured: add [[rules]] tables to the configuration file"
    ]
    done = run_backtest(ads.url, tmp_path, "--days", "0")
    assert (done.returncode, done.stderr.strip()) == (2, "budget-bot: error: --days must be 1 to 60, not 0")
    assert ads.app[SANDBOX_KEY].requests.count(endpoint="statistics") == 0
