"""Proposal buttons: Approve, Reject and Edit amount."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import render
from core.executor import Outcome
from core.store.tables import PENDING
from handlers.common import answer_failures, budget



def register(app: AsyncApp) -> None:
    app.action(render.APPROVE)(approve)
    app.action(render.REJECT)(reject)
    app.action(render.EDIT)(edit)


def _proposal_id(body: dict[str, Any]) -> int | None:
    try:
        value = body["actions"][0]["value"]
        proposal_id = int(value)
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    # Proposal IDs are 32-bit in the store; a bigger number names none and the database would refuse it.
    return proposal_id if 0 < proposal_id < 2**31 else None


async def _tell(respond: Any, text: str) -> None:
    await respond(**render.notice(text), response_type="ephemeral", replace_original=False)


async def _decide(body: dict[str, Any], respond: Any, context: Any, *, approve: bool) -> None:
    ctx = budget(context)
    proposal_id = _proposal_id(body)
    user = (body.get("user") or {}).get("id", "")
    if proposal_id is None:
        await _tell(respond, "That button does not name a proposal I know; nothing was changed.")
        return
    decision, changes = await ctx.service.decide(proposal_id, user, approve=approve)
    if decision.is_private or decision.proposal is None:
        await _tell(respond, decision.message)
        return
    shown = await ctx.notifier.show_outcome(decision.proposal, decision)
    ephemeral = bool((body.get("container") or {}).get("is_ephemeral"))
    if ephemeral or not shown:
        # A click from the /budget proposals list: redraw that copy too.
        outcome = render.proposal_outcome(decision.proposal, decision, currency=ctx.settings.currency)
        await respond(**outcome, replace_original=True)
    if decision.outcome is Outcome.EXPIRED:
        # The click did nothing; the person who made it hears so, not only the redrawn message.
        await _tell(respond, decision.message)
    await ctx.notifier.post_alerts(changes)


@answer_failures("approve the proposal")
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
    proposal_id = _proposal_id(body)
    proposal = await ctx.service.store.get(proposal_id) if proposal_id is not None else None
    if not ctx.service.may_decide(user):
        await _tell(respond, "Only the configured approvers can change a proposal; nothing was changed.")
    elif proposal is None or proposal.state != PENDING:
        await _tell(respond, "This proposal is no longer pending; nothing was changed.")
    else:
        await client.views_open(trigger_id=body["trigger_id"], view=render.edit_modal(proposal, currency=ctx.settings.currency))
