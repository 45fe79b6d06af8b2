"""Signs requests the way Slack does, with slack_sdk's own SignatureVerifier, so the bot checks real signatures."""

from __future__ import annotations

import time

from slack_sdk.signature import SignatureVerifier


def signature(secret: str, timestamp: str, body: str | bytes) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` under `secret`."""
    signed = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signed is not None  # None only when no timestamp is given
    return signed


def signed_headers(secret: str, body: str | bytes, timestamp: int | str | None = None) -> dict[str, str]:
    """The two headers Slack adds to every request; an old `timestamp` makes a stale request."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature(secret, ts, body)}
