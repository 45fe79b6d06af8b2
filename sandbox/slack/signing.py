"""Signs requests the way Slack does, so the bot's signature check sees real signatures."""

from __future__ import annotations

import hashlib
import hmac
import time


def signature(secret: str, timestamp: str, body: str | bytes) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`, as in slack_sdk's SignatureVerifier."""
    raw = body.encode() if isinstance(body, str) else body
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
    return "v0=" + digest.hexdigest()


def signed_headers(secret: str, body: str | bytes, timestamp: int | str | None = None) -> dict[str, str]:
    """The two headers Slack adds to every request; an old `timestamp` makes a stale request."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature(secret, ts, body)}
