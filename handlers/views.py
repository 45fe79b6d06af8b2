"""Modal submissions: the Edit amount dialog of a proposal."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from handlers.routing import for_click
from handlers.common import budget

log = logging.getLogger(__name__)

# Past this the modal is closed and the outcome arrives as a message, to stay inside Slack's 3 s.
ACK_BUDGET_SECONDS = 2.0


def register(app: AsyncApp) -> None:
    app.view(render.EDIT_VIEW)(edit_submitted)


async def edit_submitted(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    user = (body.get("user") or {}).get("id", "")
    try:
        bound = render.read_button_value(str(view.get("private_metadata", "")))
        text = view["state"]["values"][render.EDIT_BLOCK][render.EDIT_INPUT]["value"] or ""
    except (KeyError, TypeError, ValueError):
        bound = None
    ctx = await for_click(budget(context), body, proposal_id=bound[0] if bound else None)
    if bound is None:
        await ack(response_action="errors", errors={render.EDIT_BLOCK: "This form is out of date; open it again."})
        return
    proposal_id, version = bound
    task = asyncio.create_task(ctx.service.edit_amount(proposal_id, user, text, version=version))
    done, _ = await asyncio.wait({task}, timeout=ACK_BUDGET_SECONDS)
    if done:
        try:
            result = task.result()
        except Exception as exc:
            log.warning("editing proposal %s failed: %s", proposal_id, exc)
            await ack(response_action="errors", errors={render.EDIT_BLOCK: "Could not check the amount now; try again."})
            return
        if result.error:
            await ack(response_action="errors", errors={render.EDIT_BLOCK: result.error})
            return
        await ack()
    else:
        await ack()
        try:
            result = await task
        except Exception as exc:
            log.warning("editing proposal %s failed: %s", proposal_id, exc)
            result = None
        if result is None or result.error:
            reason = result.error if result else "the ad platform did not answer"
            await _dm(client, user, f"The new amount for proposal #{proposal_id} was not saved: {reason}")
            return
    if result.proposal is not None:
        await ctx.notifier.show_pending(result.proposal)


async def _dm(client: AsyncWebClient, user: str, text: str) -> None:
    try:
        await client.chat_postMessage(channel=user, **render.notice(text))
    except Exception:
        log.exception("could not tell %s about the edit", user)
