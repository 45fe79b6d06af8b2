"""Per-endpoint rate limits with fixed windows, answered in the live API's X-RateLimit-* headers."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """`limit` calls per window of `window` seconds; the window opens at the first call, as seen live."""

    limit: int
    window: float = 60.0


# As seen on the live API (Sep 2025) where recorded; the list, PATCH and start/stop figures are the brief's.
DEFAULT_RATE_LIMITS: dict[str, RateLimit] = {
    "balance": RateLimit(30),
    "campaigns": RateLimit(60),
    "campaign": RateLimit(150),
    "campaign_update": RateLimit(60),
    "campaigns_play": RateLimit(60),
    "campaigns_stop": RateLimit(60),
    "statistics": RateLimit(2),
}


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int
    """Unix seconds when the window reopens."""

    @property
    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    """Counts calls per endpoint. The clock is real time by default: the limits protect the server, not the story."""

    def __init__(
        self, limits: Mapping[str, RateLimit | int | None], clock: Callable[[], float] = time.time
    ) -> None:
        self.limits: dict[str, RateLimit] = {}
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self.configure(limits)

    def configure(self, limits: Mapping[str, RateLimit | int | None]) -> None:
        """Changes some endpoints' limits (an int is calls a minute; None lifts the limit) and restarts their windows."""
        with self._lock:
            for endpoint, limit in limits.items():
                self._windows.pop(endpoint, None)
                if limit is None:
                    self.limits.pop(endpoint, None)
                else:
                    self.limits[endpoint] = limit if isinstance(limit, RateLimit) else RateLimit(int(limit))

    def hit(self, endpoint: str) -> Verdict | None:
        """Counts one call; None when the endpoint has no limit."""
        rule = self.limits.get(endpoint)
        if rule is None:
            return None
        now = self.clock()
        with self._lock:
            opened, count = self._windows.get(endpoint, (now, 0))
            if now >= opened + rule.window:
                opened, count = now, 0
            count += 1
            self._windows[endpoint] = (opened, count)
        return Verdict(
            allowed=count <= rule.limit,
            limit=rule.limit,
            remaining=max(0, rule.limit - count),
            reset=math.ceil(opened + rule.window),
        )

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()

    def to_json(self) -> dict[str, dict[str, float]]:
        return {name: {"limit": rule.limit, "window": rule.window} for name, rule in sorted(self.limits.items())}
