"""Delivers requests to the bot the way Slack does: signed, within the ack deadline, each answer recorded as an Ack."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import aiohttp

from sandbox.slack.loops import on_home_loop
from sandbox.slack.model import Ack
from sandbox.slack.signing import signed_headers
from sandbox.slack.state import StandInState

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class Sender(StandInState):
    """Posts to `bot_url` and records how and how fast the bot acked."""

    def signed_headers(
        self, body: str | bytes, *, timestamp: int | str | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """Slack's signature headers for `body`; pass another secret or an old timestamp to forge."""
        return signed_headers(secret if secret is not None else self._signing_secret, body, timestamp)

    def _require_bot_url(self) -> str:
        if not self.bot_url:
            raise RuntimeError("the bot's URL is not set; set standin.bot_url")
        return self.bot_url

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers={"User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"})
        return self._session

    async def _post_to_bot(self, kind: str, body: str | bytes, headers: Mapping[str, str]) -> Ack:
        url = self._require_bot_url()
        mark = len(self._log)
        status, text, error = 0, "", None
        started = time.perf_counter()
        try:
            # Slack gives up on an app that has not answered within three seconds.
            async with asyncio.timeout(self.ack_timeout):
                async with self._http().post(url, data=body, headers=dict(headers)) as response:
                    status, text = response.status, await response.text()
        except TimeoutError:
            error = "operation_timeout"
        except aiohttp.ClientError:
            error = "dispatch_failed"
        latency = time.perf_counter() - started
        if status and status != 200:
            error = f"http_{status}"
        ack = Ack(kind, status, text, latency, mark, error)
        self._acks.append(ack)
        self._changed()
        return ack

    async def _send_signed(self, kind: str, body: str, content_type: str,
                           extra_headers: Mapping[str, str] | None = None) -> Ack:
        headers = {"Content-Type": content_type, **self.signed_headers(body), **(extra_headers or {})}
        return await self._post_to_bot(kind, body, headers)

    @on_home_loop
    async def send_raw(self, body: str | bytes, headers: Mapping[str, str] | None = None,
                       *, kind: str = "raw") -> Ack:
        """Posts `body` to the bot with exactly these headers and no signing of its own.

        For security tests: forged signatures, stale timestamps, missing headers. The content
        type defaults to form-encoded.
        """
        sent = {"Content-Type": FORM, **(headers or {})}
        return await self._post_to_bot(kind, body, sent)
