"""The stand-in's Web API (`/api/<method>`) and response URLs, answering as Slack does."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sandbox.slack.standin import STANDIN, SlackStandIn
from sandbox.slack.state import SlackError

# Fields slack_sdk form-encodes as JSON strings when it does not send a JSON body.
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata", "files")

Handler = Callable[[SlackStandIn, dict[str, Any]], dict[str, Any]]


async def read_args(request: web.Request) -> dict[str, Any]:
    """Query string plus a form or JSON body: slack_sdk uses all three depending on the method."""
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise SlackError("invalid_json") from None
            if not isinstance(body, dict):
                raise SlackError("invalid_json")
            args.update(body)
        else:
            args.update((await request.post()).items())
    for name in _JSON_FIELDS:
        if isinstance(args.get(name), str) and args[name]:
            try:
                args[name] = json.loads(args[name])
            except ValueError:
                raise SlackError("invalid_arguments", errors=[f"{name} is not valid JSON"]) from None
    return args


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _required(args: dict[str, Any], *names: str) -> None:
    missing = [name for name in names if not args.get(name)]
    if missing:
        raise SlackError("invalid_arguments", errors=[f"missing required field: {name}" for name in missing])


def auth_test(standin: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    ws = standin.workspace
    return {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_name,
        "user": ws.bot_user.name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user.id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def chat_post_message(standin: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    message = standin.post_message(
        args.get("channel"), text=args.get("text"), blocks=args.get("blocks"), thread_ts=args.get("thread_ts")
    )
    return {"channel": message.channel, "ts": message.ts, "message": message.to_slack()}


def chat_post_ephemeral(standin: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    user = args.get("user")
    if user not in standin.users or standin.users[user].is_bot:
        raise SlackError("user_not_found")
    message = standin.post_message(
        args.get("channel"),
        text=args.get("text"),
        blocks=args.get("blocks"),
        visible_to=user,
        thread_ts=args.get("thread_ts"),
        via="chat.postEphemeral",
    )
    return {"message_ts": message.ts}


def chat_update(standin: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    message = standin.update_message(
        args.get("channel"), args.get("ts"), text=args.get("text"), blocks=args.get("blocks"), keep_missing=True
    )
    return {"channel": message.channel, "ts": message.ts, "text": message.text, "message": message.to_slack()}


def chat_delete(standin: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    message = standin.delete_message(args.get("channel"), args.get("ts"))
    return {"channel": message.channel, "ts": message.ts}


def views_publish(standin: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    _required(args, "user_id", "view")
    view = standin.publish_home(args["user_id"], args["view"], args.get("hash"))
    return {"view": view.to_slack(standin.workspace)}


def views_open(standin: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    _required(args, "trigger_id", "view")
    view = standin.open_modal(args["trigger_id"], args["view"])
    return {"view": view.to_slack(standin.workspace)}


def views_push(standin: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    _required(args, "trigger_id", "view")
    view = standin.push_modal(args["trigger_id"], args["view"])
    return {"view": view.to_slack(standin.workspace)}


def views_update(standin: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    _required(args, "view")
    view = standin.update_view(
        args["view"], view_id=args.get("view_id"), external_id=args.get("external_id"), hash=args.get("hash")
    )
    return {"view": view.to_slack(standin.workspace)}


def files_get_upload_url_external(standin: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    _required(args, "filename", "length")
    file_id, url = standin.upload_url(args["filename"], args["length"], args.get("alt_txt"))
    return {"upload_url": url, "file_id": file_id}


def files_complete_upload_external(standin: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    _required(args, "files")
    channel = args.get("channel_id") or args.get("channels")
    done = standin.complete(args["files"], channel, args.get("initial_comment"), args.get("thread_ts"))
    assert standin.base_url is not None
    return {"files": [found.to_slack(standin.base_url) for found in done]}


def users_info(standin: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    user = standin.users.get(args.get("user", ""))
    if user is None:
        raise SlackError("user_not_found")
    return {"user": user.to_slack(standin.workspace.team_id)}


def conversations_info(standin: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    channel_id = args.get("channel", "")
    if channel_id not in standin.channels:
        raise SlackError("channel_not_found")
    return {
        "channel": {
            "id": channel_id,
            "name": standin.channels[channel_id],
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_private": False,
            "is_archived": False,
            "is_member": True,
            "created": 1700000000,
            "context_team_id": standin.workspace.team_id,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "Ad budget alerts and approvals", "creator": "", "last_set": 0},
            "num_members": len(standin.users),
        }
    }


def conversations_history(standin: SlackStandIn, args: dict[str, Any]) -> dict[str, Any]:
    """The channel's top-level messages, newest first, as the bot's token sees them (no ephemerals)."""
    _required(args, "channel")
    channel = standin.channel_for(args["channel"])
    try:
        limit = max(1, min(int(args.get("limit") or 100), 999))
    except ValueError:
        raise SlackError("invalid_arguments", errors=["limit is not a number"]) from None
    found = [m.to_slack() for m in reversed(standin.messages(channel)) if not m.thread_ts or m.thread_ts == m.ts]
    return {"messages": found[:limit], "has_more": len(found) > limit, "pin_count": 0}


METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.update": chat_update,
    "chat.delete": chat_delete,
    "views.publish": views_publish,
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
    "users.info": users_info,
    "conversations.info": conversations_info,
    "conversations.history": conversations_history,
}


def _failure(code: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"ok": False, "error": code, **(extra or {})}


async def api(request: web.Request) -> web.Response:
    standin: SlackStandIn = request.app[STANDIN]
    method = request.match_info["method"]
    try:
        args = await read_args(request)
    except SlackError as exc:
        standin.record_call(method, {}, exc.code)
        return web.json_response(_failure(exc.code, exc.extra))
    token = _bearer(request) or args.get("token")
    # The token is a secret: it never reaches the call log.
    args.pop("token", None)

    if standin.take_drop(method):
        standin.record_call(method, args, "connection_dropped")
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=499)  # never sent: the connection is gone

    retry_after = standin.take_rate_limit(method)
    if retry_after is not None:
        standin.record_call(method, args, "ratelimited")
        return web.json_response(_failure("ratelimited"), status=429, headers={"Retry-After": str(retry_after)})

    handler = METHODS.get(method)
    if handler is None:
        result = _failure("unknown_method")
    elif not standin.token_is_valid(token):
        result = _failure("invalid_auth")
    else:
        try:
            result = {"ok": True, **handler(standin, args)}
        except SlackError as exc:
            result = _failure(exc.code, exc.extra)
    standin.record_call(method, args, result.get("error"))
    return web.json_response(result)


async def response_url(request: web.Request) -> web.Response:
    standin: SlackStandIn = request.app[STANDIN]
    try:
        body = await request.json()
    except ValueError:
        body = None
    status, answer = standin.respond(request.match_info["id"], body)
    return web.json_response(answer, status=status)


async def upload(request: web.Request) -> web.Response:
    """Slack's upload URL: the raw bytes in the body, answered "OK - <length>"."""
    standin = request.app[STANDIN]
    data = await request.read()
    try:
        found = standin.receive(request.match_info["id"], data)
    except LookupError as exc:
        return web.Response(status=404, text=str(exc))
    except ValueError as exc:
        return web.Response(status=400, text=str(exc))
    return web.Response(text=f"OK - {len(found.data or b'')}")


async def download(request: web.Request) -> web.Response:
    """A shared file's bytes, for the channel page's <img>."""
    found = request.app[STANDIN].file(request.match_info["id"])
    if found is None or not found.completed or found.data is None:
        raise web.HTTPNotFound()
    return web.Response(body=found.data, content_type=found.mimetype)


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", "/api/{method}", api)
    app.router.add_post("/response/{id}", response_url)
    app.router.add_post("/upload/{id}", upload)
    app.router.add_get("/files/{id}/{name}", download)
