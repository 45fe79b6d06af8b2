"""Plain records the Slack stand-in keeps: users, messages, views, Web API calls and acks."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any, Iterator

from sandbox.slack import blockkit


@dataclass(frozen=True)
class User:
    """A person (or the bot) in the stand-in's workspace."""

    id: str
    name: str
    real_name: str
    label: str = ""
    is_bot: bool = False

    @property
    def display(self) -> str:
        return self.label or self.real_name

    def to_slack(self, team_id: str) -> dict[str, Any]:
        """The `user` object of users.info."""
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": False,
            "is_bot": self.is_bot,
            "is_admin": False,
            "tz": "Europe/Berlin",
            "tz_offset": 3600,
            "profile": {
                "real_name": self.real_name,
                "display_name": self.name,
                "real_name_normalized": self.real_name,
                "display_name_normalized": self.name,
                "team": team_id,
            },
        }


@dataclass(frozen=True)
class Workspace:
    """Who the stand-in says it is: the team, the installed app and its bot user."""

    team_id: str = "T0STANDIN"
    team_domain: str = "budget-standin"
    team_name: str = "Budget Stand-in"
    app_id: str = "A0BUDGETBOT"
    bot_id: str = "B0BUDGETBOT"
    bot_user: User = User("U0BUDGETBOT", "budget-bot", "Budget Bot", is_bot=True)
    # Slack's deprecated verification token still rides along in payloads; Bolt ignores it.
    verification_token: str = "standin-verification-token"

    @property
    def team(self) -> dict[str, str]:
        return {"id": self.team_id, "domain": self.team_domain}


DEFAULT_USERS: tuple[User, ...] = (
    User("U0APPROVER", "alex", "Alex", "Alex (approver)"),
    User("U0VIEWER", "vic", "Vic", "Vic (viewer)"),
)


@dataclass
class Message:
    """A message as the stand-in holds it; `visible_to` is set for ephemerals.

    `via` says how it arrived: a Web API method, `response_url`, `ack` (text in a slash
    command's HTTP answer) or `user` (typed in the page).
    """

    channel: str
    ts: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    visible_to: str | None = None
    via: str = "chat.postMessage"
    thread_ts: str | None = None
    bot_id: str | None = None
    edited: bool = False
    deleted: bool = False
    files: list[dict[str, Any]] = field(default_factory=list)
    """Files shared with the message (files.completeUploadExternal), as Slack describes them."""

    @property
    def ephemeral(self) -> bool:
        return self.visible_to is not None

    @property
    def all_text(self) -> str:
        """`text` and every text inside the blocks, one per line, for easy predicates."""
        return "\n".join([self.text, *blockkit.texts(self.blocks)])

    def to_slack(self) -> dict[str, Any]:
        """The message object Slack puts in chat.* answers and block_actions payloads."""
        message: dict[str, Any] = {"type": "message", "ts": self.ts, "user": self.user, "text": self.text}
        if self.blocks:
            message["blocks"] = self.blocks
        if self.bot_id:
            message["bot_id"] = self.bot_id
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
        if self.edited:
            message["edited"] = {"user": self.user, "ts": self.ts}
        if self.files:
            message["files"] = self.files
            message["upload"] = True
        return message

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "ts": self.ts,
            "user": self.user,
            "text": self.text,
            "blocks": self.blocks,
            "ephemeral": self.ephemeral,
            "visible_to": self.visible_to,
            "via": self.via,
            "thread_ts": self.thread_ts,
            "edited": self.edited,
            "deleted": self.deleted,
            "files": self.files,
        }


@dataclass
class View:
    """A published App Home or an open modal; `spec` is the view as the bot sent it."""

    id: str
    type: str
    user: str
    spec: dict[str, Any]
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    notice: str | None = None

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return self.spec.get("blocks", [])

    @property
    def callback_id(self) -> str:
        return self.spec.get("callback_id", "")

    def to_slack(self, workspace: Workspace, state: dict | None = None) -> dict[str, Any]:
        """The view object Slack returns from views.* and sends in view payloads."""
        return {
            "id": self.id,
            "team_id": workspace.team_id,
            "type": self.type,
            "blocks": self.blocks,
            "private_metadata": self.spec.get("private_metadata", ""),
            "callback_id": self.callback_id,
            "state": {"values": state or {}},
            "hash": self.hash,
            "title": self.spec.get("title"),
            "close": self.spec.get("close"),
            "submit": self.spec.get("submit"),
            "clear_on_close": bool(self.spec.get("clear_on_close", False)),
            "notify_on_close": bool(self.spec.get("notify_on_close", False)),
            "external_id": self.spec.get("external_id", ""),
            "root_view_id": self.root_view_id,
            "previous_view_id": self.previous_view_id,
            "app_id": workspace.app_id,
            "bot_id": workspace.bot_id,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "hash": self.hash,
            "title": self.spec.get("title"),
            "submit": self.spec.get("submit"),
            "close": self.spec.get("close"),
            "blocks": self.blocks,
            "errors": self.errors,
            "notice": self.notice,
        }


@dataclass(frozen=True)
class Call:
    """One request to the stand-in's Web API or to a response URL (method `response_url`)."""

    method: str
    args: dict[str, Any]
    at: float
    ok: bool
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "args": self.args, "at": self.at, "ok": self.ok, "error": self.error}


@dataclass(frozen=True)
class Ack:
    """The bot's HTTP answer to something the stand-in sent.

    Unpacks as `(status, body)`. `status` is 0 when the bot could not be reached or did not
    answer within the ack timeout; `error` then says which, in Slack's words. `mark` is the
    message-log position when the request left, for `wait_for_message(since=...)`.
    """

    kind: str
    status: int
    body: str
    latency: float
    mark: int
    error: str | None = None

    def __iter__(self) -> Iterator[Any]:
        yield self.status
        yield self.body

    @property
    def ok(self) -> bool:
        return self.status == 200

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": self.status,
            "ok": self.ok,
            "error": self.error,
            "latency_ms": round(self.latency * 1000, 1),
        }


@dataclass
class ResponseUrl:
    """A response URL minted for one command or interaction; `original` is the clicked message."""

    id: str
    user: str
    channel: str
    created: float
    original: tuple[str, str] | None = None
    uses: int = 0


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_UPLOAD = 50 * 1024 * 1024


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's header chunk; None when the bytes are not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@dataclass
class File:
    """An upload: announced by files.getUploadURLExternal, its bytes once POSTed, shared once completed."""

    id: str
    name: str
    length: int
    alt_text: str = ""
    title: str = ""
    data: bytes | None = None
    completed: bool = False

    @property
    def mimetype(self) -> str:
        return "image/png" if self.data is not None and png_size(self.data) else "application/octet-stream"

    def to_slack(self, base_url: str) -> dict[str, Any]:
        found = png_size(self.data or b"")
        shown: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": self.mimetype,
            "size": len(self.data or b""),
            "url_private": f"{base_url}/files/{self.id}/{self.name}",
        }
        if found:
            shown["original_w"], shown["original_h"] = found
        if self.alt_text:
            shown["alt_txt"] = self.alt_text
        return shown
