"""Proposal buttons: Approve, Reject and Edit amount."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import render
from core.proposals import Outcome
from handlers.common import answer_failures, budget



def register(app: AsyncApp) -> None:
    app.action(render.APPROVE)(approve)
    app.action(render.REJECT)(reject)
    app.action(render.EDIT)(edit)


def _bound(body: dict[str, Any]) -> tuple[int, int | None] | None:
    """The proposal a button names and the version it showed."""
    try:
        value = body["actions"][0]["value"]
    except (KeyError, IndexError, TypeError):
        return None
    return render.read_button_value(value) if isinstance(value, str) else None


async def _tell(respond: Any, message: dict[str, Any]) -> None:
    await respond(**message, response_type="ephemeral", replace_original=False)


async def _decide(body: dict[str, Any], respond: Any, context: Any, *, approve: bool) -> None:
    ctx = budget(context)
    bound = _bound(body)
    user = (body.get("user") or {}).get("id", "")
    if bound is None:
        await _tell(respond, render.notice("That button does not name a proposal I know; nothing was changed."))
        return
    proposal_id, version = bound
    decision, _ = await ctx.service.decide(proposal_id, user, approve=approve, version=version)
    if decision.outcome is Outcome.OUTDATED:
        await _tell(respond, render.outdated(decision))
        return
    if decision.is_private or decision.proposal is None:
        await _tell(respond, render.said(render.decision_words(decision)))
        return
    shown = await ctx.notifier.show_outcome(decision.proposal, decision)
    ephemeral = bool((body.get("container") or {}).get("is_ephemeral"))
    try:
        if ephemeral or not shown:
            # A click from the /budget proposals list: redraw that copy too.
            await respond(**render.proposal_outcome(decision.proposal, decision), replace_original=True)
        if decision.outcome is Outcome.EXPIRED:
            # The click did nothing; the person who made it hears so, not only the redrawn message.
            await _tell(respond, render.said(render.decision_words(decision)))
        elif not shown and decision.proposal.message_ts and not ephemeral:
            await _tell(respond, render.not_redrawn(decision))
    finally:
        await ctx.notifier.tell_alerts()


@answer_failures("approve the proposal", unknown_outcome=True)
async def approve(ack: Any, body: dict[str, Any], respond: Any, context: Any) -> None:
    await ack()
    await _decide(body, respond, context, approve=True)


@answer_failures("reject the proposal")
async def reject(ack: Any, body: dict[str, Any], respond: Any, context: Any) -> None:
    await ack()
    await _decide(body, respond, context, approve=False)


@answer_failures("edit the proposal")
async def edit(ack: Any, body: dict[str, Any], respond: Any, context: Any, client: Any) -> None:
    await ack()
    ctx = budget(context)
    user = (body.get("user") or {}).get("id", "")
    bound = _bound(body)
    opened = await ctx.service.open_edit(bound[0] if bound else None, user)
    if opened.error or opened.proposal is None:
        await _tell(respond, render.notice(f"{(opened.error or 'This proposal is no longer pending.').rstrip('.')}; nothing was changed."))
    else:
        await client.views_open(trigger_id=body["trigger_id"], view=render.edit_modal(opened.proposal))
