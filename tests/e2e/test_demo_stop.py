"""`budget-bot demo` shares one event loop between the sandbox, the Slack stand-in and the bot: stopping it must
unwind cleanly, with nothing reported to the loop's exception handler."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bot.demo import run_demo


def test_the_demo_stops_without_an_error_on_its_loop(tmp_path: Path) -> None:
    reported: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, context: reported.append(context))
        stop, ready = asyncio.Event(), asyncio.Event()
        demo = asyncio.create_task(run_demo(port=0, speed=60, state_dir=tmp_path, stop=stop, on_ready=lambda _: ready.set()))
        await asyncio.wait_for(ready.wait(), 60)
        stop.set()
        await asyncio.wait_for(demo, 60)

    asyncio.run(main())
    assert [context.get("exception") or context.get("message") for context in reported] == []
