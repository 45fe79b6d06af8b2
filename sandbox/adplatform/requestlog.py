"""A log of every API request the sandbox answered, so tests can count calls without a mock."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: str
    endpoint: str | None
    """The route's name ("statistics", "campaign_update", …); None for unknown routes."""
    at: datetime
    """When it came, by the sandbox clock."""
    body: Any = None
    status: int | None = None
    """The status answered; None while in progress or when the connection was dropped."""

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "endpoint": self.endpoint,
            "status": self.status,
            "time": self.at.isoformat(),
            "body": self.body,
        }


class RequestLog:
    def __init__(self) -> None:
        self._entries: list[LoggedRequest] = []
        # The server thread appends while a test reads.
        self._lock = threading.Lock()

    def add(self, entry: LoggedRequest) -> LoggedRequest:
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(
        self, method: str | None = None, path: str | None = None, endpoint: str | None = None
    ) -> list[LoggedRequest]:
        """Requests in arrival order, optionally only one method, a path prefix (with or without /v5), or an endpoint."""
        with self._lock:
            found = list(self._entries)
        if method is not None:
            found = [e for e in found if e.method == method.upper()]
        if path is not None:
            found = [e for e in found if e.path.startswith(path) or e.path.removeprefix("/v5").startswith(path)]
        if endpoint is not None:
            found = [e for e in found if e.endpoint == endpoint]
        return found

    def count(self, method: str | None = None, path: str | None = None, endpoint: str | None = None) -> int:
        return len(self.entries(method, path, endpoint))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
