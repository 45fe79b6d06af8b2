"""The Slack stand-in: one object that plays Slack for the bot, put together from the parts beside it.

- `state.py`: what the workspace holds and reading it (messages, views, calls, acks);
- `messages.py`, `views.py`: how the Web API and response URLs change messages and views;
- `files.py`: uploads (upload URL, the bytes, completion) shared into the channel;
- `sender.py`: signed requests to the bot and their acks; `interactions.py`: what people do;
- `waiting.py`: waiting on messages, calls and changes; `loops.py`: calls from other loops and threads.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from sandbox.slack.files import Files
from sandbox.slack.interactions import Interactions
from sandbox.slack.loops import on_home_loop
from sandbox.slack.waiting import Waiting


class SlackStandIn(Interactions, Files, Waiting):
    """Plays Slack for the bot: a workspace with one channel, its Web API, and its requests.

    State changes happen on the serving loop; coroutine methods may be awaited from any loop
    and `standin.sync.<method>(...)` calls them from plain threads.
    """

    # ---- lifecycle (wired to the aiohttp app by create_app) ----

    async def attach(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._closing = False

    @on_home_loop
    async def closing(self) -> None:
        """Lets long polls answer now, so a page left open does not hold up shutdown."""
        self._closing = True
        self._changed()

    async def detach(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._loop = None


STANDIN = web.AppKey("standin", SlackStandIn)
"""Where create_app keeps the stand-in: `app[STANDIN]`."""
