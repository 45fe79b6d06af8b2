"""What the Slack stand-in holds (people, channels, messages, views, triggers, response URLs) and its record of calls and acks."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp

from sandbox.slack.loops import Blocking
from sandbox.slack.model import (
    DEFAULT_USERS,
    Ack,
    Call,
    File,
    Message,
    ResponseUrl,
    User,
    View,
    Workspace,
)

# Slack's own numbers (see PLATFORM.md): the ack deadline and how long a trigger_id lives.
ACK_TIMEOUT = 3.0
TRIGGER_TTL = 3.0


class SlackError(Exception):
    """A Web API error, answered as `{"ok": false, "error": code, ...extra}`."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


@dataclasses.dataclass
class _RateLimit:
    method: str | None
    remaining: int
    retry_after: int


@dataclasses.dataclass
class _Trigger:
    user: str
    created: float
    used: bool = False


class StandInState:
    """The workspace's state and the ways to read it; the other parts of the stand-in change it.

    Every change goes through `_changed()`, which bumps `revision` and wakes whoever waits.
    """

    def __init__(
        self,
        *,
        signing_secret: str,
        bot_token: str,
        bot_url: str | None = None,
        channel_id: str = "C0BUDGET",
        channel_name: str = "budget",
        users: Sequence[User | Mapping[str, Any]] | None = None,
        command: str = "/budget",
        workspace: Workspace | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signing_secret = signing_secret
        self._bot_token = bot_token
        self.bot_url = bot_url
        # The stand-in's own address, for response URLs; the runners set it once listening.
        self.base_url: str | None = None
        self.workspace = workspace or Workspace()
        self.channel_id = channel_id
        self.channel_name = channel_name
        self.command = command
        self.clock = clock
        self.ack_timeout = ACK_TIMEOUT
        self.trigger_ttl = TRIGGER_TTL

        people = [u if isinstance(u, User) else User(**u) for u in (DEFAULT_USERS if users is None else users)]
        if not people:
            raise ValueError("the stand-in needs at least one user")
        self.people: list[User] = people
        self.users: dict[str, User] = {u.id: u for u in [*people, self.workspace.bot_user]}
        self.channels: dict[str, str] = {channel_id: channel_name}

        self._history: dict[str, list[Message]] = {}
        self._log: list[Message] = []
        self._calls: list[Call] = []
        self._acks: list[Ack] = []
        self._homes: dict[str, View] = {}
        self._modals: dict[str, list[View]] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, ResponseUrl] = {}
        self._rate_limits: list[_RateLimit] = []
        self._drops: dict[str, int] = {}
        self._files: dict[str, File] = {}
        self._last_micros = 0
        self._ids = itertools.count(1)

        self.revision = 0
        self._change: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._session: aiohttp.ClientSession | None = None
        self.sync = Blocking(self)

    # ---- reading the state ----

    @property
    def default_user(self) -> User:
        return self.people[0]

    @property
    def calls(self) -> list[Call]:
        """Every Web API call and response-URL post so far, oldest first."""
        return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self._calls if call.method == method]

    @property
    def acks(self) -> list[Ack]:
        """The bot's answers to everything the stand-in sent, with their latency."""
        return list(self._acks)

    @property
    def log(self) -> list[Message]:
        """A copy of every message as posted or updated (deletions included), oldest first."""
        return list(self._log)

    def mark(self) -> int:
        """The message log's current length; pass it as `since` to wait only for what comes next."""
        return len(self._log)

    def messages(self, channel: str | None = None, *, user_id: str | None = None) -> list[Message]:
        """The channel as it reads now: updates applied, deletions gone.

        Ephemerals are included only for `user_id`, the one person who would see them.
        """
        history = self._history.get(channel or self.channel_id, [])
        return [
            dataclasses.replace(m)
            for m in history
            if m.visible_to is None or (user_id is not None and m.visible_to == user_id)
        ]

    def ephemerals(self, user_id: str, channel: str | None = None) -> list[Message]:
        return [m for m in self.messages(channel, user_id=user_id) if m.ephemeral]

    def message(self, ts: str, channel: str | None = None) -> Message | None:
        for m in self._history.get(channel or self.channel_id, []):
            if m.ts == ts:
                return dataclasses.replace(m)
        return None

    def home(self, user_id: str) -> View | None:
        """The App Home the bot last published for this user."""
        return self._homes.get(user_id)

    def modal(self, user_id: str) -> View | None:
        """The modal view on top of this user's stack, if one is open."""
        stack = self._modals.get(user_id)
        return stack[-1] if stack else None

    def user(self, user_id: str | None) -> User:
        if user_id is None:
            return self.default_user
        try:
            return self.users[user_id]
        except KeyError:
            raise LookupError(f"no user {user_id!r} in the stand-in") from None

    # ---- switches for tests ----

    def rate_limit(self, method: str | None = None, *, times: int = 1, retry_after: int = 1) -> None:
        """Answers the next `times` calls to `method` (any method when None) with HTTP 429."""
        self._rate_limits.append(_RateLimit(method, times, retry_after))

    def drop(self, method: str, *, times: int = 1) -> None:
        """Closes the connection of the next `times` calls to `method` without an answer, as a network failure would."""
        self._drops[method] = self._drops.get(method, 0) + times

    def take_drop(self, method: str) -> bool:
        """True when this call's connection should be dropped, consuming one drop."""
        if self._drops.get(method, 0) <= 0:
            return False
        self._drops[method] -= 1
        return True

    def take_rate_limit(self, method: str) -> int | None:
        """Retry-After seconds when this call should be refused, consuming one refusal."""
        for rule in self._rate_limits:
            if rule.remaining > 0 and rule.method in (None, method):
                rule.remaining -= 1
                return rule.retry_after
        return None

    def token_is_valid(self, token: str | None) -> bool:
        return token is not None and secrets.compare_digest(token.encode(), self._bot_token.encode())

    # ---- ids and clocks ----

    def _next_ts(self) -> str:
        """A Slack message timestamp, unique and increasing even within one microsecond."""
        micros = max(int(self.clock() * 1_000_000), self._last_micros + 1)
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):04d}{secrets.token_hex(3).upper()}"

    def _hash(self) -> str:
        return f"{int(self.clock())}.{secrets.token_hex(4)}"

    def mint_trigger_id(self, user_id: str) -> str:
        trigger_id = f"{int(self.clock())}.{next(self._ids)}.{secrets.token_hex(16)}"
        self._triggers[trigger_id] = _Trigger(user_id, self.clock())
        return trigger_id

    def use_trigger_id(self, trigger_id: str | None) -> str:
        """The user a trigger_id belongs to; Slack lets each be used once, within 3 seconds."""
        if not trigger_id:
            raise SlackError("invalid_arguments", errors=["missing required field: trigger_id"])
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self.clock() - trigger.created > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger.user

    def mint_response_url(self, user_id: str, channel: str, original: tuple[str, str] | None = None) -> str:
        if self.base_url is None:
            raise RuntimeError("the stand-in's own URL is not known yet; set standin.base_url")
        record = ResponseUrl(secrets.token_urlsafe(18), user_id, channel, self.clock(), original)
        self._response_urls[record.id] = record
        return f"{self.base_url}/response/{record.id}"

    # ---- change notification ----

    def _changed(self) -> None:
        self.revision += 1
        if self._change is not None:
            self._change.set()
            self._change = None

    def _change_event(self) -> asyncio.Event:
        if self._change is None:
            self._change = asyncio.Event()
        return self._change

    def record_call(self, method: str, args: dict[str, Any], error: str | None = None) -> None:
        self._calls.append(Call(method, args, self.clock(), error is None, error))
        self._changed()
