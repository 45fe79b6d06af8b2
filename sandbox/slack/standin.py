"""The Slack stand-in's state and behaviour: what Slack stores, what it sends the bot, and waiting on both."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import itertools
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from sandbox.slack import blockkit, payloads
from sandbox.slack.model import (
    DEFAULT_USERS,
    Ack,
    Call,
    Message,
    ResponseUrl,
    User,
    View,
    Workspace,
)
from sandbox.slack.signing import signed_headers

T = TypeVar("T")

# Slack's own numbers (see PLATFORM.md): the ack deadline, how long a trigger_id lives, and the
# life and use count of a response URL.
ACK_TIMEOUT = 3.0
TRIGGER_TTL = 3.0
RESPONSE_URL_TTL = 30 * 60
RESPONSE_URL_USES = 5
VIEW_STACK_LIMIT = 3

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


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


def on_home_loop(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Runs a coroutine method on the loop serving the stand-in, whichever loop awaits it.

    Tests often serve the stand-in from a BackgroundServer thread while their own loop drives
    the bot; the stand-in's state and its asyncio events belong to the serving loop.
    """

    @functools.wraps(method)
    async def wrapper(self: SlackStandIn, *args: Any, **kwargs: Any) -> T:
        home = self._loop
        if home is None or home is asyncio.get_running_loop():
            return await method(self, *args, **kwargs)
        future = asyncio.run_coroutine_threadsafe(method(self, *args, **kwargs), home)
        return await asyncio.wrap_future(future)

    return wrapper


class SlackStandIn:
    """Plays Slack for the bot: a workspace with one channel, its Web API, and its requests.

    State changes happen on the serving loop; coroutine methods may be awaited from any loop
    and `standin.sync.<method>(...)` calls them from plain threads.
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
        self._last_micros = 0
        self._ids = itertools.count(1)

        self.revision = 0
        self._change: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._session: aiohttp.ClientSession | None = None
        self.sync = _Blocking(self)

    # ---- lifecycle (wired to the aiohttp app by create_app) ----

    async def attach(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._closing = False

    @on_home_loop
    async def closing(self) -> None:
        """Lets long polls answer now, so a page left open does not hold up shutdown."""
        self._closing = True
        self._changed()

    async def detach(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._loop = None

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

    def signed_headers(
        self, body: str | bytes, *, timestamp: int | str | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """Slack's signature headers for `body`; pass another secret or an old timestamp to forge."""
        return signed_headers(secret if secret is not None else self._signing_secret, body, timestamp)

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

    async def _wait_until(self, find: Callable[[], T | None], timeout: float, what: str) -> T:
        async def watch() -> T:
            while True:
                # Taken before looking, so a change between the look and the wait still wakes us.
                changed = self._change_event()
                found = find()
                if found is not None:
                    return found
                await changed.wait()

        try:
            return await asyncio.wait_for(watch(), timeout)
        except TimeoutError:
            raise TimeoutError(f"{what} within {timeout} s") from None

    def record_call(self, method: str, args: dict[str, Any], error: str | None = None) -> None:
        self._calls.append(Call(method, args, self.clock(), error is None, error))
        self._changed()

    # ---- messages, as the Web API and response URLs change them ----

    def channel_for(self, channel: Any) -> str:
        """A channel id from an id, a name or `#name`; a user id means the bot's DM with them."""
        if not isinstance(channel, str) or not channel:
            raise SlackError("channel_not_found")
        if channel in self.channels:
            return channel
        name = channel.removeprefix("#")
        for channel_id, channel_name in self.channels.items():
            if channel_name == name:
                return channel_id
        if channel in self.users and not self.users[channel].is_bot:
            return channel
        raise SlackError("channel_not_found")

    @staticmethod
    def _content(text: Any, blocks: Any) -> tuple[str, list[dict[str, Any]]]:
        text = text if isinstance(text, str) else ""
        if blocks in (None, "", []):
            blocks = []
        else:
            found = blockkit.problems(blocks, blockkit.MESSAGE_BLOCK_LIMIT)
            if found:
                raise SlackError("invalid_blocks", errors=found)
            blocks = blockkit.with_ids(blocks)
        if not text and not blocks:
            raise SlackError("no_text")
        return text, blocks

    def _keep(self, message: Message) -> None:
        self._log.append(dataclasses.replace(message))
        self._changed()

    def post_message(
        self,
        channel: Any,
        *,
        text: Any = None,
        blocks: Any = None,
        user: str | None = None,
        visible_to: str | None = None,
        thread_ts: str | None = None,
        via: str = "chat.postMessage",
    ) -> Message:
        channel_id = self.channel_for(channel)
        text, blocks = self._content(text, blocks)
        author = user or self.workspace.bot_user.id
        message = Message(
            channel=channel_id,
            ts=self._next_ts(),
            user=author,
            text=text,
            blocks=blocks,
            visible_to=visible_to,
            via=via,
            thread_ts=thread_ts or None,
            bot_id=self.workspace.bot_id if author == self.workspace.bot_user.id else None,
        )
        self._history.setdefault(channel_id, []).append(message)
        self._keep(message)
        return message

    def _find(self, channel: str, ts: Any, *, ephemeral_ok: bool = False) -> Message:
        for message in self._history.get(channel, []):
            if message.ts == ts and (ephemeral_ok or not message.ephemeral):
                return message
        raise SlackError("message_not_found")

    def update_message(self, channel: Any, ts: Any, *, text: Any = None, blocks: Any = None,
                       via: str = "chat.update", ephemeral_ok: bool = False, keep_missing: bool = False) -> Message:
        """Rewrites a message in place; with `keep_missing` (chat.update) omitted fields stay."""
        message = self._find(self.channel_for(channel), ts, ephemeral_ok=ephemeral_ok)
        if keep_missing:
            text = message.text if text is None else text
            blocks = message.blocks if blocks is None else blocks
        message.text, message.blocks = self._content(text, blocks)
        message.edited = True
        message.via = via
        self._keep(message)
        return message

    def delete_message(self, channel: Any, ts: Any, *, ephemeral_ok: bool = False) -> Message:
        channel_id = self.channel_for(channel)
        message = self._find(channel_id, ts, ephemeral_ok=ephemeral_ok)
        self._history[channel_id].remove(message)
        message.deleted = True
        self._keep(message)
        return message

    def post_as_user(self, text: str, *, user_id: str | None = None) -> Message:
        """A person typing plain text in the channel (the page's composer without a command)."""
        return self.post_message(self.channel_id, text=text, user=self.user(user_id).id, via="user")

    def reply(self, record: ResponseUrl, body: Mapping[str, Any], *, via: str) -> Message:
        """Applies a response-URL post (or a slash command's ack body) the way Slack does."""
        original = record.original
        if body.get("delete_original") and original:
            return self.delete_message(*original, ephemeral_ok=True)
        if body.get("replace_original") and original:
            return self.update_message(
                *original, text=body.get("text"), blocks=body.get("blocks"), via=via, ephemeral_ok=True
            )
        in_channel = body.get("response_type") == "in_channel"
        return self.post_message(
            record.channel,
            text=body.get("text"),
            blocks=body.get("blocks"),
            visible_to=None if in_channel else record.user,
            thread_ts=body.get("thread_ts"),
            via=via,
        )

    def respond(self, url_id: str, body: Any) -> tuple[int, dict[str, Any]]:
        """A POST to a response URL: the HTTP status and JSON Slack would answer."""
        record = self._response_urls.get(url_id)
        error, status = None, 200
        if record is None:
            error, status = "no_such_url", 404
        elif self.clock() - record.created > RESPONSE_URL_TTL:
            error, status = "expired_url", 404
        elif record.uses >= RESPONSE_URL_USES:
            error, status = "used_url", 404
        elif not isinstance(body, Mapping):
            error, status = "invalid_payload", 400
        else:
            try:
                self.reply(record, body, via="response_url")
                record.uses += 1
            except SlackError as exc:
                error, status = exc.code, 400 if exc.code != "message_not_found" else 404
        args = dict(body) if isinstance(body, Mapping) else {"body": body}
        self.record_call("response_url", {"url_id": url_id, **args}, error)
        if error:
            return status, {"ok": False, "error": error}
        return 200, {"ok": True}

    # ---- views ----

    def _check_view(self, view: Any, kind: str) -> dict[str, Any]:
        if not isinstance(view, Mapping) or view.get("type") != kind:
            raise SlackError("invalid_arguments", errors=[f"view.type must be {kind}"])
        found = blockkit.problems(view.get("blocks", []), blockkit.VIEW_BLOCK_LIMIT)
        if found:
            raise SlackError("invalid_arguments", errors=found)
        spec = dict(view)
        spec["blocks"] = blockkit.with_ids(list(view.get("blocks", [])))
        return spec

    def publish_home(self, user_id: Any, view: Any, hash: Any = None) -> View:
        if user_id not in self.users or self.users[user_id].is_bot:
            raise SlackError("user_not_found")
        spec = self._check_view(view, "home")
        current = self._homes.get(user_id)
        if hash and current is not None and hash != current.hash:
            raise SlackError("hash_conflict")
        view_id = current.id if current else self._new_id("V")
        published = View(view_id, "home", user_id, spec, self._hash(), root_view_id=view_id)
        self._homes[user_id] = published
        self._changed()
        return published

    def open_modal(self, trigger_id: Any, view: Any) -> View:
        user_id = self.use_trigger_id(trigger_id)
        spec = self._check_view(view, "modal")
        view_id = self._new_id("V")
        opened = View(view_id, "modal", user_id, spec, self._hash(), root_view_id=view_id)
        self._modals[user_id] = [opened]
        self._changed()
        return opened

    def push_modal(self, trigger_id: Any, view: Any) -> View:
        user_id = self.use_trigger_id(trigger_id)
        stack = self._modals.get(user_id)
        if not stack:
            raise SlackError("not_found")
        if len(stack) >= VIEW_STACK_LIMIT:
            raise SlackError("push_limit_reached")
        spec = self._check_view(view, "modal")
        pushed = View(self._new_id("V"), "modal", user_id, spec, self._hash(),
                      root_view_id=stack[0].id, previous_view_id=stack[-1].id)
        stack.append(pushed)
        self._changed()
        return pushed

    def _open_view(self, view_id: Any = None, external_id: Any = None) -> View:
        views = [*self._homes.values(), *itertools.chain.from_iterable(self._modals.values())]
        for view in views:
            if (view_id and view.id == view_id) or (external_id and view.spec.get("external_id") == external_id):
                return view
        raise SlackError("not_found")

    def update_view(self, view: Any, *, view_id: Any = None, external_id: Any = None, hash: Any = None) -> View:
        if not view_id and not external_id:
            raise SlackError("invalid_arguments", errors=["view_id or external_id is required"])
        target = self._open_view(view_id, external_id)
        if hash and hash != target.hash:
            raise SlackError("hash_conflict")
        target.spec = self._check_view(view, target.type)
        target.hash = self._hash()
        target.errors = {}
        target.notice = None
        self._changed()
        return target

    def _close_modal(self, user_id: str, *, everything: bool = False) -> None:
        stack = self._modals.get(user_id, [])
        if everything or len(stack) <= 1:
            self._modals.pop(user_id, None)
        else:
            stack.pop()
        self._changed()

    # ---- sending to the bot ----

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

    def command_form(self, text: str = "", *, user_id: str | None = None,
                     channel_id: str | None = None, command: str | None = None) -> dict[str, str]:
        """The fields of a slash command, with a fresh response URL and trigger_id."""
        user = self.user(user_id)
        channel = self.channel_for(channel_id or self.channel_id)
        return payloads.slash_command(
            self.workspace,
            user=user,
            channel_id=channel,
            channel_name=self.channels.get(channel, "directmessage"),
            command=command or self.command,
            text=text,
            response_url=self.mint_response_url(user.id, channel),
            trigger_id=self.mint_trigger_id(user.id),
        )

    @on_home_loop
    async def send_command(self, text: str = "", *, user_id: str | None = None,
                           channel_id: str | None = None, command: str | None = None) -> Ack:
        """Sends `/budget <text>` as `user_id`; returns when the bot acks.

        As in Slack, `&`, `<` and `>` in the text reach the bot escaped, and a body in the ack
        (Bolt's `ack("…")`) shows up as an ephemeral to the user.
        """
        fields = self.command_form(text, user_id=user_id, channel_id=channel_id, command=command)
        ack = await self._send_signed("command", payloads.form(fields), FORM)
        if ack.ok and ack.body.strip():
            reply = ack.json()
            if not isinstance(reply, Mapping):
                reply = {"text": ack.body}
            record = ResponseUrl("ack", fields["user_id"], fields["channel_id"], self.clock())
            try:
                self.reply(record, reply, via="ack")
            except SlackError:
                pass  # Slack drops an ack body it cannot show; the bot's answer is still recorded
        return ack

    @on_home_loop
    async def click(self, message_ts: str, action_id: str, *, user_id: str | None = None,
                    value: str | None = None, channel_id: str | None = None) -> Ack:
        """Clicks the button `action_id` on a message (one the user can see); returns on the ack.

        `value` overrides the button's own value. Confirm dialogs are the page's business:
        from Python the click is sent as if confirmed.
        """
        user = self.user(user_id)
        channel = self.channel_for(channel_id or self.channel_id)
        message = next((m for m in self.messages(channel, user_id=user.id) if m.ts == message_ts), None)
        if message is None:
            raise LookupError(f"no message {message_ts} in {channel} that {user.id} can see")
        block_id, element = blockkit.find_action(message.blocks, action_id)
        payload = payloads.block_actions_on_message(
            self.workspace,
            user=user,
            channel_id=channel,
            channel_name=self.channels.get(channel, "directmessage"),
            message=message,
            block_id=block_id,
            element=element,
            value=value if value is not None else element.get("value"),
            action_ts=self._next_ts(),
            response_url=self.mint_response_url(user.id, channel, original=(channel, message.ts)),
            trigger_id=self.mint_trigger_id(user.id),
        )
        return await self._send_signed("block_actions", payloads.payload_form(payload), FORM)

    def _view_for(self, user: User, view_id: str | None) -> View:
        candidates = [*self._modals.get(user.id, []), *([self._homes[user.id]] if user.id in self._homes else [])]
        if view_id is None:
            modal = self.modal(user.id)
            if modal is None:
                raise LookupError(f"{user.id} has no modal open")
            return modal
        for view in candidates:
            if view.id == view_id:
                return view
        raise LookupError(f"{user.id} has no view {view_id}")

    @on_home_loop
    async def click_view(self, action_id: str, *, user_id: str | None = None, view_id: str | None = None,
                         value: str | None = None, values: Mapping[str, Any] | None = None) -> Ack:
        """Clicks a button in a view: the top modal by default, or the App Home by its view id."""
        user = self.user(user_id)
        view = self._view_for(user, view_id)
        block_id, element = blockkit.find_action(view.blocks, action_id)
        payload = payloads.block_actions_in_view(
            self.workspace,
            user=user,
            view=view,
            state=blockkit.input_state(view.blocks, values),
            block_id=block_id,
            element=element,
            value=value if value is not None else element.get("value"),
            action_ts=self._next_ts(),
            trigger_id=self.mint_trigger_id(user.id),
        )
        return await self._send_signed("block_actions", payloads.payload_form(payload), FORM)

    @on_home_loop
    async def submit_view(self, values: Mapping[str, Any] | None = None, *, user_id: str | None = None,
                          view_id: str | None = None) -> Ack:
        """Submits the user's open modal with `values` typed into its inputs; returns on the ack.

        `values` maps an action_id or block_id to text (or a block_id to {action_id: text}).
        The bot's answer is applied as Slack would: `errors` shown, `update`/`push` swap
        views, `clear` closes all, an empty body closes the modal.
        """
        user = self.user(user_id)
        view = self._view_for(user, view_id)
        payload = payloads.view_submission(
            self.workspace,
            user=user,
            view=view,
            state=blockkit.input_state(view.blocks, values),
            trigger_id=self.mint_trigger_id(user.id),
        )
        ack = await self._send_signed("view_submission", payloads.payload_form(payload), FORM)
        self._apply_view_answer(user.id, view, ack)
        return ack

    def _apply_view_answer(self, user_id: str, view: View, ack: Ack) -> None:
        if not ack.ok:
            view.notice = "We had some trouble connecting. Try again?"
            self._changed()
            return
        answer = ack.json() if ack.body.strip() else {}
        action = answer.get("response_action") if isinstance(answer, Mapping) else None
        try:
            if action == "errors":
                view.errors = dict(answer.get("errors") or {})
                view.notice = None
                self._changed()
            elif action == "update":
                self.update_view(answer.get("view"), view_id=view.id)
            elif action == "push":
                stack = self._modals.setdefault(user_id, [view])
                spec = self._check_view(answer.get("view"), "modal")
                stack.append(View(self._new_id("V"), "modal", user_id, spec, self._hash(),
                                  root_view_id=stack[0].id, previous_view_id=view.id))
                self._changed()
            else:
                self._close_modal(user_id, everything=action == "clear")
        except SlackError as exc:
            view.notice = f"The app answered with a view Slack would refuse: {exc.code}"
            self._changed()

    @on_home_loop
    async def close_view(self, *, user_id: str | None = None) -> Ack | None:
        """Closes the user's modal (Cancel); sends view_closed when the view asked for it."""
        user = self.user(user_id)
        view = self.modal(user.id)
        if view is None:
            return None
        self._close_modal(user.id)
        if not view.spec.get("notify_on_close"):
            return None
        payload = payloads.view_closed(self.workspace, user=user, view=view)
        return await self._send_signed("view_closed", payloads.payload_form(payload), FORM)

    @on_home_loop
    async def send_event(self, event: Mapping[str, Any], *, retry_num: int | None = None,
                         retry_reason: str = "http_timeout", event_id: str | None = None) -> Ack:
        """Delivers an Events API callback; `retry_num` and the same `event_id` replay a retry."""
        now = self.clock()
        body = payloads.event_callback(
            self.workspace,
            event={**event, "event_ts": event.get("event_ts", f"{now:.6f}")},
            event_id=event_id or self._new_id("Ev"),
            event_time=int(now),
        )
        extra = {}
        if retry_num is not None:
            extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return await self._send_signed("event", json.dumps(body), JSON, extra)

    @on_home_loop
    async def open_home(self, user_id: str | None = None) -> Ack:
        """The user opens the bot's Home tab: an `app_home_opened` event."""
        user = self.user(user_id)
        event: dict[str, Any] = {"type": "app_home_opened", "user": user.id, "channel": f"D{user.id[1:]}", "tab": "home"}
        if user.id in self._homes:
            event["view"] = self._homes[user.id].to_slack(self.workspace)
        return await self.send_event(event)

    # ---- waiting ----

    @on_home_loop
    async def wait_for_message(self, predicate: Callable[[Message], bool] | None = None, *,
                               timeout: float = 10.0, since: int = 0) -> Message:
        """The first message posted or updated after log position `since` that matches.

        Covers channel messages, ephemerals, response-URL posts and ack bodies; each update
        is seen as the message's new content. Deletions are not matched.
        """
        match = predicate or (lambda message: True)
        seen = since

        def find() -> Message | None:
            nonlocal seen
            while seen < len(self._log):
                message = self._log[seen]
                seen += 1
                if not message.deleted and match(message):
                    return dataclasses.replace(message)
            return None

        try:
            return await self._wait_until(find, timeout, "no matching message")
        except TimeoutError as exc:
            recent = [m.all_text.strip()[:80] for m in self._log[-5:]]
            raise TimeoutError(f"{exc}; last messages: {recent}") from None

    @on_home_loop
    async def wait_for_call(self, method: str, predicate: Callable[[Call], bool] | None = None, *,
                            timeout: float = 10.0, since: int = 0) -> Call:
        """The first Web API call to `method` after position `since` in `calls` that matches."""
        match = predicate or (lambda call: True)

        def find() -> Call | None:
            return next((c for c in self._calls[since:] if c.method == method and match(c)), None)

        return await self._wait_until(find, timeout, f"no {method} call")

    @on_home_loop
    async def wait_for_change(self, since: int, timeout: float) -> int:
        """The revision once it passes `since`, or the current one after `timeout` (long polling)."""
        try:
            return await self._wait_until(
                lambda: self.revision if self.revision > since or self._closing else None, timeout, "no change"
            )
        except TimeoutError:
            return self.revision

    # ---- the page's view of things ----

    def page_state(self, user_id: str) -> dict[str, Any]:
        user = self.user(user_id)
        bot = self.workspace.bot_user
        home = self._homes.get(user.id)
        modal = self.modal(user.id)
        return {
            "revision": self.revision,
            "channel": {"id": self.channel_id, "name": self.channel_name},
            "command": self.command,
            "bot_ready": bool(self.bot_url),
            "user": user.id,
            "users": [{"id": u.id, "name": u.name, "real_name": u.real_name, "label": u.display} for u in self.people],
            "people": {u.id: {"name": u.real_name, "is_bot": u.is_bot} for u in self.users.values()},
            "bot": {"id": bot.id, "name": bot.real_name},
            "messages": [m.to_json() for m in self.messages(user_id=user.id)],
            "home": home.to_json() if home else None,
            "modal": modal.to_json() if modal else None,
        }


class _Blocking:
    """`standin.sync.send_command(...)`: the coroutine methods, callable from plain threads."""

    def __init__(self, standin: SlackStandIn) -> None:
        self._standin = standin

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._standin, name)
        if not inspect.iscoroutinefunction(method):
            raise AttributeError(f"{name} is not a coroutine method; call it on the stand-in itself")

        def call(*args: Any, **kwargs: Any) -> Any:
            loop = self._standin._loop
            if loop is None:
                raise RuntimeError("the stand-in is not being served")
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                raise RuntimeError("blocking on the stand-in's own loop would deadlock; await the method")
            return asyncio.run_coroutine_threadsafe(method(*args, **kwargs), loop).result()

        return call


STANDIN = web.AppKey("standin", SlackStandIn)
"""Where create_app keeps the stand-in: `app[STANDIN]`."""
