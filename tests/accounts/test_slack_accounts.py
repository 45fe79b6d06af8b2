"""Three ad accounts over Slack, as an agency runs them: one sandbox serving each behind its own token, the Slack
stand-in with a channel per account, and the bot over HTTP between them. Each account's news stays in its channel,
commands name the account or take it from the channel, an approval in one writes only to its API with its token,
and App Home shows every account with buttons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from bot.runtime import Runtime
from bot.scheduler import CHECK
from bot.server import build_web_app
from bot.settings import AccountConfig
from sandbox.adplatform import PLATFORM_KEY, Sandbox, SandboxConfig, ManualClock, start_sandbox
from sandbox.serving import BackgroundServer
from sandbox.slack import Message, SlackStandIn, start_standin
from sandbox.slack.model import User
from tests.harness import BOT_TOKEN, NOW, SIGNING_SECRET, bot_settings, exact_account

NAMES = ("acme", "beta", "gamma")
TOKENS = {name: f"pa-{name}-token-{i}3f9a" for i, name in enumerate(NAMES)}
CHANNELS = {"acme": "C0ACME", "beta": "C0BETA", "gamma": "C0GAMMA"}
APPROVERS = {"acme": "U0ACMEBOSS", "beta": "U0BETABOSS", "gamma": "U0GAMMABOSS"}
NEUTRAL = "C0GENERAL"
VIEWER = "U0AGENCYVIEW"
WAIT = 30.0


@dataclass
class Agency:
    ads: BackgroundServer
    slack_server: BackgroundServer
    slack: SlackStandIn
    bot: BackgroundServer
    runtime: Runtime

    def sandbox(self, name: str) -> Sandbox:
        found = self.ads.app[PLATFORM_KEY].by_token(TOKENS[name])
        assert found is not None
        return found

    def channel(self, name: str) -> list[Message]:
        return [m for m in self.slack.messages(CHANNELS[name]) if not m.ephemeral]

    def command(self, text: str, user: str, channel: str) -> Message:
        """Sends /budget from `channel`; returns the first private answer that is not "Running…"."""
        ack = self.slack.sync.send_command(text, user_id=user, channel_id=channel)
        assert ack.status == 200 and ack.latency < 3, ack
        return self.slack.sync.wait_for_message(
            lambda m: m.visible_to == user and not m.text.startswith("Running"), since=ack.mark, timeout=WAIT
        )


@pytest.fixture
def agency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Agency]:
    """acme, beta and gamma on one sandbox, each behind its token; beta's balance is low, so its check alerts."""
    clock = ManualClock(NOW)
    books = {name: exact_account(NOW.date(), balance="900.00" if name == "beta" else "5000.00") for name in NAMES}
    ads = start_sandbox(
        accounts={TOKENS[name]: books[name] for name in NAMES}, config=SandboxConfig(rate_limits={"statistics": None})
    )
    slack_server, slack = start_standin(bot_url=None, signing_secret=SIGNING_SECRET, bot_token=BOT_TOKEN, channel_id=NEUTRAL)
    slack.users[VIEWER] = User(VIEWER, "vic", "Vic", "approves for no account")
    for name in NAMES:
        slack.channels[CHANNELS[name]] = name
        slack.users[APPROVERS[name]] = User(APPROVERS[name], f"{name}-boss", f"{name.title()} Boss", f"{name} approver")
        monkeypatch.setenv(f"{name.upper()}_PA_TOKEN", TOKENS[name])
    accounts = [
        AccountConfig(
            name=name, api_token_env=f"{name.upper()}_PA_TOKEN", base_url=ads.url + "/v5", channel=CHANNELS[name],
            approvers=[APPROVERS[name]],
        )
        for name in NAMES
    ]
    settings = bot_settings(
        "http://127.0.0.1:9/v5", slack_server.url, f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        propellerads_api_token="", channel=NEUTRAL, accounts=accounts,
    )
    runtime = Runtime.build(settings, clock=clock)
    bot = BackgroundServer(build_web_app(runtime, schedule=False)).start()
    slack.bot_url = bot.url + "/slack/events"
    try:
        yield Agency(ads, slack_server, slack, bot, runtime)
    finally:
        bot.stop()
        slack_server.stop()
        ads.stop()


def fire_checks(agency: Agency, at: datetime) -> list[bool]:
    """Every account's scheduled check for the fire time `at`, as the scheduler runs them."""
    async def all_checks() -> list[bool]:
        return [await account.jobs.fire(CHECK, at) for account in agency.runtime.accounts]

    return agency.bot.call(all_checks, WAIT)


def test_each_accounts_check_posts_only_in_its_channel(agency: Agency) -> None:
    for name in NAMES:
        agency.command("check", APPROVERS[name], CHANNELS[name])
    for name in NAMES:
        texts = [m.text for m in agency.channel(name)]
        summary = next(t for t in texts if t.startswith("Budget health check"))
        balance = "900.00" if name == "beta" else "5,000.00"
        assert summary.startswith(f"Budget health check: balance {balance}"), summary
        assert [t for t in texts if t.startswith("Proposal #")], texts
    # beta's low balance is beta's news alone.
    assert any("alerts need attention" in m.text for m in agency.channel("beta"))
    assert not any("alerts need attention" in m.text for name in ("acme", "gamma") for m in agency.channel(name))
    assert [m for m in agency.slack.messages(NEUTRAL) if not m.ephemeral] == []


def test_a_command_names_its_account_or_takes_it_from_the_channel(agency: Agency) -> None:
    picked = agency.command("status", APPROVERS["acme"], NEUTRAL)
    assert picked.text.startswith("Which ad account?")
    assert all(f"/budget status {name}" in json.dumps(picked.blocks) for name in NAMES)

    named = agency.command("status beta", APPROVERS["acme"], NEUTRAL)
    assert "900.00 USD" in json.dumps(named.blocks)
    implied = agency.command("status", APPROVERS["acme"], CHANNELS["beta"])
    assert "900.00 USD" in json.dumps(implied.blocks)
    started = agency.command("status gam", APPROVERS["acme"], NEUTRAL)
    assert "5,000.00 USD" in json.dumps(started.blocks)


def test_an_approval_in_beta_writes_only_to_betas_api_and_only_by_betas_approver(agency: Agency) -> None:
    agency.command("check", APPROVERS["beta"], CHANNELS["beta"])
    proposal = next(m for m in agency.channel("beta") if m.text.startswith("Proposal #"))
    before = {name: len(agency.sandbox(name).requests.entries(method="PATCH")) for name in NAMES}

    # acme's approver cannot approve for beta: told privately, nothing written anywhere.
    mark = agency.slack.mark()
    agency.slack.sync.click(proposal.ts, "proposal_approve", user_id=APPROVERS["acme"], channel_id=CHANNELS["beta"])
    refused = agency.slack.sync.wait_for_message(lambda m: m.visible_to == APPROVERS["acme"], since=mark, timeout=WAIT)
    assert "approver" in refused.text
    assert {name: len(agency.sandbox(name).requests.entries(method="PATCH")) for name in NAMES} == before

    mark = agency.slack.mark()
    agency.slack.sync.click(proposal.ts, "proposal_approve", user_id=APPROVERS["beta"], channel_id=CHANNELS["beta"])
    agency.slack.sync.wait_for_message(
        lambda m: m.ts == proposal.ts and "applied" in json.dumps(m.blocks), since=mark, timeout=WAIT
    )
    writes = {name: agency.sandbox(name).requests.entries(method="PATCH")[before[name]:] for name in NAMES}
    assert [len(writes[name]) for name in NAMES] == [0, 1, 0]
    # The sandbox took it under beta's token: its log is beta's, the only one behind that token.
    assert writes["beta"][0].path == "/v5/adv/campaigns/102"


def test_a_refused_token_alerts_in_its_own_channel_while_the_others_are_checked(agency: Agency) -> None:
    agency.sandbox("acme").token = "revoked-by-propellerads"
    assert fire_checks(agency, NOW) == [True, True, True]
    assert any("refused" in m.text for m in agency.channel("acme"))
    assert not any("refused" in m.text for name in ("beta", "gamma") for m in agency.channel(name))
    for name in ("beta", "gamma"):
        assert agency.sandbox(name).requests.entries(endpoint="statistics"), f"{name} was checked"


def test_app_home_shows_every_account_with_buttons_and_approves_in_the_right_one(agency: Agency) -> None:
    for name in NAMES:
        agency.command("check", APPROVERS[name], CHANNELS[name])
    mark = len(agency.slack.calls)
    viewer = VIEWER  # approves for no account: sees them all, without buttons
    agency.slack.sync.open_home(viewer)
    agency.slack.sync.wait_for_call("views.publish", since=mark)
    home = agency.slack.home(viewer)
    assert home is not None
    headers = [b["text"]["text"] for b in home.blocks if b["type"] == "header"]
    assert headers == list(NAMES)
    assert not [b for b in home.blocks if b["type"] == "actions"]

    mark = len(agency.slack.calls)
    agency.slack.sync.open_home(APPROVERS["gamma"])
    agency.slack.sync.wait_for_call("views.publish", since=mark)
    home = agency.slack.home(APPROVERS["gamma"])
    assert home is not None
    assert [b["text"]["text"] for b in home.blocks if b["type"] == "header"] == ["gamma"]
    [first, *_] = [b for b in home.blocks if b["type"] == "actions"]
    before = {name: len(agency.sandbox(name).requests.entries(method="PATCH")) for name in NAMES}
    mark = len(agency.slack.calls)
    agency.slack.sync.click_view("proposal_approve", user_id=APPROVERS["gamma"], view_id=home.id, block_id=first["block_id"])
    agency.slack.sync.wait_for_call("views.publish", since=mark)
    after = {name: len(agency.sandbox(name).requests.entries(method="PATCH")) for name in NAMES}
    assert [after[name] - before[name] for name in NAMES] == [0, 0, 1]


def test_snooze_in_app_home_quiets_the_alert_of_that_account(agency: Agency) -> None:
    agency.command("check", APPROVERS["beta"], CHANNELS["beta"])
    mark = len(agency.slack.calls)
    agency.slack.sync.open_home(APPROVERS["beta"])
    agency.slack.sync.wait_for_call("views.publish", since=mark)
    home = agency.slack.home(APPROVERS["beta"])
    assert home is not None
    menu = next(b for b in home.blocks if b.get("accessory", {}).get("action_id") == "alert_menu")
    assert menu["block_id"] == "account|beta|alert|0"
    option = menu["accessory"]["options"][0]["value"]
    mark = len(agency.slack.calls)
    agency.slack.sync.click_view("alert_menu", user_id=APPROVERS["beta"], view_id=home.id, block_id=menu["block_id"], option=option)
    agency.slack.sync.wait_for_call("views.publish", since=mark)
    home = agency.slack.home(APPROVERS["beta"])
    assert home is not None and home.blocks[0]["text"]["text"].startswith(":zzz: Snoozed until ")
    snoozed = agency.bot.call(lambda: agency.runtime.accounts.get("beta").service.open_alerts(), WAIT)
    assert [a.snoozed_by for a in snoozed if a.snoozed_by] == [APPROVERS["beta"]]
