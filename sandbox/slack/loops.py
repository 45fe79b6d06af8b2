"""The stand-in lives on the loop that serves it: reaching it from another loop or from a plain thread."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


def on_home_loop(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Runs a coroutine method on the loop serving the stand-in, whichever loop awaits it.

    Tests often serve the stand-in from a BackgroundServer thread while their own loop drives
    the bot; the stand-in's state and its asyncio events belong to the serving loop.
    """

    @functools.wraps(method)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        home = self._loop
        if home is None or home is asyncio.get_running_loop():
            return await method(self, *args, **kwargs)
        future = asyncio.run_coroutine_threadsafe(method(self, *args, **kwargs), home)
        return await asyncio.wrap_future(future)

    return wrapper


class Blocking:
    """`standin.sync.send_command(...)`: the coroutine methods, callable from plain threads."""

    def __init__(self, standin: Any) -> None:
        self._standin = standin

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._standin, name)
        if not inspect.iscoroutinefunction(method):
            raise AttributeError(f"{name} is not a coroutine method; call it on the stand-in itself")

        def call(*args: Any, **kwargs: Any) -> Any:
            loop = self._standin._loop
            if loop is None:
                raise RuntimeError("the stand-in is not being served")
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                raise RuntimeError("blocking on the stand-in's own loop would deadlock; await the method")
            return asyncio.run_coroutine_threadsafe(method(*args, **kwargs), loop).result()

        return call
