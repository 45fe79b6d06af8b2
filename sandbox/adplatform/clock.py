"""Clocks for the sandbox: real time, sped-up time for demos, and a hand-moved clock for tests."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

Clock = Callable[[], datetime]
"""Returns the sandbox's idea of now, an aware UTC datetime."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class SpeedClock:
    """Real time run `speed` times faster from the moment it is made (60: a real second is a sandbox minute)."""

    def __init__(
        self,
        speed: float = 1.0,
        origin: datetime | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.origin = origin or utc_now()
        self._monotonic = monotonic
        self._started = monotonic()

    def __call__(self) -> datetime:
        return self.origin + timedelta(seconds=(self._monotonic() - self._started) * self.speed)


class ManualClock:
    """A clock that only moves when told to: the sandbox clock, and via `timestamp` a rate-limit clock."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        self._now = start.astimezone(timezone.utc)
        # Tests move it from their thread while the server reads it from its own.
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def timestamp(self) -> float:
        return self().timestamp()

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Moves forward by a timedelta or by timedelta keywords: `advance(hours=2)`."""
        step = delta if delta is not None else timedelta(**kwargs)
        with self._lock:
            self._now += step
            return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        with self._lock:
            self._now = moment.astimezone(timezone.utc)
