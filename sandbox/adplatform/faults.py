"""Switchable misbehaviour for reliability tests: latency, 5xx, forced answers, broken bodies, dropped connections."""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

ENDPOINTS = ("balance", "campaigns", "campaign", "campaign_update", "campaigns_play", "campaigns_stop", "statistics")


@dataclass
class ForcedAnswer:
    """An answer given instead of the real one to the next `times` requests that match method and path prefix.

    `path` may be given with or without the /v5 prefix. `drop` closes the connection without an answer;
    `malformed` answers 200 with the real body cut short. `after_effect` lets the request take effect
    first (a write that happened although the caller saw it fail); a malformed answer always does.
    """

    method: str
    path: str
    status: int = 500
    times: int = 1
    body: str | None = None
    content_type: str | None = None
    drop: bool = False
    malformed: bool = False
    after_effect: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method.upper()):
            return False
        prefix = self.path if self.path.startswith("/") else "/" + self.path
        return path.startswith(prefix) or path.removeprefix("/v5").startswith(prefix)

    @property
    def runs_handler(self) -> bool:
        return self.malformed or self.after_effect


class Gate:
    """Holds an endpoint's requests until released: a test sees one arrive, acts, then lets it through."""

    def __init__(self, *, first_only: bool = False) -> None:
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.first_only = first_only
        """Holds the first request to arrive; those after it pass (a background read held, a check's let by)."""

    def release(self) -> None:
        self.released.set()


@dataclass
class Faults:
    """The sandbox's fault switches. Safe to flip from the test thread while the server runs."""

    latency: float = 0.0
    """Seconds added before every API answer."""
    latency_by_endpoint: dict[str, float] = field(default_factory=dict)
    error_rate: float = 0.0
    """Probability that an API request answers a 5xx picked from `error_statuses`."""
    error_statuses: tuple[int, ...] = (500, 502, 503)
    forbid_writes: bool = False
    """Writes answer the recorded 403 {"errors": ["Access denied."]}, as for a read-only token."""
    malformed: set[str] = field(default_factory=set)
    """Endpoints (names as in ENDPOINTS) that answer 200 with a truncated body."""
    drop: set[str] = field(default_factory=set)
    """Endpoints whose connections are closed without an answer."""
    seed: int = 0

    def __post_init__(self) -> None:
        self.gates: dict[str, Gate] = {}
        """Endpoints whose requests wait at a gate (see `hold`)."""
        self._queue: list[ForcedAnswer] = []
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def fail_next(
        self,
        method: str,
        path: str,
        status: int = 500,
        *,
        times: int = 1,
        body: str | None = None,
        content_type: str | None = None,
        drop: bool = False,
        malformed: bool = False,
        after_effect: bool = False,
    ) -> ForcedAnswer:
        """Queues a forced answer: `fail_next("PATCH", "/adv/campaigns/")` makes the next PATCH a 500, then normal."""
        if times < 1:
            raise ValueError("times must be at least 1")
        forced = ForcedAnswer(
            method.upper(), path, status, times, body, content_type, drop, malformed, after_effect
        )
        with self._lock:
            self._queue.append(forced)
        return forced

    def take_forced(self, method: str, path: str) -> ForcedAnswer | None:
        """The first queued answer that matches, used up by one."""
        with self._lock:
            for forced in self._queue:
                if forced.matches(method, path):
                    forced.times -= 1
                    if forced.times == 0:
                        self._queue.remove(forced)
                    return forced
        return None

    @property
    def pending(self) -> list[ForcedAnswer]:
        with self._lock:
            return list(self._queue)

    def hold(self, endpoint: str, *, first_only: bool = False) -> Gate:
        """Makes the endpoint's requests (or only the next one) wait until the returned gate is released."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; known: {', '.join(ENDPOINTS)}")
        gate = self.gates[endpoint] = Gate(first_only=first_only)
        return gate

    def latency_for(self, endpoint: str) -> float:
        return self.latency + self.latency_by_endpoint.get(endpoint, 0.0)

    def random_error(self) -> int | None:
        """A 5xx status for this request, or None; the RNG is seeded so a run can be repeated."""
        if self.error_rate <= 0:
            return None
        with self._lock:
            if self._rng.random() >= self.error_rate:
                return None
            return self._rng.choice(self.error_statuses)

    def clear(self) -> None:
        """Everything back to normal behaviour."""
        with self._lock:
            self.latency = 0.0
            self.latency_by_endpoint = {}
            self.error_rate = 0.0
            self.error_statuses = (500, 502, 503)
            self.forbid_writes = False
            self.malformed = set()
            self.drop = set()
            self._queue.clear()
            for gate in self.gates.values():
                gate.release()
            self.gates.clear()
            self._rng = random.Random(self.seed)

    def update(self, changes: Mapping[str, Any]) -> None:
        """Applies the admin route's JSON: any of the fields above, plus `fail_next` (a list of ForcedAnswer fields)."""
        unknown = set(changes) - {
            "latency", "latency_by_endpoint", "error_rate", "error_statuses", "forbid_writes",
            "malformed", "drop", "fail_next", "seed",
        }
        if unknown:
            raise ValueError(f"unknown fault switches: {', '.join(sorted(unknown))}")
        for name in ("malformed", "drop"):
            for endpoint in changes.get(name, ()):
                if endpoint not in ENDPOINTS:
                    raise ValueError(f"unknown endpoint {endpoint!r}; known: {', '.join(ENDPOINTS)}")
        forced = [dict(item) for item in changes.get("fail_next", ())]
        with self._lock:
            if "latency" in changes:
                self.latency = float(changes["latency"])
            if "latency_by_endpoint" in changes:
                self.latency_by_endpoint = {k: float(v) for k, v in changes["latency_by_endpoint"].items()}
            if "error_rate" in changes:
                self.error_rate = float(changes["error_rate"])
            if "error_statuses" in changes:
                self.error_statuses = tuple(int(s) for s in changes["error_statuses"])
            if "forbid_writes" in changes:
                self.forbid_writes = bool(changes["forbid_writes"])
            if "malformed" in changes:
                self.malformed = set(changes["malformed"])
            if "drop" in changes:
                self.drop = set(changes["drop"])
            if "seed" in changes:
                self.seed = int(changes["seed"])
                self._rng = random.Random(self.seed)
        for item in forced:
            self.fail_next(item.pop("method"), item.pop("path"), **item)

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "latency": self.latency,
                "latency_by_endpoint": dict(self.latency_by_endpoint),
                "error_rate": self.error_rate,
                "error_statuses": list(self.error_statuses),
                "forbid_writes": self.forbid_writes,
                "malformed": sorted(self.malformed),
                "drop": sorted(self.drop),
                "seed": self.seed,
                "fail_next": [asdict(f) for f in self._queue],
            }
