"""Waiting on the stand-in: for a message, a Web API call or any change, woken by each change, never by polling."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import TypeVar

from sandbox.slack.loops import on_home_loop
from sandbox.slack.model import Call, Message
from sandbox.slack.state import StandInState

T = TypeVar("T")


class Waiting(StandInState):
    """Waits that end as soon as the awaited thing exists, or raise TimeoutError saying what did not come."""

    async def _wait_until(self, find: Callable[[], T | None], timeout: float, what: str) -> T:
        async def watch() -> T:
            while True:
                # Taken before looking, so a change between the look and the wait still wakes us.
                changed = self._change_event()
                found = find()
                if found is not None:
                    return found
                await changed.wait()

        try:
            return await asyncio.wait_for(watch(), timeout)
        except TimeoutError:
            raise TimeoutError(f"{what} within {timeout} s") from None

    @on_home_loop
    async def wait_for_message(self, predicate: Callable[[Message], bool] | None = None, *,
                               timeout: float = 10.0, since: int = 0) -> Message:
        """The first message posted or updated after log position `since` that matches.

        Covers channel messages, ephemerals, response-URL posts and ack bodies; each update
        is seen as the message's new content. Deletions are not matched.
        """
        match = predicate or (lambda message: True)
        seen = since

        def find() -> Message | None:
            nonlocal seen
            while seen < len(self._log):
                message = self._log[seen]
                seen += 1
                if not message.deleted and match(message):
                    return dataclasses.replace(message)
            return None

        try:
            return await self._wait_until(find, timeout, "no matching message")
        except TimeoutError as exc:
            recent = [m.all_text.strip()[:80] for m in self._log[-5:]]
            raise TimeoutError(f"{exc}; last messages: {recent}") from None

    @on_home_loop
    async def wait_for_call(self, method: str, predicate: Callable[[Call], bool] | None = None, *,
                            timeout: float = 10.0, since: int = 0) -> Call:
        """The first Web API call to `method` after position `since` in `calls` that matches."""
        match = predicate or (lambda call: True)

        def find() -> Call | None:
            return next((c for c in self._calls[since:] if c.method == method and match(c)), None)

        return await self._wait_until(find, timeout, f"no {method} call")

    @on_home_loop
    async def wait_for_change(self, since: int, timeout: float) -> int:
        """The revision once it passes `since`, or the current one after `timeout` (long polling)."""
        try:
            return await self._wait_until(
                lambda: self.revision if self.revision > since or self._closing else None, timeout, "no change"
            )
        except TimeoutError:
            return self.revision
