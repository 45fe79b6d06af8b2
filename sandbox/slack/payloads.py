"""The request bodies Slack sends an app: slash commands, interactions and Events API callbacks."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from sandbox.slack.model import Message, User, View, Workspace


def escape(text: str) -> str:
    """Slack escapes these three in text it sends an app, slash command text included."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def form(fields: dict[str, Any]) -> str:
    """Form-encodes a slash command, the way Slack posts it."""
    return urlencode({key: "" if value is None else value for key, value in fields.items()})


def payload_form(payload: dict[str, Any]) -> str:
    """Interactions travel as one form field, `payload`, holding JSON."""
    return urlencode({"payload": json.dumps(payload)})


def slash_command(
    ws: Workspace,
    *,
    user: User,
    channel_id: str,
    channel_name: str,
    command: str,
    text: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, str]:
    return {
        "token": ws.verification_token,
        "team_id": ws.team_id,
        "team_domain": ws.team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": escape(text),
        "api_app_id": ws.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def _user(ws: Workspace, user: User) -> dict[str, str]:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team_id}


def _action(block_id: str, element: dict[str, Any], value: str | None, action_ts: str) -> dict[str, Any]:
    action = {
        "action_id": element.get("action_id", ""),
        "block_id": block_id,
        "type": element.get("type", "button"),
        "action_ts": action_ts,
    }
    if "text" in element:
        action["text"] = element["text"]
    if "options" in element:
        # An overflow menu or select sends the option picked (by its value), as Slack does, not a value.
        picked = next((o for o in element["options"] if o.get("value") == value), None)
        if picked is None:
            raise LookupError(f"no option {value!r} in {element.get('action_id', '')}")
        action["selected_option"] = picked
    elif value is not None:
        action["value"] = value
    if "style" in element:
        action["style"] = element["style"]
    return action


def block_actions_on_message(
    ws: Workspace,
    *,
    user: User,
    channel_id: str,
    channel_name: str,
    message: Message,
    block_id: str,
    element: dict[str, Any],
    value: str | None,
    action_ts: str,
    response_url: str,
    trigger_id: str,
) -> dict[str, Any]:
    """A button click on a message. Slack leaves `message` out when the message is ephemeral."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(ws, user),
        "api_app_id": ws.app_id,
        "token": ws.verification_token,
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": channel_id,
            "is_ephemeral": message.ephemeral,
        },
        "trigger_id": trigger_id,
        "team": ws.team,
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [_action(block_id, element, value, action_ts)],
    }
    if not message.ephemeral:
        payload["message"] = message.to_slack()
    return payload


def block_actions_in_view(
    ws: Workspace,
    *,
    user: User,
    view: View,
    state: dict[str, Any],
    block_id: str,
    element: dict[str, Any],
    value: str | None,
    action_ts: str,
    trigger_id: str,
) -> dict[str, Any]:
    """A button click in the App Home or a modal: no channel and no response URL."""
    return {
        "type": "block_actions",
        "user": _user(ws, user),
        "api_app_id": ws.app_id,
        "token": ws.verification_token,
        "container": {"type": "view", "view_id": view.id},
        "trigger_id": trigger_id,
        "team": ws.team,
        "enterprise": None,
        "is_enterprise_install": False,
        "view": view.to_slack(ws, state),
        "actions": [_action(block_id, element, value, action_ts)],
    }


def view_submission(
    ws: Workspace, *, user: User, view: View, state: dict[str, Any], trigger_id: str
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": ws.team,
        "user": _user(ws, user),
        "api_app_id": ws.app_id,
        "token": ws.verification_token,
        "trigger_id": trigger_id,
        "view": view.to_slack(ws, state),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_closed(ws: Workspace, *, user: User, view: View) -> dict[str, Any]:
    return {
        "type": "view_closed",
        "team": ws.team,
        "user": _user(ws, user),
        "api_app_id": ws.app_id,
        "token": ws.verification_token,
        "view": view.to_slack(ws),
        "is_cleared": False,
        "is_enterprise_install": False,
        "enterprise": None,
    }


def event_callback(ws: Workspace, *, event: dict[str, Any], event_id: str, event_time: int) -> dict[str, Any]:
    return {
        "token": ws.verification_token,
        "team_id": ws.team_id,
        "context_team_id": ws.team_id,
        "api_app_id": ws.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ws.team_id,
                "user_id": ws.bot_user.id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
