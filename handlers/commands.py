"""The /budget slash command: status, campaign status, check, proposals, history, rules, automation, backtest, help."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot import render
from core.backtest import DEFAULT_DAYS
from core.service import BacktestRefused
from handlers.common import answer_failures, budget
from handlers.context import BotContext
from handlers.routing import for_command

COMMAND = "/budget"
CHECK_REFUSED = (
    "Only the configured approvers can run a health check; nothing was run. "
    "The scheduled check runs on its own, and /budget status shows the account now."
)
AUTOMATION_REFUSED = "Only the configured approvers can turn automation on or off; nothing was changed."


ACCOUNT_VERBS = frozenset({"status", "check", "proposals", "history", "rules", "automation", "backtest"})
"""The verbs about one ad account: with several, the account is named, or implied by the channel."""


def register(app: AsyncApp) -> None:
    app.command(COMMAND)(budget_command)


@answer_failures("answer /budget")
async def budget_command(
    ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    # Ack first and empty: the ad API may take seconds, Slack waits three.
    await ack()
    words = _unescape(command.get("text") or "").split()
    verb, after = (words[0].lower(), words[1:]) if words else ("help", [])
    user = command.get("user_id", "")
    ctx = budget(context)
    if verb in ACCOUNT_VERBS:
        routed, after = for_command(ctx, command.get("channel_id"), after)
        if isinstance(routed, list):
            await respond(**render.account_pick_list(verb, routed), response_type="ephemeral")
            return
        ctx = routed
    rest = " ".join(after)

    if verb == "status" and not rest:
        report = await ctx.service.health()
        today = await ctx.service.money_today(report.balance)
        await respond(**render.health_summary(report, today=today, currency=ctx.settings.currency), response_type="ephemeral")
    elif verb == "status":
        lookup = await ctx.service.find_campaign(rest)
        currency = ctx.settings.currency
        message = (
            render.campaign_status(lookup.status, currency=currency)
            if lookup.status
            else render.campaign_pick_list(lookup, currency=currency)
        )
        await respond(**message, response_type="ephemeral")
    elif verb == "check" and not ctx.service.may_decide(user):
        # A check posts to the channel and spends the statistics limit (2 a minute): approvers only.
        await respond(**render.notice(CHECK_REFUSED), response_type="ephemeral")
    elif verb == "check":
        await respond(**render.notice("Running a health check; results go to the channel."), response_type="ephemeral")
        result = await ctx.service.run_check(reuse_recent_read=True)
        if result.error is None:
            await ctx.notifier.post_check(result, with_summary=True)
        else:
            await ctx.notifier.tell_alerts()
        await respond(**render.check_done(result, user), response_type="ephemeral")
    elif verb == "proposals":
        pending = await ctx.service.pending_proposals()
        await respond(**render.proposals_list(pending, currency=ctx.settings.currency), response_type="ephemeral")
    elif verb == "history":
        await respond(**render.history(await ctx.service.history(rest), rest or None), response_type="ephemeral")
    elif verb == "rules":
        reports = await ctx.service.rules_report()
        await respond(**render.rules_list(reports, await ctx.service.automation()), response_type="ephemeral")
    elif verb == "automation":
        await _automation(ctx, user, rest.lower(), respond)
    elif verb == "backtest":
        await _backtest(ctx, rest or None, respond)
    elif verb == "help":
        await respond(**render.usage(), response_type="ephemeral")
    else:
        await respond(**render.usage(unknown=" ".join(words)[:100]), response_type="ephemeral")


async def _automation(ctx: BotContext, user: str, choice: str, respond: AsyncRespond) -> None:
    """`/budget automation [on|off]`: shows the switch, or (approvers) flips it and tells the channel who did."""
    if choice not in ("", "on", "off"):
        await respond(**render.notice("Say /budget automation on, /budget automation off, or /budget automation to see it."),
                      response_type="ephemeral")
        return
    if not choice:
        await respond(**render.automation_state(await ctx.service.automation()), response_type="ephemeral")
        return
    state = await ctx.service.switch_automation(choice == "on", user)
    if state is None:
        await respond(**render.notice(AUTOMATION_REFUSED), response_type="ephemeral")
        return
    await ctx.notifier.post(ctx.settings.proposals_to, render.automation_state(state, changed=True))
    await respond(**render.automation_state(state, changed=True), response_type="ephemeral")


async def _backtest(ctx: BotContext, rule: str | None, respond: AsyncRespond) -> None:
    """`/budget backtest [rule]`: a line at once, the replay (which may first read days the ledger lacks) after."""
    await respond(**render.backtest_started(rule, DEFAULT_DAYS), response_type="ephemeral")
    try:
        result = await ctx.service.backtest(DEFAULT_DAYS, rule)
    except BacktestRefused as exc:
        await respond(**render.notice(f"No backtest: {exc}."), response_type="ephemeral")
        return
    await respond(**render.backtest_result(result, currency=ctx.settings.currency), response_type="ephemeral")


def _unescape(text: str) -> str:
    """Slack escapes &, < and > in command text; campaign names are matched on the real characters."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
