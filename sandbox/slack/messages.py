"""Messages as the Web API, response URLs and acks change them: post, update, delete, reply."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sandbox.slack import blockkit
from sandbox.slack.model import Message, ResponseUrl
from sandbox.slack.state import SlackError, StandInState

# Slack's own numbers (see PLATFORM.md): the life and use count of a response URL.
RESPONSE_URL_TTL = 30 * 60
RESPONSE_URL_USES = 5


class Messages(StandInState):
    """The channel's and the DMs' messages, changed the way Slack changes them."""

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
    def _content(text: Any, blocks: Any, *, with_files: bool = False) -> tuple[str, list[dict[str, Any]]]:
        text = text if isinstance(text, str) else ""
        if blocks in (None, "", []):
            blocks = []
        else:
            found = blockkit.problems(blocks, blockkit.MESSAGE_BLOCK_LIMIT)
            if found:
                raise SlackError("invalid_blocks", errors=found)
            blocks = blockkit.with_ids(blocks)
        if not text and not blocks and not with_files:
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
        files: list[dict[str, Any]] | None = None,
    ) -> Message:
        channel_id = self.channel_for(channel)
        text, blocks = self._content(text, blocks, with_files=bool(files))
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
            files=list(files or []),
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
