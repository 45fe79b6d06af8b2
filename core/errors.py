"""The typed errors of the PropellerAds client: one class per kind of failure."""

from __future__ import annotations

from typing import Any

MAX_DETAIL = 500
"""The most of the API's words an error keeps: a 60 KB answer must not become a 60 KB message or log line."""


class PropellerAdsError(Exception):
    """Base of every error the PropellerAds client raises.

    `endpoint` is "METHOD /path"; `detail` is the API's own words. Neither ever holds the token.
    """

    kind = "error"

    def __init__(self, endpoint: str, detail: str, *, status: int | None = None) -> None:
        self.endpoint = endpoint
        self.detail = one_line(detail, MAX_DETAIL)
        self.status = status
        super().__init__(self.summary())

    def summary(self) -> str:
        status = f" ({self.status})" if self.status else ""
        return f"PropellerAds {self.kind}{status} on {self.endpoint}: {self.detail}"


class AuthenticationError(PropellerAdsError):
    """401: the API token is missing, wrong or revoked."""

    kind = "refused the API token"


class PermissionDeniedError(PropellerAdsError):
    """403: the token is valid but may not do this (typically a read-only token writing)."""

    kind = "denied permission"


class ValidationError(PropellerAdsError):
    """400: the API rejected the request's fields; `fields` maps field paths to messages."""

    kind = "rejected the request"

    def __init__(self, endpoint: str, fields: dict[str, list[str]], *, status: int | None = 400) -> None:
        self.fields = fields
        detail = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items()) or "invalid request"
        super().__init__(endpoint, detail, status=status)


class NotFoundError(PropellerAdsError):
    """404: no such campaign or route."""

    kind = "found nothing"


class RateLimitedError(PropellerAdsError):
    """429 that did not clear within the configured wait and retries."""

    kind = "rate limit hit"

    def __init__(self, endpoint: str, detail: str, *, reset_at: float | None = None) -> None:
        self.reset_at = reset_at
        super().__init__(endpoint, detail, status=429)


class ServerError(PropellerAdsError):
    """5xx after bounded retries."""

    kind = "server error"


class TransportError(PropellerAdsError):
    """Timeouts, refused or dropped connections, after bounded retries."""

    kind = "unreachable"


class MalformedResponseError(PropellerAdsError):
    """A 2xx answer whose body is not what the API documents."""

    kind = "sent a malformed answer"


def one_line(text: Any, limit: int = 200) -> str:
    """Text on one line, whitespace collapsed, cut with an ellipsis past `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def flatten_fields(body: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turns the API's nested field map into dotted paths: {"targeting.traffic_categories": [...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(body, dict):
        for key, value in body.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten_fields(value, path))
    elif isinstance(body, list):
        if all(isinstance(item, str) for item in body):
            out[prefix or "request"] = list(body)
        else:
            for index, item in enumerate(body):
                out.update(flatten_fields(item, f"{prefix}[{index}]"))
    elif body is not None:
        out[prefix or "request"] = [str(body)]
    return out
