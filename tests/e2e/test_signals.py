"""Signals as a user meets them: an ad day through the sandbox over HTTP, the bot's checks every 15 minutes on a
clock the sandbox shares, each signal announced once in Slack, snoozable, and listed by `budget-bot check --json`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from bot import cli
from bot import render
from bot.render import ALERT_MENU
from bot.scheduler import CHECK
from core.signals import SignalThresholds
from sandbox.adplatform import DEFAULT_RATE_LIMITS, ManualClock, SandboxConfig
from sandbox.slack import Message
from tests.core.test_ledger_day import (
    CAPS_EARLY,
    NEVER_CONVERTS,
    REJECTED,
    SCENARIOS,
    SPIKES,
    STALLS,
    START,
    UNDERPACES,
    account,
)
from tests.harness import API_TOKEN, APPROVER, Stack, running_stack

EXPECTED = {
    f"signal:STOPPED_SPENDING:{STALLS}",
    f"signal:UNDERPACING:{STALLS}",
    f"signal:STATUS_CHANGED:{REJECTED}",
    f"signal:CAPPED_EARLY:{CAPS_EARLY}",
    f"signal:UNDERPACING:{UNDERPACES}",
    f"signal:SPEND_SPIKE:{SPIKES}",
    f"signal:SPEND_WITHOUT_CONVERSIONS:{NEVER_CONVERTS}",
    "signal:BALANCE_RUNS_OUT",
    "signal:CONVERSIONS_STOPPED",
}
SPIKE = f"signal:SPEND_SPIKE:{SPIKES}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def stack(tmp_path: Path, clock: ManualClock) -> Iterator[Stack]:
    limits = SandboxConfig(rate_limits={name: 100_000 for name in DEFAULT_RATE_LIMITS})
    with running_stack(
        tmp_path, account=account(), clock=clock, shared_clock=True, sandbox_config=limits, rules=[],
        signals=SignalThresholds(),
    ) as running:
        yield running


def channel(stack: Stack) -> list[Message]:
    return [m for m in stack.slack.messages() if not m.ephemeral]


def menu_keys(message: Message) -> list[str]:
    """The alerts a message offers Snooze for: one per alert it announces."""
    return [
        block["accessory"]["options"][0]["value"].partition("|")[2]
        for block in message.blocks
        if block.get("accessory", {}).get("action_id") == ALERT_MENU
    ]


def test_a_day_of_signals_is_announced_once_each_digested_snoozable_and_listed_by_check(
    stack: Stack, clock: ManualClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = stack.runtime.service
    assert stack.on_bot(lambda: service.backfill_ledger()) > 0
    snoozed_at: datetime | None = None
    spike_replies: list[tuple[datetime, str]] = []
    before_day = stack.sandbox.requests.count(endpoint="statistics")
    with httpx.Client(base_url=stack.ads.url) as admin:
        for _ in range(20 * 4):  # every 15 minutes until 20:00 EST
            now = clock.advance(minutes=15)
            hour = (now - START) / timedelta(hours=1)
            for scenario in SCENARIOS.get(int(hour), []) if hour == int(hour) else []:
                assert admin.post("/_sandbox/scenarios", json=scenario).status_code == 200
            before = len(channel(stack))
            assert stack.on_bot(lambda: stack.runtime.jobs.fire(CHECK, now)) is True
            posted = channel(stack)[before:]
            spike_first = next((m for m in posted if SPIKE in menu_keys(m) and not m.thread_ts), None)
            if spike_first is not None:
                # Snoozed for 4 hours from the message that told it, as a person in the channel would.
                stack.slack.sync.click(spike_first.ts, ALERT_MENU, user_id=APPROVER, value=f"snooze_4h|{SPIKE}")
                snoozed_at = now
            first = {m.ts for m in channel(stack) if SPIKE in menu_keys(m) and not m.thread_ts}
            spike_replies += [(now, m.text) for m in posted if m.thread_ts in first]

    # A check's statistics: today alone (the window's whole days are in the backfilled ledger), whatever the
    # number of campaigns; the settling days hourly.
    checks, hours = 20 * 4, 20
    assert checks <= stack.sandbox.requests.count(endpoint="statistics") - before_day <= checks + hours + 1

    alerts: dict[str, Any] = stack.on_bot(service.store.alerts)
    assert {k for k in alerts if k.startswith("signal:")} == EXPECTED, "each for the campaign that earned it, none for a steady one"

    top = [m for m in channel(stack) if not m.thread_ts]
    announced = [key for m in top for key in menu_keys(m) if key.startswith("signal:")]
    assert sorted(announced) == sorted(EXPECTED), "each announced once"
    # The first check finds the balance running out with the health alerts: one message, by severity.
    digest = next(m for m in top if "signal:BALANCE_RUNS_OUT" in menu_keys(m))
    assert digest.text.startswith(f"{len(menu_keys(digest))} alerts need attention:")
    groups = [b["elements"][0]["text"] for b in digest.blocks if b["type"] == "context"]
    assert len(groups) > 1 and groups == sorted(groups, key=["*Critical*", "*Serious*", "*Warning*"].index)

    # The spike ended an hour after it began, in the snooze; its resolution was told when the snooze ended.
    assert snoozed_at is not None
    assert alerts[SPIKE].cleared_at < snoozed_at + timedelta(hours=4)
    resolved = [at for at, text in spike_replies if text.startswith("Resolved:")]
    assert resolved and resolved[0] >= snoozed_at + timedelta(hours=4), spike_replies

    # /budget status <campaign> tells when the cap was hit, as the signal did; the account's pacing, when the
    # balance runs out.
    lookup = stack.on_bot(lambda: service.find_campaign(str(CAPS_EARLY)))
    fields = [f["text"] for b in render.campaign_status(lookup.status)["blocks"] for f in b.get("fields", [])]
    assert "*Daily budget cap (EST)*\nhit at 07:36" in fields
    assert "at 07:36" in alerts[f"signal:CAPPED_EARLY:{CAPS_EARLY}"].summary
    today = stack.on_bot(lambda: service.money_today(Decimal("100.00")))
    assert today.pacing.runs_out_at is not None and today.pacing.spent > 0

    # `budget-bot check --json` at the same hour, on the bot's store: the signals by code, and exit code 3.
    monkeypatch.setattr(cli, "clock", clock)
    env = {
        "PROPELLERADS_BASE_URL": stack.ads.url + "/v5",
        "PROPELLERADS_API_TOKEN": API_TOKEN,
        "BUDGET_BOT_DATABASE_URL": stack.settings.database_url,
    }
    done = CliRunner().invoke(cli.app, ["check", "--json"], env=env)
    assert done.exit_code == cli.ExitCode.ATTENTION, done.output
    listed = json.loads(done.stdout)
    holding = {k for k, a in alerts.items() if k.startswith("signal:") and a.active}
    codes = {f"signal:{s['code']}" + ("" if s["campaign_id"] is None else f":{s['campaign_id']}") for s in listed["signals"]}
    assert codes == holding
    assert {"code", "campaign_id", "severity", "message"} <= set(listed["signals"][0])
    assert listed["pacing"]["day"] == "2025-09-29" and listed["pacing"]["day_clock"] == "EST"
