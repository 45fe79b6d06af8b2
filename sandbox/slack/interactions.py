"""What people do in Slack, sent to the bot: slash commands, button clicks, modal submissions, events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sandbox.slack import blockkit, payloads
from sandbox.slack.loops import on_home_loop
from sandbox.slack.messages import Messages
from sandbox.slack.model import Ack, ResponseUrl, User, View
from sandbox.slack.sender import FORM, JSON, Sender
from sandbox.slack.state import SlackError
from sandbox.slack.views import Views


class Interactions(Sender, Messages, Views):
    """Builds each request as Slack would, sends it, and applies the bot's answer to messages and views."""

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
                    value: str | None = None, channel_id: str | None = None, option: str | None = None) -> Ack:
        """Clicks the button `action_id` on a message (one the user can see); returns on the ack.

        `value` overrides the button's own value; of a menu, it is the option picked. Confirm dialogs are the page's business:
        from Python the click is sent as if confirmed.
        """
        user = self.user(user_id)
        channel = self.channel_for(channel_id or self.channel_id)
        message = next((m for m in self.messages(channel, user_id=user.id) if m.ts == message_ts), None)
        if message is None:
            raise LookupError(f"no message {message_ts} in {channel} that {user.id} can see")
        block_id, element = blockkit.find_action(message.blocks, action_id, value)
        payload = payloads.block_actions_on_message(
            self.workspace,
            user=user,
            channel_id=channel,
            channel_name=self.channels.get(channel, "directmessage"),
            message=message,
            block_id=block_id,
            element=element,
            value=option if option is not None else value if value is not None else element.get("value"),
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
                         value: str | None = None, values: Mapping[str, Any] | None = None,
                         block_id: str | None = None, option: str | None = None) -> Ack:
        """Clicks a button in a view: the top modal by default, or the App Home by its view id; `block_id` picks
        one of several buttons sharing an action_id, `option` picks an overflow menu's choice by its value."""
        user = self.user(user_id)
        view = self._view_for(user, view_id)
        block_id, element = blockkit.find_action(view.blocks, action_id, option, block_id=block_id)
        if option is not None:
            value = option
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
