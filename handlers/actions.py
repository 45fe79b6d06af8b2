"""Buttons and menus: a proposal's Approve, Reject, Edit amount and Undo; an alert's Snooze and Acknowledge; the automation
switch; a campaign's Chart."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from bot.notify import ChartPosted
from core.proposals import Outcome
from core.service import campaign_id_in
from handlers.common import answer_failures, budget
from handlers.context import BotContext
from handlers.home import publish_home
from handlers.routing import for_click



def register(app: AsyncApp) -> None:
    app.action(render.APPROVE)(approve)
    app.action(render.REJECT)(reject)
    app.action(render.EDIT)(edit)
    app.action(render.UNDO)(undo)
    app.action(render.ALERT_MENU)(alert_menu)
    app.action(render.AUTOMATION_TOGGLE)(automation_toggle)
    app.action(render.CAMPAIGN_CHART)(campaign_chart)


def _bound(body: dict[str, Any]) -> tuple[int, int | None] | None:
    """The proposal a button names and the version it showed."""
    try:
        value = body["actions"][0]["value"]
    except (KeyError, IndexError, TypeError):
        return None
    return render.read_button_value(value) if isinstance(value, str) else None


def _user(body: dict[str, Any]) -> str:
    return (body.get("user") or {}).get("id", "")


def _in_home(body: dict[str, Any]) -> bool:
    """A click in App Home: no channel and no response URL; the answer is the home redrawn."""
    return (body.get("container") or {}).get("type") == "view"


async def _tell(respond: AsyncRespond | None, message: dict[str, Any], *, home: tuple[BotContext, AsyncWebClient, str] | None = None) -> None:
    """An answer only the clicker sees: privately where the click was, or on top of their App Home."""
    if respond is not None:
        await respond(**message, response_type="ephemeral", replace_original=False)
    elif home is not None:
        await publish_home(*home, notice=message.get("text"))


async def _decide(body: dict[str, Any], respond: AsyncRespond | None, context: AsyncBoltContext, client: AsyncWebClient,
                  *, approve: bool) -> None:
    bound = _bound(body)
    ctx = await for_click(budget(context), body, proposal_id=bound[0] if bound else None)
    user = _user(body)
    home = (ctx, client, user) if _in_home(body) else None
    if bound is None:
        await _tell(respond, render.notice("That button does not name a proposal I know; nothing was changed."), home=home)
        return
    proposal_id, version = bound
    decision, _ = await ctx.service.decide(proposal_id, user, approve=approve, version=version)
    if decision.outcome is Outcome.OUTDATED:
        await _tell(respond, render.outdated(decision, currency=ctx.settings.currency), home=home)
        return
    if decision.is_private or decision.proposal is None:
        await _tell(respond, render.said(render.decision_words(decision)), home=home)
        return
    shown = await ctx.notifier.show_outcome(decision.proposal, decision)
    try:
        if home is not None:
            # The channel's message is redrawn above; the home shows the outcome and what still waits.
            await publish_home(*home, notice=render.decided_notice(decision))
            return
        ephemeral = bool((body.get("container") or {}).get("is_ephemeral"))
        if ephemeral or not shown:
            # A click from the /budget proposals list: redraw that copy too.
            await respond(**render.proposal_outcome(decision.proposal, decision, currency=ctx.settings.currency), replace_original=True)
        if decision.outcome is Outcome.EXPIRED:
            # The click did nothing; the person who made it hears so, not only the redrawn message.
            await _tell(respond, render.said(render.decision_words(decision)))
        elif not shown and decision.proposal.message_ts and not ephemeral:
            await _tell(respond, render.not_redrawn(decision))
    finally:
        await ctx.notifier.tell_alerts()


@answer_failures("approve the proposal", unknown_outcome=True)
async def approve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond | None, context: AsyncBoltContext,
                  client: AsyncWebClient) -> None:
    await ack()
    await _decide(body, respond, context, client, approve=True)


@answer_failures("reject the proposal")
async def reject(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond | None, context: AsyncBoltContext,
                 client: AsyncWebClient) -> None:
    await ack()
    await _decide(body, respond, context, client, approve=False)


@answer_failures("edit the proposal")
async def edit(
    ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    await ack()
    user = _user(body)
    bound = _bound(body)
    ctx = await for_click(budget(context), body, proposal_id=bound[0] if bound else None)
    opened = await ctx.service.open_edit(bound[0] if bound else None, user)
    if opened.error or opened.proposal is None:
        failed = f"{(opened.error or 'This proposal is no longer pending.').rstrip('.')}; nothing was changed."
        await _tell(respond, render.notice(failed), home=(ctx, client, user) if _in_home(body) else None)
    else:
        await client.views_open(trigger_id=body["trigger_id"], view=render.edit_modal(opened.proposal, currency=ctx.settings.currency))


@answer_failures("undo the change", unknown_outcome=True)
async def undo(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext) -> None:
    """Reverses an applied change: the undo is told where the change was, and to the one who asked if it cannot be."""
    await ack()
    bound = _bound(body)
    ctx = await for_click(budget(context), body, proposal_id=bound[0] if bound else None)
    user = _user(body)
    if bound is None:
        await _tell(respond, render.notice("That button does not name a change I know; nothing was changed."))
        return
    decision, _ = await ctx.service.undo(bound[0], user)
    if decision.is_private or decision.proposal is None:
        await _tell(respond, render.said(render.decision_words(decision)))
        return
    try:
        await ctx.notifier.tell_undo(decision, body)
    finally:
        await ctx.notifier.tell_alerts()


SNOOZE_FOR = {"snooze_1h": timedelta(hours=1), "snooze_4h": timedelta(hours=4)}


def snooze_end(choice: str, now: datetime, zone: Any) -> datetime | None:
    """When a snooze chosen now ends (the next midnight in the team's zone for "until tomorrow"); None to acknowledge."""
    if choice in SNOOZE_FOR:
        return now + SNOOZE_FOR[choice]
    if choice == "snooze_tomorrow":
        local = now.astimezone(zone)
        return datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=zone)
    return None


@answer_failures("snooze the alert")
async def alert_menu(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond | None, context: AsyncBoltContext,
                     client: AsyncWebClient) -> None:
    """Anyone in the channel may snooze or acknowledge an alert; the message then says who did."""
    await ack()
    ctx = await for_click(budget(context), body)
    try:
        picked = render.read_alert_choice(body["actions"][0]["selected_option"]["value"])
    except (KeyError, IndexError, TypeError):
        picked = None
    user = _user(body)
    home = (ctx, client, user) if _in_home(body) else None
    if picked is None:
        await _tell(respond, render.notice("That menu does not name an alert I know; nothing was changed."), home=home)
        return
    choice, key = picked
    now = ctx.service.clock()
    alerts = await ctx.service.snooze_alert(key, user, snooze_end(choice, now, ctx.settings.zone))
    if not alerts:
        await _tell(respond, render.notice("That alert is no longer kept; nothing was changed."), home=home)
        return
    channel = (body.get("channel") or {}).get("id") or alerts[0].message_channel
    ts = (body.get("container") or {}).get("message_ts") or alerts[0].message_ts
    if channel and ts:
        await ctx.notifier.update(channel, ts, render.alerts_redrawn(alerts, now, ctx.settings.zone), what=f"alert {key}")
    if home is not None:
        done = next((a for a in alerts if a.key == key), alerts[0])
        await publish_home(*home, notice=render.snoozed_words(done, now, ctx.settings.zone))


@answer_failures("switch automation")
async def automation_toggle(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext,
                            client: AsyncWebClient) -> None:
    """The App Home button: an approver turns automation on or off; the channel hears who did."""
    await ack()
    ctx = await for_click(budget(context), body)
    user = (body.get("user") or {}).get("id", "")
    value = ((body.get("actions") or [{}])[0] or {}).get("value")
    if value not in ("on", "off"):
        return
    state = await ctx.service.switch_automation(value == "on", user)
    if state is not None:
        await ctx.notifier.post(ctx.settings.proposals_to, render.automation_state(state, changed=True))
    await publish_home(ctx, client, user)


@answer_failures("post the campaign chart")
async def campaign_chart(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext) -> None:
    """Posts the campaign's last 14 ad days of spend and conversions in the channel the button was clicked in."""
    await ack()
    ctx = await for_click(budget(context), body)
    value = ((body.get("actions") or [{}])[0]).get("value")
    campaign_id = campaign_id_in(value) if isinstance(value, str) else None
    if campaign_id is None:
        await _tell(respond, render.notice("That button does not name a campaign; no chart was posted."))
        return
    channel = (body.get("channel") or {}).get("id") or ctx.settings.channel
    if await ctx.notifier.post_campaign_chart(channel, campaign_id) is ChartPosted.FAILED:
        await _tell(respond, render.notice("Slack did not take the chart; try the button again in a minute."))
