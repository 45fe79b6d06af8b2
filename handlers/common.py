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
            respond = kwargs.get("respond")
            try:
                await fn(*args, **kwargs)
            except PropellerAdsError as exc:
                log.warning("could not %s: %s", doing, exc)
                if respond is not None:
                    await _safe(respond, {**render.api_error(exc, doing=doing), "response_type": "ephemeral", "replace_original": False})
            except Exception:
                log.exception("failed to %s", doing)
                if respond is not None:
                    text = f"Something went wrong while trying to {doing}; it has been logged. {after}"
                    await _safe(respond, {**render.notice(text), "response_type": "ephemeral", "replace_original": False})

        return listener

    return wrap


async def _safe(respond: AsyncRespond, message: dict[str, Any]) -> None:
    try:
        await respond(**message)
    except Exception:  # the response URL itself failed: nothing more can reach the user
        log.exception("could not answer through the response URL")
