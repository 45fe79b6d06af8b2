"""A local stand-in for Slack: its Web API for the bot, signed requests to the bot, and a channel page."""

from sandbox.slack.app import create_app, running, serve, standin_of, start_standin
from sandbox.slack.model import DEFAULT_USERS, Ack, Call, Message, User, View, Workspace
from sandbox.slack.signing import signature, signed_headers
from sandbox.slack.standin import STANDIN, SlackStandIn

__all__ = [
    "DEFAULT_USERS",
    "STANDIN",
    "Ack",
    "Call",
    "Message",
    "SlackStandIn",
    "User",
    "View",
    "Workspace",
    "create_app",
    "running",
    "serve",
    "signature",
    "signed_headers",
    "standin_of",
    "start_standin",
]
