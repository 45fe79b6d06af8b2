"""Named points in the apply path where a test can freeze the process, to kill it there (off unless asked).

`BUDGET_BOT_FAILPOINT=after_patch` makes the process stop at that point: it writes the marker
file named by `BUDGET_BOT_FAILPOINT_MARKER` (the point's name and the process id), then waits
forever without blocking the event loop, so the test can `kill -9` it with the state exactly as
the point leaves it. Unset, `reached()` returns at once. Nothing else reads these variables.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

ENV = "BUDGET_BOT_FAILPOINT"
MARKER_ENV = "BUDGET_BOT_FAILPOINT_MARKER"

AFTER_APPROVAL = "after_approval"
"""The approval is committed (state approved); nothing read or written on PropellerAds yet."""
AFTER_PATCH = "after_patch"
"""PropellerAds accepted the new daily budget; not verified, not recorded (state applying)."""
AFTER_VERIFY = "after_verify"
"""The re-read shows the new daily budget; the outcome is not recorded (state applying)."""
POINTS = (AFTER_APPROVAL, AFTER_PATCH, AFTER_VERIFY)


async def reached(point: str) -> None:
    """Freezes here when the environment names this point; otherwise does nothing."""
    if os.environ.get(ENV) != point:
        return
    marker = os.environ.get(MARKER_ENV)
    log.warning("failpoint %s reached; waiting to be killed", point)
    if marker:
        written = Path(marker + ".part")
        written.write_text(f"{point} {os.getpid()}\n", encoding="utf-8")
        written.replace(marker)  # whole or absent: the test polls for it
    await asyncio.Event().wait()
