"""`budget-bot demo` tells its story: at a high --speed every signal reaches the channel, each for the campaign
that earned it, within a bounded wait."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.demo import CAPS_EARLY, NEVER_CONVERTS, REJECTED, SPIKES, STALLS, UNDERPACES, run_demo
from sandbox.slack import Message

SPEED = 480.0
"""A real second is 8 minutes of the demo's clock: the story's day (06:00 to 19:00) in about 100 seconds, a check
every 1.9 s, slow enough that a loaded machine still checks at least hourly on the demo's clock."""
EXPECTED = [
    "signal:CAPPED_EARLY:%d" % CAPS_EARLY,
    "signal:BALANCE_RUNS_OUT",
    "signal:UNDERPACING:%d" % UNDERPACES,
    "signal:STATUS_CHANGED:%d" % REJECTED,
    "signal:STOPPED_SPENDING:%d" % STALLS,
    "signal:SPEND_SPIKE:%d" % SPIKES,
    "signal:SPEND_WITHOUT_CONVERSIONS:%d" % NEVER_CONVERTS,
    "signal:CONVERSIONS_STOPPED",
]
WAIT = 300.0


@pytest.mark.slow
def test_the_demo_shows_every_signal_within_minutes_at_speed(tmp_path: Path) -> None:
    ready = threading.Event()
    found: dict[str, Any] = {}
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    def watch(standin: Any) -> None:
        found["slack"] = standin
        ready.set()

    async def demo() -> None:
        await run_demo(port=0, speed=SPEED, state_dir=tmp_path, stop=stop, on_slack=watch)

    # The sandbox, the stand-in and the bot share this loop: stopping the demo must unwind it cleanly, with
    # nothing reported to its exception handler (the bot's cleanup once cancelled the task it ran in).
    reported: list[Any] = []
    ended: list[BaseException | None] = []
    loop.set_exception_handler(lambda _, context: reported.append(context.get("exception") or context.get("message")))

    def run() -> None:
        try:
            loop.run_until_complete(demo())
            ended.append(None)
        except BaseException as exc:  # noqa: BLE001 - what ended the demo is the test's finding
            ended.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert ready.wait(60), "the demo started"
        slack = found["slack"]
        seen: set[str] = set()

        def all_told(message: Message) -> bool:
            if not message.ephemeral:
                text = json.dumps(message.blocks)
                seen.update(key for key in EXPECTED if key in text)
            return seen == set(EXPECTED)

        try:
            slack.sync.wait_for_message(all_told, timeout=WAIT)
        except TimeoutError:
            raise AssertionError(f"never told: {sorted(set(EXPECTED) - seen)}") from None
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
    assert not thread.is_alive() and ended == [None], ended
    assert reported == []
