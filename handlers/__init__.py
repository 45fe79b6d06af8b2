"""The Slack listeners, one module per kind, each with its `register(app)`; `register_listeners` wires them all."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, events, views


def register_listeners(app: AsyncApp) -> None:
    for module in (commands, actions, views, events):
        module.register(app)
