"""Reads of the account shared between callers: one fetch at a time per value, and never a wait behind one
when a kept value is still young enough."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.service import SharedReads

# Only a guard against a test hanging on a wait that never ends; nothing here measures time.
HANG_GUARD = 30


class Fetch:
    """A fetch that starts when called and ends when the test lets it."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.calls = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self) -> str:
        self.calls += 1
        self.started.set()
        await self.release.wait()
        return self.value


async def test_a_kept_value_is_answered_while_a_fresh_read_is_under_way() -> None:
    # /budget check forces a fresh read that waits for the statistics limit; /budget status meanwhile
    # used to queue behind it (58 s), though a young enough value was kept.
    reads = SharedReads(timedelta(seconds=60))
    first = Fetch("first")
    first.release.set()
    assert await reads.get("snapshot", first) == "first"

    slow = Fetch("second")
    check = asyncio.create_task(reads.get("snapshot", slow, fresh=True))
    await slow.started.wait()

    async def status() -> str:
        value = await reads.get("snapshot", Fetch("never"))
        slow.release.set()  # only once the status read has its answer may the check's read end
        return value

    assert await asyncio.wait_for(status(), HANG_GUARD) == "first"
    assert await check == "second"
    assert await reads.get("snapshot", Fetch("never")) == "second"


async def test_reads_asked_for_while_one_is_under_way_share_it() -> None:
    reads = SharedReads(timedelta(seconds=60))
    fetch = Fetch("shared")
    asked = [asyncio.create_task(reads.get("snapshot", fetch, fresh=i % 2 == 0)) for i in range(4)]
    await fetch.started.wait()
    fetch.release.set()
    assert await asyncio.gather(*asked) == ["shared"] * 4
    assert fetch.calls == 1


async def test_a_read_under_way_when_the_reads_are_dropped_is_not_kept() -> None:
    # A budget written meanwhile would otherwise be shown as it was before the write.
    reads = SharedReads(timedelta(seconds=60))
    before = Fetch("before the write")
    asked = asyncio.create_task(reads.get("snapshot", before))
    await before.started.wait()
    reads.clear()
    before.release.set()
    assert await asked == "before the write"
    after = Fetch("after the write")
    after.release.set()
    assert await reads.get("snapshot", after) == "after the write"
