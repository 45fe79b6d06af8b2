"""What every listener shares: its context, and a guard that turns any failure into a clear reply."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncBoltContext, AsyncRespond

from bot import render
from core.errors import PropellerAdsError
from handlers.context import CONTEXT_KEY, BotContext
from handlers.home import publish_home

log = logging.getLogger("handlers")


def budget(context: AsyncBoltContext) -> BotContext:
    return context[CONTEXT_KEY]


def answer_failures(
    doing: str, *, unknown_outcome: bool = False
) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
    """After the ack, a failure must reach the user as one clear line, never a traceback or silence.

    `unknown_outcome`: the listener may have written to PropellerAds before it failed, so the line
    must not claim that nothing changed.
    """
    after = (
        "Check `/budget history` before trying again: the change may have been applied."
        if unknown_outcome
        else "Nothing was changed."
    )

    def wrap(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        @functools.wraps(fn)
        async def listener(*args: Any, **kwargs: Any) -> None:
            try:
                await fn(*args, **kwargs)
            except PropellerAdsError as exc:
                log.warning("could not %s: %s", doing, exc)
                await _answer(kwargs, render.api_error(exc, doing=doing))
            except Exception:
                log.exception("failed to %s", doing)
                await _answer(kwargs, render.notice(f"Something went wrong while trying to {doing}; it has been logged. {after}"))

        return listener

    return wrap


async def _answer(kwargs: dict[str, Any], message: dict[str, Any]) -> None:
    """The failure's line to the one who acted: through the response URL, or on top of their App Home when they
    clicked there (a view has no response URL)."""
    respond: AsyncRespond | None = kwargs.get("respond")
    try:
        if respond is not None:
            await respond(**message, response_type="ephemeral", replace_original=False)
            return
        body, context, client = kwargs.get("body") or {}, kwargs.get("context"), kwargs.get("client")
        user = (body.get("user") or {}).get("id")
        if (body.get("container") or {}).get("type") == "view" and context is not None and client is not None and user:
            await publish_home(budget(context), client, user, notice=message.get("text"))
    except Exception:  # the answer itself failed: nothing more can reach the user
        log.exception("could not tell the user that the action failed")
