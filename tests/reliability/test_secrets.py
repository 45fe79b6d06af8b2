"""No secret leaves the bot: a whole run's logs, messages and stored data are searched for the three of them.

One `budget-bot serve --verbose` process (DEBUG logging, every library's too) goes through the
story a team lives: status, a campaign, a check, the proposals and their buttons, history, App
Home, forged and stale requests, PropellerAds refusing the token, a 500 whose body echoes the
token back, a Slack rate limit, a kill -9 mid-apply and the restart. Then everything it left is
searched for the Slack bot token, the signing secret and the PropellerAds token: its log, every
message and Web API call the Slack stand-in received, every request body PropellerAds received,
and the bytes of its SQLite database.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from core import failpoints
from tests.harness import API_TOKEN, APPROVER, VIEWER, running_stack
from tests.reliability.support import (
    SECRETS,
    BotProcess,
    bot_env,
    everything_slack_holds,
    leaks,
    wait_for_file,
    write_rules,
)

pytestmark = pytest.mark.slow


def test_a_whole_run_leaks_no_secret(tmp_path: Path, figures: dict[str, Any]) -> None:
    database = tmp_path / "bot.db"
    marker = tmp_path / "failpoint-reached"
    with running_stack(tmp_path, start_bot=False) as stack:
        slack = stack.slack
        env = bot_env(
            stack,
            f"sqlite:///{database}",
            BUDGET_BOT_CONFIG=str(write_rules(tmp_path / "rules.toml")),
            BUDGET_BOT_RECONCILE_AFTER_SECONDS="1",
        )
        bot = BotProcess(env, tmp_path / "bot.log", verbose=True)
        try:
            bot.start(BUDGET_BOT_FAILPOINT=failpoints.AFTER_PATCH, BUDGET_BOT_FAILPOINT_MARKER=str(marker))
            slack.bot_url = bot.events_url

            def command(text: str, user: str = APPROVER, until: str | None = None) -> str:
                ack = slack.sync.send_command(text, user_id=user)
                assert ack.status == 200, (text, ack)
                reply = slack.sync.wait_for_message(
                    lambda m: m.via == "response_url" and (until is None or m.text.startswith(until)),
                    since=ack.mark, timeout=20,
                )
                return reply.text

            for text in ("help", "status", "status 101", "status winner", "proposals", "history", "nonsense"):
                command(text)
            command("check", until="Health check done")
            posted = {m.text.split(":")[0]: m for m in slack.messages() if m.text.startswith("Proposal #")}
            slack.sync.click(posted["Proposal #2"].ts, "proposal_reject", user_id=APPROVER)
            mark = slack.mark()
            slack.sync.click(posted["Proposal #1"].ts, "proposal_approve", user_id=VIEWER)  # not allowed
            slack.sync.wait_for_message(lambda m: m.via == "response_url" and m.visible_to == VIEWER, since=mark)
            slack.sync.open_home(APPROVER)
            slack.sync.wait_for_call("views.publish")

            # Requests that are not Slack's.
            body = "command=%2Fbudget&text=check&user_id=U0APPROVER"
            for headers in (slack.signed_headers(body, secret="guessed"), slack.signed_headers(body, timestamp=int(time.time()) - 600), {}):
                assert slack.sync.send_raw(body, headers).status == 401

            # PropellerAds refuses the token, then answers a 500 that echoes it back.
            stack.sandbox.token = "another-token"
            assert "refused the API token" in command("status")
            command("check", until="Could not run the health check")
            stack.sandbox.token = API_TOKEN
            echo = json.dumps({"errors": [f"bad request from Bearer {API_TOKEN}"]})
            stack.sandbox.faults.fail_next("GET", "/adv/balance", 500, body=echo, times=4)
            echoed = command("status")
            assert API_TOKEN not in echoed and "[redacted]" in echoed

            # Slack says slow down once; the bot's retry gets through.
            slack.rate_limit("chat.update", times=1, retry_after=1)
            # The approval stops right after the PATCH: kill -9, and the restart finishes it.
            slack.sync.click(posted["Proposal #1"].ts, "proposal_approve", user_id=APPROVER)
            wait_for_file(marker, bot)
            bot.kill9()
            mark = slack.mark()
            bot.start()
            outcome = slack.sync.wait_for_message(lambda m: m.ts == posted["Proposal #1"].ts, since=mark, timeout=30)
            assert "applied" in outcome.text
            command("history", until="Budget history")
        finally:
            bot.stop()

        logged = bot.text()
        assert "DEBUG" in logged  # the libraries' own debug lines were on
        searched = {
            "the bot's log": [logged],
            "Slack messages and Web API calls": everything_slack_holds(slack),
            "requests PropellerAds received": [json.dumps(r.to_json(), default=str) for r in stack.sandbox.requests.entries()],
            "the database": [
                p.read_bytes().decode("latin-1") for p in tmp_path.glob("bot.db*") if p.is_file()
            ],
        }
    found = {where: leaks(texts) for where, texts in searched.items()}
    assert found == {where: [] for where in searched}
    figures["secrets"] = {
        "searched": {where: sum(len(t) for t in texts) for where, texts in searched.items()},
        "unit": "characters",
        "secrets": sorted(SECRETS),
        "found": 0,
    }
